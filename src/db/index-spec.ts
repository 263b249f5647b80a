import { OmnivecError } from '../errors.js';
import type { Metric } from '../vector/metric.js';
import type { VectorIndex } from '../indexes/types.js';
import { createIndex, type IndexSpec } from '../indexes/registry.js';

/**
 * How a collection's index is chosen from its spec and its size (docs/db.md, "Collections"):
 * `auto` is flat below AUTO_HNSW_AT records and HNSW from there; IVF is served by flat until it
 * holds enough records to train.
 */
export type IndexKindSpec = 'auto' | 'flat' | 'ivf' | 'hnsw';

export interface CollectionIndexSpec {
  kind: IndexKindSpec;
  /**
   * HNSW: m, efConstruction, efSearch, seed; IVF: nList, nProbe, seed, iterations, pqM; every
   * kind: quantization ('none' | 'int8' | 'binary'; 'pq' for IVF) and rescore.
   */
  [param: string]: number | string;
}

/** `auto` switches from flat to HNSW at this many records. */
export const AUTO_HNSW_AT = 10_000;
/** IVF trains once it holds max(IVF_MIN_TRAIN, 39 × nList) records. */
export const IVF_MIN_TRAIN = 1_000;
/** Largest sample IVF is trained on. */
export const IVF_TRAIN_SAMPLE = 100_000;

/** Quantisation options every kind takes (docs/indexes/quantization.md); `pqM` is IVF's. */
const QUANT = ['quantization', 'rescore'] as const;
const PARAMS: Record<IndexKindSpec, readonly string[]> = {
  auto: ['m', 'efConstruction', 'efSearch', 'seed', ...QUANT],
  flat: [...QUANT],
  hnsw: ['m', 'efConstruction', 'efSearch', 'seed', ...QUANT],
  ivf: ['nList', 'nProbe', 'seed', 'iterations', ...QUANT, 'pqM'],
};
/** Parameters whose value is a string (every other one is a number). */
const STRING_PARAMS: ReadonlySet<string> = new Set(['quantization']);

/** Validates an index spec given as a kind name or an object, by building an empty index with it. */
export function parseIndexSpec(value: unknown, dim: number, metric: Metric): CollectionIndexSpec {
  const raw = value === undefined ? { kind: 'auto' } : typeof value === 'string' ? { kind: value } : value;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new OmnivecError('invalid_argument', `index: expected "auto", "flat", "ivf", "hnsw" or { kind, ...parameters }, got ${JSON.stringify(value)}`);
  }
  const spec = raw as Record<string, unknown>;
  const kind = spec.kind;
  if (typeof kind !== 'string' || !(kind in PARAMS)) {
    throw new OmnivecError('invalid_argument', `index.kind: expected one of "auto", "flat", "ivf", "hnsw", got ${JSON.stringify(kind)}`);
  }
  const out: CollectionIndexSpec = { kind: kind as IndexKindSpec };
  for (const [k, v] of Object.entries(spec)) {
    if (k === 'kind') continue;
    if (!PARAMS[kind as IndexKindSpec].includes(k)) {
      throw new OmnivecError('invalid_argument', `index.${k}: not a parameter of a ${kind} index; expected one of ${PARAMS[kind as IndexKindSpec].join(', ') || '(none)'}`);
    }
    if (STRING_PARAMS.has(k)) {
      if (typeof v !== 'string') throw new OmnivecError('invalid_argument', `index.${k}: expected a string, got ${JSON.stringify(v)}`);
    } else if (typeof v !== 'number') {
      throw new OmnivecError('invalid_argument', `index.${k}: expected a number, got ${JSON.stringify(v)}`);
    }
    out[k] = v;
  }
  // Let the index check the parameters' ranges now rather than at the first write: both kinds
  // `auto` grows through, and IVF itself (not the flat index that serves it before training).
  buildEmpty(out, dim, metric, 1);
  if (kind === 'auto') buildEmpty(out, dim, metric, AUTO_HNSW_AT);
  if (kind === 'ivf') createIndex({ ...out, kind: 'ivf', dim, metric } as IndexSpec);
  return out;
}

/**
 * An empty index of the kind the spec asks for at `count` records: `auto` is flat below
 * AUTO_HNSW_AT and HNSW from there; IVF is flat until it can be trained.
 */
export function buildEmpty(spec: CollectionIndexSpec, dim: number, metric: Metric, count: number): VectorIndex {
  const params: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(spec)) if (k !== 'kind') params[k] = v;
  const kind = spec.kind === 'auto' ? (count >= AUTO_HNSW_AT ? 'hnsw' : 'flat') : spec.kind;
  if (kind === 'flat') return createIndex({ kind: 'flat', dim, metric, ...flatParams(spec) } as IndexSpec);
  return createIndex({ ...params, kind, dim, metric } as IndexSpec);
}

/**
 * The options of the flat index that serves a collection while it is small (`auto` below
 * AUTO_HNSW_AT, IVF before training): the same int8 / binary quantisation as the index it grows
 * into, so that memory and answers do not change character at the switch; a `pq` IVF is served
 * by a float flat index until it trains (product quantisation needs the IVF's training sample).
 */
export function flatParams(spec: CollectionIndexSpec): Record<string, number | string> {
  const q = spec.quantization;
  if (q === undefined || q === 'none' || q === 'pq') return {};
  return spec.rescore === undefined ? { quantization: q } : { quantization: q, rescore: spec.rescore };
}

/** The kind the index should have at `count` records (IVF before training is served by flat). */
export function wantedKind(spec: CollectionIndexSpec, count: number): 'flat' | 'ivf' | 'hnsw' {
  if (spec.kind === 'auto') return count >= AUTO_HNSW_AT ? 'hnsw' : 'flat';
  if (spec.kind === 'ivf') return count >= ivfTrainAt(spec) ? 'ivf' : 'flat';
  return spec.kind;
}

export function ivfTrainAt(spec: CollectionIndexSpec): number {
  const nList = typeof spec.nList === 'number' ? spec.nList : 0;
  return Math.max(IVF_MIN_TRAIN, 39 * nList);
}

