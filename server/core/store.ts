/**
 * The store contract, written where it is used: the core (hub, streams, sequencer) and the routers talk to this,
 * never to an engine, and the SQLite (server/store/sqlite.ts) and PostgreSQL (server/store/postgres.ts) stores
 * implement it. Methods return promises for the networked store's sake, even though SQLite answers synchronously.
 * test/stores/store-contract.test.ts runs every implementation through the same suite.
 *
 * Rules every implementation keeps, because the core is built on them (server/core/sequencer.ts,
 * server/core/stream.ts, docs/guarantees.md):
 * - One log, one sequence of ids: strictly increasing, never reused, and contiguous (a failed or rolled-back
 *   append leaves no hole, so an event that is missing is one not yet read, never one that will not come).
 * - Ids become visible in the order they were assigned: once id n can be read, every id below n that was
 *   ever assigned can be read too (or was deleted by retention). On several nodes this takes appends that
 *   serialize on one lock held until commit (PostgreSQL: the `head` row of `store_meta`). The sequencer reads a
 *   gap n+1 … n+k-1 as soon as it sees n+k, and a stream's replay turns live at a head, on this rule alone.
 * - `headId()` is the newest committed id at some moment during the call: every id up to it is readable (or
 *   retained away), and no id past it is committed yet as far as the caller can tell. Never an id that has not
 *   committed: the sequencer believes a bus message only as far as the head it reads.
 * - An event is readable before its append resolves, and an append resolves only once it is durable as the
 *   store's settings say: the hub publishes to the bus only after that, so nothing is streamed that is not stored.
 * - A failed write leaves the store as it was (all of a batch or none of it, current state included).
 * - The epoch names the log: ids are comparable only within one epoch (see `epoch()`).
 * - A lost or refused connection to the database is a `StoreUnavailableError` (./unavailable.ts), whatever the
 *   engine; anything else thrown is a refused query or a bug.
 */
import type { EnvelopeOf, EventEnvelope, UsageReport, ValidEvent, WorkflowStatus } from '@switchboard/shared';
import type { EventFilter } from './filter.js';
import type { UsageQuery } from './usage.js';

export interface AppendResult {
  /** One envelope per input, in input order; a repeated idempotency key yields the original event. */
  envelopes: EventEnvelope[];
  /** The envelopes stored by this call (not the repeats), in id order: what the bus must carry. */
  stored: EventEnvelope[];
}

/** A consistent read of current state: the items and the newest event id at the moment of the read. */
export interface Snapshot {
  items: EventEnvelope[];
  headId: number;
}

export interface RetentionPolicy {
  /** Delete events stored longer ago than this; 0: no age limit. */
  maxAgeMs: number;
  /** Keep at most this many of the newest events; 0: no row limit. */
  maxRows: number;
  /** Events deleted per call. */
  limit: number;
  /** Now, in epoch ms; tests pass their own. */
  now: number;
}

export type SnapshotKind = 'agents' | 'workflows' | 'tddTasks';

export interface WorkflowState {
  workflowId: string;
  workflowType: string | null;
  status: WorkflowStatus;
  currentStepId: string | null;
  /** The agent named by its latest step start or block that names one. */
  agentId: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  updatedAt: Date;
  lastEventId: string;
}

/** Which workflows a `workflows` read returns: all of them, or those with this status or type; at most `limit`. */
export interface WorkflowsFilter {
  status?: WorkflowStatus | undefined;
  workflowType?: string | undefined;
  limit: number;
}

/**
 * One publisher's batch. Idempotency keys are unique per `keyOwner`: a repeated key returns that owner's own
 * earlier event, never another's, and the same key from two owners stores two events. The server passes the
 * caller's identity (server/security/auth.ts `keyOwnerOf`); '' when there are no tokens (keys are global).
 */
export interface AppendBatch {
  events: readonly ValidEvent[];
  keyOwner: string;
  /**
   * Store the batch only while this agent is still silent, decided inside the append transaction (the presence
   * rule's one-writer guarantee, server/core/presence.ts): it has a status other than `offline` and nothing was
   * heard of it after `seenBefore`, neither in the store nor earlier in the same commit. Otherwise the batch
   * stores nothing and succeeds with no envelopes.
   */
  ifSilent?: SilenceCondition | undefined;
  /**
   * Store the batch only after this key of the same owner: only if an event with it is stored, before this commit
   * or earlier in it. Otherwise the batch stores nothing and fails with `OutOfOrderError`. A publisher that sends
   * a batch before the one ahead of it is answered orders it so: if the first is not stored, neither is the second.
   */
  after?: string | undefined;
}

export interface SilenceCondition {
  agentId: string;
  /** Epoch ms: the agent's last-seen time must still be at or before this. */
  seenBefore: number;
}

/** An agent's current status with when the hub last heard of it (any event naming it, or a heartbeat). */
export interface AgentPresenceRow {
  status: EnvelopeOf<'agent.status'>;
  /** Epoch ms, by the clock of the node that stored the event or took the heartbeat. */
  seenAt: number;
}

/**
 * Told when a group commit failed as a whole and is done again one batch at a time, so that only the failing batch
 * is refused: `cause` is the first attempt's error (most often one batch's fault). A store calls it before the retry.
 */
export type OnGroupRetry = (cause: unknown) => void;

