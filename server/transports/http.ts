/**
 * Every HTTP request the server answers, on the one port: tRPC over HTTP and its SSE subscriptions at `/trpc`,
 * AG-UI, `POST /ingest` (and its Claude Code hook form), OTLP/HTTP at `/v1/{logs,traces,metrics}`, `/healthz`,
 * `/metrics`, `/schema` and the dashboard at `/`.
 * The WebSocket upgrade is `server.ts`'s; both answer through the same context factory and role rule.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { TRPCError } from '@trpc/server';
import type { AnyCatalogue, Health, HealthSummary } from '@switchboard/shared';
import type { ContextFactory } from '../context.js';
import type { Hub } from '../core/hub.js';
import type { Config } from '../ops/config.js';
import type { Logger } from '../ops/log.js';
import type { Metrics } from '../ops/metrics.js';
import type { Topology } from '../topology.js';
import type { ServedRouter } from '../routers/_app.js';
import type { AccessControl } from '../security/access.js';
import { PublishRateError } from '../security/limits.js';
import { bearerToken, type Access, type Principal } from '../security/auth.js';
import { admitCaller, admitRequest } from './guard.js';
import type { OriginGuard } from '../security/origin.js';
import { agUiPath, serveAgUi } from './ag-ui.js';
import { BodyTooLargeError, readBody } from './body.js';
import { handleClaudeCodeHook } from './claude-code.js';
import type { Dashboard } from './dashboard.js';
import { handleIngest, ingestCallerOf } from './ingest.js';
import { sendJson } from './json-response.js';
import { handleOtlp, otlpSignalAt, sendOtlpError } from './otlp/route.js';
import { schemaResponder } from './schema.js';
import { SseTransport } from './sse.js';

/** tRPC over HTTP, SSE and WebSocket are all served here. */
export const trpcPath = '/trpc';

/** What a tRPC adapter reports about a failed call. */
export type ErrorHandler = (info: { error: TRPCError; path: string | undefined }) => void;

export interface HttpOptions {
  router: ServedRouter;
  catalogue: AnyCatalogue;
  hub: Hub;
  access: AccessControl;
  contexts: ContextFactory;
  guard: OriginGuard;
  dashboard: Dashboard;
  topology: Pick<Topology, 'health'>;
  /** Open WebSocket connections, for /healthz. */
  connections: () => number;
  config: Pick<Config, 'ssePingMs' | 'sseStallMs' | 'sseRetryMs'>;
  metrics: Metrics;
  log: Logger;
  onError: ErrorHandler;
}

/**
 * Reads a tRPC call's body under the HTTP body limit before tRPC sees it. tRPC reads bodies without a limit unless
 * given `maxBodySize`, and then answers PAYLOAD_TOO_LARGE without saying which limit or what to do instead.
 */
function limitBody(req: IncomingMessage & { body?: unknown }, _res: ServerResponse, next: (error?: unknown) => void) {
  if (req.method !== 'POST') {
    next();
    return;
  }
  readBody(req, 'send publishBatch in smaller batches').then(
    (text) => {
      // tRPC takes a string `body` as the request's body instead of reading the stream again.
      req.body = text;
      next();
    },
    (error: unknown) => {
      next(
        error instanceof BodyTooLargeError
          ? new TRPCError({ code: 'PAYLOAD_TOO_LARGE', message: error.message })
          : error,
      );
    },
  );
}

export class HttpTransport {
  private readonly startedAt = Date.now();
  private readonly trpcHttp: ReturnType<typeof createHTTPHandler>;
  private readonly sse: SseTransport;
  private readonly serveSchema: (res: ServerResponse) => void;

  constructor(private readonly options: HttpOptions) {
    const { router, access, contexts, onError, config, metrics } = options;
    this.trpcHttp = createHTTPHandler({
      router,
      basePath: `${trpcPath}/`,
      onError,
      middleware: limitBody,
      // A refusal past the publish rate says its wait as every HTTP route does (its data says it too).
      responseMeta: ({ errors }) => {
        const waits = errors.flatMap((e) =>
          e instanceof PublishRateError && e.retryAfterSeconds !== undefined ? [e.retryAfterSeconds] : [],
        );
        return waits.length === 0 ? {} : { headers: { 'retry-after': String(Math.max(...waits)) } };
      },
      createContext: async ({ req }) =>
        contexts.forRequest(await access.authenticate(bearerToken(req.headers.authorization)), req),
    });
    this.sse = new SseTransport({
      router,
      basePath: trpcPath,
      authenticate: (token) => access.authenticate(token),
      createContext: (req, auth) => contexts.forRequest(auth, req),
      follow: (auth, connection) => {
        access.follow(auth, connection);
      },
      onError,
      metrics,
      pingMs: config.ssePingMs,
      stallMs: config.sseStallMs,
      retryMs: config.sseRetryMs,
    });
    this.serveSchema = schemaResponder(options.catalogue);
  }

