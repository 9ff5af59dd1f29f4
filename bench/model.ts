/**
 * The delivery model (test/model/) for longer than the suite runs it, or one failing case again. Not part of
 * `npm test` or `npm run bench`:
 *
 *   npx tsx bench/model.ts                          100,000 runs from a random seed (printed first)
 *   npx tsx bench/model.ts --runs 20000 --seed 42   a given seed
 *   npx tsx bench/model.ts --seed 42 --path 17:3:0  replays the (shrunk) case a failure printed, alone
 *   --steps 200                                     longer schedules (the suite uses 100)
 *
 * Prints the seed, the runs and their time; on a failure, fast-check's report (seed, path, counterexample) and
 * what went wrong with the steps that led there, and exits 1.
 */
import fc from 'fast-check';
import { runSchedule } from '../test/model/run.js';
import { scheduleArbitrary } from '../test/model/schedule.js';

const flag = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const whole = (name: string, fallback: number) => {
  const value = flag(name);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (Number.isSafeInteger(n) && n >= 0) return n;
  console.error(`bench/model.ts: ${name} must be a whole number, not "${value}"`);
  process.exit(2);
};

const seed = whole('--seed', Math.floor(Math.random() * 2 ** 31));
const path = flag('--path');
const runs = whole('--runs', path === undefined ? 100_000 : 1);
const steps = whole('--steps', 100);

console.log(`delivery model: seed ${seed}, ${runs} runs of up to ${steps} steps${path ? `, path ${path}` : ''}`);
const started = performance.now();
try {
  await fc.assert(fc.asyncProperty(scheduleArbitrary(steps), runSchedule), {
    seed,
    numRuns: runs,
    ...(path !== undefined && { path, endOnFailure: true }),
  });
  console.log(`passed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  if (error instanceof Error && error.cause instanceof Error) console.error(`\n${error.cause.message}`);
  process.exitCode = 1;
}
