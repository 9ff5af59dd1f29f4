/**
 * OTLP/JSON export requests shaped exactly as Claude Code and Codex send them (Claude Code's monitoring reference:
 * https://code.claude.com/docs/en/monitoring-usage#events; Codex's `codex_otel` events), and a poster for the
 * hub's `/v1/*` routes. Claude Code sends event attributes as strings ("1234", "true"), the body as
 * `claude_code.<event>` and `event.name` without the prefix; Codex names the event in `event.name`.
 */
import { gzipSync } from 'node:zlib';

type Value = string | number | boolean;

/** An OTLP/JSON AnyValue: integers as `intValue` (a string, as proto3's JSON mapping writes 64-bit numbers). */
export function anyValue(value: Value) {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  return Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value };
}

export const keyValues = (attributes: Record<string, Value>) =>
  Object.entries(attributes).map(([key, value]) => ({ key, value: anyValue(value) }));

export const nanos = (at: Date) => `${at.getTime()}000000`;

/** The standard attributes Claude Code puts on every event of a session. */
export function claudeCodeStandard(session: string) {
  return {
    'session.id': session,
    'user.id': '5c2a8a8f0e4ad0c1b0b6a4c8c9ef2e1d5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c',
    'organization.id': '2f4a8e1c-6a7b-4c9d-8e0f-1a2b3c4d5e6f',
    'user.account_uuid': '7b1d2c3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e',
    'user.email': 'dev@example.com',
    'terminal.type': 'vscode',
  };
}

export interface ClaudeCodeEvent {
  /** Without the `claude_code.` prefix: `api_request`, `tool_result`, ... */
  name: string;
  attributes: Record<string, Value>;
}

/** One export request holding a session's events, numbered by `event.sequence` from `firstSequence`. */
export function claudeCodeLogs(session: string, events: readonly ClaudeCodeEvent[], start: Date, firstSequence = 1) {
  return {
    resourceLogs: [
      {
        resource: {
          attributes: keyValues({
            'service.name': 'claude-code',
            'service.version': '2.1.216',
            'os.type': 'linux',
            'os.version': '6.8.0',
            'host.arch': 'amd64',
          }),
        },
        scopeLogs: [
          {
            scope: { name: 'com.anthropic.claude_code.events', version: '2.1.216' },
            logRecords: events.map((event, i) => {
              const at = new Date(start.getTime() + i * 1000);
              return {
                timeUnixNano: nanos(at),
                observedTimeUnixNano: nanos(at),
                body: { stringValue: `claude_code.${event.name}` },
                attributes: keyValues({
                  ...claudeCodeStandard(session),
                  'event.name': event.name,
                  'event.timestamp': at.toISOString(),
                  'event.sequence': firstSequence + i,
                  'prompt.id': '0b5e1f7a-2c3d-4e5f-8a9b-0c1d2e3f4a5b',
                  ...event.attributes,
                }),
                droppedAttributesCount: 0,
              };
            }),
          },
        ],
      },
    ],
  };
}

/** A Claude Code turn: a prompt, an accepted and a failed tool call, a rejected one, two API requests, an error. */
export function claudeCodeTurn(): ClaudeCodeEvent[] {
  return [
    {
      name: 'user_prompt',
      attributes: { prompt_length: '52', prompt: 'Write a function to calculate the factorial of a number' },
    },
    {
      name: 'api_request',
      attributes: {
        model: 'claude-sonnet-4-6',
        cost_usd: '0.0123',
        cost_usd_micros: '12300',
        duration_ms: '2345',
        input_tokens: '1200',
        output_tokens: '340',
        cache_read_tokens: '18000',
        cache_creation_tokens: '2500',
        request_id: 'req_011CTxyz1',
        speed: 'normal',
        query_source: 'repl_main_thread',
      },
    },
    {
      name: 'tool_decision',
      attributes: {
        tool_name: 'Bash',
        tool_use_id: 'toolu_01ABC',
        decision: 'accept',
        source: 'config',
        tool_source: 'builtin',
      },
    },
    {
      name: 'tool_result',
      attributes: {
        tool_name: 'Bash',
        tool_use_id: 'toolu_01ABC',
        success: 'true',
        duration_ms: '1234',
        decision_type: 'accept',
        decision_source: 'config',
        tool_result_size_bytes: '512',
        tool_parameters: JSON.stringify({
          bash_command: 'npm',
          full_command: 'npm test',
          timeout: 120000,
          description: 'Run tests',
        }),
      },
    },
    {
      name: 'tool_result',
      attributes: {
        tool_name: 'Read',
        tool_use_id: 'toolu_01DEF',
        success: 'false',
        duration_ms: '12',
        error_type: 'Error:ENOENT',
        decision_type: 'accept',
        decision_source: 'user_temporary',
      },
    },
    {
      name: 'tool_decision',
      attributes: { tool_name: 'Write', tool_use_id: 'toolu_01GHI', decision: 'reject', source: 'user_reject' },
    },
    {
      name: 'api_request',
      attributes: {
        model: 'claude-haiku-4-5',
        cost_usd: '0.0007',
        duration_ms: '410',
        input_tokens: '300',
        output_tokens: '25',
        cache_read_tokens: '0',
        cache_creation_tokens: '0',
        query_source: 'auxiliary',
      },
    },
    {
      name: 'api_error',
      attributes: {
        model: 'claude-sonnet-4-6',
        error: 'Overloaded',
        status_code: 529,
        duration_ms: '30000',
        attempt: 3,
      },
    },
  ];
}

