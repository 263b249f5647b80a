/**
 * Barnes–Hut t-SNE (src/viz/tsne/): the quadtree against brute force, the affinities against
 * their definition, and whole runs on data with known structure (separated clusters stay
 * separated, KL divergence decreases, seeded runs reproduce).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Random } from '../../vector/random.js';
import { closePool } from '../../parallel/pool.js';
import { parallelThresholds } from '../../indexes/flat/flat-index.js';
import { QuadTree } from './quadtree.js';
import { conditionalP, neighbourGraph, symmetrise } from './affinities.js';
import { tsneSteps, tsneThresholds, type TsneOptimiser, type TsneOptions } from './tsne.js';
import { project } from '../projection.js';

after(() => closePool());

/** `clusters` Gaussian blobs of `per` points in `dim` dimensions, centres 10 apart on the axes. */
function blobs(clusters: number, per: number, dim: number, seed: number): { data: Float32Array; label: Int32Array; n: number } {
  const rng = new Random(seed);
  const n = clusters * per;
  const data = new Float32Array(n * dim);
  const label = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % clusters;
    label[i] = c;
    for (let j = 0; j < dim; j++) data[i * dim + j] = (j === c ? 10 : 0) + rng.gaussian();
  }
  return { data, label, n };
}

function run(data: Float32Array, n: number, dim: number, options: TsneOptions, watch?: (it: number, o: TsneOptimiser) => void): Float32Array {
  let opt: TsneOptimiser | undefined;
  const g = tsneSteps(data, n, dim, options, (o) => { opt = o; watch?.(0, o); });
  for (;;) {
    const r = g.next();
    if (r.done === true) return r.value;
    if (r.value.phase === 'optimising') watch?.(r.value.done, opt!);
  }
}

test('quadtree: θ = 0 repulsion equals the brute-force sums (duplicates included); θ = 0.5 stays close', () => {
  const rng = new Random(3);
  const n = 300;
  const y = new Float64Array(2 * n);
  for (let i = 0; i < 2 * n; i++) y[i] = rng.gaussian() * (i % 7 === 0 ? 10 : 1);
  y[20] = y[10]!; y[21] = y[11]!; // point 10 duplicated as point 5
  const tree = new QuadTree();
  tree.build(y, n);
  for (const theta2 of [0, 0.25]) {
    for (let i = 0; i < n; i++) {
      let z = 0, fx = 0, fy = 0;
      for (let j = 0; j < n; j++) {
        const dx = y[2 * i]! - y[2 * j]!, dy = y[2 * i + 1]! - y[2 * j + 1]!;
        const d2 = dx * dx + dy * dy;
        if (d2 === 0) continue; // itself and exact duplicates, as the tree leaves them out
        const q = 1 / (1 + d2);
        z += q; fx += q * q * dx; fy += q * q * dy;
      }
      const f = new Float64Array(2);
      const tz = tree.repulsion(y[2 * i]!, y[2 * i + 1]!, theta2, f, 0);
      if (theta2 === 0) {
        assert.ok(Math.abs(tz - z) < 1e-9 * z, `z of ${i}: ${tz} vs ${z}`);
        assert.ok(Math.abs(f[0]! - fx) < 1e-9 && Math.abs(f[1]! - fy) < 1e-9, `force of ${i}`);
      } else {
        assert.ok(Math.abs(tz - z) < 0.05 * z, `z of ${i} within 5 %: ${tz} vs ${z}`);
        const norm = Math.hypot(fx, fy);
        assert.ok(Math.hypot(f[0]! - fx, f[1]! - fy) < 0.1 * norm + 1e-6, `force of ${i} within 10 %`);
      }
    }
  }
});

test('affinities: each row has entropy ln(perplexity); P is symmetric and sums to 1', () => {
  const { data, n } = blobs(3, 60, 8, 5);
  const perplexity = 10;
  const g = neighbourGraph(data, n, 8, 31, 1, 1);
  const Pc = conditionalP(g, n, perplexity);
  for (let i = 0; i < n; i++) {
    let h = 0, s = 0;
    for (let t = 0; t < g.k; t++) { const p = Pc[i * g.k + t]!; s += p; if (p > 0) h -= p * Math.log(p); }
    assert.ok(Math.abs(s - 1) < 1e-9, `row ${i} sums to ${s}`);
    assert.ok(Math.abs(h - Math.log(perplexity)) < 1e-4, `row ${i} entropy ${h}`);
  }
  const P = symmetrise(g, n, Pc);
  let total = 0;
  const at = new Map<string, number>();
  for (let i = 0; i < n; i++) for (let e = P.rowStart[i]!; e < P.rowStart[i + 1]!; e++) { total += P.vals[e]!; at.set(`${i},${P.cols[e]}`, P.vals[e]!); }
  assert.ok(Math.abs(total - 1) < 1e-9);
  for (const [key, v] of at) {
    const [i, j] = key.split(',');
    assert.equal(at.get(`${j},${i}`), v, `P[${key}] = P[${j},${i}]`);
  }
});

