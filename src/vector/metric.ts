import { OmnivecError, describe } from '../errors.js';

/**
 * Distance measures. Every index and kernel returns a *distance*, smaller = closer:
 * - `l2`: squared Euclidean distance, `Σ (a_i - b_i)²` (monotone in the Euclidean distance, no root).
 * - `ip`: `1 - a·b` (hnswlib's and Chroma's convention), so the largest inner product ranks first.
 * - `cosine`: `1 - cos(a, b)`; vectors are normalised when stored and queries when searched. A
 *   zero vector stays zero, so its cosine distance to everything is 1.
 */
export type Metric = 'l2' | 'ip' | 'cosine';

export const METRICS: readonly Metric[] = ['l2', 'ip', 'cosine'];

/** Code used by the WebAssembly kernels and in file headers. */
export function metricCode(metric: Metric): number {
  return metric === 'l2' ? 0 : metric === 'ip' ? 1 : 2;
}

export function metricFromCode(code: number): Metric {
  const m = METRICS[code];
  if (m === undefined) throw new OmnivecError('corrupt_file', `unknown metric code ${code}: expected 0 (l2), 1 (ip) or 2 (cosine)`);
  return m;
}

export function parseMetric(value: unknown): Metric {
  if (value === 'l2' || value === 'ip' || value === 'cosine') return value;
  throw new OmnivecError('invalid_argument',
    `metric: expected one of "l2", "ip", "cosine", got ${describe(value)}`);
}

/**
 * The score people expect to read beside a hit: cosine similarity for `cosine`, the inner product
 * for `ip`, and the (square-rooted) Euclidean distance for `l2`.
 */
export function userScore(metric: Metric, distance: number): number {
  if (metric === 'l2') return Math.sqrt(Math.max(0, distance));
  return 1 - distance;
}
