/**
 * A tool call is two blocks when its tool reports a start and a result (Claude Code's PreToolUse and
 * PostToolUse): both carry the same `callId`. Every view shows them as one call, with its duration and its
 * outcome. Claude Code's telemetry reports the same call once more, whole, under the same id and seconds later
 * (its exporter sends in batches): one more block of that call, which neither ends it later nor hides the
 * hook's output.
 */
import { endsToolCall, type EnvelopeOf } from '@switchboard/shared';

export type Block = EnvelopeOf<'workflow.block'>;
type ToolPayload = Extract<Block['data'], { blockType: 'tool_use' }>['payload'];

export interface Call {
  kind: 'call';
  /** Unique among a workflow's items. */
  key: string;
  callId: string;
  toolName: string;
  /** The block that started the call, and the first that reported its end; either may be missing. */
  start?: Block;
  end?: Block;
  /** Every block of the call, in id order. */
  blocks: Block[];
}

/** One item of a step or a transcript: a call, or a block that is not part of one. */
export type Item = Call | { kind: 'block'; key: string; block: Block };

const payloadOf = (block: Block): ToolPayload | undefined =>
  block.data.blockType === 'tool_use' ? block.data.payload : undefined;

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
    if (endsToolCall(payload)) call.end ??= block;
    else call.start ??= block;
  }
  return items;
}

export type CallState = 'running' | 'done' | 'failed';

/** Failed when any report of its end says so. */
export function callState(call: Call): CallState {
  if (!call.end) return 'running';
  return call.blocks.some((block) => payloadOf(block)?.isError === true) ? 'failed' : 'done';
}

/**
 * The duration a report of its end measured (telemetry's `durationMs`: the tool's own run), else from the
 * start's event to the first result's, when both are held.
 */
export function callDuration(call: Call): number | undefined {
  for (const block of call.blocks) {
    const payload = payloadOf(block);
    if (payload && endsToolCall(payload) && payload.durationMs !== undefined) return payload.durationMs;
  }
  if (!call.start || !call.end) return undefined;
  return Math.max(0, call.end.timestamp.getTime() - call.start.timestamp.getTime());
}

/** The input the call was made with (the start's preview, else the result's), and its output. */
export function callInput(call: Call): string | undefined {
  const start = call.start && payloadOf(call.start);
  const end = call.end && payloadOf(call.end);
  return start?.inputPreview ?? end?.inputPreview;
}

/**
 * The output of the call: the first that a report without a measured duration carries (a hook's: the tool's own
 * response), else the first of any (telemetry's: an error's text, none when the call succeeded).
 */
export function callOutput(call: Call): ToolPayload['output'] {
  const outputs = call.blocks.flatMap((block) => {
    const payload = payloadOf(block);
    return payload?.output === undefined ? [] : [payload];
  });
  return (outputs.find((payload) => payload.durationMs === undefined) ?? outputs[0])?.output;
}

/** What the call is about, in one line: its result's summary once it has one. */
export function callSummary(call: Call): string {
  return (call.end ?? call.start ?? call.blocks[0])?.data.summary ?? call.toolName;
}
