/**
 * `npm start`: the server on its embedded default (a SQLite file, the in-process bus).
 * Any start-up failure is one line on stderr and a non-zero exit.
 */
import { ConfigError, loadConfig } from './config.js';
import { DatabaseOpenError } from './db.js';
import { ListenError, startServer } from './server.js';

async function main(): Promise<void> {
  const config = loadConfig(process.argv.slice(2), process.env);
  const server = await startServer(config);
  process.stdout.write(`switchboard listening on ${server.url} (tRPC at ${server.url}/trpc, db ${config.db})\n`);

  const stop = (signal: NodeJS.Signals) => {
    process.stdout.write(`switchboard: ${signal}, shutting down\n`);
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`switchboard: shutdown failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  const known = error instanceof ConfigError || error instanceof DatabaseOpenError || error instanceof ListenError;
  process.stderr.write(
    `switchboard: ${known ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
