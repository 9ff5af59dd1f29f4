/**
 * What the transports put on the wire between nodes, and the zod schemas every received message is checked
 * against before the sequencer sees it. Anyone who can publish on the Redis channel, or NOTIFY on the channel's
 * name, can put anything there: a message that is not what a node sends is dropped and reported, never thrown
 * into the client library's reader (where one bad message would take the bus down). docs/security.md says what a
 * well-formed message from such a publisher can still do.
 */
import { z } from 'zod';
import type { EventEnvelope } from '@switchboard/shared';
import type { BusMessage } from '../core/bus.js';
import { envelopeJson, writtenDataJson } from '../core/envelope.js';
import { inRuns, runChars } from '../core/text-runs.js';

/** Told of each malformed message with one line saying what was wrong with it. */
export type OnMalformed = (problem: string) => void;

/** An event id as the wire carries it: a decimal string of a positive safe integer, as the store assigns them. */
const idSchema = z
  .string()
  .regex(/^[1-9][0-9]*$/, 'an id is a positive decimal integer')
  .refine((id) => Number.isSafeInteger(Number(id)), 'an id is a safe integer');

/** One committed event on the Redis channel: the envelope with its timestamp in epoch ms. */
const wireEnvelopeSchema = z.object({
  id: idSchema,
  type: z.string().min(1),
  topic: z.string().min(1),
  timestamp: z.number(),
  key: z.string().optional(),
  source: z.string().optional(),
  correlationId: z.string().optional(),
  data: z.record(z.string(), z.unknown()),
});

/** A Redis message: a run of one commit's (or group's) events, in id order (`encodeMessages`). */
const redisMessageSchema = z.array(wireEnvelopeSchema).min(1);

type WireEnvelope = z.infer<typeof wireEnvelopeSchema>;

/** One envelope as `wireEnvelopeSchema` reads it. */
function encodeEnvelope(e: EventEnvelope): string {
  const data = writtenDataJson(e);
  const timestamp = e.timestamp.getTime();
  if (data === undefined || !Number.isFinite(timestamp)) {
    return JSON.stringify({ ...e, timestamp } satisfies WireEnvelope);
  }
  // `data` as the store wrote it (the same `JSON.stringify` of the same object), not written again.
  return envelopeJson(e, String(timestamp), data);
}

/** The Redis message for events this node committed. */
export function encodeEvents(events: readonly EventEnvelope[]): string {
  return `[${events.map(encodeEnvelope).join(',')}]`;
}

/**
 * The Redis messages for events this node committed: `encodeEvents` of consecutive runs of them, each of at most
 * `runChars` of text unless one event alone is larger (server/core/text-runs.ts). Sent in order on one
 * connection, they arrive in order; one lost is a gap the sequencer fills, as a whole message lost would be.
 */
export function encodeMessages(events: readonly EventEnvelope[]): string[] {
  // Each envelope's text and the comma or bracket after it, plus the opening bracket: at most `runChars` in all.
  return inRuns(events.map(encodeEnvelope), (text) => text.length + 1, runChars - 1).map((run) => `[${run.join(',')}]`);
}

type Decoded = { ok: true; message: BusMessage } | { ok: false; problem: string };

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue === undefined ? 'invalid' : `${issue.path.join('.') || 'message'}: ${issue.message}`;
}

/** A Redis message back into events, or what is wrong with it. */
export function decodeEvents(text: string): Decoded {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON at all: the parser's own message would only repeat the garbage.
    return { ok: false, problem: 'not JSON' };
  }
  const parsed = redisMessageSchema.safeParse(json);
  if (!parsed.success) return { ok: false, problem: firstIssue(parsed.error) };
  // The events' data was validated when they were published; the wire only has to be the shape nodes send.
  const events = parsed.data.map((e) => ({ ...e, timestamp: new Date(e.timestamp) }) as EventEnvelope);
  return { ok: true, message: { events } };
}

/** A NOTIFY payload: the newest id committed, as a decimal string. */
export function decodeHead(payload: string | undefined): Decoded {
  const parsed = idSchema.safeParse(payload);
  if (!parsed.success) return { ok: false, problem: `head: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
  return { ok: true, message: { head: Number(parsed.data) } };
}
