import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from './database.js';
import { matchesWhere, type Metadata, type Where } from './where.js';
import { reciprocalRankFusion, maxSim } from './fusion.js';
import { Random } from '../vector/random.js';
import { withDatabase } from '../../test/helpers/assertions.js';

const withDb = (fn: (db: Database) => Promise<void>): Promise<void> => withDatabase('omnivec-q-', fn);

function l2(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) { const d = a[i]! - b[i]!; s += d * d; }
  return s;
}

test('filtered search returns min(k, matches) hits at every selectivity, recall ≥ 0.95 against the exact oracle, every operator', async () => {
  await withDb(async (db) => {
    const n = 20_000;
    const dim = 16;
    const rng = new Random(11);
    const data = new Float32Array(n * dim);
    for (let i = 0; i < data.length; i++) data[i] = rng.gaussian();
    const metas: Metadata[] = [];
    const genres = ['rock', 'jazz', 'pop', 'folk'];
    for (let i = 0; i < n; i++) {
      const m: Metadata = { bucket: rng.int(1000), genre: genres[rng.int(4)]!, score: Math.round(rng.next() * 1000) / 10, tags: [genres[rng.int(4)]!, genres[rng.int(4)]!] };
      if (rng.next() < 0.3) m.flag = rng.next() < 0.5;
      if (rng.next() < 0.1) m.note = null;
      metas.push(m);
    }
    const c = await db.createCollection({ name: 'f', dim, metric: 'l2', index: { kind: 'hnsw', efConstruction: 100 } });
    await c.add({ ids: Array.from({ length: n }, (_, i) => `r${i}`), vectors: data, metadatas: metas });
    const k = 10;
    const filters: [string, Where][] = [
      ['50%', { bucket: { $lt: 500 } }],
      ['10%', { bucket: { $gte: 100, $lt: 200 } }],
      ['1%', { bucket: { $in: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] } }],
      ['0.1%', { bucket: 777 }],
      ['$eq', { genre: { $eq: 'jazz' } }],
      ['$ne', { genre: { $ne: 'jazz' } }],
      ['$gt/$lte', { score: { $gt: 20, $lte: 21 } }],
      ['$nin', { genre: { $nin: ['rock', 'pop', 'folk'] } }],
      ['$exists', { flag: { $exists: true } }],
      ['$and/$or', { $and: [{ $or: [{ genre: 'pop' }, { flag: true }] }, { bucket: { $lt: 50 } }] }],
      ['$not', { $not: { bucket: { $gte: 5 } } }],
      ['array element', { tags: 'folk', bucket: { $lt: 20 } }],
      ['null', { note: null, bucket: { $lt: 10 } }],
      ['fewer than k', { bucket: 3, score: { $lt: 30 } }],
      ['none', { bucket: 5000 }],
    ];
    const queries = 30;
    for (const [label, where] of filters) {
      const matching: number[] = [];
      for (let i = 0; i < n; i++) if (matchesWhere(metas[i]!, where)) matching.push(i);
      let hits = 0;
      let want = 0;
      for (let q = 0; q < queries; q++) {
        const qv = new Float32Array(dim);
        for (let j = 0; j < dim; j++) qv[j] = rng.gaussian();
        const exact = matching.map((i) => [i, l2(qv, data.subarray(i * dim, (i + 1) * dim))] as const).sort((a, b) => a[1] - b[1]).slice(0, k);
        const res = await c.query({ vector: qv, k, where });
        assert.equal(res.ids.length, Math.min(k, matching.length), `${label}: expected min(k, ${matching.length}) hits`);
        for (const m of res.metadatas!) assert.ok(matchesWhere(m, where), `${label}: a hit does not match the filter`);
        const truth = new Set(exact.map(([i]) => `r${i}`));
        want += truth.size;
        for (const id of res.ids) if (truth.has(id)) hits++;
      }
      const recall = want === 0 ? 1 : hits / want;
      assert.ok(recall >= 0.95, `${label}: recall@10 ${recall.toFixed(3)} < 0.95 (${matching.length} matching)`);
    }
  });
});

