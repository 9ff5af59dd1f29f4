/**
 * The soak (`npm run bench -- --only soak --minutes N [--seed S]`): three real server processes on PostgreSQL
 * and Redis (a schema and channel of their own), each reaching both engines through its own fault proxy
 * (test/fault-proxy.ts); a Publisher and two subscribers on every node; and for N minutes a seeded schedule of
 * faults, one at a time: a node SIGKILLed and restarted on its port, latency, connection resets and black holes
 * on one node's PostgreSQL or Redis link, every node's Redis connections killed (CLIENT KILL), every node's
 * PostgreSQL backends terminated (pg_terminate_backend). Then everything heals and a checker reads every
 * subscriber's history against the store: events committed, faults injected, lost, duplicated, out of order,
 * and the longest time from a fault's heal until every subscriber had everything committed before it.
 * Not part of the test suite; loopback only, every wait bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import pg from 'pg';
import { createClient } from 'redis';
import WebSocket from 'ws';
import { createPublisher, createSwitchboardClient, type Publisher, type SwitchboardClient } from '../client/index.js';
import type { PublishInput } from '@switchboard/shared';
import { random } from '../client/cli/demo-traffic.js';
import { quoteIdent } from '../server/store/postgres-open.js';
import { startFaultProxy, type FaultProxy } from '../test/fault-proxy.js';
import { pgUrl, redisUrl } from '../test/engine-addresses.js';
import { here, waitLimitMs } from './ipc.js';
import { nodeName } from '../server/topology.js';

export interface SoakOptions {
  minutes: number;
  seed: number;
}

const nodeCount = 3;
const subscribersPerNode = 2;
/** Events each Publisher offers per second (in ticks of 100 ms). */
const ratePerPublisher = 50;
/** How long a node waits on a silent PostgreSQL link; short, so black holes of a few seconds cross it. */
const pgTimeoutMs = 3_000;
const headCheckMs = 500;

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `done` every 50 ms for at most `limitMs`; says whether it became true. */
async function until(done: () => boolean | Promise<boolean>, limitMs = waitLimitMs): Promise<boolean> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    if (await done()) return true;
    await wait(50);
  }
  return false;
}

/** The URL of an engine reached through `proxy`. */
function via(proxy: FaultProxy, url: string): string {
  const u = new URL(url);
  u.port = String(proxy.port);
  return u.toString();
}

/** One server process, restartable on the port it first got, its engine links through its own proxies. */
class SoakNode {
  port = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly index: number,
    readonly pgLink: FaultProxy,
    readonly redisLink: FaultProxy,
    private readonly name: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        here('../server/entry/main.ts'),
        ...['--port', String(this.port), '--db', via(this.pgLink, pgUrl), '--pg-schema', this.name],
        ...['--bus-channel', this.name, '--redis-url', via(this.redisLink, redisUrl)],
        ...['--pg-timeout-ms', String(pgTimeoutMs), '--head-check-ms', String(headCheckMs)],
        ...['--durability', 'normal', '--log-level', 'error'],
      ],
      { env: { ...process.env, SWITCHBOARD_PUBLISH_RATE: '100000' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        resolve();
      });
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err = (err + chunk.toString()).slice(-2_000)));
    const listening = await until(() => /listening on http:\/\/\S+ /.test(out) || child.exitCode !== null);
    const url = /listening on (http:\/\/\S+) /.exec(out)?.[1];
    if (!listening || url === undefined) throw new Error(`node ${this.index} did not start: ${err}`);
    this.port = Number(new URL(url).port);
  }

  async kill(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
  }
}

interface Subscriber {
  node: number;
  ids: number[];
  client: SwitchboardClient;
  last: () => number;
}

type FaultKind =
  | 'node SIGKILL + restart'
  | 'latency on both links of a node'
  | 'PostgreSQL link reset'
  | 'Redis link reset'
  | 'PostgreSQL link black hole'
  | 'Redis link black hole'
  | 'Redis CLIENT KILL (every node)'
  | 'pg_terminate_backend (every node)';

const kinds: FaultKind[] = [
  'node SIGKILL + restart',
  'latency on both links of a node',
  'PostgreSQL link reset',
  'Redis link reset',
  'PostgreSQL link black hole',
  'Redis link black hole',
  'Redis CLIENT KILL (every node)',
  'pg_terminate_backend (every node)',
];

