import { useSubscription } from '@trpc/tanstack-react-query';
import {
  isEventOf,
  workflowEventTypes,
  workflowStatusValues,
  type EnvelopeOf,
  type EventEnvelope,
  type WorkflowStatus,
} from '@switchboard/shared';
import { useEntityViews, type EntityPanel, type EntityView } from './entities.js';
import { ago, duration } from './format.js';
import { AgentGone } from './presence.js';
import { useTRPC } from './trpc.js';
import { UsageLine, useUsage } from './usage.js';

type Block = EnvelopeOf<'workflow.block'>;
/** A step is `pending` until its first event; then it goes through the same states as a workflow. */
type StepState = 'pending' | WorkflowStatus;

interface StepView {
  stepId: string;
  label: string;
  state: StepState;
  startedAt?: Date;
  duration?: number;
  error?: string;
  blocks: Block[];
}

interface WorkflowView extends EntityView {
  workflowId: string;
  workflowType?: string;
  status: WorkflowStatus;
  startedAt?: Date;
  duration?: number;
  error?: string;
  steps: StepView[];
  lastAt: Date;
  /** The agent named by its latest step start or block that names one. */
  agentId?: string;
}

/** Lanes shown at once, newest workflows first; blocks shown per step, newest last. */
const maxLanes = 12;
/** The order of the count chips: what needs attention before what is done. */
const chipOrder: Record<WorkflowStatus, number> = { running: 0, failed: 1, completed: 2 };
const chipStatuses = [...workflowStatusValues].sort((a, b) => chipOrder[a] - chipOrder[b]);
const blocksPerStep = 4;
const eventsPerWorkflow = 400;

const isWorkflowEvent = isEventOf(workflowEventTypes);
const workflowOf = (event: EventEnvelope) => (isWorkflowEvent(event) ? event.data.workflowId : undefined);

/** One workflow's lane, replayed from its events in id order. */
function toView(workflowId: string, events: readonly EventEnvelope[]): WorkflowView {
  const steps = new Map<string, StepView>();
  const step = (stepId: string) => {
    let s = steps.get(stepId);
    if (!s) steps.set(stepId, (s = { stepId, label: stepId, state: 'pending', blocks: [] }));
    return s;
  };
  const view: WorkflowView = {
    key: workflowId,
    workflowId,
    status: 'running',
    steps: [],
    lastAt: events.at(-1)?.timestamp ?? new Date(0),
  };
  for (const e of events) {
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
        break;
      }
      case 'workflow.step_completed': {
        const s = step(e.data.stepId);
        s.state = 'completed';
        s.duration = e.data.duration;
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
        }
        break;
      case 'workflow.block': {
        view.agentId = e.data.agentId ?? view.agentId;
        const s = step(e.data.stepId);
        s.blocks.push(e);
        if (s.blocks.length > blocksPerStep) s.blocks.shift();
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
      </header>
      {subscription.status === 'error' && <p className="error">workflowEvents: {subscription.error.message}</p>}
      {lanes.length === 0 && <p className="empty">No workflow has started yet.</p>}
      <div className="lanes scrolls">
        {shown.map((lane) => (
          <Lane key={lane.workflowId} lane={lane} now={now} />
        ))}
      </div>
      {lanes.length > maxLanes && <p className="more">{lanes.length - maxLanes} older workflows not shown</p>}
    </section>
  );
}

function Lane({ lane, now }: { lane: WorkflowView; now: number }) {
  const usage = useUsage().workflows.get(lane.workflowId);
  const elapsed =
    lane.duration ??
    (lane.status === 'running' && lane.startedAt ? Math.max(0, now - lane.startedAt.getTime()) : undefined);
  return (
    <article
      className={`lane wf-${lane.status}`}
      data-workflow={lane.workflowId}
      aria-label={`workflow ${lane.workflowId}`}
    >
      <div className="lane-head">
        <strong className="mono">{lane.workflowId}</strong>
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
          <li key={s.stepId} className={`step step-${s.state}`} data-step={s.stepId} data-state={s.state}>
            <div className="step-head">
              <span title={s.label}>{s.label}</span>
              <span className="muted small">
                {s.state === 'completed' && s.duration !== undefined
                  ? duration(s.duration)
                  : s.state === 'running' && s.startedAt
                    ? duration(Math.max(0, now - s.startedAt.getTime()))
                    : s.state}
              </span>
            </div>
            {s.error && <div className="small reason">{s.error}</div>}
            <ul className="blocks">
              {s.blocks.map((b) => (
                <li key={b.id} className={`block block-${b.data.blockType}`} title={b.data.summary}>
                  <span className="block-kind">{blockLabel(b)}</span> {b.data.summary}
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ol>
    </article>
  );
}

function blockLabel(block: Block): string {
  switch (block.data.blockType) {
    case 'text':
      return 'text';
    case 'thinking':
      return 'thinking';
    case 'tool_use':
      return block.data.payload.isError ? `${block.data.payload.toolName} ✕` : block.data.payload.toolName;
  }
}
