/**
 * The writer process of the payload-index crash test (test/field-index-crash.test.ts): opens the
 * database, declares indexes on `g` (integer) and `t` (keyword) when missing, then adds, upserts,
 * updates metadata and deletes at random forever, printing `BEGIN <op>` before each write and
 * `ACK` after it; on some cycles it declares / drops `h` (float) too. The test kills it with
 * SIGKILL at a random moment.
 */
import { openDatabase } from '../../src/db/database.js';
import { Random } from '../../src/vector/random.js';
import type { Metadata, Scalar } from '../../src/db/where.js';

const [dir, seedArg, cycleArg] = process.argv.slice(2);
const rng = new Random(Number(seedArg));
const cycle = Number(cycleArg);
const VALUES: Scalar[] = [0, 1, 2, 3, 1.5, -1, 'a', 'b', 'c', true, null];

function meta(): Metadata | null {
  if (rng.next() < 0.05) return null;
  const m: Metadata = {};
  for (const key of ['g', 't', 'h']) {
    const r = rng.next();
    if (r < 0.2) continue;
    m[key] = r < 0.4 ? Array.from({ length: rng.int(3) }, () => VALUES[rng.int(VALUES.length)]!) : VALUES[rng.int(VALUES.length)]!;
  }
  return m;
}

const db = await openDatabase(dir!);
const c = (await db.hasCollection('c')) ? await db.getCollection('c') : await db.createCollection({ name: 'c', dim: 4, metric: 'l2', index: 'flat' });
await c.createFieldIndex('g', { type: 'integer' });
await c.createFieldIndex('t', { type: 'keyword' });
const ids = new Set(await c.list());
let next = 0;
const say = (s: string): void => { process.stdout.write(s + '\n'); };
say('READY');
for (;;) {
  const r = rng.next();
  const all = [...ids];
  const pickIds = (n: number): string[] => [...new Set(Array.from({ length: n }, () => all[rng.int(all.length)]!))];
  const vec = (): number[] => [rng.gaussian(), rng.gaussian(), rng.gaussian(), rng.gaussian()];
  if (r < 0.35 || ids.size < 50) {
    const batch = Array.from({ length: 1 + rng.int(rng.next() < 0.1 ? 800 : 60) }, () => `k${cycle}-${next++}`);
    say(`BEGIN ${JSON.stringify({ op: 'add', n: batch.length })}`);
    await c.add(batch.map((id) => ({ id, vector: vec(), metadata: meta() })));
    for (const id of batch) ids.add(id);
  } else if (r < 0.55) {
    const batch = pickIds(1 + rng.int(80));
    say(`BEGIN ${JSON.stringify({ op: 'upsert', n: batch.length })}`);
    await c.upsert(batch.map((id) => ({ id, vector: vec(), metadata: meta() })));
  } else if (r < 0.75) {
    const batch = pickIds(1 + rng.int(80));
    say(`BEGIN ${JSON.stringify({ op: 'update', n: batch.length })}`);
    await c.update({ ids: batch, metadatas: batch.map(() => meta()) });
  } else if (r < 0.93) {
    const batch = pickIds(1 + rng.int(60));
    say(`BEGIN ${JSON.stringify({ op: 'delete', n: batch.length })}`);
    await c.delete({ ids: batch });
    for (const id of batch) ids.delete(id);
  } else {
    const has = (await c.listFieldIndexes()).some((x) => x.field === 'h');
    say(`BEGIN ${JSON.stringify({ op: has ? 'drop h' : 'index h' })}`);
    if (has) await c.dropFieldIndex('h'); else await c.createFieldIndex('h', { type: 'float' });
  }
  say('ACK');
}
