/**
 * One Node HTTP server: tRPC over HTTP and over WebSocket at `/trpc`, `POST /ingest`, `/healthz`,
 * `/metrics` and the dashboard at `/`, all on one port. Limits, auth, keepalive and retention are wired here from the config.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { WebSocketServer } from 'ws';
import { allows, bearerToken, type Access, type Principal } from './security/auth.js';
import type { EventBus } from './bus/types.js';
import { ConfigError, isLoopback, type Config } from './ops/config.js';
import type { Context } from './context.js';
import { loadDashboard } from './transports/dashboard.js';
import { createHub } from './core/hub.js';
import { handleIngest } from './transports/ingest.js';
import { ConnectionLimits } from './ops/limits.js';
import { createLogger, type Logger } from './ops/log.js';
import { createMetrics } from './ops/metrics.js';
import { openTopology } from './ops/topology.js';
import { startRetention } from './ops/retention.js';
import { builtinCatalogue, type AnyCatalogue } from '@switchboard/shared';
import { loadCatalogue, unknownStoredTypes } from './ops/catalogue.js';
import { createAppRouter } from './routers/_app.js';
import { AccessControl } from './security/access.js';
import type { Authentication } from './security/gate.js';
import { admitRequest, admitUpgrade } from './security/guard.js';
import type { ReloadResult } from './security/tokens-file.js';
import { OriginGuard } from './security/origin.js';
import { checkPublish } from './security/scopes.js';
import { handleClaudeCodeHook } from './transports/claude-code.js';
import { schemaResponder } from './transports/schema.js';
import type { EventStore } from './store/types.js';
import { agUiPath, serveAgUi } from './transports/ag-ui.js';
import { SseTransport } from './transports/sse.js';
import { serveWebSockets } from './transports/ws/handler.js';

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
};

export interface RunningServer {
  /** `http://host:port`, with the port actually bound. */
  url: string;
  port: number;
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

