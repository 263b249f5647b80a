import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { clusteredData, concat, oracle } from '../conformance.js';
import { deserializeIndex, serializeIndex } from '../registry.js';
import { OmnivecError } from '../../errors.js';
import type { BatchSearchResult } from '../types.js';
import { HnswIndex } from './hnsw-index.js';

// Above PARALLEL_MIN_ADD (5000), so that `add` with threads > 1 builds in parallel.
const N = 6000;
const DIM = 16;
const data = clusteredData(31, N, 400, DIM, 40);
const ids = Uint32Array.from({ length: N }, (_, i) => i);
const truth = Array.from({ length: data.queries.count }, (_, q) =>
  new Set(oracle('l2', data.base, ids, data.queries.data.subarray(q * DIM, (q + 1) * DIM), 10).ids));

function recall(r: BatchSearchResult): number {
  let hit = 0;
  for (let q = 0; q < r.count; q++) for (let i = 0; i < r.counts[q]!; i++) if (truth[q]!.has(r.ids[q * r.k + i]!)) hit++;
  return hit / (r.count * r.k);
}

function sameRows(a: BatchSearchResult, b: BatchSearchResult, what: string): void {
  assert.deepEqual(b.counts, a.counts, `${what}: counts`);
  assert.deepEqual(b.ids, a.ids, `${what}: ids`);
  assert.deepEqual(b.distances, a.distances, `${what}: distances`);
}

let oneThread: HnswIndex | undefined;
function built1(): HnswIndex {
  if (oneThread === undefined) {
    oneThread = new HnswIndex({ dim: DIM, threads: 1 });
    oneThread.add(ids, data.base);
  }
  return oneThread;
}

test('hnsw threads: a batch searched on 2 threads gets the one-thread answer of every query', () => {
  const index = built1();
  index.searchBatch(data.queries, 10, { threads: 2 }); // start the pool
  for (const efSearch of [10, 64]) {
    sameRows(index.searchBatch(data.queries, 10, { efSearch, threads: 1 }), index.searchBatch(data.queries, 10, { efSearch, threads: 2 }), `ef ${efSearch}`);
  }
  // An allow-list crosses threads (a bitmap of slots); a predicate keeps the batch on this thread.
  const allow = ids.filter((id) => id % 3 !== 0);
  sameRows(index.searchBatch(data.queries, 10, { allow, threads: 1 }), index.searchBatch(data.queries, 10, { allow, threads: 2 }), 'allow-list');
  const filter = (id: number): boolean => id % 2 === 0;
  sameRows(index.searchBatch(data.queries, 10, { filter, threads: 1 }), index.searchBatch(data.queries, 10, { filter, threads: 2 }), 'predicate');
  // After a change (removes, pending), the shared tables are rebuilt.
  const copy = deserializeIndex(concat(serializeIndex(index))) as HnswIndex;
  copy.remove(ids.subarray(0, 300));
  sameRows(copy.searchBatch(data.queries, 10, { threads: 1 }), copy.searchBatch(data.queries, 10, { threads: 2 }), 'after removes');
});

test('hnsw threads: cosine batches too', () => {
  const index = new HnswIndex({ dim: DIM, metric: 'cosine', threads: 1 });
  index.add(ids.subarray(0, 3000), { dim: DIM, count: 3000, data: data.base.data.subarray(0, 3000 * DIM) });
  index.threads = 2;
  sameRows(index.searchBatch(data.queries, 5, { threads: 1 }), index.searchBatch(data.queries, 5), 'cosine');
});

test('hnsw threads: threads 1 builds the same graph every time, above the parallel threshold too', () => {
  const again = new HnswIndex({ dim: DIM, threads: 4 });
  again.add(ids, data.base, { threads: 1 });
  assert.deepEqual(concat(serializeIndex(again)), concat(serializeIndex(built1())));
});

