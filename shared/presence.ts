/**
 * Presence, as clients read it: an agent is live while its current status is anything but `offline`. The hub
 * turns an agent silent for its presence TTL offline itself, with a stored `agent.status` event, so this rule
 * alone tells every client the same thing (docs/protocol.md, "Presence").
 */
import { z } from 'zod';
import { cursorSchema } from './cursor.js';
import { entityIdSchema, type agentStatusValues } from './events.js';
import { limits } from './limits.js';

export type AgentStatusValue = (typeof agentStatusValues)[number];

/** Whether an agent with this status is live. */
export const isLive = (status: string): boolean => status !== 'offline';

/** One agent's presence: its current status and when the hub last heard of it. */
export interface AgentPresence {
  agentId: string;
  agentType: string;
  status: AgentStatusValue;
  live: boolean;
  /** The `agent.status` event that set the status: its id, its timestamp and its reason. */
  statusEventId: string;
  since: Date;
  reason?: string;
  /** When the hub last heard of the agent: any event naming it, or a heartbeat (by the server's clock). */
  lastSeenAt: Date;
}

const agentIds = z.array(entityIdSchema).min(1).max(limits.filterValues);

export const presenceInput = z
  .strictObject({
    /** Only these agents; all agents when absent. */
    agentIds: agentIds.optional(),
    /** true: only live agents; false: only offline ones; absent: both. */
    live: z.boolean().optional(),
  })
  .optional();

export const presenceChangesInput = z.strictObject({
  agentIds: agentIds.optional(),
  lastEventId: cursorSchema.optional(),
});

export const heartbeatInput = z.strictObject({
  /** The agents to mark as heard of now, without storing an event. */
  agentIds,
});

/** What a heartbeat answers: the agents it marked with their status, and the ids the hub has no status for. */
export interface HeartbeatResult {
  seen: { agentId: string; status: AgentStatusValue; live: boolean }[];
  unknown: string[];
}
