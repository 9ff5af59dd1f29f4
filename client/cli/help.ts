/** The text of `switchboard --help` and `switchboard <command> --help`. */
import { defaultConnectTimeoutSeconds } from './connect.js';

const connection = `Connection (every command but serve and new-epoch):
  --url URL                   server address (env SWITCHBOARD_URL, default http://127.0.0.1:8765)
  --token TOKEN               access token, for servers that require one (env SWITCHBOARD_TOKEN)
  --connect-timeout SECONDS   give up, exit 1, when the server has not answered by then (default ${defaultConnectTimeoutSeconds})
SIGINT (Ctrl-C) and SIGTERM end every command at once.`;

export const mainHelp = `switchboard: typed realtime event hub for agent and workflow orchestrators

Usage: switchboard <command> [options]

Commands:
  serve      run the server (same as npm start)
  demo       publish a simulated orchestrator's traffic: agents, TDD cycles, workflows
  watch      tail a subscription live: agentStatus, presenceChanges, workflowEvents, tddPhase or events
  emit       publish one event, or NDJSON from standard input
  history    read stored events after a cursor
  status     show the server's health, head event id, log epoch and connections
  new-epoch  give a database restored from a backup a new log epoch (servers stopped)

Run "switchboard <command> --help" for a command's options and examples, "switchboard --version" for the version.

First steps:
  switchboard serve &
  switchboard demo &
  switchboard watch events`;

export const commandHelp: Record<string, string> = {
  demo: `Usage: switchboard demo [--agents N] [--rate EVENTS_PER_SECOND] [--duration SECONDS] [--seed N]

Simulates an orchestrator: N agents (default 4) take tasks and run TDD red/green/refactor cycles inside
workflows whose steps emit thinking, tool-use and text blocks; now and then a step fails. Publishes about
RATE events per second (default 20) until Ctrl-C, or for --duration seconds. When it stops, its agents say
goodbye: each goes offline with the reason "demo stopped".

${connection}

Examples:
  switchboard demo
  switchboard demo --agents 12 --rate 200 --duration 60`,

  watch: `Usage: switchboard watch <agentStatus|presenceChanges|workflowEvents|tddPhase|events> [filters] [--from CURSOR] [--json]

Tails a subscription: one line per event for people (coloured on a terminal), or NDJSON with --json.
Reconnects by itself and resumes after the last event shown, with no gap; reconnects are reported on stderr.
While the server is away it says what it waits for and keeps trying, until Ctrl-C; with --no-retry it exits 1
instead, after --connect-timeout or when the connection is lost.
Without --from it starts with the current state (agentStatus, workflowEvents, tddPhase; presenceChanges: the
live agents, then who arrives and who leaves) or live (events).

Filters:
  --agent ID        agentStatus, presenceChanges: repeatable; tddPhase: one agent
  --workflow ID     workflowEvents
  --step ID         workflowEvents, repeatable
  --task ID         tddPhase
  --type TYPE       workflowEvents and events, repeatable (e.g. agent.status, workflow.block)
  --topic PATTERN   events, repeatable; * matches any run of characters (agent:*, workflow:wf-4*)
  --from CURSOR     resume after this cursor (what watch prints when it stops, such as 42@3f9a1c0e5b7d, or
                    an event id); 0 replays everything kept
  --limit N         exit after N events
  --no-retry        fail like emit rather than wait for the server
  --events FILE     the server's catalogue module (env SWITCHBOARD_EVENTS), to print its function summaries

${connection}

Examples:
  switchboard watch agentStatus --agent coder-001
  switchboard watch presenceChanges
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
  --events FILE     the server's catalogue module (env SWITCHBOARD_EVENTS), to print its function summaries

${connection}

Examples:
  switchboard history --topic 'agent:coder-001'
  switchboard history --type tdd.phase_changed --after 1200 --limit 50 --json`,

  status: `Usage: switchboard status [--json]

Shows the server's health: status, head event id, the log's epoch (every cursor of this log ends with it),
open connections and subscriptions, uptime.
Exits 1 when the server cannot be reached.

${connection}

Example:
  switchboard status`,
};
