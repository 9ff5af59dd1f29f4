/**
 * Ingest: how fast events get stored, next to the storage engine alone on the same schema.
 *
 * - SQLite: better-sqlite3 inserting the rows with nothing around it (bench/raw-insert.ts, on this schema and on
 *   the schema before issue #21's changes), then a real server with its default limits and the given durability,
 *   fed from another process (bench/load.ts): `publish` with 64 in flight, `publishBatch` and `ingest` (its ids
 *   only) of 1,000, the Publisher, and `POST /ingest` NDJSON, each case on a fresh server whose table, like the
 *   raw loop's, holds the warm-up's events when it starts.
 * - PostgreSQL (when reachable): raw `pg` inserts and the store in process (bench/pg-ingest.ts), then nodes as a
 *   deployment runs them, on Redis: `publish` with 64 in flight, `publishBatch` (one, then two in flight) and
 *   `ingest` (two in flight) through a node alone, then `publish` through two nodes at once.
 * Every server first takes a short warm-up, not recorded (`warmUp`): the same calls, or for a SQLite case the
 * common calls with that case's own in their last part.
 */
import { checkpoint, postgresCpuMicros, startCluster } from './cluster.js';
import { type Measured, next, runScript, start, stop } from './ipc.js';
import { pgUrl } from '../test/engine-addresses.js';
import { metricOf } from './shared.js';

/**
 * Samples per row, one per repeat; a refused run records its error instead. `engineCpu`: the storage engine's
 * CPU per event (a raw loop's own process; PostgreSQL's processes during a node's case).
 */
export type Rows = Record<
  string,
  {
    rates: number[];
    clientCpu: number[];
    engineCpu: number[];
    commits: Commits[];
    /** A SQLite case's rate over the raw batched loop's, run just before it: one per repeat (see `sqliteIngest`). */
    paired: number[];
    /** Those raw loops' rates. */
    pairedRaw: number[];
    /**
     * The storing floor's rate with this case's client (bench/answer-server.ts with a store), run beside the case:
     * for SQLite just after its raw loop, for PostgreSQL after the node's cases. One per repeat.
     */
    floor: number[];
    /** A SQLite case's storing floor over the raw loop run just before it, one per repeat. */
    floorPaired: number[];
    /** The storing floor's CPU per event (µs) and the client's there, one per repeat. */
    floorCpu: number[];
    floorClientCpu: number[];
    errors: string[];
  }
>;

/**
 * A node's commits over one case of 1,000-event batches (each batch a group of its own: `maxGroupEvents`), from
 * its `switchboard_publish_seconds`, which times each commit from when it went to the store to its answer:
 * `share`, the commits in flight on average over the case (their times' sum over the case's; a commit goes to
 * PostgreSQL once the one before it holds the head row and waits there until that one ends, so 1 or more says the
 * store's commits were what the case waited on, over 1 that the next was already waiting); `wallPerEvent`, a
 * commit's time per event in µs, its wait included.
 */
export interface Commits {
  share: number;
  wallPerEvent: number;
}

function rowOf(rows: Rows, as: string): Rows[string] {
  return (rows[as] ??= {
    rates: [],
    clientCpu: [],
    engineCpu: [],
    commits: [],
    paired: [],
    pairedRaw: [],
    floor: [],
    floorPaired: [],
    floorCpu: [],
    floorClientCpu: [],
    errors: [],
  });
}

function add(rows: Rows, measured: Measured, as = measured.mode, commits?: Commits): void {
  const row = rowOf(rows, as);
  if (measured.error !== undefined) row.errors.push(measured.error);
  else if (typeof measured.retried === 'number' && measured.retried > 0)
    row.errors.push(`${measured.retried} events retried: the server refused or lost a batch`);
  else {
    row.rates.push(measured.perSecond ?? NaN);
    if (measured.clientCpuPerEvent !== undefined) row.clientCpu.push(measured.clientCpuPerEvent);
    if (typeof measured.engineCpuPerEvent === 'number') row.engineCpu.push(measured.engineCpuPerEvent);
    if (commits) row.commits.push(commits);
  }
}

/** The sum of a node's `switchboard_publish_seconds` so far: its commits' time, in seconds. */
const commitSeconds = (port: string) => metricOf(port, 'switchboard_publish_seconds_sum');

const cpuOf = async (child: ReturnType<typeof start>): Promise<number> => {
  child.send({ cmd: 'stats' });
  return next<number>(child, 'cpuMicros');
};

export interface IngestCounts {
  singles: number;
  batched: number;
}

/** Server CPU µs per event, per row, alongside the rates. */
export type ServerCpu = Record<string, number[]>;

/**
 * A server's first calls run before its JIT has compiled their path: fresh from their start, a node spent 105 µs
 * of CPU on each of its first 10,000 `publish` calls and a SQLite server 118–123, where later runs of the same
 * calls took 48–88 and 63–68 (measured, 2026-12-06). Every server of the ingest cases first takes these, not
 * recorded, so the cases measure it as it runs for real.
 */
