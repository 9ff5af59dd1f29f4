/**
 * The goals of issue #21 as one table: each goal, what this run measured, the ratio it is judged by, the
 * target, and whether it is met. Every figure comes from this run (ratios are between cases of the same run).
 *
 * A throughput goal also carries its floor: the CPU that the target rate needs at the least, from parts no
 * change to the server removes (the stock client's measured CPU per event, the raw engine's), against the cores
 * those parts may use (one for a single-threaded process, all of them for the processes together). A process's
 * CPU per event falls as its rate rises (fuller reads, fewer wake-ups), so a floor proves something only where
 * its parts already ran flat out: a goal not met is out of reach on this machine when its floor exceeds what
 * its parts may use and they were at least 90 % busy at the measured rate; the table says so. A client's own
 * ceiling is measured directly: the most it sends against a server that answers at once; a target above it is
 * out of reach whatever the server does. So is one above what the storing floor stores with the same client: the
 * least a server does that stores every event before it answers (bench/answer-server.ts with a store).
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
  floor?: Floor | undefined;
}

/**
 * The least CPU a target rate needs: `cores` of the `of` its parts may use, what it is made of, and how busy
 * those parts were (cores) at the rate measured.
 */
export interface Floor {
  cores: number;
  of: number;
  parts: string;
  busy: number;
  /** Printed instead of cores, parts and busy. */
  text?: string;
}

/**
 * The floor at `rate` events/s of parts measured in µs of CPU per event at `measuredRate`, which may use `of`
 * cores. Undefined when a part was not measured.
 */
export function floorAt(
  rate: number,
  measuredRate: number,
  of: number,
  parts: [label: string, micros: number][],
): Floor | undefined {
  if (!Number.isFinite(rate) || parts.some(([, micros]) => !Number.isFinite(micros))) return undefined;
  const micros = parts.reduce((sum, [, m]) => sum + m, 0);
  const listed = parts.map(([label, m]) => `${label} ${m.toFixed(1)} µs`).join(' + ');
  return { cores: (micros * rate) / 1e6, of, parts: `${listed} per event`, busy: (micros * measuredRate) / 1e6 };
}

/**
 * The ceiling a client sets by itself: against a server that answers every call at once (bench/answer-server.ts)
 * it sent `most` events/s, whatever the server behind it does; `rate` needs `rate / most` of it.
 */
export function ceilingAt(rate: number, most: number, client: string): Floor | undefined {
  if (!Number.isFinite(rate) || !Number.isFinite(most) || most <= 0) return undefined;
  return {
    cores: rate / most,
    of: 1,
    parts: client,
    busy: 1,
    text: `${(rate / most).toFixed(2)}× the most ${client} sends against a server that answers at once (${perSecond([most])})`,
  };
}

/**
 * The ceiling the storing floor sets (bench/answer-server.ts with a store: the least a server does that stores
 * every event before it answers, no validation, state or envelopes) with the same client on the same cores: the
 * target needs `times` what it stored (`figure`); above 1, no server that stores before it answers meets it here.
 * A floor that stored less than Switchboard did in the same run (`below`) proves nothing: the machine moved
 * between the two, and the row says so.
 */
export function storingFloorAt(times: number, figure: string, below: boolean): Floor | undefined {
  if (!Number.isFinite(times)) return undefined;
  const text = `${times.toFixed(2)}× what the storing floor (a server that only parses, stores with the raw engine's insert and answers) stored with the same client: ${figure}`;
  return {
    cores: times,
    of: 1,
    parts: 'the storing floor',
    busy: below ? 0 : 1,
    text: below ? `${text}; below Switchboard's own rate, so no floor in this run` : text,
  };
}

/**
 * A floor from the least any server can do on Switchboard's own path (bench/servers.ts `ws-durable-trpc`: raw
 * `ws` fed from another process, each event stored durably before it is sent, to the same client as
 * Switchboard's): its figure (`has p99 3.36 ms`, `spends 5.9 µs per delivery`) is `times` the goal's baseline
 * (`raw ws`, `the lowest`). Above 1, no server on that path meets a bound of 1 here.
 */
export function pathFloor(times: number, baseline: string, figure: string): Floor | undefined {
  if (!Number.isFinite(times)) return undefined;
  return {
    cores: times,
    of: 1,
    parts: 'the floor',
    busy: 1,
    text: `${times.toFixed(2)}× ${baseline}: the floor (raw ws fed from another process, each event stored durably before it is sent, to the same client as Switchboard's) ${figure}`,
  };
}

const outOfReach = (floor: Floor | undefined) =>
  floor !== undefined && floor.cores > floor.of && floor.busy >= 0.9 * floor.of;

/** Of several floors, one that puts the goal out of reach if any does, else the nearest to what it may use. */
export function binding(...floors: (Floor | undefined)[]): Floor | undefined {
  let most: Floor | undefined;
  const rank = (f: Floor) => [outOfReach(f) ? 1 : 0, f.cores / f.of] as const;
  for (const floor of floors) {
    if (!floor) continue;
    const [proven, share] = rank(floor);
    if (!most || proven > rank(most)[0] || (proven === rank(most)[0] && share > rank(most)[1])) most = floor;
  }
  return most;
}

const met = ({ value, target, floor }: Goal): string => {
  if (target === undefined) return 'recorded';
  if (!Number.isFinite(value)) return 'not measured';
  if (target.op === '≥' ? value >= target.bound : value <= target.bound) return 'yes';
  return outOfReach(floor) ? 'no: out of reach here' : 'no';
};

export function printGoals(goals: readonly Goal[]): void {
  if (goals.length === 0) return;
  console.log('Goals (issue #21), from this run');
  console.log('| goal | measured | ratio or figure | target | met | the target needs at the least |');
  console.log('|---|---|---|---|---|---|');
  for (const g of goals) {
    const figure = g.shown ?? (Number.isFinite(g.value) ? g.value.toFixed(2) : '–');
    const target = g.target ? `${g.target.op} ${g.target.bound}` : '–';
    const described = g.floor
      ? `${g.floor.cores.toFixed(2)} of ${g.floor.of} ${g.floor.of === 1 ? 'core' : 'cores'}: ${g.floor.parts} ` +
        `(${g.floor.busy.toFixed(2)} busy at the rate measured)`
      : '–';
    const floor = g.floor?.text ?? described;
    console.log(`| ${g.goal} | ${g.measured} | ${figure} | ${target} | ${met(g)} | ${floor} |`);
  }
  console.log('');
}

/** `a ÷ b` of two sets of repeats, by their medians. */
export const ratio = (a: readonly number[], b: readonly number[]): number => median([...a]) / median([...b]);

/** `12.3k/s` */
export const perSecond = (values: readonly number[]): string => `${(median([...values]) / 1000).toFixed(1)}k/s`;
