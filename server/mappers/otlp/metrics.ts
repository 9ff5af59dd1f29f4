/**
 * An OTLP metrics request as events, one `MappedRecord` per data point. A sum or gauge point that names the
 * session or agent it measures (`session.id` as Claude Code's do, `conversation.id` as Codex's, or
 * `gen_ai.agent.id`) becomes that agent's `agent.metric`, its name carrying the point's own attributes
 * (`claude_code.token.usage{type=input,model=…}`) and its value as sent (the increment of a delta sum, the running
 * total of a cumulative one). Every other point, and every histogram and summary point, is an `otel.record`.
 *
 * Token and cost metrics are not added to the usage totals: the producers that send them also report every
 * request on its own (Claude Code's `api_request` events, GenAI inference spans), and those are what usage
 * counts; adding both would count each request twice.
 */
import { limits, type PublishInput } from '@switchboard/shared';
import { oneLine, safeId } from '../text.js';
import { digestOf, genericEvent, originOf, withKeys, type MappedRecord, type Origin } from './records.js';
import type { DistributionPoint, Metric, NumberPoint, OtlpMetrics } from './schema.js';
import { Attributes, enumNumber, nanosToMs, temporalities } from './values.js';

/** Attributes that say who measured, not what: left out of an agent metric's name. */
const identity =
  /^(session\.id|conversation\.id|user\.|organization\.id|terminal\.type|app\.|service\.|host\.|os\.|gen_ai\.agent\.)/;

export function mapMetrics(request: OtlpMetrics): MappedRecord[] {
  const mapped: MappedRecord[] = [];
  for (const resourceMetrics of request.resourceMetrics ?? []) {
    const origin = originOf(new Attributes(resourceMetrics.resource?.attributes));
    for (const scopeMetrics of resourceMetrics.scopeMetrics ?? []) {
      for (const metric of scopeMetrics.metrics ?? []) {
        const scope = scopeMetrics.scope?.name;
        const numbers = [...(metric.sum?.dataPoints ?? []), ...(metric.gauge?.dataPoints ?? [])];
        for (const point of numbers) mapped.push(numberPoint(metric, point, origin, scope));
        const distributions = [
          ...(metric.histogram?.dataPoints ?? []),
          ...(metric.exponentialHistogram?.dataPoints ?? []),
          ...(metric.summary?.dataPoints ?? []),
        ];
        for (const point of distributions) mapped.push(distributionPoint(metric, point, origin, scope));
      }
    }
  }
  return mapped;
}

function keyOf(origin: Origin, scope: string | undefined, metric: Metric, point: NumberPoint | DistributionPoint) {
  return `otel:metric:${digestOf([...origin.resource.values], scope, metric.name, point)}`;
}

/** The agent a point measures, if it names one. */
function agentOf(attrs: Attributes, origin: Origin): string | undefined {
  const id =
    attrs.text('session.id') ??
    origin.resource.text('session.id') ??
    attrs.text('conversation.id') ??
    attrs.text('gen_ai.agent.id');
  return id === undefined ? undefined : safeId(id);
}

function numberPoint(metric: Metric, point: NumberPoint, origin: Origin, scope: string | undefined): MappedRecord {
  const attrs = new Attributes(point.attributes);
  const value = Number(point.asDouble ?? point.asInt ?? NaN);
  const agentId = agentOf(attrs, origin);
  const at = nanosToMs(point.timeUnixNano);
  const what = `metric ${metric.name}`;
  let event: PublishInput;
  if (agentId !== undefined && Number.isFinite(value)) {
    const labels = [...attrs.values]
      .filter(([key]) => !identity.test(key))
      .map(([key, v]) => `${key}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
    event = {
      type: 'agent.metric',
      source: origin.service,
      ...(at !== undefined && { timestamp: new Date(at) }),
      data: {
        agentId,
        name: oneLine(labels.length === 0 ? metric.name : `${metric.name}{${labels.join(',')}}`, limits.nameLength),
        value,
        ...(metric.unit !== undefined && metric.unit !== '' && { unit: oneLine(metric.unit, limits.nameLength) }),
      },
    };
  } else {
    const temporality = enumNumber(metric.sum?.aggregationTemporality, temporalities);
    event = genericEvent({
      signal: 'metric',
      name: metric.name,
      origin,
      attributes: attrs,
      fields: {
        kind: metric.sum === undefined ? 'gauge' : 'sum',
        ...(metric.unit !== undefined && metric.unit !== '' && { unit: metric.unit }),
        ...(temporality !== undefined && { temporality: temporalities[temporality] ?? temporality }),
        ...(metric.sum?.isMonotonic !== undefined && { monotonic: metric.sum.isMonotonic }),
        ...(nanosToMs(point.startTimeUnixNano) !== undefined && { startTime: nanosToMs(point.startTimeUnixNano) }),
      },
      body: String(point.asDouble ?? point.asInt ?? ''),
      agentId,
      at,
    });
  }
  return { what, events: withKeys(keyOf(origin, scope, metric, point), 'otel:metric:', [event]) };
}

function distributionPoint(
  metric: Metric,
  point: DistributionPoint,
  origin: Origin,
  scope: string | undefined,
): MappedRecord {
  const attrs = new Attributes(point.attributes);
  const kind = metric.histogram ? 'histogram' : metric.exponentialHistogram ? 'exponentialHistogram' : 'summary';
  const event = genericEvent({
    signal: 'metric',
    name: metric.name,
    origin,
    attributes: attrs,
    fields: {
      kind,
      ...(metric.unit !== undefined && metric.unit !== '' && { unit: metric.unit }),
      ...(point.count !== undefined && { count: Number(point.count) }),
      ...(point.sum !== undefined && { sum: Number(point.sum) }),
      ...(point.min !== undefined && { min: Number(point.min) }),
      ...(point.max !== undefined && { max: Number(point.max) }),
    },
    body: point.sum === undefined ? undefined : String(point.sum),
    agentId: agentOf(attrs, origin),
    at: nanosToMs(point.timeUnixNano),
  });
  return {
    what: `metric ${metric.name}`,
    events: withKeys(keyOf(origin, scope, metric, point), 'otel:metric:', [event]),
  };
}
