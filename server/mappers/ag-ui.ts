/**
 * A workflow's events as AG-UI events (`@ag-ui/core`): the workflow as runs (thread id = workflow id, framed as
 * AG-UI's client verifies a stream: see `run`), its steps as steps, text blocks as assistant text messages,
 * tool-use blocks as tool calls (with their result when the block says how the call ended), thinking blocks as
 * reasoning, its state as a snapshot after every lifecycle event, and anything else as a custom event.
 * docs/ag-ui.md has the table.
 *
 * The mapping is a pure function of the workflow's event sequence: message and tool-call ids derive from
 * event ids, and the state comes from the events before. So a resumed stream, which reads the workflow again
 * from its first event and skips what the reader has, is byte for byte the rest of the first one.
 */
import { EventType, type AGUIEvent } from '@ag-ui/core';
import { endsToolCall, type EventEnvelope, type StreamItem } from '@switchboard/shared';

type WorkflowEnvelope = Extract<EventEnvelope, { type: `workflow.${string}` }>;

/** What STATE_SNAPSHOT carries: the workflow as its events so far describe it. */
export interface AgUiWorkflowState {
  workflowId: string;
  workflowType: string | null;
  status: 'running' | 'completed' | 'failed';
  currentStepId: string | null;
  completedSteps: string[];
  error: { message: string; code?: string | undefined } | null;
  /** The event this state reflects: the resume cursor up to which it holds. */
  lastEventId: string;
}

/** A tool call whose result went out: its AG-UI id and its tool. */
interface DoneCall {
  toolCallId: string;
  toolName: string;
}

/** A tool call whose start went out, and when it started (ms). */
interface OpenCall extends DoneCall {
  startedAt: number;
}

/**
 * Calls awaiting their result, and calls done, at most each: a workflow that never posts results, or runs
 * thousands of calls, does not grow the mapper for ever.
 */
const maxCalls = 1_000;

/** Remembers `key` (→ `value`) among the newest `maxCalls`, the oldest going first. */
function remember<V>(calls: Map<string, V>, key: string, value: V): void;
function remember(calls: Set<string>, key: string): void;
function remember<V>(calls: Map<string, V> | Set<string>, key: string, value?: V): void {
  calls.delete(key);
  if (calls.size >= maxCalls) calls.delete(calls.keys().next().value ?? '');
  if (calls instanceof Set) calls.add(key);
  else calls.set(key, value as V);
}

/** The name of the `CUSTOM` event a second report of one tool call becomes. */
export const toolCallReported = 'tool_call_reported';

export class AgUiMapper {
  private state: AgUiWorkflowState;
  /**
   * The run in progress, if any. AG-UI's stream is runs, each opened by RUN_STARTED and ended by RUN_FINISHED or
   * RUN_ERROR, with nothing between them; a workflow's events are not always framed so (a Claude Code session seen
   * only through its telemetry has no `workflow.started`, and telemetry can arrive after the session ended). An
   * event while no run is open opens one: the workflow's first run has the workflow's id, a later one the id of
   * the event that opened it.
   */
  private run: { threadId: string; runId: string } | undefined;
  private runs = 0;
  /**
   * The run's steps started and not finished, by name, oldest first: a step started again is finished first, as a
   * run's end finishes all. At most `maxCalls`: past it the oldest is finished.
   */
  private readonly activeSteps = new Set<string>();
  /**
   * The run's steps finished, at most `maxCalls`: a step said finished again (Claude Code's Stop, then its
   * SessionEnd) is not a step of its own.
   */
  private readonly finishedSteps = new Set<string>();
  /** By `callId`: a call's start block opened it; its result block (same `callId`) closes it. */
  private readonly openCalls = new Map<string, OpenCall>();
  /**
   * By `callId`: each call whose result went out. Claude Code reports a call through its hooks (PreToolUse,
   * PostToolUse) and through its telemetry (`claude_code.tool_result`), under one `tool_use_id`: the call is one
   * tool call, and a report of it (same `callId`, same tool) after its result is not a second one.
   */
  private readonly doneCalls = new Map<string, DoneCall>();

  constructor(readonly workflowId: string) {
    this.state = {
      workflowId,
      workflowType: null,
      status: 'running',
      currentStepId: null,
      completedSteps: [],
      error: null,
      lastEventId: '0',
    };
  }

  /** The AG-UI events for one item, in order; every item yields at least one. */
  map(item: StreamItem): AGUIEvent[] {
    const timestamp = item.timestamp.getTime();
    const opened = item.type === 'workflow.started' ? [] : this.openRun(item.id);
    const events =
      item.type === 'stream.reset' || !item.type.startsWith('workflow.')
        ? [{ type: EventType.CUSTOM, name: item.type, value: item.data } as AGUIEvent]
        : this.workflow(item as WorkflowEnvelope);
    return [...opened, ...events].map((event) => ({ ...event, timestamp }));
  }

