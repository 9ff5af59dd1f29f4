/**
 * The `switchboard` command line, as a pure function: arguments, streams and environment in, exit code out.
 * The executable (server/entry/bin.ts) passes the process's own; tests pass their own and run in-process.
 * One file per command under commands/; this file only dispatches and maps errors to exit codes.
 */
import { demo } from './commands/demo.js';
import { emit } from './commands/emit.js';
import { history } from './commands/history.js';
import { serve } from './commands/serve.js';
import { status } from './commands/status.js';
import { watch } from './commands/watch.js';
import { describeError, exitCodeOf, UsageError } from './errors.js';
import { commandHelp, mainHelp } from './help.js';
import { packageVersion } from './version.js';
import { createIo, exitCodes, type Io, type RunOptions } from './io.js';

export { exitCodes, type Output, type RunOptions } from './io.js';

const commands: Record<string, (args: readonly string[], io: Io) => Promise<number>> = {
  serve,
  watch,
  emit,
  history,
  status,
  demo,
};

export async function run(options: RunOptions): Promise<number> {
  const io = createIo(options);
  const [command, ...rest] = options.argv;
  try {
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      const topic = command === 'help' ? rest[0] : undefined;
      io.say(topic ? (commandHelp[topic] ?? mainHelp) : mainHelp);
      return exitCodes.ok;
    }
    if (command === '--version' || command === '-v') {
      io.say(packageVersion());
      return exitCodes.ok;
    }
    const handler = commands[command];
    if (!handler) throw new UsageError(`unknown command "${command}"; see switchboard --help`);
    if (rest.includes('--help') || rest.includes('-h')) {
      io.say(commandHelp[command] ?? mainHelp);
      return exitCodes.ok;
    }
    return await handler(rest, io);
  } catch (error) {
    io.complain(describeError(error));
    return exitCodeOf(error);
  }
}
