import { useSubscription } from '@trpc/tanstack-react-query';
import { useState } from 'react';
import {
  isEventOf,
  workflowEventTypes,
  workflowStatusValues,
  type EventEnvelope,
  type WorkflowStatus,
} from '@switchboard/shared';
import { callDuration, callState, callSummary, itemsOf, type Block, type Item } from './calls.js';
import {
  blockDetail,
  blockKey,
  callDetail,
  callKey,
  stepDetail,
  workflowDetail,
  type Detail,
} from './drawer/details.js';
import { useDrawer } from './drawer/Drawer.js';
import { useEntityViews, type EntityPanel, type EntityView } from './entities.js';
import { ago, duration } from './format.js';
import { AgentGone } from './presence.js';
import { useTRPC } from './trpc.js';
import { UsageLine, useUsage } from './usage.js';

/** A step is `pending` until its first event; then it goes through the same states as a workflow. */
type StepState = 'pending' | WorkflowStatus;

interface StepView {
  stepId: string;
  label: string;
  state: StepState;
  startedAt?: Date;
  duration?: number;
  error?: string;
  /** Every block of the step the lane holds, in id order. */
  blocks: Block[];
  /** The step's own events and its blocks, in id order: the raw JSON of its detail. */
  events: EventEnvelope[];
}

interface WorkflowView extends EntityView {
  workflowId: string;
  workflowType?: string;
  status: WorkflowStatus;
  startedAt?: Date;
  duration?: number;
  error?: string;
  steps: StepView[];
  /** Every event of the workflow but its blocks. */
  lifecycle: EventEnvelope[];
  lastAt: Date;
  /** The agent named by its latest step start or block that names one. */
  agentId?: string;
}

/** Lanes shown at once, newest workflows first. */
const maxLanes = 12;
/** The order of the count chips: what needs attention before what is done. */
const chipOrder: Record<WorkflowStatus, number> = { running: 0, failed: 1, completed: 2 };
const chipStatuses = [...workflowStatusValues].sort((a, b) => chipOrder[a] - chipOrder[b]);
/** Items (blocks and calls) a step shows until "show all": the newest ones. */
const itemsPerStep = 4;
/** Events a lane holds of its workflow; a step shows every block among them. */
const eventsPerWorkflow = 1_000;

const isWorkflowEvent = isEventOf(workflowEventTypes);
const workflowOf = (event: EventEnvelope) => (isWorkflowEvent(event) ? event.data.workflowId : undefined);

/** One workflow's lane, replayed from its events in id order. */
function toView(workflowId: string, events: readonly EventEnvelope[]): WorkflowView {
  const steps = new Map<string, StepView>();
  const step = (stepId: string) => {
    let s = steps.get(stepId);
    if (!s) steps.set(stepId, (s = { stepId, label: stepId, state: 'pending', blocks: [], events: [] }));
    return s;
  };
  const view: WorkflowView = {
    key: workflowId,
    workflowId,
    status: 'running',
    steps: [],
    lifecycle: [],
    lastAt: events.at(-1)?.timestamp ?? new Date(0),
  };
  for (const e of events) {
    if (e.type !== 'workflow.block') view.lifecycle.push(e);
    switch (e.type) {
      case 'workflow.started':
        view.workflowType = e.data.workflowType;
        view.startedAt = e.timestamp;
        for (const s of e.data.steps ?? []) step(s.stepId).label = s.name ?? s.stepId;
        break;
      case 'workflow.step_started': {
        view.agentId = e.data.agentId ?? view.agentId;
        const s = step(e.data.stepId);
        s.state = 'running';
        s.startedAt = e.timestamp;
        s.events.push(e);
        break;
      }
      case 'workflow.step_completed': {
        const s = step(e.data.stepId);
        s.state = 'completed';
        s.duration = e.data.duration;
        s.events.push(e);
        break;
      }
      case 'workflow.completed':
        view.status = 'completed';
        view.duration = e.data.duration;
        break;
      case 'workflow.failed':
        view.status = 'failed';
        view.duration = e.data.duration;
        view.error = e.data.error.message;
        if (e.data.stepId !== undefined) {
          const s = step(e.data.stepId);
          s.state = 'failed';
          s.error = e.data.error.message;
          s.events.push(e);
        }
        break;
      case 'workflow.block': {
        view.agentId = e.data.agentId ?? view.agentId;
        const s = step(e.data.stepId);
        s.blocks.push(e);
        s.events.push(e);
        break;
      }
      default:
        break;
    }
  }
  view.steps = [...steps.values()];
  return view;
}

