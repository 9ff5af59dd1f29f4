/**
 * `npm run bench`: Switchboard next to raw `ws`, Socket.IO 4 and the storage engines, in one run, loopback only,
 * servers and load in separate processes, every wait bounded. Prints a table per case and, at the end, the goals
 * of issue #21 with what this run measured (bench/goals.ts).
 *
 *   --only fanout,latency,ingest,replay   the cases to run (default: all four, then the cluster cases)
 *   --only ws,socketio,trpc,switchboard   narrow the fan-out and latency servers (naive tRPC only when named)
 *   --only cluster | patterns | soak      PostgreSQL + Redis fan-out; hostile topic patterns; the soak
 *   --n 1000                              one fan-out size instead of 100 and 1000
 *   --durability normal                   the SQLite cases with synchronous=NORMAL (default: full, the server's)
 *   --quick                               one repeat of each case and smaller counts: a few minutes
 *   --profile DIR                         a V8 CPU profile of every process started (bench/ipc.ts)
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { clusterCases, enginesReachable } from './cluster.js';
import { fanOut, fixedLoad, inFlight, type FanOutOptions, type FanOutResult } from './fanout.js';
import { cell, median, rateCell, spread } from './format.js';
import { runScript } from './ipc.js';
import {
  binding,
  ceilingAt,
  pathFloor,
  floorAt,
  perSecond,
  printGoals,
  ratio,
  storingFloorAt,
  type Goal,
} from './goals.js';
import { runChars } from '../server/core/text-runs.js';
import { limits } from '@switchboard/shared';
import { clientsAlone, postgresIngest, sqliteIngest, type Rows } from './ingest.js';
import { runPatterns } from './patterns.js';
import { postgresReplay, sqliteReplay, type ReplayRows } from './replay.js';
import { runSoak } from './soak.js';
import type { Variant } from './shared.js';
import type { TraceSample } from './trace.js';

const flag = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const quick = process.argv.includes('--quick');
/** The most events a group commit holds, Switchboard's and the storing floor's alike. */
const groupEvents = limits.batchSize.toLocaleString('en');
const only = flag('--only')?.split(',');
const sizes = flag('--n') ? [Number(flag('--n'))] : [100, 1000];
const durability = flag('--durability') === 'normal' ? 'normal' : 'full';
const repeats = quick ? 1 : 3;
const caseNames = ['fanout', 'latency', 'ingest', 'replay'] as const;
type CaseName = (typeof caseNames)[number];
const variantNames: readonly Variant[] = ['ws', 'socketio', 'trpc', 'switchboard'];
const namedVariants = variantNames.filter((v) => only?.includes(v));
const namedCases = caseNames.filter((c) => only?.includes(c));
/** Naming only servers (`--only ws,switchboard`) runs fan-out and latency for them, as before. */
const cases = new Set<CaseName>(
  namedCases.length > 0 ? namedCases : namedVariants.length > 0 ? ['fanout', 'latency'] : caseNames,
);
const fanOutVariants: Variant[] = namedVariants.length > 0 ? namedVariants : ['ws', 'socketio', 'switchboard'];
const runCluster = only === undefined || only.includes('cluster');
/** The machine's cores: what the processes of a case may use together. */
const cores = cpus().length;
const counts = quick ? { singles: 10_000, batched: 50_000 } : { singles: 20_000, batched: 100_000 };
const backlog = 150_000;
const goals: Goal[] = [];

const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const kib = (bytes: number) => (bytes / 1024).toFixed(1);
/** RSS per connection: the median of its samples in KiB, with their range. */
const kibCell = (samples: number[]) => (samples.length === 0 ? '–' : cell(samples.map((b) => b / 1024)));

/** Switchboard's latency with durability `normal` (no fsync before an event goes out), beside the default's. */
const atNormal = new Map<number, FanOutResult>();
/** Switchboard's latency with its events sent on a plain socket, without the stock client's send timer. */
const plainPublisher = new Map<number, FanOutResult>();
/**
 * The latency floor: raw `ws` fed from another process, storing each event durably before it sends it, to raw
 * `ws` subscribers and to Switchboard's own client (the same frames as Switchboard's).
 */
const durableFloor = new Map<number, FanOutResult>();
const typedFloor = new Map<number, FanOutResult>();
/**
 * Switchboard at saturation to the subscribers raw `ws` has (plain sockets, JSON.parse per frame): a server's CPU
 * per write depends on how fast its peer reads, so the servers' costs compare best with the same receiver.
 */
const toPlainSubscribers = new Map<number, FanOutResult>();
const plainSubscribersLabel = "switchboard, to raw ws's kind of subscriber (a plain socket, JSON.parse per frame)";
/** The disk's write + fdatasync latency (bench/fsync.ts), measured once. */
let fsyncMs: { p50: number; p99: number } | undefined;
/** One round trip between two processes over loopback (bench/round-trip.ts), measured once. */
let roundTrip: { p50: number; p99: number; cpuMicros: number; wakeMicros: number } | undefined;

