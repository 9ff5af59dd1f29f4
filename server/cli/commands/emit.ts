/**
 * `switchboard emit`: publishes one event from flags, or NDJSON from standard input, validating every event
 * before sending any.
 */
import { limits, publishInputSchema, type EventEnvelope, type PublishInput } from '../../../shared/index.js';
import { parse } from '../args.js';
import { connectWithin, request } from '../connect.js';
import { UsageError } from '../errors.js';
import { exitCodes, type Io } from '../io.js';

type Values = ReturnType<typeof parse<typeof flags>>['values'];

const flags = {
  data: { type: 'string' },
  key: { type: 'string' },
  source: { type: 'string' },
  'correlation-id': { type: 'string' },
  stdin: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

interface Candidate {
  where: string;
  value: unknown;
}

async function fromStdin(io: Io): Promise<Candidate[]> {
  if (!io.stdin) throw new UsageError('--stdin needs standard input');
  let text = '';
  for await (const chunk of io.stdin) text += chunk.toString();
  const candidates: Candidate[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    try {
      candidates.push({ where: `line ${i + 1}`, value: JSON.parse(line) as unknown });
    } catch (error) {
      throw new UsageError(`line ${i + 1} is not JSON: ${(error as Error).message}`);
    }
  }
  return candidates;
}

function fromFlags(positionals: string[], values: Values): Candidate[] {
  const [type] = positionals;
  if (type === undefined || values.data === undefined) {
    throw new UsageError('emit needs a type and --data (or --stdin); see switchboard emit --help');
  }
  let data: unknown;
  try {
    data = JSON.parse(values.data) as unknown;
  } catch (error) {
    throw new UsageError(`--data is not JSON: ${(error as Error).message}`);
  }
  const value = { type, data, key: values.key, source: values.source, correlationId: values['correlation-id'] };
  return [{ where: 'event', value }];
}

export async function emit(args: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, flags);
  const candidates = values.stdin ? await fromStdin(io) : fromFlags(positionals, values);
  if (candidates.length === 0) throw new UsageError('no events on standard input');
  // Everything is validated before anything is sent, so a bad line stores nothing.
  const events: PublishInput[] = [];
  const problems: string[] = [];
  for (const { where, value } of candidates) {
    const result = publishInputSchema.safeParse(value);
    if (result.success) events.push(value as PublishInput);
    else problems.push(...result.error.issues.map((i) => `${where}: ${i.path.join('.') || '(input)'}: ${i.message}`));
  }
  if (problems.length > 0) {
    for (const p of problems) io.complain(p);
    io.complain('nothing was sent');
    return exitCodes.failed;
  }
  await using client = await connectWithin(values, io);
  const stored: EventEnvelope[] = [];
  for (let i = 0; i < events.length; i += limits.batchSize) {
    const batch = events.slice(i, i + limits.batchSize);
    const answer = await request(
      client,
      io,
      (signal) => client.publishBatch.mutate(batch, { signal }),
      `before the hub answered: ${stored.length} events are stored, the next ${batch.length} may or may not be (send them again with the same keys to be sure)`,
    );
    stored.push(...answer);
  }
  for (const envelope of stored)
    io.say(values.json ? JSON.stringify(envelope) : `stored #${envelope.id} ${envelope.type} ${envelope.topic}`);
  return exitCodes.ok;
}
