import superjson from 'superjson';

/**
 * The wire transformer of every tRPC call, on both ends: superjson keeps `Date` timestamps as dates.
 * Non-TypeScript clients speak it as documented in docs/protocol.md.
 */
export const transformer = superjson;
