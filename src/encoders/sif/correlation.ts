/**
 * Correlation coefficients for intrinsic evaluations (STS, word similarity): Pearson's r and
 * Spearman's ρ, the latter as Pearson's r of the ranks with ties given their average rank (as
 * `scipy.stats.spearmanr` does).
 */
import { invalidArgument } from '../../errors.js';

function check(x: ArrayLike<number>, y: ArrayLike<number>): void {
  if (x.length !== y.length) throw invalidArgument(`y: expected ${x.length} numbers (as many as x), got ${y.length}`);
  if (x.length < 2) throw invalidArgument(`x: expected at least 2 pairs to correlate, got ${x.length}`);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]!)) throw invalidArgument(`x[${i}]: expected a finite number, got ${x[i]}`);
    if (!Number.isFinite(y[i]!)) throw invalidArgument(`y[${i}]: expected a finite number, got ${y[i]}`);
  }
}

/**
 * Pearson's correlation coefficient (two-pass, float64). NaN when either side is constant (the
 * coefficient is undefined there, as in scipy).
 */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  check(x, y);
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]!;
    my += y[i]!;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return NaN;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** Ranks 1 … n, ties sharing the average of the ranks they span. */
export function averageRanks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a]! - x[b]!);
  const ranks = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i + 1;
    while (j < n && x[order[j]!] === x[order[i]!]) j++;
    const r = (i + 1 + j) / 2; // mean of ranks i+1 … j
    for (let k = i; k < j; k++) ranks[order[k]!] = r;
    i = j;
  }
  return ranks;
}

/** Spearman's rank correlation: Pearson's r of the average ranks. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  check(x, y);
  return pearson(averageRanks(x), averageRanks(y));
}
