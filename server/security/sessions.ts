/**
 * The connections that authenticated with a token, so that a token's end reaches every one of them: WebSockets
 * and event streams (SSE and AG-UI) alike. A JWT's `exp` ends them when it passes; a token removed from the
 * tokens file, or given another role or other scopes, ends them on reload. A WebSocket is closed with a
 * 4000-range code and a reason; an event stream gets a last error message naming the reason, then ends. The
 * typed client reconnects (asking for a fresh token when its `token` option is a function) and resumes every
 * subscription from its cursor; an EventSource reconnects with its `Last-Event-ID`.
 */
import type { Principal } from './auth.js';

/** The token's `exp` passed while connected. */
export const tokenExpiredCloseCode = 4001;
/** The token was removed (or its role or scopes changed) when the tokens file was reloaded. */
export const tokenRevokedCloseCode = 4003;

/** Why a token's connections end: its expiry passed, or a reload removed or changed it. */
export interface TokenEnd {
  kind: 'expired' | 'revoked';
  message: string;
}

/** A connection a token's end must reach. */
export interface Followed {
  /** Ends the connection, telling its peer why. */
  end(why: TokenEnd): void;
  /** Calls `listener` once when the connection ends, for whatever reason. */
  onEnd(listener: () => void): void;
  /** True once it has ended (or is ending): such a connection is not followed. */
  readonly ended: boolean;
}

/** setTimeout's largest delay; a later expiry is re-armed when this one fires. */
const maxTimerMs = 2 ** 31 - 1;

interface Session {
  principal: Principal;
  token: string | undefined;
  /** Authenticated while the server had no tokens at all: it ends once a reload brings some. */
  anonymous: boolean;
  timer: NodeJS.Timeout | undefined;
}

export class Sessions {
  private readonly open = new Map<Followed, Session>();

  /**
   * Follows `connection` until it ends: ends it at its principal's expiry. `staticToken` is the token when it
   * is one of the configured static tokens (undefined for a JWT), so that a reload can revoke it.
   */
  track(connection: Followed, principal: Principal | null, staticToken: string | undefined, anonymous = false): void {
    // Authentication is asynchronous (JWT): the peer may have gone already, and an ended connection never ends again.
    if (principal === null || connection.ended) return;
    const session: Session = { principal, token: staticToken, anonymous, timer: undefined };
    this.open.set(connection, session);
    this.arm(connection, session);
    connection.onEnd(() => {
      clearTimeout(session.timer);
      this.open.delete(connection);
    });
  }

  private arm(connection: Followed, session: Session): void {
    const { expiresAt } = session.principal;
    if (expiresAt === undefined) return;
    const left = expiresAt - Date.now();
    session.timer = setTimeout(
      () => {
        if (Date.now() < expiresAt) this.arm(connection, session);
        else connection.end({ kind: 'expired', message: 'token expired: reconnect with a fresh token' });
      },
      Math.max(0, Math.min(left, maxTimerMs)),
    );
    // An expiry hours away must not keep the process alive on its own.
    session.timer.unref();
  }

  /**
   * Ends every connection whose static token `current` no longer knows, or knows with another role, other
   * scopes or another name (its calls were authorised, and its keys owned, under the old ones), and, once
   * `tokensRequired`, every connection that came in without a token. Returns how many were ended.
   */
  revoke(current: (token: string) => Principal | null, tokensRequired: boolean): number {
    let ended = 0;
    for (const [connection, { principal, token, anonymous }] of this.open) {
      if (anonymous && tokensRequired) {
        // It came in as an admin because there were no tokens; now there are, and it holds none.
        connection.end({ kind: 'revoked', message: 'tokens are now required: reconnect with one' });
        ended++;
        continue;
      }
      if (token === undefined) continue;
      const now = current(token);
      if (
        now !== null &&
        now.role === principal.role &&
        now.keyOwner === principal.keyOwner &&
        JSON.stringify(now.scopes) === JSON.stringify(principal.scopes)
      )
        continue;
      connection.end({
        kind: 'revoked',
        message:
          now === null
            ? 'token revoked: it is no longer in the tokens file'
            : 'token changed: reconnect for its new role or scopes',
      });
      ended++;
    }
    return ended;
  }

  close(): void {
    for (const session of this.open.values()) clearTimeout(session.timer);
    this.open.clear();
  }
}
