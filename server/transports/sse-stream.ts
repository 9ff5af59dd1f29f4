/**
 * One open event stream: its response, its push-mode subscription, and the two clocks the transport's sweep
 * reads (when it last wrote, for pings; since when it has waited for the socket, for the stall bound).
 */
import type { ServerResponse } from 'node:http';
import type { OpenPush } from '../core/push-source.js';
import { runChars } from '../core/text-runs.js';
import { replayWindowCapBytes } from '../security/limits.js';

export class SseStream {
  open: OpenPush | undefined;
  lastWrite = performance.now();
  /** Since when the stream has waited for the socket to drain; undefined while it is not waiting. */
  stalledSince: number | undefined;
  private onDrain: (() => void) | undefined;

  /** Unsent bytes the response may hold before the stream waits: the connection's replay window. */
  windowBytes = replayWindowCapBytes;
  ping = '';

  constructor(
    readonly res: ServerResponse,
    readonly controller: AbortController,
  ) {}

  /**
   * What was written in this turn and not yet handed to the response. Every message of a turn (a replay's page, a
   * group commit's events) goes to the response in runs of about `runChars` (server/core/text-runs.ts), at the end
   * of the turn or as a run fills: one response write, one chunk of the chunked body and one socket write where a
   * write per message cost each its own (a plain reader's replay spent a quarter of the server's time there).
   */
  private run = '';
  private flushing = false;
  private readonly flushLater = () => {
    this.flushing = false;
    this.flush();
  };

  write(text: string): void {
    this.lastWrite = performance.now();
    if (text === '') return;
    this.run += text;
    if (this.run.length >= runChars) this.flush();
    else if (!this.flushing) {
      this.flushing = true;
      process.nextTick(this.flushLater);
    }
  }

  /** Hands what was written to the response now; dropped once the response has ended (the reader is gone). */
  flush(): void {
    const text = this.run;
    if (text === '') return;
    this.run = '';
    if (!this.res.writableEnded && !this.res.destroyed) this.res.write(text);
  }

  /** True while the unsent bytes are within the window; otherwise calls `resume` once the socket drains. */
  roomFor(resume: () => void): boolean {
    if (this.res.writableLength + this.run.length <= this.windowBytes) return true;
    // What the response itself cannot send decides: past the window its last write returned false, and only then
    // does it emit `drain`.
    this.flush();
    if (this.res.writableLength <= this.windowBytes) return true;
    this.stalledSince ??= performance.now();
    if (this.onDrain === undefined) {
      this.onDrain = () => {
        this.onDrain = undefined;
        this.stalledSince = undefined;
        resume();
      };
      // Past the window, the last write returned false, so the response emits `drain` once the socket empties.
      this.res.once('drain', this.onDrain);
    }
    return false;
  }

  end(): void {
    this.controller.abort();
    this.open?.stop();
    this.open = undefined;
  }
}
