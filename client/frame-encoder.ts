/**
 * The WebSocket client's frames: JSON, as tRPC's own encoder writes them, except that a `JsonTexts` among the
 * fields of a call's input (the Publisher's events, each written once when it was taken) goes into the frame as the
 * texts it holds, rather than being walked and written again. The server reads the same events either way (a `Date`
 * timestamp among them as the ISO string the transformer would have annotated, which the server's schema takes).
 */
import { jsonEncoder, type Encoder } from '@trpc/client';
import { JsonTexts } from '@switchboard/shared';

/** What stands in a message's JSON for a list until its texts take its place. */
const standIn = '\u0000json-texts\u0000';
const standInJson = JSON.stringify(standIn);

interface Message {
  params?: { input?: { json?: unknown } };
}

/** The message with a stand-in for the `JsonTexts` among its input's fields, and that list; undefined without one. */
function withStandIn(message: unknown): { message: unknown; texts: JsonTexts } | undefined {
  const params = (message as Message | null)?.params;
  const input = params?.input;
  const json = input?.json;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  for (const field in json) {
    const value = (json as Record<string, unknown>)[field];
    if (!(value instanceof JsonTexts)) continue;
    const standing = {
      ...(message as object),
      params: { ...params, input: { ...input, json: { ...json, [field]: standIn } } },
    };
    return { message: standing, texts: value };
  }
  return undefined;
}

/**
 * One message's JSON, in parts that make it when joined, with the texts of its `JsonTexts` where the list stands.
 * The frame is made by one join: it is often past 128 KiB, where every text made is memory mapped fresh.
 */
function pushMessage(parts: string[], message: unknown): void {
  const found = withStandIn(message);
  if (found === undefined) {
    parts.push(JSON.stringify(message));
    return;
  }
  // The message's other strings are its id, method, path and `after` (a key): none holds the stand-in's NULs.
  const frame = JSON.stringify(found.message);
  const at = frame.indexOf(standInJson);
  parts.push(frame.slice(0, at), '[');
  const { texts } = found.texts;
  for (let i = 0; i < texts.length; i++) {
    if (i > 0) parts.push(',');
    parts.push(texts[i] ?? 'null');
  }
  parts.push(']', frame.slice(at + standInJson.length));
}

export const frameEncoder: Encoder = {
  encode(data: unknown): string {
    const parts: string[] = [];
    // tRPC sends one message, or several queued in one turn as an array (JSON's own commas, no spaces).
    if (Array.isArray(data)) {
      parts.push('[');
      for (let i = 0; i < data.length; i++) {
        if (i > 0) parts.push(',');
        pushMessage(parts, data[i]);
      }
      parts.push(']');
    } else {
      pushMessage(parts, data);
    }
    return parts.length === 1 ? (parts[0] ?? '') : parts.join('');
  },
  decode: (data) => jsonEncoder.decode(data),
};
