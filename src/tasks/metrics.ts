/**
 * External measures of a clustering against known classes (evaluation, docs/tasks.md "Quality on
 * real data"). Labels may be numbers or strings; only equality matters.
 */
import { invalidArgument } from '../errors.js';

type Labels = ArrayLike<number | string>;

/** The contingency table of two labellings: counts[i · nb + j] for class i of `a`, class j of `b`. */
function contingency(a: Labels, b: Labels): { counts: Float64Array; na: number; nb: number; rowSums: Float64Array; colSums: Float64Array; n: number } {
  if (a.length !== b.length) throw invalidArgument(`labels: expected two labellings of the same length, got ${a.length} and ${b.length}`);
  const n = a.length;
  const ia = new Map<number | string, number>();
  const ib = new Map<number | string, number>();
  const ra = new Int32Array(n);
  const rb = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let x = ia.get(a[i]!);
    if (x === undefined) { x = ia.size; ia.set(a[i]!, x); }
    ra[i] = x;
    let y = ib.get(b[i]!);
    if (y === undefined) { y = ib.size; ib.set(b[i]!, y); }
    rb[i] = y;
  }
  const na = ia.size;
  const nb = ib.size;
  const counts = new Float64Array(na * nb);
  const rowSums = new Float64Array(na);
  const colSums = new Float64Array(nb);
  for (let i = 0; i < n; i++) {
    counts[ra[i]! * nb + rb[i]!]!++;
    rowSums[ra[i]!]!++;
    colSums[rb[i]!]!++;
  }
  return { counts, na, nb, rowSums, colSums, n };
}

function entropy(sums: Float64Array, n: number): number {
  let h = 0;
  for (const s of sums) if (s > 0) h -= (s / n) * Math.log(s / n);
  return h;
}

/**
 * Normalised mutual information, I(A; B) / ((H(A) + H(B)) / 2) — the arithmetic normalisation,
 * scikit-learn's default. 1 for identical partitions (up to renaming), 0 for independent ones;
 * 1 when both put everything in one class; 0 for empty input.
 */
export function nmi(a: Labels, b: Labels): number {
  const { counts, na, nb, rowSums, colSums, n } = contingency(a, b);
  if (n === 0) return 0;
  if (na === 1 && nb === 1) return 1;
  let mi = 0;
  for (let i = 0; i < na; i++) {
    for (let j = 0; j < nb; j++) {
      const c = counts[i * nb + j]!;
      if (c > 0) mi += (c / n) * Math.log((c * n) / (rowSums[i]! * colSums[j]!));
    }
  }
  const den = (entropy(rowSums, n) + entropy(colSums, n)) / 2;
  return den > 0 ? Math.max(0, Math.min(1, mi / den)) : 0;
}

/**
 * Purity of `clusters` against `classes`: each cluster counts its most frequent class; the sum over
 * clusters divided by n. 1 when every cluster is pure (k = n gives 1 trivially).
 */
export function purity(clusters: Labels, classes: Labels): number {
  const { counts, na, nb, n } = contingency(clusters, classes);
  if (n === 0) return 0;
  let sum = 0;
  for (let i = 0; i < na; i++) {
    let best = 0;
    for (let j = 0; j < nb; j++) best = Math.max(best, counts[i * nb + j]!);
    sum += best;
  }
  return sum / n;
}
