/**
 * Runs one schedule of the delivery model: several nodes, each a real `Sequencer` under a real hub (group
 * commit, dispatcher, `EventStream`s), over one shared model store and a network that loses, repeats, reorders
 * and delays messages; subscribers connect through `hub.open` (the path every transport takes) with any cursor,
 * on any node, and leave and come back. Nothing runs on its own: every store call waits for a `settle` step and
 * every message for a `message` step, head checks run on `tick`, and the few event-loop turns the hub's group
 * commit needs are taken between steps, so a schedule always runs the same way.
 *
 * After the steps, faults stop: what was under way is answered and delivered, or (the schedule says) fails and
 * is lost one last time; then every call is answered, every message delivered, every subscriber drains and
 * reconnects from its last cursor. Within `headChecks` head checks per node everything must be delivered.
 */
import { publishInputSchema, type EventEnvelope, type StreamItem } from '@switchboard/shared';
import { createHub, type Hub } from '../../server/core/hub.js';
import { Sequencer } from '../../server/core/sequencer.js';
import { CursorAheadError, type EventStream } from '../../server/core/stream.js';
import { createLogger } from '../../server/ops/log.js';
import { agentLog, agentStatus } from '../fixtures.js';
import { checkPublished, checkSequencer, checkSession, type Session } from './check.js';
import { FakeClock, ModelNetwork } from './network.js';
import {
  describeStep,
  describeWorld,
  type Schedule,
  type Agent,
  type EventKind,
  type Start,
  type Step,
  type SubscriberSpec,
} from './schedule.js';
import { injected, ModelStore } from './store.js';

/** Head checks per node after faults stop, at most, before everything must have been delivered. */
export const headChecks = 3;

/** Event-loop turns taken after each step: the hub forms a group commit on the next turn (setImmediate). */
const turnsPerStep = 2;
/** Steps at most while the world quiets down (each answers a call or delivers a message). */
const maxQuietSteps = 20_000;

/** The epoch of a log that is not the model's (`ModelStore.epoch()`): a cursor from a replaced database. */
const otherEpoch = 'elsewhere';
const silent = createLogger({ logLevel: 'silent', logFormat: 'json' });
const turn = () => new Promise((resolve) => setImmediate(resolve));

interface Node {
  clock: FakeClock;
  sequencer: Sequencer;
  hub: Hub;
  from: number;
  delivered: number[];
  /** The ids its hub published, in the order it published them: the hub's own promise is id order. */
  published: number[];
}

/** What a subscriber's socket holds: items pushed since it last drained, and the catch-up waiting for it. */
interface Socket {
  unsent: number;
  wake: (() => void) | undefined;
}

interface OpenSession {
  session: Session;
  stream: EventStream;
  socket: Socket;
}

interface Subscriber {
  spec: SubscriberSpec;
  /** The last id received (or the id of a reset), sent as `lastEventId` on the next `last` connect. */
  cursor: number | undefined;
  open: OpenSession | undefined;
  /** Faults have stopped: the sink takes everything. */
  fast: boolean;
  sessions: Session[];
}

/** Thrown with what went wrong, the step after which it was seen, and the whole schedule, readably. */
export class ModelViolation extends Error {
  override name = 'ModelViolation';
}

export async function runSchedule(schedule: Schedule): Promise<void> {
  const world = await World.create(schedule);
  // What each step did, for the failure report: the schedule's indices are modulo what was there at the time.
  const trace: string[] = [];
  try {
    for (const [i, step] of schedule.steps.entries()) {
      trace.push(`  ${i}. ${describeStep(step)}: ${await world.apply(step)}`);
      world.check(false, `after step ${i} (${describeStep(step)})`);
    }
    trace.push(`  then faults stop; what was under way is ${schedule.end}`);
    await world.quiet(schedule.end);
  } catch (error) {
    if (!(error instanceof ModelViolation)) throw error;
    throw new ModelViolation(`${error.message}\n${describeWorld(schedule)}\n${trace.join('\n')}`);
  } finally {
    await world.close();
  }
}

class World {
  /** Problems seen where nothing can throw to the run (an append's rejection handler). */
  private readonly problems: string[] = [];

  private constructor(
    private readonly store: ModelStore,
    private readonly network: ModelNetwork,
    private readonly nodes: Node[],
    private readonly subscribers: Subscriber[],
  ) {}

