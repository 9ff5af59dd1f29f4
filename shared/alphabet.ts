/**
 * The one alphabet of ids, topics and topic patterns: printable characters only. Whitespace, control, format
 * (bidi overrides, zero-width), lone surrogate and private-use characters are refused, because each of them
 * either means something to a store's matcher (SQLite's GLOB ends a pattern at NUL; PostgreSQL refuses NUL in
 * text) or makes two different ids look alike on a screen. docs/protocol.md states the same rule.
 */

/** Any character outside the alphabet of topics: whitespace, control, format, surrogate, private use. */
export const outsideAlphabet = /[\p{White_Space}\p{Cc}\p{Cf}\p{Cs}\p{Co}]/u;

/** A topic pattern: one or more characters of the alphabet, `*` included (JSON Schema carries this one). */
export const patternAlphabet = /^[^\p{White_Space}\p{Cc}\p{Cf}\p{Cs}\p{Co}]+$/u;

/** An id or a topic: the alphabet without `*`. */
export const idAlphabet = /^[^\p{White_Space}\p{Cc}\p{Cf}\p{Cs}\p{Co}*]+$/u;

/**
 * Why `text` cannot be part of a topic, naming the first character outside the alphabet and where it is;
 * undefined when every character is allowed. For ids, topics and patterns alike.
 */
export function alphabetProblem(text: string): string | undefined {
  const match = outsideAlphabet.exec(text);
  if (!match) return undefined;
  const code = match[0].codePointAt(0) ?? 0;
  const name = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return `holds ${name} at position ${match.index}: only printable characters are allowed (no whitespace, control or format characters)`;
}
