/**
 * The server's caching output transformer produces exactly superjson's wire format, and computes an
 * envelope's serialized form once however many subscribers receive it.
 */
import superjson from 'superjson';
import { describe, expect, it, vi } from 'vitest';
import { serializeOnce, serverTransformer } from '../server/transformer.js';
import type { EventEnvelope } from '../shared/index.js';

const envelope = (): EventEnvelope => ({
  id: '7',
  type: 'agent.status',
  topic: 'agent:a.b',
  timestamp: new Date('2026-01-01T00:00:00Z'),
  data: { agentId: 'a.b', agentType: 'coder', status: 'busy', metrics: { cpu: 1 } },
});

describe('server output transformer', () => {
  it('matches superjson for tracked envelopes and anything else', () => {
    const shared = serializeOnce(envelope());
    const tracked = { id: '7', data: shared };
    expect(serverTransformer.output.serialize(tracked)).toEqual(superjson.serialize({ id: '7', data: envelope() }));
    const other = { id: 1, data: { when: new Date(0) } };
    expect(serverTransformer.output.serialize(other)).toEqual(superjson.serialize(other));
    const roundTrip: unknown = superjson.deserialize(serverTransformer.output.serialize(tracked) as never);
    expect(roundTrip).toEqual({ id: '7', data: envelope() });
  });

  it('serializes a registered envelope once for all subscribers', () => {
    const spy = vi.spyOn(superjson, 'serialize');
    const shared = serializeOnce(envelope());
    for (let i = 0; i < 100; i++) serverTransformer.output.serialize({ id: '7', data: shared });
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
  });
});
