/**
 * Server configuration: the one place that reads flags and `process.env`. Flags win over environment
 * variables, which win over defaults; the result is validated by zod and a bad value is one clear line.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { describeIssues, limits } from '@switchboard/shared';
import { hostName, normaliseOrigin } from './origin-names.js';
import { tokenEntrySchema, type TokenEntry } from './token-entries.js';
import { withFlagsHint } from '../../client/cli/hints.js';

const whole = (min: number, max: number, hint: string) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(min, `must be ${hint}`)
    .max(max, `must be ${hint}`);
const positive = (hint: string) => whole(1, Number.MAX_SAFE_INTEGER, hint);
const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be letters, digits and _ (a SQL name)');
/** A comma-separated list, each item normalised by `item` (undefined: not valid, with `hint` saying why). */
const list = (item: (s: string) => string | undefined, hint: string) =>
  z
    .string()
    .transform((text, ctx) =>
      text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')
        .map((s) => {
          const value = item(s);
          if (value === undefined) ctx.addIssue({ code: 'custom', message: `"${s}" ${hint}` });
          return value ?? s;
        }),
    )
    .default([]);

/** Every setting: its flag, its variable, its schema with default. README's configuration table says the same. */
const settings = {
  host: { env: 'SWITCHBOARD_HOST', schema: z.string().min(1).default('127.0.0.1') },
  port: { env: 'SWITCHBOARD_PORT', schema: whole(0, 65_535, '0 (any free port) to 65535').default(8765) },
  // OTLP/gRPC's own port (transports/otlp/grpc.ts); off unless given. OTLP/HTTP is always on the port above.
  otlpGrpcPort: {
    env: 'SWITCHBOARD_OTLP_GRPC_PORT',
    schema: whole(0, 65_535, '0 (any free port) to 65535').optional(),
  },
  db: { env: 'SWITCHBOARD_DB', schema: z.string().min(1).default('./data/switchboard.db') },
  durability: { env: 'SWITCHBOARD_DURABILITY', schema: z.enum(['full', 'normal']).default('full') },
  // Scale-out (docs/deploy.md): with `db` a postgres:// URL, a Redis URL selects the Redis bus, else NOTIFY.
  redisUrl: {
    env: 'SWITCHBOARD_REDIS_URL',
    schema: z
      .string()
      .regex(/^rediss?:\/\//, 'must be redis://…')
      .optional(),
  },
  pgSchema: { env: 'SWITCHBOARD_PG_SCHEMA', schema: identifier.default('public') },
  busChannel: { env: 'SWITCHBOARD_BUS_CHANNEL', schema: identifier.default('switchboard') },
  headCheckMs: { env: 'SWITCHBOARD_HEAD_CHECK_MS', schema: whole(10, 600_000, '10 to 600000').default(1_000) },
  // A PostgreSQL link silent this long is given up on (postgres-open.ts): a cut link must not hang a publish,
  // nor leave the cluster's head lock held by a transaction that can never end.
  pgTimeoutMs: { env: 'SWITCHBOARD_PG_TIMEOUT_MS', schema: whole(200, 600_000, '200 to 600000').default(10_000) },
  tokensFile: { env: 'SWITCHBOARD_TOKENS_FILE', schema: z.string().min(1).optional() },
  /** A module exporting the event catalogue (`defineCatalogue`); the built-in families without it. */
  events: { env: 'SWITCHBOARD_EVENTS', schema: z.string().min(1).optional() },
  maxConnections: { env: 'SWITCHBOARD_MAX_CONNECTIONS', schema: positive('at least 1').default(1_000) },
  maxSubscriptions: { env: 'SWITCHBOARD_MAX_SUBSCRIPTIONS', schema: positive('at least 1').default(100) },
  maxMessageBytes: {
    env: 'SWITCHBOARD_MAX_MESSAGE_BYTES',
    schema: whole(1024, 64 * 1024 * 1024, '1024 to 67108864').default(1024 * 1024),
  },
  // Per publisher (token, or address without tokens), across its connections and HTTP requests: sized above
  // what one node stores (docs/performance.md), so the store's own pace is what a single orchestrator meets.
  publishRate: { env: 'SWITCHBOARD_PUBLISH_RATE', schema: positive('at least 1').default(100_000) },
  publishBurst: {
    env: 'SWITCHBOARD_PUBLISH_BURST',
    schema: whole(
      limits.batchSize,
      Number.MAX_SAFE_INTEGER,
      `at least ${limits.batchSize} (one full publishBatch)`,
    ).default(200_000),
  },
  slowConsumerBytes: {
    env: 'SWITCHBOARD_SLOW_CONSUMER_BYTES',
    schema: whole(64 * 1024, 1024 ** 3, '65536 to 1073741824').default(4 * 1024 * 1024),
  },
  pingMs: { env: 'SWITCHBOARD_PING_MS', schema: whole(100, 3_600_000, '100 to 3600000').default(30_000) },
  pongWaitMs: { env: 'SWITCHBOARD_PONG_WAIT_MS', schema: whole(100, 3_600_000, '100 to 3600000').default(10_000) },
  ssePingMs: { env: 'SWITCHBOARD_SSE_PING_MS', schema: whole(100, 3_600_000, '100 to 3600000').default(15_000) },
  sseStallMs: { env: 'SWITCHBOARD_SSE_STALL_MS', schema: whole(100, 3_600_000, '100 to 3600000').default(30_000) },
  sseRetryMs: { env: 'SWITCHBOARD_SSE_RETRY_MS', schema: whole(100, 3_600_000, '100 to 3600000').default(1_000) },
  // An agent silent this long goes offline (server/core/presence.ts); 0 turns the sweep off.
  presenceTtlMs: {
    env: 'SWITCHBOARD_PRESENCE_TTL_MS',
    schema: whole(0, 86_400_000, '0 (presence off) or 100 to 86400000 ms')
      .refine((ms) => ms === 0 || ms >= 100, 'must be 0 (presence off) or 100 to 86400000 ms')
      .default(60_000),
  },
  retentionDays: {
    env: 'SWITCHBOARD_RETENTION_DAYS',
    schema: z.coerce.number({ error: 'must be a number' }).min(0, 'must be 0 (keep forever) or more').default(30),
  },
  retentionRows: {
    env: 'SWITCHBOARD_RETENTION_ROWS',
    schema: whole(0, Number.MAX_SAFE_INTEGER, '0 (no limit) or more').default(0),
  },
  logLevel: {
    env: 'SWITCHBOARD_LOG_LEVEL',
    schema: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  },
  logFormat: { env: 'SWITCHBOARD_LOG_FORMAT', schema: z.enum(['json', 'pretty']).default('json') },
  allowedOrigins: {
    env: 'SWITCHBOARD_ALLOWED_ORIGINS',
    schema: list(normaliseOrigin, 'is not an origin like https://app.example.com or http://localhost:5173'),
  },
  allowedHosts: {
    env: 'SWITCHBOARD_ALLOWED_HOSTS',
    schema: list(
      (s) => (/^[\w.-]+$|^\[[0-9a-f:.]+\]$/i.test(hostName(s)) ? hostName(s) : undefined),
      'is not a host name',
    ),
  },
  jwtPublicKeyFile: { env: 'SWITCHBOARD_JWT_PUBLIC_KEY_FILE', schema: z.string().min(1).optional() },
  jwtJwksFile: { env: 'SWITCHBOARD_JWT_JWKS_FILE', schema: z.string().min(1).optional() },
  jwtIssuer: { env: 'SWITCHBOARD_JWT_ISSUER', schema: z.string().min(1).optional() },
  jwtAudience: { env: 'SWITCHBOARD_JWT_AUDIENCE', schema: z.string().min(1).optional() },
} as const;

type Name = keyof typeof settings;
const flagOf = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Every setting as parsed: each by its own schema (`loadSettings`), optional ones absent when not given. */
type Settings = z.output<z.ZodObject<{ [K in Name]: (typeof settings)[K]['schema'] }>>;

export type Config = Settings & {
  /**
   * From SWITCHBOARD_TOKENS (`role:token,...`) and the tokens file as it was at start (the server reloads the
   * file on SIGHUP or change); never from a flag (flags show in `ps`).
   */
  tokens: TokenEntry[];
  /**
   * The key the Redis bus's messages are signed with (HMAC-SHA256), from SWITCHBOARD_BUS_SECRET only: with it, a
   * node takes only messages signed by a node that has it (docs/security.md).
   */
  busSecret?: string | undefined;
  /** The HS256 secret, from SWITCHBOARD_JWT_SECRET only, for the same reason. */
  jwtSecret?: string | undefined;
};

/** A configuration value that cannot be used; the message is one line naming the setting. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    message: string,
    /** The command line itself is wrong (an unknown flag, a flag's bad value): a usage error, exit 2. */
    readonly usage = false,
  ) {
    super(message);
  }
}

