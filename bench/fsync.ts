/**
 * The disk's own latency for what durability `full` waits on: appending 4 KiB to a file and `fdatasync`, one at a
 * time, as a commit's WAL sync does. Prints `{ mode: 'fsync', p50, p99, max }` in ms: the floor under any
 * latency that includes a durable commit, whatever the server does.
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const count = Number(process.argv[2] ?? 300);
const dir = mkdtempSync(join(tmpdir(), 'switchboard-fsync-'));
const fd = openSync(join(dir, 'log'), 'w');
const page = Buffer.alloc(4096, 1);
const spans: number[] = [];
for (let i = 0; i < count; i++) {
  const started = performance.now();
  writeSync(fd, page);
  fdatasyncSync(fd);
  spans.push(performance.now() - started);
}
closeSync(fd);
rmSync(dir, { recursive: true });
spans.sort((a, b) => a - b);
const at = (p: number) => spans[Math.min(spans.length - 1, Math.floor(p * spans.length))] ?? NaN;
process.stdout.write(`${JSON.stringify({ mode: 'fsync', p50: at(0.5), p99: at(0.99), max: at(1) })}\n`);
