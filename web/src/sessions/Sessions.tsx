import { skipToken, useQuery } from '@tanstack/react-query';
import { useSubscription } from '@trpc/tanstack-react-query';
import { useCallback, useMemo, useState } from 'react';
import { claudeCode, type EnvelopeOf, type StreamItem } from '@switchboard/shared';
import { ago } from '../format.js';
import { useBatched } from '../hooks.js';
import { useTRPC } from '../trpc.js';
import { Transcript } from './Transcript.js';

/** Sessions listed, the most recently active first (the most an `agentIds` filter takes). */
const maxSessions = 100;
const lifecycleTypes = ['workflow.started', 'workflow.completed', 'workflow.failed'] as const;

/** The address of a session's transcript. */
export const sessionHref = (sessionId: string) => `#/sessions/${encodeURIComponent(sessionId)}`;

/**
 * Claude Code sessions: a picker of the sessions the hub has seen (workflows of type `claude-code`), live, and
 * the transcript of the one picked (the newest when none is).
 */
export function Sessions({ picked, now }: { picked: string | undefined; now: number }) {
  const trpc = useTRPC();
  const list = useQuery(trpc.workflows.queryOptions({ workflowType: claudeCode.type, limit: maxSessions }));
  // A session starting or ending anywhere changes the list: read it again (at most every 100 ms).
  const { refetch } = list;
  const refresh = useCallback(() => {
    void refetch();
  }, [refetch]);
  const changed = useBatched(refresh);
  useSubscription(
    trpc.events.subscriptionOptions(
      { types: [...lifecycleTypes] },
      {
        onData: () => {
          changed(undefined);
        },
      },
    ),
  );
  const sessions = useMemo(() => list.data ?? [], [list.data]);
  const statuses = useSessionStatuses(sessions.map((s) => s.workflowId));
  const shown = picked ?? sessions[0]?.workflowId;

  return (
    <div className="sessions-view">
      <nav className="panel picker" aria-labelledby="sessions-title">
        <header>
          <h2 id="sessions-title">Claude Code sessions</h2>
          <span className="muted">{sessions.length}</span>
        </header>
        {list.error && <p className="error small">{list.error.message}</p>}
        {list.isSuccess && sessions.length === 0 && (
          <p className="empty">
            No Claude Code session yet. Point its hooks at <code>/ingest/claude-code</code> (docs/claude-code.md).
          </p>
        )}
        <ul className="session-list scrolls">
          {sessions.map((s) => {
            const agent = statuses.get(s.workflowId);
            const status = agent?.data.status ?? s.status;
            return (
              <li key={s.workflowId}>
                <a
                  href={sessionHref(s.workflowId)}
                  aria-current={s.workflowId === shown ? 'page' : undefined}
                  data-session={s.workflowId}
                >
                  <span className="session-id mono" title={s.workflowId}>
                    {s.workflowId}
                  </span>
                  <span className={`chip status-${status} wf-${status}`}>{status}</span>
                  <span className="muted small session-when" title={agent?.data.reason}>
                    {s.startedAt ? `started ${ago(s.startedAt, now)} · ` : ''}active{' '}
                    {ago(agent && agent.timestamp > s.updatedAt ? agent.timestamp : s.updatedAt, now)}
                    {agent?.data.reason && ` · ${agent.data.reason}`}
                  </span>
                </a>
              </li>
            );
          })}
        </ul>
      </nav>
      {shown === undefined ? (
        <section className="panel transcript">
          <p className="empty">Pick a session to read its transcript.</p>
        </section>
      ) : (
        <Transcript key={shown} sessionId={shown} />
      )}
    </div>
  );
}

/** Each session's latest status (busy, blocked on a permission, idle, offline), live from `agentStatus`. */
function useSessionStatuses(sessionIds: readonly string[]) {
  const trpc = useTRPC();
  const [statuses, setStatuses] = useState<ReadonlyMap<string, EnvelopeOf<'agent.status'>>>(new Map());
  const apply = useCallback((batch: StreamItem[]) => {
    setStatuses((previous) => {
      const next = new Map(previous);
      for (const item of batch) if (item.type === 'agent.status') next.set(item.data.agentId, item);
      return next;
    });
  }, []);
  const push = useBatched(apply);
  const key = sessionIds.join('\n');
  const input = useMemo(() => ({ agentIds: key === '' ? [] : key.split('\n') }), [key]);
  useSubscription(
    trpc.agentStatus.subscriptionOptions(input.agentIds.length === 0 ? skipToken : input, {
      onData: ({ data }) => {
        push(data);
      },
    }),
  );
  return statuses;
}
