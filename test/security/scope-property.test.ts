/**
 * Generated: arbitrary topics, patterns and read scopes, on SQLite and PostgreSQL. Whatever a scoped reader asks
 * for, what it receives through `history`, a WebSocket subscription and an SSE stream is exactly the events its
 * scope and its request both match, by the grammar's own matcher (shared/topics.ts), in id order. The alphabet
 * holds the characters each store's matcher treats specially (GLOB's `?` `[` `]`, LIKE's `%` `_` `\`), so a store
 * that matched differently from the grammar would show here.
 */
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import { createSwitchboardClient } from '../../client/index.js';
import type { AppRouterFor } from '../../server/routers/_app.js';
import { intersects } from '../../server/security/scopes.js';
import type { ServerOptions } from '../../server/server.js';
import { defineCatalogue, defineFamily, topicMatcher } from '@switchboard/shared';
import { describeWith, pgSchema, pgUrl } from '../engines.js';
import { collect, startTestServer, waitUntil } from '../harness.js';
import { readSse, subscriptionUrl } from '../sse-reader.js';

/** One family whose topic is whatever the producer says, so any topic of the alphabet can be stored. */
const probe = defineFamily('probe', { event: { data: z.strictObject({ topic: z.string() }), topic: '{topic}' } });
const catalogue = defineCatalogue({ families: [probe] });

const admin = { role: 'admin' as const, token: 'admin-0123456789abcdef' };
const secret = 'a-secret-of-at-least-32-characters-for-hs256';
// Few characters, so that generated topics and patterns meet often; half of them special to some store's matcher.
const alphabet = ['a', 'b', ':', '?', '[', '%', '_', '\\'];

const characters = fc.array(fc.constantFrom(...alphabet), { minLength: 1, maxLength: 3 });
const topic = characters.map((c) => c.join(''));
/** A pattern: random, or a topic with some characters turned into stars (which it then matches). */
const pattern = fc.oneof(
  fc.array(fc.constantFrom(...alphabet, '*', '*'), { minLength: 1, maxLength: 4 }).map((c) => c.join('')),
  fc
    .tuple(characters, fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }))
    .map(([chars, stars]) => chars.map((c, i) => (stars[i] === true ? '*' : c)).join('')),
);
const run = fc.record({
  published: fc.array(topic, { minLength: 1, maxLength: 6 }),
  scope: fc.array(pattern, { minLength: 1, maxLength: 2 }),
  request: fc.option(fc.array(pattern, { minLength: 1, maxLength: 2 }), { nil: undefined }),
});

const anyOf = (patterns: readonly string[]) => {
  const matchers = patterns.map(topicMatcher);
  return (t: string) => matchers.some((m) => m(t));
};

/**
 * A topic both patterns match: walk them as `intersects` does and write down what a path that reaches both ends
 * consumes (a literal both have, or the literal a `*` swallows; a `*` matches nothing otherwise).
 */
function witness(a: string, b: string): string | undefined {
  const memo = new Map<string, string | undefined | null>();
  const walk = (i: number, j: number): string | undefined => {
    const key = `${i},${j}`;
    const known = memo.get(key);
    if (known !== undefined) return known ?? undefined;
    let found: string | undefined;
    if (i === a.length && j === b.length) found = '';
    else if (a[i] === '*') {
      found = walk(i + 1, j);
      if (found === undefined && j < b.length) {
        const rest = walk(i, j + 1);
        if (rest !== undefined) found = (b[j] === '*' ? '' : (b[j] ?? '')) + rest;
      }
    } else if (b[j] === '*') {
      found = walk(i, j + 1);
      if (found === undefined && i < a.length) {
        const rest = walk(i + 1, j);
        if (rest !== undefined) found = (a[i] ?? '') + rest;
      }
    } else if (i < a.length && j < b.length && a[i] === b[j]) {
      const rest = walk(i + 1, j + 1);
      if (rest !== undefined) found = (a[i] ?? '') + rest;
    }
    memo.set(key, found ?? null);
    return found;
  };
  const common = walk(0, 0);
  // Two patterns of stars alone share every topic; a topic is never empty.
  return common === '' ? 'a' : common;
}

