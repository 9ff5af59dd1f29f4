/**
 * What a command gets from the world and gives back: streams, environment, a stop signal in; an exit code out.
 * The executable (server/entry/bin.ts) passes the process's own; tests pass their own and run in-process.
 */
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
  /** Ends every command at once; the executable wires SIGINT and SIGTERM here (the reason is the signal's name). */
  signal?: AbortSignal;
}

/** Exit codes: 0 done, 1 the server refused, failed or could not be reached, 2 the command line was wrong. */
export const exitCodes = { ok: 0, failed: 1, usage: 2 } as const;

/** A command's view of its run: the options plus one-line writers for stdout (results) and stderr (the rest). */
export interface Io extends RunOptions {
  say(text: string): void;
  complain(text: string): void;
}

export function createIo(options: RunOptions): Io {
  return {
    ...options,
    say: (text) => void options.stdout.write(`${text}\n`),
    complain: (text) => void options.stderr.write(`switchboard: ${text}\n`),
  };
}

/** Colours only for a person at a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function wantsColour(io: Io): boolean {
  return io.stdout.isTTY === true && io.env.NO_COLOR === undefined;
}
