/**
 * The `switchboard` command line, as a pure function: arguments, streams and environment in, exit code out.
 * The executable (server/bin.ts) passes the process's own; tests pass their own and run in-process.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { TRPCClientError } from '@trpc/client';
import WebSocket from 'ws';
import { z } from 'zod';
import {
  eventTypes,
  publishInputSchema,
  summariesFrom,
  workflowEventTypes,
  type AnyCatalogue,
  type AnyEnvelope,
  type PublishInput,
  type StreamItem,
} from '../../shared/index.js';
import { createSwitchboardClient, type AppRouterFor, type SwitchboardClient } from '../client.js';
import { runDemo } from './demo.js';
import { formatEvent } from './format.js';
import { commandHelp, mainHelp } from './help.js';

export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface RunOptions {
  argv: readonly string[];
  stdout: Output;
  stderr: Output;
  env: Readonly<Record<string, string | undefined>>;
  /** NDJSON for `emit --stdin`. */
  stdin?: AsyncIterable<string | Buffer>;
  /** Ends long-running commands (`watch`, `demo`, `serve`) cleanly; the executable wires SIGINT/SIGTERM here. */
  signal?: AbortSignal;
  /** `serve` runs the server; the executable provides it so that the client code never imports the server. */
  serve?: (argv: readonly string[], signal: AbortSignal | undefined) => Promise<number>;
}

/** Exit codes: 0 done, 1 the server refused or failed, 2 the command line was wrong. */
export const exitCodes = { ok: 0, failed: 1, usage: 2 } as const;

class UsageError extends Error {}

/** The server may define more types than the built-in ones (its catalogue); it checks them itself. */
const typeNameSchema = z.string().regex(/^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/, 'event types look like family.name');
/** A client of whatever catalogue the server was started with. */
type AnyClient = SwitchboardClient<AppRouterFor<AnyCatalogue>>;

/** Checks --type values here, so a typo is a usage error that lists what is valid. */
function typesFlag<T extends string>(values: string[] | undefined, allowed: z.ZodType<T>): T[] | undefined {
  if (values === undefined) return undefined;
  const result = z.array(allowed).safeParse(values);
  if (!result.success) throw new UsageError(`--type: ${result.error.issues[0]?.message ?? 'invalid'}`);
  return result.data;
}

