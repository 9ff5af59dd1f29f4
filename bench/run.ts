/**
 * `npm run bench`: Switchboard next to raw `ws`, Socket.IO 4 and tRPC as its docs show it, in one run, on the
 * same event, loopback only, servers and load in separate processes, every wait bounded. Prints tables with
 * ratios to raw `ws` (or to the raw SQLite insert loop, for ingest; PostgreSQL + Redis cases in bench/cluster.ts). `--quick` runs one repeat of each case.
 */
import type { ChildProcess } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { clusterCases, enginesReachable } from './cluster.js';
import { cell, median, rateCell } from './format.js';
import { next, runScript, start, waitLimitMs } from './ipc.js';
import { runPatterns } from './patterns.js';
import { runSoak } from './soak.js';
import { variants, type FanOutSamples, type Variant } from './shared.js';

const quick = process.argv.includes('--quick');
/** `--only ws,switchboard` and `--n 100` narrow the fan-out cases while working on one of them. */
const flag = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const only = flag('--only')?.split(',');
const sizes = flag('--n') ? [Number(flag('--n'))] : [100, 1000];
/**
 * `--only ingest` runs the ingest and resume cases alone; `--only cluster` the PostgreSQL + Redis cases alone;
 * `--only soak --minutes N [--seed S]` the soak with its history checker (bench/soak.ts) and nothing else;
 * `--only patterns` what hostile topic patterns cost the dispatcher (bench/patterns.ts).
 */
const ingestOnly = only?.includes('ingest') ?? false;
const clusterOnly = only?.includes('cluster') ?? false;
const skipFanOut = ingestOnly || clusterOnly;
const skipIngest = clusterOnly || (!ingestOnly && (only !== undefined || flag('--n') !== undefined));
const skipCluster = !clusterOnly && only !== undefined;
const repeats = quick ? 1 : 3;

interface FanOut extends FanOutSamples {
  rssPerConnection: number;
}