  static async create(schedule: Schedule): Promise<World> {
    const headLock = schedule.store === 'head-lock';
    const store = new ModelStore(headLock);
    const agents: Agent[] = ['a', 'b', 'c'];
    const before = Array.from({ length: schedule.before.events }, (_, i) => event(agents[i % 3] ?? 'a', 'status'));
    store.seed(before, schedule.before.deleted);
    const network = new ModelNetwork(schedule.nodes, schedule.bus);
    const nodes: Node[] = [];
    for (let n = 0; n < schedule.nodes; n++) {
      const clock = new FakeClock();
      const sequencer = new Sequencer({ store, transport: network.transport(n), log: silent, every: clock.every });
      await sequencer.start();
      const delivered: number[] = [];
      sequencer.subscribe((events) => {
        for (const e of events) delivered.push(Number(e.id));
      });
      // A catch-up buffer of 4 (not 1,000) so that small schedules overflow it and read the store instead.
      const published: number[] = [];
      // What the hub publishes, seen before the sequencer (which would put it in order anyway).
      const bus = {
        publish: (events: readonly EventEnvelope[]) => {
          for (const e of events) published.push(Number(e.id));
          sequencer.publish(events);
        },
        subscribe: sequencer.subscribe.bind(sequencer),
        delivered: sequencer.delivered.bind(sequencer),
      };
      // Groups of at most 3 events with a head lock, so that commits of 1 to 3 fill them and go ahead early.
      const hub = createHub({ store, bus, subscriberBufferLimit: 4, ...(headLock && { maxGroupEvents: 3 }) });
      nodes.push({ clock, sequencer, hub, from: store.head, delivered, published });
    }
    store.controlled = true;
    const subscribers = schedule.subscribers.map((spec) => ({
      spec,
      cursor: undefined,
      open: undefined,
      fast: false,
      sessions: [],
    }));
    return new World(store, network, nodes, subscribers);
  }

  private node(n: number): Node {
    const node = this.nodes[n % this.nodes.length];
    if (!node) throw new Error('a world has at least one node');
    return node;
  }

  private subscriber(s: number): Subscriber {
    const subscriber = this.subscribers[s % this.subscribers.length];
    if (!subscriber) throw new Error('a world has at least one subscriber');
    return subscriber;
  }

  /** Takes one step and the turns that follow it; says what it did. */
  async apply(step: Step): Promise<string> {
    const effect = this.take(step);
    for (let i = 0; i < turnsPerStep; i++) await turn();
    return effect;
  }

  private take(step: Step): string {
    switch (step.do) {
      case 'commit':
        this.commit(this.node(step.node), step.agent, step.type, step.count);
        return `hub.append on n${step.node % this.nodes.length} (the log's head is ${this.store.head})`;
      case 'settle': {
        const { pending } = this.store;
        const call = pending.splice(step.pick % Math.max(1, pending.length), 1)[0];
        call?.settle(step.ok);
        return call ? `${call.label} ${step.ok ? 'answered' : 'failed'}` : 'no call waiting';
      }
      case 'message':
        return this.network.act(step.pick, step.mode);
      case 'tick':
        this.node(step.node).clock.tick();
        return `head check on n${step.node % this.nodes.length}`;
      case 'bounce':
        this.network.bounce(step.node % this.nodes.length);
        return `bus down and up on n${step.node % this.nodes.length}`;
      case 'connect': {
        const subscriber = this.subscriber(step.sub);
        if (subscriber.open) return 'already connected';
        this.connect(subscriber, step.node, step.start);
        return subscriber.sessions.at(-1)?.name ?? '';
      }
      case 'disconnect': {
        const subscriber = this.subscriber(step.sub);
        const { open } = subscriber;
        if (!open) return 'not connected';
        this.disconnect(subscriber, open);
        return `${open.session.name} closed`;
      }
      case 'drain':
        return this.drain(this.subscriber(step.sub));
    }
  }

  private commit(node: Node, agent: Agent, type: EventKind, count: number): void {
    const events = Array.from({ length: count }, () => event(agent, type));
    node.hub.append(events).catch((error: unknown) => {
      // Injected store faults refuse an append (or lose its answer): the caller would retry; the model moves on.
      if (!(error instanceof Error && error.message.startsWith(injected))) {
        this.problems.push(`an append failed with ${String(error)}`);
      }
    });
  }

  private connect(subscriber: Subscriber, n: number, start: Start): void {
    if (subscriber.open) return;
    const node = this.node(n);
    const head = this.store.head;
    const cursor =
      start.at === 'last'
        ? subscriber.cursor
        : start.at === 'head'
          ? Math.max(0, head + start.offset)
          : start.at === 'elsewhere'
            ? start.id
            : undefined;
    const foreign = start.at === 'elsewhere';
    const mode = start.at === 'snapshot' ? 'snapshot' : cursor === undefined ? 'live' : 'cursor';
    const { filter: which, sink } = subscriber.spec;
    const filter = which === 'all' ? {} : { topics: ['agent:a'] };
    const index = subscriber.sessions.length;
    const session: Session = {
      name: `s${this.subscribers.indexOf(subscriber)}#${index} on n${n % this.nodes.length} (${
        mode === 'cursor' ? `after ${cursor}${foreign ? ' of another epoch' : ''}` : mode
      }, ${which}, ${sink} sink)`,
      cursor,
      foreign,
      mode,
      matches: which === 'all' ? () => true : (e) => e.topic === 'agent:a',
      headAtConnect: head,
      headAtStarted: undefined,
      dispatchedAtStarted: undefined,
      items: [],
      ended: undefined,
    };
    subscriber.sessions.push(session);
    const socket: Socket = { unsent: 0, wake: undefined };
    const store = this.store;
    const stream = node.hub.open(
      {
        filter,
        lastEventId: mode === 'cursor' ? `${cursor}${foreign ? `@${otherEpoch}` : ''}` : undefined,
        snapshot: mode === 'snapshot' ? 'agents' : undefined,
      },
      {
        push(item: StreamItem) {
          session.items.push(item);
          subscriber.cursor = Number(item.id);
          socket.unsent++;
          return subscriber.fast || sink !== 'full' || socket.unsent < 2;
        },
        ready(resume) {
          if (subscriber.fast || sink !== 'ready' || socket.unsent < 2) return true;
          socket.wake = resume;
          return false;
        },
        fail(error) {
          session.ended = { error };
          subscriber.open = undefined;
          // Told its cursor is not in this log, a client starts again without one.
          if (error instanceof CursorAheadError) subscriber.cursor = undefined;
        },
        started() {
          session.headAtStarted = store.head;
          session.dispatchedAtStarted = node.sequencer.delivered();
        },
      },
    );
    if (session.ended === undefined) subscriber.open = { session, stream, socket };
  }

