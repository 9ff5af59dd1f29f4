/**
 * What fresh memory costs this machine: the text of one `ingest` call of 1,000 events (the frame a server must
 * make one string of before `JSON.parse`), made from its bytes whole and in parts of `runChars`
 * (server/core/text-runs.ts), with the page faults each takes. A string over 128 KiB is a V8 large object, on
 * memory mapped fresh for it: one page fault per 4 KiB, which a virtual machine may make dear. Prints
 * `{ mode: 'fresh-memory', bytes, wholeUs, wholeFaults, partsUs, partsFaults, faultUs }`, per conversion.
 */
import { runChars } from '../server/core/text-runs.js';
import { benchEvent } from './shared.js';

const count = Number(process.argv[2] ?? 300);
const events = Array.from({ length: 1_000 }, (_, i) => benchEvent(i));
const bytes = Buffer.from(
  JSON.stringify({ id: 1, method: 'mutation', params: { path: 'ingest', input: { json: { events } } } }),
);

/** µs and minor page faults per call of `make`, after a warm-up. */
function measure(make: () => unknown): { us: number; faults: number } {
  for (let i = 0; i < 20; i++) make();
  const before = process.resourceUsage().minorPageFault;
  const started = performance.now();
  for (let i = 0; i < count; i++) make();
  const us = ((performance.now() - started) * 1000) / count;
  return { us, faults: (process.resourceUsage().minorPageFault - before) / count };
}

// Kept in a variable so the strings are made, not optimized away.
let made: unknown;
const whole = measure(() => (made = bytes.toString('utf8')));
const parts = measure(() => {
  const texts: string[] = [];
  // The frame is ASCII: a cut at any byte falls between characters.
  for (let at = 0; at < bytes.length; at += runChars) texts.push(bytes.toString('utf8', at, at + runChars));
  made = texts;
});
// The time the parts save, per page fault they save: all of it put down to the faults (the copies are the same
// bytes either way; what else differs, the large-object allocation itself, counts in with them).
const faultUs = (whole.us - parts.us) / Math.max(1, whole.faults - parts.faults);
process.stdout.write(
  `${JSON.stringify({
    mode: 'fresh-memory',
    bytes: bytes.length,
    wholeUs: whole.us,
    wholeFaults: whole.faults,
    partsUs: parts.us,
    partsFaults: parts.faults,
    faultUs,
    made: made === undefined ? 0 : 1,
  })}\n`,
);