function fanOutTables(n: number, results: Map<Variant, FanOutResult>): void {
  const ws = results.get('ws');
  const sio = results.get('socketio');
  if (cases.has('fanout')) {
    console.log(
      `Fan-out at saturation, N=${n} subscribers in one process, at most ${inFlight.toLocaleString('en-US')} deliveries in flight, ~300-byte event`,
    );
    console.log(
      '| server | delivered msg/s | × raw ws | × Socket.IO | server CPU µs/msg | subscribers CPU µs/msg | publisher CPU µs/msg | cores busy: server / subscribers / publisher | RSS KiB per idle subscriber |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|');
    const rows: [string, FanOutResult][] = [...results];
    const plain = toPlainSubscribers.get(n);
    if (plain) rows.push([plainSubscribersLabel, plain]);
    const typed = typedFloor.get(n);
    if (typed && typed.rate.length > 0) rows.push([typedFloorLabel, typed]);
    for (const [variant, r] of rows) {
      const busy = [r.serverBusy, r.subscriberBusy, r.publisherBusy].map((b) => median(b).toFixed(2)).join(' / ');
      console.log(
        `| ${variant} | ${rateCell(r.rate)} | ${ws ? ratio(r.rate, ws.rate).toFixed(2) : '–'} | ` +
          `${sio ? ratio(r.rate, sio.rate).toFixed(2) : '–'} | ${cell(r.serverCpu)} | ${cell(r.subscriberCpu)} | ` +
          `${r.publisherCpu.some((cpu) => cpu > 0) ? cell(r.publisherCpu) : '–'} | ${busy} | ${kibCell(r.rssPerConnection)} |`,
      );
    }
    console.log('');
  }
  if (cases.has('latency')) {
    console.log(`Latency at ${fixedLoad.toLocaleString('en-US')} deliveries/s (${fixedLoad / n} events/s), N=${n}`);
    console.log('| server | p50 ms | p99 ms | × raw ws p99 |');
    console.log('|---|---|---|---|');
    const rows: [string, FanOutResult][] = [...results];
    const normal = atNormal.get(n);
    if (normal) rows.push(['switchboard, durability normal (no fsync before delivery)', normal]);
    const plain = plainPublisher.get(n);
    if (plain) rows.push(['switchboard, published on a plain socket (no @trpc/client send timer)', plain]);
    const floor = durableFloor.get(n);
    if (floor) rows.push([floorLabel, floor]);
    const typed = typedFloor.get(n);
    if (typed && typed.p99.length > 0) rows.push([typedFloorLabel, typed]);
    for (const [name, r] of rows) {
      const p99 = ws ? ratio(r.p99, ws.p99).toFixed(2) : '–';
      console.log(`| ${name} | ${ms(median(r.p50))} | ${ms(median(r.p99))} | ${p99} |`);
    }
    console.log('');
    if (fsyncMs) {
      console.log(
        `The disk alone: 4 KiB written and fdatasync'd, one at a time (what a durable commit waits on): p50 ${ms(fsyncMs.p50)} ms, p99 ${ms(fsyncMs.p99)} ms\n`,
      );
    }
    if (roundTrip) {
      console.log(
        `A hop alone: 300 bytes to another process over loopback TCP and one byte back, one at a time (what every call, commit and delivery crosses): p50 ${ms(roundTrip.p50)} ms, p99 ${ms(roundTrip.p99)} ms, ${roundTrip.cpuMicros.toFixed(0)} µs of CPU in the two processes per round trip; a process woken from idle by a 1 ms timer spends ${roundTrip.wakeMicros.toFixed(0)} µs of CPU per wake\n`,
      );
    }
    const sb = results.get('switchboard');
    if (sb && sb.trace.length > 0) breakdown(n, sb.trace);
  }
}

const floorLabel =
  'the floor: raw ws fed from another process, each event stored by better-sqlite3 (synchronous=FULL) before it is sent';
const typedFloorLabel = `${floorLabel}, to Switchboard's client (its frames)`;

/** Where a Switchboard event's time goes, stage by stage, over the traced run's events. */
function breakdown(n: number, samples: TraceSample[]): void {
  const stages: [string, keyof TraceSample, keyof TraceSample][] = [
    ['publisher to server: client encode, its send timer, loopback, wait for the event loop', 'sentAt', 'received'],
    ['mutation decode: frame, JSON, message check, superjson', 'received', 'decoded'],
    ['validation: tRPC middlewares, zod, scope and rate checks', 'decoded', 'queued'],
    ['group-commit wait', 'queued', 'commitStart'],
    ['commit: insert, state, commit (and its fsync)', 'commitStart', 'committed'],
    ['dispatch: to the streams, up to the first frame', 'committed', 'frameStart'],
    ['frame build (once per event)', 'frameStart', 'frameBuilt'],
    [`socket writes: the frame handed to all ${n} sockets`, 'frameBuilt', 'dispatchEnd'],
    ['in the server: frame in to last socket write', 'received', 'dispatchEnd'],
  ];
  console.log(`Where an event's time goes in Switchboard, N=${n} (${samples.length} events traced)`);
  console.log('| stage | p50 ms | p99 ms |');
  console.log('|---|---|---|');
  for (const [label, from, to] of stages) {
    const spans = samples
      .map((s) => (s[to] ?? NaN) - (s[from] ?? NaN))
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    const at = (p: number) => spans[Math.min(spans.length - 1, Math.floor(p * spans.length))] ?? NaN;
    console.log(`| ${label} | ${ms(at(0.5))} | ${ms(at(0.99))} |`);
  }
  console.log('');
}