test('hybrid: BM25 full text, sparse dot product, RRF and weighted fusion, MaxSim re-ranking, whereDocument', async () => {
  await withDb(async (db) => {
    const c = await db.createCollection({ name: 'h', dim: 3, metric: 'cosine', index: 'flat' });
    const docs = [
      'the cat sat on the mat', 'a dog chased the cat', 'quantum physics lecture notes',
      'cat food recipes for cats', 'dogs and cats living together', 'the stock market fell today',
    ];
    const vecs = [[1, 0, 0], [0.9, 0.1, 0], [0, 0, 1], [0.7, 0.7, 0], [0.5, 0.5, 0.5], [0, 1, 0]];
    const sparse: Record<string, number>[] = [{ cat: 1.2, mat: 0.5 }, { dog: 1, cat: 0.8 }, { quantum: 2 }, { cat: 0.4, food: 1.5 }, { dog: 0.6, cat: 0.6 }, { stock: 1.1 }];
    const mv = [
      [[1, 0], [0, 1]], [[0.6, 0.8]], [[0, 1]], [[1, 0]], [[0.8, 0.6], [0, 1]], [[-1, 0]],
    ];
    await c.add(docs.map((d, i) => ({ id: `d${i}`, vector: vecs[i]!, document: d, sparse: sparse[i], multiVector: mv[i], metadata: { i } })));

    // Full text alone: BM25 finds the documents with the term, best first.
    const t = await c.query({ fullText: 'cat', k: 10 });
    assert.deepEqual(new Set(t.ids), new Set(['d0', 'd1', 'd3', 'd4']));
    const tf = await c.query({ fullText: 'cat', k: 10, where: { i: { $gte: 2 } } });
    assert.deepEqual(new Set(tf.ids), new Set(['d3', 'd4']));
    const td = await c.query({ fullText: 'cat', k: 10, whereDocument: { $contains: 'dog' } });
    assert.deepEqual(new Set(td.ids), new Set(['d1', 'd4']));
    assert.deepEqual((await c.query({ fullText: '"quantum" (NEAR* -', k: 3 })).ids, ['d2'], 'FTS5 syntax in user text is quoted, not parsed');
    assert.deepEqual((await c.query({ fullText: '   ', k: 3 })).ids, []);

    // Sparse alone: ranking by dot product.
    const s = await c.query({ sparse: { cat: 1, dog: 0.5 }, k: 10 });
    const dots = sparse.map((sv, i) => [`d${i}`, (sv.cat ?? 0) * 1 + (sv.dog ?? 0) * 0.5] as const)
      .filter(([, d]) => d > 0).sort((a, b) => b[1] - a[1]);
    assert.deepEqual(s.ids, dots.map(([id]) => id));
    assert.ok(Math.abs(s.scores[0]! - dots[0]![1]) < 1e-6);
    assert.deepEqual((await c.query({ sparse: { unknown: 1 }, k: 3 })).ids, []);

    // Dense + text fused by RRF equals RRF over the two lists computed separately.
    const dense = await c.query({ vector: [1, 0.2, 0], k: 6 });
    const text = await c.query({ fullText: 'cat dog', k: 6 });
    const slot = (id: string): number => Number(id.slice(1)) + 1;
    const expect = reciprocalRankFusion([
      { ids: dense.ids.map(slot), scores: dense.scores }, { ids: text.ids.map(slot), scores: text.scores },
    ], { limit: 3 });
    const fused = await c.query({ vector: [1, 0.2, 0], fullText: 'cat dog', k: 3 });
    assert.equal(fused.ids.length, 3);
    // Slots are SQLite rowids (d0 is slot 1 here): map the expected slots back to ids through the two lists.
    const bySlot = new Map(dense.ids.map((id) => [slot(id), id]));
    for (const id of text.ids) bySlot.set(slot(id), id);
    assert.deepEqual(fused.ids, Array.from(expect.ids, (x) => bySlot.get(x)!));
    const weighted = await c.query({ vector: [1, 0.2, 0], fullText: 'cat dog', k: 3, fusion: { weights: { dense: 1, fullText: 0 } } });
    assert.deepEqual(weighted.ids, dense.ids.slice(0, 3), 'text weight 0: the dense order');

    // MaxSim re-ranking of the candidates.
    const qmv = [[1, 0], [0, 1]];
    const mres = await c.query({ fullText: 'cat', multiVector: qmv, k: 4 });
    const expected = ['d0', 'd1', 'd3', 'd4'].map((id) => {
      const m = mv[Number(id.slice(1))]!;
      return [id, maxSim(new Float32Array(qmv.flat()), 2, new Float32Array(m.flat()), m.length, 2)] as const;
    }).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    assert.deepEqual(mres.ids, expected.map(([id]) => id));
    await assert.rejects(c.query({ fullText: 'cat', multiVector: [[1, 0, 0]], k: 2 }), /dimension 2/);
    await assert.rejects(c.add([{ id: 'x', vector: [1, 0, 0], multiVector: [[1, 2, 3]] }]), /dimension 2/);
    await assert.rejects(c.add([{ id: 'x', vector: [1, 0, 0], sparse: { a: NaN } }]), /finite/);
    await assert.rejects(c.query({ k: 2 }), /at least one of vector, text, fullText, sparse/);

    // Deletes and upserts reach the sparse and full-text indexes.
    await c.delete({ ids: ['d0'] });
    await c.upsert([{ id: 'd3', vector: [0, 0, 1], document: 'nothing about felines', sparse: { stock: 1 } }]);
    assert.deepEqual(new Set((await c.query({ fullText: 'cat', k: 10 })).ids), new Set(['d1', 'd4']));
    assert.deepEqual(new Set((await c.query({ sparse: { cat: 1 }, k: 10 })).ids), new Set(['d1', 'd4']));
  });
});

