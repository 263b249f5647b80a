/**
 * The small dense linear algebra SIF needs: the uncentered second-moment ("Gram") matrix XᵀX of a
 * stream of vectors, and the eigendecomposition of a symmetric d×d matrix, from which the first
 * principal components of X (its top right singular vectors, as scikit-learn's TruncatedSVD
 * computes them on uncentered data) are read.
 *
 * The eigensolver is the classical Householder tridiagonalization followed by the implicit QL
 * algorithm (`tred2` / `tql2` of EISPACK, Bowdler, Martin, Reinsch and Wilkinson, as ported in
 * JAMA), in float64: O(d³), exact to rounding, no convergence tuning — d is a word-vector
 * dimension (50 … 1000), so a d×d problem costs milliseconds to a second.
 */
import { OmnivecError, invalidArgument } from '../../errors.js';

/** Eigenvalues (ascending) and eigenvectors (the columns of `vectors`, row-major n×n). */
export interface SymmetricEigen {
  n: number;
  values: Float64Array;
  /** Row-major n×n; column j is the unit eigenvector of `values[j]`. */
  vectors: Float64Array;
}

/**
 * Eigendecomposition of a real symmetric matrix (row-major `n×n`; only symmetry is assumed, the
 * lower triangle is what is read). Eigenvalues come back in ascending order, eigenvectors as the
 * columns of an orthogonal matrix. The input is not changed.
 */
export function symmetricEigen(a: Float64Array | Float32Array | readonly number[], n: number): SymmetricEigen {
  if (!Number.isInteger(n) || n < 1) throw invalidArgument(`n: expected a positive integer, got ${n}`);
  if (a.length !== n * n) throw invalidArgument(`a: expected ${n} × ${n} = ${n * n} numbers, got ${a.length}`);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) {
    const x = a[i]!;
    if (!Number.isFinite(x)) throw invalidArgument(`a[${i}]: expected a finite number, got ${x}`);
    V[i] = x;
  }
  // Symmetrize from the lower triangle so that a slightly asymmetric input (rounding) is harmless.
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) V[j * n + i] = V[i * n + j]!;
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n === 1) {
    d[0] = V[0]!;
    V[0] = 1;
    return { n, values: d, vectors: V };
  }
  tred2(V, d, e, n);
  tql2(V, d, e, n);
  return { n, values: d, vectors: V };
}

/** Householder reduction of V (symmetric, row-major) to tridiagonal form; V becomes the transform. */
function tred2(V: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) d[j] = V[(n - 1) * n + j]!;
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = V[(i - 1) * n + j]!;
        V[i * n + j] = 0;
        V[j * n + i] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] = d[k]! / scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        V[j * n + i] = f;
        g = e[j]! + V[j * n + j]! * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[k * n + j]! * d[k]!;
          e[k] = e[k]! + V[k * n + j]! * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] = e[j]! / h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] = e[j]! - hh * d[j]!;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        g = e[j]!;
        for (let k = j; k <= i - 1; k++) V[k * n + j] = V[k * n + j]! - (f * e[k]! + g * d[k]!);
        d[j] = V[(i - 1) * n + j]!;
        V[i * n + j] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate the transformations.
  for (let i = 0; i < n - 1; i++) {
    V[(n - 1) * n + i] = V[i * n + i]!;
    V[i * n + i] = 1;
    const h = d[i + 1]!;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[k * n + i + 1]! / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[k * n + i + 1]! * V[k * n + j]!;
        for (let k = 0; k <= i; k++) V[k * n + j] = V[k * n + j]! - g * d[k]!;
      }
    }
    for (let k = 0; k <= i; k++) V[k * n + i + 1] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = V[(n - 1) * n + j]!;
    V[(n - 1) * n + j] = 0;
  }
  V[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/** Implicit QL on the tridiagonal (d, e), accumulating into V; then sorts ascending. */
function tql2(V: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]!) <= eps * tst1) break;
      m++;
    }
    // e[n-1] is 0, so m < n here.
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 100) {
          throw new OmnivecError('invalid_argument', `symmetricEigen: expected the QL iteration to converge, got no convergence after 100 iterations on eigenvalue ${l}`);
        }
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i] = d[i]! - h;
        f += h;
        p = d[m]!;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1]!;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = Math.hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          for (let k = 0; k < n; k++) {
            h = V[k * n + i + 1]!;
            V[k * n + i + 1] = s * V[k * n + i]! + c * h;
            V[k * n + i] = c * V[k * n + i]! - s * h;
          }
        }
        p = -s * s2 * c3 * el1 * e[l]! / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]!) > eps * tst1);
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }
  // Selection sort, ascending, moving the columns along.
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    let p = d[i]!;
    for (let j = i + 1; j < n; j++) {
      if (d[j]! < p) {
        k = j;
        p = d[j]!;
      }
    }
    if (k !== i) {
      d[k] = d[i]!;
      d[i] = p;
      for (let j = 0; j < n; j++) {
        const t = V[j * n + i]!;
        V[j * n + i] = V[j * n + k]!;
        V[j * n + k] = t;
      }
    }
  }
}

