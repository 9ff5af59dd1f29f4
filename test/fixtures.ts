/** Valid publish inputs, one maker per event type the tests use. */
import type { PublishInput } from '@switchboard/shared';

export const agentStatus = (
  agentId: string,
  status: 'idle' | 'busy' | 'blocked' | 'error' | 'offline' = 'busy',
  extra: { key?: string } = {},
) =>
  ({
    type: 'agent.status',
    data: {
      agentId,
      agentType: 'coder',
      status,
      currentTask: status === 'busy' ? { taskId: 'task-1', description: 'implement parser', progress: 40 } : null,
      metrics: { cpu: 12.5, memory: 256, tasksCompleted: 3, uptime: 120 },
    },
    ...extra,
  }) satisfies PublishInput;

export const agentLog = (agentId: string, message: string) =>
  ({ type: 'agent.log', data: { agentId, level: 'info', message } }) satisfies PublishInput;

export const workflowStarted = (workflowId: string) =>
  ({
    type: 'workflow.started',
    data: {
      workflowId,
      workflowType: 'feature',
      initiator: 'orchestrator',
      steps: [{ stepId: 'plan' }, { stepId: 'build' }],
    },
  }) satisfies PublishInput;

export const workflowStepCompleted = (workflowId: string, stepId: string, nextStep: string | null = null) =>
  ({
    type: 'workflow.step_completed',
    data: { workflowId, stepId, stepType: 'agent', duration: 1500, nextStep, result: { ok: true } },
  }) satisfies PublishInput;

export const workflowBlock = (workflowId: string, stepId: string) =>
  ({
    type: 'workflow.block',
    data: {
      workflowId,
      stepId,
      agentId: 'coder-001',
      blockType: 'tool_use',
      summary: 'ran the test suite',
      payload: { toolName: 'bash', inputPreview: 'npm test' },
    },
  }) satisfies PublishInput;

export const tddPhaseChanged = (taskId: string, currentPhase: 'red' | 'green' | 'refactor', agentId = 'coder-001') =>
  ({
    type: 'tdd.phase_changed',
    data: {
      agentId,
      taskId,
      previousPhase: null,
      currentPhase,
      testResults: {
        total: 10,
        passing: currentPhase === 'red' ? 9 : 10,
        failing: currentPhase === 'red' ? 1 : 0,
        skipped: 0,
      },
      coverage: { lines: 81, branches: 70, functions: 90, statements: 80 },
      duration: 2000,
    },
  }) satisfies PublishInput;

export const systemNotification = (title: string) =>
  ({ type: 'system.notification', data: { level: 'info', title, message: 'hello' } }) satisfies PublishInput;

export const usageRecorded = (
  agentId: string,
  tokens: { input: number; output: number; cacheRead?: number; cacheCreation?: number },
  extra: { workflowId?: string; model?: string; costUsd?: number; key?: string } = {},
) =>
  ({
    type: 'usage.recorded',
    data: {
      agentId,
      ...(extra.workflowId !== undefined && { workflowId: extra.workflowId }),
      ...(extra.model !== undefined && { model: extra.model }),
      inputTokens: tokens.input,
      outputTokens: tokens.output,
      ...(tokens.cacheRead !== undefined && { cacheReadTokens: tokens.cacheRead }),
      ...(tokens.cacheCreation !== undefined && { cacheCreationTokens: tokens.cacheCreation }),
      ...(extra.costUsd !== undefined && { costUsd: extra.costUsd }),
    },
    ...(extra.key !== undefined && { key: extra.key }),
  }) satisfies PublishInput;
