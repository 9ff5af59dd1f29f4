import { useSubscription } from '@trpc/tanstack-react-query';
import { createContext, useCallback, useContext, useState, type ReactNode } from 'react';
import type { EnvelopeOf, StreamItem } from '@switchboard/shared';
import { useBatched } from './hooks.js';
import { useTRPC } from './trpc.js';

type AgentStatus = EnvelopeOf<'agent.status'>;

/**
 * Each agent's current status, for panels that show an agent's work (workflow lanes, TDD tasks): whether the
 * agent behind it is still there. Offline is what the hub stored (a goodbye, or the presence TTL), so this page
 * agrees with every other client. One `agentStatus` subscription for the page, from its current state.
 */
const AgentStatuses = createContext<ReadonlyMap<string, AgentStatus>>(new Map());

export function AgentStatusesProvider({ children }: { children: ReactNode }) {
  const trpc = useTRPC();
  const [agents, setAgents] = useState<ReadonlyMap<string, AgentStatus>>(new Map());
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
  useSubscription(
    trpc.agentStatus.subscriptionOptions(
      {},
      {
        onData: ({ data }) => {
          push(data);
        },
      },
    ),
  );
  return <AgentStatuses.Provider value={agents}>{children}</AgentStatuses.Provider>;
}

/** "agent offline" beside work whose agent has gone (its reason on hover); nothing while it is there. */
export function AgentGone({ agentId, label = 'agent offline' }: { agentId: string | undefined; label?: string }) {
  const status = useContext(AgentStatuses).get(agentId ?? '');
  if (status?.data.status !== 'offline') return null;
  const reason = status.data.reason === undefined ? '' : `: ${status.data.reason}`;
  return (
    <span className="chip status-offline" data-testid="agent-gone" title={`${status.data.agentId} is offline${reason}`}>
      {label}
    </span>
  );
}
