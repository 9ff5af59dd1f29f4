/**
 * The body of `GET /healthz`: what the server answers and what the CLI's `status` and `emit` read. Open to all
 * while the server has no tokens. With tokens, a caller without a valid one gets only `status` (up or down is
 * what a load balancer's probe needs); the detail, the newest id included, is for an authenticated caller.
 */
import { z } from 'zod';
import { epochSchema } from './cursor.js';

export const engineHealthSchema = z.object({
  /** `sqlite`, `postgres`; `memory`, `redis`, `notify`. */
  engine: z.string(),
  state: z.enum(['up', 'down']),
});
export type EngineHealth = z.output<typeof engineHealthSchema>;

export const healthSchema = z.object({
  /** `degraded` when the store or the bus is down; the node still serves what it can, with status 200. */
  status: z.enum(['ok', 'degraded']),
  /** Seconds since the server started. */
  uptime: z.number().min(0),
  /** Open WebSocket connections. */
  connections: z.number().int().min(0),
  /** Subscriptions streaming in this process. */
  subscriptions: z.number().int().min(0),
  /** The newest stored event's id; null when the store cannot be read. */
  headEventId: z.string().nullable(),
  /**
   * The log's epoch (shared/cursor.ts): every cursor this server sends ends with it. The nodes of one cluster
   * share it (read once when each opens the database); a new database or a recreated schema has another, and a
   * restored backup keeps the one it was taken with, until `switchboard new-epoch` gives it another.
   */
  epoch: epochSchema,
  store: engineHealthSchema,
  bus: engineHealthSchema,
});
export type Health = z.output<typeof healthSchema>;

/** What `/healthz` tells a caller without a valid token while the server has tokens. */
export const healthSummarySchema = healthSchema.pick({ status: true });
export type HealthSummary = z.output<typeof healthSummarySchema>;

/**
 * Either answer: the whole body, or the summary. A body without `epoch` is still the whole body (a server from
 * before it was added), so a newer CLI keeps every detail an older server sends.
 */
export const healthAnswerSchema = z.union([healthSchema.partial({ epoch: true }), healthSummarySchema]);
export type HealthAnswer = z.output<typeof healthAnswerSchema>;
