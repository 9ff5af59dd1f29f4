/**
 * Access control as the server wires it: static tokens (reloadable from the tokens file), JWTs, and the
 * connections each token holds (WebSockets and event streams). `server.ts` creates one and asks it who a token is.
 */
import type { WebSocket } from 'ws';
import { isLoopback, readTokensFile, type Config } from '../ops/config.js';
import type { Logger } from '../ops/log.js';
import { Gate, type Authentication } from './gate.js';
import { createJwtVerifier } from './jwt.js';
import { Sessions, tokenExpiredCloseCode, tokenRevokedCloseCode, type Followed, type TokenEnd } from './sessions.js';
import { TokensFile, type ReloadResult } from './tokens-file.js';

export class AccessControl {
  private readonly sessions = new Sessions();
  private tokensFile: TokensFile | undefined;

  private constructor(private readonly gate: Gate) {}

  /** Loads the JWT keys and starts following the tokens file; throws when a key file is unusable. */
  static async create(options: Config, log: Logger): Promise<AccessControl> {
    const jwt = await createJwtVerifier(options);
    const access = new AccessControl(new Gate(options.tokens, jwt));
    const file = options.tokensFile;
    if (file !== undefined) {
      // Config.tokens holds the file's tokens as read at start; the rest came from SWITCHBOARD_TOKENS and stay.
      const fromFile = new Set(readTokensFile(file).map((t) => t.token));
      access.tokensFile = new TokensFile({
        file,
        fixed: options.tokens.filter((t) => !fromFile.has(t.token)),
        apply: (tokens) => {
          access.gate.replaceTokens(tokens);
          return access.sessions.revoke((token) => access.gate.staticPrincipal(token), access.gate.required);
        },
        mustKeepOne: jwt === undefined && !isLoopback(options.host),
        log,
      });
      access.tokensFile.watch();
    }
    return access;
  }

  /** False when no tokens or JWT keys are configured (every caller is an admin; loopback only). */
  get required(): boolean {
    return this.gate.required;
  }

  authenticate(token: string | undefined): Promise<Authentication> {
    return this.gate.authenticate(token);
  }

  /** For a WebSocket: also closes it when its token expires or is revoked. */
  async authenticateSocket(token: string | undefined, socket: WebSocket): Promise<Authentication> {
    const result = await this.gate.authenticate(token);
    this.follow(result, followedSocket(socket));
    return result;
  }

  /** Ends `connection` when the token it authenticated with expires, is revoked or changes (an event stream's). */
  follow(auth: Authentication, connection: Followed): void {
    this.sessions.track(connection, auth.principal, auth.staticToken, !this.gate.required);
  }

  /** Rereads the tokens file now (SIGHUP). */
  reloadTokens(): ReloadResult {
    return (
      this.tokensFile?.reload() ?? {
        ok: false,
        error: 'no tokens file to reload: set --tokens-file / SWITCHBOARD_TOKENS_FILE',
      }
    );
  }

  close(): void {
    this.tokensFile?.close();
    this.sessions.close();
  }
}

const closeCodes: Record<TokenEnd['kind'], number> = {
  expired: tokenExpiredCloseCode,
  revoked: tokenRevokedCloseCode,
};

/** A WebSocket as a followed connection: closed with the code for the token's end and its message. */
function followedSocket(socket: WebSocket): Followed {
  return {
    end({ kind, message }) {
      socket.close(closeCodes[kind], message);
    },
    onEnd(listener) {
      socket.once('close', listener);
    },
    get ended() {
      return socket.readyState >= socket.CLOSING;
    },
  };
}