  /** The `request` listener: admits the request (Origin/Host), routes it, and answers 500 for a fault. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const { guard, metrics, log } = this.options;
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (!admitRequest(guard, metrics, req, res, path)) return;
    this.route(req, res, path).catch((error: unknown) => {
      log.error({ err: error, path }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  };

  /** Ends every SSE stream (shutdown). */
  close(): void {
    this.sse.close();
  }

  private async route(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const { hub, catalogue, metrics, contexts, dashboard, config } = this.options;
    const otlp = otlpSignalAt(path);
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      await this.serveHealth(req, res);
    } else if (path === '/schema' && (req.method === 'GET' || req.method === 'HEAD')) {
      // Open to all, like the contract in docs/: it describes event shapes, never events.
      this.serveSchema(res);
    } else if (path === '/metrics') {
      if (!(await this.permitted(req, res, 'operate'))) return;
      const text = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
      res.end(text);
    } else if (path === '/ingest/claude-code') {
      const principal = await this.permitted(req, res, 'write');
      if (!principal) return;
      await handleClaudeCodeHook(
        req,
        res,
        hub,
        contexts.limitsFor(req, principal),
        ingestCallerOf(principal, catalogue),
      );
    } else if (path === '/ingest') {
      const principal = await this.permitted(req, res, 'write');
      if (!principal) return;
      await handleIngest(
        req,
        res,
        hub,
        contexts.limitsFor(req, principal),
        catalogue,
        ingestCallerOf(principal, catalogue),
      );
    } else if (otlp !== undefined) {
      const principal = await this.permitted(req, res, 'write', (status, message) => {
        req.resume();
        sendOtlpError(req, res, status, message);
      });
      if (!principal) return;
      const limits = contexts.limitsFor(req, principal);
      const outcome = await handleOtlp(req, res, otlp, {
        hub,
        limits,
        catalogue,
        caller: ingestCallerOf(principal, catalogue),
      });
      if (outcome) {
        metrics.otlpRecords.inc({ signal: otlp, outcome: 'accepted' }, outcome.accepted);
        metrics.otlpRecords.inc({ signal: otlp, outcome: 'rejected' }, outcome.rejected);
      }
    } else if (req.method === 'GET' && this.sse.procedureAt(path) !== undefined) {
      await this.sse.serve(req, res, path.slice(trpcPath.length + 1));
    } else if (req.method === 'GET' && path.startsWith(`${agUiPath}/`)) {
      await serveAgUi(this.sse, config.sseRetryMs, req, res, path.slice(agUiPath.length + 1));
    } else if (path === trpcPath || path.startsWith(`${trpcPath}/`)) {
      this.trpcHttp(req, res);
    } else if (!dashboard.serve(req, res, path)) {
      sendJson(res, 404, {
        error: `no route ${path}; the dashboard is at /, tRPC at ${trpcPath}, also /ingest, /v1/{logs,traces,metrics}, ${agUiPath}/<workflowId>, /healthz, /metrics, /schema`,
      });
    }
  }

  private async serveHealth(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { hub, topology, connections, access } = this.options;
    // Open to all: a liveness probe needs no token. A node whose store or bus is down still serves (reads
    // what it can): it says "degraded", still 200.
    const head = await hub.headId().catch(() => undefined);
    const engines = topology.health();
    const degraded = head === undefined || engines.store.state === 'down' || engines.bus.state === 'down';
    const status = degraded ? 'degraded' : 'ok';
    // With tokens, the rest (the newest id says how much is published; counts say who is connected) is for a
    // caller with a valid token only.
    if (access.required && (await access.authenticate(bearerToken(req.headers.authorization))).principal === null) {
      const summary: HealthSummary = { status };
      sendJson(res, 200, summary);
      return;
    }
    const body: Health = {
      status,
      uptime: Math.round((Date.now() - this.startedAt) / 1000),
      connections: connections(),
      subscriptions: hub.subscriptions,
      headEventId: head === undefined ? null : String(head),
      epoch: hub.epoch,
      ...engines,
    };
    sendJson(res, 200, body);
  }

  /**
   * For the plain endpoints: answers 401/403 itself (tRPC's `requires` rule) and returns null when refused.
   * `refuse` writes the refusal in the route's own form (JSON `{ error }` unless given).
   */
  private async permitted(
    req: IncomingMessage,
    res: ServerResponse,
    need: Access,
    refuse: (status: number, message: string) => void = (status, error) => {
      sendJson(res, status, { error });
    },
  ): Promise<Principal | null> {
    const { access, metrics } = this.options;
    const admitted = await admitCaller(access, metrics, req.headers.authorization, need);
    if (admitted.principal === null) refuse(admitted.status, admitted.message);
    return admitted.principal;
  }
}
