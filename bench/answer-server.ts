/**
 * A floor, not a server: answers every tRPC mutation at once, as Switchboard answers it (`publish`: one stored
 * envelope; `publishBatch`: one per event; `ingest`: their ids), and `POST /ingest` with its ids, from replies
 * encoded once, and does nothing else. Against it a client runs as fast as it can, so its CPU per event here is
 * what it spends whatever the server behind it does, and its rate here the most it can send.
 *
 * With a store it is **the storing floor**, the least a server does that stores every event before it answers:
 * each call's events, from its frame's `JSON.parse` (or each NDJSON line's), go into this project's `events` table
 * with the raw engine's own insert (bench/shared.ts: SQLite's in one transaction, its WAL synced off the event loop
 * as the server's store does; PostgreSQL's fastest raw batched insert, one statement), the calls that arrived while
 * the commits were in flight in one commit (group commit) of at most `limits.batchSize` events, as Switchboard's,
 * one commit at a time on SQLite and up to two at once on PostgreSQL, each call answered once its commit is
 * durable. No validation, no state, no envelopes, no ids read back. Its table first holds `startRows` events, as a
 * server's does when an ingest case starts after its warm-up.
 *
 * Usage: `answer-server.ts` · `answer-server.ts sqlite startRows` · `answer-server.ts postgres URL startRows`.
 * Protocol with the parent (IPC): → { port } once listening; ← { cmd: 'stats' } → { cpuMicros } (user + system since
 * the process started).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { WebSocketServer, type WebSocket } from 'ws';
import { ingestReply, limits, transformer, type ValidEvent } from '@switchboard/shared';
import { openDatabase, walToSync } from '../server/store/sqlite-db.js';
import { Checkpointer } from '../server/store/sqlite-checkpointer.js';
import { WalSync } from '../server/store/sqlite-wal-sync.js';
import { openPostgres, quoteIdent } from '../server/store/postgres-open.js';
import { textFrameStart } from '../server/transports/ws/socket-writer.js';
import {
  benchEnvelope,
  benchEvent,
  pgRawJsonInsert,
  sqliteRawInsert,
  sqliteRawInsertKeyed,
  sqliteRawRow,
  tempDir,
} from './shared.js';

const envelopes = (count: number) => Array.from({ length: count }, (_, i) => benchEnvelope(i));
const encoded = (value: unknown) => JSON.stringify(transformer.output.serialize(value));
const replies = new Map<string, Buffer>();
/**
 * The reply to `path` with `count` events in its input, encoded once per shape, as the bytes of a result reply
 * after its id: `"result":{"type":"data","data":…}}`. Each answer then writes only its id's few bytes besides
 * them, not the whole reply again (a `publishBatch` answer is some 300 KB).
 */
function replyTo(path: string, count: number): Buffer {
  const shape = `${path}:${count}`;
  let reply = replies.get(shape);
  if (reply === undefined) {
    const data =
      path === 'publish'
        ? encoded(benchEnvelope(0))
        : path === 'ingest'
          ? encoded(ingestReply(envelopes(count)))
          : encoded(envelopes(count));
    reply = Buffer.from(`"result":{"type":"data","data":${data}}}`);
    replies.set(shape, reply);
  }
  return reply;
}

/** `ws`'s sender's raw write (as server/transports/ws/socket-writer.ts uses it): a frame given as its parts. */
interface RawSender {
  _sender: { sendFrame(list: Buffer[]): void };
}

/** Answers the call `id` with the reply `body` built once: one text frame, of which only the start is new. */
function answer(socket: WebSocket, id: number | string, body: Buffer): void {
  const head = Buffer.from(`{"id":${JSON.stringify(id)},`);
  (socket as unknown as RawSender)._sender.sendFrame([textFrameStart(head.length + body.length, head), body]);
}

/** Stores events durably, all or none; done when they are. */
type Write = (events: readonly ValidEvent[]) => void | Promise<void>;

/**
 * The events table of a fresh SQLite file (the project's migrations), durable as a server can make it without
 * holding its event loop on the disk: the commit at `synchronous=NORMAL`, then the WAL fsync'd on the thread pool
 * before the calls are answered, while the next calls are read (server/store/sqlite-wal-sync.ts), and checkpoints
 * in a worker thread (server/store/sqlite-checkpointer.ts). A floor that held its loop for each fsync, as the raw
 * loop's `synchronous=FULL` does, would lose to a server that does not.
 */
function sqliteWrite(): Write {
  const path = join(tempDir('switchboard-storing-floor-'), 'floor.db');
  process.once('SIGTERM', () => process.exit(0));
  const db = openDatabase(path, 'full').$client;
  const wal = new WalSync(walToSync(db));
  const checkpoints = new Checkpointer(db, resolve(path));
  const insert = db.prepare(sqliteRawInsert);
  const insertKeyed = db.prepare(sqliteRawInsertKeyed);
  const commit = db.transaction((events: readonly ValidEvent[]) => {
    const at = Date.now();
    for (const event of events) {
      if (event.key === undefined) insert.run(...sqliteRawRow(event, at));
      else insertKeyed.run(...sqliteRawRow(event, at), event.key, 'bench');
    }
  });
  return (events) =>
    wal.write(() => {
      commit(events);
      checkpoints.committed();
    });
}

/**
 * The events table of a PostgreSQL schema of its own (the project's migrations), dropped when the process ends.
 * Two connections, so that two commits may be in flight at once (`maxCommits`): PostgreSQL takes concurrent inserts
 * into one table and shares their WAL flushes, and this floor promises no order between commits (its ids are its
 * own count). A server that numbers events in one global order, as Switchboard's head row does, gives that up.
 */
