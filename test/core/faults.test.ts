/**
 * Faults and hostile input against the real server: SIGKILL mid-write loses no acknowledged event, and
 * thousands of malformed frames and requests leave it serving well-behaved clients with only valid events stored.
 */
import { connect as tcpConnect } from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { agentLog, agentStatus } from '../fixtures.js';
import { collect, connect, spawnServer, startTestServer, storedEvents, tempDir, waitUntil } from '../harness.js';

describe('crash safety', () => {
  it(
    'keeps every acknowledged publish across SIGKILL, and subscribers resume without a gap',
    { timeout: 60_000 },
    async () => {
      using dir = tempDir();
      const db = dir.file('crash.db');
      let server = await spawnServer({ db });
      const { port } = server;
      try {
        await using subscriber = connect(server.url);
        using stream = collect(subscriber.events, { lastEventId: '0' });
        await stream.started();
        await using publisher = connect(server.url);

        const acked: string[] = [];
        let stop = false;
        let n = 0;
        const lane = async () => {
          while (!stop) {
            const message = `m-${n++}`;
            try {
              await publisher.publish.mutate(agentLog('crash-agent', message));
              acked.push(message);
            } catch {
              // Not acknowledged (the server died under it): it may or may not be stored, and either is allowed.
            }
          }
        };
        const lanes = Promise.all([lane(), lane(), lane()]);
        await waitUntil('acknowledged writes before the kill', () => acked.length >= 500, 20_000);
        await server.kill();
        const ackedBeforeKill = acked.length;
        server = await spawnServer({ db, port });
        await waitUntil('acknowledged writes after the restart', () => acked.length >= ackedBeforeKill + 500, 20_000);
        stop = true;
        await lanes;

        const stored = await storedEvents(server.url);
        const storedMessages = new Set(stored.map((e) => (e.type === 'agent.log' ? e.data.message : '')));
        expect(acked.filter((m) => !storedMessages.has(m))).toEqual([]);
        await stream.atLeast(stored.length, 20_000);
        expect(stream.items.map((i) => i.data.id)).toEqual(stored.map((e) => e.id));
      } finally {
        await server[Symbol.asyncDispose]();
      }
    },
  );
});

describe('hostile input', () => {
  it(
    'answers thousands of malformed frames and requests and keeps serving good clients',
    { timeout: 60_000 },
    async () => {
      await using server = await startTestServer({ maxMessageBytes: 256 * 1024 });
      await using good = connect(server.url);
      using watching = collect(good.events, {});
      await watching.started();

      const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
      const request = (path: string, input: unknown, method = 'mutation') =>
        JSON.stringify({ id: 1, method, params: { path, input: { json: input } } });
      const frames: (string | Buffer)[] = [
        'not json',
        '{',
        '[]',
        '[1,2,3]',
        'null',
        '42',
        '{"id":1}',
        '{"id":1,"method":"nope"}',
        '{"id":1,"method":"query","params":{}}',
        request('doesNotExist', {}),
        request('publish', { type: 'agent.status', data: { agentId: 7 } }),
        request('publish', { type: 'agent.status', data: { ...agentStatus('x').data, reason: 'y'.repeat(200_000) } }),
        request(
          'publish',
          JSON.parse(
            `{"type":"agent.log","data":{"agentId":"a","level":"info","message":"m","context":{"x":${deep(2_000)}}}}`,
          ),
        ),
        deep(100_000),
        request('events', { lastEventId: 'drop table' }, 'subscription'),
        request('events', { lastEventId: '99999999999999999999' }, 'subscription'),
        Buffer.from([0xde, 0xad, 0xbe, 0xef]),
        Buffer.alloc(1024, 0xff),
      ];

      let closes = 0;
      const attack = async (rounds: number) => {
        const ws = new WebSocket(`${server.url.replace('http', 'ws')}/trpc`);
        await new Promise<void>((resolve, reject) => {
          ws.once('open', resolve);
          ws.once('error', reject);
        });
        let answers = 0;
        ws.on('message', () => answers++);
        const closed = new Promise<void>((resolve) => {
          ws.once('close', () => {
            resolve();
          });
        });
        for (let i = 0; i < rounds && ws.readyState === WebSocket.OPEN; i++) {
          for (const frame of frames) ws.send(frame);
        }
        ws.close();
        await closed;
        closes++;
        return answers;
      };
      const answered = await Promise.all(Array.from({ length: 4 }, () => attack(40)));
      expect(closes).toBe(4);
      // Every socket got answers (errors) back rather than silence.
      expect(answered.every((a) => a > 0)).toBe(true);

      // Half-open connections: a TCP connection that never finishes its handshake, and one that stops mid-way.
      const idle = tcpConnect(server.port, '127.0.0.1');
      const partial = tcpConnect(server.port, '127.0.0.1');
      partial.write('GET /trpc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');

      // /ingest garbage, hundreds of times over.
      const bodies = [
        '',
        'x',
        '{',
        '[',
        '[{}]',
        '{"type":"agent.status"}',
        deep(50_000),
        `{"type":"agent.log","data":${'['.repeat(5000)}}`,
      ];
      for (let i = 0; i < 100; i++) {
        const statuses = await Promise.all(
          bodies.map(
            async (body) =>
              (
                await fetch(`${server.url}/ingest`, {
                  method: 'POST',
                  body,
                  headers: { 'content-type': 'application/json' },
                })
              ).status,
          ),
        );
        expect(statuses.every((s) => s === 400)).toBe(true);
      }

      // The good client still works, and only its valid events were stored.
      await good.publishBatch.mutate([agentStatus('survivor'), agentLog('survivor', 'still here')]);
      await watching.atLeast(2);
      const stored = await storedEvents(server.url);
      expect(stored.map((e) => e.topic)).toEqual(['agent:survivor', 'agent:survivor']);
      idle.destroy();
      partial.destroy();
    },
  );
});
