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
  /** HNSW: m, efConstruction, efSearch, seed; IVF: nList, nProbe, seed, iterations. */
  [param: string]: number | string;
}

/** `auto` switches from flat to HNSW at this many records. */
export const AUTO_HNSW_AT = 10_000;
/** IVF trains once it holds max(IVF_MIN_TRAIN, 39 × nList) records. */
export const IVF_MIN_TRAIN = 1_000;
/** Largest sample IVF is trained on. */
export const IVF_TRAIN_SAMPLE = 100_000;

const PARAMS: Record<IndexKindSpec, readonly string[]> = {
  auto: ['m', 'efConstruction', 'efSearch', 'seed'],
  flat: [],
  hnsw: ['m', 'efConstruction', 'efSearch', 'seed'],
  ivf: ['nList', 'nProbe', 'seed', 'iterations'],
};

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
    if (typeof v !== 'number') throw new OmnivecError('invalid_argument', `index.${k}: expected a number, got ${JSON.stringify(v)}`);
    out[k] = v;
  }
  // Let the index check the parameters' ranges now rather than at the first write.
  buildEmpty(out, dim, metric, 1);
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
  if (kind === 'flat') return createIndex({ kind: 'flat', dim, metric });
  return createIndex({ ...params, kind, dim, metric } as IndexSpec);
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