async function fanOut(variant: Variant, n: number): Promise<FanOut> {
  const server = start('./servers.ts', [variant]);
  const client: { child?: ChildProcess } = {};
  try {
    const port = await next<number>(server, 'port');
    // Warm-up: a few subscribers come and go first, so that what is paid once per process (code compiled on
    // first use, the heap's first growth) is not counted against each of the N connections measured next.
    const warm = start('./client.ts', [variant, String(port), '20']);
    await next(warm, 'ready');
    warm.kill();
    const gone = performance.now();
    for (;;) {
      server.send({ cmd: 'connections' });
      if ((await next<number>(server, 'connections')) === 0) break;
      if (performance.now() - gone > waitLimitMs) throw new Error('warm-up connections did not close');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    server.send({ cmd: 'gc' });
    const before = await next<number>(server, 'rss');
    const subscribers = start('./client.ts', [variant, String(port), String(n)]);
    client.child = subscribers;
    await next(subscribers, 'ready');
    server.send({ cmd: 'gc' });
    const after = await next<number>(server, 'rss');

    const run = async (events: number, rate: number) => {
      const c = subscribers;
      c.send({ cmd: 'expect', total: events * n });
      await next(c, 'expecting');
      const done = next<{ received: number; seconds: number; p50: number; p99: number; cpuMicros: number }>(c, 'done');
      server.send({ cmd: 'emit', count: events, rate });
      const result = await done;
      server.send({ cmd: 'stats' });
      const cpu = await next<number>(server, 'cpuMicros');
      return { ...result, cpuPerMsg: cpu / result.received, clientCpuPerMsg: result.cpuMicros / result.received };
    };
    // Saturation: enough events for 200,000 deliveries, emitted as fast as the server can.
    const saturation = Math.round(200_000 / n);
    await run(Math.round(saturation / 4), 0); // warm-up
    const out: FanOut = {
      rate: [],
      cpuPerMsg: [],
      clientCpuPerMsg: [],
      p50: [],
      p99: [],
      rssPerConnection: (after - before) / n,
    };
    for (let r = 0; r < repeats; r++) {
      const result = await run(saturation, 0);
      out.rate.push(result.received / result.seconds);
      out.cpuPerMsg.push(result.cpuPerMsg);
      out.clientCpuPerMsg.push(result.clientCpuPerMsg);
    }
    // Latency at a fixed offered load of 10,000 deliveries/s, for 3 s.
    const perSecond = 10_000 / n;
    for (let r = 0; r < repeats; r++) {
      const result = await run(Math.round(perSecond * 3), perSecond);
      out.p50.push(result.p50);
      out.p99.push(result.p99);
    }
    return out;
  } finally {
    client.child?.kill();
    server.kill();
  }
}

interface Spread {
  rate: number[];
  cpuPerMsg: number[];
  clientCpuPerMsg: number[];
}

/**
 * Saturation only, with the N subscribers split over `processes` subscriber processes: a measure of the server
 * when one subscriber process is no longer the ceiling (every fast case saturates one core there).
 */
async function fanOutSpread(variant: Variant, n: number, processes: number): Promise<Spread> {
  const server = start('./servers.ts', [variant]);
  const clients: ChildProcess[] = [];
  try {
    const port = String(await next<number>(server, 'port'));
    const each = Math.round(n / processes);
    for (let i = 0; i < processes; i++) clients.push(start('./client.ts', [variant, port, String(each)]));
    await Promise.all(clients.map((c) => next(c, 'ready')));
    const run = async (events: number) => {
      for (const c of clients) c.send({ cmd: 'expect', total: events * each });
      await Promise.all(clients.map((c) => next(c, 'expecting')));
      const done = Promise.all(
        clients.map((c) => next<{ received: number; first: number; last: number; cpuMicros: number }>(c, 'done')),
      );
      server.send({ cmd: 'emit', count: events, rate: 0 });
      const results = await done;
      server.send({ cmd: 'stats' });
      const cpu = await next<number>(server, 'cpuMicros');
      const received = results.reduce((sum, r) => sum + r.received, 0);
      const seconds = (Math.max(...results.map((r) => r.last)) - Math.min(...results.map((r) => r.first))) / 1000;
      const clientCpu = results.reduce((sum, r) => sum + r.cpuMicros, 0);
      return { rate: received / seconds, cpuPerMsg: cpu / received, clientCpuPerMsg: clientCpu / received };
    };
    const events = Math.round(200_000 / n);
    await run(Math.round(events / 4)); // warm-up
    const out: Spread = { rate: [], cpuPerMsg: [], clientCpuPerMsg: [] };
    for (let r = 0; r < repeats; r++) {
      const result = await run(events);
      out.rate.push(result.rate);
      out.cpuPerMsg.push(result.cpuPerMsg);
      out.clientCpuPerMsg.push(result.clientCpuPerMsg);
    }
    return out;
  } finally {
    for (const c of clients) c.kill();
    server.kill();
  }
}

async function ingestAndResume(durability: 'full' | 'normal') {
  const rows: Record<string, number[]> = {};
  const add = (name: string, value: number) => (rows[name] ??= []).push(value);
  for (let r = 0; r < repeats; r++) {
    // With an fsync per commit, one-event transactions are slow: fewer of them keep the run short.
    const singles = durability === 'full' ? '2000' : '20000';
    for (const { mode, perSecond } of await runScript('./raw-insert.ts', [durability, singles])) add(mode, perSecond);
    const server = start('./servers.ts', ['switchboard'], { BENCH_DURABILITY: durability });
    try {
      const port = String(await next<number>(server, 'port'));
      add('publish', (await runScript('./load.ts', ['publish', port, singles]))[0]?.perSecond ?? NaN);
      add('publishBatch', (await runScript('./load.ts', ['batch', port, '100000']))[0]?.perSecond ?? NaN);
      add('publisher', (await runScript('./load.ts', ['publisher', port, '50000']))[0]?.perSecond ?? NaN);
      // The subscriber comes back to everything stored above: the singles and the batches.
      const stored = String(Number(singles) + 150_000);
      add('resume', (await runScript('./load.ts', ['resume', port, stored]))[0]?.perSecond ?? NaN);
    } finally {
      server.kill();
    }
  }
  return rows;
}

async function main() {
  if (only?.includes('patterns')) {
    await runPatterns();
    return;
  }
  if (only?.includes('soak')) {
    const pass = await runSoak({ minutes: Number(flag('--minutes') ?? 2), seed: Number(flag('--seed') ?? 1) });
    if (!pass) process.exitCode = 1;
    return;
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(
    `Switchboard bench · ${cpus().length} × ${cpu} · ${(totalmem() / 2 ** 30).toFixed(0)} GiB · Node ${process.version}`,
  );
  console.log(
    `${repeats} repeat(s) per case; median, with (min–max) across repeats; ratios against raw ws in the same run.\n`,
  );

  for (const n of skipFanOut ? [] : sizes) {
    const results = new Map<Variant, FanOut>();
    for (const variant of variants.filter((v) => only === undefined || only.includes(v))) {
      process.stderr.write(`  fan-out N=${n} ${variant}…\n`);
      results.set(variant, await fanOut(variant, n));
    }
    const base = results.get('ws');
    console.log(`Fan-out, N=${n} subscribers, ~300-byte event`);
    console.log(
      '| server | delivered msg/s | × raw ws | server CPU µs/msg | subscriber process CPU µs/msg | latency p50 / p99 ms at 10k/s | × raw ws p99 | RSS KiB per idle subscriber |',
    );
    console.log('|---|---|---|---|---|---|---|---|');
    for (const [variant, r] of results) {
      const rate = median(r.rate);
      const p99 = median(r.p99);
      console.log(
        `| ${variant} | ${rateCell(r.rate)} | ${(rate / median(base?.rate ?? [NaN])).toFixed(2)} | ` +
          `${cell(r.cpuPerMsg)} | ${cell(r.clientCpuPerMsg)} | ` +
          `${median(r.p50).toFixed(2)} / ${p99.toFixed(2)} | ${(p99 / median(base?.p99 ?? [NaN])).toFixed(2)} | ` +
          // A hundred connections change the process's RSS by less than its own noise: measured at 1,000 only.
          `${n >= 1000 ? (r.rssPerConnection / 1024).toFixed(1) : '–'} |`,
      );
    }
    console.log('');
  }

  if (!skipFanOut && sizes.includes(1000)) {
    const processes = 2;
    const results = new Map<Variant, Spread>();
    for (const variant of variants.filter((v) => only === undefined || only.includes(v))) {
      process.stderr.write(`  fan-out N=1000 over ${processes} subscriber processes, ${variant}…\n`);
      results.set(variant, await fanOutSpread(variant, 1000, processes));
    }
    const base = results.get('ws');
    console.log(`Fan-out at saturation, N=1000 subscribers split over ${processes} subscriber processes`);
    console.log('| server | delivered msg/s | × raw ws | server CPU µs/msg | subscriber processes CPU µs/msg |');
    console.log('|---|---|---|---|---|');
    for (const [variant, r] of results) {
      const rate = median(r.rate);
      console.log(
        `| ${variant} | ${rateCell(r.rate)} | ${(rate / median(base?.rate ?? [NaN])).toFixed(2)} | ` +
          `${cell(r.cpuPerMsg)} | ${cell(r.clientCpuPerMsg)} |`,
      );
    }
    console.log('');
  }

  for (const durability of skipIngest ? [] : (['normal', 'full'] as const)) {
    process.stderr.write(`  ingest and resume, durability ${durability}…\n`);
    const rows = await ingestAndResume(durability);
    const raw = median(rows['raw-batch'] ?? []);
    console.log(`Ingest and resume, SQLite WAL, synchronous=${durability.toUpperCase()}`);
    console.log('| path | events/s | × raw batched insert |');
    console.log('|---|---|---|');
    const label: Record<string, string> = {
      'raw-single': 'raw better-sqlite3, one transaction per event',
      'raw-batch': 'raw better-sqlite3, 1,000 events per transaction',
      publish: 'Switchboard `publish`, 64 in flight on one connection',
      publishBatch: 'Switchboard `publishBatch` of 1,000',
      publisher: 'Switchboard `Publisher`: single events through its outbox (default batches, one in flight)',
      resume: 'Switchboard resume replay (`events` from `lastEventId: "0"`, 152,000–170,000 behind)',
    };
    for (const [mode, values] of Object.entries(rows)) {
      console.log(`| ${label[mode] ?? mode} | ${rateCell(values)} | ${(median(values) / raw).toFixed(2)} |`);
    }
    console.log('');
  }

  if (!skipCluster) {
    const missing = await enginesReachable();
    // The full run goes on without the engines; asking for the cluster cases alone and getting none is an error.
    if (missing === undefined) await clusterCases(repeats);
    else if (clusterOnly) throw new Error(`--only cluster: ${missing}`);
    else console.log(`Cluster cases skipped: ${missing}.\n`);
  }
}

await main();
