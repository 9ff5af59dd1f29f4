/**
 * Runs the server until `signal` aborts: `npm start` and `switchboard serve` both come here.
 * Any start-up failure is one line on stderr and exit code 1.
 */
import { BusOpenError } from './bus/errors.js';
import { ConfigError, loadConfig } from './ops/config.js';
import { DatabaseOpenError } from './store/sqlite-db.js';
import { CatalogueLoadError } from './ops/catalogue.js';
import { redactUrl } from './ops/redact.js';
import { ListenError, startServer } from './server.js';

interface Streams {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

export async function serve(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  { stdout, stderr }: Streams,
  signal: AbortSignal | undefined,
): Promise<number> {
  let server;
  let config;
  try {
    config = loadConfig(argv, env);
    server = await startServer(config);
  } catch (error) {
    const known =
      error instanceof ConfigError ||
      error instanceof DatabaseOpenError ||
      error instanceof BusOpenError ||
      error instanceof ListenError ||
      error instanceof CatalogueLoadError;
    const text = known ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
    stderr.write(`switchboard: ${text}\n`);
    return error instanceof ConfigError && error.usage ? 2 : 1;
  }
  // SIGHUP rereads the tokens file, as daemons reread their configuration; the result is logged by the server.
  // Listening before the address is printed: a SIGHUP with no listener would end the process.
  const reloadTokens = () => {
    server.reloadTokens();
  };
  process.on('SIGHUP', reloadTokens);
  stdout.write(
    `switchboard listening on ${server.url} (dashboard at ${server.url}/, tRPC at ${server.url}/trpc, db ${redactUrl(config.db)})\n`,
  );
  if (server.otlpGrpcUrl !== undefined) stdout.write(`switchboard OTLP/gRPC on ${server.otlpGrpcUrl}\n`);
  await new Promise<void>((resolve) => {
    if (signal?.aborted) resolve();
    signal?.addEventListener('abort', () => {
      resolve();
    });
  });
  process.off('SIGHUP', reloadTokens);
  const reason: unknown = signal?.reason;
  stdout.write(`switchboard: ${typeof reason === 'string' ? reason : 'stopping'}, shutting down\n`);
  try {
    await server.close();
    return 0;
  } catch (error) {
    stderr.write(`switchboard: shutdown failed: ${String(error)}\n`);
    return 1;
  }
}

/** An AbortSignal that fires, with the signal's name as reason, on the first SIGTERM or SIGINT. */
export function stopSignal(): AbortSignal {
  const controller = new AbortController();
  for (const name of ['SIGTERM', 'SIGINT'] as const) {
    process.once(name, () => {
      controller.abort(name);
    });
  }
  return controller.signal;
}
