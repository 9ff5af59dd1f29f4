/**
 * A cursor from another log: the database is replaced (the SQLite file deleted, the PostgreSQL schema dropped)
 * and the server restarted, so ids start from 1 again. A subscriber resuming with the cursor it held before gets
 * a `stream.reset` notice (reason `epoch`) and then the new log from its start, over every way in: WebSocket,
 * SSE (`Last-Event-ID`), AG-UI and the CLI's `--from`, never the new log's events as if they followed its own.
 * A bare event id (a cursor stored before ids carried the epoch) resumes as it always did.
 */
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatCursor, parseCursor } from '@switchboard/shared';
import { run } from '../../server/entry/cli.js';
import type { RunningServer, ServerOptions } from '../../server/server.js';
import { available, pgQuery, pgUrl, requireEngine, uniqueName } from '../engines.js';
import { agentLog, workflowBlock, workflowStarted } from '../fixtures.js';
import { collect, connect, createTestHub, startTestServer, tempDir } from '../harness.js';
import { readSse, subscriptionUrl } from '../sse-reader.js';
import { quoteIdent } from '../../server/store/postgres-open.js';

/** Five events in the first log (a workflow for AG-UI, then logs), seven in the one that replaces it. */
const firstLog = [
  workflowStarted('wf-1'),
  workflowBlock('wf-1', 'plan'),
  agentLog('a-1', 'old 3'),
  agentLog('a-1', 'old 4'),
  agentLog('a-1', 'old 5'),
];
const secondLog = [workflowStarted('wf-1'), ...Array.from({ length: 6 }, (_, i) => agentLog('a-1', `new ${i + 2}`))];

interface Engine {
  name: string;
  skip: boolean;
  /**
   * Server options for this engine's database, how to throw that database away, and how to back it up (with no
   * server on it): the backup's restore, which puts the database back as it was then.
   */
  database: () => {
    options: Partial<ServerOptions>;
    /** What `switchboard new-epoch` is given to find this database. */
    flags: string[];
    replace: () => Promise<void>;
    backup: () => Promise<() => Promise<void>>;
  } & AsyncDisposable;
}

