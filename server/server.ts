/**
 * The composition root: builds the store, bus, hub, access control and transports from the configuration, listens
 * on one port (HTTP routes in transports/http.ts, the WebSocket upgrade in transports/ws/upgrade.ts), and closes
 * it all in order.
 */
import { createServer, type Server } from 'node:http';
import type { Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { EventBus } from './core/bus.js';
import { ConfigError, isLoopback, type Config } from './ops/config.js';
import { createContextFactory } from './context.js';
import { loadDashboard } from './transports/dashboard.js';
import { createHub, type Hub } from './core/hub.js';
import { createLogger, type Logger } from './ops/log.js';
import { createMetrics } from './ops/metrics.js';
import { openTopology } from './topology.js';
import { startRetention } from './ops/retention.js';
import { formatDuration, PresenceSweeper } from './core/presence.js';
import { StoreUnavailableError } from './core/unavailable.js';
import { ResourceStack } from './ops/resources.js';
import { builtinCatalogue, type AnyCatalogue } from '@switchboard/shared';
import { loadCatalogue, unknownStoredTypes } from './ops/catalogue.js';
import { createAppRouter } from './routers/_app.js';
import { AccessControl } from './security/access.js';
import type { ReloadResult } from './security/tokens-file.js';
import { OriginGuard } from './security/origin.js';
import type { EventStore } from './core/store.js';
import type { PathTracer } from './core/trace.js';
import { HttpTransport, trpcPath, type ErrorHandler } from './transports/http.js';
import { createOtlpGrpcServer } from './transports/otlp/grpc.js';
import { serveWebSockets } from './transports/ws/handler.js';
import { acceptUpgrades } from './transports/ws/upgrade.js';

export type ServerOptions = Config & {
  /** Replace the embedded store or bus (another process's, or a test's); a store made with the same catalogue. */
  store?: EventStore;
  bus?: EventBus;
  logger?: Logger;
  /** How often retention runs; a minute by default. */
  retentionIntervalMs?: number;
  /** The dashboard's built files; `web/dist` by default. */
  dashboardDir?: string;
  /** The event catalogue (`defineCatalogue`); wins over `events`, the path of a module exporting one. */
  catalogue?: AnyCatalogue;
  /** Times each event's path from frame to sockets (the bench's latency breakdown); nothing is timed without it. */
  trace?: PathTracer;
  /** How long an OTLP/gRPC call's request may take to arrive whole; 30 s by default (tests shorten it). */
  otlpGrpcReadDeadlineMs?: number;
};

export interface RunningServer {
  /** `http://host:port`, with the port actually bound. */
  url: string;
  port: number;
  /** OTLP/gRPC's `http://host:port` (h2c), with the port actually bound; undefined without `otlpGrpcPort`. */
  otlpGrpcUrl: string | undefined;
  /** Stops accepting, tells WebSocket clients to reconnect, closes every connection and the store. */
  close(): Promise<void>;
  /** Rereads the tokens file (the entry point calls it on SIGHUP); connections of removed tokens are closed. */
  reloadTokens(): ReloadResult;
  /** Terminates every WebSocket at once, as a network failure would (tests use this). */
  dropConnections(): void;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The port is taken, or the address cannot be bound. */
export class ListenError extends Error {
  override name = 'ListenError';
}

/** How long shutdown waits for WebSocket peers to answer the close handshake. */
const closeHandshakeMs = 2_000;

/**
 * Opens everything in order, each resource pushed on one owned stack as it is opened. A step that fails closes
 * what was opened before it (the tokens file watcher, the store, the listening socket...), so a failed start
 * leaves nothing that keeps the process alive, and rejects with the step's own error. Once every step succeeded,
 * the stack belongs to the running server: `close()` disposes it, newest first.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const log = options.logger ?? createLogger(options);
  const stack = new ResourceStack();
  try {
    return await open(options, log, stack);
  } catch (error) {
    await stack.disposeAsync().catch((closeError: unknown) => {
      log.error({ err: closeError }, 'closing after a failed start-up failed');
    });
    log.flush();
    throw error;
  }
}

async function open(options: ServerOptions, log: Logger, stack: ResourceStack): Promise<RunningServer> {
  const access = await AccessControl.create(options, log).catch((error: unknown) => {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`cannot load the JWT keys: ${error instanceof Error ? error.message : String(error)}`);
  });
  stack.adopt(access, (a) => {
    a.close();
  });
  const catalogue: AnyCatalogue =
    options.catalogue ?? (options.events === undefined ? builtinCatalogue : await loadCatalogue(options.events));
  const appRouter = createAppRouter(catalogue);
  // Its sources are read only when scraped, once everything below exists.
  const metrics = createMetrics({
    connections: () => wss.clients.size,
    databaseBytes: () => store.sizeBytes(),
    usageByModel: async () => (await store.usage({ agentIds: [], limit: 1 })).models,
  });
  // SQLite and the in-process bus, or PostgreSQL with Redis or NOTIFY, from the configuration alone.
  const topology = await openTopology(
    options,
    log,
    { store: options.store, bus: options.bus, busDropped: metrics.busDropped },
    catalogue,
  );
  stack.adopt(topology, (t) => t.close());
  const { store, bus } = topology;
  // No compression: event frames are prebuilt once for every socket (server/transports/ws/socket-writer.ts).
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes, perMessageDeflate: false });
  topology.registerMetrics(metrics.registry);
  const hub = createHub({
    store,
    bus,
    trace: options.trace,
    onAppend: (stored, seconds) => {
      metrics.appended.inc(stored);
      metrics.publishSeconds.observe(seconds);
    },
    onListenerError: (error) => {
      log.error({ err: error }, 'a bus listener failed on stored events');
    },
  });
  // Appends already queued commit before the store closes (disposed after everything pushed below).
  stack.defer(() => hub.drained());
  const guard = new OriginGuard({ ...options, loopback: isLoopback(options.host) }, metrics, log);
  const dashboard = loadDashboard(options.dashboardDir);
  const contexts = createContextFactory({ hub, limits: options, metrics, log });

  const onError: ErrorHandler = ({ error, path }) => {
    // Client mistakes are answered to the client; only server faults belong in the error log. An error with no
    // procedure is the connection's own (a frame over the size limit, a broken socket): the peer's doing.
    if (path === undefined) log.info({ reason: error.message }, 'connection error');
    else if (error.code === 'INTERNAL_SERVER_ERROR') log.error({ path, err: error }, 'procedure failed');
  };
  const wsHandler = serveWebSockets({
    wss,
    router: appRouter,
    onError,
    createContext: async ({ connectionParams, socket, req }) =>
      contexts.forSocket(await access.authenticateSocket(connectionParams?.token, socket), socket, req),
    keepAlive: { pingMs: options.pingMs, pongWaitMs: options.pongWaitMs },
    // The project's own subscriptions keep this bound themselves (ConnectionLimits); any other is held to it here.
    slowConsumerBytes: options.slowConsumerBytes,
    trace: options.trace,
  });
  const httpTransport = new HttpTransport({
    router: appRouter,
    catalogue,
    hub,
    access,
    contexts,
    guard,
    dashboard,
    topology,
    connections: () => wss.clients.size,
    config: options,
    metrics,
    log,
    onError,
  });
  const http = createServer(httpTransport.handle);
  stack.defer(() => closeConnections({ http, wss, wsHandler, httpTransport }));

  acceptUpgrades(http, { wss, guard, metrics, path: trpcPath, maxConnections: options.maxConnections });
  await listen(http, options.host, options.port, '--port / SWITCHBOARD_PORT');
  let otlpGrpcPort: number | undefined;
  if (options.otlpGrpcPort !== undefined) {
    const grpc = createOtlpGrpcServer({
      hub,
      catalogue,
      access,
      contexts,
      metrics,
      log,
      maxConnections: options.maxConnections,
      readDeadlineMs: options.otlpGrpcReadDeadlineMs,
    });
    stack.defer(() => grpc.close());
    await listen(grpc.server, options.host, options.otlpGrpcPort, '--otlp-grpc-port / SWITCHBOARD_OTLP_GRPC_PORT');
    otlpGrpcPort = (grpc.server.address() as AddressInfo).port;
  }

  const retention = startRetention({
    store,
    maxAgeMs: options.retentionDays * 86_400_000,
    maxRows: options.retentionRows,
    intervalMs: options.retentionIntervalMs ?? 60_000,
    log,
  });
  stack.defer(() => retention.stop());
  startPresence(options.presenceTtlMs, hub, log, stack);
  const { port } = http.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  log.info(
    {
      host: options.host,
      port,
      ...(otlpGrpcPort !== undefined && { otlpGrpcPort }),
      db: topology.describeDb,
      auth: access.required ? 'tokens' : 'open (loopback only)',
    },
    'listening',
  );
  const unknownTypes = await unknownStoredTypes(store, catalogue);
  if (unknownTypes.length > 0) {
    log.warn({ types: unknownTypes }, 'stored events of types the catalogue does not define; replayed as stored');
  }
  if (!dashboard.built) log.warn({ dir: dashboard.dir }, 'dashboard not built: run npm run build:web');

  // Every step succeeded: from here on the running server owns what was opened.
  const owned = stack.move();
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await owned.disposeAsync();
      log.info('closed');
      log.flush();
    })();
    return closing;
  };

  return {
    url: `http://${host}:${port}`,
    port,
    otlpGrpcUrl: otlpGrpcPort === undefined ? undefined : `http://${host}:${otlpGrpcPort}`,
    close,
    reloadTokens: () => access.reloadTokens(),
    dropConnections: () => {
      for (const ws of wss.clients) ws.terminate();
    },
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Every node sweeps for silent agents; the store lets one write each offline event (server/core/presence.ts).
 * A store that is down is said once by the topology; the sweep simply tries again.
 */
function startPresence(ttlMs: number, hub: Hub, log: Logger, stack: ResourceStack): void {
  if (ttlMs === 0) return;
  const sweeper = new PresenceSweeper({
    hub,
    ttlMs,
    onOffline: (stored) => {
      const agents = stored.flatMap((event) => (event.type === 'agent.status' ? [event.data.agentId] : []));
      log.info(
        { agents, ttl: formatDuration(ttlMs) },
        'agents went offline: nothing heard of them for the presence TTL',
      );
    },
    onError: (error) => {
      if (!(error instanceof StoreUnavailableError)) log.error({ err: error }, 'presence sweep failed');
    },
  });
  sweeper.start();
  stack.defer(() => sweeper.stop());
}

/** Binds a port; its failure is one line naming the address and what to do (`setting`: where the port is set). */
async function listen(server: Server | Http2Server, host: string, port: number, setting: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onListenError = (error: NodeJS.ErrnoException) => {
      const where = `${host}:${port}`;
      const why =
        error.code === 'EADDRINUSE'
          ? `the port is already in use (stop the other process or choose another ${setting})`
          : error.code === 'EADDRNOTAVAIL'
            ? 'that address is not on this machine (check --host / SWITCHBOARD_HOST)'
            : error.message;
      reject(new ListenError(`cannot listen on ${where}: ${why}`));
    };
    server.once('error', onListenError);
    server.listen(port, host, () => {
      server.off('error', onListenError);
      resolve();
    });
  });
}

/**
 * Stops accepting, tells WebSocket clients to reconnect (to this address, once a server is back; they resume
 * from their cursors), closes every connection, and waits for the HTTP server to close. Also right for a server
 * that never listened (its listen failed).
 */
async function closeConnections(parts: {
  http: Server;
  wss: WebSocketServer;
  wsHandler: { reconnectAll(): void; close(): void };
  httpTransport: HttpTransport;
}): Promise<void> {
  const { http, wss, wsHandler, httpTransport } = parts;
  const stopped = new Promise<void>((resolve) => {
    // Not listening (a failed listen) is an error here, and as good as closed.
    http.close(() => {
      resolve();
    });
  });
  wsHandler.reconnectAll();
  wsHandler.close();
  httpTransport.close();
  for (const ws of wss.clients) ws.close(1001, 'server shutting down');
  http.closeIdleConnections();
  // A peer that never answers the close handshake is cut off after a bounded wait.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, closeHandshakeMs);
    wss.close(() => {
      clearTimeout(timer);
      resolve();
    });
  });
  for (const ws of wss.clients) ws.terminate();
  http.closeAllConnections();
  await stopped;
}