function fanOutGoals(n: number, results: Map<Variant, FanOutResult>): void {
  const ws = results.get('ws');
  const sio = results.get('socketio');
  const sb = results.get('switchboard');
  if (!ws || !sio || !sb) return;
  if (cases.has('fanout')) {
    // Every delivery is received by the one subscriber process, which runs the unmodified `@trpc/client`.
    const typed = typedFloor.get(n)?.rate.length ? typedFloor.get(n) : undefined;
    const lowest = Math.min(median(ws.serverCpu), median(sio.serverCpu));
    const subscribers = (rate: number) =>
      floorAt(rate, median(sb.rate), 1, [
        [`the subscriber process (@trpc/client, one thread)`, median(sb.subscriberCpu)],
      ]);
    goals.push(
      {
        goal: `fan-out N=${n}: delivered msg/s ≥ 1.5× Socket.IO`,
        measured: `${perSecond(sb.rate)} vs ${perSecond(sio.rate)}`,
        value: ratio(sb.rate, sio.rate),
        target: { op: '≥', bound: 1.5 },
        floor: subscribers(1.5 * median(sio.rate)),
      },
      {
        goal: `fan-out N=${n}: delivered msg/s ≥ 1.0× raw ws`,
        measured: `${perSecond(sb.rate)} vs ${perSecond(ws.rate)}`,
        value: ratio(sb.rate, ws.rate),
        target: { op: '≥', bound: 1.0 },
        floor: subscribers(median(ws.rate)),
      },
      {
        goal: `fan-out N=${n}: server CPU per delivery the lowest`,
        measured:
          `${cell(sb.serverCpu)} µs vs ${cell(ws.serverCpu)} (ws), ${cell(sio.serverCpu)} (Socket.IO)` +
          (typed ? `; the floor to Switchboard's client: ${cell(typed.serverCpu)} µs` : ''),
        value: median(sb.serverCpu) / lowest,
        target: { op: '≤', bound: 1.0 },
        // A server's CPU per write depends on how fast its peer reads: the least a server spends per delivery to
        // Switchboard's client, storing each event first, bounds what any server can spend on that path.
        floor:
          typed &&
          pathFloor(median(typed.serverCpu) / lowest, 'the lowest', `spends ${cell(typed.serverCpu)} µs per delivery`),
      },
    );
    const plain = toPlainSubscribers.get(n);
    if (plain)
      goals.push({
        goal: `fan-out N=${n}: server CPU per delivery the lowest, to the same kind of subscriber as raw ws`,
        measured: `${cell(plain.serverCpu)} µs vs ${cell(ws.serverCpu)} (ws), both to plain sockets (${perSecond(plain.rate)} vs ${perSecond(ws.rate)})`,
        value: median(plain.serverCpu) / median(ws.serverCpu),
        target: { op: '≤', bound: 1.0 },
      });
    const busy = median(sb.serverBusy) + median(sb.subscriberBusy) + median(sb.publisherBusy);
    goals.push({
      goal: `fan-out N=${n}: saturation leaves no core idle (Switchboard's processes)`,
      measured: `${busy.toFixed(2)} of ${cores} cores busy`,
      value: busy / cores,
      target: { op: '≥', bound: 0.9 },
      // Every process's CPU grows with the rate: the cores would be that busy at the rate times target ÷ busy,
      // which the one subscriber process must keep up with.
      floor: subscribers((median(sb.rate) * 0.9 * cores) / busy),
    });
  }
  if (cases.has('latency')) {
    const normal = atNormal.get(n);
    const plain = plainPublisher.get(n);
    const disk =
      (fsyncMs ? `; the disk's fsync alone: p99 ${ms(fsyncMs.p99)} ms` : '') +
      (roundTrip ? `; a hop between two processes alone: p99 ${ms(roundTrip.p99)} ms` : '');
    const floor = typedFloor.get(n);
    const rawFloor = durableFloor.get(n);
    goals.push({
      goal: `latency N=${n}: p99 at ${fixedLoad.toLocaleString('en-US')} deliveries/s ≤ 1.0× raw ws`,
      measured:
        `${ms(median(sb.p99))} ms vs ${ms(median(ws.p99))} ms` +
        (normal ? ` (durability normal: ${ms(median(normal.p99))} ms${disk})` : '') +
        (plain ? `; published on a plain socket: ${ms(median(plain.p99))} ms` : '') +
        (rawFloor ? `; the floor to raw ws subscribers: ${ms(median(rawFloor.p99))} ms` : '') +
        (floor ? `; Switchboard against the floor to its client: ${ratio(sb.p99, floor.p99).toFixed(2)}×` : ''),
      value: ratio(sb.p99, ws.p99),
      target: { op: '≤', bound: 1.0 },
      floor: floor && pathFloor(ratio(floor.p99, ws.p99), 'raw ws', `has p99 ${ms(median(floor.p99))} ms`),
    });
  }
  if (sb.rssPerConnection.length > 0) {
    const perConnection = median(sb.rssPerConnection);
    goals.push({
      goal: `memory: RSS per idle subscribed connection ≤ 12 KiB (N=${n}, a fresh server per repeat)`,
      measured:
        `${kibCell(sb.rssPerConnection)} KiB (Socket.IO ${kibCell(sio.rssPerConnection)}); ` +
        `the JavaScript heap alone ${kibCell(sb.heapPerConnection)} KiB (Socket.IO ${kibCell(sio.heapPerConnection)})`,
      value: perConnection / 1024,
      target: { op: '≤', bound: 12 },
      shown: kib(perConnection),
    });
  }
}

