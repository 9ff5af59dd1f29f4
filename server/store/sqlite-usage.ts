/**
 * The SQLite store's usage totals (`usage_totals`): the increments a commit adds at its end, and the `usage`
 * query's read. Kept apart from sqlite.ts, which calls `add` once per commit and `read` inside a transaction.
 */
import type Database from 'better-sqlite3';
import type { UsageReport } from '@switchboard/shared';
import {
  noSums,
  totalsOf,
  usageEntryOf,
  usageModelLimit,
  type UsageQuery,
  type UsageRow,
  type UsageScope,
  type UsageSums,
} from '../core/usage.js';

type Columns = UsageSums & { scope: UsageScope; id: string; lastEventId: number; updatedAt: number };

const columns = `scope, id, input_tokens AS inputTokens, output_tokens AS outputTokens,
  cache_read_tokens AS cacheReadTokens, cache_creation_tokens AS cacheCreationTokens, cost_micros AS costMicros,
  requests, last_event_id AS lastEventId, updated_at AS updatedAt`;

const rowOf = ({ scope, id, lastEventId, updatedAt, ...sums }: Columns): UsageRow => ({
  scope,
  id,
  sums,
  lastEventId,
  updatedAt,
});

export class SqliteUsage {
  private readonly upsert: Database.Statement<Columns>;
  private readonly recent: Database.Statement<[UsageScope, number], Columns>;
  private readonly named: Database.Statement<[UsageScope, string], Columns>;
  private readonly models: Database.Statement<[number], Columns>;
  private readonly total: Database.Statement<[], UsageSums>;

  constructor(sqlite: Database.Database) {
    this.upsert = sqlite.prepare<Columns>(`
      INSERT INTO usage_totals (scope, id, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens,
                                cost_micros, requests, last_event_id, updated_at)
      VALUES (:scope, :id, :inputTokens, :outputTokens, :cacheReadTokens, :cacheCreationTokens, :costMicros,
              :requests, :lastEventId, :updatedAt)
      ON CONFLICT (scope, id) DO UPDATE SET
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
        cache_creation_tokens = cache_creation_tokens + excluded.cache_creation_tokens,
        cost_micros = cost_micros + excluded.cost_micros,
        requests = requests + excluded.requests,
        last_event_id = max(last_event_id, excluded.last_event_id),
        updated_at = max(updated_at, excluded.updated_at)`);
    this.recent = sqlite.prepare(
      `SELECT ${columns} FROM usage_totals WHERE scope = ? ORDER BY last_event_id DESC LIMIT ?`,
    );
    // The ids as one JSON array parameter: one statement for any number of them.
    this.named = sqlite.prepare(
      `SELECT ${columns} FROM usage_totals WHERE scope = ? AND id IN (SELECT value FROM json_each(?))
       ORDER BY last_event_id DESC`,
    );
    this.models = sqlite.prepare(
      `SELECT ${columns} FROM usage_totals WHERE scope = 'model' ORDER BY cost_micros DESC, id LIMIT ?`,
    );
    // Every request adds to exactly one model row ('' when it named none): their sum is the total.
    this.total = sqlite.prepare(
      `SELECT coalesce(sum(input_tokens), 0) AS inputTokens, coalesce(sum(output_tokens), 0) AS outputTokens,
              coalesce(sum(cache_read_tokens), 0) AS cacheReadTokens,
              coalesce(sum(cache_creation_tokens), 0) AS cacheCreationTokens,
              coalesce(sum(cost_micros), 0) AS costMicros, coalesce(sum(requests), 0) AS requests
       FROM usage_totals WHERE scope = 'model'`,
    );
  }

  /** Adds one commit's increments (inside its transaction). */
  add(rows: Iterable<UsageRow>): void {
    for (const { scope, id, sums, lastEventId, updatedAt } of rows) {
      this.upsert.run({ scope, id, ...sums, lastEventId, updatedAt });
    }
  }

  /** The report; the caller runs it in one transaction with the head it passes. */
  read(query: UsageQuery, headId: number): UsageReport {
    const pick = (scope: UsageScope, ids: readonly string[] | undefined): UsageRow[] =>
      (ids === undefined ? this.recent.all(scope, query.limit) : this.named.all(scope, JSON.stringify(ids))).map(rowOf);
    const agents = pick('agent', query.agentIds);
    // Agents named alone: their totals only, no workflow list.
    const workflows =
      query.workflowIds === undefined && query.agentIds !== undefined ? [] : pick('workflow', query.workflowIds);
    const models = this.models.all(usageModelLimit).map(rowOf);
    return {
      headId: String(headId),
      total: totalsOf(this.total.get() ?? noSums),
      agents: agents.map(usageEntryOf),
      workflows: workflows.map(usageEntryOf),
      models: models.map(usageEntryOf),
    };
  }
}
