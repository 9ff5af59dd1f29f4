/**
 * Size limits of the contract. Both ends read them: the server rejects what exceeds them, a client can check
 * before sending. Each error that enforces one names it.
 */
export const limits = {
  /** Characters in an id (agent, workflow, step, task), an idempotency key or a correlation id. */
  idLength: 128,
  /** Characters in a name, a type label, a title or a one-line summary. */
  nameLength: 256,
  /** Characters in a message, a description or a text block. */
  textLength: 16_384,
  /** Bytes of an event's `data` as JSON. */
  dataBytes: 65_536,
  /** Steps declared by one `workflow.started`. */
  stepsPerWorkflow: 1_000,
  /** Events in one `publishBatch` call. */
  batchSize: 1_000,
  /** Filter values (topics, types, agent ids, steps) in one subscription or history query. */
  filterValues: 100,
  /** Characters in a topic or a topic pattern. */
  topicLength: 144,
  /** `*` wildcards in one topic pattern: with the length, what bounds the cost of matching it. */
  patternStars: 8,
  /** Levels of nesting in any JSON a client sends (objects and arrays): deeper input is refused before validation. */
  jsonDepth: 64,
  /** Events in one `history` page. */
  historyPage: 1_000,
  /**
   * Milliseconds a producer's `timestamp` may be ahead of the server's clock (clocks drift; a day ahead is a bug
   * that would sort the event before everything after it). Any time in the past is accepted.
   */
  clockSkewMs: 300_000,
} as const;

/** Any UTF-16 unit above U+007F: a text without one is ASCII, one byte a unit. */
const nonAscii = /[\u0080-\uffff]/;

/**
 * UTF-8 length of a string, the unit of every byte limit. Computed without `Buffer` (Node only) or a
 * `TextEncoder` copy, so the contract's checks run the same in browsers and in Node. ASCII text, most of what
 * is measured, is found by one native regex search (about a fifth of the loop's time on a 300-byte event).
 */
export function utf8Bytes(text: string): number {
  if (!nonAscii.test(text)) return text.length;
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    // Two bytes up to U+07FF, three above.
    if (code < 0x800) {
      bytes += 1;
      continue;
    }
    // A surrogate pair (two units) is four bytes; a lone surrogate is written as U+FFFD, three, as an encoder does.
    const next = text.charCodeAt(i + 1);
    if (code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++;
    bytes += 2;
  }
  return bytes;
}

/**
 * At least the UTF-8 length of `JSON.stringify(value)`, found without building the text; once it passes `limit`
 * the walk stops and answers a number above it. A UTF-16 unit of a string is at most 6 bytes of JSON (`\u001f`),
 * a number at most 24 characters; values JSON leaves out count anyway. A value with its own `toJSON` (a Date) is
 * measured exactly. Callers check the exact length only when the bound is over their limit, which a payload well
 * under it never is. Values are JSON's, bounded in depth by `nestedDeeperThan` before this runs.
 */
export function jsonBytesAtMost(value: unknown, limit: number): number {
  switch (typeof value) {
    case 'string':
      return value.length * 6 + 2;
    case 'number':
      return 24;
    case 'boolean':
      return 5;
    case 'object':
      break;
    default:
      // undefined, a function, a symbol (left out or null), a bigint (refused by JSON.stringify itself).
      return 4;
  }
  if (value === null) return 4;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    // Not always a string, whatever its type says: undefined when toJSON answers that (the value is left out).
    const text = JSON.stringify(value) as unknown;
    return typeof text === 'string' ? utf8Bytes(text) : 4;
  }
  let bytes = 2;
  if (Array.isArray(value)) {
    for (const child of value as unknown[]) {
      bytes += jsonBytesAtMost(child, limit - bytes) + 1;
      if (bytes > limit) return bytes;
    }
    return bytes;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    bytes += key.length * 6 + 4 + jsonBytesAtMost(record[key], limit - bytes);
    if (bytes > limit) return bytes;
  }
  return bytes;
}

/**
 * True when `value` nests objects or arrays more than `max` levels deep. Recursive, but it never goes deeper than
 * `max` calls (it answers as soon as a value is one level too deep), so a hostile input of any depth cannot
 * overflow the call stack here (where an unbounded recursive validator would, with a RangeError instead of an
 * answer). Values are JSON's: own enumerable keys are all a `for…in` over them finds. No allocation per value:
 * it runs over every frame's payload.
 */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (max <= 0) return true;
  if (Array.isArray(value)) {
    for (const child of value as unknown[]) if (nestedDeeperThan(child, max - 1)) return true;
    return false;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) if (nestedDeeperThan(record[key], max - 1)) return true;
  return false;
}

/**
 * The one depth rule of every edge: a value may nest `limits.jsonDepth` levels, and an array of such values (a
 * batch of events) one more.
 */
export function tooDeep(value: unknown): boolean {
  return nestedDeeperThan(value, Array.isArray(value) ? limits.jsonDepth + 1 : limits.jsonDepth);
}

/** The refusal for input nested deeper than `limits.jsonDepth`, worded once for every edge. */
export const jsonDepthMessage = `JSON nested more than ${limits.jsonDepth} levels deep (limits.jsonDepth); flatten the payload or send deep structures as a string`;
