/**
 * `GET /schema`: the active catalogue as JSON Schema; docs/schema.json is the built-in one and must be current.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import catalogue from '../../examples/custom-events.js';
import { builtinCatalogue } from '@switchboard/shared';
import { catalogueSchema } from '../../server/transports/schema.js';
import { startTestServer } from '../harness.js';

interface Document {
  publish: Record<string, { properties: { data: { required?: string[] } }; 'x-topic'?: string; 'x-summary'?: string }>;
  envelope: { properties: Record<string, unknown> };
  subscriptions: Record<string, { properties: { types?: { items: { enum: string[] } } } }>;
}

describe('GET /schema', () => {
  it('serves the publish input of every type, the envelope and the subscription inputs of the catalogue', async () => {
    await using server = await startTestServer({ catalogue });
    const res = await fetch(`${server.url}/schema`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/schema+json');
    const doc = (await res.json()) as Document;
    expect(Object.keys(doc.publish)).toEqual(catalogue.types);
    expect(doc.publish['pool.scaled']).toMatchObject({
      'x-topic': 'pool:{poolId}',
      'x-summary': '{poolId} scaled {from} → {to} workers',
      properties: { data: { required: ['poolId', 'from', 'to'] } },
    });
    expect(doc.publish['agent.status']?.properties.data.required).toEqual(['agentId', 'agentType', 'status']);
    expect(Object.keys(doc.envelope.properties)).toEqual([
      'id',
      'type',
      'topic',
      'timestamp',
      'key',
      'source',
      'correlationId',
      'data',
    ]);
    expect(Object.keys(doc.subscriptions)).toEqual(['agentStatus', 'workflowEvents', 'tddPhase', 'events', 'history']);
    expect(doc.subscriptions.events?.properties.types?.items.enum).toContain('deploy.finished');
  });

  it('docs/schema.json is the built-in catalogue as served (npm run schema writes it)', () => {
    const written = JSON.parse(readFileSync('docs/schema.json', 'utf8')) as unknown;
    expect(written, 'docs/schema.json is stale: run npm run schema').toEqual(catalogueSchema(builtinCatalogue));
  });
});
