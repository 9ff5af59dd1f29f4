/** The event every case sends (~300 bytes as JSON), and the plumbing the bench processes share. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topicOf, type ValidEvent } from '@switchboard/shared';

/**
 * The servers. `ws-durable` and `ws-durable-trpc` are the latency case's floor, not contenders: raw `ws` fed from
 * another process and storing each event durably before it sends it (bench/servers.ts), to raw `ws` subscribers
 * and to Switchboard's own client.
 */
export type Variant = 'ws' | 'socketio' | 'trpc' | 'switchboard' | 'ws-durable' | 'ws-durable-trpc';
export const variants: readonly Variant[] = ['ws', 'socketio', 'trpc', 'switchboard'];

/**
 * Milliseconds on a clock shared by every process on this machine: the monotonic clock (Linux's CLOCK_MONOTONIC,
 * one for the whole system). Not `performance.timeOrigin + performance.now()`: each process fixes its time origin
 * from the wall clock when it starts, so a clock adjusted between two starts shifts one process against the other
 * (raw `ws`'s p99 once came out at -2.04 ms).
 */
export const wallMs = () => Number(process.hrtime.bigint()) / 1e6;

/** One sample's value from the `/metrics` of the server at `port` (NaN when it has none). */
export async function metricOf(port: string, sample: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return Number(line?.slice(sample.length + 1) ?? NaN);
}

/** What Switchboard publishes: the send time rides in `value`, for end-to-end latency. */
export function benchEvent(i: number): ValidEvent {
  return {
    type: 'agent.metric',
    source: 'bench',
    correlationId: `run-${i % 1000}`,
    data: {
      agentId: `bench-agent-${String(i % 100).padStart(3, '0')}`,
      name: 'bench.latency',
      value: wallMs(),
      unit: 'ms',
    },
  };
}

/** What the baselines send: the same envelope as Switchboard stores, built by hand. */
export function benchEnvelope(i: number) {
  const event = benchEvent(i);
  return {
    id: String(i + 1),
    topic: `agent:bench-agent-${String(i % 100).padStart(3, '0')}`,
    timestamp: new Date(),
    ...event,
  };
}

/** The send time inside whatever a client received. */
export function sentAtOf(payload: unknown): number {
  const envelope = (payload as { data?: { data?: { value?: number }; value?: number } }).data;
  return envelope?.data?.value ?? envelope?.value ?? NaN;
}

export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** One fan-out case's samples, one per repeat: delivered msg/s, CPU µs per message, latency ms. */
export interface FanOutSamples {
  rate: number[];
  cpuPerMsg: number[];
  clientCpuPerMsg: number[];
  p50: number[];
  p99: number[];
}

/**
 * A directory of this process's own for its database files, removed when the process exits (a full goals run opens
 * dozens of databases of 100 MB and more). A process stopped by a signal must exit through `process.exit` for it.
 */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.once('exit', () => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/**
 * The raw engine's own insert into this project's `events` table, as the raw SQLite loops (bench/raw-insert.ts) and
 * the storing floor (bench/answer-server.ts) run it: no id (SQLite's rowid), no state, no envelope; `key` and
 * `key_owner` only for events that carry a key (the Publisher's), into the unique index on them.
 */
export const sqliteRawInsert =
  'INSERT INTO events (type, topic, timestamp, source, correlation_id, agent_id, data, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)';
export const sqliteRawInsertKeyed =
  'INSERT INTO events (type, topic, timestamp, source, correlation_id, agent_id, data, received_at, key, key_owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';

/** An event's values for `sqliteRawInsert`, in its order, stored at `at` (epoch ms). */
export function sqliteRawRow(event: ValidEvent, at: number): unknown[] {
  const data = event.data as { agentId?: string };
  return [
    event.type,
    topicOf(event),
    at,
    event.source ?? null,
    event.correlationId ?? null,
    data.agentId ?? null,
    JSON.stringify(event.data),
    at,
  ];
}

/**
 * PostgreSQL's fastest raw batched insert here (bench/pg-ingest.ts `raw-json`, and the storing floor's): the rows
 * as one JSON array of arrays in `pgRawColumns` order (an id, then `sqliteRawRow`'s values), taken apart by
 * PostgreSQL (jsonb), timestamps as epoch ms. The ids are the caller's: no counter, no keys, no state.
 */
export const pgRawColumns = [
  'id',
  'type',
  'topic',
  'timestamp',
  'source',
  'correlation_id',
  'agent_id',
  'data',
  'received_at',
];
export const pgRawJsonInsert = `INSERT INTO events (${pgRawColumns.join(', ')})
  SELECT (r->>0)::bigint, r->>1, r->>2, to_timestamp((r->>3)::double precision / 1000), r->>4, r->>5, r->>6,
         r->>7, (r->>8)::bigint
  FROM jsonb_array_elements($1::jsonb) AS r`;
