/**
 * Presence: an agent the hub has heard nothing of for the TTL goes `offline`, as a stored `agent.status` event
 * with a reason, so that every node, every replay and every client agrees on it.
 *
 * "Heard of" is the agent's last-seen time in the store: the moment the server took any event naming the agent
 * (its `data.agentId`, whatever the family), or a heartbeat (`EventStore.heartbeat`, which stores no event). An
 * agent is live while its status is anything but `offline`; it comes back with its next status.
 *
 * Every node sweeps, and exactly one writes each offline event: the sweep appends it with a condition
 * (`AppendBatch.ifSilent`) that the store checks inside the append transaction, under the lock every append
 * in the cluster takes (PostgreSQL: the head row, and the agent's row against heartbeats). The first node to
 * commit turns the agent offline; for every other node the condition no longer holds and it stores nothing.
 * An event about the agent that commits first (on any node, or earlier in the same group commit) wins the same
 * way. Nothing depends on which node sweeps when, nor on memory: a restarted node finds the silence in the store.
 */
import type { EventEnvelope, ValidEvent } from '@switchboard/shared';
import type { Hub } from './hub.js';
import type { AgentTouches } from './state.js';
import type { SilenceCondition } from './store.js';

/** The value of `source` on the offline events the hub writes itself. */
export const presenceSource = 'switchboard';

/**
 * The store's half of the one-writer rule, the same for every store: the agent has a status other than
 * `offline`, was last seen at or before the sweep's cutoff, and no event of the commit so far names it.
 */
export function isStillSilent(
  row: { status: string; seenAt: number } | undefined,
  condition: SilenceCondition,
  touches: AgentTouches,
): boolean {
  return (
    row !== undefined &&
    row.status !== 'offline' &&
    row.seenAt <= condition.seenBefore &&
    !touches.has(condition.agentId)
  );
}

/** `60 s`, `300 ms`: a duration as the offline reason and the logs say it. */
export function formatDuration(ms: number): string {
  return ms < 1_000 ? `${ms} ms` : `${Number((ms / 1_000).toFixed(1))} s`;
}

export interface PresenceOptions {
  hub: Pick<Hub, 'presence' | 'append'>;
  /** Silence after which an agent goes offline; more than 0 (0 turns presence off: start no sweeper). */
  ttlMs: number;
  /** The sweeper's clock, epoch ms; the hub's (`HubOptions.now`) must be the same one. Tests pass a double. */
  now?: () => number;
  /** Time between sweeps: a quarter of the TTL by default, from 25 ms to 5 s. */
  intervalMs?: number;
  /** Told of the offline events a sweep stored (none: not called). */
  onOffline?: (envelopes: EventEnvelope[]) => void;
  /** Told when a sweep failed (the store unreachable, say); the next sweep tries again. */
  onError?: (error: unknown) => void;
}

/** Reads the silent agents and writes their offline events, once per interval once started. */
export class PresenceSweeper {
  private readonly now: () => number;
  readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private busy = false;

  constructor(private readonly options: PresenceOptions) {
    if (!(options.ttlMs > 0)) throw new RangeError(`the presence TTL must be more than 0 ms (got ${options.ttlMs})`);
    this.now = options.now ?? Date.now;
    this.intervalMs = options.intervalMs ?? Math.min(5_000, Math.max(25, Math.round(options.ttlMs / 4)));
  }

  /**
   * One sweep: every agent silent for the TTL gets its offline event, each stored only if it is still silent
   * when its append commits. Resolves with the events this call stored (none for an agent another node, or an
   * event about it, got to first).
   */
  async sweep(): Promise<EventEnvelope[]> {
    const { hub, ttlMs } = this.options;
    const seenBefore = this.now() - ttlMs;
    const silent = await hub.presence({ seenBefore });
    const reason = `no event or heartbeat for ${formatDuration(ttlMs)}`;
    // Appended in one turn: the hub stores them in as few group commits as its cap allows, each under its own
    // condition.
    const stored = await Promise.all(
      silent.map(({ status }) => {
        const { agentId, agentType } = status.data;
        const offline: ValidEvent = {
          type: 'agent.status',
          source: presenceSource,
          data: { agentId, agentType, status: 'offline', reason },
        };
        return hub.append([offline], '', { ifSilent: { agentId, seenBefore } });
      }),
    );
    return stored.flat();
  }

  /** Sweeps every interval until stopped; a sweep still running when the next is due is not doubled. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      this.running = this.sweep()
        .then(
          (stored) => {
            if (stored.length > 0) this.options.onOffline?.(stored);
          },
          (error: unknown) => {
            this.options.onError?.(error);
          },
        )
        .finally(() => {
          this.busy = false;
        });
    }, this.intervalMs);
    // Presence never keeps the process alive by itself.
    this.timer.unref();
  }

  /** Stops sweeping; resolves once a sweep under way has finished. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
