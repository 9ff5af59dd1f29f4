/**
 * WAL checkpoints off the event loop. SQLite copies the write-ahead log back into the database file every 1,000
 * pages by itself, inside whichever commit crosses that line: a page copy of megabytes and two fsyncs (the WAL
 * before, the database after), holding the event loop for tens of milliseconds, every few thousand events. Here
 * the store's connection never checkpoints on its own below a far larger backstop; a worker thread with a
 * connection of its own runs PASSIVE checkpoints (which never block the writer or the readers) at most every
 * `intervalMs`, after commits. A checkpoint syncs as SQLite's own does, so durability is unchanged; if the
 * worker fails, the backstop still bounds the log. The worker starts with the first checkpoint it is asked for.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** Failed checkpoints after which no more are asked for (each is reported). */
const maxFailures = 3;

/** Pages the log may grow to before the store's own connection checkpoints anyway (64 MiB at 4 KiB pages). */
export const backstopPages = 16_384;

// The worker's code, self-contained (it runs from a string, so it resolves nothing relative to this file).
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = NORMAL');
parentPort.on('message', (message) => {
  if (message === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ ok: true, busy: result.busy, log: result.log, checkpointed: result.checkpointed });
  } catch (error) {
    parentPort.postMessage({ ok: false, message: String((error && error.message) || error) });
  }
});
`;

export interface CheckpointResult {
  ok: boolean;
  /** WAL frames in the log, and how many of them are in the database now. */
  log?: number;
  checkpointed?: number;
  message?: string;
}

export class Checkpointer {
  private worker: Worker | undefined;
  private running = false;
  private last = 0;
  private closed = false;
  /** What the last checkpoint did (tests and `/metrics` may read it). */
  lastResult: CheckpointResult | undefined;
  failures = 0;

  constructor(
    sqlite: Database.Database,
    private readonly path: string,
    private readonly intervalMs = 250,
    private readonly onFailure: (message: string) => void = () => undefined,
  ) {
    sqlite.pragma(`wal_autocheckpoint = ${backstopPages}`);
  }

  /** After a commit: asks the worker for a checkpoint if none is running and the last began long enough ago. */
  committed(): void {
    // A worker that cannot even start is not retried for ever: the backstop checkpoints instead.
    if (this.closed || this.running || this.failures >= maxFailures) return;
    const now = performance.now();
    if (now - this.last < this.intervalMs) return;
    this.last = now;
    this.running = true;
    const worker = (this.worker ??= this.start());
    worker.postMessage('checkpoint');
  }

  /** Stops the worker, after the checkpoint it is running (if any). */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    // Waited on now: an unreferenced worker would let the process end with this await still pending.
    worker.ref();
    worker.postMessage('close');
    await exited;
  }

  private start(): Worker {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(workerSource, { eval: true, workerData: { driver, path: this.path } });
    // The worker must never keep the process alive: a server that is done exits.
    worker.unref();
    worker.on('message', (result: CheckpointResult) => {
      this.running = false;
      this.lastResult = result;
      if (!result.ok) this.fail(result.message ?? 'unknown error');
    });
    worker.on('error', (error) => {
      this.running = false;
      this.worker = undefined;
      this.fail(error.message);
    });
    return worker;
  }

  private fail(message: string): void {
    this.failures++;
    this.onFailure(`WAL checkpoint failed (${message}); the log is still bounded by the store's own checkpoints`);
  }
}
