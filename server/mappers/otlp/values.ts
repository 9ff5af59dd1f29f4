/**
 * Reading OTLP values: attributes as a map of plain values with lenient typed getters (Claude Code and Codex send
 * numbers and booleans as strings: `"duration_ms": "1234"`, `"success": "true"`), times in milliseconds, enums by
 * number or name, and bounded previews of whatever is kept generically.
 */
import type { z } from 'zod';
import type { AnyValue, KeyValue } from './schema.js';

/** A plain value of an AnyValue: bytes stay base64, a 64-bit integer past 2^53 stays a string. */
export function plainValue(value: AnyValue | undefined): unknown {
  if (value === undefined) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) {
    const n = Number(value.intValue);
    return Number.isSafeInteger(n) ? n : String(value.intValue);
  }
  if (value.doubleValue !== undefined) return Number(value.doubleValue);
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(plainValue);
  if (value.kvlistValue !== undefined) return Object.fromEntries(entries(value.kvlistValue.values));
  if (value.bytesValue !== undefined) return value.bytesValue;
  return undefined;
}

function entries(list: readonly KeyValue[] | undefined): [string, unknown][] {
  return (list ?? []).map((kv) => [kv.key, plainValue(kv.value)]);
}

/** Attributes by key, the later of a repeated key winning, with getters that say what they accept. */
export class Attributes {
  readonly values: ReadonlyMap<string, unknown>;

  constructor(...lists: (readonly KeyValue[] | undefined)[]) {
    this.values = new Map(lists.flatMap(entries));
  }

  has(key: string): boolean {
    return this.values.has(key);
  }

  /** A non-empty string, or a number or boolean as text. */
  text(key: string): string | undefined {
    const value = this.values.get(key);
    if (typeof value === 'string') return value === '' ? undefined : value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    return undefined;
  }

  /** A finite number, from a number or a numeric string. */
  number(key: string): number | undefined {
    const value = this.values.get(key);
    const n =
      typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
    return Number.isFinite(n) ? n : undefined;
  }

  /** A count: a whole number at least 0. */
  count(key: string): number | undefined {
    const n = this.number(key);
    return n !== undefined && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
  }

  /** true or false, from a boolean or the strings "true" and "false". */
  bool(key: string): boolean | undefined {
    const value = this.values.get(key);
    if (typeof value === 'boolean') return value;
    if (value === 'true') return true;
    if (value === 'false') return false;
    return undefined;
  }
}

/** Milliseconds since the epoch of a nanosecond time; undefined for 0, absent or unreadable. */
export function nanosToMs(nanos: string | number | undefined): number | undefined {
  if (nanos === undefined) return undefined;
  try {
    const ms = Number(BigInt(nanos) / 1_000_000n);
    return ms > 0 ? ms : undefined;
  } catch {
    // Not an integer (the schema lets only integers through; a fraction in a number is still possible).
    return undefined;
  }
}

/** A trace or span id in lower-case hex; undefined when absent, empty or all zeros (the invalid id). */
export function idOf(hex: string | undefined): string | undefined {
  if (hex === undefined || /^0*$/.test(hex)) return undefined;
  return hex.toLowerCase();
}

/** An ISO-8601 time in milliseconds, or undefined. */
export function isoToMs(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/** An enum given by number or by name, as its number; `names` lists the names by number. */
export function enumNumber(value: number | string | undefined, names: readonly string[]): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return value;
  const index = names.indexOf(value);
  return index >= 0 ? index : undefined;
}

export const spanStatusCodes = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'] as const;
export const temporalities = [
  'AGGREGATION_TEMPORALITY_UNSPECIFIED',
  'AGGREGATION_TEMPORALITY_DELTA',
  'AGGREGATION_TEMPORALITY_CUMULATIVE',
] as const;

/** Characters of one attribute value kept in a preview. */
const valueChars = 500;
/** Attributes kept in a preview; the rest are counted. */
const maxAttributes = 64;
/** Characters of an attribute key kept. */
const keyChars = 128;

/**
 * Attributes as a JSON object for a preview: at most 64 keys, each value itself when its JSON is short, else
 * the first 500 characters of it. `truncated` says whether anything was left out or cut.
 */
export function attributePreview(values: ReadonlyMap<string, unknown>): {
  preview: Record<string, z.core.util.JSONType>;
  truncated: boolean;
} {
  const preview: Record<string, z.core.util.JSONType> = {};
  let truncated = values.size > maxAttributes;
  for (const [key, value] of [...values].slice(0, maxAttributes)) {
    const json = JSON.stringify(value) as string | undefined;
    if (json === undefined) continue;
    const name = key.slice(0, keyChars);
    if (json.length <= valueChars) preview[name] = JSON.parse(json) as z.core.util.JSONType;
    else {
      preview[name] = `${typeof value === 'string' ? value.slice(0, valueChars) : json.slice(0, valueChars)}…`;
      truncated = true;
    }
    if (name !== key) truncated = true;
  }
  return { preview, truncated };
}
