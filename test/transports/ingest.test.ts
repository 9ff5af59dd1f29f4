/**
 * `POST /ingest` with plain JSON, as a shell hook or a script in another language sends it.
 */
import { describe, expect, it } from 'vitest';
import { agentStatus, systemNotification, workflowStarted } from '../fixtures.js';
import { limits } from '@switchboard/shared';
import { collect, connect, startTestServer, storedEvents } from '../harness.js';

async function post(url: string, body: string, contentType = 'application/json') {
  const res = await fetch(`${url}/ingest`, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: res.status, body: (await res.json()) as { ids?: string[]; error?: string; issues?: unknown[] } };
}

describe('POST /ingest', () => {
  it('stores one event, an array, or NDJSON through the same path subscribers read', async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);
    using sub = collect(client.events, {});
    await sub.started();

    expect(await post(server.url, JSON.stringify(agentStatus('hook-agent')))).toEqual({
      status: 200,
      body: { ids: ['1'] },
    });
    expect(await post(server.url, JSON.stringify([workflowStarted('wf-1'), systemNotification('x')]))).toEqual({
      status: 200,
      body: { ids: ['2', '3'] },
    });
    const ndjson = [agentStatus('a'), agentStatus('b')].map((e) => JSON.stringify(e)).join('\n') + '\n\n';
    expect(await post(server.url, ndjson, 'application/x-ndjson')).toEqual({ status: 200, body: { ids: ['4', '5'] } });
    // Plain JSON timestamps are ISO-8601 strings; they come back as dates.
    const at = '2026-01-01T00:00:00.000Z';
    expect((await post(server.url, JSON.stringify({ ...systemNotification('t'), timestamp: at }))).status).toBe(200);

    await sub.atLeast(6);
    expect(sub.items.map((i) => i.data.type)).toEqual([
      'agent.status',
      'workflow.started',
      'system.notification',
      'agent.status',
      'agent.status',
      'system.notification',
    ]);
    expect(sub.items[5]?.data.timestamp).toEqual(new Date(at));
  });

  it('rejects the whole request with issues per line, and bad bodies with a clear status', async () => {
    await using server = await startTestServer();
    await using client = connect(server.url);
    const lines = [JSON.stringify(agentStatus('ok')), JSON.stringify({ type: 'agent.status', data: { agentId: 'x' } })];
    const bad = await post(server.url, lines.join('\n'), 'application/x-ndjson');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('validation failed; nothing was stored');
    expect(bad.body.issues).toEqual(
      expect.arrayContaining([expect.objectContaining({ line: 2, path: 'data.agentType' })]),
    );
    const badArray = await post(server.url, JSON.stringify([agentStatus('ok'), { type: 'nope' }]));
    expect(badArray.body.issues).toEqual([expect.objectContaining({ index: 1, path: 'type' })]);

    const notJson = await post(server.url, '{"type":');
    expect(notJson.status).toBe(400);
    expect(notJson.body.error).toMatch(/^body is not JSON/);
    const badLine = await post(server.url, 'not json\n', 'application/x-ndjson');
    expect(badLine.status).toBe(400);
    expect(badLine.body.error).toMatch(/^line 1 is not JSON/);
    expect(await post(server.url, '[]')).toMatchObject({ status: 400, body: { error: 'no events in the body' } });
    const huge = await post(server.url, JSON.stringify({ blob: 'x'.repeat(1024 * 1024) }));
    expect(huge.status).toBe(413);
    expect(huge.body.error).toMatch(/limit is 1048576 bytes/);
    expect((await fetch(`${server.url}/ingest`)).status).toBe(405);

    expect((await client.history.query({})).events).toEqual([]);
  });

  it('refuses a timestamp without its offset, or too far ahead of the clock, showing the form and the limit', async () => {
    await using server = await startTestServer();
    const noOffset = await post(
      server.url,
      JSON.stringify({ ...systemNotification('t'), timestamp: '2026-12-04T10:00:00' }),
    );
    expect(noOffset.status).toBe(400);
    expect(noOffset.body.issues).toEqual([
      expect.objectContaining({
        path: 'timestamp',
        message: expect.stringContaining(
          'ISO 8601 date-time with its UTC offset, such as 2026-12-04T10:15:00Z',
        ) as string,
      }),
    ]);
    const ahead = new Date(Date.now() + limits.clockSkewMs + 3_600_000).toISOString();
    const future = await post(server.url, JSON.stringify({ ...systemNotification('t'), timestamp: ahead }));
    expect(future.status).toBe(400);
    expect(future.body.issues).toEqual([
      expect.objectContaining({
        path: 'timestamp',
        message: expect.stringMatching(
          /ahead of the server's clock; at most 5 min ahead is accepted \(limits\.clockSkewMs\)/,
        ) as string,
      }),
    ]);
    // Within the skew, and any time in the past, is stored as given.
    const soon = new Date(Date.now() + 60_000).toISOString();
    expect((await post(server.url, JSON.stringify({ ...systemNotification('t'), timestamp: soon }))).status).toBe(200);
    expect(
      (await post(server.url, JSON.stringify({ ...systemNotification('t'), timestamp: '1999-01-01T00:00:00+02:00' })))
        .body,
    ).toEqual({ ids: ['2'] });
    expect((await storedEvents(server.url)).map((e) => e.timestamp.toISOString())).toEqual([
      soon,
      '1998-12-31T22:00:00.000Z',
    ]);
  });
});