/** Every setting as `serve --help` lists it: flag, variable and default, read from the table above. */
export function describeSettings(): { flag: string; env: string; default: unknown }[] {
  return Object.entries(settings).map(([name, s]) => ({
    flag: `--${flagOf(name)}`,
    env: s.env,
    default: s.schema.safeParse(undefined).data,
  }));
}

/** A `db` setting naming PostgreSQL rather than a SQLite file. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//.test(db);
}

/** Whether any JWT key is configured: then tokens may come as JWTs, even with no static token. */
export function jwtConfigured(settings: Pick<Config, 'jwtSecret' | 'jwtPublicKeyFile' | 'jwtJwksFile'>): boolean {
  return (
    settings.jwtSecret !== undefined || settings.jwtPublicKeyFile !== undefined || settings.jwtJwksFile !== undefined
  );
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '[::1]';
}

/** Validates raw token entries; the message names the entry and never echoes a token. */
function validTokens(raw: readonly unknown[], where: string): TokenEntry[] {
  const tokens = raw.map((entry, i) => {
    const result = tokenEntrySchema.safeParse(entry);
    if (!result.success) {
      // The token itself is never echoed.
      throw new ConfigError(`token #${i + 1} (${where}): ${describeIssues(result.error.issues)}`);
    }
    return result.data;
  });
  uniqueNames(tokens, where);
  return tokens;
}

