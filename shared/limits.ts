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

/**
 * UTF-8 length of a string, the unit of every byte limit. Computed without `Buffer` (Node only) or a
 * `TextEncoder` copy, so the contract's checks run the same in browsers and in Node.
 */
export function utf8Bytes(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // Two bytes up to U+07FF, three above; a surrogate pair (two units) is four.
    if (code >= 0x80) bytes += code >= 0x800 && (code < 0xd800 || code > 0xdfff) ? 2 : 1;
  }
  return bytes;
}

/**
 * True when `value` nests objects or arrays more than `max` levels deep. Walks with an explicit stack, never
 * recursion, so a hostile input of any depth cannot overflow the call stack here (where a recursive validator
 * would, with a RangeError instead of an answer).
 */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    if (typeof top.value !== 'object' || top.value === null) continue;
    const depth = top.depth + 1;
    if (depth > max) return true;
    for (const child of Object.values(top.value)) stack.push({ value: child, depth });
  }
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
