/**
 * What OpenTelemetry's signals mean in Switchboard's events (docs/opentelemetry.md has the table), as pure
 * functions of a validated OTLP request: `mapOtlp(signal, request)` gives one `MappedRecord` per log record, span
 * or data point. server/transports/otlp/ decodes the requests and stores what these return.
 */
import { mapLogs } from './logs.js';
import { mapMetrics } from './metrics.js';
import type { MappedRecord } from './records.js';
import { otlpSignals, type OtlpLogs, type OtlpMetrics, type OtlpSignal, type OtlpTraces } from './schema.js';
import { mapTraces } from './traces.js';

export { otlpSignals, type OtlpSignal } from './schema.js';
export type { MappedRecord } from './records.js';

interface RequestOf {
  logs: OtlpLogs;
  traces: OtlpTraces;
  metrics: OtlpMetrics;
}

const mappers: { [S in OtlpSignal]: (request: RequestOf[S]) => MappedRecord[] } = {
  logs: mapLogs,
  traces: mapTraces,
  metrics: mapMetrics,
};

export function mapOtlp<S extends OtlpSignal>(signal: S, request: RequestOf[S]): MappedRecord[] {
  return mappers[signal](request);
}

/** Validates a decoded request against its signal's schema; the zod error on failure. */
export function parseOtlp<S extends OtlpSignal>(signal: S, value: unknown) {
  return otlpSignals[signal].safeParse(value) as ReturnType<(typeof otlpSignals)[S]['safeParse']>;
}
