/**
 * The writer process of the crash test (test/crash.test.ts): opens the database, then runs random
 * adds, upserts, deletes, snapshots and compactions forever, printing `BEGIN <op>` before each and `ACK` once it
 * returned. The test kills it with SIGKILL at a random moment.
 */
import { openDatabase } from '../../src/db/database.js';
import { Random } from '../../src/vector/random.js';
import { CRASH_DIM, crashVector } from './crash-vector.js';

const [dir, seedArg, cycleArg] = process.argv.slice(2);
const rng = new Random(Number(seedArg));
const cycle = Number(cycleArg);
const DIM = CRASH_DIM;
// Well-spread Gaussian data, a pure function of (id, version): the test checks every stored vector.
const vec = crashVector;

const db = await openDatabase(dir!);
const c = (await db.hasCollection('c')) ? await db.getCollection('c') : await db.createCollection({ name: 'c', dim: DIM, metric: 'l2', index: { kind: 'hnsw', m: 8, efConstruction: 40 } });
await c.open();
const ids = new Set(await c.list());
let next = 0;
const say = (s: string): void => { process.stdout.write(s + '\n'); };
say('READY');
for (let op = 0; ; op++) {
  const r = rng.next();
  const big = ids.size > 3000;
  if ((r < 0.45 && !big) || ids.size < 50) {
    const n = 1 + rng.int(rng.next() < 0.1 ? 1500 : 100);
    const batch = Array.from({ length: n }, () => `k${cycle}-${next++}`);
    const version = 1;
    say(`BEGIN ${JSON.stringify({ op: 'add', ids: batch, version })}`);
    await c.add(batch.map((id) => ({ id, vector: vec(id, version), metadata: { v: version } })));
    for (const id of batch) ids.add(id);
  } else if (r < 0.75) {
    const all = [...ids];
    const batch = [...new Set(Array.from({ length: 1 + rng.int(100) }, () => all[rng.int(all.length)]!))];
    const version = 2 + rng.int(1000);
    say(`BEGIN ${JSON.stringify({ op: 'upsert', ids: batch, version })}`);
    await c.upsert(batch.map((id) => ({ id, vector: vec(id, version), metadata: { v: version } })));
  } else if (r < 0.95) {
    const all = [...ids];
    const batch = [...new Set(Array.from({ length: 1 + rng.int(big ? 600 : 60) }, () => all[rng.int(all.length)]!))];
    say(`BEGIN ${JSON.stringify({ op: 'delete', ids: batch })}`);
    await c.delete({ ids: batch });
    for (const id of batch) ids.delete(id);
  } else if (r < 0.98) {
    say(`BEGIN ${JSON.stringify({ op: 'flush', ids: [] })}`);
    await c.flush();
  } else {
    // Rewrites the vector file without holes (a new generation, slots renumbered) and snapshots.
    say(`BEGIN ${JSON.stringify({ op: 'compact', ids: [] })}`);
    await c.compact();
  }
  say('ACK');
}
