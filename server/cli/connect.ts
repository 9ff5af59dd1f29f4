/**
 * Where the client commands connect, and the typed client they connect with.
 */
import WebSocket from 'ws';
import { createSwitchboardClient, type SwitchboardClient } from '../../client/client.js';
import type { Io } from './io.js';

export interface ConnectionValues {
  url?: string | undefined;
  token?: string | undefined;
}

export function serverUrl(values: ConnectionValues, io: Io): string {
  return values.url ?? io.env.SWITCHBOARD_URL ?? 'http://127.0.0.1:8765';
}

export function tokenOf(values: ConnectionValues, io: Io): string | undefined {
  return values.token ?? io.env.SWITCHBOARD_TOKEN;
}

export function connect(values: ConnectionValues, io: Io): SwitchboardClient {
  const token = tokenOf(values, io);
  return createSwitchboardClient({ url: serverUrl(values, io), WebSocket, ...(token !== undefined && { token }) });
}