test('separated clusters stay separated; KL decreases; the map is not degenerate', () => {
  const dim = 12;
  const { data, label, n } = blobs(5, 80, dim, 9);
  const kl: number[] = [];
  const Y = run(data, n, dim, { iterations: 600, seed: 3 }, (it, o) => { if (it === 260 || it === 400 || it === 599) kl.push(o.klDivergence()); });
  assert.equal(kl.length, 3);
  assert.ok(kl[0]! > kl[1]! && kl[1]! > kl[2]!, `KL after exaggeration decreases: ${kl.join(' > ')}`);
  // Every point's nearest point on the map is of its own cluster, and each cluster is far from the
  // others compared with its own spread.
  const centre = Array.from({ length: 5 }, () => [0, 0, 0]);
  for (let i = 0; i < n; i++) { const c = centre[label[i]!]!; c[0]! += Y[2 * i]!; c[1]! += Y[2 * i + 1]!; c[2]!++; }
  for (const c of centre) { c[0]! /= c[2]!; c[1]! /= c[2]!; }
  const spread = [0, 0, 0, 0, 0];
  for (let i = 0; i < n; i++) {
    const c = centre[label[i]!]!;
    spread[label[i]!] = Math.max(spread[label[i]!]!, Math.hypot(Y[2 * i]! - c[0]!, Y[2 * i + 1]! - c[1]!));
    let best = -1, bd = Infinity;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const d = (Y[2 * i]! - Y[2 * j]!) ** 2 + (Y[2 * i + 1]! - Y[2 * j + 1]!) ** 2;
      if (d < bd) { bd = d; best = j; }
    }
    assert.equal(label[best], label[i], `point ${i}'s nearest on the map is of its cluster`);
  }
  for (let a = 0; a < 5; a++) {
    for (let b = a + 1; b < 5; b++) {
      const d = Math.hypot(centre[a]![0]! - centre[b]![0]!, centre[a]![1]! - centre[b]![1]!);
      assert.ok(d > spread[a]! + spread[b]!, `clusters ${a} and ${b}: centres ${d.toFixed(2)} apart, radii ${spread[a]!.toFixed(2)} + ${spread[b]!.toFixed(2)}`);
    }
  }
});

test('seeded runs reproduce (1 and 2 threads alike); another seed gives another map; bad options are refused', () => {
  const dim = 6;
  const { data, n } = blobs(3, 50, dim, 2);
  const a = run(data, n, dim, { iterations: 120, seed: 5, threads: 1 });
  const saved = [parallelThresholds.minWork, tsneThresholds.points] as const;
  // The neighbour scan and every step's force walks on 2 threads even at this size.
  parallelThresholds.minWork = 0;
  tsneThresholds.points = 0;
  let b: Float32Array;
  try {
    b = run(data, n, dim, { iterations: 120, seed: 5, threads: 2 });
  } finally {
    [parallelThresholds.minWork, tsneThresholds.points] = saved;
  }
  const c = run(data, n, dim, { iterations: 120, seed: 6, threads: 1 });
  assert.deepEqual(b, a);
  assert.notDeepEqual(c, a);
  assert.ok(a.every(Number.isFinite));
  const rows = Array.from({ length: n }, (_, i) => data.subarray(i * dim, (i + 1) * dim));
  assert.deepEqual(project(rows, { method: 'tsne', seed: 5, iterations: 120, threads: 1 }), a, 'project() gives the same map');
  for (const [o, re] of [
    [{ perplexity: 100 }, /perplexity: expected a number from 1 to 49.* got the number 100/],
    [{ iterations: 0 }, /iterations: expected an integer from 1/],
    [{ theta: -1 }, /theta: expected a number from 0/],
    [{ threads: 0 }, /threads: expected an integer from 1 to 1024/],
  ] as const) {
    assert.throws(() => run(data, n, dim, o), (e: Error & { code?: string }) => e.code === 'invalid_argument' && re.test(e.message), JSON.stringify(o));
  }
});
