/**
 * Server configuration: the one place that reads flags and `process.env`. Flags win over environment
 * variables, which win over defaults; the result is validated by zod and a bad value is one clear line.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';

const port = z.coerce
  .number({ error: 'must be a number' })
  .int('must be a whole number')
  .min(0, 'must be 0 (any free port) to 65535')
  .max(65_535, 'must be 0 (any free port) to 65535');

export const configSchema = z.object({
  /** Address to listen on. Loopback by default: nothing outside this machine can connect. */
  host: z.string().min(1).default('127.0.0.1'),
  /** Port for HTTP and WebSocket alike; 0 picks a free one (the chosen port is printed). */
  port: port.default(8765),
  /** SQLite file; its folder is created when missing. `:memory:` keeps nothing across restarts. */
  db: z.string().min(1).default('./data/switchboard.db'),
  /**
   * SQLite `synchronous` in WAL mode. `full`: an acknowledged event survives power loss (an fsync per commit).
   * `normal`: it survives a crash of the server process, not of the machine; commits are much cheaper.
   */
  durability: z.enum(['full', 'normal']).default('full'),
});

export type Config = z.output<typeof configSchema>;

/** The flag, the variable and what each setting means; README's configuration table says the same. */
const settings = {
  host: { flag: 'host', env: 'SWITCHBOARD_HOST' },
  port: { flag: 'port', env: 'SWITCHBOARD_PORT' },
  db: { flag: 'db', env: 'SWITCHBOARD_DB' },
  durability: { flag: 'durability', env: 'SWITCHBOARD_DURABILITY' },
} as const satisfies Record<keyof Config, { flag: string; env: string }>;

/** A configuration value that cannot be used; the message is one line naming the setting. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Config {
  let flags: Record<string, string | boolean | undefined>;
  try {
    ({ values: flags } = parseArgs({
      args: [...argv],
      options: Object.fromEntries(Object.values(settings).map((s) => [s.flag, { type: 'string' as const }])),
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
  const raw: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(settings)) {
    const value = flags[s.flag] ?? env[s.env];
    if (value !== undefined && value !== '') raw[name] = value;
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const name = issue?.path[0] as keyof Config | undefined;
    const where = name ? `--${settings[name].flag} / ${settings[name].env}` : 'configuration';
    throw new ConfigError(
      `invalid ${where} (${JSON.stringify(name ? raw[name] : raw)}): ${issue?.message ?? 'invalid'}`,
    );
  }
  return result.data;
}
