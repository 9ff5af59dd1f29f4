import type { Principal } from './security/auth.js';
import type { Hub } from './core/hub.js';
import type { ConnectionLimits } from './ops/limits.js';
import type { Logger } from './ops/log.js';
import type { Metrics } from './ops/metrics.js';

/** What every procedure sees. Created once per WebSocket connection or HTTP request. */
export interface Context {
  hub: Hub;
  /** Who is calling; null when tokens are required and none (or an unknown one) was presented. */
  principal: Principal | null;
  /** Why the presented token was refused, when that is known (an expired or badly signed JWT). */
  authProblem?: string | undefined;
  limits: ConnectionLimits;
  metrics: Metrics;
  log: Logger;
}
