/**
 * Structured logs: JSON lines (pino) for machines, or a readable form for development (`--log-format pretty`).
 * Nothing logs a token: principals carry only a role and a name.
 */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from './config.js';

export type { Logger };

export function createLogger(
  config: Pick<Config, 'logLevel' | 'logFormat'>,
  destination?: NodeJS.WritableStream,
): Logger {
  const options = { level: config.logLevel, base: { service: 'switchboard' } };
  if (config.logFormat === 'pretty') {
    return pino(
      options,
      pretty({ colorize: process.stderr.isTTY, destination: destination ?? process.stderr, sync: true }),
    );
  }
  return pino(options, destination ?? pino.destination({ dest: 2, sync: false }));
}
