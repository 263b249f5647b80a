import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openDatabase } from '../src/db/database.js';
import { createBgeM3, colbertScore, denseScore, lexicalMatchingScore, type BgeM3Output } from '../src/encoders/bge-m3/index.js';
import { writeBgeM3ShapedModel } from './helpers/onnx-build.js';
import { assertClose, withTempDir } from './helpers/assertions.js';

/**
 * BGE-M3 end to end: a BGE-M3-shaped tiny model (heads in the graph, and heads from weight files)
 * encodes documents, a collection stores all three outputs per record, and each kind of query
 * ranks and scores as scores.ts computes directly.
 */

const vocab = ['sea', 'ship', 'sail', 'bread', 'oven', 'flour', 'judge', 'court', 'law', 'the'];
const dim = 6;
const cdim = 4;
let seed = 3;
const rnd = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return ((seed >>> 8) / 2 ** 24) * 2 - 1; };
const model = {
  vocab, dim, tanh: true,
  vectors: Float32Array.from({ length: vocab.length * dim }, rnd),
  sparseWeight: Float32Array.from({ length: dim }, rnd),
  sparseBias: 0.8,
  colbertWeight: Float32Array.from({ length: dim * cdim }, rnd),
  colbertBias: Float32Array.from({ length: cdim }, rnd),
};

const docs = [
  'the ship sail sea', 'the sea sea', 'bread oven flour', 'the bread', 'judge court law the',
  'law court', 'sail ship', 'flour the oven bread sea',
];
const ids = docs.map((_, i) => `d${i}`);
const queries = ['ship sea', 'oven bread', 'law', 'the sail'];

/**
 * `got` holds exactly `expected` (ids with their scores from scores.ts), best first. Equal scores
 * may come in any order: the tiny model makes exact ties, which float rounding then orders
 * differently in the database and here.
 */
function assertRanked(got: readonly string[], expected: Map<string, number>, what: string): void {
  assert.deepEqual([...got].sort(), [...expected.keys()].sort(), `${what}: the hits`);
  for (let j = 1; j < got.length; j++) {
    const prev = expected.get(got[j - 1]!)!;
    const cur = expected.get(got[j]!)!;
    assert.ok(prev >= cur - 1e-6 * Math.max(1, Math.abs(cur)), `${what}: ${got[j - 1]} (${prev}) before ${got[j]} (${cur})`);
  }
}

const byId = (scores: readonly number[], keep: (i: number) => boolean = () => true): Map<string, number> =>
  new Map(ids.flatMap((id, i) => (keep(i) ? [[id, scores[i]!] as const] : [])));

/** Weighted fusion as the collection does it: min-max per list over its hits, 0 when absent. */
function fused(lists: { hits: Map<string, number>; weight: number }[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const { hits, weight } of lists) {
    const v = [...hits.values()];
    const min = Math.min(...v);
    const range = Math.max(...v) - min;
    for (const [id, s] of hits) out.set(id, (out.get(id) ?? 0) + weight * (range > 0 ? (s - min) / range : 1));
  }
  return out;
}

