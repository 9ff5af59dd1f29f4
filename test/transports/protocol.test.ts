/**
 * The WebSocket protocol at the wire, as docs/protocol.md describes it for clients in any language: raw
 * sockets against the real server, every reply decoded with superjson. The typed client's own use of it is
 * covered everywhere else; this pins down what it relies on.
 */
import superjson from 'superjson';
import { describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { appRouter } from '../../server/routers/_app.js';
import { dataReplyTexts, EventFrames, replyFrame } from '../../server/transports/ws/protocol.js';
import { runChars } from '../../server/core/text-runs.js';
import { envelopeOfEvent } from '../../server/core/envelope.js';
import { limits, transformer, type EventEnvelope, type ValidEvent } from '@switchboard/shared';
import { agentStatus } from '../fixtures.js';
import { connect, startTestServer, waitUntil } from '../harness.js';

interface Reply {
  id: number | string | null;
  jsonrpc?: string;
  method?: string;
  result?: { type: string; id?: string; data?: unknown };
  error?: { json: { code: number; message: string; data: { code: string; reason?: string } } };
}

/** A raw socket that records every frame it receives. */
async function wire(url: string, query = '') {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/trpc${query}`);
  const frames: string[] = [];
  ws.on('message', (m: Buffer) => frames.push(m.toString()));
  const closed = new Promise<number>((resolve) => ws.once('close', resolve));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const replies = () => frames.filter((f) => f.startsWith('{')).map((f) => JSON.parse(f) as Reply);
  return {
    ws,
    frames,
    closed,
    replies,
    send: (message: unknown) => {
      ws.send(JSON.stringify(message));
    },
    /** Waits for a reply matching `match` and returns it. */
    async reply(what: string, match: (r: Reply) => boolean): Promise<Reply> {
      let found: Reply | undefined;
      await waitUntil(what, () => (found = replies().find(match)) !== undefined, 5_000);
      if (!found) throw new Error(`no ${what}`);
      return found;
    },
    /** PING is answered in order: once PONG is back, every frame written before it has arrived. */
    async settle(): Promise<void> {
      const pongs = frames.filter((f) => f === 'PONG').length;
      ws.send('PING');
      await waitUntil('PONG', () => frames.filter((f) => f === 'PONG').length > pongs, 5_000);
    },
    [Symbol.dispose]: () => {
      ws.terminate();
    },
  };
}

const call = (id: number | string, method: string, path: string, input: unknown, extra: object = {}) => ({
  id,
  method,
  params: { path, input: superjson.serialize(input) },
  ...extra,
});

describe('WebSocket protocol', () => {
  it('answers a batch frame, tracks every event by its id, and stops a subscription on request', async () => {
    await using server = await startTestServer();
    await using publisher = connect(server.url);
    await publisher.publishBatch.mutate([agentStatus('a-1', 'idle'), agentStatus('a-2', 'busy')]);
    using peer = await wire(server.url);

    peer.send([
      {
        ...call(1, 'subscription', 'events', {}),
        params: { path: 'events', input: superjson.serialize({}), lastEventId: '0' },
      },
      call(2, 'query', 'history', {}),
    ]);
    const history = await peer.reply('history', (r) => r.id === 2);
    const page = superjson.deserialize<{ events: EventEnvelope[]; nextCursor: string }>(history.result?.data as never);
    expect(page.events).toHaveLength(2);
    // Tracked ids are cursors: the event id and the log's epoch, as history's nextCursor has it.
    const epoch = page.nextCursor.split('@')[1] ?? '';
    expect(page.nextCursor).toBe(`2@${epoch}`);
    expect(epoch).toMatch(/^[0-9a-f]{12}$/);
    await peer.reply('2 events', (r) => r.id === 1 && r.result?.id === `2@${epoch}`);
    const forOne = peer.replies().filter((r) => r.id === 1);
    expect(forOne.map((r) => [r.result?.type, r.result?.id])).toEqual([
      ['started', undefined],
      ['data', `1@${epoch}`],
      ['data', `2@${epoch}`],
    ]);
    // The data is superjson of { id, data: envelope }: the timestamp comes back as a Date.
    const first = superjson.deserialize<{ id: string; data: EventEnvelope }>(forOne[1]?.result?.data as never);
    expect(first.id).toBe(`1@${epoch}`);
    expect(first.data).toMatchObject({ id: '1', type: 'agent.status', data: { agentId: 'a-1', status: 'idle' } });
    expect(first.data.timestamp).toBeInstanceOf(Date);

    // Live: a new event arrives with its id.
    await publisher.publish.mutate(agentStatus('a-3'));
    await peer.reply('live event', (r) => r.id === 1 && r.result?.id === `3@${epoch}`);

    peer.send({ id: 1, method: 'subscription.stop' });
    await peer.reply('stopped', (r) => r.id === 1 && r.result?.type === 'stopped');
    const before = peer.replies().length;
    await publisher.publish.mutate(agentStatus('a-4'));
    await peer.settle();
    expect(peer.replies().slice(before)).toEqual([]);
  });

  it('echoes the request id with its type and jsonrpc, and refuses a duplicate subscription id', async () => {
    await using server = await startTestServer();
    using peer = await wire(server.url);
    peer.send(call('sub-a', 'subscription', 'agentStatus', {}, { jsonrpc: '2.0' }));
    const started = await peer.reply('started', (r) => r.id === 'sub-a');
    expect(started).toEqual({ id: 'sub-a', jsonrpc: '2.0', result: { type: 'started' } });

    peer.send(call('sub-a', 'subscription', 'events', {}, { jsonrpc: '2.0' }));
    const duplicate = await peer.reply('duplicate', (r) => r.id === 'sub-a' && r.error !== undefined);
    expect(duplicate.jsonrpc).toBe('2.0');
    expect(duplicate.error?.json.code).toBe(-32600);
    expect(duplicate.error?.json.data.code).toBe('BAD_REQUEST');
    expect(duplicate.error?.json.message).toContain('Duplicate id sub-a');
    // A query with the number 1 and a subscription named "1" are different requests.
    peer.send(call(1, 'query', 'agents', undefined));
    peer.send(call('1', 'subscription', 'events', {}));
    await peer.reply('query 1', (r) => r.id === 1 && r.result?.type === 'data');
    await peer.reply('subscription "1"', (r) => r.id === '1' && r.result?.type === 'started');
  });

  it('answers malformed frames and calls with errors that say what is wrong, and keeps the connection', async () => {
    await using server = await startTestServer();
    using peer = await wire(server.url);
    peer.ws.send('not json');
    peer.send({ id: 5, method: 'launch', params: { path: 'events' } });
    peer.send(call(6, 'query', 'noSuchProcedure', {}));
    peer.send(call(7, 'mutation', 'publish', { type: 'agent.status', data: { agentId: 'x' } }));
    peer.send({ id: 8, method: 'query', params: { path: 'agents', input: { json: 1, meta: { values: 'bad' } } } });
    peer.ws.send(Buffer.from([1, 2, 3]));
    await waitUntil('6 errors', () => peer.replies().filter((r) => r.error).length >= 6, 5_000);
    const errors = peer.replies().filter((r) => r.error);
    const byId = (id: number | null) => errors.filter((r) => r.id === id).map((r) => r.error?.json);
    expect(byId(null).map((e) => [e?.code, e?.data.code])).toEqual([
      [-32700, 'PARSE_ERROR'],
      [-32700, 'PARSE_ERROR'],
    ]);
    expect(byId(5)[0]?.message).toContain('method');
    expect(byId(6)[0]).toMatchObject({ code: -32004, data: { code: 'NOT_FOUND' } });
    expect(byId(7)[0]).toMatchObject({ code: -32600, data: { code: 'BAD_REQUEST', reason: 'invalid_input' } });
    expect(byId(8)[0]?.code).toBe(-32700);
    // Still serving.
    peer.send(call(9, 'query', 'agents', undefined));
    await peer.reply('query after errors', (r) => r.id === 9 && r.result !== undefined);
  });

  it('takes the token from the first frame when the URL asks for connection params', async () => {
    await using server = await startTestServer({ tokens: [{ name: 'viewer', role: 'viewer', token: 'v-secret' }] });
    using ok = await wire(server.url, '?connectionParams=1');
    ok.send({ method: 'connectionParams', data: { token: 'v-secret' } });
    ok.send(call(1, 'query', 'agents', undefined));
    expect((await ok.reply('agents', (r) => r.id === 1)).result?.type).toBe('data');

    using anonymous = await wire(server.url);
    anonymous.send(call(1, 'query', 'agents', undefined));
    const refused = await anonymous.reply('refusal', (r) => r.id === 1);
    expect(refused.error?.json).toMatchObject({ code: -32001, data: { code: 'UNAUTHORIZED', reason: 'unauthorized' } });

    using malformed = await wire(server.url, '?connectionParams=1');
    malformed.send({ token: 'v-secret' });
    const error = await malformed.reply('error', (r) => r.id === null);
    expect(error.error?.json.message).toContain('connectionParams');
    expect(await malformed.closed).toBe(1005);
  });

  it('tells clients to reconnect before it shuts down', async () => {
    const server = await startTestServer();
    using peer = await wire(server.url);
    await server.close();
    expect(peer.frames).toContain('{"id":null,"method":"reconnect"}');
    expect(await peer.closed).toBe(1001);
  });
});

describe('reply frames', () => {
  it("writes a call's result as tRPC's response transform would, byte for byte", () => {
    const envelope = {
      id: '7',
      type: 'agent.status',
      topic: 'agent:a-1',
      timestamp: new Date('2026-01-01T00:00:00Z'),
      data: { agentId: 'a-1', status: 'busy' },
    };
    const values: unknown[] = [
      envelope,
      [envelope, { ...envelope, id: '8' }],
      { ids: ['1', '2'] },
      undefined,
      null,
      'text',
      0,
      new Map([['k', 1]]),
      { at: new Date(Number.NaN), nested: { list: [1, undefined] } },
    ];
    for (const [id, jsonrpc] of [
      [1, undefined],
      ['call-x', '2.0'],
    ] as const) {
      for (const data of values) {
        const expected = replyFrame(appRouter, { id, jsonrpc, result: { type: 'data', data } });
        expect(dataReplyTexts(appRouter, id, jsonrpc, data).join('')).toBe(expected);
      }
    }
  });

  it("writes a write's stored envelopes from their written data text, and the same bytes as encoding them", () => {
    // As a store makes them: the data as the producer sent it, and the text it wrote for it (JSON.stringify).
    const stored = (id: number, data: Record<string, unknown>) =>
      envelopeOfEvent(
        { type: 'agent.metric', source: 'test', data } as unknown as ValidEvent,
        id,
        'agent:a-1',
        new Date(Date.UTC(2026, 0, 1, 0, 0, id)),
        JSON.stringify(data),
      );
    const plain = { agentId: 'a-1', name: 'tokens', value: 12.5, tags: ['x', 'y.z'], nested: { ok: true, none: null } };
    // Data whose written text is not what encoding writes: encoded as it is, never spliced.
    const holey: unknown[] = [1];
    holey[2] = 3;
    // JSON.stringify calls a toJSON it finds, even one it cannot enumerate; encoding does not.
    const withToJson: unknown[] = [1, 2];
    Object.defineProperty(withToJson, 'toJSON', { value: () => 'replaced', enumerable: false });
    const notPlain = [
      { ...plain, value: -0 },
      { ...plain, at: new Date('2026-02-02T00:00:00Z') },
      { ...plain, missing: undefined },
      { ...plain, list: holey },
      { ...plain, list: withToJson },
    ];
    const values: unknown[] = [
      stored(1, plain),
      [stored(1, plain), stored(2, { ...plain, 'dotted.key': 'v' }), stored(3, plain)],
      ...notPlain.map((data) => stored(4, data)),
      ...notPlain.map((data) => [stored(5, plain), stored(6, data)]),
    ];
    for (const data of values) {
      const expected = replyFrame(appRouter, { id: 3, jsonrpc: undefined, result: { type: 'data', data } });
      expect(dataReplyTexts(appRouter, 3, undefined, data).join('')).toBe(expected);
    }
    // The spliced text is the one written, not the object: a text that differs from the object shows it.
    const spliced = envelopeOfEvent(
      { type: 'agent.metric', data: plain } as unknown as ValidEvent,
      9,
      'agent:a-1',
      new Date(0),
      '{"written":true}',
    );
    expect(dataReplyTexts(appRouter, 3, undefined, [spliced]).join('')).toContain('"data":{"written":true}');
    // A full batch's answer: parts of at most runChars (never one large text), the same bytes when joined.
    const batch = Array.from({ length: limits.batchSize }, (_, i) =>
      stored(i + 1, { ...plain, text: 'é'.repeat(200) }),
    );
    const parts = dataReplyTexts(appRouter, 3, undefined, batch);
    expect(parts.join('')).toBe(
      replyFrame(appRouter, { id: 3, jsonrpc: undefined, result: { type: 'data', data: batch } }),
    );
    expect(parts.join('').length).toBeGreaterThan(4 * runChars);
    for (const part of parts) expect(part.length).toBeLessThanOrEqual(runChars);
  });
});

describe('event frames', () => {
  it('serializes an event once for all subscribers, and each frame decodes to the tracked envelope', () => {
    const frames = new EventFrames(appRouter);
    const event: EventEnvelope = {
      id: '42',
      type: 'agent.status',
      topic: 'agent:a-1',
      timestamp: new Date('2026-01-01T00:00:00Z'),
      data: { agentId: 'a-1', agentType: 'coder', status: 'busy' },
    };
    const spy = vi.spyOn(transformer.output, 'serialize');
    const heads = ['{"id":1,', '{"id":"x","jsonrpc":"2.0",', '{"id":1,'];
    const decoded = heads.map((head) => JSON.parse(frames.text(head, event, true)) as Reply);
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
    expect(decoded.map((r) => [r.id, r.jsonrpc])).toEqual([
      [1, undefined],
      ['x', '2.0'],
      [1, undefined],
    ]);
    for (const reply of decoded) {
      expect(reply.result?.id).toBe('42');
      expect(superjson.deserialize(reply.result?.data as never)).toEqual({ id: '42', data: event });
    }
    // An item read for one subscriber alone (a replay) is encoded for it and not kept.
    const own = { ...event };
    const again = vi.spyOn(transformer.output, 'serialize');
    const text = frames.text('{"id":1,', own, false);
    expect(frames.text('{"id":1,', own, false)).toBe(text);
    expect(again).toHaveBeenCalledTimes(2);
    again.mockRestore();
  });
});