  private disconnect(subscriber: Subscriber, open: OpenSession): void {
    open.stream.close();
    open.session.ended = 'closed';
    subscriber.open = undefined;
  }

  /** The subscriber's socket drains: a waiting catch-up goes on, a stream paused by a full sink resumes. */
  private drain(subscriber: Subscriber): string {
    const { open } = subscriber;
    if (!open) return 'not connected';
    open.socket.unsent = 0;
    const wake = open.socket.wake;
    open.socket.wake = undefined;
    wake?.();
    open.stream.resume();
    return `${open.session.name} drained`;
  }

  /** Every check; `quiet`: the world is quiet, so open sessions and sequencers must hold everything. */
  check(quiet: boolean, when: string): void {
    const [problem] = this.problems;
    if (problem) throw new ModelViolation(`${when}: ${problem}`);
    const log = { history: this.store.history, watermark: this.store.watermark };
    for (const subscriber of this.subscribers) {
      for (const session of subscriber.sessions) {
        const problem = checkSession(session, log, quiet);
        if (problem) throw new ModelViolation(`${when}: ${problem}`);
      }
    }
    for (const [n, node] of this.nodes.entries()) {
      const problem =
        checkSequencer(`sequencer of n${n}`, node.from, node.delivered, this.store.head, quiet) ??
        checkPublished(`hub of n${n}`, node.published);
      if (problem) throw new ModelViolation(`${when}: ${problem}`);
    }
  }

  /** Faults stop; everything must be delivered within `headChecks` head checks per node. */
  async quiet(end: Schedule['end']): Promise<void> {
    if (end === 'lost') {
      // The last faults: every call under way fails and every message in flight is lost. From here on only the
      // head checks can find what those messages announced.
      this.network.inFlight.length = 0;
      for (let i = 0; i < maxQuietSteps && this.store.pending.length > 0; i++) {
        this.store.pending.shift()?.settle(false);
        for (let t = 0; t < turnsPerStep; t++) await turn();
      }
    }
    for (const [s, subscriber] of this.subscribers.entries()) {
      subscriber.fast = true;
      if (subscriber.open) this.drain(subscriber);
      else this.connect(subscriber, s, { at: 'last' });
    }
    for (let checks = 0; ; checks++) {
      await this.settleAll();
      if (checks === headChecks) break;
      for (const node of this.nodes) node.clock.tick();
    }
    this.check(true, `${headChecks} head checks after faults stopped`);
  }

  /** Answers every call and delivers every message, oldest first, until nothing is left. */
  private async settleAll(): Promise<void> {
    for (let i = 0; i < maxQuietSteps; i++) {
      const call = this.store.pending.shift();
      if (call) call.settle(true);
      else if (this.network.inFlight.length > 0) this.network.act(0, 'deliver');
      else {
        for (const subscriber of this.subscribers) this.drain(subscriber);
        for (let t = 0; t < turnsPerStep; t++) await turn();
        if (this.store.pending.length === 0 && this.network.inFlight.length === 0) return;
        continue;
      }
      for (let t = 0; t < turnsPerStep; t++) await turn();
    }
    throw new ModelViolation(`still busy after ${maxQuietSteps} steps once faults stopped`);
  }

  async close(): Promise<void> {
    for (const subscriber of this.subscribers) subscriber.open?.stream.close();
    this.store.controlled = false;
    // Calls left waiting are answered, so nothing the run started is left hanging.
    for (const call of this.store.pending.splice(0)) call.settle(false);
    for (const node of this.nodes) {
      await node.hub.drained();
      await node.sequencer.close();
    }
  }
}

function event(agent: Agent, type: EventKind) {
  return publishInputSchema.parse(type === 'status' ? agentStatus(agent) : agentLog(agent, 'working'));
}
