/**
 * `npm run bench -- --only patterns`: what hostile topic patterns cost. 10,000 live subscriptions in one hub,
 * each with patterns built to be slow (as many `*` as allowed, a literal that never comes), against a publish
 * stream of topics as long as allowed that almost match; next to the same number of plain patterns in the same
 * run. Measured in process on the real hub, SQLite store and in-process bus, so the figure is the dispatcher's
 * matching and nothing else. Printed: publishes per second and the time one event takes to be offered to every
 * subscription. The backtracking regular expression the matcher replaced is timed on one shorter pair at the end,
 * for scale.
 */
import { limits, topicMatcher } from '@switchboard/shared';
import { createMemoryBus } from '../server/bus/memory.js';
import { createHub } from '../server/core/hub.js';
import { openDatabase } from '../server/store/sqlite-db.js';
import { createSqliteStore } from '../server/store/sqlite.js';

const subscriptions = 10_000;
const events = 200;

/** Every pattern as hostile as the grammar lets it be: the most stars, literal runs that keep almost matching. */
function hostilePatterns(i: number): string[] {
  const stars = '*'.repeat(limits.patternStars);
  return [`workflow:a-${stars}!`, `workflow:${'a*'.repeat(limits.patternStars)}!${i}`];
}

function plainPatterns(i: number): string[] {
  return [`workflow:wf-${i}`, `agent:a-${i}`];
}

async function measure(label: string, patterns: (i: number) => string[]) {
  const store = createSqliteStore(openDatabase(':memory:', 'normal'));
  const hub = createHub({ store, bus: createMemoryBus() });
  let delivered = 0;
  const streams = Array.from({ length: subscriptions }, (_, i) =>
    hub.open(
      { filter: { topics: patterns(i) } },
      {
        push: () => {
          delivered++;
          return true;
        },
        fail: (error) => {
          throw error;
        },
      },
    ),
  );
  // Topics as long as ids allow, all `a`s, never ending in `!`: the worst case for both patterns above.
  const id = `a-${'a'.repeat(limits.idLength - 2)}`;
  const event = { type: 'workflow.started' as const, data: { workflowId: id, workflowType: 'bench', steps: [] } };
  await hub.append([event]);
  const started = performance.now();
  for (let i = 0; i < events; i++) await hub.append([event]);
  const seconds = (performance.now() - started) / 1000;
  for (const stream of streams) stream.close();
  await store.close();
  console.log(
    `${label.padEnd(26)} ${String(subscriptions).padStart(7)} subscriptions · ${(events / seconds).toFixed(0).padStart(6)} publishes/s · ${((seconds / events) * 1000).toFixed(2).padStart(7)} ms to offer one event to all · delivered ${delivered}`,
  );
}

/** The matcher this one replaced: the pattern as a regular expression, `*` as `.*`. */
function backtracking(pattern: string): (topic: string) => boolean {
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const regex = new RegExp(`^${source}$`, 's');
  return (topic) => regex.test(topic);
}

function timeOne(label: string, match: (topic: string) => boolean, topic: string) {
  const started = performance.now();
  match(topic);
  console.log(`${label.padEnd(26)} ${(performance.now() - started).toFixed(3).padStart(10)} ms for one topic`);
}

export async function runPatterns(): Promise<void> {
  console.log(
    `Topic patterns: ${subscriptions} subscriptions, ${events} publishes of a ${limits.idLength + 9}-character topic\n`,
  );
  await measure('plain patterns', plainPatterns);
  await measure('hostile patterns', hostilePatterns);
  // For scale: six stars over 40 characters already take the old matcher this long; eight over 130 never end.
  const pattern = 'workflow:a-******!';
  const topic = `workflow:a-${'a'.repeat(40)}`;
  console.log('');
  timeOne('this matcher', topicMatcher(pattern), topic);
  timeOne('a backtracking RegExp', backtracking(pattern), topic);
}
