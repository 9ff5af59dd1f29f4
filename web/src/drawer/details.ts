/**
 * What the detail drawer shows for each thing on the page that can be opened: an event, a block, a call, a step
 * or a workflow. Each is a title, a few facts (time, duration, outcome, error), the whole of its text (never cut),
 * and the raw JSON of the events it is made of.
 */
import type { AnyEnvelope, StreamItem, StreamReset } from '@switchboard/shared';
import { callDuration, callInput, callOutput, callState, type Block, type Call } from '../calls.js';
import { clock, duration, pretty } from '../format.js';

export type DetailKind = 'event' | 'block' | 'call' | 'step' | 'workflow';

export interface Fact {
  label: string;
  value: string;
  tone?: 'good' | 'bad' | 'warn';
}

export interface Section {
  label: string;
  text: string;
  tone?: 'bad';
}

export interface Detail {
  kind: DetailKind;
  /** Which item of the page it is (for marking it selected), e.g. `event:42` or `call:wf-1:toolu_01`. */
  key: string;
  title: string;
  facts: Fact[];
  sections: Section[];
  events: readonly (StreamItem | AnyEnvelope)[];
}

/** The keys of what the drawer can show, known without building its detail (to mark the one shown). */
export const eventKey = (event: { id: string }) => `event:${event.id}`;
export const blockKey = (block: Block) => `block:${block.id}`;
export const callKey = (call: Call) => `call:${call.blocks[0]?.data.workflowId ?? ''}:${call.callId}`;

const when = (timestamp: Date) => `${clock(timestamp)} · ${timestamp.toISOString()}`;

/** A JSON text (a tool input's preview) indented when it parses; as it is otherwise (a preview cut short). */
function readable(text: string): string {
  try {
    return pretty(JSON.parse(text));
  } catch {
    // Not JSON, or JSON cut short by the preview limit: shown as stored.
    return text;
  }
}

const shown = (value: unknown): string => (typeof value === 'string' ? value : pretty(value));

/** The text a block holds: the prompt or prose, the reasoning, or a tool's input and output. */
function blockSections(block: Block): Section[] {
  const sections: Section[] = [{ label: 'Summary', text: block.data.summary }];
  switch (block.data.blockType) {
    case 'text':
      sections.push({ label: block.data.payload.role === 'user' ? 'Prompt' : 'Text', text: block.data.payload.text });
      break;
    case 'thinking':
      sections.push({ label: 'Thinking', text: block.data.payload.text });
      break;
    case 'tool_use': {
      const { inputPreview, output, isError } = block.data.payload;
      if (inputPreview !== undefined) sections.push({ label: 'Input', text: readable(inputPreview) });
      if (output !== undefined) {
        sections.push({ label: isError ? 'Error' : 'Result', text: shown(output), ...(isError && { tone: 'bad' }) });
      }
      break;
    }
  }
  return sections;
}

function blockFacts(block: Block): Fact[] {
  const facts: Fact[] = [
    { label: 'workflow', value: block.data.workflowId },
    { label: 'step', value: block.data.stepId },
  ];
  if (block.data.agentId !== undefined) facts.push({ label: 'agent', value: block.data.agentId });
  if (block.data.blockType === 'tool_use') {
    facts.push({ label: 'tool', value: block.data.payload.toolName });
    if (block.data.payload.isError !== undefined) {
      facts.push(
        block.data.payload.isError
          ? { label: 'outcome', value: 'failed', tone: 'bad' }
          : { label: 'outcome', value: 'done', tone: 'good' },
      );
    }
  }
  return facts;
}

/** A number of milliseconds the event's data names as its duration, if any. */
function durationOf(event: StreamItem | AnyEnvelope): number | undefined {
  const data = event.data as { duration?: unknown } | null;
  return typeof data?.duration === 'number' ? data.duration : undefined;
}

/** An error message the event's data carries (a failed workflow, an agent's error), if any. */
function errorOf(event: StreamItem | AnyEnvelope): string | undefined {
  if (event.type === 'workflow.failed' || event.type === 'agent.error') {
    const data = event.data as { error?: { message?: unknown }; message?: unknown };
    const message = data.error?.message ?? data.message;
    return typeof message === 'string' ? message : undefined;
  }
  return undefined;
}

const isReset = (event: StreamItem | AnyEnvelope): event is StreamReset => event.type === 'stream.reset';
const isBlock = (event: StreamItem | AnyEnvelope): event is Block => event.type === 'workflow.block';

/** Any event, as the log shows it: `summary` is its one-line summary, here whole. */
export function eventDetail(event: StreamItem | AnyEnvelope, summary: string): Detail {
  const facts: Fact[] = [
    { label: 'time', value: when(event.timestamp) },
    { label: 'topic', value: event.topic },
  ];
  // A stream.reset notice has none of these.
  if (!isReset(event)) {
    for (const [label, value] of [
      ['source', event.source],
      ['key', event.key],
      ['correlation', event.correlationId],
    ] as const) {
      if (value !== undefined) facts.push({ label, value });
    }
  }
  const ms = durationOf(event);
  if (ms !== undefined) facts.push({ label: 'duration', value: duration(ms) });
  const error = errorOf(event);
  if (error !== undefined) facts.push({ label: 'error', value: error, tone: 'bad' });
  return {
    kind: 'event',
    key: eventKey(event),
    title: `#${event.id} ${event.type}`,
    facts: isBlock(event) ? [...facts, ...blockFacts(event)] : facts,
    sections: isBlock(event) ? blockSections(event) : summary === '' ? [] : [{ label: 'Summary', text: summary }],
    events: [event],
  };
}