/** One batch's result within a group commit: stored, or refused on its own without touching the others. */
export type GroupOutcome = { ok: true; result: AppendResult } | { ok: false; error: unknown };

/** A group's commit as `EventStore.prepareGroup` returns it: started once; `onOrdered` as said there. */
export type PreparedCommit = (onOrdered?: (lastId: number) => void) => Promise<GroupOutcome[]>;

/** Events with `after` < id < `before` (no upper bound without `before`), oldest or newest first. */
export interface EventRange {
  after: number;
  before?: number | undefined;
  order: 'asc' | 'desc';
}

export interface EventStore {
  /** Stores the events in one transaction with the current-state updates: all of them or, on error, none. */
  append(events: readonly ValidEvent[], keyOwner?: string): Promise<AppendResult>;
  /**
   * Group commit: several independent batches in one durable commit, each all-or-nothing on its own (a failing
   * batch is rolled back alone and reported in its outcome). Outcomes come in batch order. Rejects, storing
   * nothing, only when the commit itself fails. `receivedAt` is when the server took them (now by default): the
   * events' default timestamp, what retention ages by, and the agents' last-seen time.
   */
  appendGroup(batches: readonly AppendBatch[], receivedAt?: Date): Promise<GroupOutcome[]>;
  /**
   * Optional: `appendGroup` in two steps, for a store whose commit waits on another process. This call does now
   * the work that needs neither the store's lock nor an answer (the group's rows and statements) and returns the
   * commit of what it prepared, to be called once: it does the rest exactly as `appendGroup` would (its retry
   * included), so the hub can prepare a full group while the commit ahead of it is in flight. Undefined when the
   * group has to be prepared under the lock (an idempotency key, `after`, a presence condition); a throw (a fault
   * in making the rows) leaves the group to `appendGroup`, whose retry refuses the faulty batch alone.
   *
   * The commit calls `onOrdered` at most once, with the last id its first attempt took, as soon as that attempt
   * holds its place in the order (PostgreSQL: the head row is locked), long before it is durable: a commit started
   * after that is ordered after it, so the hub sends the next group then, and the database goes from one commit to
   * the next without waiting for this node to hear of the first. Should that attempt fail, the group's retry may
   * take ids after a commit started meanwhile (the hub then publishes that one's events first).
   */
  prepareGroup?(batches: readonly AppendBatch[], receivedAt: Date): PreparedCommit | undefined;
  /**
   * Moves the last-seen time of these agents to `at` (never back) without storing an event; answers the agents
   * it knows, each with its current status. Takes no lock an append waits on for long: one agent row at a time.
   */
  heartbeat(agentIds: readonly string[], at: number): Promise<{ agentId: string; status: string }[]>;
  /**
   * Each matching agent's current status and last-seen time, by agent id. `seenBefore`: only agents whose status
   * is not `offline` and that were last seen at or before it (the presence sweep's candidates).
   */
  presence(filter: {
    agentIds?: readonly string[] | undefined;
    seenBefore?: number | undefined;
  }): Promise<AgentPresenceRow[]>;
  /** Events with id > `after` that pass the filter, oldest first, at most `limit`. */
  readAfter(after: number, filter: EventFilter, limit: number): Promise<EventEnvelope[]>;
  /** Events in `range` that pass the filter, at most `limit`. */
  readRange(range: EventRange, filter: EventFilter, limit: number): Promise<EventEnvelope[]>;
  /**
   * The log's epoch (shared/cursor.ts): created with the store's schema, the same on every open of the same
   * database and on every node sharing it, different for any other log (a new file, a recreated schema). Read
   * once at open, so it costs nothing per call. Ids are only comparable within one epoch.
   */
  epoch(): string;
  /** The newest committed event id, 0 when empty; every id up to it is readable (the rules above). */
  headId(): Promise<number>;
  /** Every event type the store holds events of (the server names those its catalogue does not define). */
  storedTypes(): Promise<string[]>;
  /** The latest state-bearing event of each entity that passes the filter, in id order, with the head id. */
  snapshot(kind: SnapshotKind, filter: EventFilter): Promise<Snapshot>;
  agents(agentIds?: readonly string[]): Promise<EnvelopeOf<'agent.status'>[]>;
  tddTasks(filter: {
    agentId?: string | undefined;
    taskId?: string | undefined;
  }): Promise<EnvelopeOf<'tdd.phase_changed'>[]>;
  workflow(workflowId: string): Promise<WorkflowState | undefined>;
  /** Workflows by most recent activity (the newest lifecycle or block event first). */
  workflows(filter: WorkflowsFilter): Promise<WorkflowState[]>;
  /**
   * Usage totals (server/core/usage.ts) with the head id, in one consistent read: every `usage.recorded` event
   * up to `headId` is counted and none after it. `total` covers every model row.
   */
  usage(query: UsageQuery): Promise<UsageReport>;
  /** Bytes the database occupies. */
  sizeBytes(): Promise<number>;
  /** Every event with an id up to this that is not an entity's current state has been deleted (0: none). */
  retentionWatermark(): Promise<number>;
  /**
   * Deletes at most `limit` of the oldest events past the policy, keeping those that hold an entity's current
   * state, in one short transaction. `more` says another call would delete more.
   */
  prune(policy: RetentionPolicy): Promise<{ deleted: number; watermark: number; more: boolean }>;
  close(): Promise<void>;
}
