/**
 * The scale-out cases (`npm run bench -- --only cluster`): real `switchboard` server processes on PostgreSQL +
 * Redis, as a deployment runs them: fan-out to N=1000 subscribers on one node and spread over two. Ingest into
 * PostgreSQL through nodes is in bench/ingest.ts and replay from it in bench/replay.ts, on clusters started here.
 * Each cluster gets its own schema and bus channel, dropped when its nodes stop; loopback only, every wait
 * bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import WebSocket from 'ws';
import { createSwitchboardClient } from '../client/index.js';
import { quoteIdent } from '../server/store/postgres-open.js';
import { cell, median, rateCell } from './format.js';
import { here, next, profileArgv, start, stop, waitLimitMs } from './ipc.js';
import { benchEvent, type FanOutSamples } from './shared.js';
import { pgUrl, reachable, redisUrl } from '../test/engine-addresses.js';

/** Linux's clock tick for /proc/<pid>/stat times (USER_HZ, 100 on every mainstream kernel build). */
const ticksPerSecond = 100;

/** Why the cluster cases cannot run here, or undefined when PostgreSQL and Redis both answer on loopback. */
/** User + system CPU of a process so far, in µs, from /proc (NaN once it is gone). */
function processCpuMicros(pid: number): number {
  try {
    // Fields 14 and 15 (utime, stime) counted after the ")" that ends the command name.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return ((Number(fields[11]) + Number(fields[12])) / ticksPerSecond) * 1e6;
  } catch {
    return NaN;
  }
}

/**
 * User + system CPU of every PostgreSQL process on this machine so far, in µs: the server's share of a case run
 * against it (its backends live as long as a node's pool, so a difference over a case counts that case).
 */
export function postgresCpuMicros(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (comm !== 'postgres') continue;
    const micros = processCpuMicros(Number(entry));
    if (!Number.isNaN(micros)) total += micros;
  }
  return total;
}

/**
 * Writes PostgreSQL's dirty pages out now (`CHECKPOINT`): run before each timed case, so that no case pays for the
 * writes of the one before it (a checkpoint that falls inside a case slows its commits and counts its CPU there).
 */
export async function checkpoint(): Promise<void> {
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  try {
    await admin.query('CHECKPOINT');
  } finally {
    await admin.end();
  }
}

export async function enginesReachable(): Promise<string | undefined> {
  const [postgres, redis] = await Promise.all([reachable(5432), reachable(6379)]);
  if (!postgres) return 'PostgreSQL unreachable on 127.0.0.1:5432';
  if (!redis) return 'Redis unreachable on 127.0.0.1:6379';
  return undefined;
}

export interface Node {
  port: number;
  /** User + system CPU of the node process so far, in µs (from /proc: the node is not ours to ask over IPC). */
  cpuMicros: () => number;
  stop: () => Promise<void>;
}

/** A node on `schema` and `channel`; `limits` lifts the limits a saturation run outruns (else the defaults). */
async function startNode(schema: string, channel: string, lifted: boolean): Promise<Node> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...profileArgv,
      '--import',
      'tsx',
      here('../server/entry/main.ts'),
      ...['--port', '0', '--db', pgUrl, '--pg-schema', schema, '--bus-channel', channel, '--redis-url', redisUrl],
      ...['--log-level', 'error'],
    ],
    {
      // The limits the single-node fan-out lifts too: saturation deliberately outruns the subscribers.
      env: {
        ...process.env,
        ...(lifted && {
          SWITCHBOARD_MAX_CONNECTIONS: '100000',
          SWITCHBOARD_SLOW_CONSUMER_BYTES: String(1024 ** 3),
        }),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      reject(new Error('a node did not listen within the wait limit'));
    }, waitLimitMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const url = /listening on (http:\/\/\S+) /.exec(out)?.[1];
      if (url === undefined) return;
      clearTimeout(timer);
      resolve(Number(new URL(url).port));
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error('a node exited before listening'));
    });
  });
  return {
    port,
    cpuMicros: () => processCpuMicros(child.pid ?? NaN),
    // A node that does not finish its shutdown within the wait limit is killed outright (ipc.ts).
    stop: () => stop(child),
  };
}

/**
 * `count` nodes on one fresh schema and channel; the first alone, so the others find the schema migrated.
 * `lifted`: no slow-consumer cut-off and no connection limit (the fan-out runs); otherwise the defaults.
 */
