/**
 * The body of `GET /healthz`: what the server answers and what the CLI's `status` and `emit` read. Open to all,
 * so it says nothing about events beyond the newest id.
 */
import { z } from 'zod';

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
  store: engineHealthSchema,
  bus: engineHealthSchema,
});
export type Health = z.output<typeof healthSchema>;