async function postgresWrite(url: string): Promise<Write> {
  const schema = `sb_storing_floor_${process.pid}`;
  await (await openPostgres({ url, schema, poolSize: 1 })).$client.end();
  const options = `-c search_path=${quoteIdent(schema)}`;
  const clients = [
    new pg.Client({ connectionString: url, options }),
    new pg.Client({ connectionString: url, options }),
  ];
  for (const client of clients) await client.connect();
  const dropped = async () => {
    try {
      await clients[0]?.query(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`);
    } finally {
      await Promise.allSettled(clients.map((client) => client.end()));
      process.exit(0);
    }
  };
  process.once('SIGTERM', () => void dropped());
  const free = [...clients];
  let id = 0;
  return async (events) => {
    const client = free.pop();
    if (client === undefined) throw new Error('more commits in flight than connections');
    try {
      const at = Date.now();
      const rows = events.map((event) => [++id, ...sqliteRawRow(event, at)]);
      await client.query(pgRawJsonInsert, [JSON.stringify(rows)]);
    } finally {
      free.push(client);
    }
  };
}

const [kind, ...rest] = process.argv.slice(2);
const write: Write | undefined =
  kind === 'sqlite' ? sqliteWrite() : kind === 'postgres' ? await postgresWrite(rest[0] ?? '') : undefined;
const startRows = Number((kind === 'postgres' ? rest[1] : rest[0]) ?? 0);
if (write) {
  for (let i = 0; i < startRows; i += 1_000) {
    await write(Array.from({ length: Math.min(1_000, startRows - i) }, (_, k) => benchEvent(i + k)));
  }
}

/** SQLite has one writer; PostgreSQL takes two commits at once here (`postgresWrite`). */
const maxCommits = kind === 'postgres' ? 2 : 1;

/** Calls stored in one commit: their events, and the answers to send once they are stored. */
interface Group {
  events: ValidEvent[];
  answers: (() => void)[];
}
/**
 * The groups not yet begun, oldest first. A group takes calls until its commit begins, up to `limits.batchSize`
 * events (a call that would take it past that starts the next group), as Switchboard's group commit does: two
 * batches in flight then stay two commits, one stored while the next is read, rather than one group of both and a
 * client that waits for the pair.
 */
const groups: Group[] = [];
let committing = 0;

/** Begins the oldest groups' commits while fewer than `maxCommits` are in flight; each one's end begins the next. */
function begin(): void {
  while (write !== undefined && committing < maxCommits) {
    const group = groups.shift();
    if (group === undefined) return;
    committing++;
    Promise.resolve(write(group.events)).then(
      () => {
        committing--;
        for (const send of group.answers) send();
        begin();
      },
      (error: unknown) => {
        process.stderr.write(`the storing floor's commit failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  }
}

/** Answers at once without a store; with one, once the events are in a durable commit. */
function store(events: readonly ValidEvent[], answer: () => void): void {
  if (!write) {
    answer();
    return;
  }
  let group = groups.at(-1);
  if (group === undefined || group.events.length + events.length > limits.batchSize) {
    group = { events: [], answers: [] };
    groups.push(group);
    // It begins once this turn's I/O is read, or when a commit in flight ends, whenever a commit slot is free.
    setImmediate(begin);
  }
  for (const event of events) group.events.push(event);
  group.answers.push(answer);
}

interface Request {
  id?: number | string;
  method?: string;
  params?: { path?: string; input?: { json?: unknown } };
}

/** A mutation's events: `publish` one, `publishBatch` an array, `ingest` `{ events }`. */
function eventsOf(path: string, input: unknown): ValidEvent[] {
  if (path === 'ingest') return (input as { events: ValidEvent[] }).events;
  return Array.isArray(input) ? (input as ValidEvent[]) : [input as ValidEvent];
}

const ingestBodies = new Map<number, Buffer>();
/** `POST /ingest`'s answer for `count` events, encoded once per count. */
function ingestBody(count: number): Buffer {
  let body = ingestBodies.get(count);
  if (body === undefined) {
    body = Buffer.from(JSON.stringify(ingestReply(envelopes(count))));
    ingestBodies.set(count, body);
  }
  return body;
}

// `POST /ingest` NDJSON: the body read whole and its ids answered; without a store its lines are only counted,
// with one they are parsed and stored.
const http = createServer((req, res) => {
  const chunks: Buffer[] = [];
  let lines = 1;
  req.on('data', (chunk: Buffer) => {
    if (write) chunks.push(chunk);
    else for (const byte of chunk) if (byte === 10) lines++;
  });
  req.on('end', () => {
    const events = Buffer.concat(chunks)
      .toString('utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as ValidEvent);
    const count = write ? events.length : lines;
    store(events, () => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(ingestBody(count));
    });
  });
});
const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
wss.on('connection', (socket: WebSocket) => {
  socket.on('message', (raw) => {
    const text = (raw as Buffer).toString('utf8');
    if (text === 'PING') {
      socket.send('PONG');
      return;
    }
    const parsed = JSON.parse(text) as Request | Request[];
    for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
      if (message.id === undefined || message.method !== 'mutation') continue;
      const path = message.params?.path ?? '';
      const { id } = message;
      const events = eventsOf(path, message.params?.input?.json);
      const reply = replyTo(path, events.length);
      store(events, () => {
        answer(socket, id, reply);
      });
    }
  });
});
http.listen(0, '127.0.0.1', () => process.send?.({ port: (http.address() as AddressInfo).port }));
process.on('message', (message: { cmd?: string }) => {
  if (message.cmd !== 'stats') return;
  const cpu = process.cpuUsage();
  process.send?.({ cpuMicros: cpu.user + cpu.system });
});
process.on('disconnect', () => process.exit(0));