const panel: EntityPanel<WorkflowView> = {
  entityOf: workflowOf,
  cap: eventsPerWorkflow,
  toView,
  // Newest workflows first.
  compare: (a, b) => (b.startedAt ?? b.lastAt).getTime() - (a.startedAt ?? a.lastAt).getTime(),
  shown: maxLanes,
};

/** Swimlanes, one per workflow, live from `workflowEvents`. */
export function Workflows({ now }: { now: number }) {
  const trpc = useTRPC();
  const { views: lanes, push } = useEntityViews(panel);
  const subscription = useSubscription(
    trpc.workflowEvents.subscriptionOptions(
      {},
      {
        onData: ({ data }) => {
          push(data);
        },
      },
    ),
  );
  const shown = lanes.slice(0, maxLanes);
  const counts = Object.fromEntries(workflowStatusValues.map((s) => [s, 0])) as Record<WorkflowStatus, number>;
  for (const l of lanes) counts[l.status]++;

  return (
    <section className="panel workflows" aria-labelledby="workflows-title">
      <header>
        <h2 id="workflows-title">Workflows</h2>
        <span className="counts">
          {chipStatuses
            .filter((s) => counts[s] > 0)
            .map((s) => (
              <span key={s} className={`chip wf-${s}`}>
                {counts[s]} {s}
              </span>
            ))}
        </span>
        {lanes.length > maxLanes && (
          <span className="grow-left muted small">
            newest {maxLanes}; {lanes.length - maxLanes} older not shown
          </span>
        )}
      </header>
      {subscription.status === 'error' && <p className="error">workflowEvents: {subscription.error.message}</p>}
      {lanes.length === 0 && <p className="empty">No workflow has started yet.</p>}
      <div className="lanes scrolls">
        {shown.map((lane) => (
          <Lane key={lane.workflowId} lane={lane} now={now} />
        ))}
      </div>
    </section>
  );
}

/** Marks the item the drawer shows. */
function useSelected(): (key: string) => boolean {
  const { detail } = useDrawer();
  return (key) => detail?.key === key;
}

function Lane({ lane, now }: { lane: WorkflowView; now: number }) {
  const usage = useUsage().workflows.get(lane.workflowId);
  const { open } = useDrawer();
  const selected = useSelected();
  const elapsed =
    lane.duration ??
    (lane.status === 'running' && lane.startedAt ? Math.max(0, now - lane.startedAt.getTime()) : undefined);
  const detail = () =>
    workflowDetail({
      ...lane,
      events: lane.lifecycle,
      steps: lane.steps.map((s) => `${s.label}: ${s.state}${s.error === undefined ? '' : ` (${s.error})`}`),
    });
  return (
    <article
      className={`lane wf-${lane.status}`}
      data-workflow={lane.workflowId}
      aria-label={`workflow ${lane.workflowId}`}
    >
      <div className="lane-head">
        <button
          type="button"
          className={`link mono${selected(`workflow:${lane.workflowId}`) ? ' selected' : ''}`}
          title={`${lane.workflowId}: open its detail`}
          onClick={() => {
            open(detail());
          }}
        >
          {lane.workflowId}
        </button>
        {lane.workflowType && <span className="muted">{lane.workflowType}</span>}
        <span className={`chip wf-${lane.status}`} data-testid="workflow-status">
          {lane.status}
        </span>
        {lane.status === 'running' && <AgentGone agentId={lane.agentId} />}
        {elapsed !== undefined && <span className="muted small">{duration(elapsed)}</span>}
        <UsageLine usage={usage} testId="workflow-usage" />
        <span className="muted small grow-left">{ago(lane.lastAt, now)}</span>
      </div>
      {lane.error && <div className="small reason">{lane.error}</div>}
      <ol className="steps">
        {lane.steps.map((s) => (
          <Step key={s.stepId} workflowId={lane.workflowId} step={s} now={now} />
        ))}
      </ol>
    </article>
  );
}