test('BGE-M3 in a collection: dense, sparse, MaxSim re-ranking and weighted fusion agree with scores.ts', () => withTempDir('omnivec-m3-db-', async (dir) => {
  const results: Map<string, number>[] = [];
  const encodings: BgeM3Output[] = [];
  for (const headsInGraph of [true, false]) {
    const folder = join(dir, `m3-${headsInGraph}`);
    await writeBgeM3ShapedModel(folder, { ...model, headsInGraph });
    const m3 = await createBgeM3(folder, { threads: 1, batchSize: 3, name: 'tiny-bge-m3' });
    const db = await openDatabase(join(dir, `db-${headsInGraph}`));
    try {
      const col = await db.createCollection({ name: 'docs', dim: m3.dim, metric: 'ip', encoder: m3.spec });
      await col.add(await m3.toRecords(ids, docs));
      const d = await m3.encode(docs);
      const q = await m3.encode(queries, { mode: 'query' });
      encodings.push(d, q);
      const seen = new Map<string, number>();
      const orders: string[] = [];
      for (let qi = 0; qi < queries.length; qi++) {
        const what = `${headsInGraph} "${queries[qi]}"`;
        // Dense: inner product. (The tiny model's <s> state is the same for every text, so every
        // document ties at q · p = 1 here; the scores are still checked one by one.)
        const dense = docs.map((_, i) => denseScore(q.dense[qi]!, d.dense[i]!));
        const rd = await col.query({ vector: q.dense[qi]!, k: docs.length });
        assert.equal(rd.ids.length, docs.length);
        rd.ids.forEach((id, j) => assertClose(rd.scores[j]!, dense[ids.indexOf(id)]!, { relative: 1e-5 }, `${what} dense ${id}`));

        // Sparse: the lexical matching score; documents sharing no token are not hits.
        const lexical = docs.map((_, i) => lexicalMatchingScore(q.sparse[qi]!, d.sparse[i]!));
        const rs = await col.query({ sparse: q.sparse[qi]!, k: docs.length });
        assert.ok(rs.ids.length > 0, `${what}: shares a token with some document`);
        assertRanked(rs.ids, byId(lexical, (i) => lexical[i]! > 0), `${what} sparse`);
        rs.ids.forEach((id, j) => assertClose(rs.scores[j]!, lexical[ids.indexOf(id)]!, { relative: 1e-5 }, `${what} sparse ${id}`));

        // MaxSim re-ranking of the dense candidates (all documents): colbert_score's order; the
        // database scores the sum over query vectors, colbert_score the mean.
        const colbert = docs.map((_, i) => colbertScore(q.colbert[qi]!, d.colbert[i]!));
        const rm = await col.query({ vector: q.dense[qi]!, multiVector: q.colbert[qi]!, k: docs.length });
        assertRanked(rm.ids, byId(colbert), `${what} MaxSim`);
        rm.ids.forEach((id, j) => assertClose(rm.scores[j]!, colbert[ids.indexOf(id)]! * q.colbert[qi]!.count, { relative: 1e-5 }, `${what} MaxSim ${id}`));

        // Weighted fusion of dense and sparse with compute_score's weights (0.4, 0.2).
        const want = fused([
          { hits: new Map(ids.map((id, i) => [id, dense[i]!])), weight: 0.4 },
          { hits: new Map(ids.filter((_, i) => lexical[i]! > 0).map((id) => [id, lexical[ids.indexOf(id)]!])), weight: 0.2 },
        ]);
        const rf = await col.query({ vector: q.dense[qi]!, sparse: q.sparse[qi]!, fusion: { weights: { dense: 0.4, sparse: 0.2 } }, k: docs.length });
        assertRanked(rf.ids, want, `${what} fusion`);
        rf.ids.forEach((id, j) => assertClose(rf.scores[j]!, want.get(id)!, { relative: 1e-5 }, `${what} fusion ${id}`));

        // Sparse candidates re-ranked by MaxSim: only documents sharing a token, in colbert order.
        const rsm = await col.query({ sparse: q.sparse[qi]!, multiVector: q.colbert[qi]!, k: docs.length });
        assertRanked(rsm.ids, byId(colbert, (i) => lexical[i]! > 0), `${what} sparse + MaxSim`);
        for (const [kind, r] of [['dense', rd], ['sparse', rs], ['maxsim', rm], ['fusion', rf], ['sparse+maxsim', rsm]] as const) {
          r.ids.forEach((id, j) => seen.set(`${qi} ${kind} ${id}`, r.scores[j]!));
          orders.push(r.ids.join());
        }
      }
      // The rankings depend on the query (sparse and MaxSim of "ship sea" vs "oven bread").
      assert.notEqual(orders[1], orders[6]);
      assert.notEqual(orders[2], orders[7]);
      results.push(seen);
    } finally {
      await db.close();
      await m3.close();
    }
  }
  // Both sources of the heads give the same hits with the same scores, and the same outputs.
  assert.deepEqual([...results[0]!.keys()].sort(), [...results[1]!.keys()].sort());
  for (const [key, score] of results[0]!) assertClose(score, results[1]!.get(key)!, { relative: 1e-5 }, `heads in graph vs files: ${key}`);
  const [dg, qg, dw, qw] = encodings as [BgeM3Output, BgeM3Output, BgeM3Output, BgeM3Output];
  for (const [a, b] of [[dg, dw], [qg, qw]] as const) {
    a.dense.forEach((v, i) => v.forEach((x, c) => assertClose(x, b.dense[i]![c]!, { relative: 1e-5 }, `dense ${i}`)));
    a.sparse.forEach((v, i) => {
      assert.deepEqual(v.indices, b.sparse[i]!.indices);
      v.values.forEach((x, c) => assertClose(x, b.sparse[i]!.values[c]!, { relative: 1e-5 }, `sparse ${i}`));
    });
    a.colbert.forEach((v, i) => v.data.forEach((x, c) => assertClose(x, b.colbert[i]!.data[c]!, { relative: 1e-5 }, `colbert ${i}`)));
  }
}));
