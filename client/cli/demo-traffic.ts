/**
 * The traffic of `switchboard demo`: a simulated orchestrator, so that a newcomer sees realistic traffic within
 * seconds. Agents pick up tasks inside workflows, run TDD red → green → refactor cycles, and emit thinking,
 * tool-use and text blocks as they go; now and then a step fails.
 */
import type { PublishInput } from '@switchboard/shared';

/** mulberry32: a small seeded PRNG, so a given --seed replays the same story (the soak's schedule too). */
export function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const tools = ['bash', 'read_file', 'edit_file', 'grep', 'run_tests'];
const steps = ['plan', 'implement', 'test', 'review'] as const;

/** One agent's story, as an endless sequence of events. */
function* agentStory(agentId: string, rand: () => number): Generator<PublishInput> {
  const agentType = rand() < 0.5 ? 'coder' : 'tester';
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  let completed = 0;
  const started = Date.now();
  const metrics = () => ({
    cpu: Math.round(rand() * 90 * 10) / 10,
    memory: Math.round(200 + rand() * 600),
    tasksCompleted: completed,
    uptime: Math.round((Date.now() - started) / 1000),
  });
  for (let n = 1; ; n++) {
    const workflowId = `wf-${agentId}-${n}`;
    const taskId = `${agentId}-task-${n}`;
    yield { type: 'agent.status', data: { agentId, agentType, status: 'idle', currentTask: null, metrics: metrics() } };
    yield {
      type: 'workflow.started',
      data: {
        workflowId,
        workflowType: pick(['feature', 'bugfix', 'refactor']),
        initiator: 'demo-orchestrator',
        steps: steps.map((stepId) => ({ stepId, stepType: stepId === 'plan' ? 'planning' : 'agent' })),
        estimatedDuration: 60_000,
      },
    };
    let failed = false;
    let phase: 'red' | 'green' | 'refactor' | null = null;
    for (const [index, stepId] of steps.entries()) {
      const progress = Math.round((index / steps.length) * 100);
      yield {
        type: 'agent.status',
        data: {
          agentId,
          agentType,
          status: 'busy',
          currentTask: { taskId, description: `${stepId} ${workflowId}`, progress },
          metrics: metrics(),
        },
      };
      yield { type: 'workflow.step_started', data: { workflowId, stepId, stepType: 'agent', agentId } };
      yield {
        type: 'workflow.block',
        data: {
          workflowId,
          stepId,
          agentId,
          blockType: 'thinking',
          summary: `considering how to ${stepId} ${taskId}`,
          payload: { text: 'Weighing the options…' },
        },
      };
      const tool = pick(tools);
      yield {
        type: 'workflow.block',
        data: {
          workflowId,
          stepId,
          agentId,
          blockType: 'tool_use',
          summary: `${tool} during ${stepId}`,
          payload: { toolName: tool, inputPreview: tool === 'bash' ? 'npm test' : 'src/index.ts' },
        },
      };
      if (stepId === 'implement' || stepId === 'test') {
        for (const next of ['red', 'green', 'refactor'] as const) {
          const total = 10 + Math.floor(rand() * 30);
          const failing = next === 'red' ? 1 + Math.floor(rand() * 3) : 0;
          yield {
            type: 'tdd.test_result',
            data: {
              agentId,
              taskId,
              testName: `${taskId} case ${total}`,
              status: failing ? 'failed' : 'passed',
              duration: Math.round(rand() * 300),
            },
          };
          yield {
            type: 'tdd.phase_changed',
            data: {
              agentId,
              taskId,
              previousPhase: phase,
              currentPhase: next,
              testResults: { total, passing: total - failing, failing, skipped: 0 },
              coverage: {
                lines: 70 + Math.round(rand() * 25),
                branches: 60 + Math.round(rand() * 30),
                functions: 75 + Math.round(rand() * 20),
                statements: 70 + Math.round(rand() * 25),
              },
              duration: Math.round(1000 + rand() * 5000),
            },
          };
          phase = next;
        }
      }
      if (rand() < 0.04) {
        yield { type: 'agent.error', data: { agentId, message: `${tool} exited with status 1`, recoverable: true } };
        yield {
          type: 'workflow.failed',
          data: {
            workflowId,
            stepId,
            error: { message: `${stepId} failed: ${tool} exited with status 1`, code: 'TOOL_FAILED' },
          },
        };
        yield {
          type: 'agent.status',
          data: {
            agentId,
            agentType,
            status: 'error',
            currentTask: null,
            reason: `${stepId} failed`,
            metrics: metrics(),
          },
        };
        failed = true;
        break;
      }
      yield {
        type: 'workflow.block',
        data: {
          workflowId,
          stepId,
          agentId,
          blockType: 'text',
          summary: `${stepId} done for ${taskId}`,
          payload: { text: `Finished ${stepId}.` },
        },
      };
      yield {
        type: 'workflow.step_completed',
        data: {
          workflowId,
          stepId,
          stepType: 'agent',
          duration: Math.round(500 + rand() * 4000),
          nextStep: steps[index + 1] ?? null,
          result: { ok: true },
        },
      };
    }
    if (!failed) {
      completed++;
      yield {
        type: 'workflow.completed',
        data: { workflowId, duration: Math.round(5000 + rand() * 20_000), result: { merged: true } },
      };
    }
    if (n % 5 === 0)
      yield {
        type: 'system.notification',
        data: { level: 'info', title: 'progress', message: `${agentId} finished ${completed} tasks` },
      };
  }
}

/** The demo's events, the agents' stories taking turns: the same sequence for the same `agents` and `seed`. */
export function* demoTraffic(agents: number, seed: number): Generator<PublishInput, never> {
  const rand = random(seed);
  const stories = Array.from({ length: agents }, (_, i) => agentStory(`agent-${String(i + 1).padStart(3, '0')}`, rand));
  for (let turn = 0; ; turn++) {
    const next = stories[turn % stories.length]?.next();
    if (next && next.done !== true) yield next.value;
  }
}
