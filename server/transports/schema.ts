/**
 * `GET /schema`: the active catalogue as JSON Schema (zod's own `z.toJSONSchema`), for producers and clients in
 * other languages: the publish input of every type, the stored envelope, and the subscription and history
 * inputs. docs/schema.json is this document for the built-in catalogue (`npm run schema` writes it).
 */
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import {
  agentStatusInput,
  limits,
  producerFields,
  tddPhaseInput,
  workflowEventsInput,
  type AnyCatalogue,
} from '@switchboard/shared';

// Plain JSON carries dates as ISO-8601 strings; the input side is what a producer writes.
const toJson = (schema: z.ZodType) => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  return rest;
};

export function catalogueSchema(catalogue: AnyCatalogue) {
  const envelope = z.strictObject({
    id: z.string().describe('server-assigned, strictly increasing decimal id: the resume cursor'),
    type: catalogue.typeSchema,
    topic: z.string().describe('derived by the server from the event (see each type\'s "x-topic")'),
    timestamp: z.iso.datetime({ offset: true }),
    key: producerFields.key,
    source: producerFields.source,
    correlationId: producerFields.correlationId,
    data: z.record(z.string(), z.unknown()).describe('the data of the publish input of its type'),
  });
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'Switchboard event catalogue',
    description: `Publish through the tRPC publish/publishBatch mutations or POST /ingest; data is at most ${limits.dataBytes} bytes of JSON per event.`,
    publish: Object.fromEntries(
      [...catalogue.definitions].map(([type, d]) => [
        type,
        {
          ...toJson(z.strictObject({ type: z.literal(type), data: d.data, ...producerFields })),
          'x-family': d.family,
          'x-builtin': d.builtin,
          ...(typeof d.topic === 'string' && { 'x-topic': d.topic }),
          ...(typeof d.summary === 'string' && { 'x-summary': d.summary }),
        },
      ]),
    ),
    envelope: toJson(envelope),
    subscriptions: {
      agentStatus: toJson(agentStatusInput),
      workflowEvents: toJson(workflowEventsInput),
      tddPhase: toJson(tddPhaseInput),
      events: toJson(catalogue.eventsInput),
      history: toJson(catalogue.historyInput),
    },
  };
}

/** The document is built once per server: the catalogue does not change while it runs. */
export function schemaResponder(catalogue: AnyCatalogue): (res: ServerResponse) => void {
  const body = JSON.stringify(catalogueSchema(catalogue), null, 2);
  return (res) => {
    res.writeHead(200, { 'content-type': 'application/schema+json', 'cache-control': 'no-cache' });
    res.end(body);
  };
}
