import { OmnivecError, describe } from '../../errors.js';
import type { IndexKind } from '../types.js';

/**
 * The `quantization` and `rescore` options of every index, parsed in one place (issue 16,
 * docs/indexes/scale.md and docs/indexes/quantization.md). Flat and HNSW accept 'none', 'int8'
 * and 'binary'; IVF also 'pq'.
 */
export type Quantization = 'none' | 'int8' | 'binary' | 'pq';

/** The quantisations each index kind accepts, in the order error messages list them. */
export const QUANTIZATIONS: Readonly<Record<IndexKind, readonly Quantization[]>> = Object.freeze({
  flat: Object.freeze(['none', 'int8', 'binary'] as Quantization[]),
  hnsw: Object.freeze(['none', 'int8', 'binary'] as Quantization[]),
  ivf: Object.freeze(['none', 'int8', 'binary', 'pq'] as Quantization[]),
});

/**
 * Default `rescore` (candidates re-ranked by exact float32 distance = rescore × k), chosen by
 * measurement: see docs/indexes/quantization.md, "Choosing rescore".
 */
export const DEFAULT_RESCORE = 2;
/**
 * The default `rescore` of a quantisation when the index options give none: binary's codes rank
 * far more coarsely than int8's, so it re-scores more candidates (measured: quantization.md).
 */
export function defaultRescore(quantization: Quantization): number {
  return quantization === 'binary' ? DEFAULT_BINARY_RESCORE : DEFAULT_RESCORE;
}
export const DEFAULT_BINARY_RESCORE = 8;

/** Largest accepted `rescore` (k × rescore candidates are kept: bounded like efSearch). */
export const MAX_RESCORE = 1000;

/**
 * Checks a `quantization` option for an index of `kind`: `undefined` reads as 'none'. Anything
 * else than a name the kind accepts is `invalid_argument` listing the valid ones ('pq' on flat or
 * HNSW says that it is for IVF only).
 */
export function checkQuantization(value: unknown, kind: IndexKind, what = 'quantization'): Quantization {
  if (value === undefined) return 'none';
  const valid = QUANTIZATIONS[kind];
  if (typeof value === 'string' && (valid as readonly string[]).includes(value)) return value as Quantization;
  const list = valid.map((q) => `"${q}"`).join(', ');
  const note = value === 'pq' ? ' ("pq" is for the ivf index only)' : '';
  throw new OmnivecError('invalid_argument', `${what}: expected one of ${list} for a ${kind} index${note}, got ${describe(value)}`);
}

/**
 * Checks a `rescore` option: an integer from 1 to MAX_RESCORE; `undefined` gives `fallback`
 * (DEFAULT_RESCORE unless the caller passes the index's own default).
 */
export function checkRescore(value: unknown, what = 'rescore', fallback = DEFAULT_RESCORE): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_RESCORE) {
    throw new OmnivecError('invalid_argument',
      `${what}: expected an integer from 1 to ${MAX_RESCORE} (a quantised search re-ranks rescore × k candidates by exact distance), got ${describe(value)}`);
  }
  return value;
}
