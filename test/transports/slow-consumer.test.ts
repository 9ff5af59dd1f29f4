/**
 * A subscriber that stops reading while 100,000 events are published: the server cuts it off with 4008 once
 * its unsent bytes pass the limit, other subscribers are unaffected, and the cut subscriber resumes from its
 * cursor with every event exactly once.
 *
 * What the server bounds is the bytes it holds for a connection: the slow-consumer limit. The test reads that
 * figure (the peak of any connection's unsent bytes, checked before every delivery) rather than the process's
 * resident memory: on a machine whose other core is busy, RSS swings by 200 MiB with garbage collection and
 * allocator arenas (measured: +65 to +230 MiB over the same run), which says more about the machine than about
 * what the server keeps, and the whole 100,000-event backlog is only ~30 MB of frames.
 */
import { connect as tcpConnect } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { agentStatus } from '../fixtures.js';
import { collect, connect, spawnServer, tempDir, waitUntil } from '../harness.js';

const total = 100_000;
const batch = 1_000;
const limit = 256 * 1024;

/** A client WebSocket text frame, masked as RFC 6455 requires (a zero mask leaves the payload as is). */
function clientFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const header =
    payload.length < 126
      ? Buffer.from([0x81, 0x80 | payload.length])
      : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([header, Buffer.from([0, 0, 0, 0]), payload]);
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

describe('slow consumers', () => {
  it(
    'cuts a subscriber that stops reading, keeps memory bounded, and loses nothing',
    { timeout: 120_000 },
    async () => {
      using dir = tempDir();
      await using server = await spawnServer({
        db: dir.file('slow.db'),
        flags: ['--slow-consumer-bytes', String(limit), '--publish-rate', '1000000'],
      });

      // The slow subscriber: a hand-made WebSocket that subscribes to everything, then never reads again.
      const slow = tcpConnect(server.port, '127.0.0.1');
      let received = '';
      slow.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
      });
      slow.write(
        'GET /trpc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      await waitUntil('the handshake', () => received.includes('101 Switching Protocols'));
      slow.write(
        clientFrame(
          JSON.stringify({
            id: 1,
            method: 'subscription',
            params: { path: 'events', input: { json: { lastEventId: '0' } } },
          }),
        ),
      );
      await waitUntil('the subscription to start', () => received.includes('"started"'));
      slow.pause();

      // A well-behaved subscriber, reading everything throughout.
      await using reader = connect(server.url);
      using steady = collect(reader.events, { lastEventId: '0' });
      await steady.started();

      // Once the server cuts the stuck socket, read again at once: the server waits only so long (ws: 30 s) for a
      // peer to take its close frame before destroying the socket.
      const closeFrame = Buffer.concat([
        Buffer.from([0x0f, 0xa8]),
        Buffer.from('slow consumer: over 262144 bytes unsent'),
      ]);
      let cut = false;
      const watchForCut = async () => {
        if (!cut && (await metric(server.url, 'switchboard_slow_consumer_disconnects_total')) === 1) {
          cut = true;
          slow.resume();
        }
      };

      await using publisher = connect(server.url);
      for (let i = 0; i < total; i += batch) {
        await publisher.publishBatch.mutate(
          Array.from({ length: batch }, (_, j) => agentStatus(`agent-${(i + j) % 50}`)),
        );
        await watchForCut();
      }
      await vi.waitFor(
        async () => {
          await watchForCut();
          expect(cut).toBe(true);
        },
        { timeout: 20_000, interval: 50 },
      );
      // Reading again drained what was buffered before the cut, then the close frame: code 4008 and its reason.
      await waitUntil('the 4008 close frame', () => received.includes(closeFrame.toString('latin1')), 20_000);

      // Everyone else got everything, in order, while the slow one was stuck.
      await steady.atLeast(total, 60_000);
      expect(steady.items).toHaveLength(total);
      expect(steady.items.every((item, i) => item.data.id === String(i + 1))).toBe(true);
      // No connection ever held more than the limit plus the frame that crossed it (one event, well under 64 KiB);
      // the stuck one did cross it, which is what cut it. Without the cut it would have held the 30 MB backlog.
      const peakUnsent = await metric(server.url, 'switchboard_unsent_bytes_peak');
      expect(peakUnsent).toBeGreaterThan(limit);
      expect(peakUnsent).toBeLessThan(limit + 64 * 1024);

      // The cut subscriber comes back from its cursor (it had seen nothing) and gets every event exactly once.
      await using back = connect(server.url);
      using resumed = collect(back.events, { lastEventId: '0' });
      await resumed.atLeast(total, 60_000);
      expect(resumed.items).toHaveLength(total);
      expect(resumed.items.every((item, i) => item.data.id === String(i + 1))).toBe(true);
      slow.destroy();
    },
  );
});
