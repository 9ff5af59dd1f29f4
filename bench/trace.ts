/**
 * The latency breakdown's tracer (server/core/trace.ts), installed in the bench's Switchboard server: while on,
 * it stamps each event's stages on the wall clock every bench process shares, keyed by the event's `data`
 * object (the validated event and its envelope share it). The frame stamps (arrival, decode) are held for the
 * events the next append queues: in the latency run each `publish` frame carries one event, and a frame's
 * handling reaches the append within the same turn, before the next frame is read.
 */
import type { EventStage, PathTracer } from '../server/core/trace.js';
import { wallMs } from './shared.js';

/** One event's stamps (wall-clock ms); `sentAt` is when the publisher made it (its `value`). */
export type TraceSample = Partial<Record<EventStage | 'received' | 'decoded' | 'sentAt', number>>;

export class BenchTracer implements PathTracer {
  private on = false;
  private received = NaN;
  private decoded = NaN;
  private samples = new Map<unknown, TraceSample>();

  frame(stage: 'received' | 'decoded'): void {
    if (!this.on) return;
    this[stage] = wallMs();
  }

  event(stage: EventStage, event: { readonly data: unknown }): void {
    if (!this.on) return;
    const key = event.data;
    let sample = this.samples.get(key);
    if (sample === undefined) {
      if (stage !== 'queued') return;
      const sentAt = (key as { value?: unknown }).value;
      sample = { sentAt: typeof sentAt === 'number' ? sentAt : NaN, received: this.received, decoded: this.decoded };
      this.samples.set(key, sample);
    }
    sample[stage] ??= wallMs();
  }

  /** The samples taken so far, and tracing on or off from now on. */
  collect(on: boolean): TraceSample[] {
    const samples = [...this.samples.values()];
    this.samples = new Map();
    this.on = on;
    return samples;
  }
}
