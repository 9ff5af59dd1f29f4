/**
 * `GET /ag-ui/<workflowId>`: a workflow as an AG-UI event stream over SSE, for agent front ends. It runs the
 * `workflowEvents` subscription (the same auth, limits, pacing, pings and stall bound as every stream) from
 * the workflow's first event and maps each item with `AgUiMapper`.
 *
 * Every AG-UI event has an `id:` line. One workflow event may become several AG-UI events: all but the last
 * carry `<event id>:<index>@<epoch>`, the last `<event id>@<epoch>` (the log's epoch, shared/cursor.ts). A reader
 * resuming with either form gets exactly the events after it: the stream is rebuilt from the start and
 * everything up to the cursor is skipped. A cursor from another log skips nothing: the subscription is asked
 * with that epoch, so it starts with a `stream.reset` notice, and the reader gets the workflow of this log whole.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EventType } from '@ag-ui/core';
import { TRPCError } from '@trpc/server';
import { epochSchema, epochSeparator, formatCursor, splitEpoch } from '@switchboard/shared';
import { CursorAheadError } from '../core/stream.js';
import { bearerToken } from '../security/auth.js';
import { AgUiMapper } from '../mappers/ag-ui.js';
import { sendRefusal, type SseTransport, type StreamFormat } from './sse.js';

export const agUiPath = '/ag-ui';

/**
 * A resume cursor: after event `event`, and within it after AG-UI event `index` (all of it when undefined), of
 * the log `epoch` (undefined for an id sent without one, which is checked against no epoch).
 */
interface Cursor {
  event: number;
  index: number | undefined;
  epoch: string | undefined;
}

function parseCursor(raw: string | undefined): Cursor | undefined {
  if (raw === undefined || raw === '') return undefined;
  const { position, epoch } = splitEpoch(raw);
  const match = /^(\d{1,16})(?::(\d{1,4}))?$/.exec(position);
  if (!match || (epoch !== undefined && !epochSchema.safeParse(epoch).success)) {
    throw new TRPCError({
      code: 'BAD_REQUEST',
      message: `Last-Event-ID "${raw}" is not an id this stream sent: send back the last id you received (e.g. 42@3f9a1c0e5b7d or 42:1@3f9a1c0e5b7d)`,
    });
  }
  return { event: Number(match[1]), index: match[2] === undefined ? undefined : Number(match[2]), epoch };
}

/** A stream's last message when it fails after it began: AG-UI's RUN_ERROR. */
function runErrorFrame(message: string, code: string): string {
  return `data: ${JSON.stringify({ type: EventType.RUN_ERROR, message, code })}\n\n`;
}

export async function serveAgUi(
  sse: SseTransport,
  retryMs: number,
  req: IncomingMessage,
  res: ServerResponse,
  rest: string,
): Promise<void> {
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
  let cursor: Cursor | undefined;
  let workflowId: string;
  try {
    const header = req.headers['last-event-id'];
    cursor = parseCursor(typeof header === 'string' ? header : (query.get('lastEventId') ?? undefined));
    workflowId = decodeURIComponent(rest);
  } catch (cause) {
    sendRefusal(res, cause instanceof TRPCError ? cause : new TRPCError({ code: 'BAD_REQUEST', message: 'bad path' }));
    return;
  }
  const mapper = new AgUiMapper(workflowId);
  const format: StreamFormat = {
    opening: `retry: ${retryMs}\n\n`,
    // A comment: AG-UI readers parse every `data:` as an event, and skip comments.
    ping: ': ping\n\n',
    item(item, _shared, trackedId) {
      // A cursor from another log means nothing in this one: everything of this log is new to the reader.
      if (item.type === 'stream.reset' && item.data.reason === 'epoch') cursor = undefined;
      const events = mapper.map(item);
      const id = Number(item.id);
      if (cursor !== undefined && id < cursor.event) return '';
      const from = cursor?.event === id ? (cursor.index ?? events.length - 1) + 1 : 0;
      const { epoch } = splitEpoch(trackedId(item));
      const at = epoch === undefined ? '' : `${epochSeparator}${epoch}`;
      let text = '';
      for (let i = from; i < events.length; i++) {
        const eventId = i === events.length - 1 ? `${item.id}${at}` : `${item.id}:${i}${at}`;
        text += `id: ${eventId}\ndata: ${JSON.stringify(events[i])}\n\n`;
      }
      return text;
    },
    refuse(shape, error) {
      // Before the stream: an HTTP status, as for every plain HTTP endpoint. During it: AG-UI's RUN_ERROR with
      // the reason (no `id:`, so a reader that reconnects resumes after the last event it had), then the end.
      if (!res.headersSent) sendRefusal(res, error, shape);
      else res.end(runErrorFrame(shape.message, shape.data.reason ?? shape.data.code));
    },
  };
  await sse.stream(
    req,
    res,
    format,
    'workflowEvents',
    () => ({
      // From the workflow's first event; with the reader's epoch, so that another log's cursor gets its reset.
      input: { workflowId, lastEventId: cursor?.epoch === undefined ? '0' : formatCursor(0, cursor.epoch) },
      token: bearerToken(req.headers.authorization),
    }),
    // After auth, so a stranger learns nothing of which workflows exist.
    async ({ hub }) => {
      if ((await hub.workflow(workflowId)) === undefined) {
        throw new TRPCError({
          code: 'NOT_FOUND',
          message: `workflow "${workflowId}" has no events here: check the id, or publish its workflow.started first`,
        });
      }
      // The stream is read from the start and skips to the cursor, so the subscription never sees the cursor:
      // checked here as every other stream checks it, an error answer rather than a stream that stays silent.
      if (cursor === undefined || (cursor.epoch !== undefined && cursor.epoch !== hub.epoch)) return;
      const head = await hub.headId();
      if (cursor.event > head) {
        const message =
          `Last-Event-ID names event ${cursor.event}, ahead of the newest stored event ${head}; ` +
          'this server has no such history (was the database replaced?). Connect without Last-Event-ID to read the workflow from its start.';
        throw new TRPCError({ code: 'BAD_REQUEST', message, cause: new CursorAheadError(message) });
      }
    },
  );
}
