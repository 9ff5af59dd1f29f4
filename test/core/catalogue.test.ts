/**
 * Event catalogues: a team's own families validated, stored, filtered, replayed and served like the built-in
 * ones, typed end to end through `AppRouterFor`; conflicts refused at definition; stored types a later
 * catalogue dropped still replayed, and named at start.
 */
import { Writable } from 'node:stream';
import { describe, expect, expectTypeOf, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import catalogue, { deployments, pools } from '../../examples/custom-events.js';
import { run } from '../../server/entry/cli.js';
import { createPublisher, createSwitchboardClient } from '../../client/index.js';
import type { AppRouterFor } from '../../server/routers/_app.js';
import { summarizeEvent } from '../../client/summary.js';
import { CatalogueError, defineCatalogue, defineFamily, type StreamItemFor } from '@switchboard/shared';
import { createLogger } from '../../server/ops/log.js';
import { CatalogueLoadError, loadCatalogue } from '../../server/ops/catalogue.js';
import { collect, startTestServer, tempDir, waitUntil } from '../harness.js';

type Router = AppRouterFor<typeof catalogue>;
const connectTyped = (url: string) =>
  createSwitchboardClient<Router>({ url, WebSocket, reconnect: { initialMs: 20, maxMs: 20 } });

const scaled = (poolId: string, to: number) => ({ type: 'pool.scaled', data: { poolId, from: to - 1, to } }) as const;

describe('defining a catalogue', () => {
  it('refuses to redefine a built-in type, a type defined twice, and bad names', () => {
    const agent = defineFamily('agent', {
      status: { data: z.strictObject({ agentId: z.string() }), topic: 'agent:{agentId}' },
    });
    expect(() => defineCatalogue({ families: [agent] })).toThrow(
      new CatalogueError(
        'event type "agent.status" is built in; a catalogue cannot redefine it (give yours another family name)',
      ),
    );
    expect(() => defineCatalogue({ families: [pools, pools] })).toThrow(
      'event type "pool.scaled" is defined twice (families "pool" and "pool")',
    );
    expect(() => defineFamily('Pool', {})).toThrow(CatalogueError);
    expect(() => defineFamily('stream', { reset: { data: z.object({}), topic: 'x' } })).toThrow('reserved');
    expect(() => defineFamily('pool', { 'scaled up': { data: z.object({}), topic: 'x' } })).toThrow(
      'event name "pool.scaled up"',
    );
  });

  it('validates data, derives topics and summaries, and reports a topic field the data lacks', () => {
    const valid = catalogue.publishInputSchema.parse(scaled('gpu', 4));
    expect(catalogue.topicOf(valid)).toBe('pool:gpu');
    expect(catalogue.summaryOf(valid)).toBe('gpu scaled 3 → 4 workers');
    expect(catalogue.summaryOf({ type: 'agent.status', data: {} })).toBeUndefined();

    const wrong = catalogue.publishInputSchema.safeParse({ type: 'pool.scaled', data: { poolId: 'gpu', to: 'x' } });
    expect(wrong.error?.issues.map((i) => i.path.join('.'))).toEqual(['data.from', 'data.to']);
    const loose = defineCatalogue({
      families: [
        defineFamily('job', { done: { data: z.object({ queue: z.string().optional() }), topic: 'q:{queue}' } }),
      ],
    });
    const noTopic = loose.publishInputSchema.safeParse({ type: 'job.done', data: {} });
    expect(noTopic.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['data.queue', 'the topic rule of job.done failed: "queue" must be a string or a number (the template names it)'],
    ]);
    const star = loose.publishInputSchema.safeParse({ type: 'job.done', data: { queue: 'a*' } });
    expect(star.error?.issues[0]?.message).toContain('may not contain "*"');
    expect(catalogue.describe().find((d) => d.type === 'deploy.finished')).toEqual({
      type: 'deploy.finished',
      family: 'deploy',
      builtin: false,
      topic: 'deploy:{service}',
      summary: null,
    });
    expect(deployments.events['deploy.started']?.summary).toBe('{service} {version} → {environment}');
  });

  it('loads a module by path, and says why one cannot be used', async () => {
    const loaded = await loadCatalogue('examples/custom-events.ts');
    expect(loaded.types).toContain('deploy.started');
    const commonjs = await loadCatalogue('test/catalogues/commonjs/events.ts');
    expect(commonjs.types).toContain('build.finished');
    await expect(loadCatalogue('examples/nope.ts')).rejects.toThrow(CatalogueLoadError);
    await expect(loadCatalogue('examples/quickstart-missing.ts')).rejects.toThrow(
      /cannot load --events \/ SWITCHBOARD_EVENTS examples\/quickstart-missing.ts/,
    );
    await expect(loadCatalogue('shared/limits.ts')).rejects.toThrow('must export a catalogue made by defineCatalogue');
    await expect(startTestServer({ events: 'test/catalogues/conflict.ts' })).rejects.toThrow(
      'cannot load --events / SWITCHBOARD_EVENTS test/catalogues/conflict.ts: event type "agent.status" is built in',
    );
  });
});