  /** RUN_STARTED when no run is open (see `run`); nothing while one is. */
  private openRun(eventId: string): AGUIEvent[] {
    if (this.run !== undefined) return [];
    this.run = {
      threadId: this.workflowId,
      runId: this.runs === 0 ? this.workflowId : `${this.workflowId}-${eventId}`,
    };
    this.runs++;
    this.finishedSteps.clear();
    return [{ type: EventType.RUN_STARTED, ...this.run }];
  }

  /** Ends the run: its steps are forgotten (`workflow.completed` has finished them). */
  private endRun(): { threadId: string; runId: string } {
    const run = this.run ?? { threadId: this.workflowId, runId: this.workflowId };
    this.run = undefined;
    this.activeSteps.clear();
    return run;
  }

  /** STEP_FINISHED for every step still active, oldest first (a run ends with none). */
  private finishSteps(): AGUIEvent[] {
    const finished = [...this.activeSteps].map((stepName): AGUIEvent => ({ type: EventType.STEP_FINISHED, stepName }));
    this.activeSteps.clear();
    return finished;
  }

  private snapshot(id: string): AGUIEvent {
    this.state = { ...this.state, lastEventId: id };
    return { type: EventType.STATE_SNAPSHOT, snapshot: this.state };
  }

  private workflow(item: WorkflowEnvelope): AGUIEvent[] {
    const id = item.id;
    switch (item.type) {
      case 'workflow.started':
        this.state = { ...this.state, workflowType: item.data.workflowType, status: 'running' };
        // A run already open (a workflow started twice) goes on: its start was said.
        return [...this.openRun(id), this.snapshot(id)];
      case 'workflow.step_started': {
        const stepName = item.data.stepId;
        this.state = { ...this.state, currentStepId: stepName };
        // Claude Code starts its `main` step at every prompt, and says it finished only through a Stop hook.
        const again: AGUIEvent[] = this.activeSteps.has(stepName) ? [{ type: EventType.STEP_FINISHED, stepName }] : [];
        this.activeSteps.delete(stepName);
        // A run with more steps open than it remembers finishes the oldest.
        const oldest = this.activeSteps.size >= maxCalls ? [...this.activeSteps][0] : undefined;
        if (oldest !== undefined) {
          this.activeSteps.delete(oldest);
          again.push({ type: EventType.STEP_FINISHED, stepName: oldest });
        }
        this.activeSteps.add(stepName);
        this.finishedSteps.delete(stepName);
        return [...again, { type: EventType.STEP_STARTED, stepName }, this.snapshot(id)];
      }
      case 'workflow.step_completed': {
        this.state = {
          ...this.state,
          currentStepId: item.data.nextStep ?? null,
          // A step may run more than once (Claude Code's `main`, once per turn): listed once.
          completedSteps: [...this.state.completedSteps.filter((step) => step !== item.data.stepId), item.data.stepId],
        };
        const stepName = item.data.stepId;
        // Finished again in this run: already said. Never started in it: started here first.
        if (!this.activeSteps.has(stepName) && this.finishedSteps.has(stepName)) return [this.snapshot(id)];
        const started: AGUIEvent[] = this.activeSteps.has(stepName) ? [] : [{ type: EventType.STEP_STARTED, stepName }];
        this.activeSteps.delete(stepName);
        remember(this.finishedSteps, stepName);
        return [...started, { type: EventType.STEP_FINISHED, stepName }, this.snapshot(id)];
      }
      case 'workflow.completed': {
        this.state = { ...this.state, status: 'completed', currentStepId: null };
        const finished = this.finishSteps();
        return [
          ...finished,
          this.snapshot(id),
          { type: EventType.RUN_FINISHED, ...this.endRun(), result: item.data.result },
        ];
      }
      case 'workflow.failed': {
        const { message, code } = item.data.error;
        this.state = { ...this.state, status: 'failed', error: { message, ...(code !== undefined && { code }) } };
        this.endRun();
        return [this.snapshot(id), { type: EventType.RUN_ERROR, message, ...(code !== undefined && { code }) }];
      }
      case 'workflow.block':
        return this.block(item);
    }
  }