const trpcPath = '/trpc';
/** How long shutdown waits for WebSocket peers to answer the close handshake. */
const closeHandshakeMs = 2_000;
/** Close code for a connection refused because the server holds its maximum (RFC 6455 "try again later"). */
const tryAgainLater = 1013;

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const log = options.logger ?? createLogger(options);
  const access = await AccessControl.create(options, log).catch((error: unknown) => {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`cannot load the JWT keys: ${error instanceof Error ? error.message : String(error)}`);
  });
  const catalogue: AnyCatalogue =
    options.catalogue ?? (options.events === undefined ? builtinCatalogue : await loadCatalogue(options.events));
  const appRouter = createAppRouter(catalogue);
  // SQLite and the in-process bus, or PostgreSQL with Redis or NOTIFY, from the configuration alone.
  const topology = await openTopology(options, log, options, catalogue);
  const { store, bus } = topology;
  // No compression: event frames are prebuilt once for every socket (server/transports/ws/socket-writer.ts).
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes, perMessageDeflate: false });
  const metrics = createMetrics({ connections: () => wss.clients.size, databaseBytes: () => store.sizeBytes() });
  topology.registerMetrics(metrics.registry);
  const hub = createHub({
    store,
    bus,
    onAppend: (stored, seconds) => {
      metrics.appended.inc(stored);
      metrics.publishSeconds.observe(seconds);
    },
  });
  const startedAt = Date.now();
  const guard = new OriginGuard({ ...options, loopback: isLoopback(options.host) }, metrics, log);
  const serveSchema = schemaResponder(catalogue);
  const dashboard = loadDashboard(options.dashboardDir);

  // HTTP callers have no connection to hang limits on; they share one set per remote address.
  const httpLimits = new Map<string, ConnectionLimits>();
  const limitsFor = (req: IncomingMessage) => {
    const address = req.socket.remoteAddress ?? 'unknown';
    let limits = httpLimits.get(address);
    if (!limits) {
      if (httpLimits.size >= 10_000) httpLimits.clear();
      limits = new ConnectionLimits(options, metrics, null);
      httpLimits.set(address, limits);
    }
    return limits;
  };
  const context = ({ principal, problem }: Authentication, limits: ConnectionLimits): Context => ({
    hub,
    principal,
    authProblem: problem,
    limits,
    metrics,
    log,
  });

  const onError = ({ error, path }: { error: { code: string; message: string; stack?: string }; path?: string }) => {
    // Client mistakes are answered to the client; only server faults belong in the error log. An error with no
    // procedure is the connection's own (a frame over the size limit, a broken socket): the peer's doing.
    if (path === undefined) log.info({ reason: error.message }, 'connection error');
    else if (error.code === 'INTERNAL_SERVER_ERROR') log.error({ path, err: error }, 'procedure failed');
  };
  const trpcHttp = createHTTPHandler({
    router: appRouter,
    basePath: `${trpcPath}/`,
    onError,
    createContext: async ({ req }) =>
      context(await access.authenticate(bearerToken(req.headers.authorization)), limitsFor(req)),
  });
  const wsHandler = serveWebSockets({
    wss,
    router: appRouter,
    onError,
    createContext: async ({ connectionParams, socket }) =>
      context(
        await access.authenticateSocket(connectionParams?.token, socket),
        new ConnectionLimits(options, metrics, socket),
      ),
    keepAlive: { pingMs: options.pingMs, pongWaitMs: options.pongWaitMs },
  });

  const sse = new SseTransport({
    router: appRouter,
    basePath: trpcPath,
    createContext: async (req, token) => context(await access.authenticate(token), limitsFor(req)),
    onError,
    metrics,
    pingMs: options.ssePingMs,
    stallMs: options.sseStallMs,
    retryMs: options.sseRetryMs,
  });

  /** For the plain HTTP endpoints: answers 401/403 itself and returns null when the caller may not. */
  async function permitted(req: IncomingMessage, res: ServerResponse, need: Access): Promise<Principal | null> {
    const { principal, problem } = await access.authenticate(bearerToken(req.headers.authorization));
    if (principal === null) {
      metrics.rejected.inc({ reason: 'unauthorized' });
      sendJson(res, 401, { error: problem ?? 'missing or unknown token: send Authorization: Bearer <token>' });
      return null;
    }
    if (!allows(principal, need)) {
      metrics.rejected.inc({ reason: 'forbidden' });
      sendJson(res, 403, { error: `token "${principal.name}" has role ${principal.role}, which may not do this` });
      return null;
    }
    return principal;
  }

  async function route(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      // Open to all: a liveness probe needs no token, and this reveals nothing about the events themselves.
      // A node whose store or bus is down still serves (reads what it can): it says "degraded", still 200.
      const head = await store.headId().catch(() => undefined);
      const engines = topology.health();
      const degraded = head === undefined || engines.store.state === 'down' || engines.bus.state === 'down';
      sendJson(res, 200, {
        status: degraded ? 'degraded' : 'ok',
        uptime: Math.round((Date.now() - startedAt) / 1000),
        connections: wss.clients.size,
        subscriptions: hub.subscriptions,
        headEventId: head === undefined ? null : String(head),
        ...engines,
      });
    } else if (path === '/schema' && (req.method === 'GET' || req.method === 'HEAD')) {
      // Open to all, like the contract in docs/: it describes event shapes, never events.
      serveSchema(res);
    } else if (path === '/metrics') {
      if (!(await permitted(req, res, 'operate'))) return;
      const text = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
      res.end(text);
    } else if (path === '/ingest/claude-code') {
      const principal = await permitted(req, res, 'write');
      if (!principal) return;
      await handleClaudeCodeHook(req, res, hub, limitsFor(req), (events) => {
        checkPublish(principal, events, (event) => catalogue.topicOf(event));
      });
    } else if (path === '/ingest') {
      const principal = await permitted(req, res, 'write');
      if (!principal) return;
      await handleIngest(req, res, hub, limitsFor(req), catalogue, (events) => {
        checkPublish(principal, events, (event) => catalogue.topicOf(event));
      });
    } else if (req.method === 'GET' && sse.procedureAt(path) !== undefined) {
      await sse.serve(req, res, path.slice(trpcPath.length + 1));
    } else if (req.method === 'GET' && path.startsWith(`${agUiPath}/`)) {
      await serveAgUi(sse, options.sseRetryMs, req, res, path.slice(agUiPath.length + 1));
    } else if (path === trpcPath || path.startsWith(`${trpcPath}/`)) {
      trpcHttp(req, res);
    } else if (!dashboard.serve(req, res, path)) {
      sendJson(res, 404, {
        error: `no route ${path}; the dashboard is at /, tRPC at ${trpcPath}, also /ingest, ${agUiPath}/<workflowId>, /healthz, /metrics, /schema`,
      });
    }
  }

  const http = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (!admitRequest(guard, metrics, req, res, path)) return;
    route(req, res, path).catch((error: unknown) => {
      log.error({ err: error, path }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });

  http.on('upgrade', (req, socket, head) => {
    if (!admitUpgrade(guard, req, socket)) return;
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== trpcPath) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (wss.clients.size > options.maxConnections) {
        // Completing the handshake first lets the client see why: a close code and reason, then its backoff.
        metrics.rejected.inc({ reason: 'too_many_connections' });
        ws.close(tryAgainLater, `connection limit ${options.maxConnections} reached (SWITCHBOARD_MAX_CONNECTIONS)`);
        return;
      }
      wss.emit('connection', ws, req);
    });
  });

  await new Promise<void>((resolve, reject) => {
    const onListenError = (error: NodeJS.ErrnoException) => {
      const where = `${options.host}:${options.port}`;
      const why =
        error.code === 'EADDRINUSE'
          ? 'the port is already in use (stop the other process or choose another --port / SWITCHBOARD_PORT)'
          : error.code === 'EADDRNOTAVAIL'
            ? 'that address is not on this machine (check --host / SWITCHBOARD_HOST)'
            : error.message;
      reject(new ListenError(`cannot listen on ${where}: ${why}`));
    };
    http.once('error', onListenError);
    http.listen(options.port, options.host, () => {
      http.off('error', onListenError);
      resolve();
    });
  }).catch(async (error: unknown) => {
    access.close();
    wsHandler.close();
    wss.close();
    await topology.close();
    throw error;
  });

  const retention = startRetention({
    store,
    maxAgeMs: options.retentionDays * 86_400_000,
    maxRows: options.retentionRows,
    intervalMs: options.retentionIntervalMs ?? 60_000,
    log,
  });
  const { port } = http.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  log.info(
    { host: options.host, port, db: topology.describeDb, auth: access.required ? 'tokens' : 'open (loopback only)' },
    'listening',
  );
  const unknownTypes = await unknownStoredTypes(store, catalogue);
  if (unknownTypes.length > 0) {
    log.warn({ types: unknownTypes }, 'stored events of types the catalogue does not define; replayed as stored');
  }
  if (!dashboard.built) log.warn({ dir: dashboard.dir }, 'dashboard not built: run npm run build:web');
  let closing: Promise<void> | undefined;

  const close = () => {
    closing ??= (async () => {
      await retention.stop();
      access.close();
      const stopped = new Promise<void>((resolve) => {
        http.close(() => {
          resolve();
        });
      });
      // Clients reconnect (to this address, once a server is back) and resume from their cursors.
      wsHandler.reconnectAll();
      wsHandler.close();
      sse.close();
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
      // Appends already queued commit before the database closes.
      await hub.drained();
      await topology.close();
      log.info('closed');
      log.flush();
    })();
    return closing;
  };

  return {
    url: `http://${host}:${port}`,
    port,
    close,
    reloadTokens: () => access.reloadTokens(),
    dropConnections: () => {
      for (const ws of wss.clients) ws.terminate();
    },
    [Symbol.asyncDispose]: close,
  };
}
