/**
 * Chooses the store and the bus from configuration alone (docs/deploy.md):
 * - embedded (default): a SQLite file and the in-process bus;
 * - cluster: `db` a postgres:// URL and a Redis URL: PostgreSQL store, Redis transport under a sequencer;
 * - PostgreSQL only: `db` a postgres:// URL without Redis: LISTEN/NOTIFY as the doorbell under a sequencer.
 * Also keeps what /healthz and /metrics say about the two engines.
 */
import { builtinCatalogue, type Catalogue, type EngineHealth } from '@switchboard/shared';
import type { Registry } from 'prom-client';
import { Counter, Gauge } from 'prom-client';
import { createMemoryBus } from './bus/memory.js';
import { createNotifyTransport } from './bus/notify.js';
import { createRedisTransport } from './bus/redis.js';
import type { EventBus } from './core/bus.js';
import { isPostgresUrl, type Config } from './ops/config.js';
import { Sequencer } from './core/sequencer.js';
import { lockDatabaseFile, openDatabase, type DatabaseLock } from './store/sqlite-db.js';
import type { Logger } from './ops/log.js';
import { createPostgresStore } from './store/postgres.js';
import { openPostgres } from './store/postgres-open.js';
import { redactUrl } from './ops/redact.js';
import { createSqliteStore } from './store/sqlite.js';
import type { EventStore } from './core/store.js';

/**
 * The name every connection of a node of the cluster on `channel` carries (PostgreSQL's application_name, Redis's
 * client name): how operators, `switchboard new-epoch` and the tests tell a cluster's nodes apart.
 */
export const nodeName = (channel: string) => `${channel}-node`;

type TopologyConfig = Pick<
  Config,
  'db' | 'durability' | 'redisUrl' | 'busSecret' | 'pgSchema' | 'busChannel' | 'headCheckMs' | 'pgTimeoutMs'
>;

export interface Topology {
  store: EventStore;
  bus: EventBus;
  /** `db` as it may be logged (a URL's password hidden). */
  describeDb: string;
  /** The store and the bus, each with its engine and state; any `down` makes the node degraded. */
  health(): { store: EngineHealth; bus: EngineHealth };
  /** Adds bus lag, gap fills and store errors to a registry. */
  registerMetrics(registry: Registry): void;
  close(): Promise<void>;
}

/** A group commit done again batch by batch: its cause is most often one batch's fault, answered to its caller. */
const groupRetried =
  (log: Logger) =>
  (cause: unknown): void => {
    log.debug({ err: cause }, 'a group commit failed as a whole; it is done again one batch at a time');
  };

export async function openTopology(
  config: TopologyConfig,
  log: Logger,
  given: {
    store?: EventStore | undefined;
    bus?: EventBus | undefined;
    /** Counts malformed messages received on the bus channel (`switchboard_bus_messages_dropped_total`). */
    busDropped?: { inc(): void } | undefined;
  } = {},
  /** Derives each event's topic, for the store. */
  catalogue: Pick<Catalogue, 'topicOf'> = builtinCatalogue,
): Promise<Topology> {
  if (given.store) return embedded(given.store, given.bus ?? createMemoryBus(), config.db);
  if (!isPostgresUrl(config.db)) {
    // One process per file: a second would never see the first's live events (docs/deploy.md).
    const lock = config.db === ':memory:' ? undefined : lockDatabaseFile(config.db);
    try {
      const store = createSqliteStore(openDatabase(config.db, config.durability), catalogue, {
        onRetry: groupRetried(log),
      });
      return embedded(store, given.bus ?? createMemoryBus(), config.db, lock);
    } catch (error) {
      lock?.release();
      throw error;
    }
  }
  let storeUp = true;
  let storeErrors = 0;
  // Every connection of this node is named after its cluster's channel, in pg_stat_activity and CLIENT LIST.
  const name = nodeName(config.busChannel);
  const db = await openPostgres({
    url: config.db,
    schema: config.pgSchema,
    applicationName: name,
    timeoutMs: config.pgTimeoutMs,
  });
  const store = createPostgresStore(db, {
    catalogue,
    onRetry: groupRetried(log),
    onHealth: (ok) => {
      if (!ok) storeErrors++;
      if (ok !== storeUp) {
        storeUp = ok;
        if (ok) log.info('store back: PostgreSQL reachable again');
        else log.warn('store down: PostgreSQL unreachable; publishes fail as retryable until it is back');
      }
    },
  });
  // One warning, then only the counter: a flood of garbage must not become a flood of log lines.
  let warned = false;
  const onMalformed = (problem: string) => {
    given.busDropped?.inc();
    if (warned) return;
    warned = true;
    log.warn(
      { problem },
      'dropped a malformed message on the bus channel (not sent by a node); the bus stays up; further ones are counted in switchboard_bus_messages_dropped_total, not logged',
    );
  };
  const transport = config.redisUrl
    ? createRedisTransport({
        url: config.redisUrl,
        prefix: config.busChannel,
        clientName: name,
        onMalformed,
        secret: config.busSecret,
        scope: db.epoch,
      })
    : createNotifyTransport({
        url: config.db,
        channel: `${config.busChannel}_events`,
        applicationName: name,
        onMalformed,
      });
  const sequencer = new Sequencer({ store, transport, log, headCheckMs: config.headCheckMs });
  try {
    await sequencer.start();
  } catch (error) {
    await store.close();
    throw error;
  }
  return {
    store,
    bus: sequencer,
    describeDb: redactUrl(config.db),
    health: () => ({
      store: { engine: 'postgres', state: storeUp ? 'up' : 'down' },
      bus: { engine: transport.name, state: sequencer.stats.transport },
    }),
    registerMetrics(registry) {
      new Gauge({
        name: 'switchboard_bus_lag_events',
        help: 'Events known committed but not yet delivered by this node (newest known id minus newest delivered)',
        registers: [registry],
        collect() {
          this.set(sequencer.stats.lag);
        },
      });
      new Counter({
        name: 'switchboard_bus_gap_filled_total',
        help: 'Events read from the store because the bus did not bring them (lost, late or while it was down)',
        registers: [registry],
        collect() {
          this.reset();
          this.inc(sequencer.stats.gapFilled);
        },
      });
      new Counter({
        name: 'switchboard_store_errors_total',
        help: 'Store operations that failed because the database was unreachable',
        registers: [registry],
        collect() {
          this.reset();
          this.inc(storeErrors);
        },
      });
    },
    async close() {
      await sequencer.close();
      await store.close();
    },
  };
}

function embedded(store: EventStore, bus: EventBus, db: string, lock?: DatabaseLock): Topology {
  return {
    store,
    bus,
    describeDb: db,
    health: () => ({ store: { engine: 'sqlite', state: 'up' }, bus: { engine: 'memory', state: 'up' } }),
    registerMetrics: () => undefined,
    async close() {
      try {
        await store.close();
      } finally {
        lock?.release();
      }
    },
  };
}
