/**
 * tRPC's TanStack Query integration, typed by the server's router: `useTRPC()` gives `queryOptions` and
 * `subscriptionOptions` for every procedure. Only the router's type is imported; no server code reaches the page.
 */
import { createTRPCContext } from '@trpc/tanstack-react-query';
import type { AppRouter } from '../../client/client.js';

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();
