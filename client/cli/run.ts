/**
 * The `switchboard` command line, as a pure function: arguments, streams and environment in, exit code out.
 * Every command here is a client of a running hub, one file per command under commands/; this file only
 * dispatches and maps errors to exit codes. `serve`, which runs the server itself, and `new-epoch`, which works on
 * its database, are the server's to give (server/entry/cli.ts composes them, and the executable
 * server/entry/bin.ts runs that).
 */
import { demo } from './commands/demo.js';
import { emit } from './commands/emit.js';
import { history } from './commands/history.js';
import { status } from './commands/status.js';
import { watch } from './commands/watch.js';
import { describeError, exitCodeOf, UsageError } from './errors.js';
import { withFlagsHint } from './hints.js';
import { commandHelp, mainHelp } from './help.js';
import { packageVersion } from './version.js';
import { createIo, exitCodes, type Io, type RunOptions } from './io.js';

export { exitCodes, type Output, type RunOptions } from './io.js';

/** One command: its arguments and the run's streams in, an exit code out. */
export type Command = (args: readonly string[], io: Io) => Promise<number>;

/**
 * A command the server gives (`serve`, which runs the server in this process and whose help lists its settings;
 * `new-epoch`, which works on its database): its run and its help.
 */
export interface ServerCommand {
  readonly run: Command;
  readonly help: string;
}

const clientCommands: Record<string, Command> = {
  watch,
  emit,
  history,
  status,
  demo,
};

export async function run(options: RunOptions, server: Readonly<Record<string, ServerCommand>> = {}): Promise<number> {
  const io = createIo(options);
  const given = Object.entries(server);
  const commands: Record<string, Command> = {
    ...Object.fromEntries(given.map(([name, c]) => [name, c.run])),
    ...clientCommands,
  };
  const help: Record<string, string> = {
    ...Object.fromEntries(given.map(([name, c]) => [name, c.help])),
    ...commandHelp,
  };
  const [command, ...rest] = options.argv;
  try {
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      const topic = command === 'help' ? rest[0] : undefined;
      io.say(topic ? (help[topic] ?? mainHelp) : mainHelp);
      return exitCodes.ok;
    }
    if (command === '--version' || command === '-v') {
      io.say(packageVersion());
      return exitCodes.ok;
    }
    const handler = commands[command];
    if (!handler) throw new UsageError(`unknown command "${command}"; see switchboard --help`);
    if (rest.includes('--help') || rest.includes('-h')) {
      io.say(help[command] ?? mainHelp);
      return exitCodes.ok;
    }
    return await handler(rest, io);
  } catch (error) {
    const text = describeError(error);
    io.complain(error instanceof UsageError && error.flags ? withFlagsHint(text) : text);
    return exitCodeOf(error);
  }
}