const connectionFlags = {
  url: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: readonly string[], options: O) {
  try {
    return parseArgs({
      args: [...args],
      options: { ...connectionFlags, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** A server-side refusal as one readable line (validation issues are already one line per issue). */
function describeError(error: unknown): string {
  if (error instanceof TRPCClientError) {
    const code = (error.data as { code?: string } | undefined)?.code;
    return code ? `${code}: ${error.message}` : error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

export async function run(options: RunOptions): Promise<number> {
  const { argv, stdout, stderr, env } = options;
  const [command, ...rest] = argv;
  const say = (text: string) => stdout.write(`${text}\n`);
  const complain = (text: string) => stderr.write(`switchboard: ${text}\n`);
  try {
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      const topic = command === 'help' ? rest[0] : undefined;
      say(topic ? (commandHelp[topic] ?? mainHelp) : mainHelp);
      return exitCodes.ok;
    }
    if (rest.includes('--help') || rest.includes('-h')) {
      const help = commandHelp[command];
      if (help === undefined) throw new UsageError(`unknown command "${command}"; see switchboard --help`);
      say(help);
      return exitCodes.ok;
    }
    if (command === 'serve') {
      if (!options.serve) throw new UsageError('serve is not available from this entry point');
      return await options.serve(rest, options.signal);
    }
    const commands: Record<string, (args: readonly string[]) => Promise<number>> = {
      watch: (args) => watch(args),
      emit: (args) => emit(args),
      history: (args) => history(args),
      status: (args) => status(args),
      demo: (args) => demo(args),
    };
    const handler = commands[command];
    if (!handler) throw new UsageError(`unknown command "${command}"; see switchboard --help`);
    return await handler(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      complain(error.message);
      return exitCodes.usage;
    }
    complain(describeError(error));
    return exitCodes.failed;
  }

  function serverUrl(values: { url?: string | undefined }): string {
    return values.url ?? env.SWITCHBOARD_URL ?? 'http://127.0.0.1:8765';
  }

  function connect(values: { url?: string | undefined; token?: string | undefined }): AnyClient {
    const token = values.token ?? env.SWITCHBOARD_TOKEN;
    return createSwitchboardClient<AppRouterFor<AnyCatalogue>>({
      url: serverUrl(values),
      WebSocket,
      ...(token !== undefined && { token }),
    });
  }

  /** The summaries of the server's own event families, to format their events. */
  async function customSummaries(client: AnyClient) {
    return summariesFrom(await client.catalogue.query());
  }

  async function watch(args: readonly string[]): Promise<number> {
    const { values, positionals } = parse(args, {
      agent: { type: 'string', multiple: true },
      workflow: { type: 'string' },
      step: { type: 'string', multiple: true },
      task: { type: 'string' },
      type: { type: 'string', multiple: true },
      topic: { type: 'string', multiple: true },
      from: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    });
    const [procedure] = positionals;
    const limit = values.limit === undefined ? Infinity : Number(values.limit);
    if (!Number.isInteger(limit) && limit !== Infinity) throw new UsageError('--limit takes a whole number');
    const lastEventId = values.from;
    const colour = stdout.isTTY === true && env.NO_COLOR === undefined;
    await using client = connect(values);
    // Only the firehose carries events of the server's own families.
    const custom = procedure === 'events' ? await customSummaries(client) : undefined;

    let seen = 0;
    let lastId: string | undefined;
    const ended = new Promise<number>((resolve) => {
      const onData = ({ data }: { data: StreamItem | AnyEnvelope }) => {
        lastId = data.id;
        say(values.json ? JSON.stringify(data) : formatEvent(data, colour, custom));
        if (++seen >= limit) resolve(exitCodes.ok);
      };
      const onError = (error: unknown) => {
        complain(describeError(error));
        resolve(exitCodes.failed);
      };
      const handlers = { onData, onError };
      let subscription: { unsubscribe(): void };
      switch (procedure) {
        case 'agentStatus':
          subscription = client.agentStatus.subscribe({ agentIds: values.agent, lastEventId }, handlers);
          break;
        case 'workflowEvents':
          subscription = client.workflowEvents.subscribe(
            {
              workflowId: values.workflow,
              steps: values.step,
              types: typesFlag(values.type, z.enum(workflowEventTypes)),
              lastEventId,
            },
            handlers,
          );
          break;
        case 'tddPhase':
          subscription = client.tddPhase.subscribe(
            { agentId: values.agent?.[0], taskId: values.task, lastEventId },
            handlers,
          );
          break;
        case 'events':
          subscription = client.events.subscribe(
            { topics: values.topic, types: typesFlag(values.type, typeNameSchema), lastEventId },
            handlers,
          );
          break;
        default:
          throw new UsageError(
            `watch takes one of agentStatus, workflowEvents, tddPhase, events (got ${procedure ?? 'nothing'})`,
          );
      }
      options.signal?.addEventListener('abort', () => {
        subscription.unsubscribe();
        resolve(exitCodes.ok);
      });
      if (options.signal?.aborted) resolve(exitCodes.ok);
    });

    // Reconnects go to stderr so that stdout stays a clean stream of events.
    let wasOpen = false;
    let opens = 0;
    const stopWatchingConnection = client.connection.subscribe(({ state, reason }) => {
      if (state === 'connecting' && wasOpen) {
        complain(`connection lost${reason ? ` (${reason})` : ''}; reconnecting`);
        wasOpen = false;
      } else if (state === 'open' && !wasOpen) {
        const resumeFrom = lastId ?? lastEventId;
        if (opens > 0) complain(`reconnected${resumeFrom === undefined ? '' : `; resuming after #${resumeFrom}`}`);
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

  async function emit(args: readonly string[]): Promise<number> {
    const { values, positionals } = parse(args, {
      data: { type: 'string' },
      key: { type: 'string' },
      source: { type: 'string' },
      'correlation-id': { type: 'string' },
      stdin: { type: 'boolean' },
      json: { type: 'boolean' },
    });
    const candidates: { where: string; value: unknown }[] = [];
    if (values.stdin) {
      if (!options.stdin) throw new UsageError('--stdin needs standard input');
      let text = '';
      for await (const chunk of options.stdin) text += chunk.toString();
      for (const [i, line] of text.split('\n').entries()) {
        if (line.trim() === '') continue;
        try {
          candidates.push({ where: `line ${i + 1}`, value: JSON.parse(line) as unknown });
        } catch (error) {
          throw new UsageError(`line ${i + 1} is not JSON: ${(error as Error).message}`);
        }
      }
    } else {
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
      candidates.push({
        where: 'event',
        value: { type, data, key: values.key, source: values.source, correlationId: values['correlation-id'] },
      });
    }
    if (candidates.length === 0) throw new UsageError('no events on standard input');
    // Everything is validated before anything is sent, so a bad line stores nothing.
    const events: PublishInput[] = [];
    const problems: string[] = [];
    for (const { where, value } of candidates) {
      const type = (value as { type?: unknown } | null)?.type;
      // Types of the server's own families are checked by the server (it answers with every issue).
      if (!eventTypes.some((t) => t === type)) {
        events.push(value as PublishInput);
        continue;
      }
      const result = publishInputSchema.safeParse(value);
      if (result.success) events.push(value as PublishInput);
      else problems.push(...result.error.issues.map((i) => `${where}: ${i.path.join('.') || '(input)'}: ${i.message}`));
    }
    if (problems.length > 0) {
      for (const p of problems) complain(p);
      complain('nothing was sent');
      return exitCodes.failed;
    }
    await using client = connect(values);
    const stored: AnyEnvelope[] = [];
    for (let i = 0; i < events.length; i += 1_000)
      stored.push(...(await client.publishBatch.mutate(events.slice(i, i + 1_000))));
    for (const envelope of stored)
      say(values.json ? JSON.stringify(envelope) : `stored #${envelope.id} ${envelope.type} ${envelope.topic}`);
    return exitCodes.ok;
  }

  async function history(args: readonly string[]): Promise<number> {
    const { values } = parse(args, {
      topic: { type: 'string', multiple: true },
      type: { type: 'string', multiple: true },
      after: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    });
    await using client = connect(values);
    const page = await client.history.query({
      topics: values.topic,
      types: typesFlag(values.type, typeNameSchema),
      after: values.after,
      limit: values.limit === undefined ? undefined : Number(values.limit),
    });
    const colour = stdout.isTTY === true && env.NO_COLOR === undefined;
    const custom = await customSummaries(client);
    for (const event of page.events) say(values.json ? JSON.stringify(event) : formatEvent(event, colour, custom));
    if (!values.json && page.hasMore) complain(`more after #${page.nextCursor}: --after ${page.nextCursor}`);
    return exitCodes.ok;
  }

  async function status(args: readonly string[]): Promise<number> {
    const { values } = parse(args, { json: { type: 'boolean' } });
    const url = new URL('/healthz', serverUrl(values).replace(/^ws/, 'http'));
    let body: { status: string; uptime: number; connections: number; subscriptions: number; headEventId: string };
    try {
      const res = await fetch(url);
      body = (await res.json()) as typeof body;
    } catch (error) {
      complain(
        `cannot reach ${url.origin}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`,
      );
      return exitCodes.failed;
    }
    say(
      values.json
        ? JSON.stringify(body)
        : `${body.status} · ${url.origin} · head #${body.headEventId} · ${body.connections} connections · ${body.subscriptions} subscriptions · up ${body.uptime}s`,
    );
    return body.status === 'ok' ? exitCodes.ok : exitCodes.failed;
  }

  async function demo(args: readonly string[]): Promise<number> {
    const { values } = parse(args, {
      agents: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      seed: { type: 'string' },
    });
    const numbers = {
      agents: Number(values.agents ?? 4),
      rate: Number(values.rate ?? 20),
      duration: Number(values.duration ?? 0),
    };
    for (const [name, value] of Object.entries(numbers)) {
      if (!Number.isFinite(value) || value < 0) throw new UsageError(`--${name} takes a positive number`);
    }
    const token = values.token ?? env.SWITCHBOARD_TOKEN;
    return runDemo({
      url: serverUrl(values),
      ...(token !== undefined && { token }),
      agents: Math.max(1, Math.floor(numbers.agents)),
      rate: Math.max(1, numbers.rate),
      durationMs: numbers.duration * 1000,
      seed: Number(values.seed ?? Date.now()),
      say,
      complain,
      signal: options.signal,
    });
  }
}
