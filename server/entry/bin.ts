#!/usr/bin/env node
/**
 * The `switchboard` executable: the command line (cli.ts: client/cli/ and serve) wired to this process's streams and signals.
 */
import { run } from './cli.js';
import { stopSignal } from '../serve.js';

// A reader that goes away (`switchboard watch events | head`) ends the command quietly, as for any Unix tool.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

/** After SIGINT or SIGTERM every command ends at once; should one not, the process still does, this much later. */
const stopGraceMs = 10_000;

const signal = stopSignal();
signal.addEventListener('abort', () => {
  setTimeout(() => {
    process.stderr.write(
      `switchboard: still running ${stopGraceMs / 1000} s after ${String(signal.reason)}; exiting\n`,
    );
    process.exit(1);
  }, stopGraceMs).unref();
});
process.exitCode = await run({
  argv: process.argv.slice(2),
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  stdin: process.stdin,
  signal,
});
// Long-running commands have ended; nothing should keep the process alive (e.g. a closing socket's timer).
process.exit();