export async function startCluster(count: number, lifted = false) {
  const name = `sb_bench_${process.pid}_${Date.now().toString(36)}`;
  const nodes: Node[] = [];
  const stopAll = async () => {
    for (const node of nodes) await node.stop();
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(name)} CASCADE`);
    await admin.end();
  };
  try {
    for (let i = 0; i < count; i++) nodes.push(await startNode(name, name, lifted));
  } catch (error) {
    await stopAll();
    throw error;
  }
  return { nodes, stop: stopAll };
}

type FanOut = FanOutSamples;

interface Done {
  received: number;
  first: number;
  last: number;
  p50: number;
  p99: number;
  cpuMicros: number;
}

/**
 * N subscribers in two subscriber processes, one process per node when there are two nodes; every event is
 * published to the first node, so on two nodes half the deliveries cross Redis first.
 */
async function fanOut(nodeCount: number, n: number, repeats: number): Promise<FanOut> {
  const cluster = await startCluster(nodeCount, true);
  const clients: ChildProcess[] = [];
  const first = cluster.nodes[0];
  if (first === undefined) throw new Error('no node started');
  try {
    const each = Math.round(n / 2);
    for (let i = 0; i < 2; i++) {
      const node = cluster.nodes[i % nodeCount] ?? first;
      // From a cursor, not "live from now": without one, some of 500 subscriptions acknowledged on the second
      // node missed events committed right after (docs/performance-history.md); a cursor is gap-free. The schema is
      // fresh, so "0" replays nothing.
      clients.push(start('./client.ts', ['switchboard', String(node.port), String(each), '0']));
    }
    await Promise.all(clients.map((c) => next(c, 'ready')));
    await using publisher = createSwitchboardClient({ url: `http://127.0.0.1:${first.port}`, WebSocket });
    /** `events` published in batches of `batch`, `perSecond` events a second (0: as fast as acknowledged). */
    const run = async (events: number, batch: number, perSecond: number) => {
      for (const c of clients) c.send({ cmd: 'expect', total: events * each });
      await Promise.all(clients.map((c) => next(c, 'expecting')));
      const done = Promise.all(clients.map((c) => next<Done>(c, 'done')));
      const cpuBefore = cluster.nodes.reduce((sum, node) => sum + node.cpuMicros(), 0);
      const started = performance.now();
      for (let i = 0; i < events; i += batch) {
        if (perSecond > 0) {
          const due = started + (i / perSecond) * 1000;
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
        }
        await publisher.publishBatch.mutate(
          Array.from({ length: Math.min(batch, events - i) }, (_, k) => benchEvent(i + k)),
        );
      }
      const results = await done;
      const cpu = cluster.nodes.reduce((sum, node) => sum + node.cpuMicros(), 0) - cpuBefore;
      const received = results.reduce((sum, r) => sum + r.received, 0);
      const seconds = (Math.max(...results.map((r) => r.last)) - Math.min(...results.map((r) => r.first))) / 1000;
      return {
        rate: received / seconds,
        cpuPerMsg: cpu / received,
        clientCpuPerMsg: results.reduce((sum, r) => sum + r.cpuMicros, 0) / received,
        p50: Math.max(...results.map((r) => r.p50)),
        p99: Math.max(...results.map((r) => r.p99)),
      };
    };
    const saturation = Math.round(200_000 / n);
    await run(Math.round(saturation / 4), 10, 0); // warm-up
    const out: FanOut = { rate: [], cpuPerMsg: [], clientCpuPerMsg: [], p50: [], p99: [] };
    for (let r = 0; r < repeats; r++) {
      const result = await run(saturation, 10, 0);
      out.rate.push(result.rate);
      out.cpuPerMsg.push(result.cpuPerMsg);
      out.clientCpuPerMsg.push(result.clientCpuPerMsg);
    }
    // Latency at 10,000 deliveries/s for 3 s, one event per publish.
    for (let r = 0; r < repeats; r++) {
      const result = await run(Math.round((10_000 / n) * 3), 1, 10_000 / n);
      out.p50.push(result.p50);
      out.p99.push(result.p99);
    }
    return out;
  } finally {
    for (const c of clients) c.kill();
    await cluster.stop();
  }
}

export async function clusterCases(repeats: number): Promise<void> {
  const n = 1000;
  const fan = new Map<number, FanOut>();
  for (const nodeCount of [1, 2]) {
    process.stderr.write(`  cluster fan-out N=${n} on ${nodeCount} node(s)…\n`);
    fan.set(nodeCount, await fanOut(nodeCount, n, repeats));
  }
  console.log(`Fan-out, N=${n} subscribers in 2 subscriber processes, PostgreSQL + Redis, publishBatch of 10`);
  console.log(
    '| nodes | delivered msg/s | × one node | server CPU µs/msg (all nodes) | subscriber processes CPU µs/msg | latency p50 / p99 ms at 10k/s |',
  );
  console.log('|---|---|---|---|---|---|');
  const one = median(fan.get(1)?.rate ?? []);
  for (const [nodeCount, r] of fan) {
    console.log(
      `| ${nodeCount} | ${rateCell(r.rate)} | ${(median(r.rate) / one).toFixed(2)} | ${cell(r.cpuPerMsg)} | ` +
        `${cell(r.clientCpuPerMsg)} | ${median(r.p50).toFixed(2)} / ${median(r.p99).toFixed(2)} |`,
    );
  }
  console.log('');
}