/**
 * Accumulates the uncentered second-moment matrix G = Σ x xᵀ of a stream of d-vectors (the
 * Gram matrix XᵀX of the rows x). Only the lower triangle is summed; `matrix()` mirrors it.
 */
export class GramAccumulator {
  readonly dim: number;
  /** Number of vectors added (zero vectors included). */
  count = 0;
  readonly #g: Float64Array;

  constructor(dim: number) {
    if (!Number.isInteger(dim) || dim < 1) throw invalidArgument(`dim: expected a positive integer, got ${dim}`);
    this.dim = dim;
    this.#g = new Float64Array(dim * dim);
  }

  /** Adds x xᵀ (x has `dim` numbers). */
  add(x: ArrayLike<number>): void {
    const d = this.dim;
    if (x.length !== d) throw new OmnivecError('dimension_mismatch', `x: expected ${d} numbers, got ${x.length}`);
    const g = this.#g;
    for (let i = 0; i < d; i++) {
      const xi = x[i]!;
      if (xi === 0) continue;
      const row = i * d;
      for (let j = 0; j <= i; j++) g[row + j] = g[row + j]! + xi * x[j]!;
    }
    this.count++;
  }

  /** The full symmetric d×d matrix (a copy). */
  matrix(): Float64Array {
    const d = this.dim;
    const m = Float64Array.from(this.#g);
    for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) m[j * d + i] = m[i * d + j]!;
    return m;
  }
}

/** The first principal directions of a set of vectors and the share of Σ‖x‖² each explains. */
export interface PrincipalComponents {
  /** Row-major k×d, unit rows, mutually orthogonal. */
  components: Float64Array;
  /** Eigenvalues of XᵀX, largest first: σᵢ², the squared singular values of X. */
  eigenvalues: number[];
  /** eigenvalues[i] / trace(XᵀX): the share of Σ‖x‖² along component i. */
  explained: number[];
}

/**
 * The top `k` eigenvectors of a symmetric positive semi-definite d×d matrix (e.g. from
 * {@link GramAccumulator}): the first right singular vectors of X when the matrix is XᵀX. Signs
 * are made deterministic: the entry of largest magnitude of each component is positive.
 */
export function topEigenvectors(matrix: Float64Array, d: number, k: number): PrincipalComponents {
  if (!Number.isInteger(k) || k < 0 || k > d) throw invalidArgument(`k: expected an integer from 0 to ${d} (the dimension), got ${k}`);
  const eig = symmetricEigen(matrix, d);
  let trace = 0;
  for (let i = 0; i < d; i++) trace += matrix[i * d + i]!;
  const components = new Float64Array(k * d);
  const eigenvalues: number[] = [];
  const explained: number[] = [];
  for (let c = 0; c < k; c++) {
    const col = d - 1 - c;
    let big = 0;
    for (let i = 0; i < d; i++) {
      const x = eig.vectors[i * d + col]!;
      if (Math.abs(x) > Math.abs(big)) big = x;
    }
    const sign = big < 0 ? -1 : 1;
    for (let i = 0; i < d; i++) components[c * d + i] = sign * eig.vectors[i * d + col]!;
    const lambda = Math.max(0, eig.values[col]!);
    eigenvalues.push(lambda);
    explained.push(trace > 0 ? lambda / trace : 0);
  }
  return { components, eigenvalues, explained };
}
