/**
 * Durability `full` without holding the event loop (see `openDatabase`): after a commit the store asks for the
 * write-ahead log to be on disk, and the fsync runs on libuv's thread pool while the loop goes on reading and
 * writing frames. The rules that keep the guarantee:
 * - an append is answered only once the fsync that follows its commit has finished, so nothing is acknowledged,
 *   published or streamed before it is on disk;
 * - while a sync is in flight no other statement runs: a read waits for it (so it never returns a commit that is
 *   not on disk yet), and so does the next commit (which gathers the appends that arrive meanwhile: group
 *   commit grows with the disk's latency instead of the loop stalling on it);
 * - a failed fsync is final: the kernel may have dropped the pages it could not write, and a later fsync
 *   could succeed without them. Every later write is refused (reads go on); a restart recovers from the file.
 */
import { close, fsync, open } from 'node:fs';

/** Flushes a file descriptor to disk; the real one runs on the thread pool. Tests pass a gated or failing one. */
export type Fsync = (fd: number) => Promise<void>;

const fsyncOnPool: Fsync = (fd) =>
  new Promise((resolve, reject) => {
    fsync(fd, (error) => {
      if (error) reject(error);
      else resolve();
    });
  });

const openForSync = (path: string): Promise<number> =>
  new Promise((resolve, reject) => {
    open(path, 'r', (error, fd) => {
      if (error) reject(error);
      else resolve(fd);
    });
  });

/** Runs a synchronous function now, as a promise: a throw becomes a rejection. */
function now<T>(fn: () => T | Promise<T>): Promise<T> {
  return new Promise((resolve) => {
    resolve(fn());
  });
}

export class WalSyncError extends Error {
  override name = 'WalSyncError';
}

export class WalSync {
  private fd: Promise<number> | undefined;
  private inFlight: Promise<void> | undefined;
  private failure: Error | undefined;

  /** `path`: the WAL file to sync after each commit; undefined when SQLite's own setting is the durability. */
  constructor(
    private readonly path: string | undefined,
    private readonly fsyncFd: Fsync = fsyncOnPool,
  ) {}

  /** Runs `read` once no sync is in flight, so it sees only what is on disk. */
  read<T>(read: () => T): Promise<T> {
    const attempt = (): Promise<T> => (this.inFlight ? this.inFlight.then(attempt, attempt) : now(read));
    return attempt();
  }

  /**
   * Runs `commit` once no sync is in flight, then syncs the WAL; resolves with its result once that is on disk.
   * A throw from `commit` (rolled back: nothing to sync) rejects as it is.
   */
  write<T>(commit: () => T): Promise<T> {
    const attempt = (): Promise<T> => {
      // Several may wait on one sync: the first to run starts the next, and the rest wait for that one.
      if (this.inFlight) return this.inFlight.then(attempt, attempt);
      return now(() => {
        if (this.failure) throw this.failure;
        const result = commit();
        return this.path === undefined ? result : this.sync(this.path).then(() => result);
      });
    };
    return attempt();
  }

  /** Waits for the sync in flight, then closes the file it syncs. */
  async close(): Promise<void> {
    await this.inFlight?.catch(() => undefined);
    const fd = await this.fd?.catch(() => undefined);
    this.fd = undefined;
    if (fd !== undefined)
      await new Promise((resolve) => {
        close(fd, resolve);
      });
  }

  private sync(path: string): Promise<void> {
    const done: Promise<void> = (async () => {
      try {
        this.fd ??= openForSync(path);
        await this.fsyncFd(await this.fd);
      } catch (error) {
        this.failure = new WalSyncError(
          `the write-ahead log ${path} could not be synced to disk (${error instanceof Error ? error.message : String(error)}); ` +
            'no write is accepted after that: restart the server (what was acknowledged before is on disk)',
          { cause: error },
        );
        throw this.failure;
      }
    })().finally(() => {
      if (this.inFlight === done) this.inFlight = undefined;
    });
    this.inFlight = done;
    return done;
  }
}