const ingestLabels: Record<string, string> = {
  'raw-single': 'raw better-sqlite3, one transaction per event',
  'raw-batch': 'raw better-sqlite3, 1,000 events per transaction',
  'raw-batch-keys': 'raw better-sqlite3, 1,000 events per transaction, each with a key as the Publisher makes it',
  'raw-batch-sequenced':
    "raw better-sqlite3, 1,000 events per transaction, one row per transaction for the Publisher's sequence (not built)",
  'raw-batch-before': 'raw better-sqlite3, 1,000 events per transaction, the schema before #21',
  publish: 'Switchboard `publish`, 64 in flight on one connection',
  batch: 'Switchboard `publishBatch` of 1,000, one in flight',
  batch2: 'Switchboard `publishBatch` of 1,000, two in flight on one connection',
  ingest2: 'Switchboard `ingest` (`publishBatch` answering ids only) of 1,000, two in flight on one connection',
  publisher: 'Switchboard `Publisher`: single events through its outbox (default batches, two in flight)',
  ndjson: 'Switchboard `POST /ingest`, NDJSON of 1,000 events, one request in flight',
  ndjson2: 'Switchboard `POST /ingest`, NDJSON of 1,000 events, two requests in flight',
  'pg raw-single': 'raw `pg`, one INSERT per event, autocommit',
  'pg raw-batch': 'raw `pg`, 1,000 awaited INSERTs per transaction',
  'pg raw-multirow': 'raw `pg`, one multi-row INSERT of 1,000',
  'pg raw-unnest': 'raw `pg`, one INSERT … unnest of 1,000',
  'pg raw-json': 'raw `pg`, one INSERT … jsonb_array_elements of 1,000 (the rows as one JSON text)',
  'pg store-single': 'PostgreSQL store `append`, one event at a time (in process)',
  'pg hub-concurrent-singles': 'hub `append`, 64 single events in flight (group commit, in process)',
  'pg two-hubs-concurrent-singles':
    'two hubs on pools of their own, 64 single events in flight on each (in process, sum)',
  'pg store-batch': 'PostgreSQL store `append` of 1,000 (in process)',
  'pg node-publish': 'node `publish`, 64 in flight on one connection',
  'pg node-batch': 'node `publishBatch` of 1,000, one in flight',
  'pg node-batch2': 'node `publishBatch` of 1,000, two in flight on one connection',
  'pg node-ingest': 'node `ingest` (ids only) of 1,000, two in flight',
  'pg two-nodes': 'two nodes at once, `publish` with 64 in flight on each (sum)',
};

function ingestTable(title: string, rows: Rows, base: number, serverCpu: Record<string, number[]> = {}): void {
  console.log(title);
  console.log('| path | events/s | × raw batched | server CPU µs/event | client CPU µs/event |');
  console.log('|---|---|---|---|---|');
  for (const [mode, row] of Object.entries(rows)) {
    const rate = row.errors.length > 0 ? `refused: ${row.errors[0] ?? ''}` : rateCell(row.rates);
    const cpu = serverCpu[mode.replace(/^pg /, '')];
    // A SQLite case's ratio is to the raw loop run just before it, repeat by repeat (bench/ingest.ts).
    const times = row.paired.length > 0 ? median(row.paired) : median(row.rates) / base;
    console.log(
      `| ${ingestLabels[mode] ?? mode} | ${rate} | ${times.toFixed(2)} | ` +
        `${cpu ? cell(cpu) : '–'} | ${row.clientCpu.length > 0 ? cell(row.clientCpu) : '–'} |`,
    );
  }
  console.log('');
}

/** The SQLite ingest goals: load.ts's mode, the goal's words, its target × the raw loop beside the case. */
const judgedSqlite: [mode: string, goal: string, target: number][] = [
  ['publish', '`publish`, 64 in flight on one connection', 0.5],
  ['batch2', '`publishBatch` of 1,000 (two in flight)', 0.8],
  ['ingest2', '`ingest` (ids only) of 1,000 (two in flight)', 0.8],
  ['publisher', 'the Publisher', 0.7],
  ['ndjson2', '`/ingest` NDJSON (two requests in flight)', 0.7],
];