const warmUpCases: [mode: string, count: string][] = [
  ['publish', '20000'],
  ['batch2', '20000'],
  ['ingest2', '20000'],
];
/** The events the warm-up stores: the rows a server's table holds when its case starts. */
const warmUpEvents = warmUpCases.reduce((sum, [, count]) => sum + Number(count), 0);

/**
 * The warm-up of a server for one case (`mode`): a case whose calls the common warm-up does not make (the
 * Publisher's, whose `ingest` calls go `after` a key, `POST /ingest`'s, and `publishBatch` one in flight) makes
 * them in the last part's place, so that the case runs on a compiled path and every case's table holds the same
 * `warmUpEvents` rows. One that fails is said on stderr and the case runs anyway (a limit shows in its row).
 */
async function warmUp(port: string, mode?: string): Promise<void> {
  const own = mode !== undefined && !warmUpCases.some(([common]) => common === mode);
  const last = warmUpCases.length - 1;
  const parts = warmUpCases.map(([common, count], i): [string, string] => [own && i === last ? mode : common, count]);
  for (const [part, count] of parts) {
    const [measured] = await runScript('./load.ts', [part, port, count]);
    if (measured?.error !== undefined) process.stderr.write(`  the warm-up's ${part} failed: ${measured.error}\n`);
  }
}

/** The SQLite cases: load.ts's mode and its count of events. */
const sqliteCases = (counts: IngestCounts): [string, string][] => [
  ['publish', String(counts.singles)],
  ['batch', String(counts.batched)],
  ['batch2', String(counts.batched)],
  ['ingest2', String(counts.batched)],
  ['publisher', String(counts.batched / 2)],
  ['ndjson', String(counts.batched / 2)],
  ['ndjson2', String(counts.batched / 2)],
];

/** The SQLite cases; those in `judged` (the goals' cases, bench/run.ts) also run against the storing floor. */
export async function sqliteIngest(
  durability: 'full' | 'normal',
  repeats: number,
  counts: IngestCounts,
  judged: ReadonlySet<string>,
): Promise<{ rows: Rows; serverCpu: ServerCpu }> {
  const rows: Rows = {};
  const serverCpu: ServerCpu = {};
  for (let r = 0; r < repeats; r++) {
    // With an fsync per commit, one-event transactions are slow: fewer of them keep the run short.
    const singles = durability === 'full' ? counts.singles / 10 : counts.singles;
    const rawArgs = [durability, String(singles), String(warmUpEvents)];
    for (const measured of await runScript('./raw-insert.ts', rawArgs)) add(rows, measured);
    // A server of its own for each case, with the server's default limits as an orchestrator meets them (a limit
    // that caps ingest shows up here): each case then starts on a table of the warm-up's events, as the raw loop
    // does, rather than on what the cases before it stored, and each case's own compile is not in its figures.
    for (const [mode, count] of sqliteCases(counts)) {
      const server = start('./servers.ts', ['switchboard'], { BENCH_DURABILITY: durability });
      try {
        const port = String(await next<number>(server, 'port'));
        await warmUp(port, mode);
        // The raw loop again, just before the case and with its server idle: on a machine whose speed moves by a
        // third within minutes (a virtual machine's host), a ratio to a loop timed minutes earlier measures that as
        // much as the case, where a ratio to the loop run beside it does not.
        const [raw] = await runScript('./raw-insert.ts', [...rawArgs, 'batch-only']);
        if (judged.has(mode) && raw?.perSecond !== undefined) {
          const row = rowOf(rows, mode);
          if (await storingFloor(['sqlite', String(warmUpEvents)], mode, count, row))
            row.floorPaired.push((row.floor.at(-1) ?? NaN) / raw.perSecond);
        }
        const before = await cpuOf(server);
        const [measured] = await runScript('./load.ts', [mode, port, count]);
        const after = await cpuOf(server);
        if (measured) {
          const recorded = rows[mode]?.rates.length ?? 0;
          add(rows, measured);
          const row = rows[mode];
          if (row && row.rates.length > recorded && raw?.perSecond !== undefined) {
            row.paired.push((measured.perSecond ?? NaN) / raw.perSecond);
            row.pairedRaw.push(raw.perSecond);
          }
        }
        (serverCpu[mode] ??= []).push((after - before) / Number(count));
      } finally {
        await stop(server);
      }
    }
  }
  return { rows, serverCpu };
}

/**
 * The clients alone: each SQLite case's load against bench/answer-server.ts, which answers every call at once
 * and stores nothing, so the client runs as fast as it can. Its rate there is the most it can send whatever the
 * server does, and its CPU per event its floor.
 */