/** A token's name is whose idempotency keys its events carry: two tokens of one name would share them. */
function uniqueNames(tokens: readonly TokenEntry[], where: string): void {
  const seen = new Set<string>();
  for (const { name } of tokens) {
    if (name === undefined) continue;
    if (seen.has(name)) {
      throw new ConfigError(`two tokens are named "${name}" (${where}): give each token a name of its own`);
    }
    seen.add(name);
  }
}

/** The tokens file's entries; ConfigError when it cannot be read or holds an invalid entry. */
export function readTokensFile(file: string): TokenEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read --tokens-file / SWITCHBOARD_TOKENS_FILE ${file}: ${(error as Error).message}`);
  }
  let raw: unknown[];
  try {
    raw = z.array(z.unknown()).parse(JSON.parse(text));
  } catch {
    throw new ConfigError(
      `--tokens-file / SWITCHBOARD_TOKENS_FILE ${file} must hold a JSON array of { role, token, name?, scopes? }`,
    );
  }
  return validTokens(raw, `tokens file ${file}`);
}

function loadTokens(env: Readonly<Record<string, string | undefined>>, file: string | undefined): TokenEntry[] {
  const raw: unknown[] = [];
  for (const item of (env.SWITCHBOARD_TOKENS ?? '').split(',').filter((s) => s.trim() !== '')) {
    // `role:token`, then optional ` read=p1|p2` and ` publish=p3` (patterns hold no whitespace, tokens neither).
    const [entry = '', ...extras] = item.trim().split(/\s+/);
    const at = entry.indexOf(':');
    const scopes: Record<string, string[]> = {};
    for (const extra of extras) {
      const eq = extra.indexOf('=');
      scopes[extra.slice(0, eq)] = extra.slice(eq + 1).split('|');
    }
    raw.push({ role: entry.slice(0, at), token: entry.slice(at + 1), ...(extras.length > 0 && { scopes }) });
  }
  const fromEnv = validTokens(raw, 'SWITCHBOARD_TOKENS is role:token [read=p1|p2] [publish=p3],...');
  return file === undefined ? fromEnv : [...fromEnv, ...readTokensFile(file)];
}

/**
 * The settings `names` from flags and the environment, as `serve` reads them (a flag wins over its variable, which
 * wins over the default); ConfigError for an unknown flag (pointing at `--help`) or a bad value. Other flags are
 * refused.
 */
export function loadSettings<N extends Name>(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  names: readonly N[],
): Pick<Settings, N> {
  let flags: Record<string, string | boolean | undefined>;
  try {
    ({ values: flags } = parseArgs({
      args: [...argv],
      options: Object.fromEntries(names.map((name) => [flagOf(name), { type: 'string' as const }])),
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new ConfigError(withFlagsHint(error instanceof Error ? error.message : String(error)), true);
  }
  const values: Record<string, unknown> = {};
  for (const name of names) {
    const flag = flags[flagOf(name)];
    const given = flag ?? env[settings[name].env];
    const result = settings[name].schema.safeParse(given === '' ? undefined : given);
    if (!result.success) {
      throw new ConfigError(
        `invalid --${flagOf(name)} / ${settings[name].env} (${JSON.stringify(given)}): ${result.error.issues[0]?.message ?? 'invalid'}`,
        flag !== undefined,
      );
    }
    if (result.data !== undefined) values[name] = result.data;
  }
  return values as Pick<Settings, N>;
}

export function loadConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Config {
  const config = loadSettings(argv, env, Object.keys(settings) as Name[]);
  if (config.redisUrl !== undefined && !isPostgresUrl(config.db)) {
    throw new ConfigError(
      '--redis-url / SWITCHBOARD_REDIS_URL needs --db / SWITCHBOARD_DB=postgres://…: a SQLite store serves one process',
    );
  }
  const tokens = loadTokens(env, config.tokensFile);
  const jwtSecret = env.SWITCHBOARD_JWT_SECRET === '' ? undefined : env.SWITCHBOARD_JWT_SECRET;
  if (jwtSecret !== undefined && jwtSecret.length < 32) {
    throw new ConfigError('SWITCHBOARD_JWT_SECRET must be at least 32 characters (256 bits for HS256)');
  }
  if (tokens.length === 0 && !jwtConfigured({ ...config, jwtSecret }) && !isLoopback(config.host)) {
    throw new ConfigError(
      `refusing to listen on ${config.host} without tokens: anyone who can reach it could read and write every event. ` +
        'Set SWITCHBOARD_TOKENS (role:token,...), SWITCHBOARD_TOKENS_FILE or a JWT key, or listen on 127.0.0.1',
    );
  }
  const busSecret = env.SWITCHBOARD_BUS_SECRET === '' ? undefined : env.SWITCHBOARD_BUS_SECRET;
  if (busSecret !== undefined && busSecret.length < 32) {
    throw new ConfigError('SWITCHBOARD_BUS_SECRET must be at least 32 characters (256 bits for HMAC-SHA256)');
  }
  if (busSecret !== undefined && config.redisUrl === undefined) {
    throw new ConfigError(
      "SWITCHBOARD_BUS_SECRET signs the Redis bus's messages: it needs --redis-url / SWITCHBOARD_REDIS_URL (NOTIFY carries only the newest id, which a node checks against the store)",
    );
  }
  return {
    ...config,
    tokens,
    ...(jwtSecret !== undefined && { jwtSecret }),
    ...(busSecret !== undefined && { busSecret }),
  };
}
