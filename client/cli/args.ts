/**
 * Flag parsing shared by the commands: node's `parseArgs`, strict, with the connection flags every client
 * command takes; anything it refuses is a `UsageError`.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { UsageError } from './errors.js';

export const connectionFlags = {
  url: { type: 'string' },
  token: { type: 'string' },
  'connect-timeout': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: readonly string[], options: O) {
  try {
    return parseArgs({
      args: [...args],
      options: { ...connectionFlags, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    // Node's advice on positional arguments that start with "-" is for programs that take them; these point at
    // their --help instead (run.ts).
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument .*$/s, ''), true);
  }
}

/** `--events FILE`: the catalogue module the server loads, so that its summary functions print here too. */
export const eventsFlag = { events: { type: 'string' } } as const satisfies ParseArgsConfig['options'];

/** Checks --type values here, so a typo is a usage error that lists what is valid. */
export function typesFlag<T extends string>(values: string[] | undefined, allowed: z.ZodType<T>): T[] | undefined {
  if (values === undefined) return undefined;
  const result = z.array(allowed).safeParse(values);
  if (!result.success) throw new UsageError(`--type: ${result.error.issues[0]?.message ?? 'invalid'}`);
  return result.data;
}

/** A flag holding a number of seconds greater than 0, in milliseconds; `fallback` seconds when absent. */
export function secondsFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback * 1000;
  const seconds = Number(value);
  if (value.trim() === '' || !Number.isFinite(seconds) || seconds <= 0)
    throw new UsageError(`--${name} takes a number of seconds greater than 0 (got ${JSON.stringify(value)})`);
  return seconds * 1000;
}

/**
 * An event type as `--type` takes it: the server may define more than the built-in ones (its catalogue) and
 * checks those itself, so only the shape is checked here.
 */
export const typeNameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/, 'event types look like family.name');
