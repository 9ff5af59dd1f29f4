/**
 * A floor, not a server: answers every tRPC mutation at once, as Switchboard answers it (`publish`: one stored
 * envelope; `publishBatch`: one per event; `ingest`: their ids), and `POST /ingest` with its ids, from replies
 * encoded once, and does nothing else. Against it a client runs as fast as it can, so its CPU per event here is
 * what it spends whatever the server behind it does, and its rate here the most it can send.
 * Protocol with the parent (IPC): → { port } once listening.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { ingestReply, transformer } from '@switchboard/shared';
import { benchEnvelope } from './shared.js';

const envelopes = (count: number) => Array.from({ length: count }, (_, i) => benchEnvelope(i));
const encoded = (value: unknown) => JSON.stringify(transformer.output.serialize(value));
const replies = new Map<string, string>();
/** The reply to `path` with `count` events in its input, encoded once per shape. */
function replyTo(path: string, count: number): string {
  const shape = `${path}:${count}`;
  let reply = replies.get(shape);
  if (reply === undefined) {
    if (path === 'publish') reply = encoded(benchEnvelope(0));
    else if (path === 'ingest') reply = encoded(ingestReply(envelopes(count)));
    else reply = encoded(envelopes(count));
    replies.set(shape, reply);
  }
  return reply;
}

interface Request {
  id?: number | string;
  method?: string;
  params?: { path?: string; input?: { json?: unknown } };
}

// `POST /ingest` NDJSON: the body read whole, its lines counted, their ids answered.
const http = createServer((req, res) => {
  let lines = 1;
  req.on('data', (chunk: Buffer) => {
    for (const byte of chunk) if (byte === 10) lines++;
  });
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(ingestReply(envelopes(lines))));
  });
});
const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
wss.on('connection', (socket) => {
  socket.on('message', (raw) => {
    const text = (raw as Buffer).toString('utf8');
    if (text === 'PING') {
      socket.send('PONG');
      return;
    }
    const parsed = JSON.parse(text) as Request | Request[];
    for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
      if (message.id === undefined || message.method !== 'mutation') continue;
      const input = message.params?.input?.json;
      const reply = replyTo(message.params?.path ?? '', Array.isArray(input) ? input.length : 1);
      socket.send(`{"id":${JSON.stringify(message.id)},"result":{"type":"data","data":${reply}}}`);
    }
  });
});
http.listen(0, '127.0.0.1', () => process.send?.({ port: (http.address() as AddressInfo).port }));
process.on('disconnect', () => process.exit(0));
