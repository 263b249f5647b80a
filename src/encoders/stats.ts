/**
 * Statistics for intrinsic evaluations (word similarity, STS): Pearson's r and Spearman's ρ with
 * their two-sided p-values, as scipy 1.10's pearsonr and spearmanr (ties given their average rank).
 */

/** Ranks from 1, ties given the average of their ranks (scipy's rankdata 'average'). */
export function averageRanks(x: readonly number[]): Float64Array {
  const idx = Array.from(x.keys()).sort((i, j) => x[i]! - x[j]! || i - j);
  const ranks = new Float64Array(x.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && x[idx[j + 1]!] === x[idx[i]!]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[idx[k]!] = r;
    i = j + 1;
  }
  return ranks;
}

function correlation(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) { mx += x[i]!; my += y[i]!; }
  mx /= n;
  my /= n;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const a = x[i]! - mx;
    const b = y[i]! - my;
    sxx += a * a;
    syy += b * b;
    sxy += a * b;
  }
  if (sxx === 0 || syy === 0) return NaN;
  const r = sxy / Math.sqrt(sxx * syy);
  return Math.max(-1, Math.min(1, r));
}

/** Pearson's r and its two-sided p-value: 2·I_{(1−|r|)/2}(n/2 − 1, n/2 − 1). */
export function pearson(x: readonly number[], y: readonly number[]): { r: number; p: number } {
  const n = x.length;
  if (n < 2) return { r: NaN, p: NaN };
  const r = correlation(x, y);
  if (Number.isNaN(r)) return { r, p: NaN };
  if (n === 2) return { r, p: 1 };
  const ab = n / 2 - 1;
  return { r, p: Math.min(1, 2 * incompleteBeta((1 - Math.abs(r)) / 2, ab, ab)) };
}

/** Spearman's ρ (Pearson's r of average ranks) and its two-sided p-value (t with n − 2 degrees of freedom). */
export function spearman(x: readonly number[], y: readonly number[]): { r: number; p: number } {
  const n = x.length;
  if (n < 2) return { r: NaN, p: NaN };
  const r = correlation(averageRanks(x), averageRanks(y));
  if (Number.isNaN(r) || n < 3) return { r, p: NaN };
  const df = n - 2;
  if (Math.abs(r) === 1) return { r, p: 0 };
  const t = r * Math.sqrt(df / ((r + 1) * (1 - r)));
  return { r, p: incompleteBeta(df / (df + t * t), df / 2, 0.5) };
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: ~15 significant digits). */
function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The regularized incomplete beta function I_x(a, b) (continued fraction, modified Lentz). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  if (x > (a + 1) / (a + b + 2)) return 1 - front * betaFraction(1 - x, b, a) / b;
  return front * betaFraction(x, a, b) / a;
}

function betaFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - (a + b) * x / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let f = d;
  for (let m = 1; m <= 1000; m++) {
    const m2 = 2 * m;
    let num = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    f *= d * c;
    num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return f;
}
