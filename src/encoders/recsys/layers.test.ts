// Gradient checks: every backward pass against central finite differences of its forward pass,
// run in float64 through the same functions training runs in float32.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Random } from '../../vector/random.js';
import {
  bagDecayBackward, bagDecayForward, bagMeanBackward, bagMeanForward, denseBackward, denseForward, inBatchSoftmax, reluBackward, reluForward,
  sampledSoftmax, SparseGrad,
} from './layers.js';
import { Mlp } from './mlp.js';

const EPS = 1e-6;
const rnd = (rng: Random, n: number, scale = 1): Float64Array => Float64Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);

/** Central difference of f at p[i]. */
function numeric(f: () => number, p: Float64Array, i: number): number {
  const x = p[i]!;
  p[i] = x + EPS;
  const a = f();
  p[i] = x - EPS;
  const b = f();
  p[i] = x;
  return (a - b) / (2 * EPS);
}

function close(analytic: ArrayLike<number>, f: () => number, p: Float64Array, what: string, tol = 1e-6): void {
  let checked = 0;
  for (let i = 0; i < p.length; i++) {
    const n = numeric(f, p, i);
    const a = analytic[i]!;
    assert.ok(Math.abs(a - n) <= tol * Math.max(1, Math.abs(n)), `${what}[${i}]: analytic ${a}, numeric ${n}`);
    checked++;
  }
  assert.ok(checked > 0);
}

test('dense: dW, db, dx match finite differences', () => {
  const rng = new Random(3);
  const inDim = 5, outDim = 4;
  const w = rnd(rng, inDim * outDim), b = rnd(rng, outDim), x = rnd(rng, inDim + 2), c = rnd(rng, outDim);
  const y = new Float64Array(outDim);
  const loss = (): number => { denseForward(w, b, x, 2, y, inDim, outDim); return y.reduce((s, v, o) => s + v * c[o]!, 0); };
  const gw = new Float64Array(w.length), gb = new Float64Array(outDim), dx = new Float64Array(inDim);
  loss();
  denseBackward(w, x, 2, c, gw, gb, dx, inDim, outDim);
  close(gw, loss, w, 'dW');
  close(gb, loss, b, 'db');
  close(Float64Array.from([0, 0, ...dx]), loss, x, 'dx');
  // gradients accumulate: a second backward doubles them
  denseBackward(w, x, 2, c, gw, gb, null, inDim, outDim);
  close(gb.map((v) => v / 2), loss, b, 'db accumulated');
});

test('ReLU: the gradient passes where the output is positive only', () => {
  const rng = new Random(4);
  const x = rnd(rng, 12).map((v) => (Math.abs(v) < 0.05 ? v + 0.2 : v)); // away from the kink
  const c = rnd(rng, 12);
  const y = new Float64Array(12);
  const loss = (): number => { y.set(x); reluForward(y, 12); return y.reduce((s, v, i) => s + v * c[i]!, 0); };
  loss();
  const dy = Float64Array.from(c);
  reluBackward(y, dy, 12);
  close(dy, loss, x, 'dx');
  assert.ok(dy.some((v) => v === 0) && dy.some((v) => v !== 0));
});

test('averaging bag: each row gets dOut / n, repeated ids twice', () => {
  const rng = new Random(5);
  const dim = 3, rows = 6;
  const table = rnd(rng, rows * dim), c = rnd(rng, dim);
  const ids = Int32Array.from([9, 1, 4, 1, 2]); // the bag is ids[1..5): 1, 4, 1, 2
  const out = new Float64Array(dim + 1);
  const loss = (): number => { bagMeanForward(table, dim, ids, 1, 5, out, 1); return c.reduce((s, v, j) => s + v * out[1 + j]!, 0); };
  loss();
  const g = new SparseGrad(rows, dim, 'f64');
  bagMeanBackward(c, 0, dim, ids, 1, 5, g);
  close(g.g, loss, table, 'dTable');
  assert.deepEqual([...g.rows()], [1, 4, 2]);
  g.clear();
  assert.ok(g.g.every((v) => v === 0) && g.rows().length === 0);
  bagMeanForward(table, dim, ids, 3, 3, out, 0);
  assert.deepEqual([...out.subarray(0, dim)], [0, 0, 0], 'an empty bag is zeros');
});

test('recency-weighted bag: weights decay^j (latest first), normalised; decay 1 is the mean', () => {
  const rng = new Random(11);
  const dim = 3, rows = 5;
  const table = rnd(rng, rows * dim), c = rnd(rng, dim);
  const ids = Int32Array.from([0, 3, 1, 3, 4]);
  const out = new Float64Array(dim);
  const loss = (): number => { bagDecayForward(table, dim, ids, 1, 5, 0.5, out, 0); return c.reduce((s, v, j) => s + v * out[j]!, 0); };
  loss();
  // by hand: items 4, 3, 1, 3 (latest first) weigh 1, 0.5, 0.25, 0.125 over 1.875
  for (let j = 0; j < dim; j++) {
    const want = (table[4 * dim + j]! + 0.5 * table[3 * dim + j]! + 0.25 * table[1 * dim + j]! + 0.125 * table[3 * dim + j]!) / 1.875;
    assert.ok(Math.abs(out[j]! - want) < 1e-12);
  }
  const g = new SparseGrad(rows, dim, 'f64');
  bagDecayBackward(c, 0, dim, ids, 1, 5, 0.5, g);
  close(g.g, loss, table, 'dTable');
  const mean = new Float64Array(dim);
  bagMeanForward(table, dim, ids, 1, 5, mean, 0);
  bagDecayForward(table, dim, ids, 1, 5, 1, out, 0);
  for (let j = 0; j < dim; j++) assert.ok(Math.abs(out[j]! - mean[j]!) < 1e-12);
});

