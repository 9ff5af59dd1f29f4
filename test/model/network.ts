/**
 * The bus between the model's nodes: a transport per node whose messages wait in flight until the schedule
 * delivers, drops or duplicates one of them, in any order; and a fake clock per node for the head check. Both
 * are doubles of what the `BusTransport` contract allows (lost, repeated, reordered, late messages) and of
 * time, nothing else.
 */
import type { BusMessage, BusTransport, TransportState } from '../../server/core/bus.js';
import type { Every } from '../../server/core/sequencer.js';

/** What a node's transport sends: the events themselves (Redis), a doorbell with the head (NOTIFY), or either. */
export type BusKind = 'events' | 'doorbell' | 'mixed';

interface InFlight {
  to: number;
  message: BusMessage;
}

export class ModelNetwork {
  readonly inFlight: InFlight[] = [];
  private readonly receivers = new Map<number, (message: BusMessage) => void>();
  private readonly states = new Map<number, (state: TransportState) => void>();
  private sent = 0;

  constructor(
    private readonly nodes: number,
    private readonly kind: BusKind,
  ) {}

  transport(node: number): BusTransport {
    return {
      name: 'model',
      publish: (events) => {
        const last = events.at(-1);
        if (!last) return;
        const doorbell = this.kind === 'doorbell' || (this.kind === 'mixed' && this.sent++ % 2 === 1);
        const message: BusMessage = doorbell ? { head: Number(last.id) } : { events };
        // To every node, this one included (a transport may or may not loop back; the sequencer must not care).
        for (let to = 0; to < this.nodes; to++) this.inFlight.push({ to, message });
      },
      start: (onMessage, onState) => {
        this.receivers.set(node, onMessage);
        this.states.set(node, onState);
        onState('up');
        return Promise.resolve();
      },
      close: () => Promise.resolve(),
    };
  }

  /**
   * Delivers (or drops, or delivers and keeps for a second time) the message at `pick`, modulo those in flight;
   * says which it was.
   */
  act(pick: number, mode: 'deliver' | 'drop' | 'duplicate'): string {
    if (this.inFlight.length === 0) return 'nothing in flight';
    const i = pick % this.inFlight.length;
    const flight = this.inFlight[i];
    if (!flight) return 'nothing in flight';
    if (mode !== 'duplicate') this.inFlight.splice(i, 1);
    if (mode !== 'drop') this.receivers.get(flight.to)?.(flight.message);
    const { message } = flight;
    const what =
      'head' in message ? `doorbell head ${message.head}` : `events ${message.events.map((e) => e.id).join(',')}`;
    return `${what} to n${flight.to}`;
  }

  /** The node's transport goes down and comes back, as a reconnecting Redis or NOTIFY listener reports it. */
  bounce(node: number): void {
    const report = this.states.get(node);
    report?.('down');
    report?.('up');
  }
}

/** A node's clock: `tick()` runs the head check once, as its interval would. */
export class FakeClock {
  private readonly ticks = new Set<() => void>();

  readonly every: Every = (_ms, tick) => {
    this.ticks.add(tick);
    return () => this.ticks.delete(tick);
  };

  tick(): void {
    for (const tick of this.ticks) tick();
  }
}
