/**
 * Usage totals: what `usage.recorded` events add up to, per agent, per workflow and per model. The server keeps
 * them beside the log (so retention never lowers them) and answers them with the `usage` query; a reader that
 * follows `usage.recorded` events from that answer's `headId` adds each one with `addUsage(…, usageOf(…))`, the
 * same sum the store computes.
 */
import { z } from 'zod';
import { entityIdSchema, type usageRecordedData } from './events.js';
import { limits } from './limits.js';

export interface UsageTotals {
  /** Input tokens not read from a cache. */
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
  /** As the producers estimated it; requests that report no cost add nothing. */
  costUsd: number;
  /** `usage.recorded` events counted. */
  requests: number;
}

export const emptyUsage: Readonly<UsageTotals> = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheCreationTokens: 0,
  costUsd: 0,
  requests: 0,
});

/**
 * Millionths of a dollar: costs are summed as integers, so a total is exact and the same in every store and in
 * every reader, whatever the order of the additions.
 */
export const toMicroUsd = (usd: number): number => Math.round(usd * 1_000_000);
export const fromMicroUsd = (micros: number): number => micros / 1_000_000;

/** What one `usage.recorded` event adds. */
export function usageOf(data: z.output<typeof usageRecordedData>): UsageTotals {
  return {
    inputTokens: data.inputTokens ?? 0,
    outputTokens: data.outputTokens ?? 0,
    cacheReadTokens: data.cacheReadTokens ?? 0,
    cacheCreationTokens: data.cacheCreationTokens ?? 0,
    costUsd: fromMicroUsd(toMicroUsd(data.costUsd ?? 0)),
    requests: 1,
  };
}

export function addUsage(a: UsageTotals, b: UsageTotals): UsageTotals {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheCreationTokens: a.cacheCreationTokens + b.cacheCreationTokens,
    costUsd: fromMicroUsd(toMicroUsd(a.costUsd) + toMicroUsd(b.costUsd)),
    requests: a.requests + b.requests,
  };
}

/** One agent's, workflow's or model's totals. */
export interface UsageEntry {
  /** The agent id, the workflow id, or the model ('' for requests that named none). */
  id: string;
  usage: UsageTotals;
  /** The newest `usage.recorded` event counted here. */
  lastEventId: string;
  updatedAt: Date;
}

/** What the `usage` query answers: one consistent read. */
export interface UsageReport {
  /** Every `usage.recorded` event up to this id is counted, none after it. */
  headId: string;
  /** Over every request (over the readable agents, for a token with read scopes). */
  total: UsageTotals;
  /** Most recently active first. */
  agents: UsageEntry[];
  workflows: UsageEntry[];
  /** By model, highest cost first; empty for a token with read scopes (a model's totals span every agent). */
  models: UsageEntry[];
}

const ids = z.array(entityIdSchema).min(1).max(limits.filterValues);

export const usageInput = z
  .strictObject({
    /** Only these agents (and, with `workflowIds`, these workflows); the most recently active when absent. */
    agentIds: ids.optional(),
    workflowIds: ids.optional(),
    /** Agents and workflows at most, each. */
    limit: z.int().min(1).max(1000).default(100),
  })
  .optional();
