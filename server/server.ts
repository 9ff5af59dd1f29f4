/**
 * One Node HTTP server: tRPC over HTTP and over WebSocket at `/trpc`, and `/healthz`, all on one port.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { WebSocketServer } from 'ws';
import { createMemoryBus } from './bus/memory.js';
import type { EventBus } from './bus/types.js';
import type { Config } from './config.js';
import type { Context } from './context.js';
import { openDatabase } from './db.js';
import { createHub } from './hub.js';
import { handleIngest } from './ingest.js';
import { appRouter } from './routers/_app.js';
import { createSqliteStore } from './store/sqlite.js';
import type { EventStore } from './store/types.js';

export interface ServerOptions extends Config {
  /** Largest inbound WebSocket message; a larger frame closes the socket with 1009. */
  maxMessageBytes?: number;
  /** Server-side keepalive: ping every `pingMs`, drop a peer that has not answered within `pongWaitMs`. */
  keepAlive?: { pingMs: number; pongWaitMs: number };
  /** Replace the embedded store or bus (another process's, or a test's). */
  store?: EventStore;
  bus?: EventBus;
  /** Where server-side errors are reported; stderr by default. */
  onError?: (message: string) => void;
}

export interface RunningServer {
  /** `http://host:port`, with the port actually bound. */
  url: string;
  port: number;
  /** Stops accepting, tells WebSocket clients to reconnect, closes every connection and the store. */
  close(): Promise<void>;
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

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(text);
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const report = options.onError ?? ((message: string) => process.stderr.write(`${message}\n`));
  const store = options.store ?? createSqliteStore(openDatabase(options.db, options.durability));
  const bus = options.bus ?? createMemoryBus();
  const hub = createHub({ store, bus });
  const startedAt = Date.now();
  const createContext = (): Context => ({ hub });
  const onError = ({ error, path }: { error: { code: string; message: string; stack?: string }; path?: string }) => {
    // Client mistakes are answered to the client; only server faults belong in the log.
    if (error.code === 'INTERNAL_SERVER_ERROR')
      report(`error in ${path ?? 'request'}: ${error.stack ?? error.message}`);
  };

  const trpcHttp = createHTTPHandler({ router: appRouter, createContext, basePath: `${trpcPath}/`, onError });
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes ?? 1024 * 1024 });
  const wsHandler = applyWSSHandler({
    wss,
    router: appRouter,
    createContext,
    onError,
    keepAlive: { enabled: true, ...(options.keepAlive ?? { pingMs: 30_000, pongWaitMs: 10_000 }) },
  });

  async function health(res: ServerResponse) {
    sendJson(res, 200, {
      status: 'ok',
      uptime: Math.round((Date.now() - startedAt) / 1000),
      connections: wss.clients.size,
      subscriptions: hub.subscriptions,
      headEventId: String(await store.headId()),
    });
  }

  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      health(res).catch((error: unknown) => {
        report(`healthz failed: ${String(error)}`);
        sendJson(res, 503, { status: 'error' });
      });
    } else if (path === '/ingest') {
      handleIngest(req, res, hub).catch((error: unknown) => {
        report(`ingest failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error; the request stored nothing' });
      });
    } else if (path === trpcPath || path.startsWith(`${trpcPath}/`)) {
      trpcHttp(req, res);
    } else {
      sendJson(res, 404, {
        error: `no route ${path}; tRPC is served at ${trpcPath}, ingest at /ingest, health at /healthz`,
      });
    }
  });

  http.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== trpcPath) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
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
    wss.close();
    await store.close();
    throw error;
  });

  const { port } = http.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  let closing: Promise<void> | undefined;

  const close = () => {
    closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => {
        http.close(() => {
          resolve();
        });
      });
      // Clients reconnect (to this address, once a server is back) and resume from their cursors.
      wsHandler.broadcastReconnectNotification();
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
      await store.close();
    })();
    return closing;
  };

  return {
    url: `http://${host}:${port}`,
    port,
    close,
    dropConnections: () => {
      for (const ws of wss.clients) ws.terminate();
    },
    [Symbol.asyncDispose]: close,
  };
}