export async function clientsAlone(repeats: number, counts: IngestCounts): Promise<Rows> {
  const rows: Rows = {};
  for (let r = 0; r < repeats; r++) {
    const server = start('./answer-server.ts', []);
    try {
      const port = String(await next<number>(server, 'port'));
      for (const [mode, count] of sqliteCases(counts)) {
        for (const measured of await runScript('./load.ts', [mode, port, count])) add(rows, measured);
      }
    } finally {
      await stop(server);
    }
  }
  return rows;
}

/**
 * One case's client (load.ts `mode`) against the storing floor (bench/answer-server.ts with a store: `args`), on a
 * table of the warm-up's events, into `row`; false when it failed (said on stderr).
 */
async function storingFloor(args: string[], mode: string, count: string, row: Rows[string]): Promise<boolean> {
  const server = start('./answer-server.ts', args);
  try {
    const port = String(await next<number>(server, 'port'));
    if (args[0] === 'postgres') await checkpoint();
    const before = await cpuOf(server);
    const [measured] = await runScript('./load.ts', [mode, port, count]);
    const after = await cpuOf(server);
    if (measured?.perSecond === undefined || measured.error !== undefined) {
      process.stderr.write(`  the storing floor's ${mode} failed: ${measured?.error ?? 'no measurement'}\n`);
      return false;
    }
    row.floor.push(measured.perSecond);
    row.floorCpu.push((after - before) / Number(count));
    row.floorClientCpu.push(measured.clientCpuPerEvent ?? NaN);
    return true;
  } finally {
    await stop(server);
  }
}

export async function postgresIngest(
  repeats: number,
  counts: IngestCounts,
): Promise<{ rows: Rows; serverCpu: ServerCpu }> {
  const rows: Rows = {};
  const serverCpu: ServerCpu = {};
  for (let r = 0; r < repeats; r++) {
    for (const measured of await runScript('./pg-ingest.ts', [pgUrl, String(counts.singles / 4)])) add(rows, measured);
    // One node for the cases of one node: a second one on these two cores would decode every message of the
    // first on the bus (3–9 µs of CPU per event, measured) and take it from the node measured, where a deployment
    // runs it on a machine of its own. It still publishes each commit on Redis and takes its own message back.
    const cluster = await startCluster(1);
    try {
      const [first] = cluster.nodes;
      if (first === undefined) throw new Error('the node did not start');
      const port = String(first.port);
      await warmUp(port);
      for (const [mode, as, count] of [
        ['publish', 'node-publish', counts.singles],
        ['batch', 'node-batch', counts.batched / 2],
        ['batch2', 'node-batch2', counts.batched / 2],
        ['ingest2', 'node-ingest', counts.batched / 2],
      ] as const) {
        await checkpoint();
        const before = first.cpuMicros();
        const engineBefore = postgresCpuMicros();
        const commitsBefore = await commitSeconds(port);
        for (const measured of await runScript('./load.ts', [mode, port, String(count)])) {
          const after = await commitSeconds(port);
          // Single `publish` calls share their groups, each timed once per call: only the batch cases say this.
          const seconds = after - commitsBefore;
          const commits =
            mode === 'publish' || measured.perSecond === undefined
              ? undefined
              : { share: (seconds * measured.perSecond) / count, wallPerEvent: (seconds * 1e6) / count };
          add(rows, { ...measured, engineCpuPerEvent: (postgresCpuMicros() - engineBefore) / count }, as, commits);
        }
        (serverCpu[as] ??= []).push((first.cpuMicros() - before) / count);
      }
    } finally {
      await cluster.stop();
    }
    // The same clients against the storing floor on PostgreSQL, once the node is gone.
    for (const [mode, as, count] of [
      ['publish', 'node-publish', counts.singles],
      ['batch2', 'node-batch2', counts.batched / 2],
      ['ingest2', 'node-ingest', counts.batched / 2],
    ] as const) {
      await storingFloor(['postgres', pgUrl, String(warmUpEvents)], mode, String(count), rowOf(rows, as));
    }
    const pair = await startCluster(2);
    try {
      const [a, b] = pair.nodes.map((node) => String(node.port));
      if (a === undefined || b === undefined) throw new Error('two nodes did not start');
      await Promise.allSettled([warmUp(a), warmUp(b)]);
      await checkpoint();
      // Both nodes at once: the aggregate is bound by the one row every append locks (store_meta's head).
      const both = await Promise.all([
        runScript('./load.ts', ['publish', a, String(counts.singles)]),
        runScript('./load.ts', ['publish', b, String(counts.singles)]),
      ]);
      const [one, two] = both.map((m) => m[0]);
      if (one && two) {
        const error = one.error ?? two.error;
        add(
          rows,
          error === undefined
            ? { mode: 'two-nodes', perSecond: (one.perSecond ?? NaN) + (two.perSecond ?? NaN) }
            : { mode: 'two-nodes', error },
        );
      }
    } finally {
      await pair.stop();
    }
  }
  return { rows, serverCpu };
}
