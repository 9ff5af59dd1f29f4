import type { IncomingMessage } from 'node:http';
import type { Principal } from './security/auth.js';
import type { Authentication } from './security/gate.js';
import type { Hub } from './core/hub.js';
import {
  ConnectionLimits,
  PublishRates,
  publisherOf,
  type LimitedSocket,
  type LimitSettings,
} from './security/limits.js';
import type { Logger } from './ops/log.js';
import type { Metrics } from './ops/metrics.js';

/** What every procedure sees. Created once per WebSocket connection or HTTP request. */
export interface Context {
  hub: Hub;
  /** Who is calling; null when tokens are required and none (or an unknown one) was presented. */
  principal: Principal | null;
  /** Why the presented token was refused, when that is known (an expired or badly signed JWT). */
  authProblem?: string | undefined;
  limits: ConnectionLimits;
  metrics: Metrics;
  log: Logger;
}

export interface ContextFactoryOptions {
  hub: Hub;
  limits: LimitSettings;
  metrics: Metrics;
  log: Logger;
}

/** The one way a `Context` is made: tRPC over HTTP, WebSocket, SSE, the plain endpoints and tests. */
export interface ContextFactory {
  /** An HTTP request's context; its limits are the ones its remote address shares (`limitsFor`). */
  forRequest(auth: Authentication, req: IncomingMessage): Context;
  /** A WebSocket connection's context, with limits of its own that may close the socket. */
  forSocket(auth: Authentication, socket: LimitedSocket, req: IncomingMessage): Context;
  /** A caller with no connection at all (`createCaller`): limits of its own, nothing to close. */
  forCaller(auth: Authentication): Context;
  /**
   * HTTP callers have no connection to hang limits on; they share one set per remote address and publisher.
   * The publish rate is the publisher's (`PublishRates`), whichever way it comes in.
   */
  limitsFor(req: RemotePeer, principal: Principal | null): ConnectionLimits;
}

/** Where a request came from: an HTTP request, or an HTTP/2 stream's connection (OTLP/gRPC). */
export interface RemotePeer {
  socket?: { remoteAddress?: string | undefined } | undefined;
}

/** Remote addresses whose HTTP limits are kept at most; past it the map starts over rather than grow. */
const maxHttpAddresses = 10_000;

export function createContextFactory({ hub, limits, metrics, log }: ContextFactoryOptions): ContextFactory {
  const httpLimits = new Map<string, ConnectionLimits>();
  const rates = new PublishRates(limits);
  const bucketOf = (principal: Principal | null, address: string | undefined) =>
    rates.bucketOf(publisherOf(principal?.keyOwner, address));
  const build = ({ principal, problem }: Authentication, connectionLimits: ConnectionLimits): Context => ({
    hub,
    principal,
    authProblem: problem,
    limits: connectionLimits,
    metrics,
    log,
  });
  const limitsFor = (req: RemotePeer, principal: Principal | null): ConnectionLimits => {
    const address = req.socket?.remoteAddress ?? 'unknown';
    const key = `${address} ${principal?.keyOwner ?? ''}`;
    let shared = httpLimits.get(key);
    if (!shared) {
      if (httpLimits.size >= maxHttpAddresses) httpLimits.clear();
      shared = new ConnectionLimits(limits, metrics, null, bucketOf(principal, address));
      httpLimits.set(key, shared);
    }
    return shared;
  };
  return {
    forRequest: (auth, req) => build(auth, limitsFor(req, auth.principal)),
    forSocket: (auth, socket, req) =>
      build(auth, new ConnectionLimits(limits, metrics, socket, bucketOf(auth.principal, req.socket.remoteAddress))),
    forCaller: (auth) => build(auth, new ConnectionLimits(limits, metrics, null, bucketOf(auth.principal, 'caller'))),
    limitsFor,
  };
}
