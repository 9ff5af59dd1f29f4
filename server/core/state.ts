/**
 * The state rules: what each stored event does to current state (agents, workflows with their status machine,
 * TDD tasks). Written once, above the stores: an event becomes a `StateChange`, a plain description of the row
 * a new entity gets and of the columns it overwrites on an existing one, and each store applies that change
 * mechanically (an upsert whose update sets exactly the listed columns). No store decides anything itself.
 *
 * Times are epoch milliseconds, ids numbers: what both stores bind directly.
 */
import { toMicroUsd, usageOf, type TddPhase, type ValidEvent, type WorkflowStatus } from '@switchboard/shared';
import { addSums, type UsageRow, type UsageScope, type UsageSums } from './usage.js';

export interface AgentRow {
  agentId: string;
  agentType: string;
  status: string;
  statusEventId: number;
  lastEventId: number;
  updatedAt: number;
}

export interface WorkflowRow {
  workflowId: string;
  workflowType: string | null;
  status: WorkflowStatus;
  currentStepId: string | null;
  agentId: string | null;
  startedAt: number | null;
  finishedAt: number | null;
  /** Latest lifecycle event (all but `workflow.block`): the snapshot `workflowEvents` starts with. */
  lifecycleEventId: number | null;
  lastEventId: number;
  updatedAt: number;
}

export interface TddTaskRow {
  taskId: string;
  agentId: string;
  phase: TddPhase | null;
  phaseEventId: number | null;
  lastEventId: number;
  updatedAt: number;
}

/** Which columns of an existing row an event overwrites with its own row's values; the rest are kept. */
export type WorkflowSet = Record<
  'workflowType' | 'status' | 'currentStepId' | 'agentId' | 'startedAt' | 'finishedAt' | 'lifecycleEventId',
  boolean
>;
export type TddTaskSet = Record<'phase' | 'phaseEventId', boolean>;

/**
 * One event's effect. `agent` replaces the agent's row; `agentTouch` moves an existing agent's last event
 * (never backwards) and creates nothing; `workflow` and `tddTask` insert `row`, or on an existing row overwrite
 * the columns marked in `set` and always the last event and update time. `usage` touches the agent and adds to
 * the usage totals of its agent, workflow and model.
 */
export type StateChange =
  | { kind: 'agent'; row: AgentRow }
  | { kind: 'agentTouch'; agentId: string; id: number; at: number }
  | { kind: 'usage'; agentId: string; rows: UsageRow[]; id: number; at: number }
  | { kind: 'workflow'; row: WorkflowRow; set: WorkflowSet }
  | { kind: 'tddTask'; row: TddTaskRow; set: TddTaskSet };

const keepAll: WorkflowSet = {
  workflowType: false,
  status: false,
  currentStepId: false,
  agentId: false,
  startedAt: false,
  finishedAt: false,
  lifecycleEventId: false,
};