async function ingest(): Promise<void> {
  process.stderr.write(`  ingest, SQLite (synchronous=${durability.toUpperCase()})…\n`);
  const { rows, serverCpu } = await sqliteIngest(
    durability,
    repeats,
    counts,
    new Set(judgedSqlite.map(([mode]) => mode)),
  );
  const raw = rows['raw-batch']?.rates ?? [];
  /** The raw loop's own CPU per event: its engine storing each event, and making its row. */
  const engine = median(rows['raw-batch']?.engineCpu ?? []);
  ingestTable(`Ingest, SQLite WAL, synchronous=${durability.toUpperCase()}`, rows, median(raw), serverCpu);
  const [fresh] = await runScript('./fresh-memory.ts', ['300']);
  if (fresh === undefined || fresh.error !== undefined) {
    console.log(`Fresh memory alone (bench/fresh-memory.ts): failed: ${fresh?.error ?? 'no measurement'}\n`);
  } else {
    const f = (key: string, digits = 0) => Number(fresh[key]).toFixed(digits);
    console.log(
      `Fresh memory alone (bench/fresh-memory.ts): one \`ingest\` call's frame of 1,000 events ` +
        `(${Number(fresh.bytes).toLocaleString('en-US')} bytes) made one string from its bytes, as a server must ` +
        `before JSON.parse: ${f('wholeUs')} µs and ${f('wholeFaults', 1)} page faults (a string over 128 KiB is ` +
        `fresh memory); in parts of ` +
        `${runChars.toLocaleString('en-US')} characters: ${f('partsUs')} µs and ${f('partsFaults', 1)} faults. ` +
        `The time saved per page fault saved: about ${f('faultUs', 1)} µs here.\n`,
    );
  }
  const [decoded] = await runScript('./decode-check.ts', ['500']);
  if (decoded === undefined || decoded.error !== undefined) {
    console.log(
      `The frame's decode and check alone (bench/decode-check.ts): failed: ${decoded?.error ?? 'no measurement'}\n`,
    );
  } else {
    const us = (key: string) => Number(decoded[key]);
    console.log(
      "The frame's decode and check alone (bench/decode-check.ts), per event of an `ingest` call of 1,000, in " +
        `process: \`JSON.parse\` ${us('parseUs').toFixed(2)} µs, the transformer's decode ${us('decodeUs').toFixed(2)}, ` +
        `the procedure's input check ${us('checkUs').toFixed(2)} (zod's own parse of its schema: ` +
        `${us('zodUs').toFixed(2)}): ` +
        `${(us('parseUs') + us('decodeUs') + us('checkUs')).toFixed(2)} µs that a server's thread spends on every ` +
        `event before its store sees it (the raw loop's own work: ${engine.toFixed(1)} µs).\n`,
    );
  }
  const alone = await clientsAlone(repeats, counts);
  console.log(
    'The clients alone: each case against a server that answers every call at once and stores nothing ' +
      '(bench/answer-server.ts), the most each client can send:',
  );
  console.log('| path | events/s | × raw batched | client CPU µs/event | client cores busy |');
  console.log('|---|---|---|---|---|');
  for (const [mode, row] of Object.entries(alone)) {
    const rate = row.errors.length > 0 ? `failed: ${row.errors[0] ?? ''}` : rateCell(row.rates);
    const busy = (median(row.clientCpu) * median(row.rates)) / 1e6;
    console.log(
      `| ${ingestLabels[mode] ?? mode} | ${rate} | ${(median(row.rates) / median(raw)).toFixed(2)} | ` +
        `${cell(row.clientCpu)} | ${busy.toFixed(2)} |`,
    );
  }
  console.log('');
  console.log(
    "The storing floor: each judged case's client against the least a server does that stores every event before " +
      "it answers (bench/answer-server.ts with SQLite: the frame parsed, each event inserted by the raw loop's own " +
      'statement, the calls that arrive while a commit is in flight in the next one, of up to ' +
      `${groupEvents} events as Switchboard's group commit, the WAL synced off the event loop as Switchboard's ` +
      'store does, no validation, state or envelopes), run just after the raw loop beside the case:',
  );
  console.log(
    '| path | events/s | × the raw loop beside it | × Switchboard | floor server CPU µs/event | its core busy | client CPU µs/event |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const [mode, row] of Object.entries(rows)) {
    if (row.floor.length === 0) continue;
    const times = `${median(row.floorPaired).toFixed(2)}${spread(row.floorPaired, 2)}`;
    const busy = (median(row.floorCpu) * median(row.floor)) / 1e6;
    console.log(
      `| ${ingestLabels[mode] ?? mode} | ${rateCell(row.floor)} | ${times} | ` +
        `${(median(row.floorPaired) / median(row.paired)).toFixed(2)} | ${cell(row.floorCpu)} | ${busy.toFixed(2)} | ` +
        `${cell(row.floorClientCpu)} |`,
    );
  }
  console.log('');
  /** The raw loop's own CPU per event with the Publisher's keys: what its events cost the engine at the least. */
  const keyedEngine = median(rows['raw-batch-keys']?.engineCpu ?? []);
  for (const [mode, label, bound] of judgedSqlite) {
    const row = rows[mode];
    const client = median(row?.clientCpu ?? []);
    // Each repeat's case against the raw loop run just before it (bench/ingest.ts): the median of those ratios.
    const beside = row?.pairedRaw ?? [];
    const rate = bound * median(beside);
    const measured = median(row?.rates ?? []);
    const keyed = mode === 'publisher' && Number.isFinite(keyedEngine);
    goals.push({
      goal: `ingest SQLite: ${label} ≥ ${bound}× the raw batched loop`,
      measured:
        row?.errors.length === 0
          ? `${perSecond(row.rates)} vs ${perSecond(beside)} (the raw loop run just before each repeat of it; ` +
            `${perSecond(raw)} at the start of each repeat)`
          : `refused: ${row?.errors[0] ?? '?'}`,
      value: median(row?.paired ?? []),
      target: { op: '≥', bound },
      // The client process as measured, the most the client sends against a server that answers at once, or
      // the client with the raw loop's own work for each event (storing it).
      floor: binding(
        floorAt(rate, measured, 1, [['the client process', client]]),
        ceilingAt(rate, median(alone[mode]?.rates ?? []), mode === 'publisher' ? 'the Publisher' : 'the client'),
        floorAt(rate, measured, cores, [
          ['the client', client],
          keyed ? ["the raw loop with the Publisher's keys", keyedEngine] : ['the raw loop', engine],
        ]),
        storingFloorAt(
          bound / median(row?.floorPaired ?? []),
          `${median(row?.floorPaired ?? []).toFixed(2)}× the raw loop beside it (${perSecond(row?.floor ?? [])})`,
          median(row?.floorPaired ?? []) < median(row?.paired ?? []),
        ),
      ),
    });
  }
  const before = rows['raw-batch-before']?.rates;
  if (before) {
    goals.push({
      goal: 'ingest SQLite: the raw batched loop cheaper on this schema than on the one before',
      measured: `${perSecond(raw)} vs ${perSecond(before)}`,
      value: ratio(raw, before),
      target: { op: '≥', bound: 1.0 },
    });
  }
  const refused = Object.entries(rows).filter(([, row]) => row.errors.length > 0);
  goals.push({
    goal: 'defaults: no default limit refuses one orchestrator its ingest',
    measured:
      refused.length === 0 ? 'no call refused at the defaults' : `${refused.map(([m]) => m).join(', ')} refused`,
    value: refused.length,
    target: { op: '≤', bound: 0 },
    shown: String(refused.length),
  });

  const missing = await enginesReachable();
  if (missing !== undefined) {
    console.log(`PostgreSQL ingest skipped: ${missing}.\n`);
    return;
  }
  process.stderr.write('  ingest, PostgreSQL…\n');
  const pg = await postgresIngest(repeats, counts);
  const pgRows = Object.fromEntries(Object.entries(pg.rows).map(([mode, row]) => [`pg ${mode}`, row]));
  const batched = ['pg raw-batch', 'pg raw-multirow', 'pg raw-unnest', 'pg raw-json'];
  const fastest = batched.reduce((a, b) => (median(pgRows[a]?.rates ?? []) >= median(pgRows[b]?.rates ?? []) ? a : b));
  const pgRaw = pgRows[fastest]?.rates ?? [];
  ingestTable(
    'Ingest, PostgreSQL (a node on Redis, two for the last row; ratios to the fastest raw batched insert)',
    pgRows,
    median(pgRaw),
    pg.serverCpu,
  );
  const engineOf = (mode: string) => cell(pgRows[mode]?.engineCpu ?? []);
  const commitsOf = (mode: string) => {
    const commits = pgRows[mode]?.commits ?? [];
    const shares = commits.map((c) => c.share);
    return (
      `${median(shares).toFixed(2)}${spread(shares, 2)} commits in flight on average, each ` +
      `${cell(commits.map((c) => c.wallPerEvent))} µs per event`
    );
  };
  console.log(
    `PostgreSQL's own CPU per event (its processes, from /proc): ${engineOf(fastest)} µs in the fastest raw insert, ` +
      `${engineOf('pg node-batch2')} under the node's \`publishBatch\` two in flight and ` +
      `${engineOf('pg node-ingest')} under its \`ingest\`. The node's commits (each batch of 1,000 a commit of its ` +
      `own, timed from when it went to PostgreSQL, where it waits for the head row until the one before it ends, ` +
      `to its answer; over 1 in flight on average says the next one was waiting): \`publishBatch\` two in flight ` +
      `${commitsOf('pg node-batch2')}, \`ingest\` ${commitsOf('pg node-ingest')}.\n`,
  );
  const floorOf = (mode: string) => {
    const floor = pgRows[mode]?.floor ?? [];
    const cpu = pgRows[mode]?.floorCpu ?? [];
    return (
      `${rateCell(floor)} (${(median(floor) / median(pgRaw)).toFixed(2)}× the fastest raw insert; the floor ` +
      `${cell(cpu)} µs of CPU per event, ${((median(cpu) * median(floor)) / 1e6).toFixed(2)} of a core busy)`
    );
  };
  console.log(
    'The storing floor on PostgreSQL, with the same clients (bench/answer-server.ts: the calls that arrive while ' +
      `the commits are in flight stored in the next one of up to ${groupEvents} events by the fastest raw ` +
      'insert, up to two statements at once on two connections and in no global order, no validation, state or ' +
      "envelopes), after the node's cases: " +
      `\`publish\` 64 in flight ${floorOf('pg node-publish')}, \`publishBatch\` two in flight ` +
      `${floorOf('pg node-batch2')}, \`ingest\` ${floorOf('pg node-ingest')}.\n`,
  );
  const nodePublish = pgRows['pg node-publish']?.rates ?? [];
  // Two in flight, as the SQLite goal's row: the node stores one batch while the client encodes the next.
  const nodeBatch = pgRows['pg node-batch2']?.rates ?? [];
  const nodeIngest = pgRows['pg node-ingest']?.rates ?? [];
  // The load client's process, the most the same client sends against a server that answers at once (the SQLite
  // cases' clients alone: the same load.ts mode, the same calls), and the client with PostgreSQL's own CPU.
  const pgFloor = (mode: string, clientMode: string, rate: number) => {
    const client = median(pgRows[mode]?.clientCpu ?? []);
    const measured = median(pgRows[mode]?.rates ?? []);
    return binding(
      floorAt(rate, measured, 1, [['the client process', client]]),
      ceilingAt(rate, median(alone[clientMode]?.rates ?? []), 'the client'),
      floorAt(rate, measured, cores, [
        ['the client', client],
        ['PostgreSQL', median(pgRows[mode]?.engineCpu ?? [])],
      ]),
      storingFloorAt(
        rate / median(pgRows[mode]?.floor ?? []),
        perSecond(pgRows[mode]?.floor ?? []),
        median(pgRows[mode]?.floor ?? []) < measured,
      ),
    );
  };
  const twoNodes = pgRows['pg two-nodes']?.rates ?? [];
  goals.push(
    {
      goal: 'ingest PostgreSQL: pipelined `publish` ≥ 10k/s per node',
      measured: perSecond(nodePublish),
      value: median(nodePublish),
      target: { op: '≥', bound: 10_000 },
      shown: perSecond(nodePublish),
      floor: pgFloor('pg node-publish', 'publish', 10_000),
    },
    {
      goal: 'ingest PostgreSQL: `publishBatch` of 1,000 (two in flight) ≥ 0.8× the fastest raw batched insert',
      measured: `${perSecond(nodeBatch)} vs ${perSecond(pgRaw)} (${ingestLabels[fastest] ?? fastest})`,
      value: ratio(nodeBatch, pgRaw),
      target: { op: '≥', bound: 0.8 },
      floor: pgFloor('pg node-batch2', 'batch2', 0.8 * median(pgRaw)),
    },
    {
      goal: 'ingest PostgreSQL: `ingest` (ids only) of 1,000 (two in flight) ≥ 0.8× the fastest raw batched insert',
      measured: `${perSecond(nodeIngest)} vs ${perSecond(pgRaw)}`,
      value: ratio(nodeIngest, pgRaw),
      target: { op: '≥', bound: 0.8 },
      floor: pgFloor('pg node-ingest', 'ingest2', 0.8 * median(pgRaw)),
    },
    {
      goal: 'ingest PostgreSQL: two nodes publishing at once (aggregate; the head row is the ceiling)',
      measured: `${perSecond(twoNodes)} vs ${perSecond(nodePublish)} on one`,
      value: ratio(twoNodes, nodePublish),
    },
  );
}

