/**
 * The HTTP upgrade to WebSocket: the Origin/Host guard, the one path (`/trpc`), and the connection limit.
 */
import type { Server } from 'node:http';
import type { WebSocketServer } from 'ws';
import type { Metrics } from '../../ops/metrics.js';
import { admitUpgrade } from '../guard.js';
import type { OriginGuard } from '../../security/origin.js';

/** Close code for a connection refused because the server holds its maximum (RFC 6455 "try again later"). */
const tryAgainLater = 1013;

export interface UpgradeOptions {
  wss: WebSocketServer;
  guard: OriginGuard;
  metrics: Metrics;
  /** The only path a WebSocket may open. */
  path: string;
  maxConnections: number;
}

/** Hands `http`'s upgrades on `path` to `wss` once the guard admits them; others are answered and closed. */
export function acceptUpgrades(http: Server, { wss, guard, metrics, path, maxConnections }: UpgradeOptions): void {
  http.on('upgrade', (req, socket, head) => {
    if (!admitUpgrade(guard, req, socket)) return;
    if ((req.url ?? '/').split('?', 1)[0] !== path) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (wss.clients.size > maxConnections) {
        // Completing the handshake first lets the client see why: a close code and reason, then its backoff.
        metrics.rejected.inc({ reason: 'too_many_connections' });
        ws.close(tryAgainLater, `connection limit ${maxConnections} reached (SWITCHBOARD_MAX_CONNECTIONS)`);
        return;
      }
      wss.emit('connection', ws, req);
    });
  });
}
