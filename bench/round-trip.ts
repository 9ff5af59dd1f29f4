/**
 * The machine's own cost of one hop between two processes, which every call, commit and delivery crosses at least
 * once: 300 bytes (one event's size) written to another process over loopback TCP and one byte answered, one at a
 * time. Prints `{ mode: 'round-trip', p50, p99 }` in ms, `cpuMicros`, the CPU of both processes per round trip,
 * and `wakeMicros`, the CPU a process spends each time a 1 ms timer wakes it from idle (each side of a round trip
 * is woken once). Nothing in it is Switchboard's: on a machine whose wake-ups are dear (a virtual machine that
 * exits to its hypervisor to wake an idle core) it is the floor under every latency and under every closed loop.
 * Usage: `round-trip.ts [count]`.
 */
import { createConnection, createServer, type Socket } from 'node:net';
import { next, start } from './ipc.js';
import { percentile } from './shared.js';

/** One message: about one event's JSON. */
const messageBytes = 300;

const cpuMicros = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

if (process.argv[2] === 'echo') {
  // The other process: answers every 300 bytes read with one byte, and its CPU when asked; gone with its parent.
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    let pending = 0;
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.length;
      for (; pending >= messageBytes; pending -= messageBytes) socket.write('k');
    });
  });
  process.on('disconnect', () => process.exit(0));
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.send?.({ port: typeof address === 'object' && address ? address.port : 0 });
  });
  process.on('message', () => process.send?.({ cpuMicros: cpuMicros() }));
} else {
  const count = Number(process.argv[2] ?? 1_000);
  const waitLimitMs = 30_000;
  const echo = start('./round-trip.ts', ['echo']);
  try {
    const port = await next<number>(echo, 'port');
    const socket: Socket = createConnection(port, '127.0.0.1');
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const payload = Buffer.alloc(messageBytes, 'x');
    // One answer byte per message: a read holding two would answer two round trips at once (never seen on loopback).
    let answered = 0;
    let waiting: { at: number; resolve: () => void } | undefined;
    socket.on('data', (chunk: Buffer) => {
      answered += chunk.length;
      if (waiting && answered >= waiting.at) waiting.resolve();
    });
    let sent = 0;
    const once = () =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`round-trip: no answer within ${waitLimitMs} ms`));
        }, waitLimitMs);
        waiting = {
          at: ++sent,
          resolve: () => {
            clearTimeout(timer);
            waiting = undefined;
            resolve();
          },
        };
        socket.write(payload);
      });
    // A warm-up, then the measured ones.
    for (let i = 0; i < 100; i++) await once();
    echo.send({ cmd: 'cpu' });
    const echoBefore = await next<number>(echo, 'cpuMicros');
    const before = cpuMicros();
    const spans: number[] = [];
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      await once();
      spans.push(performance.now() - started);
    }
    const mine = cpuMicros() - before;
    echo.send({ cmd: 'cpu' });
    const theirs = (await next<number>(echo, 'cpuMicros')) - echoBefore;
    socket.destroy();
    // A wake from idle alone: nothing else runs in this process meanwhile.
    const idleBefore = cpuMicros();
    for (let i = 0; i < 300; i++) await new Promise((resolve) => setTimeout(resolve, 1));
    const wakeMicros = (cpuMicros() - idleBefore) / 300;
    spans.sort((a, b) => a - b);
    const result = {
      mode: 'round-trip',
      p50: percentile(spans, 50),
      p99: percentile(spans, 99),
      cpuMicros: (mine + theirs) / count,
      wakeMicros,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    echo.kill();
  }
}
