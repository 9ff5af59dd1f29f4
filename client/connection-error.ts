/**
 * Why a connection failed, in words a user can act on. tRPC's WebSocket client reports every failed attempt as
 * "Initialization error" and a request cut by a closing socket as "Unknown error"; the real cause sits further
 * down the `cause` chain: `ws`'s ErrorEvent (with Node's system error), a CloseEvent, or a browser's bare Event.
 * Runs in browsers too: it only reads properties, and never needs Node's types.
 */

/** Node's system error codes a user meets when connecting, as plain words. */
const systemErrors: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is the server running, on this port?)',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/** Messages that name no cause: look further down the chain instead. */
const vague = new Set(['Initialization error', 'WebSocket closed', 'Unknown error', 'fetch failed', '']);

/** How deep the `cause` chain is followed: tRPC wraps at most three levels; the bound guards against cycles. */
const maxDepth = 8;

interface Found {
  code?: string;
  message?: string;
  closeCode?: number;
  closeReason?: string;
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

function search(error: unknown): Found {
  const found: Found = {};
  let current: unknown = error;
  for (let depth = 0; depth < maxDepth && current !== undefined && current !== null; depth++) {
    const code = field(current, 'code');
    if (typeof code === 'string' && found.code === undefined) found.code = code;
    // A CloseEvent carries a numeric close code; a TRPCClientError's `code` is absent, a system error's a string.
    if (typeof code === 'number' && field(current, 'type') === 'close') {
      found.closeCode = code;
      const reason = field(current, 'reason');
      if (typeof reason === 'string' && reason !== '') found.closeReason = reason;
    }
    const message = field(current, 'message');
    if (typeof message === 'string' && !vague.has(message) && found.message === undefined) found.message = message;
    // ws's ErrorEvent holds the system error in `error`; Errors hold theirs in `cause`.
    current = field(current, 'error') instanceof Error ? field(current, 'error') : field(current, 'cause');
  }
  return found;
}

/**
 * One line saying what went wrong with the connection to `url`: "cannot reach ws://127.0.0.1:8765/trpc:
 * connection refused (is the server running, on this port?)", "ws://…/trpc closed the connection (1001: server
 * shutting down)". `fallback` stands in when the error says nothing more than that the socket dropped.
 */
export function describeConnectionError(error: unknown, url: string, fallback?: string): string {
  const { code, message, closeCode, closeReason } = search(error);
  const known = code === undefined ? undefined : systemErrors[code];
  if (known) return `cannot reach ${url}: ${known}`;
  const upgrade = message === undefined ? null : /Unexpected server response: (\d+)/.exec(message);
  if (upgrade) return `cannot reach ${url}: it answered HTTP ${upgrade[1]} instead of opening a WebSocket`;
  if (closeCode !== undefined && closeCode !== 1006) {
    return `${url} closed the connection (${closeCode}${closeReason ? `: ${closeReason}` : ''})`;
  }
  if (message !== undefined) return `cannot reach ${url}: ${message}`;
  return fallback ?? (closeCode === 1006 ? `the connection to ${url} dropped` : `cannot reach ${url}`);
}
