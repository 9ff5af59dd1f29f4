/**
 * `@switchboard/client`: the typed client, the Publisher and the one-line event summary. Types come from the
 * server's `AppRouter` alone, or `AppRouterFor<typeof catalogue>` for a server started with a catalogue of one's own.
 */
export {
  backoff,
  createSwitchboardClient,
  hubUrl,
  toWebSocketUrl,
  type AppRouter,
  type AppRouterFor,
  type Connection,
  type ConnectionState,
  type EventSourceClass,
  type RetryOptions,
  type SwitchboardClient,
  type SwitchboardClientOptions,
  type TokenSource,
  type WebSocketClass,
} from './client.js';
export { describeConnectionError } from './connection-error.js';
export {
  createPublisher,
  type DropReason,
  type Publisher,
  type PublisherOptions,
  type PublisherStats,
  type PublishResult,
} from './publisher.js';
export { summarizeEvent } from './summary.js';