function replayTable(rows: ReplayRows): void {
  console.log(
    `Replay: \`events\` from \`lastEventId: "0"\`, ${backlog.toLocaleString('en-US')} behind, default limits`,
  );
  console.log(
    '| store and transport | events/s | server CPU µs/event | client CPU µs/event | PostgreSQL CPU µs/event | cores busy at that rate | cut as slow consumers |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, row] of Object.entries(rows)) {
    const rate = row.errors.length > 0 ? `failed: ${row.errors[0] ?? ''}` : rateCell(row.rates);
    const client = row.clientCpu.length > 0 ? cell(row.clientCpu) : '–';
    const engine = row.engineCpu.length > 0 ? cell(row.engineCpu) : '–';
    // Every process's CPU per event times the rate: how much of the machine's cores the replay kept busy.
    const perEvent =
      median(row.serverCpu) + median(row.clientCpu) + (row.engineCpu.length > 0 ? median(row.engineCpu) : 0);
    const busy = row.errors.length > 0 ? '–' : ((perEvent * median(row.rates)) / 1e6).toFixed(2);
    console.log(`| ${name} | ${rate} | ${cell(row.serverCpu)} | ${client} | ${engine} | ${busy} | ${row.cut} |`);
  }
  console.log('');
  for (const [name, row] of Object.entries(rows)) {
    goals.push({
      goal: `replay ${name}: ≥ 100k events/s, never cut as a slow consumer`,
      measured: row.errors.length > 0 ? `failed: ${row.errors[0]}` : `${perSecond(row.rates)}, cut ${row.cut}×`,
      value: row.cut > 0 ? 0 : median(row.rates),
      target: { op: '≥', bound: 100_000 },
      shown: perSecond(row.rates),
      floor: binding(
        floorAt(100_000, median(row.rates), 1, [['the client process', median(row.clientCpu)]]),
        row.engineCpu.length > 0
          ? floorAt(100_000, median(row.rates), cores, [
              ['the client', median(row.clientCpu)],
              ['PostgreSQL', median(row.engineCpu)],
            ])
          : undefined,
      ),
    });
  }
}

