import type { Hub } from './hub.js';

/** What every procedure sees. Created once per WebSocket connection or HTTP request. */
export interface Context {
  hub: Hub;
}
