import { useSubscription } from '@trpc/tanstack-react-query';
import { useCallback, useMemo, useState } from 'react';
import { agentStatusValues, type EnvelopeOf, type StreamItem } from '@switchboard/shared';
import { ago, duration } from './format.js';
import { useBatched } from './hooks.js';
import { useTRPC } from './trpc.js';
import { UsageLine, useUsage } from './usage.js';

type AgentStatus = EnvelopeOf<'agent.status'>;

type Status = AgentStatus['data']['status'];

/** Most urgent first: what needs a person's attention sorts to the top. */
const order: Record<Status, number> = { error: 0, blocked: 1, busy: 2, idle: 3, offline: 4 };
const statuses = [...agentStatusValues].sort((a, b) => order[a] - order[b]);

/** One card per agent, live from `agentStatus`: its current status first, then every change. */
export function Agents({ now }: { now: number }) {
  const trpc = useTRPC();
  const [agents, setAgents] = useState<ReadonlyMap<string, AgentStatus>>(new Map());
  const [search, setSearch] = useState('');

  const apply = useCallback((batch: StreamItem[]) => {
    setAgents((previous) => {
      const next = new Map(previous);
      for (const item of batch) {
        // Retention trimmed past this page's cursor: the current state of every agent follows.
        if (item.type === 'stream.reset') next.clear();
        else if (item.type === 'agent.status') next.set(item.data.agentId, item);
      }
      return next;
    });
  }, []);
  const push = useBatched(apply);
  const subscription = useSubscription(
    trpc.agentStatus.subscriptionOptions(
      {},
      {
        onData: ({ data }) => {
          push(data);
        },
      },
    ),
  );

  const shown = useMemo(() => {
    const needle = search.trim().toLowerCase();
    return [...agents.values()]
      .filter(
        (a) =>
          needle === '' ||
          a.data.agentId.toLowerCase().includes(needle) ||
          a.data.agentType.toLowerCase().includes(needle),
      )
      .sort((a, b) => order[a.data.status] - order[b.data.status] || a.data.agentId.localeCompare(b.data.agentId));
  }, [agents, search]);
  const counts = useMemo(() => {
    const c = Object.fromEntries(agentStatusValues.map((s) => [s, 0])) as Record<Status, number>;
    for (const a of agents.values()) c[a.data.status]++;
    return c;
  }, [agents]);

  return (
    <section className="panel agents" aria-labelledby="agents-title">
      <header>
        <h2 id="agents-title">Agents</h2>
        <span className="muted">{agents.size}</span>
        <span className="counts">
          {statuses
            .filter((s) => counts[s] > 0)
            .map((s) => (
              <span key={s} className={`chip status-${s}`}>
                {counts[s]} {s}
              </span>
            ))}
        </span>
        <input
          type="search"
          placeholder="Filter agents"
          aria-label="Filter agents"
          value={search}
          onChange={(e) => {
            setSearch(e.target.value);
          }}
        />
      </header>
      {subscription.status === 'error' && <p className="error">agentStatus: {subscription.error.message}</p>}
      {agents.size === 0 && <p className="empty">No agent has reported a status yet.</p>}
      <div className="cards scrolls">
        {shown.map((agent) => (
          <AgentCard key={agent.data.agentId} agent={agent} now={now} />
        ))}
      </div>
    </section>
  );
}

function AgentCard({ agent, now }: { agent: AgentStatus; now: number }) {
  const { agentId, agentType, status, currentTask, metrics, reason } = agent.data;
  const usage = useUsage().agents.get(agentId);
  const facts = [
    agentType,
    `updated ${ago(agent.timestamp, now)}`,
    ...(metrics
      ? [
          metrics.cpu !== undefined && `cpu ${Math.round(metrics.cpu)}%`,
          metrics.memory !== undefined && `mem ${Math.round(metrics.memory)} MiB`,
          metrics.tasksCompleted !== undefined && `done ${metrics.tasksCompleted}`,
          metrics.uptime !== undefined && `up ${duration(metrics.uptime * 1000)}`,
        ].filter((f) => f !== false)
      : []),
  ].join(' · ');
  return (
    <article className={`card status-${status}`} data-agent={agentId} aria-label={`agent ${agentId}`}>
      <div className="card-head">
        <strong className="mono" title={agentId}>
          {agentId}
        </strong>
        <span className={`chip status-${status}`} data-testid="agent-status">
          {status}
        </span>
      </div>
      {currentTask && (
        <div className="task">
          <div
            className="small ellipsis"
            title={currentTask.description ? `${currentTask.taskId} ${currentTask.description}` : currentTask.taskId}
          >
            <span className="mono">{currentTask.taskId}</span>
            {currentTask.description && <span className="muted"> {currentTask.description}</span>}
          </div>
          <div
            className="progress"
            role="progressbar"
            aria-valuenow={currentTask.progress}
            aria-valuemin={0}
            aria-valuemax={100}
          >
            <div style={{ width: `${currentTask.progress}%` }} />
          </div>
        </div>
      )}
      {reason && (
        <div className="small reason ellipsis" title={reason}>
          {reason}
        </div>
      )}
      <UsageLine usage={usage} testId="agent-usage" />
      {/* The type, the last update and the metrics on one line; the whole of it on hover. */}
      <div className="muted small ellipsis metrics" title={facts}>
        {facts}
      </div>
    </article>
  );
}