function scopeProperty(start: () => Promise<{ url: string } & AsyncDisposable>) {
  it('gives a scoped reader exactly what its scope and its request both match, over history, WebSocket and SSE', async () => {
    await using server = await start();
    await using writer = createSwitchboardClient<AppRouterFor<typeof catalogue>>({
      url: server.url,
      WebSocket,
      token: admin.token,
    });
    /** Every stored event, as the test knows it: id and topic. */
    const log: { id: string; topic: string }[] = [];
    const publish = async (topics: readonly string[]) => {
      if (topics.length === 0) return;
      const stored = await writer.publishBatch.mutate(topics.map((t) => ({ type: 'probe.event', data: { topic: t } })));
      for (const e of stored) log.push({ id: e.id, topic: e.topic });
    };

    await fc.assert(
      fc.asyncProperty(run, async ({ published, scope, request }) => {
        await publish(published);
        const token = await new SignJWT({ role: 'viewer', scopes: { read: scope } })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('reader')
          .setExpirationTime('1h')
          .sign(new TextEncoder().encode(secret));
        await using reader = createSwitchboardClient<AppRouterFor<typeof catalogue>>({
          url: server.url,
          WebSocket,
          token,
          reconnect: { initialMs: 20, maxMs: 20 },
        });
        const pairs = (request ?? ['*']).flatMap((r) => scope.map((s) => [r, s] as const));
        const meeting = pairs.find(([r, s]) => intersects(r, s));
        if (request !== undefined && meeting === undefined) {
          const refused = await reader.history.query({ topics: request }).catch((e: unknown) => e);
          expect(refused).toMatchObject({ data: { code: 'FORBIDDEN' } });
          return;
        }
        const inScope = anyOf(scope);
        const asked = request === undefined ? () => true : anyOf(request);
        const visible = (entries: typeof log) =>
          entries.filter((e) => inScope(e.topic) && asked(e.topic)).map((e) => e.id);

        const { events } = await reader.history.query({ topics: request, limit: 1_000 });
        expect(events.map((e) => e.id)).toEqual(visible(log));

        // Streams: replay from the start, then a fence on a topic both match, published after they started; in id
        // order, everything before the fence has arrived when the fence has.
        using ws = collect(reader.events, { topics: request, lastEventId: '0' });
        await ws.started();
        await using sse = readSse(subscriptionUrl(server.url, 'events', { topics: request, lastEventId: '0' }), {
          authorization: `Bearer ${token}`,
        });
        await sse.waitFor('connected');
        const [r, s] = meeting ?? ['*', '*'];
        const fenceTopic = witness(r, s);
        if (fenceTopic === undefined) throw new Error(`no common topic of ${r} and ${s}, though they intersect`);
        const before = log.length;
        await publish([fenceTopic]);
        const fence = log.at(-1)?.id ?? '';
        const expected = [...visible(log.slice(0, before)), fence];
        await ws.atLeast(expected.length);
        await waitUntil('the fence over SSE', () => sse.ids().some((id) => id.split('@')[0] === fence));
        expect(ws.items.map((item) => item.data.id)).toEqual(expected);
        expect(sse.ids().map((id) => id.split('@')[0])).toEqual(expected);
        expect(ws.errors).toEqual([]);
        ws[Symbol.dispose]();
      }),
      { numRuns: 40, seed: 20261204 },
    );
  });
}

describe('read scopes, generated (SQLite)', () => {
  scopeProperty(() => startTestServer({ tokens: [admin], jwtSecret: secret, catalogue }));
});

describeWith(['postgres'], 'read scopes, generated (PostgreSQL)', () => {
  scopeProperty(async () => {
    const schema = pgSchema();
    const options: Partial<ServerOptions> = { tokens: [admin], jwtSecret: secret, catalogue, db: pgUrl };
    const server = await startTestServer({ ...options, pgSchema: schema.schema });
    return {
      url: server.url,
      [Symbol.asyncDispose]: async () => {
        await server[Symbol.asyncDispose]();
        await schema[Symbol.asyncDispose]();
      },
    };
  });
});
