/**
 * Keepalive for every connection from one timer, checking a timestamp per connection: a PING after `pingMs`
 * without any message from the peer, and the connection terminated when `pongWaitMs` more pass in silence.
 * Nothing is scheduled or re-armed per connection or per message (tRPC's own adapter arms two timers per
 * connection and re-arms them on every message).
 */

export interface KeepAliveOptions {
  /** How long a connection may be quiet before it is pinged, in milliseconds. */
  pingMs: number;
  /** How long a pinged connection may stay quiet before it is terminated, in milliseconds. */
  pongWaitMs: number;
}

/** What the sweep needs of a connection; its two timestamps are `performance.now()` values. */
export interface KeptAlive {
  /** When the peer last sent anything: any message counts as an answer, as in tRPC's own adapter. */
  readonly lastSeen: number;
  /** When it was pinged and has not answered since; kept by the sweep. */
  pingedAt: number | undefined;
  ping(): void;
  terminate(): void;
}

export class KeepAlive {
  private readonly connections = new Set<KeptAlive>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly options: KeepAliveOptions) {
    const { pingMs, pongWaitMs } = options;
    // Checking four times per interval: a ping or a cut comes at most a quarter interval late.
    this.timer = setInterval(
      () => {
        this.sweep(performance.now());
      },
      Math.max(5, Math.min(pingMs, pongWaitMs) / 4),
    );
    this.timer.unref();
  }

  add(connection: KeptAlive): void {
    this.connections.add(connection);
  }

  delete(connection: KeptAlive): void {
    this.connections.delete(connection);
  }

  private sweep(now: number): void {
    const { pingMs, pongWaitMs } = this.options;
    for (const connection of this.connections) {
      const { pingedAt } = connection;
      if (pingedAt === undefined || connection.lastSeen > pingedAt) {
        if (pingedAt !== undefined) connection.pingedAt = undefined;
        if (now - connection.lastSeen < pingMs) continue;
        connection.pingedAt = now;
        connection.ping();
      } else if (now - pingedAt >= pongWaitMs) {
        connection.terminate();
      }
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}
