/**
 * The browser-origin defence. Loopback is not a boundary for browsers: any page the developer opens can send
 * requests to 127.0.0.1, and a DNS-rebinding page can even read the answers. So, before anything else runs:
 *
 * - Host: while the server is bound to a loopback address, a request must name the server as `localhost`,
 *   `127.0.0.1`, `[::1]` (any port), the bound host, or a name in SWITCHBOARD_ALLOWED_HOSTS. A rebinding page
 *   sends its own name, which is refused.
 * - Origin: a WebSocket upgrade or a state-changing request that carries `Origin` must come from the server's
 *   own origin (the dashboard) or from SWITCHBOARD_ALLOWED_ORIGINS. No Origin means no browser (CLI, SDKs,
 *   curl, other servers) and is not checked: browsers always send Origin on these requests.
 * - CORS answers only for the allowlisted origins; every other page gets no CORS header at all.
 *
 * Every refusal is counted in `switchboard_rejected_requests_total` and logged at warn, once per origin or host,
 * so a page retrying in a loop cannot flood the log.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../ops/log.js';
import type { Metrics } from '../ops/metrics.js';
import { hostName, normaliseOrigin } from '../ops/origin-names.js';

export interface OriginPolicy {
  /** The address the server is bound to: the Host check applies only when it is a loopback address. */
  host: string;
  loopback: boolean;
  /** Normalised origins (`scheme://host[:port]`) that may call from a browser. */
  allowedOrigins: readonly string[];
  /** Extra host names (no port) accepted in `Host` while bound to loopback. */
  allowedHosts: readonly string[];
}

/** A refusal: the HTTP status, a one-line reason and the metric label. */
export interface Refusal {
  status: 403;
  reason: 'origin' | 'host';
  message: string;
  /** What to log it under: the origin or host that was refused. */
  key: string;
}

const loopbackNames = ['localhost', '127.0.0.1', '[::1]'];
/** Methods that cannot change state; their answers are unreadable cross-origin without CORS. */
const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Bound on the remembered refused origins, so that a hostile page cannot grow it without limit. */
const maxRemembered = 1_000;

export class OriginGuard {
  private readonly hosts: Set<string>;
  private readonly origins: Set<string>;
  private readonly logged = new Set<string>();

  constructor(
    private readonly policy: OriginPolicy,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    const bound = policy.host.includes(':') && !policy.host.startsWith('[') ? `[${policy.host}]` : policy.host;
    this.hosts = new Set([...loopbackNames, bound.toLowerCase(), ...policy.allowedHosts.map(hostName)]);
    this.origins = new Set(policy.allowedOrigins);
  }

  /** The refusal for a request or upgrade, or undefined when it may go on. */
  check(req: IncomingMessage, upgrade: boolean): Refusal | undefined {
    const host = req.headers.host;
    // HTTP/1.0 clients may omit Host; browsers never do, so a missing Host is not a rebinding page.
    if (this.policy.loopback && host !== undefined && !this.hosts.has(hostName(host))) {
      return this.refuse({
        status: 403,
        reason: 'host',
        key: `host ${host}`,
        message:
          `Host "${host}" is not this server: while bound to loopback only localhost, 127.0.0.1 and [::1] ` +
          'are accepted (add other names to SWITCHBOARD_ALLOWED_HOSTS / --allowed-hosts)',
      });
    }
    const origin = req.headers.origin;
    if (origin === undefined || (!upgrade && safeMethods.has(req.method ?? 'GET'))) return undefined;
    if (this.allowed(origin, host)) return undefined;
    return this.refuse({
      status: 403,
      reason: 'origin',
      key: `origin ${origin}`,
      message:
        `Origin "${origin}" may not use this server from a browser: allow it with ` +
        'SWITCHBOARD_ALLOWED_ORIGINS / --allowed-origins',
    });
  }

  /** True when `origin` is the server's own (the page came from this Host) or allowlisted. */
  private allowed(origin: string, host: string | undefined): boolean {
    const normal = normaliseOrigin(origin);
    if (normal === undefined) return false;
    if (this.origins.has(normal)) return true;
    if (host === undefined) return false;
    try {
      return new URL(normal).host === new URL(`http://${host}`).host;
    } catch {
      // The Host header is the peer's text: one that is no valid authority (`localhost:abc`) is no origin of ours.
      return false;
    }
  }

  /** CORS for an allowlisted origin: headers on every answer, and the whole answer to a preflight. */
  cors(req: IncomingMessage, res: ServerResponse): 'answered' | 'continue' {
    const origin = req.headers.origin;
    const normal = origin === undefined ? undefined : normaliseOrigin(origin);
    const listed = normal !== undefined && this.origins.has(normal);
    if (listed) {
      res.setHeader('access-control-allow-origin', normal);
    }
    res.setHeader('vary', 'Origin');
    if (req.method !== 'OPTIONS' || req.headers['access-control-request-method'] === undefined) return 'continue';
    if (listed) {
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers': 'authorization, content-type, trpc-accept, x-trpc-source',
        'access-control-max-age': '600',
      });
    } else {
      // No CORS headers: the browser refuses the real request without sending it.
      res.writeHead(204);
    }
    res.end();
    return 'answered';
  }

  private refuse(refusal: Refusal): Refusal {
    this.metrics.rejected.inc({ reason: refusal.reason });
    if (!this.logged.has(refusal.key)) {
      if (this.logged.size >= maxRemembered) this.logged.clear();
      this.logged.add(refusal.key);
      this.log.warn({ refused: refusal.key }, refusal.message);
    }
    return refusal;
  }
}
