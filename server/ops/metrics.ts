/**
 * Prometheus metrics, served at `/metrics` to admins. Each server has its own registry, so several servers
 * in one process (tests) never share counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { addUsage, emptyUsage, type UsageEntry } from '@switchboard/shared';

export type Metrics = ReturnType<typeof createMetrics>;

export interface MetricSources {
  connections: () => number;
  databaseBytes: () => Promise<number>;
  /** Usage totals by model (the store's, so the same on every node and after a restart). */
  usageByModel?: () => Promise<readonly UsageEntry[]>;
}

/** Models exported with labels of their own at most, highest cost first; the rest are summed as `other`. */
const usageModels = 50;

export function createMetrics(sources: MetricSources) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'switchboard_' });
  // Read before every live delivery, so it is a plain number here and becomes a gauge only when scraped.
  let unsentPeak = 0;
  // Counted at every delivery (a thousand per event with a thousand subscribers): plain numbers by procedure,
  // added to the counter when it is scraped.
  const deliveredSince = new Map<string, { count: number }>();
  const metrics = {
    registry,
    subscriptions: new Gauge({
      name: 'switchboard_subscriptions',
      help: 'Open subscriptions, by procedure',
      labelNames: ['procedure'] as const,
      registers: [registry],
    }),
    appended: new Counter({ name: 'switchboard_events_appended_total', help: 'Events stored', registers: [registry] }),
    delivered: new Counter({
      name: 'switchboard_events_delivered_total',
      help: 'Events handed to subscribers, by procedure',
      labelNames: ['procedure'] as const,
      registers: [registry],
      collect() {
        for (const [procedure, since] of deliveredSince) {
          if (since.count === 0) continue;
          this.inc({ procedure }, since.count);
          since.count = 0;
        }
      },
    }),
    /** The tally `switchboard_events_delivered_total` reads for `procedure`: add one per delivery. */
    deliveredTally(procedure: string): { count: number } {
      let tally = deliveredSince.get(procedure);
      if (tally === undefined) deliveredSince.set(procedure, (tally = { count: 0 }));
      return tally;
    },
    publishSeconds: new Histogram({
      name: 'switchboard_publish_seconds',
      help: 'Time to store and publish one write: a publish, publishBatch or ingest call, or an HTTP ingest request',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    deliverySeconds: new Histogram({
      name: 'switchboard_delivery_seconds',
      help: 'From commit to hand-off to the subscriber socket, for live events',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
    slowConsumers: new Counter({
      name: 'switchboard_slow_consumer_disconnects_total',
      help: 'Connections closed because their unsent bytes passed the limit',
      registers: [registry],
    }),
    /** Notes a connection's unsent bytes, as seen before a delivery; the gauge keeps the highest. */
    noteUnsent(bytes: number): void {
      if (bytes > unsentPeak) unsentPeak = bytes;
    },
    busDropped: new Counter({
      name: 'switchboard_bus_messages_dropped_total',
      help: 'Messages on the bus channel that are not what a node sends (not JSON, not events, not an id): dropped, the bus kept up',
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'switchboard_rejected_requests_total',
      help: 'Requests refused, by reason',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    otlpRecords: new Counter({
      name: 'switchboard_otlp_records_total',
      help: 'OTLP log records, spans and data points received, by signal and outcome (accepted, or rejected in a partial success)',
      labelNames: ['signal', 'outcome'] as const,
      registers: [registry],
    }),
  };
  if (sources.usageByModel) registerUsage(registry, sources.usageByModel);
  new Gauge({
    name: 'switchboard_connections',
    help: 'Open WebSocket connections',
    registers: [registry],
    collect() {
      this.set(sources.connections());
    },
  });
  new Gauge({
    name: 'switchboard_unsent_bytes_peak',
    help: 'The most bytes one connection has had waiting to be sent, seen before a delivery since start: the memory a slow consumer can hold, bounded by the slow-consumer limit',
    registers: [registry],
    collect() {
      this.set(unsentPeak);
    },
  });
  new Gauge({
    name: 'switchboard_database_bytes',
    help: 'Bytes the store occupies: the SQLite file (pages in use times page size), or the PostgreSQL schema',
    registers: [registry],
    async collect() {
      this.set(await sources.databaseBytes());
    },
  });
  return metrics;
}

/**
 * Token and cost totals by model, read from the store at each scrape: counters that never go down (retention
 * keeps the totals) and agree on every node. At most `usageModels` models keep a label of their own.
 */
function registerUsage(registry: Registry, usageByModel: () => Promise<readonly UsageEntry[]>): void {
  // Read for each of the three metrics: a few hundred rows at most, and each scrape sees the store as it is.
  const byModel = async () => {
    const entries = await usageByModel();
    const top = entries.slice(0, usageModels).map((e) => ({ model: e.id === '' ? 'unknown' : e.id, usage: e.usage }));
    const rest = entries.slice(usageModels).reduce((sum, e) => addUsage(sum, e.usage), { ...emptyUsage });
    return rest.requests === 0 ? top : [...top, { model: 'other', usage: rest }];
  };
  const tokenTypes = [
    ['input', 'inputTokens'],
    ['output', 'outputTokens'],
    ['cache_read', 'cacheReadTokens'],
    ['cache_creation', 'cacheCreationTokens'],
  ] as const;
  new Counter({
    name: 'switchboard_usage_tokens_total',
    help: 'Tokens used, by type (input not read from a cache, output, cache read, cache creation) and model',
    labelNames: ['type', 'model'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const { model, usage } of await byModel()) {
        for (const [type, field] of tokenTypes) this.inc({ type, model }, usage[field]);
      }
    },
  });
  new Counter({
    name: 'switchboard_usage_cost_usd_total',
    help: 'Cost in US dollars as the producers estimated it, by model',
    labelNames: ['model'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const { model, usage } of await byModel()) this.inc({ model }, usage.costUsd);
    },
  });
  new Counter({
    name: 'switchboard_usage_requests_total',
    help: 'Model requests reported (usage.recorded events), by model',
    labelNames: ['model'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const { model, usage } of await byModel()) this.inc({ model }, usage.requests);
    },
  });
}
