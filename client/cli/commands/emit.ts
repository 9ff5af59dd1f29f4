/**
 * `switchboard emit`: publishes one event from flags, or NDJSON from standard input, validating every event
 * before sending any, and saying which were already stored under their key.
 */
import {
  describeIssue,
  eventTypes,
  limits,
  parseNdjson,
  publishInputSchema,
  type AnyEnvelope,
  type PublishInput,
} from '@switchboard/shared';
import { parse } from '../args.js';
import {
  connectTimeoutMs,
  connectWithin,
  fetchHealth,
  healthUrl,
  request,
  tokenOf,
  type ConnectionValues,
} from '../connect.js';
import { UsageError } from '../errors.js';
import { exitCodes, type Io } from '../io.js';

const flags = {
  data: { type: 'string' },
  key: { type: 'string' },
  source: { type: 'string' },
  'correlation-id': { type: 'string' },
  stdin: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parse<typeof flags>>['values'];

/** What came in, before validation: the value, or why it is not one. */
interface Candidate {
  where: string;
  value?: unknown;
  problem?: string;
}

async function fromStdin(io: Io): Promise<Candidate[]> {
  if (!io.stdin) throw new UsageError('--stdin needs standard input');
  let text = '';
  for await (const chunk of io.stdin) text += chunk.toString();
  return parseNdjson(text).map((parsed) =>
    parsed.ok
      ? { where: `line ${parsed.line}`, value: parsed.value }
      : { where: `line ${parsed.line}`, problem: `not JSON: ${parsed.error}` },
  );
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

const builtinFamilies = new Set(eventTypes.map((type) => type.split('.')[0]));

/** Every problem of every candidate, one line each, so that one run shows all there is to fix. */
function validate(candidates: Candidate[]): { events: PublishInput[]; problems: string[] } {
  const events: PublishInput[] = [];
  const problems: string[] = [];
  for (const { where, value, problem } of candidates) {
    if (problem !== undefined) {
      problems.push(`${where}: ${problem}`);
      continue;
    }
    const type = (value as { type?: unknown } | null)?.type;
    // Types of the server's own families are checked by the server, which answers with every issue; the
    // built-in families are closed, so anything claiming one is checked here.
    if (typeof type === 'string' && !builtinFamilies.has(type.split('.')[0] ?? '')) {
      events.push(value as PublishInput);
      continue;
    }
    const result = publishInputSchema.safeParse(value);
    if (result.success) events.push(value as PublishInput);
    else problems.push(...result.error.issues.map((issue) => `${where}: ${describeIssue(issue)}`));
  }
  return { events, problems };
}

/**
 * The newest event id before sending, when some event carries a key: the server answers a repeated key with the
 * event stored first, whose id is at most this. Undefined when there is no key or no /healthz to ask.
 */
async function headBefore(events: PublishInput[], values: ConnectionValues, io: Io): Promise<bigint | undefined> {
  if (!events.some((event) => event.key !== undefined)) return undefined;
  try {
    const health = await fetchHealth(healthUrl(values, io), connectTimeoutMs(values), io, tokenOf(values, io));
    return !('headEventId' in health) || health.headEventId === null ? undefined : BigInt(health.headEventId);
  } catch {
    // The WebSocket decides whether the hub is reachable; without /healthz, stored events are not told apart.
    return undefined;
  }
}

export async function emit(args: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, flags);
  const candidates = values.stdin ? await fromStdin(io) : fromFlags(positionals, values);
  if (candidates.length === 0) throw new UsageError('no events on standard input');
  // Everything is validated before anything is sent, so a bad line stores nothing.
  const { events, problems } = validate(candidates);
  if (problems.length > 0) {
    for (const p of problems) io.complain(p);
    io.complain(`nothing was sent: ${problems.length} ${problems.length === 1 ? 'problem' : 'problems'} above`);
    return exitCodes.failed;
  }
  await using client = await connectWithin(values, io);
  const head = await headBefore(events, values, io);
  const stored: AnyEnvelope[] = [];
  for (let i = 0; i < events.length; i += limits.batchSize) {
    const batch = events.slice(i, i + limits.batchSize);
    const answer = await request(
      client,
      io,
      (signal) => client.publishBatch.mutate(batch, { signal }),
      `before the hub answered: ${stored.length} events stored, ${batch.length} more may or may not be (events with a key can safely be sent again)`,
    );
    stored.push(...answer);
  }
  const seen = new Set<string>();
  for (const envelope of stored) {
    const repeat = seen.has(envelope.id) || (head !== undefined && BigInt(envelope.id) <= head);
    seen.add(envelope.id);
    if (values.json) io.say(JSON.stringify(envelope));
    else if (repeat)
      io.say(
        `duplicate of #${envelope.id} ${envelope.type} ${envelope.topic}: key ${envelope.key ?? ''} was stored before`,
      );
    else io.say(`stored #${envelope.id} ${envelope.type} ${envelope.topic}`);
  }
  return exitCodes.ok;
}
