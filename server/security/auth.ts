/**
 * Tokens and roles. `publisher` may write, `viewer` may subscribe and query, `admin` may do both and read the
 * operational endpoints. With no tokens configured every caller is an admin, which config.ts allows only on a
 * loopback address.
 *
 * Tokens are compared as SHA-256 digests with `timingSafeEqual`, against every configured token without an
 * early exit, so neither the position of a match nor a common prefix shows in the time taken. Tokens are never
 * logged; a principal carries only the role and the token's name.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Role, Scopes, TokenEntry } from '../ops/token-entries.js';

export { roles, tokenEntrySchema, type Role, type TokenEntry } from '../ops/token-entries.js';

export interface Principal {
  role: Role;
  name: string;
  scopes?: Scopes | undefined;
  /** When the token stops being valid (epoch ms): a JWT's `exp`. Static tokens never expire. */
  expiresAt?: number;
  /**
   * Whose idempotency keys this caller's are: a key is looked up, and unique, among its owner's keys only, so a
   * key never reveals or blocks another token's events. '' without tokens (one namespace, as before tokens).
   */
  keyOwner: string;
}

export interface Authenticator {
  /** False when no tokens are configured: every caller is an admin. */
  readonly required: boolean;
  /** The principal for a presented token; null when it is missing or matches none. */
  authenticate(token: string | undefined): Principal | null;
}

const digest = (token: string) => createHash('sha256').update(token).digest();

export function createAuthenticator(entries: readonly TokenEntry[]): Authenticator {
  const known = entries.map((e, i) => {
    const hash = digest(e.token);
    // A named token keeps its keys when its secret is rotated; an unnamed one is known by its digest, which
    // does not move when the tokens file is reordered (its default name does).
    const keyOwner = `token:${e.name ?? `#${hash.toString('hex').slice(0, 16)}`}`;
    return {
      digest: hash,
      principal: { role: e.role, name: e.name ?? `${e.role}-${i + 1}`, scopes: e.scopes, keyOwner },
    };
  });
  const open: Principal = { role: 'admin', name: 'anonymous (no tokens configured)', keyOwner: '' };
  return {
    required: known.length > 0,
    authenticate(token) {
      if (known.length === 0) return open;
      if (token === undefined || token === '') return null;
      const presented = digest(token);
      let match: Principal | null = null;
      for (const entry of known) {
        if (timingSafeEqual(entry.digest, presented)) match = entry.principal;
      }
      return match;
    },
  };
}

/** Which roles each kind of access needs. */
export const access = {
  write: ['publisher', 'admin'],
  read: ['viewer', 'admin'],
  operate: ['admin'],
} as const satisfies Record<string, readonly Role[]>;

export type Access = keyof typeof access;

export function allows(principal: Principal, need: Access): boolean {
  return (access[need] as readonly Role[]).includes(principal.role);
}

/**
 * The one role rule, asked by tRPC's `requires` middleware and by the plain HTTP endpoints alike: why
 * `principal`'s role may not have `need`, or undefined when it may.
 */
export function roleRefusal(principal: Principal, need: Access): string | undefined {
  if (allows(principal, need)) return undefined;
  return `token "${principal.name}" has role ${principal.role}; this needs ${access[need].join(' or ')}`;
}

/** `Authorization: Bearer <token>` → the token. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}
