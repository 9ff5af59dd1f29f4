/**
 * How a Host header and an Origin are compared: their normal forms. Pure, and under ops/ beside the one reader
 * of configuration, which checks SWITCHBOARD_ALLOWED_ORIGINS and _HOSTS with them; the guard that applies them
 * to requests (server/security/origin.ts) imports them from here, so imports point one way.
 */

/** `Host: name:port` or `[v6]:port` → the name (lowercase, IPv6 keeps its brackets). */
export function hostName(header: string): string {
  const host = header.trim().toLowerCase();
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** `https://Example.com:443/` → `https://example.com`; undefined when it is not an http(s) origin. */
export function normaliseOrigin(value: string): string | undefined {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    return url.origin;
  } catch {
    // Not a URL at all (e.g. `null` from a sandboxed frame): it matches no allowed origin.
    return undefined;
  }
}