/** What the event with this id, at this time (ms), does to current state; undefined: nothing. */
export function stateChangeOf(event: ValidEvent, id: number, at: number): StateChange | undefined {
  switch (event.type) {
    case 'agent.status':
      return {
        kind: 'agent',
        row: {
          agentId: event.data.agentId,
          agentType: event.data.agentType,
          status: event.data.status,
          statusEventId: id,
          lastEventId: id,
          updatedAt: at,
        },
      };
    case 'agent.task_update':
    case 'agent.log':
    case 'agent.metric':
    case 'agent.error':
      return { kind: 'agentTouch', agentId: event.data.agentId, id, at };
    case 'workflow.started':
      return workflowChange(event.data.workflowId, id, at, {
        workflowType: [event.data.workflowType],
        status: ['running'],
        currentStepId: [null],
        startedAt: [at],
        // A restarted workflow is no longer finished.
        finishedAt: [null],
      });
    case 'workflow.step_started':
      return workflowChange(event.data.workflowId, id, at, {
        status: ['running'],
        currentStepId: [event.data.stepId],
        ...(event.data.agentId !== undefined && { agentId: [event.data.agentId] }),
      });
    case 'workflow.step_completed':
      return workflowChange(event.data.workflowId, id, at, { currentStepId: [event.data.nextStep ?? null] });
    case 'workflow.completed':
      return workflowChange(event.data.workflowId, id, at, {
        status: ['completed'],
        currentStepId: [null],
        finishedAt: [at],
      });
    case 'workflow.failed':
      return workflowChange(event.data.workflowId, id, at, { status: ['failed'], finishedAt: [at] });
    case 'workflow.block': {
      // A block is not a lifecycle event: it creates the workflow if new, and moves only its last event.
      const change = workflowChange(
        event.data.workflowId,
        id,
        at,
        event.data.agentId === undefined ? {} : { agentId: [event.data.agentId] },
      );
      change.row.lifecycleEventId = null;
      change.set.lifecycleEventId = false;
      return change;
    }
    case 'tdd.phase_changed':
      return {
        kind: 'tddTask',
        row: {
          taskId: event.data.taskId,
          agentId: event.data.agentId,
          phase: event.data.currentPhase,
          phaseEventId: id,
          lastEventId: id,
          updatedAt: at,
        },
        set: { phase: true, phaseEventId: true },
      };
    case 'tdd.test_result':
    case 'tdd.coverage_update':
      return {
        kind: 'tddTask',
        row: {
          taskId: event.data.taskId,
          agentId: event.data.agentId,
          phase: null,
          phaseEventId: null,
          lastEventId: id,
          updatedAt: at,
        },
        set: { phase: false, phaseEventId: false },
      };
    case 'usage.recorded':
      return { kind: 'usage', agentId: event.data.agentId, rows: usageRows(event.data, id, at), id, at };
    case 'otel.record':
      return event.data.agentId === undefined ? undefined : { kind: 'agentTouch', agentId: event.data.agentId, id, at };
    case 'system.notification':
    case 'system.alert':
      return undefined;
  }
}

/** The rows one `usage.recorded` event adds to: its agent's, its workflow's (if it names one) and its model's. */
function usageRows(data: Extract<ValidEvent, { type: 'usage.recorded' }>['data'], id: number, at: number): UsageRow[] {
  const { costUsd, ...tokens } = usageOf(data);
  const sums: UsageSums = { ...tokens, costMicros: toMicroUsd(costUsd) };
  const row = (scope: UsageScope, key: string): UsageRow => ({ scope, id: key, sums, lastEventId: id, updatedAt: at });
  return [
    row('agent', data.agentId),
    ...(data.workflowId === undefined ? [] : [row('workflow', data.workflowId)]),
    row('model', data.model ?? ''),
  ];
}

/**
 * A lifecycle change: each given column is set to its one value, the rest kept. A workflow first seen through
 * any event is `running`.
 */
function workflowChange(
  workflowId: string,
  id: number,
  at: number,
  values: {
    [K in Exclude<keyof WorkflowSet, 'lifecycleEventId'>]?: [WorkflowRow[K]];
  },
): Extract<StateChange, { kind: 'workflow' }> {
  const row: WorkflowRow = {
    workflowId,
    workflowType: values.workflowType?.[0] ?? null,
    status: values.status?.[0] ?? 'running',
    currentStepId: values.currentStepId?.[0] ?? null,
    agentId: values.agentId?.[0] ?? null,
    startedAt: values.startedAt?.[0] ?? null,
    finishedAt: values.finishedAt?.[0] ?? null,
    lifecycleEventId: id,
    lastEventId: id,
    updatedAt: at,
  };
  const set: WorkflowSet = { ...keepAll, lifecycleEventId: true };
  for (const key of Object.keys(values) as (keyof typeof values)[]) set[key] = true;
  return { kind: 'workflow', row, set };
}

/** What one commit does to an agent's row besides its status: its last agent event, and when it was last seen. */
interface Touch {
  /** The latest agent.* event's id (0: none in this commit) and timestamp. */
  id: number;
  at: number;
  /** When the server took the latest event naming the agent (epoch ms; 0: none). */
  seenAt: number;
}

/**
 * The latest touch of each agent within one commit: a store applies them once per agent at the end of the
 * commit instead of once per event (most events of a busy agent are touches). Every event that names an agent
 * (`data.agentId`, of any family) marks it seen: presence counts any event about an agent as a heartbeat. The
 * usage increments are summed per row, also written once at the end.
 */
export class AgentTouches {
  private readonly latest = new Map<string, Touch>();
  private readonly usage = new Map<string, UsageRow>();