test('sampled softmax with logQ: dU and dV match; an accidental hit is left out', () => {
  const rng = new Random(6);
  const dim = 4, items = 7;
  const u = rnd(rng, dim), v = rnd(rng, items * dim);
  const logQ = Float64Array.from({ length: items }, (_, i) => Math.log((i + 1) / 28));
  const cand = Int32Array.from([3, 5, 3, 0, 6]); // cand[2] is the true item again
  const logits = new Float64Array(5);
  const du = new Float64Array(dim);
  const gv = new SparseGrad(items, dim, 'f64');
  const loss = (): number => sampledSoftmax(u, v, dim, cand, 5, logQ, new Float64Array(dim), new SparseGrad(items, dim, 'f64'), new Float64Array(5));
  const l = sampledSoftmax(u, v, dim, cand, 5, logQ, du, gv, logits);
  close(du, loss, u, 'dU');
  close(gv.g, loss, v, 'dV');
  // the reference loss, written out: −log softmax over {3, 5, 0, 6} of u·v − logQ
  const s = [3, 5, 0, 6].map((c) => { let x = 0; for (let k = 0; k < dim; k++) x += u[k]! * v[c * dim + k]!; return x - logQ[c]!; });
  const ref = Math.log(s.reduce((a, x) => a + Math.exp(x), 0)) - s[0]!;
  assert.ok(Math.abs(l - ref) < 1e-12, `loss ${l} vs ${ref}`);
});

test('in-batch softmax with logQ: dU and dV match; a duplicate item is not a negative', () => {
  const rng = new Random(7);
  const b = 4, dim = 3;
  const uu = rnd(rng, b * dim), vv = rnd(rng, b * dim);
  const items = Int32Array.from([2, 8, 2, 5]);
  const logQ = rnd(rng, b);
  const f = (): number => inBatchSoftmax(uu, vv, b, dim, items, logQ, new Float64Array(b * dim), new Float64Array(b * dim), new Float64Array(b));
  const du = new Float64Array(b * dim), dv = new Float64Array(b * dim);
  const l = inBatchSoftmax(uu, vv, b, dim, items, logQ, du, dv, new Float64Array(b));
  close(du, f, uu, 'dU');
  close(dv, f, vv, 'dV');
  // row 0's softmax runs over columns 0, 1, 3 (column 2 holds the same item)
  const s = (i: number, j: number): number => { let x = 0; for (let k = 0; k < dim; k++) x += uu[i * dim + k]! * vv[j * dim + k]!; return x - logQ[j]!; };
  const row0 = Math.log([0, 1, 3].reduce((a, j) => a + Math.exp(s(0, j)), 0)) - s(0, 0);
  const all = [0, 1, 2, 3].map((i) => {
    const cols = [0, 1, 2, 3].filter((j) => j === i || items[j] !== items[i]);
    return Math.log(cols.reduce((a, j) => a + Math.exp(s(i, j)), 0)) - s(i, i);
  });
  assert.ok(Math.abs(all[0]! - row0) < 1e-12);
  assert.ok(Math.abs(l - all.reduce((a, x) => a + x, 0)) < 1e-12);
});

test('Mlp (float32) backward equals the float64 chain of the layer functions it is made of', () => {
  const rng = new Random(8);
  const sizes = [6, 5, 3];
  const mlp = new Mlp(sizes, 2);
  mlp.init(rng);
  const x = Float32Array.from(rnd(rng, 6));
  const c = Float32Array.from(rnd(rng, 3));
  mlp.input(1).set(x);
  const y = mlp.forward(1);
  const dx = new Float32Array(6);
  mlp.backward(1, c, dx);
  // float64 reference: dense → ReLU → dense, loss = c · y, gradients by finite differences
  const p = Float64Array.from(mlp.params);
  const x64 = Float64Array.from(x);
  const w0 = (): Float64Array => p.subarray(0, 30), b0 = (): Float64Array => p.subarray(30, 35), w1 = (): Float64Array => p.subarray(35, 50), b1 = (): Float64Array => p.subarray(50, 53);
  const h = new Float64Array(5), o = new Float64Array(3);
  const loss = (): number => {
    denseForward(w0(), b0(), x64, 0, h, 6, 5); reluForward(h, 5); denseForward(w1(), b1(), h, 0, o, 5, 3);
    return o.reduce((s, v, i) => s + v * c[i]!, 0);
  };
  loss();
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(o[i]! - y[i]!) < 1e-5);
  close(mlp.grads, loss, p, 'dParams', 1e-4);
  close(dx, loss, x64, 'dx', 1e-4);
});
