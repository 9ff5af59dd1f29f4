/**
 * `switchboard watch <procedure>`: tails a subscription, one line per event (or NDJSON), resuming after a
 * reconnect from the last event shown.
 */
import { z } from 'zod';
import { workflowEventTypes, type AnyEnvelope, type StreamItem } from '@switchboard/shared';
import { eventsFlag, parse, typeNameSchema, typesFlag } from '../args.js';
import { connect, connectTimeoutMs, customSummaries, localCatalogue, opened, type CliClient } from '../connect.js';
import { describeError, UnreachableError, UsageError } from '../errors.js';
import { formatEvent } from '../format.js';
import { exitCodes, wantsColour, type Io } from '../io.js';

const flags = {
  agent: { type: 'string', multiple: true },
  workflow: { type: 'string' },
  step: { type: 'string', multiple: true },
  task: { type: 'string' },
  type: { type: 'string', multiple: true },
  topic: { type: 'string', multiple: true },
  from: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  'no-retry': { type: 'boolean' },
  ...eventsFlag,
} as const;

type Values = ReturnType<typeof parse<typeof flags>>['values'];
interface Handlers {
  /** `id` is the item's cursor (`<id>@<epoch>`), what `--from` takes to resume after it. */
  onData: (item: { id: string; data: StreamItem | AnyEnvelope }) => void;
  onError: (error: unknown) => void;
}

function subscribe(client: CliClient, procedure: string | undefined, values: Values, handlers: Handlers) {
  const lastEventId = values.from;
  switch (procedure) {
    case 'agentStatus':
      return client.agentStatus.subscribe({ agentIds: values.agent, lastEventId }, handlers);
    case 'presenceChanges':
      return client.presenceChanges.subscribe({ agentIds: values.agent, lastEventId }, handlers);
    case 'workflowEvents':
      return client.workflowEvents.subscribe(
        {
          workflowId: values.workflow,
          steps: values.step,
          types: typesFlag(values.type, z.enum(workflowEventTypes)),
          lastEventId,
        },
        handlers,
      );
    case 'tddPhase':
      return client.tddPhase.subscribe({ agentId: values.agent?.[0], taskId: values.task, lastEventId }, handlers);
    case 'events':
      return client.events.subscribe(
        { topics: values.topic, types: typesFlag(values.type, typeNameSchema), lastEventId },
        handlers,
      );
    default:
      throw new UsageError(
        `watch takes one of agentStatus, presenceChanges, workflowEvents, tddPhase, events (got ${procedure ?? 'nothing'})`,
      );
  }
}

/** While the hub stays away, the same reason is repeated at most this often, so retries stay visible but quiet. */
const repeatReasonMs = 30_000;

interface ReportOptions {
  retry: boolean;
  /** The id the subscription resumes after, for the "reconnected" line. */
  resumeFrom: () => string | undefined;
  /** Ends the command (with --no-retry, when an open connection is lost). */
  fail: (error: Error) => void;
}

/**
 * Reports the connection on stderr, so that stdout stays a clean stream of events. Without --no-retry the wait
 * for the hub has no end, but it is never silent: the first failed attempt says what it waits for, and the cause
 * is repeated when it changes (or every 30 s). Returns the function that stops reporting.
 */
