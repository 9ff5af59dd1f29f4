/**
 * Usage totals as the stores keep them: one row per agent, per workflow and per model, whose sums a commit adds
 * to (`usage` state changes, server/core/state.ts) and the `usage` query reads. Integers only: cost is kept in
 * millionths of a dollar, so every store sums exactly and alike.
 */
import { fromMicroUsd, type UsageEntry, type UsageTotals } from '@switchboard/shared';

/** Which totals a row holds: one agent's, one workflow's, or one model's ('' for requests naming none). */
export type UsageScope = 'agent' | 'workflow' | 'model';

export interface UsageSums {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
  costMicros: number;
  requests: number;
}

/** A row's increment: add the sums, and move the row's last event to `lastEventId` (the newest counted). */
export interface UsageRow {
  scope: UsageScope;
  id: string;
  sums: UsageSums;
  lastEventId: number;
  /** Epoch ms. */
  updatedAt: number;
}

export function addSums(a: UsageSums, b: UsageSums): UsageSums {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheCreationTokens: a.cacheCreationTokens + b.cacheCreationTokens,
    costMicros: a.costMicros + b.costMicros,
    requests: a.requests + b.requests,
  };
}

export const noSums: Readonly<UsageSums> = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheCreationTokens: 0,
  costMicros: 0,
  requests: 0,
});

export function totalsOf({ costMicros, ...tokens }: UsageSums): UsageTotals {
  return { ...tokens, costUsd: fromMicroUsd(costMicros) };
}

export function usageEntryOf(row: UsageRow): UsageEntry {
  return {
    id: row.id,
    usage: totalsOf(row.sums),
    lastEventId: String(row.lastEventId),
    updatedAt: new Date(row.updatedAt),
  };
}

/** What the `usage` query asks a store for. */
export interface UsageQuery {
  /** Only these agents; the `limit` most recently active when absent. */
  agentIds?: readonly string[] | undefined;
  workflowIds?: readonly string[] | undefined;
  limit: number;
}

/** Models listed at most, highest cost first (the total counts them all). */
export const usageModelLimit = 1_000;
