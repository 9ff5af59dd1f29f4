/**
 * The PostgreSQL store's usage totals (`usage_totals`): one commit's increments in one statement, and the
 * `usage` query's read. postgres-writes.ts sends `sendUsage` with the commit's other end-of-commit writes and
 * `readUsage` inside a repeatable-read transaction.
 */
import type pg from 'pg';
import type { UsageReport } from '@switchboard/shared';
import {
  noSums,
  totalsOf,
  usageEntryOf,
  usageModelLimit,
  type UsageQuery,
  type UsageRow,
  type UsageScope,
} from '../core/usage.js';

/**
 * The increments' upsert, with `shift` (SQL reading parameter 11) added to each row's last id: postgres-writes.ts
 * numbers a commit's ids that way and builds the text once.
 */
export const usageUpsert = (shift: string) => `
  INSERT INTO usage_totals (scope, id, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens,
                            cost_micros, requests, last_event_id, updated_at)
  SELECT scope, id, input, output, cache_read, cache_creation, cost, requests, last_id + ${shift},
         to_timestamp(at::double precision / 1000)
  FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
              $8::bigint[], $9::bigint[], $10::bigint[])
    AS u(scope, id, input, output, cache_read, cache_creation, cost, requests, last_id, at)
  ON CONFLICT (scope, id) DO UPDATE SET
    input_tokens = usage_totals.input_tokens + EXCLUDED.input_tokens,
    output_tokens = usage_totals.output_tokens + EXCLUDED.output_tokens,
    cache_read_tokens = usage_totals.cache_read_tokens + EXCLUDED.cache_read_tokens,
    cache_creation_tokens = usage_totals.cache_creation_tokens + EXCLUDED.cache_creation_tokens,
    cost_micros = usage_totals.cost_micros + EXCLUDED.cost_micros,
    requests = usage_totals.requests + EXCLUDED.requests,
    last_event_id = greatest(usage_totals.last_event_id, EXCLUDED.last_event_id),
    updated_at = greatest(usage_totals.updated_at, EXCLUDED.updated_at)`;

/**
 * Sends one commit's increments (each row once: the commit folded them), without waiting; none: undefined.
 * `text`: `usageUpsert`'s; `numberedTo`: the last id the commit numbered (postgres-writes.ts).
 */
export function sendUsage(
  client: pg.PoolClient,
  rows: Iterable<UsageRow>,
  text: string,
  numberedTo: number,
): Promise<unknown> | undefined {
  const list = [...rows];
  if (list.length === 0) return undefined;
  const column = <T>(pick: (row: UsageRow) => T) => list.map(pick);
  // Prepared once per connection, as the commit's other statements are (postgres-writes.ts `prepared`).
  return client.query({
    name: 'switchboard.upsert-usage',
    text,
    values: [
      column((r) => r.scope),
      column((r) => r.id),
      column((r) => r.sums.inputTokens),
      column((r) => r.sums.outputTokens),
      column((r) => r.sums.cacheReadTokens),
      column((r) => r.sums.cacheCreationTokens),
      column((r) => r.sums.costMicros),
      column((r) => r.sums.requests),
      column((r) => r.lastEventId),
      column((r) => r.updatedAt),
      numberedTo,
    ],
  });
}

/** bigint columns arrive as strings from node-postgres; every total fits a double exactly up to 2^53. */
interface Columns {
  scope: UsageScope;
  id: string;
  input: string;
  output: string;
  cache_read: string;
  cache_creation: string;
  cost: string;
  requests: string;
  last_id: string;
  at: Date;
}

const select = `SELECT scope, id, input_tokens AS input, output_tokens AS output, cache_read_tokens AS cache_read,
  cache_creation_tokens AS cache_creation, cost_micros AS cost, requests, last_event_id AS last_id,
  updated_at AS at FROM usage_totals`;

const rowOf = (c: Columns): UsageRow => ({
  scope: c.scope,
  id: c.id,
  sums: {
    inputTokens: Number(c.input),
    outputTokens: Number(c.output),
    cacheReadTokens: Number(c.cache_read),
    cacheCreationTokens: Number(c.cache_creation),
    costMicros: Number(c.cost),
    requests: Number(c.requests),
  },
  lastEventId: Number(c.last_id),
  updatedAt: c.at.getTime(),
});

/** The report, read on `client` inside a transaction that also read `headId`, so the two agree. */
export async function readUsage(client: pg.PoolClient, query: UsageQuery, headId: number): Promise<UsageReport> {
  const pick = async (scope: UsageScope, ids: readonly string[] | undefined): Promise<UsageRow[]> => {
    const result =
      ids === undefined
        ? await client.query<Columns>(`${select} WHERE scope = $1 ORDER BY last_event_id DESC LIMIT $2`, [
            scope,
            query.limit,
          ])
        : await client.query<Columns>(
            `${select} WHERE scope = $1 AND id = ANY($2::text[]) ORDER BY last_event_id DESC`,
            [scope, ids],
          );
    return result.rows.map(rowOf);
  };
  const agents = await pick('agent', query.agentIds);
  // Agents named alone: their totals only, no workflow list.
  const workflows =
    query.workflowIds === undefined && query.agentIds !== undefined ? [] : await pick('workflow', query.workflowIds);
  const models = await client.query<Columns>(`${select} WHERE scope = 'model' ORDER BY cost_micros DESC, id LIMIT $1`, [
    usageModelLimit,
  ]);
  // Every request adds to exactly one model row ('' when it named none): their sum is the total.
  const total = await client.query<Columns>(
    `SELECT 'model' AS scope, '' AS id, coalesce(sum(input_tokens), 0) AS input,
            coalesce(sum(output_tokens), 0) AS output, coalesce(sum(cache_read_tokens), 0) AS cache_read,
            coalesce(sum(cache_creation_tokens), 0) AS cache_creation, coalesce(sum(cost_micros), 0) AS cost,
            coalesce(sum(requests), 0) AS requests, 0 AS last_id, now() AS at
     FROM usage_totals WHERE scope = 'model'`,
  );
  const totalRow = total.rows[0];
  return {
    headId: String(headId),
    total: totalsOf(totalRow === undefined ? noSums : rowOf(totalRow).sums),
    agents: agents.map(usageEntryOf),
    workflows: workflows.map(usageEntryOf),
    models: models.rows.map(rowOf).map(usageEntryOf),
  };
}
