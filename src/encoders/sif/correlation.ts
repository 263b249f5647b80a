/**
 * Correlation coefficients for intrinsic evaluations (STS, word similarity): Pearson's r and
 * Spearman's ρ, the latter as Pearson's r of the ranks with ties given their average rank (as
 * `scipy.stats.spearmanr` does).
 */
import { invalidArgument } from '../../errors.js';
import { averageRanks, pearson as pearsonTest, spearman as spearmanTest } from '../stats.js';

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
  return pearsonTest(Array.from(x), Array.from(y)).r;
}

/** Spearman's ρ: Pearson's r of the average ranks (scipy's spearmanr). NaN when a side is constant. */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  check(x, y);
  return spearmanTest(Array.from(x), Array.from(y)).r;
}

export { averageRanks };
