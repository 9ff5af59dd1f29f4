/**
 * Events per second over a sliding window, per series (an event family, an agent), counted in fixed buckets.
 * Memory is bounded whatever arrives: `buckets` numbers per series and at most `maxSeries` series; events of
 * further series are counted under `otherName`, and a series with nothing left in the window is dropped.
 */
export interface RateSeries {
  name: string;
  /** Events per second in each bucket, oldest first; null before the window's counting began. */
  rates: (number | null)[];
  /** Events in the window. */
  total: number;
}

export interface Rates {
  /** The start of each bucket, in seconds since the epoch (uPlot's time scale). */
  times: number[];
  series: RateSeries[];
}

export class RateWindow {
  private readonly counts = new Map<string, Float64Array>();
  /** The index (time / bucketMs) of the newest bucket; the ring holds `buckets` up to and including it. */
  private newest: number;
  /** Buckets before this index were never counted (the page opened, or its history reached back, only so far). */
  private since: number;

  constructor(
    private readonly bucketMs: number,
    private readonly buckets: number,
    private readonly maxSeries: number,
    private readonly otherName: string,
    now: number,
  ) {
    this.newest = Math.floor(now / bucketMs);
    this.since = this.newest;
  }

  /** Counting covers everything from `time` on (history read back to it), within the window. */
  coveredFrom(time: number): void {
    this.since = Math.max(this.newest - this.buckets + 1, Math.min(this.since, Math.floor(time / this.bucketMs)));
  }

  add(name: string, time: number): void {
    const index = Math.floor(time / this.bucketMs);
    if (index > this.newest) this.advance(time);
    if (index <= this.newest - this.buckets) return;
    let ring = this.counts.get(name);
    if (!ring) {
      const key = this.counts.size < this.maxSeries || name === this.otherName ? name : this.otherName;
      ring = this.counts.get(key);
      if (!ring) this.counts.set(key, (ring = new Float64Array(this.buckets)));
    }
    ring[index % this.buckets] = (ring[index % this.buckets] ?? 0) + 1;
  }

  /** Moves the window on to `now`, clearing the buckets it leaves behind. */
  advance(now: number): void {
    const index = Math.floor(now / this.bucketMs);
    if (index <= this.newest) return;
    const passed = Math.min(index - this.newest, this.buckets);
    for (const [name, ring] of this.counts) {
      for (let i = 1; i <= passed; i++) ring[(this.newest + i) % this.buckets] = 0;
      if (ring.every((n) => n === 0)) this.counts.delete(name);
    }
    this.newest = index;
    this.since = Math.max(this.since, index - this.buckets + 1);
  }

  /** The window at `now`: per series, events per second in each bucket (the newest over the part gone by). */
  read(now: number): Rates {
    this.advance(now);
    const first = this.newest - this.buckets + 1;
    const times = Array.from({ length: this.buckets }, (_, i) => ((first + i) * this.bucketMs) / 1000);
    const elapsed = Math.min(this.bucketMs, Math.max(1_000, now - this.newest * this.bucketMs)) / 1000;
    const series: RateSeries[] = [];
    for (const [name, ring] of this.counts) {
      let total = 0;
      const rates = times.map((_, i) => {
        const index = first + i;
        if (index < this.since) return null;
        const n = ring[index % this.buckets] ?? 0;
        total += n;
        return n / (index === this.newest ? elapsed : this.bucketMs / 1000);
      });
      series.push({ name, rates, total });
    }
    return { times, series };
  }
}
