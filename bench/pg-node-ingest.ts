/**
 * One PostgreSQL node's `ingest` (ids only, 1,000 events a call, two in flight on one connection), round after
 * round: the case the goals run judges against the fastest raw insert, alone, for measuring a change in pairs.
 * A node of its own on Redis and a fresh schema (as the bench's PostgreSQL cases start it), a warm-up of 40,000
 * events not recorded, then `rounds` rounds of `count` events, each after a `CHECKPOINT`. Run it from each tree
 * in turn, alternating, and compare the rounds: the machine moves between runs minutes apart.
 * Usage: `npx tsx bench/pg-node-ingest.ts [rounds] [count]` (3 and 100,000 by default). Prints one JSON line per
 * round: events a second, the node's, PostgreSQL's and the client's CPU per event (µs), and the node's busy share
 * of its core (the rate times its CPU per event).
 */
import { checkpoint, postgresCpuMicros, startCluster } from './cluster.js';
import { runScript } from './ipc.js';

const rounds = Number(process.argv[2] ?? 3);
const count = Number(process.argv[3] ?? 100_000);
if (!Number.isSafeInteger(rounds) || rounds < 1 || !Number.isSafeInteger(count) || count < 1_000) {
  throw new Error('usage: pg-node-ingest.ts [rounds ≥ 1] [count ≥ 1000]');
}
const round = (x: number, digits: number) => Number(x.toFixed(digits));

const cluster = await startCluster(1);
try {
  const [node] = cluster.nodes;
  if (node === undefined) throw new Error('the node did not start');
  const port = String(node.port);
  const [warm] = await runScript('./load.ts', ['ingest2', port, '40000']);
  if (warm?.error !== undefined) throw new Error(`the warm-up failed: ${warm.error}`);
  for (let r = 0; r < rounds; r++) {
    await checkpoint();
    const nodeBefore = node.cpuMicros();
    const engineBefore = postgresCpuMicros();
    const [measured] = await runScript('./load.ts', ['ingest2', port, String(count)]);
    if (measured?.perSecond === undefined || measured.error !== undefined) {
      throw new Error(`round ${r + 1} failed: ${measured?.error ?? 'no measurement'}`);
    }
    const nodeCpu = (node.cpuMicros() - nodeBefore) / count;
    const line = {
      round: r + 1,
      perSecond: Math.round(measured.perSecond),
      nodeCpuPerEvent: round(nodeCpu, 2),
      engineCpuPerEvent: round((postgresCpuMicros() - engineBefore) / count, 2),
      clientCpuPerEvent: round(measured.clientCpuPerEvent ?? NaN, 2),
      nodeBusy: round((measured.perSecond * nodeCpu) / 1e6, 2),
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
} finally {
  await cluster.stop();
}
