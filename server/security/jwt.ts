/**
 * Signed JWTs as tokens, verified by `jose`: HS256 with a shared secret, RS256 or ES256 with a public key (PEM)
 * or a JWKS file. The algorithm is pinned by the key that verifies it: an HS256 token is never checked against a
 * public key (the classic confusion attack), and `alg: none` is never accepted because no key answers for it.
 *
 * Claims: `role` (publisher, viewer, admin), optional `scopes` ({ read, publish } topic patterns), `sub` as the
 * name shown in logs and errors, and `exp`, after which the token is refused and its connections are closed.
 */
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  createLocalJWKSet,
  errors,
  importSPKI,
  jwtVerify,
  type CryptoKey,
  type JWTHeaderParameters,
  type JWTVerifyGetKey,
} from 'jose';
import { z } from 'zod';
import { jwtConfigured } from '../ops/config.js';
import { roles, scopesSchema } from '../ops/token-entries.js';
import type { Principal } from './auth.js';

export interface JwtSettings {
  /** HS256 shared secret (from SWITCHBOARD_JWT_SECRET only: flags show in `ps`). */
  jwtSecret?: string | undefined;
  /** A PEM public key (RSA for RS256, P-256 EC for ES256). */
  jwtPublicKeyFile?: string | undefined;
  /** A JSON Web Key Set of public keys, chosen by `kid`. */
  jwtJwksFile?: string | undefined;
  /** When set, tokens must carry this `iss`. */
  jwtIssuer?: string | undefined;
  /** When set, tokens must carry this `aud`. */
  jwtAudience?: string | undefined;
}

const claimsSchema = z.object({
  role: z.enum(roles),
  scopes: scopesSchema.optional(),
  sub: z.string().min(1).max(64).optional(),
});

/** A JWT that cannot be used: the message says why, in one line, and never holds the token. */
export class JwtError extends Error {
  override name = 'JwtError';
}

export interface JwtVerifier {
  verify(token: string): Promise<Principal>;
}

/** Three base64url parts: what a compact JWS looks like. */
export const looksLikeJwt = (token: string) => /^[\w-]+\.[\w-]+\.[\w-]*$/.test(token);

async function publicKey(file: string): Promise<{ alg: 'RS256' | 'ES256'; key: CryptoKey }> {
  const pem = readFileSync(file, 'utf8');
  const type = createPublicKey(pem).asymmetricKeyType;
  if (type !== 'rsa' && type !== 'ec') {
    throw new JwtError(`SWITCHBOARD_JWT_PUBLIC_KEY_FILE ${file} holds a ${String(type)} key; use RSA or P-256 EC`);
  }
  const alg = type === 'rsa' ? 'RS256' : 'ES256';
  return { alg, key: await importSPKI(pem, alg) };
}

/** Loads the configured keys; undefined when none is configured. */
export async function createJwtVerifier(settings: JwtSettings): Promise<JwtVerifier | undefined> {
  if (!jwtConfigured(settings)) return undefined;
  const secret = settings.jwtSecret === undefined ? undefined : new TextEncoder().encode(settings.jwtSecret);
  const pem = settings.jwtPublicKeyFile === undefined ? undefined : await publicKey(settings.jwtPublicKeyFile);
  const jwks =
    settings.jwtJwksFile === undefined
      ? undefined
      : createLocalJWKSet(
          JSON.parse(readFileSync(settings.jwtJwksFile, 'utf8')) as Parameters<typeof createLocalJWKSet>[0],
        );
  const algorithms = [...(secret ? ['HS256'] : []), ...(pem ? [pem.alg] : []), ...(jwks ? ['RS256', 'ES256'] : [])];
  const getKey: JWTVerifyGetKey = async (header: JWTHeaderParameters, token) => {
    if (header.alg === 'HS256' && secret) return secret;
    if (pem?.alg === header.alg) return pem.key;
    if (jwks) return jwks(header, token);
    throw new JwtError(`no key for algorithm ${header.alg}`);
  };

  return {
    async verify(token) {
      let payload;
      try {
        ({ payload } = await jwtVerify(token, getKey, {
          algorithms: [...new Set(algorithms)],
          issuer: settings.jwtIssuer,
          audience: settings.jwtAudience,
        }));
      } catch (error) {
        throw new JwtError(`JWT refused: ${describe(error, algorithms)}`);
      }
      const claims = claimsSchema.safeParse(payload);
      if (!claims.success) {
        const issue = claims.error.issues[0];
        throw new JwtError(`JWT refused: claim ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
      }
      const { role, scopes, sub } = claims.data;
      return {
        role,
        scopes,
        name: `jwt:${sub ?? 'anonymous'}`,
        // Every JWT without a subject shares one namespace of keys: give publishers a `sub` each.
        keyOwner: `jwt:${sub ?? ''}`,
        ...(payload.exp !== undefined && { expiresAt: payload.exp * 1000 }),
      };
    },
  };
}

function describe(error: unknown, algorithms: readonly string[]): string {
  if (error instanceof errors.JWTExpired) return 'it has expired (exp); get a fresh one';
  if (error instanceof errors.JOSEAlgNotAllowed)
    return `its algorithm is not accepted (accepted: ${algorithms.join(', ')})`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the signature does not verify';
  if (error instanceof errors.JWTClaimValidationFailed) return `claim ${error.claim}: ${error.message}`;
  if (error instanceof errors.JWKSNoMatchingKey) return 'no key in the JWKS file matches its kid and algorithm';
  if (error instanceof JwtError) return error.message;
  return 'it is not a well-formed signed JWT';
}
