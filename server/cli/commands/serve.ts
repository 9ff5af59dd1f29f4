/**
 * `switchboard serve`: the server in this process, until the run's signal (SIGINT or SIGTERM) stops it.
 */
import { serve as runServer } from '../../serve.js';
import type { Io } from '../io.js';

export function serve(args: readonly string[], io: Io): Promise<number> {
  return runServer(args, io.env, io, io.signal);
}
