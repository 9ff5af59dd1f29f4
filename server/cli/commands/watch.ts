/**
 * `switchboard watch <procedure>`: tails a subscription, one line per event (or NDJSON), resuming after a
 * reconnect from the last event shown.
 */
import { z } from 'zod';
import { eventTypeSchema, workflowEventTypes, type StreamItem } from '../../../shared/index.js';
import type { SwitchboardClient } from '../../../client/client.js';
import { parse, typesFlag } from '../args.js';
import { connect } from '../connect.js';
import { describeError, UsageError } from '../errors.js';
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
} as const;

type Values = ReturnType<typeof parse<typeof flags>>['values'];
interface Handlers {
  onData: (item: { data: StreamItem }) => void;
  onError: (error: unknown) => void;
}

function subscribe(client: SwitchboardClient, procedure: string | undefined, values: Values, handlers: Handlers) {
  const lastEventId = values.from;
  switch (procedure) {
    case 'agentStatus':
      return client.agentStatus.subscribe({ agentIds: values.agent, lastEventId }, handlers);
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
        { topics: values.topic, types: typesFlag(values.type, eventTypeSchema), lastEventId },
        handlers,
      );
    default:
      throw new UsageError(
        `watch takes one of agentStatus, workflowEvents, tddPhase, events (got ${procedure ?? 'nothing'})`,
      );
  }
}

export async function watch(args: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, flags);
  const [procedure] = positionals;
  const limit = values.limit === undefined ? Infinity : Number(values.limit);
  if (!Number.isInteger(limit) && limit !== Infinity) throw new UsageError('--limit takes a whole number');
  const colour = wantsColour(io);
  await using client = connect(values, io);

  let seen = 0;
  let lastId: string | undefined;
  const ended = new Promise<number>((resolve) => {
    const subscription = subscribe(client, procedure, values, {
      onData: ({ data }) => {
        lastId = data.id;
        io.say(values.json ? JSON.stringify(data) : formatEvent(data, colour));
        if (++seen >= limit) resolve(exitCodes.ok);
      },
      onError: (error) => {
        io.complain(describeError(error));
        resolve(exitCodes.failed);
      },
    });
    io.signal?.addEventListener('abort', () => {
      subscription.unsubscribe();
      resolve(exitCodes.ok);
    });
    if (io.signal?.aborted) resolve(exitCodes.ok);
  });

  // Reconnects go to stderr so that stdout stays a clean stream of events.
  let wasOpen = false;
  let opens = 0;
  const stopWatchingConnection = client.connection.subscribe(({ state, reason }) => {
    if (state === 'connecting' && wasOpen) {
      io.complain(`connection lost${reason ? ` (${reason})` : ''}; reconnecting`);
      wasOpen = false;
    } else if (state === 'open' && !wasOpen) {
      const resumeFrom = lastId ?? values.from;
      if (opens > 0) io.complain(`reconnected${resumeFrom === undefined ? '' : `; resuming after #${resumeFrom}`}`);
      opens++;
      wasOpen = true;
    }
  });
  try {
    return await ended;
  } finally {
    stopWatchingConnection();
  }
}
