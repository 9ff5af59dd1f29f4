/**
 * The `switchboard` command line as the executable runs it: the hub's clients (client/cli/) plus `serve`, the
 * server in this process, and `new-epoch`, on its database. The executable (bin.ts) passes the process's streams and signals; tests call it with
 * their own.
 */
import { run as runClients, type RunOptions } from '../../client/cli/run.js';
import { newEpochCommand } from './epoch-command.js';
import { serveCommand } from './serve-command.js';

export { exitCodes, type Output, type RunOptions } from '../../client/cli/run.js';

export function run(options: RunOptions): Promise<number> {
  return runClients(options, { serve: serveCommand, 'new-epoch': newEpochCommand });
}
