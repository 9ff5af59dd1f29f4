/** Large texts cut into runs of moderate ones (server/core/text-runs.ts): order kept, nothing lost, bounds held. */
import { describe, expect, it } from 'vitest';
import { inRuns } from '../../server/core/text-runs.js';

describe('inRuns', () => {
  const length = (text: string) => text.length;

  it('keeps every item in order, each run within the limit', () => {
    const items = Array.from({ length: 50 }, (_, i) => 'x'.repeat(1 + (i % 7)));
    const runs = inRuns(items, length, 10);
    expect(runs.flat()).toEqual(items);
    for (const run of runs) expect(run.map(length).reduce((a, b) => a + b)).toBeLessThanOrEqual(10);
    // Each run but the last is full: the next item would not have fit.
    for (const [i, run] of runs.slice(0, -1).entries()) {
      const next = runs[i + 1]?.[0] ?? '';
      expect(run.map(length).reduce((a, b) => a + b) + next.length).toBeGreaterThan(10);
    }
  });

  it('gives an item larger than the limit a run of its own, and nothing for no items', () => {
    expect(inRuns(['ab', 'x'.repeat(30), 'cd', 'ef'], length, 5)).toEqual([['ab'], ['x'.repeat(30)], ['cd', 'ef']]);
    expect(inRuns([], length, 5)).toEqual([]);
  });
});
