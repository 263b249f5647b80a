import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Random } from '../../vector/random.js';
import { OmnivecError } from '../../errors.js';
import { GramAccumulator, symmetricEigen, topEigenvectors } from './linalg.js';

/** A random orthogonal n×n matrix (row-major): Gram–Schmidt on Gaussian columns. */
function randomOrthogonal(n: number, rng: Random): Float64Array {
  const q = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) v[i] = rng.gaussian();
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < c; p++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += v[i]! * q[i * n + p]!;
        for (let i = 0; i < n; i++) v[i] = v[i]! - dot * q[i * n + p]!;
      }
    }
    const norm = Math.hypot(...v);
    for (let i = 0; i < n; i++) q[i * n + c] = v[i]! / norm;
  }
  return q;
}

/** Q diag(lambda) Qᵀ. */
function compose(q: Float64Array, lambda: number[], n: number): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += q[i * n + k]! * lambda[k]! * q[j * n + k]!;
      a[i * n + j] = s;
    }
  }
  return a;
}

function column(m: Float64Array, n: number, c: number): number[] {
  return Array.from({ length: n }, (_, i) => m[i * n + c]!);
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function assertOrthogonal(v: Float64Array, n: number, tol: number): void {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const d = dot(column(v, n, i), column(v, n, j));
      assert.ok(Math.abs(d - (i === j ? 1 : 0)) < tol, `columns ${i}·${j} = ${d}`);
    }
  }
}

test('symmetricEigen: 2×2 by hand', () => {
  // [[2,1],[1,2]]: eigenvalues 1 and 3, eigenvectors (1,-1)/√2 and (1,1)/√2.
  const { values, vectors } = symmetricEigen([2, 1, 1, 2], 2);
  assert.ok(Math.abs(values[0]! - 1) < 1e-14 && Math.abs(values[1]! - 3) < 1e-14, String(values));
  const v1 = column(vectors, 2, 0);
  const v3 = column(vectors, 2, 1);
  assert.ok(Math.abs(Math.abs(dot(v1, [Math.SQRT1_2, -Math.SQRT1_2])) - 1) < 1e-14);
  assert.ok(Math.abs(Math.abs(dot(v3, [Math.SQRT1_2, Math.SQRT1_2])) - 1) < 1e-14);
});

test('symmetricEigen: 1×1, zero matrix, diagonal', () => {
  assert.deepEqual(Array.from(symmetricEigen([5], 1).values), [5]);
  const z = symmetricEigen(new Float64Array(9), 3);
  assert.deepEqual(Array.from(z.values), [0, 0, 0]);
  assertOrthogonal(z.vectors, 3, 1e-15);
  const diag = symmetricEigen([3, 0, 0, 0, -1, 0, 0, 0, 2], 3);
  assert.deepEqual(Array.from(diag.values), [-1, 2, 3]);
  assert.deepEqual(column(diag.vectors, 3, 2).map(Math.abs), [1, 0, 0]);
});

test('symmetricEigen recovers a known decomposition Q Λ Qᵀ (n = 2 … 60, distinct eigenvalues)', () => {
  const rng = new Random(7);
  for (const n of [2, 3, 5, 10, 31, 60]) {
    const q = randomOrthogonal(n, rng);
    const lambda = Array.from({ length: n }, (_, i) => (i - n / 3) * 1.5 + rng.next()); // distinct, some negative
    const a = compose(q, lambda, n);
    const { values, vectors } = symmetricEigen(a, n);
    const order = lambda.map((l, i) => [l, i] as const).sort((x, y) => x[0] - y[0]);
    for (let j = 0; j < n; j++) {
      const [l, i] = order[j]!;
      assert.ok(Math.abs(values[j]! - l) < 1e-11 * n, `n=${n}: value ${j}: ${values[j]} vs ${l}`);
      // Same eigenvector up to sign.
      const c = dot(column(vectors, n, j), column(q, n, i));
      assert.ok(Math.abs(Math.abs(c) - 1) < 1e-9, `n=${n}: vector ${j}: |cos| = ${Math.abs(c)}`);
    }
    assertOrthogonal(vectors, n, 1e-12);
  }
});

