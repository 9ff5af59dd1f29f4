import { useSubscription } from '@trpc/tanstack-react-query';
import { tddPhaseValues, type EnvelopeOf, type EventEnvelope } from '@switchboard/shared';
import { useEntityViews, type EntityPanel, type EntityView } from './entities.js';
import { ago, clock, duration } from './format.js';
import { AgentGone } from './presence.js';
import { useTRPC } from './trpc.js';

type PhaseChanged = EnvelopeOf<'tdd.phase_changed'>;
type Phase = PhaseChanged['data']['currentPhase'];
type Counts = NonNullable<PhaseChanged['data']['testResults']>;
type Coverage = NonNullable<PhaseChanged['data']['coverage']>;

interface TaskView extends EntityView {
  taskId: string;
  agentId: string;
  phase?: Phase;
  tests?: Counts;
  coverage?: Coverage;
  history: PhaseChanged[];
  lastTest?: EnvelopeOf<'tdd.test_result'>;
  lastAt: Date;
}

const maxTasks = 16;
const eventsPerTask = 200;
const timelineLength = 16;

const taskOf = (event: EventEnvelope) =>
  event.type.startsWith('tdd.') && 'taskId' in event.data ? event.data.taskId : undefined;

function toView(taskId: string, events: readonly EventEnvelope[]): TaskView {
  const view: TaskView = {
    key: taskId,
    taskId,
    agentId: '',
    history: [],
    lastAt: events.at(-1)?.timestamp ?? new Date(0),
    // No event marks a task's start: its earlier phases are asked for once, whatever it holds.
  };
  for (const e of events) {
    switch (e.type) {
      case 'tdd.phase_changed':
        view.agentId = e.data.agentId;
        view.phase = e.data.currentPhase;
        view.tests = e.data.testResults ?? view.tests;
        view.coverage = e.data.coverage ?? view.coverage;
        view.history.push(e);
        break;
      case 'tdd.coverage_update':
        view.agentId = e.data.agentId;
        view.coverage = e.data.coverage;
        break;
      case 'tdd.test_result':
        view.agentId = e.data.agentId;
        view.lastTest = e;
        break;
      default:
        break;
    }
  }
  return view;
}

const panel: EntityPanel<TaskView> = {
  entityOf: taskOf,
  cap: eventsPerTask,
  toView,
  // Most recently active first.
  compare: (a, b) => b.lastAt.getTime() - a.lastAt.getTime(),
  shown: maxTasks,
};

/** Each TDD task's current phase, tests and coverage, with its phase history, live from `tddPhase`. */
export function Tdd({ now }: { now: number }) {
  const trpc = useTRPC();
  const { views: tasks, push } = useEntityViews(panel);
  const subscription = useSubscription(
    trpc.tddPhase.subscriptionOptions(
      {},
      {
        onData: ({ data }) => {
          push(data);
        },
      },
    ),
  );

  return (
    <section className="panel tdd" aria-labelledby="tdd-title">
      <header>
        <h2 id="tdd-title">TDD</h2>
        <span className="muted">{tasks.length}</span>
        <span className="legend grow-left muted small" aria-label="phase history colours">
          phase history:
          {tddPhaseValues.map((p) => (
            <span key={p}>
              <span className={`swatch phase-${p}`} aria-hidden="true" /> {p}
            </span>
          ))}
        </span>
      </header>
      {subscription.status === 'error' && <p className="error">tddPhase: {subscription.error.message}</p>}
      {tasks.length === 0 && <p className="empty">No TDD cycle has reported yet.</p>}
      <ul className="tasks scrolls">
        {tasks.slice(0, maxTasks).map((t) => (
          <TaskRow key={t.taskId} task={t} now={now} />
        ))}
        {tasks.length > maxTasks && (
          <li className="more">
            the {maxTasks} most recently active; {tasks.length - maxTasks} quieter tasks not shown
          </li>
        )}
      </ul>
    </section>
  );
}

function TaskRow({ task, now }: { task: TaskView; now: number }) {
  const { tests, coverage, lastTest } = task;
  const last = lastTest && lastTestLine(lastTest);
  return (
    <li className="task-row" data-task={task.taskId} aria-label={`task ${task.taskId}`}>
      <div className="task-id ellipsis" title={`${task.taskId} · ${task.agentId} · ${ago(task.lastAt, now)}`}>
        <strong className="mono">{task.taskId}</strong>{' '}
        <span className="muted small">
          {task.agentId} <AgentGone agentId={task.agentId} label="offline" /> · {ago(task.lastAt, now)}
        </span>
      </div>
      <span className={`phase phase-${task.phase ?? 'none'}`} data-testid="tdd-phase">
        {task.phase ?? '–'}
      </span>
      <div className="small tests ellipsis" title={last ? `last: ${last}` : undefined}>
        {tests ? (
          <span className={tests.failing > 0 ? 'failing' : 'passing'}>
            {tests.passing}/{tests.total} passing{tests.failing > 0 && ` · ${tests.failing} failing`}
          </span>
        ) : (
          <span className="muted">no test counts</span>
        )}
      </div>
      <div
        className="small coverage"
        title={coverage && `branches ${coverage.branches}% · functions ${coverage.functions}%`}
      >
        {coverage ? (
          <>
            lines {coverage.lines}%
            <div className="progress thin">
              <div style={{ width: `${coverage.lines}%` }} />
            </div>
          </>
        ) : (
          <span className="muted">no coverage</span>
        )}
      </div>
      <ol className="timeline" aria-label="phase history">
        {task.history.slice(-timelineLength).map((p) => (
          <li
            key={p.id}
            className={`phase-${p.data.currentPhase}`}
            title={`${p.data.currentPhase} at ${clock(p.timestamp)}${p.data.duration === undefined ? '' : ` (${duration(p.data.duration)})`}`}
          />
        ))}
      </ol>
    </li>
  );
}

/** The task's latest test result, message included. */
function lastTestLine(test: EnvelopeOf<'tdd.test_result'>): string {
  const { testName, status, message } = test.data;
  return `${testName} ${status}${message === undefined ? '' : `: ${message}`}`;
}
