import { OmnivecError, describe } from '../../errors.js';
import type { LexicalWeights, MultiVector } from './heads.js';

/**
 * BGE-M3's relevance scores between a query and a passage, as FlagEmbedding's `M3Embedder`
 * computes them (`compute_lexical_matching_score`, `colbert_score`, `compute_score`). Pure and
 * synchronous; accumulation in float64. See docs/bge-m3.md.
 */

/** Dense score: the inner product of the two (normalised) dense vectors. */
export function denseScore(q: Float32Array, p: Float32Array): number {
  if (q.length !== p.length) throw new OmnivecError('dimension_mismatch', `dense vectors: expected equal lengths, got ${q.length} and ${p.length}`);
  let s = 0;
  for (let i = 0; i < q.length; i++) s += q[i]! * p[i]!;
  return s;
}

/** Lexical matching score: `Σ over token ids in both of w_q · w_p` (a merge of the two sorted id lists). */
export function lexicalMatchingScore(q: LexicalWeights, p: LexicalWeights): number {
  let s = 0;
  let i = 0;
  let j = 0;
  while (i < q.indices.length && j < p.indices.length) {
    const a = q.indices[i]!;
    const b = p.indices[j]!;
    if (a === b) s += q.values[i++]! * p.values[j++]!;
    else if (a < b) i++;
    else j++;
  }
  return s;
}

/**
 * ColBERT score (late interaction, Khattab & Zaharia 2020): for each query vector the best inner
 * product over the passage vectors, summed and divided by the number of query vectors. A query
 * without vectors scores 0; a passage without vectors -Infinity (as the database's `maxSim`).
 * Note: the database's MaxSim re-ranking uses the sum (not divided), which orders passages the same.
 */
export function colbertScore(q: MultiVector, p: MultiVector): number {
  if (q.dim !== p.dim) throw new OmnivecError('dimension_mismatch', `colbert vectors: expected equal dimensions, got ${q.dim} and ${p.dim}`);
  if (q.count === 0) return 0;
  if (p.count === 0) return -Infinity;
  const D = q.dim;
  let total = 0;
  for (let a = 0; a < q.count; a++) {
    let best = -Infinity;
    for (let b = 0; b < p.count; b++) {
      let s = 0;
      for (let c = 0; c < D; c++) s += q.data[a * D + c]! * p.data[b * D + c]!;
      if (s > best) best = s;
    }
    total += best;
  }
  return total / q.count;
}

/** What one text's encoding gives for scoring: any of the three outputs. */
export interface M3Representation {
  dense?: Float32Array;
  sparse?: LexicalWeights;
  colbert?: MultiVector;
}

/** The five scores `compute_score` reports. */
export interface M3Scores {
  dense: number;
  sparse: number;
  colbert: number;
  /** `(w_dense · dense + w_sparse · sparse) / (w_dense + w_sparse)`. */
  sparseDense: number;
  /** `(w_dense · dense + w_sparse · sparse + w_colbert · colbert) / (w_dense + w_sparse + w_colbert)`. */
  colbertSparseDense: number;
}

/** The weights FlagEmbedding's README passes to `compute_score`: dense 0.4, sparse 0.2, colbert 0.4 (sum 1). */
export const DEFAULT_WEIGHTS: readonly [number, number, number] = [0.4, 0.2, 0.4];

/**
 * All scores of a query against a passage, as `compute_score(…, weights_for_different_modes)`:
 * the three scores and their weighted means. `weights` [dense, sparse, colbert], finite and ≥ 0,
 * default [0.4, 0.2, 0.4] (FlagEmbedding itself uses [1, 1, 1] when given none).
 */
export function computeScores(q: M3Representation, p: M3Representation, options: { weights?: readonly number[] } = {}): M3Scores {
  const w = options.weights ?? DEFAULT_WEIGHTS;
  if (!Array.isArray(w) || w.length !== 3 || !w.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0)) {
    throw new OmnivecError('invalid_argument', `weights: expected [dense, sparse, colbert], three finite numbers ≥ 0, got ${describe(w)}`);
  }
  const need = (k: keyof M3Representation): void => {
    if (q[k] === undefined || p[k] === undefined) throw new OmnivecError('invalid_argument', `computeScores: expected ${k} on both the query and the passage`);
  };
  need('dense');
  need('sparse');
  need('colbert');
  const dense = denseScore(q.dense!, p.dense!);
  const sparse = lexicalMatchingScore(q.sparse!, p.sparse!);
  const colbert = colbertScore(q.colbert!, p.colbert!);
  const [wd, ws, wc] = w as [number, number, number];
  return {
    dense, sparse, colbert,
    sparseDense: (wd * dense + ws * sparse) / (wd + ws),
    colbertSparseDense: (wd * dense + ws * sparse + wc * colbert) / (wd + ws + wc),
  };
}