  private block(item: Extract<WorkflowEnvelope, { type: 'workflow.block' }>): AGUIEvent[] {
    const { data } = item;
    if (data.blockType !== 'tool_use' || data.payload.callId === undefined) return block(item);
    const { callId, toolName, isError, durationMs } = data.payload;
    const at = item.timestamp.getTime();
    // One call is one `callId` of one tool; a producer that reused an id for another tool made two calls.
    const ofThisTool = <C extends { toolName: string }>(call: C | undefined) =>
      call?.toolName === toolName ? call : undefined;
    const open = ofThisTool(this.openCalls.get(callId));
    const done = ofThisTool(this.doneCalls.get(callId));
    const isResult = endsToolCall(data.payload);
    // A call already done, or a second start of one still open: the same call told again, not another one.
    const told = done ?? (isResult ? undefined : open);
    if (told !== undefined) {
      const metadata = { switchboard: { eventId: item.id, stepId: data.stepId, agentId: data.agentId ?? null } };
      const value = { toolCallId: told.toolCallId, eventId: item.id, block: data };
      return [{ type: EventType.CUSTOM, name: toolCallReported, value, metadata }];
    }
    if (open === undefined) {
      // A start (or a result whose start this workflow never had): the call in full, open until its result.
      const toolCallId = `call-${item.id}`;
      if (isResult) remember(this.doneCalls, callId, { toolCallId, toolName });
      else remember(this.openCalls, callId, { toolCallId, toolName, startedAt: at });
      return block(item);
    }
    // The result of a call whose start went out: only TOOL_CALL_RESULT, under the start's tool call id, timed
    // by what the producer measured, else by the two events' timestamps.
    this.openCalls.delete(callId);
    remember(this.doneCalls, callId, { toolCallId: open.toolCallId, toolName });
    return [
      {
        type: EventType.TOOL_CALL_RESULT,
        messageId: `result-${item.id}`,
        toolCallId: open.toolCallId,
        content: resultContent(data),
        role: 'tool',
        metadata: {
          switchboard: {
            eventId: item.id,
            callId,
            durationMs: durationMs ?? Math.max(0, at - open.startedAt),
            ...(isError !== undefined && { isError }),
          },
        },
      },
    ];
  }
}

type Block = Extract<WorkflowEnvelope, { type: 'workflow.block' }>['data'];
type ToolUse = Extract<Block, { blockType: 'tool_use' }>;

/**
 * A result's content: the output (a string as is, else its JSON); without one, a failed call's summary (`Write
 * rejected (user_reject)`), since AG-UI's result has no field for failure and a front end shows the content;
 * else nothing.
 */
function resultContent(data: ToolUse): string {
  const { output, isError } = data.payload;
  if (output !== undefined) return typeof output === 'string' ? output : JSON.stringify(output);
  return isError === true ? data.summary : '';
}

function block(item: Extract<WorkflowEnvelope, { type: 'workflow.block' }>): AGUIEvent[] {
  const { data } = item;
  const messageId = `msg-${item.id}`;
  // The block's step and agent travel as metadata; AG-UI has no field for them.
  const metadata = { switchboard: { eventId: item.id, stepId: data.stepId, agentId: data.agentId ?? null } };
  switch (data.blockType) {
    case 'text': {
      // A prompt is the user's message; every other text is the agent's.
      const role = data.payload.role ?? 'assistant';
      const events: AGUIEvent[] = [{ type: EventType.TEXT_MESSAGE_START, messageId, role, metadata }];
      // AG-UI refuses an empty delta; an empty block is a message with no content.
      if (data.payload.text !== '')
        events.push({ type: EventType.TEXT_MESSAGE_CONTENT, messageId, delta: data.payload.text });
      events.push({ type: EventType.TEXT_MESSAGE_END, messageId });
      return events;
    }
    case 'thinking': {
      const events: AGUIEvent[] = [
        { type: EventType.REASONING_START, messageId, metadata },
        { type: EventType.REASONING_MESSAGE_START, messageId, role: 'reasoning' },
      ];
      if (data.payload.text !== '')
        events.push({ type: EventType.REASONING_MESSAGE_CONTENT, messageId, delta: data.payload.text });
      events.push({ type: EventType.REASONING_MESSAGE_END, messageId }, { type: EventType.REASONING_END, messageId });
      return events;
    }
    case 'tool_use': {
      const toolCallId = `call-${item.id}`;
      const { toolName, inputPreview, isError, durationMs, callId } = data.payload;
      const events: AGUIEvent[] = [{ type: EventType.TOOL_CALL_START, toolCallId, toolCallName: toolName, metadata }];
      if (inputPreview !== undefined && inputPreview !== '')
        events.push({ type: EventType.TOOL_CALL_ARGS, toolCallId, delta: inputPreview });
      events.push({ type: EventType.TOOL_CALL_END, toolCallId });
      if (endsToolCall(data.payload)) {
        events.push({
          type: EventType.TOOL_CALL_RESULT,
          messageId: `result-${item.id}`,
          toolCallId,
          content: resultContent(data),
          role: 'tool',
          // The shape a paired result's metadata has, with what this block says.
          metadata: {
            switchboard: {
              eventId: item.id,
              ...(callId !== undefined && { callId }),
              ...(durationMs !== undefined && { durationMs }),
              ...(isError !== undefined && { isError }),
            },
          },
        });
      }
      return events;
    }
  }
}
