/**
 * `switchboard serve`: the one command of the executable that is not a client of the hub. It runs the server in
 * this process until the run's signal (SIGINT or SIGTERM) stops it; its help lists the server's settings as the
 * configuration module defines them.
 */
import type { ServerCommand } from '../../client/cli/run.js';
import { describeSettings } from '../ops/config.js';
import { serve } from '../serve.js';

/** The server's flags, variables and defaults, as the configuration module defines them. */
function settingsTable(): string {
  const rows = describeSettings().map((s) => ({
    ...s,
    default: s.default === undefined ? 'none' : typeof s.default === 'string' ? s.default : JSON.stringify(s.default),
  }));
  const flagWidth = Math.max(...rows.map((r) => r.flag.length));
  const envWidth = Math.max(...rows.map((r) => r.env.length));
  const lines = rows.map((r) => `  ${r.flag.padEnd(flagWidth)}  ${r.env.padEnd(envWidth)}  ${r.default}`);
  return [`  ${'Flag'.padEnd(flagWidth)}  ${'Variable'.padEnd(envWidth)}  Default`, ...lines].join('\n');
}

export const serveCommand: ServerCommand = {
  run: (args, io) => serve(args, io.env, io, io.signal),
  help: `Usage: switchboard serve [--flag value]...

Runs the server: the dashboard at /, tRPC over HTTP and WebSocket at /trpc, POST /ingest, GET /healthz and
/metrics, all on one port. Every flag has an environment variable; a flag wins over its variable, which wins
over the default. Tokens come from SWITCHBOARD_TOKENS (role:token,...) or --tokens-file, never from a flag.

${settingsTable()}

Examples:
  switchboard serve
  switchboard serve --port 0 --db /tmp/switchboard.db
  switchboard serve --db postgres://switchboard@db:5432/switchboard --redis-url redis://cache:6379`,
};