test('symmetricEigen with repeated eigenvalues: V Λ Vᵀ reconstructs A, V orthogonal', () => {
  const rng = new Random(3);
  const n = 12;
  const q = randomOrthogonal(n, rng);
  const lambda = [4, 4, 4, 1, 1, 0, 0, 0, 0, -2, 9, 9];
  const a = compose(q, lambda, n);
  const { values, vectors } = symmetricEigen(a, n);
  assert.deepEqual(Array.from(values, (v) => Math.round(v * 1e9) / 1e9 + 0), [...lambda].sort((x, y) => x - y));
  assertOrthogonal(vectors, n, 1e-12);
  const back = compose(vectors, Array.from(values), n);
  for (let i = 0; i < n * n; i++) assert.ok(Math.abs(back[i]! - a[i]!) < 1e-12, `entry ${i}`);
});

test('symmetricEigen refuses bad input with typed errors', () => {
  assert.throws(() => symmetricEigen([1, 2, 3], 2), (e: unknown) => e instanceof OmnivecError && e.code === 'invalid_argument' && /expected 2 × 2 = 4 numbers, got 3/.test(e.message));
  assert.throws(() => symmetricEigen([1, NaN, NaN, 1], 2), /a\[1\]: expected a finite number, got NaN/);
  assert.throws(() => symmetricEigen([], 0), /n: expected a positive integer, got 0/);
});

test('GramAccumulator sums x xᵀ; topEigenvectors gives the right singular vectors of a known X = U Σ Vᵀ', () => {
  const rng = new Random(11);
  const d = 8;
  const rows = 20;
  // X = U Σ Vᵀ with U's columns orthonormal (the first d columns of a random orthogonal rows×rows).
  const uFull = randomOrthogonal(rows, rng);
  const v = randomOrthogonal(d, rng);
  const sigma = [10, 6, 3, 2, 1.5, 1, 0.5, 0.1];
  const g = new GramAccumulator(d);
  const x = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += uFull[r * rows + k]! * sigma[k]! * v[j * d + k]!;
      x[j] = s;
    }
    g.add(x);
  }
  assert.equal(g.count, rows);
  const pc = topEigenvectors(g.matrix(), d, 3);
  const total = sigma.reduce((s, t) => s + t * t, 0);
  for (let c = 0; c < 3; c++) {
    assert.ok(Math.abs(pc.eigenvalues[c]! - sigma[c]! ** 2) < 1e-9, `σ²[${c}]`);
    assert.ok(Math.abs(pc.explained[c]! - sigma[c]! ** 2 / total) < 1e-12);
    const comp = pc.components.subarray(c * d, (c + 1) * d);
    assert.ok(Math.abs(Math.abs(dot(comp, column(v, d, c))) - 1) < 1e-10, `component ${c}`);
    // Deterministic sign: the largest entry is positive.
    const big = Array.from(comp).reduce((m, t) => (Math.abs(t) > Math.abs(m) ? t : m), 0);
    assert.ok(big > 0);
  }
});

test('topEigenvectors agrees with power iteration on a Gram matrix of random data with a dominant direction', () => {
  const rng = new Random(5);
  const d = 50;
  const g = new GramAccumulator(d);
  const common = Array.from({ length: d }, () => rng.gaussian());
  for (let r = 0; r < 300; r++) {
    const x = common.map((c) => c * (1 + rng.next()) + rng.gaussian());
    g.add(x);
  }
  const m = g.matrix();
  let u = new Float64Array(d).fill(1);
  for (let it = 0; it < 500; it++) {
    const next = new Float64Array(d);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) next[i] = next[i]! + m[i * d + j]! * u[j]!;
    const norm = Math.hypot(...next);
    u = next.map((t) => t / norm);
  }
  const pc = topEigenvectors(m, d, 1);
  assert.ok(Math.abs(Math.abs(dot(pc.components, u)) - 1) < 1e-10);
  assert.equal(topEigenvectors(m, d, 0).components.length, 0);
  assert.throws(() => topEigenvectors(m, d, d + 1), /k: expected an integer from 0 to 50 \(the dimension\), got 51/);
});
