/**
 * A tool call is two blocks when its tool reports a start and a result (Claude Code's PreToolUse and
 * PostToolUse): both carry the same `callId`. Every view shows them as one call, with its duration (the time
 * between the two events) and its outcome.
 */
import type { EnvelopeOf } from '@switchboard/shared';

export type Block = EnvelopeOf<'workflow.block'>;
type ToolPayload = Extract<Block['data'], { blockType: 'tool_use' }>['payload'];

export interface Call {
  kind: 'call';
  /** Unique among a workflow's items. */
  key: string;
  callId: string;
  toolName: string;
  /** The block that started the call, and the one with its result; either may be missing. */
  start?: Block;
  end?: Block;
  /** Every block of the call, in id order. */
  blocks: Block[];
}

/** One item of a step or a transcript: a call, or a block that is not part of one. */
export type Item = Call | { kind: 'block'; key: string; block: Block };

const payloadOf = (block: Block): ToolPayload | undefined =>
  block.data.blockType === 'tool_use' ? block.data.payload : undefined;

/** A result carries the outcome (`isError`) or an output; a start carries neither. */
const isResult = (payload: ToolPayload) => payload.isError !== undefined || payload.output !== undefined;

/** The blocks as items, in the order each first appeared: the blocks of one call merged into it. */
export function itemsOf(blocks: readonly Block[]): Item[] {
  const items: Item[] = [];
  const calls = new Map<string, Call>();
  for (const block of blocks) {
    const payload = payloadOf(block);
    if (payload?.callId === undefined) {
      items.push({ kind: 'block', key: `block:${block.id}`, block });
      continue;
    }
    let call = calls.get(payload.callId);
    if (!call) {
      call = {
        kind: 'call',
        key: `call:${payload.callId}`,
        callId: payload.callId,
        toolName: payload.toolName,
        blocks: [],
      };
      calls.set(payload.callId, call);
      items.push(call);
    }
    call.blocks.push(block);
    if (isResult(payload)) call.end = block;
    else call.start ??= block;
  }
  return items;
}

export type CallState = 'running' | 'done' | 'failed';

export function callState(call: Call): CallState {
  if (!call.end) return 'running';
  return payloadOf(call.end)?.isError ? 'failed' : 'done';
}

/** From the start's event to the result's, when both are held. */
export function callDuration(call: Call): number | undefined {
  if (!call.start || !call.end) return undefined;
  return Math.max(0, call.end.timestamp.getTime() - call.start.timestamp.getTime());
}

/** The input the call was made with (the start's preview, else the result's), and its output. */
export function callInput(call: Call): string | undefined {
  const start = call.start && payloadOf(call.start);
  const end = call.end && payloadOf(call.end);
  return start?.inputPreview ?? end?.inputPreview;
}

export function callOutput(call: Call): ToolPayload['output'] {
  return call.end && payloadOf(call.end)?.output;
}

/** What the call is about, in one line: its result's summary once it has one. */
export function callSummary(call: Call): string {
  return (call.end ?? call.start ?? call.blocks[0])?.data.summary ?? call.toolName;
}
