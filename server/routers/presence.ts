import {
  entityTopic,
  heartbeatInput,
  isEventOf,
  isLive,
  presenceChangesInput,
  presenceInput,
  type AgentPresence,
  type AgentStatusValue,
  type AnyEnvelope,
  type EnvelopeOf,
  type HeartbeatResult,
} from '@switchboard/shared';
import { canRead, checkPublish } from '../security/scopes.js';
import { publisherProcedure, router, viewerProcedure } from '../trpc.js';
import { subscribeEvents, type Accepts } from './tracked.js';

const isAgentStatus = isEventOf(['agent.status']);

/**
 * The presence stream's filter, one per subscription: an `agent.status` event passes only when it changes
 * whether its agent is live, as far as the subscriber knows. Without a cursor the subscriber starts knowing no
 * one (every agent offline to it), so the snapshot brings only the live agents; with a cursor it knew something
 * the server cannot see, so each agent's first status passes either way. A reset notice means the current state
 * follows afresh (a client drops what it had), so it starts over as without a cursor.
 */
function presenceChanges(resumed: boolean): Accepts<EnvelopeOf<'agent.status'>> {
  const known = new Map<string, boolean>();
  let unknownIsOffline = !resumed;
  const accepts = (event: AnyEnvelope): event is EnvelopeOf<'agent.status'> => {
    if (!isAgentStatus(event)) return false;
    const live = isLive(event.data.status);
    const before = known.get(event.data.agentId) ?? (unknownIsOffline ? false : undefined);
    known.set(event.data.agentId, live);
    return before !== live;
  };
  return Object.assign(accepts, {
    reset: () => {
      known.clear();
      unknownIsOffline = true;
    },
  });
}

export const presenceRouter = router({
  /** Each agent's presence now (status, live, last heard of), by agent id; `live` keeps only one side. */
  presence: viewerProcedure.input(presenceInput).query(async ({ ctx, input }): Promise<AgentPresence[]> => {
    const readable = canRead(ctx.principal);
    const rows = await ctx.hub.presence({ agentIds: input?.agentIds });
    return rows.flatMap(({ status, seenAt }) => {
      const { agentId, agentType, status: value, reason } = status.data;
      const live = isLive(value);
      if (!readable(status.topic) || (input?.live !== undefined && input.live !== live)) return [];
      return [
        {
          agentId,
          agentType,
          status: value,
          live,
          statusEventId: status.id,
          since: status.timestamp,
          ...(reason !== undefined && { reason }),
          lastSeenAt: new Date(seenAt),
        },
      ];
    });
  }),

  /**
   * Who arrives and who leaves: `agent.status` events that change whether their agent is live. Without a
   * cursor: each live agent's current status first, then every arrival (a status other than offline after
   * offline, or a new agent) and every departure (offline, the hub's own after the presence TTL included).
   */
  presenceChanges: viewerProcedure.input(presenceChangesInput).subscription(({ ctx, input, signal }) =>
    subscribeEvents(
      ctx,
      'presenceChanges',
      {
        filter: { types: ['agent.status'], agentIds: input.agentIds },
        lastEventId: input.lastEventId,
        snapshot: 'agents',
      },
      presenceChanges(input.lastEventId !== undefined),
      signal,
    ),
  ),

  /**
   * Marks agents as heard of now without storing an event: cheaper than any event when an agent has nothing
   * to say. An agent the hub turned offline stays offline until it publishes a status (the answer says so).
   */
  heartbeat: publisherProcedure.input(heartbeatInput).mutation(async ({ ctx, input }): Promise<HeartbeatResult> => {
    checkPublish(
      ctx.principal,
      input.agentIds.map((agentId) => ({ type: 'heartbeat', data: agentId })),
      (beat) => entityTopic('agent', String(beat.data)),
    );
    ctx.limits.admitPublish(1);
    const seen = await ctx.hub.heartbeat([...new Set(input.agentIds)]);
    const known = new Set(seen.map((agent) => agent.agentId));
    return {
      seen: seen.map(({ agentId, status }) => ({ agentId, status: status as AgentStatusValue, live: isLive(status) })),
      unknown: input.agentIds.filter((agentId) => !known.has(agentId)),
    };
  }),
});