describe('a server with a catalogue', () => {
  it('types, validates, stores, filters, replays and serves history for custom events', async () => {
    await using server = await startTestServer({ events: 'examples/custom-events.ts' });
    await using client = connectTyped(server.url);
    using pools = collect(client.events, { topics: ['pool:*'] });
    using deploys = collect(client.events, { types: ['deploy.started'] });
    await pools.started();
    await deploys.started();

    const stored = await client.publish.mutate(scaled('gpu', 4));
    expectTypeOf(stored.type).toEqualTypeOf<(typeof catalogue.types)[number]>();
    await client.publishBatch.mutate([
      {
        type: 'deploy.started',
        data: { deployId: 'd-1', service: 'api', version: '1.2.0', environment: 'staging' },
      },
      { type: 'pool.worker_lost', data: { poolId: 'gpu', workerId: 'w-3' } },
      { type: 'system.notification', data: { level: 'info', title: 'x', message: 'built-ins still work' } },
    ]);
    if (process.argv.includes('--never')) {
      // @ts-expect-error: `to` is a number in pool.scaled's schema
      await client.publish.mutate({ type: 'pool.scaled', data: { poolId: 'x', from: 1, to: '2' } });
      // @ts-expect-error: no such type in the catalogue
      await client.publish.mutate({ type: 'pool.drained', data: {} });
    }
    await expect(
      client.publish.mutate({ type: 'pool.scaled', data: { poolId: 'gpu', from: 1, to: -1 } }),
    ).rejects.toThrow('data.to');

    await pools.atLeast(2);
    await deploys.atLeast(1);
    expect(pools.items.map((i) => [i.data.id, i.data.type, i.data.topic])).toEqual([
      ['1', 'pool.scaled', 'pool:gpu'],
      ['3', 'pool.worker_lost', 'pool:gpu'],
    ]);
    const first = pools.items[0]?.data;
    expectTypeOf(first).toEqualTypeOf<StreamItemFor<NonNullable<(typeof catalogue)['~schemas']>> | undefined>();
    if (first?.type === 'pool.scaled') expectTypeOf(first.data.to).toEqualTypeOf<number>();
    expect(deploys.items[0]?.data).toMatchObject({ id: '2', topic: 'deploy:api', data: { version: '1.2.0' } });

    using replay = collect(client.events, { types: ['pool.scaled', 'deploy.started'], lastEventId: '0' });
    await replay.atLeast(2);
    expect(replay.items.map((i) => i.data.id)).toEqual(['1', '2']);
    const page = await client.history.query({ topics: ['deploy:*', 'pool:gpu'], order: 'desc' });
    expect(page.events.map((e) => e.type)).toEqual(['pool.worker_lost', 'deploy.started', 'pool.scaled']);

    // Plain JSON ingest validates against the same catalogue.
    const post = (body: unknown) =>
      fetch(`${server.url}/ingest`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect(await (await post(scaled('cpu', 2))).json()).toEqual({ ids: ['5'] });
    expect((await post({ type: 'pool.scaled', data: { poolId: 'cpu' } })).status).toBe(400);
    expect(await client.catalogue.query()).toContainEqual(
      expect.objectContaining({ type: 'pool.scaled', summary: '{poolId} scaled {from} → {to} workers' }),
    );
  });

  it('replays events of types a later catalogue dropped, and names them at start', async () => {
    using dir = tempDir();
    const db = dir.file('dropped.db');
    {
      await using first = await startTestServer({ db, catalogue });
      await using client = connectTyped(first.url);
      await client.publish.mutate(scaled('gpu', 2));
    }
    let log = '';
    const logger = createLogger(
      { logLevel: 'warn', logFormat: 'json' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          log += chunk.toString();
          done();
        },
      }),
    );
    await using second = await startTestServer({ db, logger });
    await waitUntil('the start-up warning', () => log.includes('catalogue does not define'));
    expect(JSON.parse(log.split('\n').find((l) => l.includes('catalogue does not define')) ?? '{}')).toMatchObject({
      types: ['pool.scaled'],
    });
    await using client = connectTyped(second.url);
    using replay = collect(client.events, { lastEventId: '0' });
    await replay.atLeast(1);
    expect(replay.items[0]?.data).toMatchObject({ type: 'pool.scaled', topic: 'pool:gpu', data: { to: 2 } });
    expect((await client.history.query({})).events).toHaveLength(1);
  });

  it('the Publisher, the CLI and the log summary handle custom events', async () => {
    await using server = await startTestServer({ catalogue });
    await using publisher = createPublisher({ url: server.url, WebSocket, catalogue });
    expect(publisher.publish(scaled('gpu', 8))).toMatchObject({ accepted: true });
    // @ts-expect-error: a Publisher of this catalogue knows its types; `size` is not a field of pool.scaled
    const invalid = publisher.publish({ type: 'pool.scaled', data: { poolId: 'gpu', size: 3 } });
    expect(invalid).toMatchObject({ accepted: false, reason: 'invalid' });
    await publisher.flush(5_000);

    const lines: string[] = [];
    const out = { write: (t: string) => lines.push(t) };
    const cli = (...argv: string[]) => run({ argv: [...argv, '--url', server.url], stdout: out, stderr: out, env: {} });
    const data = JSON.stringify({ deployId: 'd-9', service: 'web', version: '2.0.0', environment: 'production' });
    expect(await cli('emit', 'deploy.started', '--data', data)).toBe(0);
    expect(await cli('emit', 'deploy.started', '--data', '{"deployId":"d-9"}')).toBe(1);
    expect(await cli('history', '--type', 'deploy.started', '--type', 'pool.scaled')).toBe(0);
    expect(await cli('watch', 'events', '--topic', 'deploy:*', '--from', '0', '--limit', '1')).toBe(0);
    const text = lines.join('');
    expect(text).toContain('stored #2 deploy.started deploy:web\n');
    expect(text).toMatch(/BAD_REQUEST: 0\.data\.service: .*0\.data\.version/);
    expect(text).toMatch(/#1 .* pool\.scaled +pool:gpu +gpu scaled 7 → 8 workers\n/);
    expect(text).toMatch(/#2 .* deploy\.started +deploy:web +web 2\.0\.0 → production\n#2 /);

    const finished = {
      id: '3',
      type: 'deploy.finished',
      topic: 'deploy:web',
      timestamp: new Date(),
      data: { deployId: 'd-9', service: 'web', outcome: 'rolled_back', durationMs: 61_000 },
    };
    expect(summarizeEvent(finished, undefined, (e) => catalogue.summaryOf(e))).toBe('web rolled back in 61 s');
    expect(summarizeEvent(finished)).toBe('');

    // A summary that is a function runs where the catalogue module is loaded: the CLI loads it with --events.
    const { deployId, service, outcome, durationMs } = finished.data;
    const done = JSON.stringify({ deployId, service, outcome, durationMs });
    expect(await cli('emit', 'deploy.finished', '--data', done)).toBe(0);
    lines.length = 0;
    expect(await cli('history', '--type', 'deploy.finished')).toBe(0);
    expect(lines.join('')).toMatch(/#3 .* deploy\.finished +deploy:web +\n$/);
    lines.length = 0;
    expect(await cli('history', '--type', 'deploy.finished', '--events', 'examples/custom-events.ts')).toBe(0);
    expect(await cli('watch', 'events', '--from', '2', '--limit', '1', '--events', 'examples/custom-events.ts')).toBe(
      0,
    );
    expect(lines.join('').match(/^#3 .* deploy:web +web rolled back in 61 s$/gm)).toHaveLength(2);
    lines.length = 0;
    expect(await cli('history', '--events', 'examples/no-such-file.ts')).toBe(2);
    expect(lines.join('')).toContain('cannot load --events / SWITCHBOARD_EVENTS examples/no-such-file.ts');
  });
});
