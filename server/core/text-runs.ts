/**
 * Large texts in runs of moderate ones. V8 keeps a string of more than 128 KiB in its large-object space, on
 * memory mapped fresh for it and unmapped when it dies: every such string costs a page fault per 4 KiB written,
 * at every step that makes one (built, received, decoded). Where a page fault is dear (in a virtual machine: the
 * bench's fresh-memory case put a fault not taken at 2.9–16.0 µs on the machines docs/performance*.md record)
 * that costs more than the work on the text itself, so a store's insert, a bus message and a write's answer go as
 * several texts of about `runChars` at most, whose memory the heap reuses.
 */

/**
 * The text one run holds, at most, unless one item alone is larger, when its items' sizes are their exact lengths:
 * under 128 KiB even as a two-byte string.
 */
export const runChars = 60_000;

/**
 * `items` cut into consecutive runs, in order, whose `chars` add up to at most `limit` (an item larger than
 * `limit` makes a run of its own). Empty for no items.
 */
export function inRuns<T>(items: Iterable<T>, chars: (item: T) => number, limit = runChars): T[][] {
  const runs: T[][] = [];
  let run: T[] = [];
  let total = 0;
  for (const item of items) {
    const size = chars(item);
    if (run.length > 0 && total + size > limit) {
      runs.push(run);
      run = [];
      total = 0;
    }
    run.push(item);
    total += size;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}
