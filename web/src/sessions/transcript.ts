/**
 * A Claude Code session read as a transcript: the session's start, each prompt, each tool call (its start and
 * its result as one entry), the subagents, the waits on the person, the end of each turn and of the session.
 * Built from the session's workflow and agent events, in id order; the `busy` statuses each call sends are left
 * out (the calls say as much).
 */
import { claudeCode, type EnvelopeOf, type StreamItem } from '@switchboard/shared';
import { callState, itemsOf, type Block, type Call } from '../calls.js';

export type Entry =
  | { kind: 'session'; key: string; event: EnvelopeOf<'workflow.started'> }
  | { kind: 'prompt'; key: string; block: Block; text: string }
  | { kind: 'call'; key: string; call: Call; stepId: string }
  | { kind: 'block'; key: string; block: Block }
  | { kind: 'subagent'; key: string; event: EnvelopeOf<'workflow.step_started' | 'workflow.step_completed'> }
  | { kind: 'status'; key: string; event: EnvelopeOf<'agent.status'> }
  | { kind: 'log'; key: string; event: EnvelopeOf<'agent.log'> }
  | { kind: 'end'; key: string; event: EnvelopeOf<'workflow.completed' | 'workflow.failed'> };

export interface Transcript {
  entries: Entry[];
  prompts: number;
  calls: number;
  failed: number;
}

/** `events` in id order. */
export function transcriptOf(events: readonly StreamItem[]): Transcript {
  const blocks = events.filter((e): e is Block => e.type === 'workflow.block');
  // Each call sits where its first block came.
  const itemAt = new Map<string, ReturnType<typeof itemsOf>[number]>();
  for (const item of itemsOf(blocks)) {
    const first = item.kind === 'call' ? item.blocks[0] : item.block;
    if (first) itemAt.set(first.id, item);
  }
  const entries: Entry[] = [];
  const transcript: Transcript = { entries, prompts: 0, calls: 0, failed: 0 };
  for (const e of events) {
    const key = `entry:${e.id}`;
    switch (e.type) {
      case 'workflow.started':
        entries.push({ kind: 'session', key, event: e });
        break;
      case 'workflow.block': {
        const item = itemAt.get(e.id);
        if (!item) break;
        if (item.kind === 'call') {
          transcript.calls++;
          if (callState(item) === 'failed') transcript.failed++;
          entries.push({ kind: 'call', key, call: item, stepId: e.data.stepId });
        } else if (item.block.data.blockType === 'text' && item.block.data.payload.role === 'user') {
          transcript.prompts++;
          entries.push({ kind: 'prompt', key, block: item.block, text: item.block.data.payload.text });
        } else {
          if (item.block.data.blockType === 'tool_use') {
            transcript.calls++;
            if (item.block.data.payload.isError) transcript.failed++;
          }
          entries.push({ kind: 'block', key, block: item.block });
        }
        break;
      }
      case 'workflow.step_started':
      case 'workflow.step_completed':
        // The main step runs from each prompt to the turn's end: the prompt and the turn's status say so.
        if (e.data.stepId !== claudeCode.mainStep) entries.push({ kind: 'subagent', key, event: e });
        break;
      case 'agent.status':
        if (e.data.status !== 'busy') entries.push({ kind: 'status', key, event: e });
        break;
      case 'agent.log':
        entries.push({ kind: 'log', key, event: e });
        break;
      case 'workflow.completed':
      case 'workflow.failed':
        entries.push({ kind: 'end', key, event: e });
        break;
      default:
        break;
    }
  }
  return transcript;
}
