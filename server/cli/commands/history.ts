/**
 * `switchboard history`: stored events after a cursor, a page at a time.
 */
import { eventTypeSchema } from '@switchboard/shared';
import { parse, typesFlag } from '../args.js';
import { connectWithin, request } from '../connect.js';
import { formatEvent } from '../format.js';
import { exitCodes, wantsColour, type Io } from '../io.js';

export async function history(args: readonly string[], io: Io): Promise<number> {
  const { values } = parse(args, {
    topic: { type: 'string', multiple: true },
    type: { type: 'string', multiple: true },
    after: { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean' },
  });
  const input = {
    topics: values.topic,
    types: typesFlag(values.type, eventTypeSchema),
    after: values.after,
    limit: values.limit === undefined ? undefined : Number(values.limit),
  };
  await using client = await connectWithin(values, io);
  const page = await request(
    client,
    io,
    (signal) => client.history.query(input, { signal }),
    'before the hub answered',
  );
  const colour = wantsColour(io);
  for (const event of page.events) io.say(values.json ? JSON.stringify(event) : formatEvent(event, colour));
  if (!values.json && page.hasMore) io.complain(`more after #${page.nextCursor}: --after ${page.nextCursor}`);
  return exitCodes.ok;
}
