/**
 * The fault proxy itself, against an echo server on loopback: what each fault does to bytes in flight, so the
 * cluster tests that rely on it (cluster-proxy.test.ts) test the nodes and not the proxy.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy } from '../fault-proxy.js';
import { waitUntil } from '../harness.js';

let echo: net.Server;
let echoPort = 0;

beforeAll(async () => {
  echo = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  const address = echo.address();
  if (address === null || typeof address === 'string') throw new Error('no echo address');
  echoPort = address.port;
});

afterAll(async () => {
  await new Promise((resolve) => echo.close(resolve));
});

/** A client of the proxy that records what comes back and how its connection ended. */
async function client(port: number) {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const state = { received: '', error: undefined as (Error & { code?: string }) | undefined, closed: false };
  socket.on('data', (chunk: Buffer) => (state.received += chunk.toString()));
  socket.on('error', (error) => (state.error = error));
  socket.on('close', () => (state.closed = true));
  return { socket, state };
}

describe('fault proxy', () => {
  it('forwards both ways, and delays every chunk by the latency, in order', async () => {
    await using proxy = await startFaultProxy({ port: echoPort });
    const { socket, state } = await client(proxy.port);
    socket.write('a');
    await waitUntil('the echo', () => state.received === 'a', 5_000);
    proxy.latency(150);
    const sent = performance.now();
    socket.write('b');
    socket.write('c');
    await waitUntil('the delayed echo', () => state.received === 'abc', 5_000);
    // 150 ms each way; timers may fire a millisecond early.
    expect(performance.now() - sent).toBeGreaterThanOrEqual(295);
    socket.destroy();
  });

  it('holds everything in a black hole, new connections too, and delivers it in order once healed', async () => {
    await using proxy = await startFaultProxy({ port: echoPort });
    const first = await client(proxy.port);
    first.socket.write('1');
    await waitUntil('the echo', () => first.state.received === '1', 5_000);
    proxy.blackHole();
    first.socket.write('2');
    first.socket.write('3');
    const second = await client(proxy.port);
    second.socket.write('x');
    // Once the proxy holds the three bytes, nothing of them can come back before the heal.
    await waitUntil('the bytes held', () => proxy.held() === 3, 5_000);
    expect([first.state.received, second.state.received, first.state.closed]).toEqual(['1', '', false]);
    proxy.heal();
    await waitUntil('the held bytes', () => first.state.received === '123' && second.state.received === 'x', 5_000);
    first.socket.destroy();
    second.socket.destroy();
  });

  it('black-holes from the first chunk containing a marker', async () => {
    await using proxy = await startFaultProxy({ port: echoPort });
    const { socket, state } = await client(proxy.port);
    const fired = proxy.blackHoleOn('COMMIT');
    socket.write('BEGIN;');
    await waitUntil('the echo', () => state.received === 'BEGIN;', 5_000);
    socket.write('COMMIT;');
    await fired;
    socket.write('more');
    await waitUntil('the bytes held', () => proxy.held() === 'COMMIT;more'.length, 5_000);
    expect(state.received).toBe('BEGIN;');
    proxy.heal();
    await waitUntil('the held bytes', () => state.received === 'BEGIN;COMMIT;more', 5_000);
    socket.destroy();
  });

  it('resets every open connection, and accepts new ones afterwards', async () => {
    await using proxy = await startFaultProxy({ port: echoPort });
    const { socket, state } = await client(proxy.port);
    socket.write('a');
    await waitUntil('the echo', () => state.received === 'a', 5_000);
    expect(proxy.reset()).toBe(1);
    await waitUntil('the reset', () => state.closed, 5_000);
    expect(state.error?.code).toBe('ECONNRESET');
    const again = await client(proxy.port);
    again.socket.write('b');
    await waitUntil('the echo on a new connection', () => again.state.received === 'b', 5_000);
    again.socket.destroy();
  });

  it('refuses a target that is not on loopback', async () => {
    await expect(startFaultProxy({ host: '10.0.0.1', port: 5432 })).rejects.toThrow(/not loopback/);
  });
});