function reportConnection(client: CliClient, io: Io, { retry, resumeFrom, fail }: ReportOptions) {
  const { url } = client.connection;
  let wasOpen = false;
  let opens = 0;
  let said: { reason: string; at: number } | undefined;
  return client.connection.subscribe(({ state, reason }) => {
    if (state === 'connecting' && wasOpen) {
      wasOpen = false;
      if (!retry) {
        fail(new UnreachableError(`connection lost: ${reason ?? url}; not retrying (--no-retry)`));
        return;
      }
      io.complain(`connection lost: ${reason ?? url}; reconnecting`);
      said = reason === undefined ? undefined : { reason, at: Date.now() };
    } else if (state === 'connecting' && reason !== undefined && retry) {
      if (said === undefined && opens === 0) io.complain(`waiting for ${url} … (Ctrl-C to stop)`);
      if (said?.reason !== reason || Date.now() - said.at >= repeatReasonMs) {
        io.complain(`${reason}; retrying`);
        said = { reason, at: Date.now() };
      }
    } else if (state === 'open' && !wasOpen) {
      const after = resumeFrom();
      if (opens > 0 || said !== undefined)
        io.complain(
          `${opens > 0 ? 'reconnected' : `connected to ${url}`}${after === undefined ? '' : `; resuming after #${after}`}`,
        );
      opens++;
      wasOpen = true;
      said = undefined;
    }
  });
}

export async function watch(args: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, flags);
  const [procedure] = positionals;
  const limit = values.limit === undefined ? Infinity : Number(values.limit);
  if (!Number.isInteger(limit) && limit !== Infinity) throw new UsageError('--limit takes a whole number');
  const retry = values['no-retry'] !== true;
  const timeoutMs = connectTimeoutMs(values);
  const colour = wantsColour(io);
  const local = values.json === true ? undefined : await localCatalogue(values, io);
  await using client = connect(values, io);
  // Only the firehose carries events of the server's own families. Their summaries are asked for beside the
  // subscription, not before it, so that a hub that is away is still waited for visibly (below); the query is
  // sent first on the same socket, so its answer comes before the events. Without it, type and topic still show.
  // The local module's summaries apply from the first event; the server's templates join them when listed.
  let custom: ((event: AnyEnvelope) => string | undefined) | undefined = local && ((event) => local.summaryOf(event));
  if (procedure === 'events' && values.json !== true)
    customSummaries(client, local).then(
      (summaries) => (custom = summaries),
      () => undefined, // a server too old to list its catalogue: its events are all built-in, summarised anyway
    );

  let seen = 0;
  let lastId: string | undefined;
  let lastCursor: string | undefined;
  let end: (code: number | Error) => void = () => undefined;
  const ended = new Promise<number>((resolve, reject) => {
    end = (code) => {
      if (code instanceof Error) reject(code);
      else resolve(code);
    };
  });
  const subscription = subscribe(client, procedure, values, {
    onData: ({ id, data }) => {
      // A replay arrives many events per turn: past the limit, the rest of the turn's events are not shown.
      if (seen >= limit) return;
      lastId = data.id;
      lastCursor = id;
      io.say(values.json ? JSON.stringify(data) : formatEvent(data, colour, custom));
      if (++seen >= limit) end(exitCodes.ok);
    },
    onError: (error) => {
      io.complain(describeError(error));
      end(exitCodes.failed);
    },
  });
  const onAbort = () => {
    end(exitCodes.ok);
  };
  io.signal?.addEventListener('abort', onAbort);
  if (io.signal?.aborted) onAbort();

  // With --no-retry the command fails like emit: after --connect-timeout, or as soon as an open connection is lost.
  const done = new AbortController();
  const stopWaiting = io.signal ? AbortSignal.any([io.signal, done.signal]) : done.signal;
  const firstOpen = retry
    ? undefined
    : opened(client, timeoutMs, stopWaiting).catch((error: unknown) => {
        end(error instanceof Error ? error : new Error(String(error)));
      });
  const stopWatchingConnection = reportConnection(client, io, {
    retry,
    resumeFrom: () => lastId ?? values.from,
    fail: end,
  });
  try {
    const code = await ended;
    // The cursor carries the log's epoch, so a later --from is checked against this log (a replaced database
    // answers it with a reset notice); the event id alone could not be.
    if (lastCursor !== undefined) io.complain(`to resume after #${lastId ?? ''}: --from ${lastCursor}`);
    return code;
  } finally {
    io.signal?.removeEventListener('abort', onAbort);
    subscription.unsubscribe();
    stopWatchingConnection();
    done.abort();
    await firstOpen;
  }
}