test('Matryoshka funnel: the index holds a prefix, results are re-ranked with the full vectors', async () => {
  await withDb(async (db) => {
    const n = 2000;
    const dim = 32;
    const rng = new Random(3);
    const data = new Float32Array(n * dim);
    for (let i = 0; i < data.length; i++) data[i] = rng.gaussian() / (1 + Math.floor((i % dim) / 8));
    const c = await db.createCollection({ name: 'm', dim, metric: 'l2', index: 'flat', indexDims: 8 });
    assert.equal(c.indexDim, 8);
    await c.add({ ids: Array.from({ length: n }, (_, i) => String(i)), vectors: data });
    let hits = 0;
    let prefixOnlyHits = 0;
    for (let q = 0; q < 20; q++) {
      const qv = data.slice(q * dim, (q + 1) * dim).map((x) => x + rng.gaussian() * 0.3);
      const exact = Array.from({ length: n }, (_, i) => [i, l2(qv, data.subarray(i * dim, (i + 1) * dim))] as const).sort((a, b) => a[1] - b[1]).slice(0, 10);
      const res = await c.query({ vector: qv, k: 10, funnel: 20 });
      const truth = new Set(exact.map(([i]) => String(i)));
      for (const id of res.ids) if (truth.has(id)) hits++;
      const prefix = Array.from({ length: n }, (_, i) => [i, l2(qv.subarray(0, 8), data.subarray(i * dim, i * dim + 8))] as const).sort((a, b) => a[1] - b[1]).slice(0, 10);
      for (const [i] of prefix) if (truth.has(String(i))) prefixOnlyHits++;
      // Distances are the full-vector ones.
      assert.ok(Math.abs(res.distances[0]! - l2(qv, data.subarray(Number(res.ids[0]) * dim, (Number(res.ids[0]) + 1) * dim))) < 1e-3);
    }
    assert.ok(hits / 200 >= 0.95, `funnel recall ${hits / 200}`);
    assert.ok(hits > prefixOnlyHits, `re-ranking must beat the prefix alone (${hits} vs ${prefixOnlyHits})`);
  });
});

test('sparse writes follow the sparse index rules: out-of-range weights and repeated indices are refused, nothing stored', async () => {
  await withDb(async (db) => {
    const c = await db.createCollection({ name: 's', dim: 2, metric: 'l2', index: 'flat' });
    await c.add([{ id: 'a', vector: [0, 0], sparse: { indices: [3, 9], values: [0.5, 2] } }]);
    await assert.rejects(c.add([{ id: 'b', vector: [0, 0], sparse: { big: 1e39 } }]), /float32|range|finite/);
    await assert.rejects(c.add([{ id: 'b', vector: [0, 0], sparse: { indices: [3, 3], values: [1, 1] } }]), /unique indices/);
    assert.equal((await c.count()), 1);
    const r = await c.query({ sparse: { indices: [9], values: [1] }, k: 5 });
    assert.deepEqual(r.ids, ['a']);
    assert.equal(r.scores[0], 2);
  });
});

test('id-only queries are right while the slot → id cache loads in the background and writes come in between', async () => {
  await withDb(async (db) => {
    const dim = 4;
    const rng = new Random(5);
    const c = await db.createCollection({ name: 'ids', dim, metric: 'l2', index: 'flat' });
    const live = new Map<string, Float32Array>();
    const put = async (ids: string[]): Promise<void> => {
      const data = new Float32Array(ids.length * dim);
      for (let i = 0; i < data.length; i++) data[i] = rng.gaussian();
      ids.forEach((id, i) => live.set(id, data.slice(i * dim, (i + 1) * dim)));
      await c.upsert({ ids, vectors: data });
    };
    // 40,000 records: the background read takes three pages, with writes landing between them.
    await put(Array.from({ length: 40_000 }, (_, i) => `r${i}`));
    const check = async (): Promise<void> => {
      const q = Float32Array.from({ length: dim }, () => rng.gaussian());
      const want = [...live].map(([id, v]) => [id, l2(q, v)] as const).sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5).map((x) => x[0]);
      const got = await c.query({ vector: q, k: 5, include: [] });
      assert.deepEqual([...got.ids], want);
    };
    for (let round = 0; round < 12; round++) {
      await check(); // the first starts the background read
      if (round % 3 === 0) await put([`new${round}`, `r${round}`]); // a new record and one moved to a new slot
      if (round % 3 === 1) { const gone = [`r${100 + round}`, `new${round - 1}`]; await c.delete({ ids: gone }); gone.forEach((id) => live.delete(id)); }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setTimeout(resolve, 5)); // the read is done by now
    for (let round = 0; round < 5; round++) await check();
  });
});
