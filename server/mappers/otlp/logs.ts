/**
 * An OTLP logs request as events: Claude Code's and Codex's events by their own mappings, every other log record
 * as an `otel.record`. One `MappedRecord` per log record.
 *
 * Keys make an exporter's retry store nothing twice: a Claude Code event by its session and `event.sequence`, a
 * Codex event by its session, name, `event.timestamp` and call (Codex writes each event twice, to two log
 * targets: both copies get the same key), and anything else by a digest of the record and its resource.
 */
import { limits } from '@switchboard/shared';
import { claudeCodePrefix, mapClaudeCodeEvent } from './claude-code.js';
import { codexPrefix, mapCodexEvent } from './codex.js';
import { bodyText, digestOf, genericEvent, originOf, withKeys, type MappedRecord, type Origin } from './records.js';
import type { LogRecord, OtlpLogs } from './schema.js';
import { SessionEvents } from './session.js';
import { Attributes, idOf, isoToMs, nanosToMs } from './values.js';

export function mapLogs(request: OtlpLogs): MappedRecord[] {
  const mapped: MappedRecord[] = [];
  for (const resourceLogs of request.resourceLogs ?? []) {
    const origin = originOf(new Attributes(resourceLogs.resource?.attributes));
    for (const scopeLogs of resourceLogs.scopeLogs ?? []) {
      for (const record of scopeLogs.logRecords ?? []) mapped.push(mapLogRecord(record, origin, scopeLogs.scope?.name));
    }
  }
  return mapped;
}

/** An event name as producers put it: `eventName`, the `event.name` attribute, or a one-word body. */
function namesOf(record: LogRecord, attrs: Attributes, body: string | undefined): string[] {
  const names = [record.eventName, attrs.text('event.name')];
  if (body !== undefined && body.length <= limits.nameLength && !/\s/.test(body)) names.push(body);
  return names.filter((name): name is string => name !== undefined && name !== '');
}

function mapLogRecord(record: LogRecord, origin: Origin, scope: string | undefined): MappedRecord {
  const attrs = new Attributes(record.attributes);
  const body = bodyText(record.body);
  const names = namesOf(record, attrs, body);
  const at =
    isoToMs(attrs.text('event.timestamp')) ?? nanosToMs(record.timeUnixNano) ?? nanosToMs(record.observedTimeUnixNano);
  const digest = () => digestOf([...origin.resource.values], scope, record);

  // Claude Code: the body is `claude_code.<name>`, the `event.name` attribute `<name>`.
  const claudeCode =
    names.find((name) => name.startsWith(claudeCodePrefix)) ??
    (origin.service === 'claude-code' && names[0] !== undefined ? `${claudeCodePrefix}${names[0]}` : undefined);
  const ccSession = attrs.text('session.id') ?? origin.resource.text('session.id');
  if (claudeCode !== undefined && ccSession !== undefined) {
    const session = new SessionEvents(ccSession, 'claude-code', 'claude-code', at);
    const events = mapClaudeCodeEvent(claudeCode.slice(claudeCodePrefix.length), attrs, session);
    const sequence = attrs.text('event.sequence');
    const base = `otel:cc:${session.session}:${sequence ?? digest()}`;
    return {
      what: `log ${claudeCode}`,
      events: withKeys(base, 'otel:cc:', events ?? [generic(record, origin, claudeCode, body, at, session.session)]),
    };
  }

  // Codex: the `event.name` attribute is `codex.<name>`.
  const codex = names.find((name) => name.startsWith(codexPrefix));
  const codexSession = attrs.text('conversation.id');
  if (codex !== undefined && codexSession !== undefined) {
    const session = new SessionEvents(codexSession, 'codex', 'codex', at);
    const events = mapCodexEvent(codex, attrs, session);
    const stamp = attrs.text('event.timestamp');
    const call = attrs.text('call_id') ?? attrs.text('event.kind') ?? '';
    const base =
      stamp === undefined ? `otel:codex:${digest()}` : `otel:codex:${session.session}:${codex}:${stamp}:${call}`;
    return {
      what: `log ${codex}`,
      events: withKeys(base, 'otel:codex:', events ?? [generic(record, origin, codex, body, at, session.session)]),
    };
  }

  const name = names[0] ?? record.severityText ?? 'log';
  return {
    what: `log ${name}`,
    events: withKeys(`otel:log:${digest()}`, 'otel:log:', [generic(record, origin, name, body, at, undefined)]),
  };
}

function generic(
  record: LogRecord,
  origin: Origin,
  name: string,
  body: string | undefined,
  at: number | undefined,
  session: string | undefined,
) {
  return genericEvent({
    signal: 'log',
    name,
    origin,
    attributes: new Attributes(record.attributes),
    fields: {
      ...(record.severityText !== undefined && { severity: record.severityText }),
      ...(record.severityNumber !== undefined && { severityNumber: record.severityNumber }),
    },
    body,
    agentId: session,
    workflowId: session,
    traceId: idOf(record.traceId),
    spanId: idOf(record.spanId),
    at,
  });
}
