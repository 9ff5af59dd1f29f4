/**
 * One open event stream: its response, its push-mode subscription, and the two clocks the transport's sweep
 * reads (when it last wrote, for pings; since when it has waited for the socket, for the stall bound).
 */
import type { ServerResponse } from 'node:http';
import type { OpenPush } from '../core/push-source.js';
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

  write(text: string): void {
    this.res.write(text);
    this.lastWrite = performance.now();
  }

  /** True while the unsent bytes are within the window; otherwise calls `resume` once the socket drains. */
  roomFor(resume: () => void): boolean {
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
