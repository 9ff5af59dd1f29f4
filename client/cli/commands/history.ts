/**
 * `switchboard history`: stored events after a cursor, a page at a time.
 */
import { eventsFlag, parse, typeNameSchema, typesFlag } from '../args.js';
import { connectWithin, customSummaries, localCatalogue, request } from '../connect.js';
import { formatEvent } from '../format.js';
import { exitCodes, wantsColour, type Io } from '../io.js';

export async function history(args: readonly string[], io: Io): Promise<number> {
  const { values } = parse(args, {
    topic: { type: 'string', multiple: true },
    type: { type: 'string', multiple: true },
    after: { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean' },
    ...eventsFlag,
  });
  const input = {
    topics: values.topic,
    types: typesFlag(values.type, typeNameSchema),
    after: values.after,
    limit: values.limit === undefined ? undefined : Number(values.limit),
  };
  const local = values.json === true ? undefined : await localCatalogue(values, io);
  await using client = await connectWithin(values, io);
  const page = await request(
    client,
    io,
    (signal) => client.history.query(input, { signal }),
    'before the hub answered',
  );
  const colour = wantsColour(io);
  const custom = values.json ? undefined : await customSummaries(client, local);
  for (const event of page.events) io.say(values.json ? JSON.stringify(event) : formatEvent(event, colour, custom));
  if (!values.json && page.hasMore)
    io.complain(`more after #${page.events.at(-1)?.id ?? ''}: --after ${page.nextCursor}`);
  return exitCodes.ok;
}
