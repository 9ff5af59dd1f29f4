/**
 * The activity chart's counting (web/src/activity/rates.ts): events per second per series over a sliding
 * window, bounded in memory whatever arrives. Times are passed in, so nothing here waits.
 */
import { describe, expect, it } from 'vitest';
import { RateWindow } from '../../web/src/activity/rates.js';

const second = 1_000;
/** A moment on a bucket boundary, so that bucket arithmetic reads plainly. */
const t0 = 1_800_000_000_000;

describe('RateWindow', () => {
  it('gives events per second in each bucket, the current one over the part gone by', () => {
    const window = new RateWindow(5 * second, 4, 10, 'other', t0);
    window.coveredFrom(t0 - 15 * second);
    for (let i = 0; i < 10; i++) window.add('agent', t0 - 6 * second); // in the bucket from t0 - 10 s
    for (let i = 0; i < 3; i++) window.add('agent', t0 + 1 * second);
    window.add('workflow', t0 - 14 * second);
    const rates = window.read(t0 + 2 * second);
    expect(rates.times).toEqual([t0 - 15 * second, t0 - 10 * second, t0 - 5 * second, t0].map((t) => t / 1000));
    const byName = Object.fromEntries(rates.series.map((s) => [s.name, s]));
    // 10 events in 5 s: 2/s; 3 events in the 2 s of the current bucket so far: 1.5/s.
    expect(byName.agent).toEqual({ name: 'agent', rates: [0, 2, 0, 1.5], total: 13 });
    expect(byName.workflow).toEqual({ name: 'workflow', rates: [0.2, 0, 0, 0], total: 1 });
  });

  it('forgets what slides out of the window, series and all, and ignores what arrives too old', () => {
    const window = new RateWindow(5 * second, 4, 10, 'other', t0);
    window.add('agent', t0);
    window.add('tdd', t0 + 16 * second);
    window.add('system', t0 - 60 * second);
    expect(window.read(t0 + 16 * second).series.map((s) => [s.name, s.total])).toEqual([
      ['agent', 1],
      ['tdd', 1],
    ]);
    // 20 s on, the bucket of t0 has left the window: so has the series that had nothing else.
    expect(window.read(t0 + 20 * second).series.map((s) => s.name)).toEqual(['tdd']);
    expect(window.read(t0 + 60 * second).series).toEqual([]);
  });

  it('holds at most maxSeries series; the rest are counted as one', () => {
    const window = new RateWindow(5 * second, 180, 3, 'other agents', t0);
    for (let i = 0; i < 1_000; i++) window.add(`agent-${i}`, t0);
    const series = window.read(t0).series;
    expect(series.map((s) => [s.name, s.total])).toEqual([
      ['agent-0', 1],
      ['agent-1', 1],
      ['agent-2', 1],
      ['other agents', 997],
    ]);
  });

  it('draws nothing before counting began: the page opened, or its history reached back, only so far', () => {
    const window = new RateWindow(5 * second, 4, 10, 'other', t0);
    window.add('agent', t0);
    expect(window.read(t0 + 1 * second).series[0]?.rates).toEqual([null, null, null, 1]);
    window.coveredFrom(t0 - 7 * second);
    expect(window.read(t0 + 1 * second).series[0]?.rates).toEqual([null, 0, 0, 1]);
    // Never further back than the window.
    window.coveredFrom(0);
    expect(window.read(t0 + 1 * second).series[0]?.rates).toEqual([0, 0, 0, 1]);
  });
});
