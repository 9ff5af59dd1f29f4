import type { Principal } from './auth.js';
import type { Hub } from './hub.js';
import type { ConnectionLimits } from './limits.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

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
