/**
 * What both transports of the client share: the token a connection presents and the state it reports. Its own
 * module so that the client factory and the SSE links both import it, and neither imports the other.
 */

/** A token, or a function called on every connect (and every HTTP request) that returns a fresh one. */
export type TokenSource = string | (() => string | Promise<string>);

/** The token to send now. */
export async function readToken(token: TokenSource): Promise<string> {
  return typeof token === 'string' ? token : token();
}

export interface ConnectionState {
  state: 'connecting' | 'open' | 'closed';
  /** Why the last attempt failed or the socket closed, while reconnecting: "cannot reach …: connection refused". */
  reason?: string;
}

export interface Connection {
  /** The endpoint this client connects to: `ws(s)://host:port/trpc`, or `http(s)://…/trpc` over SSE. */
  readonly url: string;
  readonly current: ConnectionState;
  /** Calls `listener` with the current state now and on every change; returns the unsubscribe function. */
  subscribe(listener: (state: ConnectionState) => void): () => void;
}