async function replay(): Promise<void> {
  process.stderr.write('  replay, SQLite…\n');
  const rows = await sqliteReplay(durability, repeats, backlog);
  const missing = await enginesReachable();
  if (missing === undefined) {
    process.stderr.write('  replay, PostgreSQL…\n');
    Object.assign(rows, await postgresReplay(repeats, backlog));
  } else {
    console.log(`PostgreSQL replay skipped: ${missing}.\n`);
  }
  replayTable(rows);
}

const startedAt = performance.now();

async function main(): Promise<void> {
  if (only?.includes('patterns')) {
    await runPatterns();
    return;
  }
  if (only?.includes('soak')) {
    const pass = await runSoak({ minutes: Number(flag('--minutes') ?? 2), seed: Number(flag('--seed') ?? 1) });
    if (!pass) process.exitCode = 1;
    return;
  }
  const clusterOnly = only?.length === 1 && only[0] === 'cluster';
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const load = () =>
    loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  console.log(
    `Switchboard bench · ${cpus().length} × ${cpu} · ${(totalmem() / 2 ** 30).toFixed(0)} GiB · Node ${process.version} · SQLite synchronous=${durability.toUpperCase()}`,
  );
  console.log(
    `${repeats} repeat(s) per case; median, with (min–max) across repeats. Load average at start: ${load()}\n`,
  );

  if (!clusterOnly && (cases.has('fanout') || cases.has('latency'))) {
    for (const n of sizes) {
      const results = new Map<Variant, FanOutResult>();
      for (const variant of fanOutVariants) {
        process.stderr.write(`  fan-out and latency, N=${n}, ${variant}…\n`);
        results.set(
          variant,
          await fanOut(variant, n, {
            repeats,
            saturation: cases.has('fanout'),
            latency: cases.has('latency'),
            durability,
          }),
        );
      }
      if (cases.has('latency') && durability === 'full' && results.has('switchboard')) {
        process.stderr.write(`  latency, N=${n}, switchboard at durability normal…\n`);
        atNormal.set(
          n,
          await fanOut('switchboard', n, {
            repeats,
            saturation: false,
            latency: true,
            durability: 'normal',
            trace: false,
          }),
        );
        process.stderr.write(`  latency, N=${n}, switchboard published on a plain socket…\n`);
        plainPublisher.set(
          n,
          await fanOut('switchboard', n, {
            repeats,
            saturation: false,
            latency: true,
            durability,
            trace: false,
            publisher: 'plain',
          }),
        );
        process.stderr.write(`  latency, N=${n}, the floor (raw ws, fed from another process, stored durably)…\n`);
        const floorRun: FanOutOptions = { repeats, saturation: false, latency: true, durability, trace: false };
        durableFloor.set(n, await fanOut('ws-durable', n, floorRun));
        // To Switchboard's client at saturation too: the least server CPU per delivery on Switchboard's path.
        typedFloor.set(n, await fanOut('ws-durable-trpc', n, { ...floorRun, saturation: cases.has('fanout') }));
        if (!fsyncMs) {
          const [disk] = await runScript('./fsync.ts', ['300']);
          if (disk && disk.error === undefined) fsyncMs = { p50: Number(disk.p50), p99: Number(disk.p99) };
        }
        if (!roundTrip) {
          const [hop] = await runScript('./round-trip.ts', ['1000']);
          if (hop && hop.error === undefined)
            roundTrip = {
              p50: Number(hop.p50),
              p99: Number(hop.p99),
              cpuMicros: Number(hop.cpuMicros),
              wakeMicros: Number(hop.wakeMicros),
            };
        }
      }
      if (cases.has('fanout') && results.has('switchboard') && results.has('ws')) {
        process.stderr.write(`  fan-out, N=${n}, switchboard to raw ws's kind of subscriber…\n`);
        toPlainSubscribers.set(
          n,
          await fanOut('switchboard', n, {
            repeats,
            saturation: true,
            latency: false,
            durability,
            subscribers: 'plain',
          }),
        );
        if (!typedFloor.get(n)?.rate.length) {
          process.stderr.write(`  fan-out, N=${n}, the floor to Switchboard's client (raw ws, stored durably)…\n`);
          typedFloor.set(
            n,
            await fanOut('ws-durable-trpc', n, { repeats, saturation: true, latency: false, durability, trace: false }),
          );
        }
      }
      fanOutTables(n, results);
      fanOutGoals(n, results);
    }
  }
  if (!clusterOnly && cases.has('ingest')) await ingest();
  if (!clusterOnly && cases.has('replay')) await replay();
  if (runCluster) {
    const missing = await enginesReachable();
    // The full run goes on without the engines; asking for the cluster cases alone and getting none is an error.
    if (missing === undefined) await clusterCases(repeats);
    else if (clusterOnly) throw new Error(`--only cluster: ${missing}`);
    else console.log(`Cluster cases skipped: ${missing}.\n`);
  }
  printGoals(goals);
  console.log(
    `Load average at end: ${load()}; the run took ${((performance.now() - startedAt) / 60_000).toFixed(1)} min`,
  );
}

await main();
