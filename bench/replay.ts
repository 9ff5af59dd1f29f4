/**
 * Replay: a subscriber comes back to `events` from `lastEventId: "0"` with `backlog` events stored, over
 * WebSocket (tRPC's wsLink) and over SSE (tRPC's httpSubscriptionLink, and a plain reader), until every one has
 * arrived. The server runs with its default limits, the slow-consumer bound included: a replay is paced by the
 * socket (it waits past the replay window) and must never be cut. SQLite is filled through a hub in the server's process, PostgreSQL
 * through a node's `publishBatch`.
 */
import { postgresCpuMicros, startCluster } from './cluster.js';
import { type Measured, next, runScript, start } from './ipc.js';
import { metricOf } from './shared.js';

export interface ReplayRow {
  rates: number[];
  clientCpu: number[];
  serverCpu: number[];
  /** PostgreSQL's own CPU per event (its processes, from /proc); empty for SQLite. */
  engineCpu: number[];
  errors: string[];
  /** Connections cut as slow consumers during the replays (from /metrics). */
  cut: number;
}
export type ReplayRows = Record<string, ReplayRow>;

/**
 * Each replay's client: tRPC's own links, and SSE read the way a plain EventSource consumer (a browser's, a
 * script's) reads it, which tells the server's pace apart from that of tRPC's SSE consumer.
 */
const transports = [
  ['resume', 'WebSocket'],
  ['resume-sse', "SSE (tRPC's httpSubscriptionLink)"],
  ['resume-sse-plain', 'SSE (a plain EventSource reader)'],
] as const;

function add(rows: ReplayRows, name: string, measured: Measured | undefined): void {
  const row = (rows[name] ??= { rates: [], clientCpu: [], serverCpu: [], engineCpu: [], errors: [], cut: 0 });
  if (measured === undefined) row.errors.push('no measurement');
  else if (measured.error !== undefined) row.errors.push(measured.error);
  else {
    row.rates.push(measured.perSecond ?? NaN);
    if (measured.clientCpuPerEvent !== undefined) row.clientCpu.push(measured.clientCpuPerEvent);
  }
}

/** Slow-consumer disconnects so far, read from the server's /metrics. */
const slowConsumerCuts = (port: string) => metricOf(port, 'switchboard_slow_consumer_disconnects_total');

/** Both transports' replays of `backlog` events from the server at `port`; `cpu` reads its CPU time in µs. */
async function replays(
  rows: ReplayRows,
  engine: string,
  port: string,
  backlog: number,
  cpu: () => Promise<number>,
  engineCpu?: () => number,
): Promise<void> {
  for (const [mode, transport] of transports) {
    const name = `${engine} ${transport}`;
    const before = await slowConsumerCuts(port);
    const cpuBefore = await cpu();
    const engineBefore = engineCpu?.();
    add(rows, name, (await runScript('./load.ts', [mode, port, String(backlog)]))[0]);
    const cpuAfter = await cpu();
    const engineAfter = engineCpu?.();
    const row = rows[name];
    if (row) {
      row.cut += (await slowConsumerCuts(port)) - before;
      row.serverCpu.push((cpuAfter - cpuBefore) / backlog);
      if (engineBefore !== undefined && engineAfter !== undefined)
        row.engineCpu.push((engineAfter - engineBefore) / backlog);
    }
  }
}

export async function sqliteReplay(
  durability: 'full' | 'normal',
  repeats: number,
  backlog: number,
): Promise<ReplayRows> {
  const rows: ReplayRows = {};
  for (let r = 0; r < repeats; r++) {
    const server = start('./servers.ts', ['switchboard'], { BENCH_DURABILITY: durability });
    try {
      const port = String(await next<number>(server, 'port'));
      server.send({ cmd: 'fill', count: backlog });
      await next(server, 'filled');
      await replays(rows, 'SQLite', port, backlog, async () => {
        server.send({ cmd: 'stats' });
        return next<number>(server, 'cpuMicros');
      });
    } finally {
      server.kill();
    }
  }
  return rows;
}

export async function postgresReplay(repeats: number, backlog: number): Promise<ReplayRows> {
  const rows: ReplayRows = {};
  for (let r = 0; r < repeats; r++) {
    const cluster = await startCluster(1);
    try {
      const node = cluster.nodes[0];
      if (node === undefined) throw new Error('the node did not start');
      const port = String(node.port);
      const [filled] = await runScript('./load.ts', ['batch', port, String(backlog)]);
      if (filled?.error !== undefined) throw new Error(`filling PostgreSQL failed: ${filled.error}`);
      await replays(rows, 'PostgreSQL', port, backlog, () => Promise.resolve(node.cpuMicros()), postgresCpuMicros);
    } finally {
      await cluster.stop();
    }
  }
  return rows;
}