/** A Codex log record as its `codex_otel` exporter writes one. */
export function codexRecord(conversation: string, name: string, attributes: Record<string, Value>, at: Date) {
  return {
    timeUnixNano: nanos(at),
    attributes: keyValues({
      'event.name': name,
      'event.timestamp': at.toISOString(),
      'conversation.id': conversation,
      'app.version': '0.137.0',
      auth_mode: 'Chatgpt',
      'terminal.type': 'xterm-256color',
      model: 'gpt-5.5',
      slug: 'gpt-5.5',
      ...attributes,
    }),
  };
}

export function codexLogs(records: ReturnType<typeof codexRecord>[]) {
  return {
    resourceLogs: [
      {
        resource: {
          attributes: keyValues({ 'service.name': 'codex_cli_rs', 'service.version': '0.137.0', env: 'dev' }),
        },
        scopeLogs: [{ scope: { name: 'codex_otel' }, logRecords: records }],
      },
    ],
  };
}

/**
 * The tokens the OTLP tests check a request against, named after `prefix`: a publisher, a viewer, and a publisher
 * scoped to session `sess-a`; `entries` as the server takes them.
 */
export function otlpTokens(prefix: string) {
  const tokens = {
    publisher: `${prefix}-publisher-0123`,
    viewer: `${prefix}-viewer-012345`,
    scoped: `${prefix}-scoped-012345`,
  };
  const entries = [
    { role: 'publisher' as const, token: tokens.publisher },
    { role: 'viewer' as const, token: tokens.viewer },
    { role: 'publisher' as const, token: tokens.scoped, scopes: { publish: ['agent:sess-a', 'workflow:sess-a'] } },
  ];
  return { tokens, entries };
}

export interface PostOptions {
  contentType?: string;
  token?: string;
  gzip?: boolean;
  contentEncoding?: string;
  method?: string;
}

/** POSTs an OTLP request to `/v1/<signal>` and reads the answer as bytes. */
export async function postOtlp(
  url: string,
  signal: 'logs' | 'traces' | 'metrics',
  body: unknown,
  options: PostOptions = {},
): Promise<{
  status: number;
  contentType: string | null;
  body: Buffer;
  json: () => unknown;
  retryAfter: string | null;
}> {
  const raw = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const payload = options.gzip === true ? gzipSync(raw) : raw;
  const res = await fetch(`${url}/v1/${signal}`, {
    method: options.method ?? 'POST',
    headers: {
      'content-type': options.contentType ?? 'application/json',
      ...(options.gzip === true && { 'content-encoding': 'gzip' }),
      ...(options.contentEncoding !== undefined && { 'content-encoding': options.contentEncoding }),
      ...(options.token !== undefined && { authorization: `Bearer ${options.token}` }),
    },
    ...(options.method !== 'GET' && { body: new Uint8Array(payload) }),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    body: bytes,
    json: () => JSON.parse(bytes.toString('utf8')) as unknown,
    retryAfter: res.headers.get('retry-after'),
  };
}
