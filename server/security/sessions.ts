/**
 * The WebSocket connections that authenticated with a token, so that a token's end reaches its connections: a
 * JWT's `exp` closes them when it passes, and a token removed from the tokens file closes them on reload. Each
 * is closed with a 4000-range code and a reason; the typed client reconnects (asking for a fresh token when its
 * `token` option is a function) and resumes every subscription from its cursor.
 */
import type { WebSocket } from 'ws';
import type { Principal } from './auth.js';

/** The token's `exp` passed while connected. */
export const tokenExpiredCloseCode = 4001;
/** The token was removed (or its role or scopes changed) when the tokens file was reloaded. */
export const tokenRevokedCloseCode = 4003;

/** setTimeout's largest delay; a later expiry is re-armed when this one fires. */
const maxTimerMs = 2 ** 31 - 1;

interface Session {
  principal: Principal;
  token: string | undefined;
  timer: NodeJS.Timeout | undefined;
}

export class Sessions {
  private readonly open = new Map<WebSocket, Session>();

  /**
   * Follows `socket` until it closes: closes it at its principal's expiry. `staticToken` is the token when it
   * is one of the configured static tokens (undefined for a JWT), so that a reload can revoke it.
   */
  track(socket: WebSocket, principal: Principal | null, staticToken: string | undefined): void {
    // Authentication is asynchronous (JWT): the peer may have gone already, and a closed socket never closes again.
    if (principal === null || socket.readyState >= socket.CLOSING) return;
    const session: Session = { principal, token: staticToken, timer: undefined };
    this.open.set(socket, session);
    this.arm(socket, session);
    socket.once('close', () => {
      clearTimeout(session.timer);
      this.open.delete(socket);
    });
  }

  private arm(socket: WebSocket, session: Session): void {
    const { expiresAt } = session.principal;
    if (expiresAt === undefined) return;
    const left = expiresAt - Date.now();
    session.timer = setTimeout(
      () => {
        if (Date.now() < expiresAt) this.arm(socket, session);
        else socket.close(tokenExpiredCloseCode, 'token expired: reconnect with a fresh token');
      },
      Math.max(0, Math.min(left, maxTimerMs)),
    );
    // An expiry hours away must not keep the process alive on its own.
    session.timer.unref();
  }

  /**
   * Closes every connection whose static token `current` no longer knows, or knows with another role or other
   * scopes (its calls were authorised under the old ones). Returns how many were closed.
   */
  revoke(current: (token: string) => Principal | null): number {
    let closed = 0;
    for (const [socket, { principal, token }] of this.open) {
      if (token === undefined) continue;
      const now = current(token);
      if (
        now !== null &&
        now.role === principal.role &&
        JSON.stringify(now.scopes) === JSON.stringify(principal.scopes)
      )
        continue;
      socket.close(
        tokenRevokedCloseCode,
        now === null
          ? 'token revoked: it is no longer in the tokens file'
          : 'token changed: reconnect for its new role or scopes',
      );
      closed++;
    }
    return closed;
  }

  close(): void {
    for (const session of this.open.values()) clearTimeout(session.timer);
    this.open.clear();
  }
}