function Step({ workflowId, step, now }: { workflowId: string; step: StepView; now: number }) {
  const { open } = useDrawer();
  const selected = useSelected();
  const [showAll, setShowAll] = useState(false);
  const items = itemsOf(step.blocks);
  const hidden = showAll ? 0 : Math.max(0, items.length - itemsPerStep);
  const detail = () =>
    stepDetail({ ...step, workflowId, events: step.events, lines: items.map((i) => itemLine(i)) }, now);
  return (
    <li className={`step step-${step.state}`} data-step={step.stepId} data-state={step.state}>
      <button
        type="button"
        className={`step-head${selected(`step:${workflowId}:${step.stepId}`) ? ' selected' : ''}`}
        onClick={() => {
          open(detail());
        }}
      >
        <span title={step.label}>{step.label}</span>
        <span className="muted small">
          {step.state === 'completed' && step.duration !== undefined
            ? duration(step.duration)
            : step.state === 'running' && step.startedAt
              ? duration(Math.max(0, now - step.startedAt.getTime()))
              : step.state}
        </span>
      </button>
      {step.error && <div className="small reason">{step.error}</div>}
      {items.length > itemsPerStep && (
        <button
          type="button"
          className="show-all small"
          aria-expanded={showAll}
          onClick={() => {
            setShowAll((v) => !v);
          }}
        >
          {showAll ? `show the last ${itemsPerStep}` : `show all ${items.length} (${hidden} earlier)`}
        </button>
      )}
      <ul className="blocks">
        {items.slice(hidden).map((item) => (
          <ItemRow key={item.key} item={item} selected={selected} onOpen={open} />
        ))}
      </ul>
    </li>
  );
}

/** A block or a call on one or two lines; a click opens its whole text in the drawer. */
function ItemRow({
  item,
  selected,
  onOpen,
}: {
  item: Item;
  selected: (key: string) => boolean;
  onOpen: (detail: Detail) => void;
}) {
  const call = item.kind === 'call' ? item : undefined;
  const summary = itemSummary(item);
  const ms = call && callDuration(call);
  const kind = item.kind === 'call' ? 'tool_use' : item.block.data.blockType;
  const state = call && callState(call);
  const key = item.kind === 'call' ? callKey(item) : blockKey(item.block);
  return (
    <li className={`block block-${kind}${state ? ` call-${state}` : ''}`} data-item={item.key}>
      <button
        type="button"
        title={summary}
        className={selected(key) ? 'selected' : undefined}
        onClick={() => {
          onOpen(item.kind === 'call' ? callDetail(item) : blockDetail(item.block));
        }}
      >
        <span className="block-kind">{itemLabel(item)}</span> {summary}
        {ms !== undefined && <span className="muted"> · {duration(ms)}</span>}
      </button>
    </li>
  );
}

const itemSummary = (item: Item) => (item.kind === 'call' ? callSummary(item) : item.block.data.summary);

function itemLabel(item: Item): string {
  if (item.kind === 'call') {
    const state = callState(item);
    return state === 'failed' ? `${item.toolName} ✕` : state === 'running' ? `${item.toolName} …` : item.toolName;
  }
  const { data } = item.block;
  if (data.blockType === 'tool_use') return data.payload.isError ? `${data.payload.toolName} ✕` : data.payload.toolName;
  return data.blockType;
}

/** An item on one line, whole, for a step's detail. */
function itemLine(item: Item): string {
  return `${itemLabel(item)}: ${itemSummary(item)}`;
}
