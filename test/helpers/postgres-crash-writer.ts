/**
 * The writer process of the PostgreSQL crash test (test/postgres-crash.test.ts), like
 * crash-writer.ts for the embedded store: opens `openDatabase(url)`, then writes forever —
 * creation with data, adds (some larger than one write chunk), imports of a JSON Lines file (the
 * `omnivec import` path), upserts, metadata updates, deletes by id and by filter — printing
 * `BEGIN <op>` before each write call and `ACK` once it returned (committed). The test kills it
 * with SIGKILL at a random moment.
 *
 *   node --import tsx test/helpers/postgres-crash-writer.ts URL SEED CYCLE WORKDIR
 *
 * Every value written is a function of the record's id and version (`recordOf`), so the test can
 * check each stored record exactly.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openDatabase } from '../../src/db/database.js';
import type { Collection } from '../../src/db/collection.js';
import { openRecords } from '../../src/io/index.js';
import { Random } from '../../src/vector/random.js';

export const DIM = 12;
export const COLLECTION = 'crash';
/** Buckets of `deleteWhere`: a record's bucket is a function of its id alone. */
export const BUCKETS = 40;

/** One write call, as the writer announces it (`BEGIN <json>`) and the test replays it. */
export type Op =
  | { op: 'create' | 'add' | 'import'; ids: string[]; version: number }
  | { op: 'upsert'; ids: string[]; version: number }
  | { op: 'update'; ids: string[]; version: number }
  | { op: 'delete'; ids: string[] }
  | { op: 'deleteWhere'; bucket: number };

/** A record's versions: `vector` (and nothing else) changes with upsert, `metadata` and `document` with upsert and update. */
export interface Versions { vector: number; metadata: number }

function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export function bucketOf(id: string): number {
  return hash(`bucket:${id}`) % BUCKETS;
}

/** The vector of `id` at `version`: Gaussian components over several magnitudes, exact in float32. */
export function vectorOf(id: string, version: number): Float32Array {
  const rng = new Random(hash(`${id}#${version}`));
  const v = new Float32Array(DIM);
  for (let j = 0; j < DIM; j++) v[j] = rng.gaussian() * 10 ** ((j % 5) - 2);
  return v;
}

/** The metadata of `id` at `version`: an array, null, unicode, quotes, fractions. */
export function metadataOf(id: string, version: number): Record<string, unknown> {
  return {
    v: version,
    id,
    bucket: bucketOf(id),
    tag: `é "q" 'a' ✓ ${version}`,
    list: [version, 'x', version % 2 === 0, null, version / 8],
    f: version + 0.1,
    none: null,
  };
}

export function documentOf(id: string, version: number): string {
  return `record ${id}, version ${version}: naïve café`;
}

export function recordOf(id: string, v: Versions): { id: string; vector: Float32Array; document: string; metadata: Record<string, unknown> } {
  return { id, vector: vectorOf(id, v.vector), document: documentOf(id, v.metadata), metadata: metadataOf(id, v.metadata) };
}

/** The state after `op` (the test replays acknowledged writes, and the write in flight to compare). */
export function apply(state: Map<string, Versions>, op: Op): void {
  switch (op.op) {
    case 'create': case 'add': case 'import': case 'upsert':
      for (const id of op.ids) state.set(id, { vector: op.version, metadata: op.version });
      break;
    case 'update':
      for (const id of op.ids) state.set(id, { vector: state.get(id)!.vector, metadata: op.version });
      break;
    case 'delete':
      for (const id of op.ids) state.delete(id);
      break;
    case 'deleteWhere':
      for (const id of [...state.keys()]) if (bucketOf(id) === op.bucket) state.delete(id);
      break;
  }
}

