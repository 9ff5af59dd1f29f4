/**
 * Who a presented token is: a configured static token (replaceable at run time, when the tokens file is
 * reloaded) or a signed JWT. Static tokens are looked up first, so a static token that happens to look like a
 * JWT still works.
 */
import { createAuthenticator, type Authenticator, type Principal, type TokenEntry } from './auth.js';
import { JwtError, looksLikeJwt, type JwtVerifier } from './jwt.js';

export interface Authentication {
  /** Null when tokens are required and this one is missing, unknown, expired or badly signed. */
  principal: Principal | null;
  /** Why a JWT was refused, for the client's error message. */
  problem?: string;
  /** The token, when it was one of the static tokens (a reload may revoke it). */
  staticToken?: string;
}

export class Gate {
  private statics: Authenticator;

  constructor(
    tokens: readonly TokenEntry[],
    private readonly jwt: JwtVerifier | undefined,
  ) {
    this.statics = createAuthenticator(tokens);
  }

  /** False when neither tokens nor JWT keys are configured: every caller is an admin (loopback only). */
  get required(): boolean {
    return this.statics.required || this.jwt !== undefined;
  }

  /** The static tokens from now on; calls already authenticated keep their principal (see Sessions). */
  replaceTokens(tokens: readonly TokenEntry[]): void {
    this.statics = createAuthenticator(tokens);
  }

  /** The static token's principal now: null once it has been removed. */
  staticPrincipal(token: string): Principal | null {
    return this.statics.required ? this.statics.authenticate(token) : null;
  }

  async authenticate(token: string | undefined): Promise<Authentication> {
    if (!this.required) return { principal: this.statics.authenticate(token) };
    const fixed = token === undefined ? null : this.staticPrincipal(token);
    if (fixed !== null) return { principal: fixed, staticToken: token };
    if (token === undefined || this.jwt === undefined || !looksLikeJwt(token)) return { principal: null };
    try {
      return { principal: await this.jwt.verify(token) };
    } catch (error) {
      if (error instanceof JwtError) return { principal: null, problem: error.message };
      throw error;
    }
  }
}
