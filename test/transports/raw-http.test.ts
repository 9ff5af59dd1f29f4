/**
 * Raw HTTP and SSE, as a client that knows nothing of tRPC calls them: plain JSON in `?input=`, and refusals
 * before a stream starts answered with an HTTP status, as every plain HTTP endpoint answers them.
 */
import { describe, expect, it } from 'vitest';
import { workflowStarted } from '../fixtures.js';
import { connect, startTestServer, waitUntil } from '../harness.js';
import { readSse } from '../sse-reader.js';

const plain = (base: string, procedure: string, input: object) =>
  `${base}/trpc/${procedure}?input=${encodeURIComponent(JSON.stringify(input))}`;

describe('raw HTTP and SSE', () => {
  it('takes plain JSON as the input of a query and of a subscription', async () => {
    await using server = await startTestServer();
    await using publisher = connect(server.url);
    await publisher.publish.mutate(workflowStarted('wf-1'));

    const query = await fetch(plain(server.url, 'workflow', { workflowId: 'wf-1' }));
    expect(query.status).toBe(200);
    expect(await query.json()).toMatchObject({ result: { data: { json: { workflowId: 'wf-1' } } } });

    await using stream = readSse(plain(server.url, 'workflowEvents', { workflowId: 'wf-1', lastEventId: '0' }));
    await waitUntil('the workflow.started event', () => stream.data().length > 0);
    expect(JSON.parse(stream.data()[0]?.data ?? '')).toMatchObject({ json: { type: 'workflow.started' } });
  });

  it('answers a refused stream with 401, 403 or 400 before it starts, unless the caller speaks tRPC', async () => {
    const viewer = 'viewer-token-0123456789';
    const publisher = 'publisher-token-0123456789';
    await using server = await startTestServer({
      tokens: [
        { role: 'viewer', token: viewer },
        { role: 'publisher', token: publisher },
      ],
    });
    const url = plain(server.url, 'events', { lastEventId: '0' });
    const anonymous = await fetch(url);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    const wrongRole = await fetch(url, { headers: { authorization: `Bearer ${publisher}` } });
    expect(wrongRole.status).toBe(403);
    expect(await wrongRole.json()).toMatchObject({ code: 'FORBIDDEN' });
    const badInput = await fetch(plain(server.url, 'events', { limit: 'many' }), {
      headers: { authorization: `Bearer ${viewer}` },
    });
    expect(badInput.status).toBe(400);
    expect(await badInput.json()).toMatchObject({ code: 'BAD_REQUEST' });

    // tRPC's httpSubscriptionLink (which always sends connectionParams) still gets tRPC's error message.
    await using link = readSse(`${url}&connectionParams=${encodeURIComponent(JSON.stringify({ token: 'nope' }))}`);
    const refused = await link.waitFor('serialized-error');
    expect(JSON.parse(refused.data)).toMatchObject({ json: { data: { code: 'UNAUTHORIZED' } } });
  });
});