  private touch(agentId: string): Touch {
    let touch = this.latest.get(agentId);
    if (!touch) this.latest.set(agentId, (touch = { id: 0, at: 0, seenAt: 0 }));
    return touch;
  }

  add(agentId: string, id: number, at: number): void {
    const touch = this.touch(agentId);
    touch.id = id;
    touch.at = at;
  }

  /**
   * An event of this commit names the agent; it was heard of at `receivedAt` (0: the event is no sign of life,
   * the presence sweep's own offline event, which leaves its last-seen time as it was).
   */
  seen(agentId: string, receivedAt: number): void {
    const touch = this.touch(agentId);
    touch.seenAt = Math.max(touch.seenAt, receivedAt);
  }

  /** Whether this commit so far holds an event naming the agent. */
  has(agentId: string): boolean {
    return this.latest.has(agentId);
  }

  /** A `usage` change: the agent's touch, and its increments. */
  addUsage(change: Extract<StateChange, { kind: 'usage' }>): void {
    this.add(change.agentId, change.id, change.at);
    for (const row of change.rows) this.addUsageRow(row);
  }

  private addUsageRow(row: UsageRow): void {
    const key = `${row.scope}:${row.id}`;
    const earlier = this.usage.get(key);
    this.usage.set(key, earlier ? { ...row, sums: addSums(earlier.sums, row.sums) } : row);
  }

  /** Takes over another commit part's touches and increments (a batch that committed inside a group). */
  merge(other: AgentTouches): void {
    for (const [agentId, { id, at, seenAt }] of other.latest) {
      if (id > 0) this.add(agentId, id, at);
      this.seen(agentId, seenAt);
    }
    for (const row of other.usage.values()) this.addUsageRow(row);
  }

  entries(): IterableIterator<[string, Touch]> {
    return this.latest.entries();
  }

  /** One increment per usage row touched by the commit, its last event the newest counted. */
  usageRows(): IterableIterator<UsageRow> {
    return this.usage.values();
  }
}

/**
 * The changes of one commit, folded to one per entity: applying the folded change gives the same row as
 * applying each in id order (a later event's set columns win, the rest keep the earlier values), so a store
 * whose every statement is a network round trip writes once per entity instead of once per event.
 */
export class FoldedChanges {
  private readonly changes = new Map<string, StateChange>();
  readonly touches = new AgentTouches();

  /** Adds the change of the next event, in id order. */
  add(change: StateChange): void {
    if (change.kind === 'agentTouch') {
      this.touches.add(change.agentId, change.id, change.at);
      return;
    }
    if (change.kind === 'usage') {
      this.touches.addUsage(change);
      return;
    }
    const key = change.kind === 'agent' ? `a:${change.row.agentId}` : entityKey(change);
    const earlier = this.changes.get(key);
    this.changes.set(key, earlier ? fold(earlier, change) : change);
  }

  values(): IterableIterator<Exclude<StateChange, { kind: 'agentTouch' | 'usage' }>> {
    return this.changes.values() as IterableIterator<Exclude<StateChange, { kind: 'agentTouch' | 'usage' }>>;
  }
}

function entityKey(change: Extract<StateChange, { kind: 'workflow' | 'tddTask' }>): string {
  return change.kind === 'workflow' ? `w:${change.row.workflowId}` : `t:${change.row.taskId}`;
}

function fold(earlier: StateChange, later: StateChange): StateChange {
  if (later.kind === 'workflow' && earlier.kind === 'workflow') {
    return { kind: 'workflow', ...foldRows(earlier, later) };
  }
  if (later.kind === 'tddTask' && earlier.kind === 'tddTask') {
    return { kind: 'tddTask', ...foldRows(earlier, later) };
  }
  // An agent's status replaces its whole row.
  return later;
}

function foldRows<R extends object, S extends Record<string, boolean>>(
  earlier: { row: R; set: S },
  later: { row: R; set: S },
): { row: R; set: S } {
  const row = { ...later.row };
  const set = { ...later.set };
  for (const column of Object.keys(set) as (keyof S & keyof R)[]) {
    if (later.set[column]) continue;
    row[column] = earlier.row[column];
    set[column] = earlier.set[column];
  }
  return { row, set };
}