const engines: Engine[] = [
  {
    name: 'SQLite',
    skip: false,
    database: () => {
      const dir = tempDir();
      const db = dir.file('hub.db');
      const files = ['', '-wal', '-shm'];
      const remove = () => {
        for (const suffix of files) rmSync(`${db}${suffix}`, { force: true });
      };
      return {
        options: { db },
        flags: ['--db', db],
        replace: () => {
          remove();
          return Promise.resolve();
        },
        // The files as they are, copied aside; put back in place of whatever is there then.
        backup: () => {
          const kept = files.filter((suffix) => existsSync(`${db}${suffix}`));
          for (const suffix of kept) copyFileSync(`${db}${suffix}`, dir.file(`backup${suffix}`));
          return Promise.resolve(() => {
            remove();
            for (const suffix of kept) copyFileSync(dir.file(`backup${suffix}`), `${db}${suffix}`);
            return Promise.resolve();
          });
        },
        [Symbol.asyncDispose]: () => {
          dir[Symbol.dispose]();
          return Promise.resolve();
        },
      };
    },
  },
  {
    name: 'PostgreSQL',
    skip: !available.postgres,
    database: () => {
      const schema = uniqueName('sb_epoch');
      // A channel of its own: new-epoch refuses while nodes of the cluster it names are connected.
      const channel = uniqueName('sb_epoch_bus');
      const saved = `${schema}_backup`;
      const drop = async () => {
        for (const name of [schema, saved]) await pgQuery(`DROP SCHEMA IF EXISTS ${quoteIdent(name)} CASCADE`);
      };
      /** Every table of the log's schema. */
      const tables = async () =>
        (await pgQuery('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [schema])).rows.map(
          (row: { table_name: string }) => quoteIdent(row.table_name),
        );
      const [live, aside] = [quoteIdent(schema), quoteIdent(saved)];
      return {
        options: { db: pgUrl, pgSchema: schema, busChannel: channel },
        flags: ['--db', pgUrl, '--pg-schema', schema, '--bus-channel', channel],
        replace: drop,
        // Every table's rows copied into a schema aside; put back in place of the rows there then.
        backup: async () => {
          await pgQuery(`CREATE SCHEMA ${aside}`);
          for (const table of await tables()) await pgQuery(`CREATE TABLE ${aside}.${table} AS TABLE ${live}.${table}`);
          return async () => {
            for (const table of await tables()) {
              await pgQuery(`TRUNCATE ${live}.${table}`);
              await pgQuery(`INSERT INTO ${live}.${table} SELECT * FROM ${aside}.${table}`);
            }
          };
        },
        [Symbol.asyncDispose]: drop,
      };
    },
  },
];

requireEngine('postgres', 'cursors across a recreated PostgreSQL schema');

/**
 * Runs the first log's server, lets `hold` take its cursors, then replaces the database and returns a server
 * on the new log (same options), which holds the second log's events.
 */
async function replaceLog<T>(
  options: Partial<ServerOptions>,
  replace: () => Promise<void>,
  hold: (server: RunningServer) => Promise<T>,
): Promise<{ server: RunningServer; held: T }> {
  let held: T;
  {
    await using first = await startTestServer(options);
    await using publisher = connect(first.url);
    await publisher.publishBatch.mutate(firstLog);
    held = await hold(first);
  }
  await replace();
  const server = await startTestServer(options);
  await using publisher = connect(server.url);
  await publisher.publishBatch.mutate(secondLog);
  return { server, held };
}

/** The cursor the typed client holds after reading the first log over WebSocket. */
async function wsCursor(server: RunningServer): Promise<string> {
  await using client = connect(server.url);
  using all = collect(client.events, { lastEventId: '0' });
  await all.atLeast(firstLog.length);
  return all.items.at(-1)?.id ?? '';
}

const newIds = secondLog.map((_, i) => String(i + 1));

describe.each(engines)('a cursor from a replaced $name database', ({ database, skip }) => {
  it.skipIf(skip)('gets a reset, then the new log from its start, over WebSocket and SSE', async () => {
    await using db = database();
    const { server, held } = await replaceLog(db.options, db.replace, async (first) => {
      const sse = readSse(subscriptionUrl(first.url, 'events', { lastEventId: '0' }));
      await sse.atLeast(firstLog.length);
      await sse.close();
      return { ws: await wsCursor(first), sse: sse.cursors().at(-1) ?? '' };
    });
    await using _server = server;
    await using client = connect(server.url);
    using resumed = collect(client.events, { lastEventId: held.ws });
    await resumed.atLeast(1 + secondLog.length);
    const [reset, ...events] = resumed.items;
    expect(reset?.data).toMatchObject({
      type: 'stream.reset',
      id: '0',
      data: { reason: 'epoch', requestedAfter: held.ws, retainedAfter: '0' },
    });
    expect(events.map((e) => e.data.id)).toEqual(newIds);
    // What the clients held: the id and the first log's epoch, the same over either transport.
    expect(held.ws).toMatch(/^5@[0-9a-z]+$/);
    expect(held.sse).toBe(held.ws);
    // The new log's cursors carry its own epoch: resuming from them continues this log, with no reset.
    const epoch = reset?.id.split('@')[1];
    expect(epoch).toBeDefined();
    expect(held.ws.endsWith(`@${epoch}`)).toBe(false);
    expect(events.at(-1)?.id).toBe(`7@${epoch}`);

    await using stream = readSse(subscriptionUrl(server.url, 'events'), { 'last-event-id': held.sse });
    await stream.atLeast(1 + secondLog.length);
    const [notice, ...rest] = stream.data().map((m) => JSON.parse(m.data) as { json: { id: string; type: string } });
    expect(notice?.json).toMatchObject({ type: 'stream.reset', data: { reason: 'epoch', requestedAfter: held.sse } });
    expect(rest.map((m) => m.json.id)).toEqual(newIds);
    expect(stream.cursors().at(-1)).toBe(`7@${epoch}`);
  });

  it.skipIf(skip)('still resumes a bare event id, as before ids carried the epoch', async () => {
    await using db = database();
    const { server } = await replaceLog(db.options, db.replace, () => Promise.resolve());
    await using _server = server;
    await using client = connect(server.url);
    // A bare id is checked against nothing but the head and retention: it cannot be told apart.
    using legacy = collect(client.events, { lastEventId: '5' });
    await legacy.atLeast(2);
    expect(legacy.items.map((i) => [i.data.type, i.data.id])).toEqual([
      ['agent.log', '6'],
      ['agent.log', '7'],
    ]);
  });
});

describe.each(engines)('a cursor from after the backup of a restored $name database', ({ database, skip }) => {
  it.skipIf(skip)(
    'resumes in the middle of the restored log, and gets a reset after `switchboard new-epoch`',
    async () => {
      await using db = database();
      let held: string;
      {
        await using first = await startTestServer(db.options);
        await using publisher = connect(first.url);
        await publisher.publishBatch.mutate(firstLog.slice(0, 3));
      }
      const restore = await db.backup();
      {
        // After the backup: events 4 and 5, which a subscriber reads.
        await using second = await startTestServer(db.options);
        await using publisher = connect(second.url);
        await publisher.publishBatch.mutate(firstLog.slice(3));
        held = await wsCursor(second);
      }
      expect(held).toMatch(/^5@[0-9a-z]+$/);
      await restore();
      /** The restored log, grown past the cursor: its own events 4 to 6, then a resume from `held`. */
      const resumed = async (count: number) => {
        await using server = await startTestServer(db.options);
        await using client = connect(server.url);
        if ((await client.history.query({})).events.length === 3)
          await client.publishBatch.mutate([
            agentLog('a-1', 'restored 4'),
            agentLog('a-1', 'restored 5'),
            agentLog('a-1', 'restored 6'),
          ]);
        using items = collect(client.events, { lastEventId: held });
        await items.atLeast(count);
        return items.items.map((i) => [i.data.type, i.data.id]);
      };
      // The hazard: the restored log took the backup's epoch, so the cursor resumes after its id 5, and this
      // log's events 4 and 5 are skipped.
      expect(await resumed(1)).toEqual([['agent.log', '6']]);

      const stdout = { text: '', write: (t: string) => (stdout.text += t) };
      const code = await run({ argv: ['new-epoch', ...db.flags], stdout, stderr: stdout, env: {} });
      expect(code, stdout.text).toBe(0);
      const old = held.split('@')[1] ?? '';
      expect(stdout.text).toMatch(
        new RegExp(`: epoch ${old} → [0-9a-f]{12}\\. A cursor that names ${old} now gets a stream\\.reset`),
      );
      // With a new epoch, the same cursor gets a reset and the restored log whole.
      expect(await resumed(7)).toEqual([
        ['stream.reset', '0'],
        ...['workflow.started', 'workflow.block', 'agent.log', 'agent.log', 'agent.log', 'agent.log'].map((type, i) => [
          type,
          String(i + 1),
        ]),
      ]);
    },
  );
});

describe.each(engines)('switchboard new-epoch on $name', ({ name, database, skip }) => {
  it.skipIf(skip)(
    'refuses where there is no log, creating nothing, and while a server is on the database',
    async () => {
      await using db = database();
      const newEpoch = async (...argv: string[]) => {
        const out = { text: '', write: (t: string) => (out.text += t) };
        const code = await run({ argv: ['new-epoch', ...argv], stdout: out, stderr: out, env: {} });
        return { code, text: out.text };
      };
      expect(await newEpoch(...db.flags)).toEqual({
        code: 1,
        text: expect.stringMatching(/^switchboard: no Switchboard log at .*: nothing to renew\n$/) as unknown,
      });
      // Nothing was made where there was nothing: the first server still opens a new log.
      {
        await using server = await startTestServer(db.options);
        expect(((await (await fetch(`${server.url}/healthz`)).json()) as { headEventId: string }).headEventId).toBe(
          '0',
        );
        expect(await newEpoch(...db.flags)).toEqual({
          code: 1,
          text: expect.stringMatching(
            name === 'SQLite' ? /is in use by another process/ : /connections? of nodes of cluster .* (is|are) open/,
          ) as unknown,
        });
      }
      expect((await newEpoch(...db.flags)).code).toBe(0);
      expect(await newEpoch(...db.flags, '--port', '1')).toEqual({
        code: 2,
        text: "switchboard: Unknown option '--port'; --help lists the options\n",
      });
    },
  );
});

describe('a cursor from a replaced SQLite file', () => {
  it('gets a reset over AG-UI, then the workflow of the new log whole', async () => {
    await using db = engines[0]?.database() ?? expect.fail('no SQLite engine');
    const { server, held } = await replaceLog(db.options, db.replace, async (first) => {
      const stream = readSse(`${first.url}/ag-ui/wf-1`);
      await stream.atLeast(2);
      await stream.close();
      // After the workflow's start (RUN_STARTED, then STATE_SNAPSHOT with the event's own cursor).
      return stream.cursors()[1] ?? '';
    });
    await using _server = server;
    await using resumed = readSse(`${server.url}/ag-ui/wf-1`, { 'last-event-id': held });
    await resumed.atLeast(3);
    const events = resumed.data().map((m) => JSON.parse(m.data) as { type: string; name?: string; value?: unknown });
    // The notice opens the stream's run (AG-UI has nothing outside a run); the new log's workflow follows from its
    // first event (its start, inside that run, is its state snapshot): nothing skipped for the old cursor's sake.
    expect(events[0]).toMatchObject({ type: 'RUN_STARTED', threadId: 'wf-1', runId: 'wf-1' });
    expect(events[1]).toMatchObject({ type: 'CUSTOM', name: 'stream.reset', value: { reason: 'epoch' } });
    expect(events[2]).toMatchObject({ type: 'STATE_SNAPSHOT', snapshot: { workflowId: 'wf-1', lastEventId: '1' } });
    expect(held).toMatch(/^1@[0-9a-z]+$/);
  });

  it("gets a reset through the CLI's --from, which shows the cursor to resume from", async () => {
    await using db = engines[0]?.database() ?? expect.fail('no SQLite engine');
    const { server, held } = await replaceLog(db.options, db.replace, async (first) => {
      const stderr = { text: '', write: (t: string) => (stderr.text += t) };
      const code = await run({
        argv: ['watch', 'events', '--from', '0', '--limit', String(firstLog.length), '--json', '--url', first.url],
        stdout: { write: () => undefined },
        stderr,
        env: {},
      });
      expect(code).toBe(0);
      return { hint: stderr.text, cursor: await wsCursor(first) };
    });
    await using _server = server;
    const stdout = { text: '', write: (t: string) => (stdout.text += t) };
    const code = await run({
      argv: ['watch', 'events', '--from', held.cursor, '--limit', '3', '--json', '--url', server.url],
      stdout,
      stderr: { write: () => undefined },
      env: {},
      // Bounded: a watch that is given fewer events than its limit would wait for more.
      signal: AbortSignal.timeout(10_000),
    });
    expect(code).toBe(0);
    const lines = stdout.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; type: string });
    expect(lines.map((l) => [l.type, l.id])).toEqual([
      ['stream.reset', '0'],
      ['workflow.started', '1'],
      ['agent.log', '2'],
    ]);
    // The first watch told its user the cursor to pass to --from next time.
    expect(held.hint).toContain(`--from ${held.cursor}`);
  });
});