test('hnsw threads: a 2-thread build keeps the recall of one thread, reaches every node, and round-trips', () => {
  const one = built1();
  const two = new HnswIndex({ dim: DIM, threads: 2 });
  const seen: number[] = [];
  two.add(ids, data.base, { onProgress: (done, total) => { assert.equal(total, N); seen.push(done); } });
  assert.equal(seen.at(-1), N);
  assert.equal(two.size, N);
  // Recall at the same efSearch against the exact oracle (400 queries × 10): a parallel build may
  // differ from the one-thread graph, never be worse by more than 0.005.
  for (const efSearch of [10, 20]) {
    const r1 = recall(one.searchBatch(data.queries, 10, { efSearch, threads: 1 }));
    const r2 = recall(two.searchBatch(data.queries, 10, { efSearch, threads: 1 }));
    assert.ok(r2 >= r1 - 0.005, `ef ${efSearch}: 2 threads ${r2}, 1 thread ${r1}`);
  }
  // Every node reachable: a search as wide as the index walks everything reachable from the
  // entry, so each vector missed by its own vector at efSearch 64 (a few: concurrent inserts do
  // not see each other; 0–7 of 6,000 over 15 quiet builds, 10 once on a loaded CI machine, 0 for
  // one thread) must be found by it then.
  const self = two.searchBatch(data.base, 1, { efSearch: 64, threads: 2 });
  const missed: number[] = [];
  for (let i = 0; i < N; i++) if (self.ids[i] !== i) missed.push(i);
  assert.ok(missed.length <= N / 200, `${missed.length} vectors not found by their own vector at efSearch 64`);
  for (const i of missed) assert.equal(two.search(data.base.data.subarray(i * DIM, (i + 1) * DIM), 1, { efSearch: N }).ids[0], i, `vector ${i} unreachable`);
  // File round-trip: the same answers, the same bytes.
  const bytes = concat(serializeIndex(two));
  const loaded = deserializeIndex(bytes) as HnswIndex;
  sameRows(two.searchBatch(data.queries, 10, { threads: 1 }), loaded.searchBatch(data.queries, 10, { threads: 1 }), 'loaded');
  assert.deepEqual(concat(serializeIndex(loaded)), bytes);
});

test('hnsw threads: a parallel add into an index with removed nodes and free slots', () => {
  const index = deserializeIndex(concat(serializeIndex(built1()))) as HnswIndex;
  index.remove(ids.filter((id) => id % 10 === 0)); // 600: reclaimed, their slots freed
  index.remove(ids.filter((id) => id % 10 === 1).subarray(0, 30)); // pending deletes
  const more = clusteredData(32, N, 0, DIM, 40).base;
  const moreIds = Uint32Array.from({ length: N }, (_, i) => N + i);
  index.add(moreIds, more, { threads: 2 });
  assert.equal(index.size, N - 630 + N);
  const self = index.searchBatch(more, 1, { efSearch: 64, threads: 2 });
  let missed = 0;
  for (let i = 0; i < N; i++) {
    if (self.ids[i] === N + i) continue;
    missed++;
    assert.equal(index.search(more.data.subarray(i * DIM, (i + 1) * DIM), 1, { efSearch: 2 * N }).ids[0], N + i, `vector ${N + i} unreachable`);
  }
  assert.ok(missed <= N / 200, `${missed} new vectors not found by their own vector`);
  assert.ok(!index.has(0) && !index.has(291) && index.has(301) && index.has(2));
  const loaded = deserializeIndex(concat(serializeIndex(index))) as HnswIndex;
  sameRows(index.searchBatch(data.queries, 10, { threads: 1 }), loaded.searchBatch(data.queries, 10, { threads: 2 }), 'loaded');
});

test('hnsw threads: thread counts are integers ≥ 1', () => {
  const bad = [0, -2, 1.5, NaN, '2'];
  const isInvalid = (e: unknown): boolean => e instanceof OmnivecError && e.code === 'invalid_argument' && /threads/.test(e.message);
  for (const threads of bad) {
    assert.throws(() => new HnswIndex({ dim: 4, threads: threads as number }), isInvalid);
  }
  const index = new HnswIndex({ dim: 4 });
  const batch = { dim: 4, count: 2, data: new Float32Array(8).fill(1) };
  for (const threads of bad) {
    assert.throws(() => { index.threads = threads as number; }, isInvalid);
    assert.throws(() => index.add([1, 2], batch, { threads: threads as number }), isInvalid);
  }
  assert.equal(index.size, 0, 'a refused add changes nothing');
  index.add([1, 2], batch);
  for (const threads of bad) assert.throws(() => index.searchBatch(batch, 1, { threads: threads as number }), isInvalid);
});

test('hnsw threads: a process that built on 2 threads exits on its own', () => {
  const code = `
    import { HnswIndex } from ${JSON.stringify(new URL('./hnsw-index.ts', import.meta.url).href)};
    const dim = 8, n = 6000;
    const data = new Float32Array(n * dim).map((_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1);
    const index = new HnswIndex({ dim, threads: 2, efConstruction: 32 });
    index.add(Uint32Array.from({ length: n }, (_, i) => i), { dim, count: n, data });
    const r = index.searchBatch({ dim, count: 64, data: data.subarray(0, 64 * dim) }, 1);
    console.log(index.size, r.ids[63]);`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.error, undefined, 'the child exits on its own');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^6000 63$/m);
});
