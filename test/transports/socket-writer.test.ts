/**
 * The socket writer against real `ws` sockets: prebuilt frames when the socket allows them, `send` when it
 * does not (compression negotiated), and in both cases every message intact and in order, within one turn and
 * across turns, for each of the three frame-length encodings.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import {
  SocketWriter,
  textFrame,
  textFrameStart,
  textFrames,
  type FrameSource,
} from '../../server/transports/ws/socket-writer.js';
import { waitUntil } from '../harness.js';

const frames: FrameSource<string> = {
  text: (head, body) => head + body,
  wire: (head, body) => textFrame(head + body),
};

async function pair(perMessageDeflate: boolean) {
  const http = createServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`, { perMessageDeflate });
  const received: string[] = [];
  client.on('message', (data: Buffer) => received.push(data.toString()));
  const server = await accepted;
  if (client.readyState !== WebSocket.OPEN) {
    await new Promise<void>((resolve) => {
      client.once('open', () => {
        resolve();
      });
    });
  }
  return {
    server,
    received,
    [Symbol.asyncDispose]: async () => {
      client.terminate();
      await new Promise<void>((resolve) => {
        wss.close(() => {
          http.close(() => {
            resolve();
          });
        });
      });
    },
  };
}

// One message per length encoding: 7-bit, 16-bit and 64-bit.
const bodies = ['x'.repeat(10), 'é'.repeat(200), 'y'.repeat(70_000)];

describe('socket writer', () => {
  for (const compressed of [false, true]) {
    it(`delivers every frame intact and in order ${compressed ? 'through send when compression is on' : 'as prebuilt frames'}`, async () => {
      await using sockets = await pair(compressed);
      const writer = new SocketWriter(sockets.server);
      expect(writer.prebuilt).toBe(!compressed);
      // One turn: the first frame goes at once, the rest are coalesced.
      for (const body of bodies) writer.write(frames, '{"n":1}', body, true);
      await new Promise<void>((resolve) => setImmediate(resolve));
      // A later turn, and a plain send in between: order holds across both paths.
      sockets.server.send('plain');
      writer.writeText('reply');
      // A reply in parts is one message, their concatenation (a large answer is written from its parts).
      const parts = ['{"parts":"', 'é'.repeat(40_000), '","tail":', '"x'.repeat(30_000), '"}'];
      writer.writeText(parts);
      for (const body of bodies) writer.write(frames, '{"n":2}', body, false);
      const expected = [
        ...bodies.map((b) => `{"n":1}${b}`),
        'plain',
        'reply',
        parts.join(''),
        ...bodies.map((b) => `{"n":2}${b}`),
      ];
      await waitUntil('all messages', () => sockets.received.length >= expected.length, 5_000);
      expect(sockets.received).toEqual(expected);
    });
  }

  it('holds frames while it is told more follow, and writes them together with the last', async () => {
    await using sockets = await pair(false);
    const writer = new SocketWriter(sockets.server);
    // What the socket holds unwritten: zero once the kernel has taken a frame.
    const held = () => (sockets.server as unknown as { _socket: { writableLength: number } })._socket.writableLength;
    writer.write(frames, '{"n":1}', 'lone', true);
    expect(held()).toBe(0);
    await new Promise<void>((resolve) => setImmediate(resolve));
    // A group commit of three events: the first two frames wait for the last, which sends all three at once.
    writer.write(frames, '{"n":2}', 'a', true, true);
    expect(held()).toBeGreaterThan(0);
    writer.write(frames, '{"n":2}', 'b', true, true);
    expect(held()).toBeGreaterThan(0);
    writer.write(frames, '{"n":2}', 'c', true, false);
    expect(held()).toBe(0);
    const expected = ['{"n":1}lone', '{"n":2}a', '{"n":2}b', '{"n":2}c'];
    await waitUntil('all messages', () => sockets.received.length >= expected.length, 5_000);
    expect(sockets.received).toEqual(expected);
  });

  it("joins a socket's own frames into a few writes, in order with shared frames and replies", async () => {
    await using sockets = await pair(false);
    const writer = new SocketWriter(sockets.server);
    // The real socket's writes, counted as they pass (each still writes).
    const stream = (sockets.server as unknown as { _socket: { write: (...args: unknown[]) => boolean } })._socket;
    const write = stream.write.bind(stream);
    let writes = 0;
    stream.write = (...args: unknown[]) => {
      writes++;
      return write(...args);
    };
    // One turn, as a replay's page: 3,000 frames of this socket's own, a shared frame and a reply among them.
    const expected: string[] = [];
    for (let i = 0; i < 3_000; i++) {
      writer.write(frames, '{"n":3}', `own ${i} ${'é'.repeat(i % 7)}`, false);
      expected.push(`{"n":3}own ${i} ${'é'.repeat(i % 7)}`);
      if (i === 1_000) {
        writer.write(frames, '{"n":4}', 'shared', true);
        expected.push('{"n":4}shared');
      }
      if (i === 2_000) {
        writer.writeText('reply');
        expected.push('reply');
      }
    }
    await waitUntil('all messages', () => sockets.received.length >= expected.length, 5_000);
    expect(sockets.received).toEqual(expected);
    // One write per frame before frames were joined; now one per run (about 60,000 characters), plus the
    // shared frame and the reply and the runs they cut.
    expect(writes).toBeLessThan(10);
  });

  it('lays out frame headers as RFC 6455 does for each length', () => {
    expect([...textFrame('hi')]).toEqual([0x81, 2, 0x68, 0x69]);
    const medium = textFrame('a'.repeat(300));
    expect([medium[0], medium[1], medium.readUInt16BE(2), medium.length]).toEqual([0x81, 126, 300, 304]);
    const large = textFrame('b'.repeat(70_000));
    expect([large[0], large[1], large.readBigUInt64BE(2), large.length]).toEqual([0x81, 127, 70_000n, 70_010]);
    // Several texts joined (a socket's own frames of a turn): each one's frame, one after another.
    const joined = textFrames(['hi', 'a'.repeat(300), 'b'.repeat(70_000)]);
    expect(joined.equals(Buffer.concat([textFrame('hi'), medium, large]))).toBe(true);
    // In parts (multi-byte characters among them): the same frame as their concatenation.
    const parts = ['{"a":"', 'é'.repeat(40_000), '","b":', '"x"}'];
    expect(textFrame(parts).equals(textFrame(parts.join('')))).toBe(true);
    // Its start alone, the rest of the payload to follow as bytes of their own: the same frame once joined.
    const head = Buffer.from('{"id":7,');
    const body = Buffer.from(`"rest":"${'é'.repeat(40_000)}"}`);
    const start = textFrameStart(head.length + body.length, head);
    expect(Buffer.concat([start, body]).equals(textFrame(`{"id":7,"rest":"${'é'.repeat(40_000)}"}`))).toBe(true);
  });
});
