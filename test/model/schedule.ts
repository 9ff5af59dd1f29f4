/**
 * A schedule for the delivery model: the world (nodes, bus kind, the log before the run, the subscribers) and the
 * steps that happen to it, as plain data that fast-check generates, shrinks and prints. Indices into things
 * that come and go (calls waiting, messages in flight) are taken modulo their count, so every step is valid in
 * every state and a shrunk schedule stays meaningful.
 */
import fc from 'fast-check';
import type { BusKind } from './network.js';

export type Agent = 'a' | 'b' | 'c';
/** An agent's status (state a snapshot holds) or a log line (an event a snapshot leaves out). */
export type EventKind = 'status' | 'log';

/** What a subscriber's sink does when items wait unsent: takes everything, makes catch-up wait, or says "full". */
export type SinkKind = 'fast' | 'ready' | 'full';

export interface SubscriberSpec {
  /** Every event, or one agent's topic. */
  filter: 'all' | 'agent:a';
  sink: SinkKind;
}

/**
 * Where a connection starts: after its last cursor, an id relative to the head (maybe past it), an id of another
 * log (a cursor whose epoch is not the store's, as after the database was replaced), live, or a snapshot.
 */
export type Start =
  | { at: 'last' }
  | { at: 'head'; offset: number }
  | { at: 'elsewhere'; id: number }
  | { at: 'live' }
  | { at: 'snapshot' };

export type Step =
  | { do: 'commit'; node: number; agent: Agent; type: EventKind; count: number }
  | { do: 'settle'; pick: number; ok: boolean }
  | { do: 'message'; pick: number; mode: 'deliver' | 'drop' | 'duplicate' }
  | { do: 'tick'; node: number }
  | { do: 'bounce'; node: number }
  | { do: 'connect'; sub: number; node: number; start: Start }
  | { do: 'disconnect'; sub: number }
  | { do: 'drain'; sub: number };

/**
 * The store's kind: `atomic`, a commit one step (stored, then answered); `head-lock`, PostgreSQL's (a commit takes
 * the head lock in turn, prepared groups say when they hold it and the hub sends the next one early; the hub's
 * groups hold at most 3 events, so that they fill and are prepared ahead).
 */
export type StoreKind = 'atomic' | 'head-lock';

export interface Schedule {
  nodes: number;
  bus: BusKind;
  store: StoreKind;
  /** Events in the log before the nodes start, and how many of the oldest retention had deleted. */
  before: { events: number; deleted: number };
  subscribers: SubscriberSpec[];
  steps: Step[];
  /** When faults stop, what was under way: answered and delivered, or failed and lost (the harsher end). */
  end: 'answered' | 'lost';
}

/** One line per step in a failure report: `commit n1 a×2`, `settle #3 fail`, `connect s0 n1 head-2`. */
export function describeStep(step: Step): string {
  switch (step.do) {
    case 'commit':
      return `commit n${step.node} ${step.count}× ${step.agent} ${step.type}`;
    case 'settle':
      return `settle #${step.pick} ${step.ok ? 'ok' : 'fail'}`;
    case 'message':
      return `${step.mode} message #${step.pick}`;
    case 'tick':
    case 'bounce':
      return `${step.do} n${step.node}`;
    case 'connect': {
      const { start } = step;
      const from =
        start.at === 'head'
          ? `head${start.offset >= 0 ? '+' : ''}${start.offset}`
          : start.at === 'elsewhere'
            ? `${start.id}@another-epoch`
            : start.at;
      return `connect s${step.sub} n${step.node} ${from}`;
    }
    case 'disconnect':
    case 'drain':
      return `${step.do} s${step.sub}`;
  }
}

/** The world a schedule sets up, in one line. */
export function describeWorld(schedule: Schedule): string {
  const subs = schedule.subscribers.map((s, i) => `s${i}: ${s.filter}, ${s.sink} sink`).join('; ');
  const { events, deleted } = schedule.before;
  return `${schedule.nodes} node(s), ${schedule.bus} bus, ${schedule.store} store, ${events} events before (${deleted} deleted); ${subs}`;
}

/** The whole schedule, one step a line (bench/model.ts prints it for a replayed case). */
export function describeSchedule(schedule: Schedule): string {
  return [
    describeWorld(schedule),
    ...schedule.steps.map((step, i) => `  ${i}. ${describeStep(step)}`),
    `  then faults stop; what was under way is ${schedule.end}`,
  ].join('\n');
}

const node = fc.nat(2);
const sub = fc.nat(2);

const start: fc.Arbitrary<Start> = fc.oneof(
  fc.constant({ at: 'last' as const }),
  fc.record({ at: fc.constant('head' as const), offset: fc.integer({ min: -8, max: 2 }) }),
  fc.record({ at: fc.constant('elsewhere' as const), id: fc.nat(12) }),
  fc.constant({ at: 'live' as const }),
  fc.constant({ at: 'snapshot' as const }),
);

/** Weighted towards what moves the world forward, with enough faults to matter. */
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      do: fc.constant('commit' as const),
      node,
      agent: fc.constantFrom<Agent>('a', 'b', 'c'),
      type: fc.constantFrom<EventKind>('status', 'log'),
      count: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      do: fc.constant('settle' as const),
      pick: fc.nat(7),
      ok: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      do: fc.constant('message' as const),
      pick: fc.nat(7),
      mode: fc.constantFrom('deliver' as const, 'deliver' as const, 'drop' as const, 'duplicate' as const),
    }),
  },
  { weight: 2, arbitrary: fc.record({ do: fc.constant('tick' as const), node }) },
  { weight: 1, arbitrary: fc.record({ do: fc.constant('bounce' as const), node }) },
  { weight: 3, arbitrary: fc.record({ do: fc.constant('connect' as const), sub, node, start }) },
  { weight: 1, arbitrary: fc.record({ do: fc.constant('disconnect' as const), sub }) },
  { weight: 2, arbitrary: fc.record({ do: fc.constant('drain' as const), sub }) },
);

export function scheduleArbitrary(maxSteps: number): fc.Arbitrary<Schedule> {
  return fc
    .record({
      nodes: fc.integer({ min: 1, max: 3 }),
      bus: fc.constantFrom<BusKind>('events', 'doorbell', 'mixed'),
      store: fc.constantFrom<StoreKind>('atomic', 'head-lock'),
      before: fc.record({ events: fc.nat(4), deleted: fc.nat(4) }),
      subscribers: fc.array(
        fc.record({
          filter: fc.constantFrom('all' as const, 'agent:a' as const),
          sink: fc.constantFrom<SinkKind>('fast', 'ready', 'full'),
        }),
        { minLength: 1, maxLength: 3 },
      ),
      steps: fc.array(step, { maxLength: maxSteps, size: 'max' }),
      end: fc.constantFrom('answered' as const, 'lost' as const),
    })
    .map((s) => ({ ...s, before: { events: s.before.events, deleted: Math.min(s.before.deleted, s.before.events) } }));
}
