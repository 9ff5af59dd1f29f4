/**
 * `switchboard/client`: the typed client and the Publisher. Types come from the server's `AppRouter` alone.
 */
export {
  backoff,
  createSwitchboardClient,
  toWebSocketUrl,
  type AppRouter,
  type AppRouterFor,
  type Connection,
  type ConnectionState,
  type SwitchboardClient,
  type SwitchboardClientOptions,
  type WebSocketClass,
} from './client.js';
export {
  createPublisher,
  type DropReason,
  type Publisher,
  type PublisherOptions,
  type PublisherStats,
  type PublishResult,
} from './publisher.js';
