/**
 * Where the tests and the bench find PostgreSQL and Redis (this machine's own, on loopback), and how they tell
 * whether one is running. No test framework here, so the bench can use it too.
 */
import net from 'node:net';

export const pgUrl = 'postgres://postgres@127.0.0.1:5432/test';
export const redisUrl = 'redis://127.0.0.1:6379';

/** A TCP connect within a second: enough to tell "running" from "not here". */
export function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, timeout: 1_000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => {
      done(true);
    });
    socket.once('error', () => {
      done(false);
    });
    socket.once('timeout', () => {
      done(false);
    });
  });
}