async function main(url: string, seed: number, cycle: number, work: string): Promise<void> {
  const rng = new Random(seed);
  const say = (s: string): void => { process.stdout.write(s + '\n'); };
  const db = await openDatabase(url);
  let next = 0;
  const newIds = (n: number): string[] => Array.from({ length: n }, () => {
    const k = next++;
    // Now and then an id that needs quoting.
    return k % 97 === 5 ? `ïd "${cycle}" '${k}'` : `k${cycle}-${k}`;
  });
  const records = (ids: string[], version: number): ReturnType<typeof recordOf>[] => ids.map((id) => recordOf(id, { vector: version, metadata: version }));
  const pick = (from: Set<string>, n: number): string[] => {
    const all = [...from];
    return [...new Set(Array.from({ length: n }, () => all[rng.int(all.length)]!))];
  };

  let c: Collection;
  const ids = new Set<string>();
  if (await db.hasCollection(COLLECTION)) {
    c = await db.getCollection(COLLECTION);
    for (const id of await c.list()) ids.add(id);
    say('READY');
  } else {
    // Creation with data: the collection and its first records in one transaction.
    say('READY');
    const batch = newIds(500 + rng.int(1500));
    say(`BEGIN ${JSON.stringify({ op: 'create', ids: batch, version: 1 })}`);
    c = await db.createCollection({ name: COLLECTION, dim: DIM, metric: 'l2', index: { kind: 'hnsw', m: 8, efConstruction: 40 }, records: records(batch, 1) });
    for (const id of batch) ids.add(id);
    say('ACK');
  }

  for (let n = 0; ; n++) {
    const r = rng.next();
    const big = ids.size > 6000;
    let op: Op;
    if (ids.size < 100 || (r < 0.3 && !big)) {
      // Now and then more than one write chunk (4096 records) in one call.
      const count = rng.next() < 0.12 ? 4100 + rng.int(4000) : 1 + rng.int(300);
      op = { op: 'add', ids: newIds(count), version: 1 };
      say(`BEGIN ${JSON.stringify(op)}`);
      await c.add(records(op.ids, 1));
    } else if (r < 0.45 && !big) {
      op = { op: 'import', ids: newIds(1 + rng.int(rng.next() < 0.2 ? 5000 : 400)), version: 1 };
      const file = join(work, `import-${cycle}-${n}.jsonl`);
      writeFileSync(file, records(op.ids, 1).map((x) => JSON.stringify({ ...x, vector: Array.from(x.vector) })).join('\n') + '\n');
      say(`BEGIN ${JSON.stringify(op)}`);
      await c.add((await openRecords(file)).records);
    } else if (r < 0.65) {
      op = { op: 'upsert', ids: pick(ids, 1 + rng.int(300)), version: 2 + rng.int(10_000) };
      say(`BEGIN ${JSON.stringify(op)}`);
      await c.upsert(records(op.ids, op.version));
    } else if (r < 0.75) {
      const version = 2 + rng.int(10_000);
      op = { op: 'update', ids: pick(ids, 1 + rng.int(300)), version };
      say(`BEGIN ${JSON.stringify(op)}`);
      await c.update(op.ids.map((id) => ({ id, metadata: metadataOf(id, version), document: documentOf(id, version) })));
    } else if (r < 0.93) {
      op = { op: 'delete', ids: pick(ids, 1 + rng.int(big ? 1500 : 150)) };
      say(`BEGIN ${JSON.stringify(op)}`);
      await c.delete({ ids: op.ids });
      for (const id of op.ids) ids.delete(id);
    } else {
      op = { op: 'deleteWhere', bucket: rng.int(BUCKETS) };
      say(`BEGIN ${JSON.stringify(op)}`);
      await c.delete({ where: { bucket: op.bucket } });
      for (const id of [...ids]) if (bucketOf(id) === op.bucket) ids.delete(id);
    }
    if (op.op === 'add' || op.op === 'import') for (const id of op.ids) ids.add(id);
    say('ACK');
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [url, seed, cycle, work] = process.argv.slice(2);
  await main(url!, Number(seed), Number(cycle), work!);
}
