/**
 * NDJSON (one JSON value per line), as `POST /ingest` and `switchboard emit --stdin` both read it. Blank lines are
 * skipped; line numbers count them, so they match what an editor shows.
 */

/** One non-blank line: its 1-based number and its value, or why it is not JSON. */
export type NdjsonLine = { line: number; ok: true; value: unknown } | { line: number; ok: false; error: string };

/** Every non-blank line parsed; a line that is not JSON is reported, not thrown, so a caller may list them all. */
export function parseNdjson(text: string): NdjsonLine[] {
  const lines: NdjsonLine[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    if (raw.trim() === '') continue;
    try {
      lines.push({ line: i + 1, ok: true, value: JSON.parse(raw) as unknown });
    } catch (error) {
      lines.push({ line: i + 1, ok: false, error: (error as Error).message });
    }
  }
  return lines;
}
