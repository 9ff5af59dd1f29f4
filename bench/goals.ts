/**
 * The goals of issue #21 as one table: each goal, what this run measured, the ratio it is judged by, the
 * target, and whether it is met. Every figure comes from this run (ratios are between cases of the same run).
 */
import { median } from './format.js';

export interface Goal {
  goal: string;
  measured: string;
  /** The figure judged against `target`: a ratio, or a rate for absolute goals. */
  value: number;
  /** `≥ 1.5`, `≤ 1.0`, …; `undefined` for a row that is recorded, not judged. */
  target?: { op: '≥' | '≤'; bound: number };
  /** Shown instead of the value (a rate in thousands, a count). */
  shown?: string;
}

const met = ({ value, target }: Goal): string => {
  if (target === undefined) return 'recorded';
  if (!Number.isFinite(value)) return 'not measured';
  return (target.op === '≥' ? value >= target.bound : value <= target.bound) ? 'yes' : 'no';
};

export function printGoals(goals: readonly Goal[]): void {
  if (goals.length === 0) return;
  console.log('Goals (issue #21), from this run');
  console.log('| goal | measured | ratio or figure | target | met |');
  console.log('|---|---|---|---|---|');
  for (const g of goals) {
    const figure = g.shown ?? (Number.isFinite(g.value) ? g.value.toFixed(2) : '–');
    const target = g.target ? `${g.target.op} ${g.target.bound}` : '–';
    console.log(`| ${g.goal} | ${g.measured} | ${figure} | ${target} | ${met(g)} |`);
  }
  console.log('');
}

/** `a ÷ b` of two sets of repeats, by their medians. */
export const ratio = (a: readonly number[], b: readonly number[]): number => median([...a]) / median([...b]);

/** `12.3k/s` */
export const perSecond = (values: readonly number[]): string => `${(median([...values]) / 1000).toFixed(1)}k/s`;
