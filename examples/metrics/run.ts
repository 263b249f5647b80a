/**
 * L2, inner product and cosine give the same ranking on unit-length vectors:
 * ‖a − b‖² = 2 − 2 a·b and cos(a, b) = a·b when ‖a‖ = ‖b‖ = 1, so each distance is a decreasing
 * function of the dot product. Shown on seeded random vectors with three exact (flat) indexes.
 *
 *   node --import tsx examples/metrics/run.ts [--count 10000] [--dim 64] [--k 10] [--seed 42]
 */
import { parseArgs } from 'node:util';
import { FlatIndex, Random, normalizeBatch, vectorBatch, type Metric } from '../../src/index.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    dim: { type: 'string', default: '64' },
    k: { type: 'string', default: '10' },
    seed: { type: 'string', default: '42' },
  },
});
const [count, dim, k, seed] = [values.count, values.dim, values.k, values.seed].map(Number) as [number, number, number, number];

const rng = new Random(seed);
const data = new Float32Array(count * dim);
for (let i = 0; i < data.length; i++) data[i] = rng.gaussian();
const vectors = normalizeBatch(vectorBatch(data, dim));
const query = new Float32Array(dim);
for (let i = 0; i < dim; i++) query[i] = rng.gaussian();
const q = normalizeBatch(vectorBatch(query, dim)).data;
const ids = Uint32Array.from({ length: count }, (_, i) => i);

process.stdout.write(`${count.toLocaleString('en-US')} random unit vectors of ${dim} dimensions (seed ${seed}); the ${k} nearest to a random unit query:\n\n`);
const rankings: Record<string, number[]> = {};
const rows: string[][] = [];
for (const metric of ['l2', 'ip', 'cosine'] as Metric[]) {
  const index = new FlatIndex({ dim, metric });
  index.add(ids, vectors);
  const hits = index.search(q, k);
  rankings[metric] = [...hits.ids];
  rows.push([metric, ...[...hits.ids].map((id, r) => `${id} (${hits.distances[r]!.toFixed(4)})`)]);
}
process.stdout.write(`rank  ${['l2: id (‖a − b‖²)', 'ip: id (1 − a·b)', 'cosine: id (1 − cos)'].map((h) => h.padEnd(24)).join('').trimEnd()}\n`);
for (let r = 0; r < k; r++) {
  process.stdout.write(`${String(r + 1).padStart(4)}  ${rows.map((row) => row[r + 1]!.padEnd(24)).join('').trimEnd()}\n`);
}
const same = rankings.l2!.every((id, r) => id === rankings.ip![r] && id === rankings.cosine![r]);
// The identity behind it, checked on the first hit: l2 = 2 · (1 − a·b) = 2 · ip distance.
const first = rankings.l2![0]!;
const v = vectors.data.subarray(first * dim, (first + 1) * dim);
let dot = 0;
let l2 = 0;
for (let i = 0; i < dim; i++) { dot += v[i]! * q[i]!; l2 += (v[i]! - q[i]!) ** 2; }
process.stdout.write(`\nfor id ${first}: ‖a − b‖² = ${l2.toFixed(6)}, 2 − 2·a·b = ${(2 - 2 * dot).toFixed(6)}\n`);
process.stdout.write(same ? 'same: the three rankings are identical\n' : 'DIFFERENT: the rankings disagree\n');
process.exitCode = same ? 0 : 1;
