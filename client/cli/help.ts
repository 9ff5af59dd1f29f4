/** The text of `switchboard --help` and `switchboard <command> --help`. */

const connection = `Connection (every command but serve):
  --url URL       server address (env SWITCHBOARD_URL, default http://127.0.0.1:8765)
  --token TOKEN   access token, for servers that require one (env SWITCHBOARD_TOKEN)`;

export const mainHelp = `switchboard: typed realtime event hub for agent and workflow orchestrators

Usage: switchboard <command> [options]

Commands:
  serve      run the server (same as npm start)
  demo       publish a simulated orchestrator's traffic: agents, TDD cycles, workflows
  watch      tail a subscription live: agentStatus, workflowEvents, tddPhase or events
  emit       publish one event, or NDJSON from standard input
  history    read stored events after a cursor
  status     show the server's health, head event id and connections

Run "switchboard <command> --help" for a command's options and examples.

First steps:
  switchboard serve &
  switchboard demo &
  switchboard watch events`;

export const commandHelp: Record<string, string> = {
  serve: `Usage: switchboard serve [--host HOST] [--port PORT] [--db FILE|postgres://…] [--durability full|normal]
                        [--redis-url redis://…]

Runs the server: tRPC over HTTP and WebSocket at /trpc, POST /ingest, GET /healthz, all on one port.
Each flag has an environment variable: SWITCHBOARD_HOST, SWITCHBOARD_PORT, SWITCHBOARD_DB, SWITCHBOARD_DURABILITY,
SWITCHBOARD_REDIS_URL. A postgres:// --db runs one node of a cluster (docs/deploy.md): with --redis-url the
nodes talk over Redis, without it over PostgreSQL's LISTEN/NOTIFY.

Examples:
  switchboard serve
  switchboard serve --port 0 --db /tmp/switchboard.db
  switchboard serve --db postgres://switchboard@db:5432/switchboard --redis-url redis://cache:6379`,

  demo: `Usage: switchboard demo [--agents N] [--rate EVENTS_PER_SECOND] [--duration SECONDS] [--seed N]

Simulates an orchestrator: N agents (default 4) take tasks and run TDD red/green/refactor cycles inside
workflows whose steps emit thinking, tool-use and text blocks; now and then a step fails. Publishes about
RATE events per second (default 20) until Ctrl-C, or for --duration seconds.

${connection}

Examples:
  switchboard demo
  switchboard demo --agents 12 --rate 200 --duration 60`,

  watch: `Usage: switchboard watch <agentStatus|workflowEvents|tddPhase|events> [filters] [--from ID] [--json]

Tails a subscription: one line per event for people (coloured on a terminal), or NDJSON with --json.
Reconnects by itself and resumes after the last event shown, with no gap; reconnects are reported on stderr.
Without --from it starts with the current state (agentStatus, workflowEvents, tddPhase) or live (events).

Filters:
  --agent ID        agentStatus: repeatable; tddPhase: one agent
  --workflow ID     workflowEvents
  --step ID         workflowEvents, repeatable
  --task ID         tddPhase
  --type TYPE       workflowEvents and events, repeatable (e.g. agent.status, workflow.block)
  --topic PATTERN   events, repeatable; * matches any run of characters (agent:*, workflow:wf-4*)
  --from ID         resume after this event id; 0 replays everything kept
  --limit N         exit after N events

${connection}

Examples:
  switchboard watch agentStatus --agent coder-001
  switchboard watch events --topic 'workflow:*' --type workflow.block
  switchboard watch events --from 0 --json | jq .type`,

  emit: `Usage: switchboard emit <type> --data JSON [--key KEY] [--source NAME] [--correlation-id ID] [--json]
       switchboard emit --stdin [--json]

Publishes one event, or every line of NDJSON on standard input (each line a whole event:
{"type": ..., "data": {...}, "key": ...}). Everything is validated before anything is sent: an invalid
event prints its problems and exits 1 having stored nothing. Prints the stored ids, or envelopes with --json.

${connection}

Examples:
  switchboard emit agent.status --data '{"agentId":"coder-001","agentType":"coder","status":"busy"}'
  switchboard emit system.notification --key deploy-42 --data '{"level":"info","title":"deploy","message":"v42 is live"}'
  cat events.ndjson | switchboard emit --stdin`,

  history: `Usage: switchboard history [--topic PATTERN]... [--type TYPE]... [--after ID] [--limit N] [--json]

Prints stored events with an id greater than --after (default 0), oldest first, at most --limit (default 100,
up to 1000). When more remain, stderr says which --after reads the next page.

${connection}

Examples:
  switchboard history --topic 'agent:coder-001'
  switchboard history --type tdd.phase_changed --after 1200 --limit 50 --json`,

  status: `Usage: switchboard status [--json]

Shows the server's health: status, head event id, open connections and subscriptions, uptime.
Exits 1 when the server cannot be reached.

${connection}

Example:
  switchboard status`,
};
