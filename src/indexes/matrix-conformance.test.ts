/**
 * Every index × quantisation × thread count against the float64 oracle (docs/indexes/scale.md):
 * recall@10 floors, exact distances (quantised indexes re-score), the threaded batch answering
 * exactly as one thread does, and `threads: 1` building the same bytes twice. The per-kind suites
 * (conformance.ts, quant/conformance.ts, the *-threads tests) cover the rest of the contract.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { clusteredData, concat, oracle, refDistance } from './conformance.js';
import { serializeIndex } from './registry.js';
import { FlatIndex, parallelThresholds } from './flat/flat-index.js';
import { HnswIndex } from './hnsw/hnsw-index.js';
import { IvfIndex } from './ivf/ivf-index.js';
import type { VectorIndex } from './types.js';
import type { VectorBatch } from '../vector/batch.js';

// Share out even small batches (the thresholds are about cost, not correctness).
const saved = { ...parallelThresholds };
before(() => Object.assign(parallelThresholds, { minWork: 0, minPass: 0 }));
after(() => Object.assign(parallelThresholds, saved));

const K = 10;
// 5,200 vectors: above HNSW's parallel-insert threshold (5,000); 96 queries: several blocks of the flat batch kernel.
const data = clusteredData(1616, 5200, 96, 64, 40, 0.5);
const ids = Uint32Array.from({ length: data.base.count }, (_, i) => i * 3 + 1);
const pos = new Map<number, number>();
ids.forEach((id, i) => pos.set(id, i));
const rowOf = (b: VectorBatch, i: number): Float32Array => b.data.subarray(i * b.dim, (i + 1) * b.dim);

type Make = (o: { quantization: string; threads: number; rescore?: number }) => VectorIndex;
const KINDS: { kind: string; make: Make; quantizations: string[]; search: Record<string, number>; floor: Record<string, number> }[] = [
  {
    kind: 'flat', make: (o) => new FlatIndex({ dim: 64, metric: 'l2', ...o } as never), quantizations: ['none', 'int8', 'binary'],
    search: {}, floor: { none: 1, int8: 0.98, binary: 0.9 },
  },
  {
    kind: 'ivf', make: (o) => new IvfIndex({ dim: 64, metric: 'l2', nList: 32, nProbe: 8, seed: 3, ...o } as never),
    quantizations: ['none', 'int8', 'binary', 'pq'], search: {}, floor: { none: 0.9, int8: 0.9, binary: 0.85, pq: 0.9 },
  },
  {
    kind: 'hnsw', make: (o) => new HnswIndex({ dim: 64, metric: 'l2', m: 12, efConstruction: 100, ...o } as never),
    quantizations: ['none', 'int8', 'binary'], search: { efSearch: 64 }, floor: { none: 0.95, int8: 0.95, binary: 0.9 },
  },
];

function build(make: Make, quantization: string, threads: number): VectorIndex {
  // binary on clustered (isotropic) data needs a deep re-scoring (docs/indexes/quantization.md).
  const index = make({ quantization, threads, ...(quantization === 'binary' ? { rescore: 32 } : {}) });
  if (!index.isTrained) index.train(data.base);
  index.add(ids, data.base);
  return index;
}

for (const { kind, make, quantizations, search, floor } of KINDS) {
  for (const q of quantizations) {
    test(`${kind} × ${q} × threads 1 and 2: recall@10 ≥ ${floor[q]} against the float64 oracle, exact distances, the 2-thread batch = the 1-thread batch, threads 1 reproducible`, { timeout: 120_000 }, () => {
      const one = build(make, q, 1);
      const two = build(make, q, 2);
      // threads: 1 is deterministic: a second build writes the same bytes.
      assert.deepEqual(concat(serializeIndex(build(make, q, 1))), concat(serializeIndex(one)), 'threads 1 builds the same index twice');
      const recallOf = (index: VectorIndex, threads: number): number => {
        const res = index.searchBatch(data.queries, K, { ...search, threads });
        let hit = 0;
        for (let i = 0; i < data.queries.count; i++) {
          const query = rowOf(data.queries, i);
          const want = new Set(oracle('l2', data.base, ids, query, K).ids);
          for (let r = 0; r < res.counts[i]!; r++) {
            const id = res.ids[i * K + r]!;
            if (want.has(id)) hit++;
            const exact = refDistance('l2', query, rowOf(data.base, pos.get(id)!));
            // Quantised indexes return re-scored distances; PQ's float lists too. Float32 rounding only.
            assert.ok(Math.abs(res.distances[i * K + r]! - exact) <= 1e-3 * Math.max(1, exact), `${kind} ${q} query ${i}: distance ${res.distances[i * K + r]} vs exact ${exact}`);
          }
        }
        return hit / (data.queries.count * K);
      };
      for (const [label, index] of [['built on 1 thread', one], ['built on 2 threads', two]] as const) {
        const r1 = recallOf(index, 1);
        assert.ok(r1 >= floor[q]!, `${label}: recall@10 ${r1} < ${floor[q]}`);
        // Each query is answered by one thread: the batch on 2 threads is the batch on 1, bit for bit.
        const a = index.searchBatch(data.queries, K, { ...search, threads: 1 });
        const b = index.searchBatch(data.queries, K, { ...search, threads: 2 });
        assert.deepEqual(b.counts, a.counts, `${label}: counts`);
        assert.deepEqual(b.ids, a.ids, `${label}: ids`);
        assert.deepEqual(b.distances, a.distances, `${label}: distances`);
      }
      // A parallel build is another graph of the same quality (HNSW); flat and IVF build the same index.
      const d = Math.abs(recallOf(two, 1) - recallOf(one, 1));
      assert.ok(d <= 0.02, `${kind} ${q}: recall of the 2-thread build differs by ${d}`);
      if (kind !== 'hnsw') assert.deepEqual(concat(serializeIndex(two)), concat(serializeIndex(one)), 'flat / IVF: 2 threads build the same bytes');
    });
  }
}
