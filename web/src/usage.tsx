/**
 * Token and cost totals, live: the `usage` query once (per agent, per workflow, the running total, read at one
 * head id), then every `usage.recorded` event after that head, each added as the store adds it (shared/usage.ts).
 * A retention reset reads the totals again. Agent cards, workflow lanes and the header read them from context.
 */
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useSubscription } from '@trpc/tanstack-react-query';
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { addUsage, emptyUsage, usageOf, type StreamItem, type UsageTotals } from '@switchboard/shared';
import { useBatched } from './hooks.js';
import { useTRPC } from './trpc.js';

interface Totals {
  total: UsageTotals;
  agents: ReadonlyMap<string, UsageTotals>;
  workflows: ReadonlyMap<string, UsageTotals>;
}

const none: Totals = { total: emptyUsage, agents: new Map(), workflows: new Map() };
const UsageContext = createContext<Totals>(none);

/** Agents and workflows whose totals the page reads at start, at most: the most recently active. */
const listed = 1000;

export function UsageProvider({ children }: { children: ReactNode }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const report = useQuery(trpc.usage.queryOptions({ limit: listed }, { staleTime: Infinity }));
  const [totals, setTotals] = useState<Totals>(none);
  useEffect(() => {
    if (!report.data) return;
    const entries = (list: { id: string; usage: UsageTotals }[]) => new Map(list.map((e) => [e.id, e.usage]));
    setTotals({
      total: report.data.total,
      agents: entries(report.data.agents),
      workflows: entries(report.data.workflows),
    });
  }, [report.data]);

  const apply = useCallback(
    (batch: StreamItem[]) => {
      if (batch.some((item) => item.type === 'stream.reset')) {
        void queryClient.invalidateQueries({ queryKey: trpc.usage.queryKey() });
        return;
      }
      setTotals((previous) => {
        const agents = new Map(previous.agents);
        const workflows = new Map(previous.workflows);
        let total = previous.total;
        for (const item of batch) {
          if (item.type !== 'usage.recorded') continue;
          const delta = usageOf(item.data);
          total = addUsage(total, delta);
          agents.set(item.data.agentId, addUsage(agents.get(item.data.agentId) ?? emptyUsage, delta));
          const { workflowId } = item.data;
          if (workflowId !== undefined)
            workflows.set(workflowId, addUsage(workflows.get(workflowId) ?? emptyUsage, delta));
        }
        return { total, agents, workflows };
      });
    },
    [queryClient, trpc],
  );
  const push = useBatched(apply);
  // From the head the totals were read at: nothing counted twice, nothing missed (the client resumes from there).
  const headId = report.data?.headId;
  useSubscription(
    trpc.events.subscriptionOptions(
      { types: ['usage.recorded'], lastEventId: headId ?? '0' },
      {
        enabled: headId !== undefined,
        onData: ({ data }) => {
          push(data);
        },
      },
    ),
  );
  return <UsageContext.Provider value={totals}>{children}</UsageContext.Provider>;
}

export function useUsage(): Totals {
  return useContext(UsageContext);
}

/** `$0.0123` under a dollar, `$12.34` above. */
export function usd(amount: number): string {
  return `$${amount.toFixed(amount < 1 ? 4 : 2)}`;
}

/** `950`, `12.3k`, `4.1M`. */
export function tokens(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

const allTokens = (u: UsageTotals) => u.inputTokens + u.outputTokens + u.cacheReadTokens + u.cacheCreationTokens;

/** One line of totals: cost and tokens, with the breakdown on hover; nothing before the first request. */
export function UsageLine({ usage, testId }: { usage: UsageTotals | undefined; testId: string }) {
  if (usage === undefined || usage.requests === 0) return null;
  const detail =
    `${usage.requests} requests · ${usage.inputTokens} in · ${usage.outputTokens} out · ` +
    `${usage.cacheReadTokens} cache read · ${usage.cacheCreationTokens} cache written`;
  return (
    <span className="usage small" data-testid={testId} title={detail}>
      <span className="mono">{usd(usage.costUsd)}</span>{' '}
      <span className="muted">· {tokens(allTokens(usage))} tokens</span>
    </span>
  );
}