describe('the cursor form', () => {
  it('parses and formats <id>@<epoch> and a bare id, and refuses anything else', () => {
    expect(parseCursor('42@3f9a1c0e5b7d')).toEqual({ after: 42, epoch: '3f9a1c0e5b7d' });
    expect(parseCursor('0')).toEqual({ after: 0, epoch: undefined });
    expect(formatCursor('42', '3f9a1c0e5b7d')).toBe('42@3f9a1c0e5b7d');
    for (const bad of ['', '01', '4@', '@ab', '4@AB', '4@a@b', '4:1@ab', ' 4', '4@a-b'])
      expect([bad, parseCursor(bad)]).toEqual([bad, undefined]);
  });

  it('history refuses a cursor of another epoch, and pages with cursors of its own', async () => {
    await using t = createTestHub();
    await t.caller.publishBatch([agentLog('a-1', 'one'), agentLog('a-1', 'two')]);
    const page = await t.caller.history({ limit: 1 });
    expect(page.nextCursor).toBe(`1@${t.hub.epoch}`);
    expect((await t.caller.history({ after: page.nextCursor })).events.map((e) => e.id)).toEqual(['2']);
    const foreign = await t.caller.history({ after: '1@0000ffff0000' }).catch((e: unknown) => e);
    expect(foreign).toMatchObject({ code: 'BAD_REQUEST' });
    expect((foreign as Error).message).toContain('from another log');
  });
});