export async function runSoak({ minutes, seed }: SoakOptions): Promise<boolean> {
  const rand = random(seed);
  const between = (lo: number, hi: number) => Math.round(lo + rand() * (hi - lo));
  const name = `sb_soak_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  const redisAdmin = createClient({ url: redisUrl });
  await redisAdmin.connect();
  const nodes: SoakNode[] = [];
  const proxies: FaultProxy[] = [];
  const publishers: Publisher[] = [];
  const subscribers: Subscriber[] = [];
  const started = new Date();
  try {
    for (let i = 0; i < nodeCount; i++) {
      const pgLink = await startFaultProxy({ port: 5432 });
      const redisLink = await startFaultProxy({ port: 6379 });
      proxies.push(pgLink, redisLink);
      nodes.push(new SoakNode(i, pgLink, redisLink, name));
    }
    // The first node alone migrates the schema; the others find it done.
    for (const node of nodes) await node.start();
    const urls = nodes.map((node) => node.url);

    for (const node of nodes) {
      for (let s = 0; s < subscribersPerNode; s++) {
        // Its own node first; each reconnect moves on to the next node and resumes from the cursor.
        const order = urls.map((_, k) => urls[(node.index + k) % urls.length] ?? node.url);
        const client = createSwitchboardClient({ url: order, WebSocket, reconnect: { initialMs: 50, maxMs: 1_000 } });
        const ids: number[] = [];
        client.events.subscribe({ lastEventId: '0' }, { onData: ({ data }) => ids.push(Number(data.id)) });
        subscribers.push({ node: node.index, ids, client, last: () => ids.at(-1) ?? 0 });
      }
    }

    const keys: string[] = [];
    for (const node of nodes) {
      publishers.push(
        createPublisher({
          url: node.url,
          WebSocket,
          batchSize: 50,
          outboxLimit: 1_000_000,
          retry: { initialMs: 50, maxMs: 1_000 },
        }),
      );
    }
    const offering = { on: true };
    const offer = (async () => {
      let i = 0;
      while (offering.on) {
        for (const [lane, publisher] of publishers.entries()) {
          for (let k = 0; k < ratePerPublisher / 10; k++) {
            const key = `p${lane}-${i + k}`;
            const event: PublishInput = {
              type: 'agent.log',
              key,
              data: { agentId: `soak-${lane}`, level: 'info', message: key },
            };
            if (publisher.publish(event).accepted) keys.push(key);
          }
        }
        i += ratePerPublisher / 10;
        await wait(100);
      }
    })();

    const head = async () =>
      Number(
        (await admin.query<{ value: string }>(`SELECT value FROM ${quoteIdent(name)}.store_meta WHERE key = 'head'`))
          .rows[0]?.value ?? 0,
      );
    const injected = new Map<FaultKind, number>();
    const catchUps: Promise<void>[] = [];
    let longest = { ms: 0, after: 'none' };
    const unresolved: string[] = [];
    /** From a heal: how long until every subscriber has every event committed before it. */
    const measureCatchUp = async (what: string) => {
      const healed = performance.now();
      const target = await head();
      const ok = await until(() => subscribers.every((s) => s.last() >= target));
      const ms = performance.now() - healed;
      if (!ok) unresolved.push(`${what}: subscribers short of id ${target} after ${waitLimitMs} ms`);
      else if (ms > longest.ms) longest = { ms, after: what };
    };

    process.stderr.write(`  soak: ${minutes} min, seed ${seed}, schema ${name}\n`);
    const end = performance.now() + minutes * 60_000;
    while (performance.now() < end) {
      await wait(between(2_000, 6_000));
      const kind = kinds[Math.floor(rand() * kinds.length)] ?? 'PostgreSQL link reset';
      const node = nodes[Math.floor(rand() * nodes.length)] ?? nodes[0];
      if (node === undefined) break;
      const what = `${kind}${kind.includes('every node') ? '' : ` on node ${node.index}`}`;
      process.stderr.write(`  ${new Date().toISOString().slice(11, 19)} ${what}\n`);
      switch (kind) {
        case 'node SIGKILL + restart':
          await node.kill();
          await wait(between(200, 2_000));
          await node.start();
          break;
        case 'latency on both links of a node':
          node.pgLink.latency(between(10, 80));
          node.redisLink.latency(between(10, 80));
          await wait(between(3_000, 8_000));
          node.pgLink.heal();
          node.redisLink.heal();
          break;
        case 'PostgreSQL link reset':
          node.pgLink.reset();
          break;
        case 'Redis link reset':
          node.redisLink.reset();
          break;
        case 'PostgreSQL link black hole':
          node.pgLink.blackHole();
          await wait(between(1_000, 8_000));
          node.pgLink.heal();
          break;
        case 'Redis link black hole':
          node.redisLink.blackHole();
          await wait(between(2_000, 12_000));
          node.redisLink.heal();
          break;
        case 'Redis CLIENT KILL (every node)':
          for (const client of await redisAdmin.clientList()) {
            if (client.name === nodeName(name)) {
              await redisAdmin.sendCommand(['CLIENT', 'KILL', 'ID', String(client.id)]).catch(() => undefined);
            }
          }
          break;
        case 'pg_terminate_backend (every node)':
          await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
            nodeName(name),
          ]);
          break;
      }
      injected.set(kind, (injected.get(kind) ?? 0) + 1);
      catchUps.push(measureCatchUp(what));
    }

    // Everything healed; what was offered is flushed, and every subscriber reads up to the final head.
    for (const proxy of proxies) proxy.heal();
    offering.on = false;
    await offer;
    const unsent: number[] = [];
    for (const publisher of publishers) {
      await publisher.flush(waitLimitMs).catch(() => undefined);
      unsent.push(publisher.stats().queued);
    }
    await Promise.all(catchUps);
    const finalHead = await head();
    await until(() => subscribers.every((s) => s.last() >= finalHead));

    const stored = (
      await admin.query<{ id: string; key: string | null }>(
        `SELECT id, key FROM ${quoteIdent(name)}.events ORDER BY id`,
      )
    ).rows.map((row) => ({ id: Number(row.id), key: row.key }));
    const storedIds = new Set(stored.map((e) => e.id));
    const contiguous = stored.every((e, i) => e.id === i + 1);
    const storedKeys = new Map<string, number>();
    for (const e of stored) if (e.key !== null) storedKeys.set(e.key, (storedKeys.get(e.key) ?? 0) + 1);
    const acknowledged = publishers.reduce((sum, p) => sum + p.stats().sent, 0);
    const notStored = keys.filter((key) => !storedKeys.has(key)).length;
    const storedTwice = [...storedKeys.values()].filter((n) => n > 1).length;
    let lost = 0;
    let duplicated = 0;
    let disorder = 0;
    for (const s of subscribers) {
      const seen = new Set<number>();
      s.ids.forEach((id, i) => {
        if (seen.has(id)) duplicated++;
        seen.add(id);
        if (i > 0 && id <= (s.ids[i - 1] ?? 0)) disorder++;
      });
      for (const id of storedIds) if (!seen.has(id)) lost++;
    }
    const faults = [...injected.values()].reduce((a, b) => a + b, 0);
    const pass =
      lost === 0 &&
      duplicated === 0 &&
      disorder === 0 &&
      contiguous &&
      storedTwice === 0 &&
      notStored <= unsent.reduce((a, b) => a + b, 0) &&
      unresolved.length === 0;

    const n = (x: number) => x.toLocaleString('en-US');
    console.log(
      `Switchboard soak · ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC · ${cpus().length} × ` +
        `${cpus()[0]?.model ?? 'unknown CPU'} · ${(totalmem() / 2 ** 30).toFixed(0)} GiB · Node ${process.version}`,
    );
    console.log(
      `${minutes} min, seed ${seed}: ${nodeCount} nodes on PostgreSQL + Redis, every engine link through a fault ` +
        `proxy; ${publishers.length} Publishers (${ratePerPublisher} events/s each), ${subscribers.length} subscribers ` +
        `(${subscribersPerNode} per node, resuming from their cursor); --pg-timeout-ms ${pgTimeoutMs}, --head-check-ms ${headCheckMs}`,
    );
    console.log(`faults injected: ${n(faults)}`);
    for (const kind of kinds) console.log(`  ${kind}: ${n(injected.get(kind) ?? 0)}`);
    console.log(
      `events committed: ${n(stored.length)} (ids ${contiguous ? 'contiguous from 1' : 'NOT contiguous'}); ` +
        `offered ${n(keys.length)}, acknowledged ${n(acknowledged)}, still queued at the end ${n(unsent.reduce((a, b) => a + b, 0))}`,
    );
    console.log(`offered but not stored: ${n(notStored)}; stored twice under one key: ${n(storedTwice)}`);
    console.log(
      `subscriber histories (${subscribers.length}, ${n(subscribers.reduce((sum, s) => sum + s.ids.length, 0))} deliveries): ` +
        `lost ${n(lost)}, duplicated ${n(duplicated)}, out of order ${n(disorder)}`,
    );
    console.log(`longest delivery delay after a fault heals: ${n(Math.round(longest.ms))} ms (after ${longest.after})`);
    for (const line of unresolved) console.log(`NOT CAUGHT UP: ${line}`);
    console.log(`result: ${pass ? 'PASS' : 'FAIL'}`);
    return pass;
  } finally {
    for (const s of subscribers) await s.client.close().catch(() => undefined);
    for (const p of publishers) await p.close(1_000).catch(() => undefined);
    for (const node of nodes) await node.kill();
    for (const proxy of proxies) await proxy.close();
    await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(name)} CASCADE`).catch(() => undefined);
    await admin.end();
    await redisAdmin.close();
  }
}
