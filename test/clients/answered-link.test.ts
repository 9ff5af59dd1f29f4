/**
 * The client's answered link (client/answered-link.ts): a call's completion after its answer stops there, so
 * tRPC's promise does not abort a controller per call; answers, refusals and a completion without an answer
 * still reach the caller. Against the real server over a real WebSocket, and one link that completes without
 * answering (a fault made on purpose).
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTRPCClient, createWSClient, TRPCClientError, wsLink, type TRPCLink } from '@trpc/client';
import { observable } from '@trpc/server/observable';
import { transformer } from '@switchboard/shared';
import { answeredLink } from '../../client/answered-link.js';
import type { AppRouter } from '../../client/index.js';
import { agentStatus } from '../fixtures.js';
import { startTestServer } from '../harness.js';

/** What reaches the link above the answered link, call by call: 'next', 'error', 'complete'. */
function recorder(seen: string[]): TRPCLink<AppRouter> {
  return () =>
    ({ op, next }) =>
      observable((observer) => {
        const call = next(op).subscribe({
          next(value) {
            seen.push('next');
            observer.next(value);
          },
          error(error) {
            seen.push('error');
            observer.error(error);
          },
          complete() {
            seen.push('complete');
            observer.complete();
          },
        });
        return () => {
          call.unsubscribe();
        };
      });
}

describe('the answered link', () => {
  it('passes answers and refusals on and keeps back only the completion after an answer', async () => {
    await using server = await startTestServer();
    const wsClient = createWSClient({
      url: `${server.url.replace('http', 'ws')}/trpc`,
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    });
    const calls = (links: TRPCLink<AppRouter>[]) => createTRPCClient<AppRouter>({ links });
    try {
      const withLink: string[] = [];
      const client = calls([recorder(withLink), answeredLink(), wsLink({ client: wsClient, transformer })]);
      const stored = await client.publish.mutate(agentStatus('a1', 'busy'));
      expect(stored.type).toBe('agent.status');
      const refused = await client.publish
        .mutate({ type: 'agent.status', data: { agentId: '' } } as never)
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(TRPCClientError);
      expect((refused as TRPCClientError<AppRouter>).data?.code).toBe('BAD_REQUEST');
      expect(withLink).toEqual(['next', 'error']);

      // The same calls without it: the link completes the answered call, which is what costs tRPC's promise.
      const without: string[] = [];
      const plain = calls([recorder(without), wsLink({ client: wsClient, transformer })]);
      await plain.publish.mutate(agentStatus('a1', 'idle'));
      expect(without).toEqual(['next', 'complete']);
    } finally {
      await wsClient.close();
    }
  });

  it('still ends a call that completes without an answer', async () => {
    const silent: TRPCLink<AppRouter> = () => () =>
      observable((observer) => {
        observer.complete();
      });
    const client = createTRPCClient<AppRouter>({ links: [answeredLink(), silent] });
    await expect(client.agents.query()).rejects.toThrow();
  });
});