export function blockDetail(block: Block): Detail {
  const what =
    block.data.blockType === 'tool_use' ? `${block.data.payload.toolName} call` : `${block.data.blockType} block`;
  return {
    kind: 'block',
    key: blockKey(block),
    title: what,
    facts: [{ label: 'time', value: when(block.timestamp) }, ...blockFacts(block)],
    sections: blockSections(block),
    events: [block],
  };
}

export function callDetail(call: Call): Detail {
  const state = callState(call);
  const first = call.start ?? call.blocks[0];
  const ms = callDuration(call);
  const facts: Fact[] = [
    { label: 'outcome', value: state, tone: state === 'failed' ? 'bad' : state === 'done' ? 'good' : 'warn' },
  ];
  if (ms !== undefined) facts.push({ label: 'duration', value: duration(ms) });
  if (call.start) facts.push({ label: 'started', value: when(call.start.timestamp) });
  if (call.end) facts.push({ label: 'finished', value: when(call.end.timestamp) });
  facts.push({ label: 'call id', value: call.callId });
  if (first) facts.push(...blockFacts(first).filter((f) => f.label !== 'outcome'));
  const sections: Section[] = [{ label: 'Summary', text: (call.end ?? first)?.data.summary ?? call.toolName }];
  const input = callInput(call);
  if (input !== undefined) sections.push({ label: 'Input', text: readable(input) });
  const output = callOutput(call);
  if (output !== undefined) {
    sections.push(
      state === 'failed'
        ? { label: 'Error', text: shown(output), tone: 'bad' }
        : { label: 'Result', text: shown(output) },
    );
  } else if (state === 'running') sections.push({ label: 'Result', text: 'no result yet' });
  return {
    kind: 'call',
    key: callKey(call),
    title: `${call.toolName} call`,
    facts,
    sections,
    events: call.blocks,
  };
}

/** What a lane knows of one step. */
export interface StepFacts {
  workflowId: string;
  stepId: string;
  label: string;
  state: string;
  startedAt?: Date;
  duration?: number;
  error?: string;
  /** The step's own events (started, completed, failed) and its blocks, in id order. */
  events: readonly StreamItem[];
  /** One line per block or call, whole. */
  lines: readonly string[];
}

export function stepDetail(step: StepFacts, now: number): Detail {
  const facts: Fact[] = [
    { label: 'workflow', value: step.workflowId },
    {
      label: 'state',
      value: step.state,
      tone: step.state === 'failed' ? 'bad' : step.state === 'completed' ? 'good' : undefined,
    },
  ];
  if (step.startedAt) facts.push({ label: 'started', value: when(step.startedAt) });
  if (step.duration !== undefined) facts.push({ label: 'duration', value: duration(step.duration) });
  else if (step.state === 'running' && step.startedAt) {
    facts.push({ label: 'running for', value: duration(Math.max(0, now - step.startedAt.getTime())) });
  }
  if (step.error !== undefined) facts.push({ label: 'error', value: step.error, tone: 'bad' });
  return {
    kind: 'step',
    key: `step:${step.workflowId}:${step.stepId}`,
    title: `step ${step.label}`,
    facts,
    sections: step.lines.length === 0 ? [] : [{ label: `Blocks (${step.lines.length})`, text: step.lines.join('\n') }],
    events: step.events,
  };
}

/** What a lane knows of its workflow. */
export interface WorkflowFacts {
  workflowId: string;
  workflowType?: string;
  status: string;
  startedAt?: Date;
  duration?: number;
  error?: string;
  /** Its lifecycle and step events (not the blocks, which the steps show), in id order. */
  events: readonly StreamItem[];
  steps: readonly string[];
}

export function workflowDetail(workflow: WorkflowFacts): Detail {
  const facts: Fact[] = [
    {
      label: 'status',
      value: workflow.status,
      tone: workflow.status === 'failed' ? 'bad' : workflow.status === 'completed' ? 'good' : undefined,
    },
  ];
  if (workflow.workflowType !== undefined) facts.push({ label: 'type', value: workflow.workflowType });
  if (workflow.startedAt) facts.push({ label: 'started', value: when(workflow.startedAt) });
  if (workflow.duration !== undefined) facts.push({ label: 'duration', value: duration(workflow.duration) });
  if (workflow.error !== undefined) facts.push({ label: 'error', value: workflow.error, tone: 'bad' });
  return {
    kind: 'workflow',
    key: `workflow:${workflow.workflowId}`,
    title: `workflow ${workflow.workflowId}`,
    facts,
    sections: workflow.steps.length === 0 ? [] : [{ label: 'Steps', text: workflow.steps.join('\n') }],
    events: workflow.events,
  };
}
