import { OmnivecError } from '../../errors.js';
import type { Linear } from './weights.js';

/**
 * BGE-M3's three outputs from one forward pass, computed as FlagEmbedding computes them
 * (Chen et al. 2024, "BGE M3-Embedding"; FlagEmbedding's `EncoderOnlyEmbedderM3Model` and
 * `M3Embedder.encode_single_device`). Pure, synchronous maths over plain typed arrays: the token
 * states of a padded batch, its input ids and the real length of each row. See docs/bge-m3.md.
 */

/** The token states of one padded batch: B rows of T tokens of H components. */
export interface TokenBatch {
  /** B × T × H, row-major; rows shorter than T are padded. */
  readonly states: Float32Array;
  readonly dims: readonly [number, number, number];
  /** B × T token ids (padding included). */
  readonly inputIds: Int32Array;
  /** Real tokens of each row, special tokens included (the attention mask's sum). */
  readonly lengths: Int32Array;
}

/** Lexical weights: token ids ascending and unique, weights > 0 (the `{ indices, values }` a collection stores). */
export interface LexicalWeights {
  readonly indices: Uint32Array;
  readonly values: Float32Array;
}

/** Token vectors of one text, row after row (`count` × `dim`): a collection's `multiVector`. */
export interface MultiVector {
  readonly data: Float32Array;
  readonly dim: number;
  readonly count: number;
}

/** A graph output as read from the session: float32 data and its shape. */
export interface OutputTensor {
  readonly data: ArrayLike<number> | ArrayLike<bigint>;
  readonly dims: readonly number[];
  readonly type?: string;
}

function checkBatch(b: TokenBatch): void {
  const [B, T, H] = b.dims;
  if (b.states.length !== B * T * H) {
    throw new OmnivecError('dimension_mismatch', `token states: expected B × T × H = ${B} × ${T} × ${H} = ${B * T * H} numbers, got ${b.states.length}`);
  }
  if (b.inputIds.length !== B * T) throw new OmnivecError('dimension_mismatch', `inputIds: expected B × T = ${B * T} ids, got ${b.inputIds.length}`);
  if (b.lengths.length !== B) throw new OmnivecError('dimension_mismatch', `lengths: expected one length per row (${B}), got ${b.lengths.length}`);
  for (let i = 0; i < B; i++) {
    const n = b.lengths[i]!;
    if (n < 1 || n > T) throw new OmnivecError('invalid_argument', `lengths[${i}]: expected an integer from 1 to ${T}, got ${n}`);
  }
}

function checkLinear(lin: Linear, H: number, what: string): void {
  if (lin.inDim !== H) {
    throw new OmnivecError('dimension_mismatch', `${what}: the layer takes ${lin.inDim} inputs, the model's hidden size is ${H}`);
  }
}

/** Scales `v[o .. o + n)` to unit L2 norm in place (torch.nn.functional.normalize: norm clamped at 1e-12). */
function normalizeAt(v: Float32Array, o: number, n: number): void {
  let s = 0;
  for (let c = 0; c < n; c++) s += v[o + c]! * v[o + c]!;
  const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
  for (let c = 0; c < n; c++) v[o + c] = v[o + c]! * inv;
}

/** `y = x · Wᵀ + b` for one row of `states` at offset `xo`, into `out` at `yo`. */
function linearAt(lin: Linear, states: Float32Array, xo: number, out: Float32Array, yo: number): void {
  const { weight, bias, inDim, outDim } = lin;
  for (let j = 0; j < outDim; j++) {
    let s = bias[j]!;
    const wo = j * inDim;
    for (let c = 0; c < inDim; c++) s += states[xo + c]! * weight[wo + c]!;
    out[yo + j] = s;
  }
}

/** Dense: the [CLS] (first) token's state, L2-normalised. One vector of H per row. */
export function denseHead(batch: TokenBatch): Float32Array[] {
  checkBatch(batch);
  const [B, T, H] = batch.dims;
  const out: Float32Array[] = [];
  for (let i = 0; i < B; i++) {
    const v = batch.states.slice(i * T * H, i * T * H + H);
    normalizeAt(v, 0, H);
    out.push(v);
  }
  return out;
}

/** Token weights `relu(states[t] · W_sparse + b)`: B × T (padding positions 0). `sparse` is Linear(H, 1). */
export function tokenWeights(batch: TokenBatch, sparse: Linear): Float32Array {
  checkBatch(batch);
  const [B, T, H] = batch.dims;
  checkLinear(sparse, H, 'sparse_linear');
  if (sparse.outDim !== 1) throw new OmnivecError('dimension_mismatch', `sparse_linear: expected 1 output (one weight per token), got ${sparse.outDim}`);
  const w = new Float32Array(B * T);
  const one = new Float32Array(1);
  for (let i = 0; i < B; i++) {
    for (let t = 0; t < batch.lengths[i]!; t++) {
      linearAt(sparse, batch.states, (i * T + t) * H, one, 0);
      w[i * T + t] = one[0]! > 0 ? one[0]! : 0;
    }
  }
  return w;
}

/**
 * Lexical weights from token weights (B × T): for each real token whose id is not special and
 * whose weight is > 0, the maximum weight per token id (a word repeated counts once, at its
 * strongest). `special`: the tokenizer's cls, eos, pad and unk ids, which FlagEmbedding drops.
 */
export function lexicalWeights(weights: Float32Array, batch: Pick<TokenBatch, 'inputIds' | 'lengths'>, special: ReadonlySet<number>): LexicalWeights[] {
  const B = batch.lengths.length;
  const T = B === 0 ? 0 : batch.inputIds.length / B;
  if (weights.length !== B * T) throw new OmnivecError('dimension_mismatch', `token weights: expected B × T = ${B * T} numbers, got ${weights.length}`);
  const out: LexicalWeights[] = [];
  for (let i = 0; i < B; i++) {
    const best = new Map<number, number>();
    for (let t = 0; t < batch.lengths[i]!; t++) {
      const id = batch.inputIds[i * T + t]!;
      const w = weights[i * T + t]!;
      if (special.has(id) || !(w > 0)) continue;
      if (w > (best.get(id) ?? 0)) best.set(id, w);
    }
    const ids = [...best.keys()].sort((a, b) => a - b);
    out.push({ indices: Uint32Array.from(ids), values: Float32Array.from(ids, (id) => best.get(id)!) });
  }
  return out;
}

/**
 * ColBERT vectors: `normalize(states[t] · W_colbert + b)` for t = 1 … length − 1: every real
 * token after [CLS], the final </s> included (FlagEmbedding keeps `colbert_vecs[:tokens_num - 1]`
 * of `colbert_linear(last_hidden_state[:, 1:])`). `colbert` is Linear(H, D).
 */
export function colbertHead(batch: TokenBatch, colbert: Linear): MultiVector[] {
  checkBatch(batch);
  const [B, T, H] = batch.dims;
  checkLinear(colbert, H, 'colbert_linear');
  const D = colbert.outDim;
  const out: MultiVector[] = [];
  for (let i = 0; i < B; i++) {
    const count = batch.lengths[i]! - 1;
    const data = new Float32Array(count * D);
    for (let r = 0; r < count; r++) {
      linearAt(colbert, batch.states, (i * T + r + 1) * H, data, r * D);
      normalizeAt(data, r * D, D);
    }
    out.push({ data, dim: D, count });
  }
  return out;
}

/**
 * `{ token: weight }` for display, as FlagEmbedding's `convert_id_to_token`: each id decoded on
 * its own (`decode([id])`, so "▁hello" shows as "hello"). Two ids that decode to the same string
 * share a key: the larger id's weight is kept (FlagEmbedding keeps the later one in text order).
 */
export function lexicalTokens(lw: LexicalWeights, decode: (id: number) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (let j = 0; j < lw.indices.length; j++) out[decode(lw.indices[j]!)] = lw.values[j]!;
  return out;
}

// Graph outputs: exports that run the heads inside the graph name them differently.

/** Output names accepted for each head, first match wins. */
export const HEAD_OUTPUT_NAMES = {
  dense: ['dense_vecs', 'dense_embeddings', 'dense_embedding', 'sentence_embedding', 'dense'],
  sparse: ['sparse_vecs', 'sparse_weights', 'token_weights', 'sparse'],
  colbert: ['colbert_vecs', 'colbert_vectors', 'colbert_embeddings', 'colbert'],
} as const;

/** The first output of `outputs` named as `head`'s, or undefined. */
export function headOutput(outputs: Record<string, OutputTensor>, head: keyof typeof HEAD_OUTPUT_NAMES): OutputTensor | undefined {
  for (const n of HEAD_OUTPUT_NAMES[head]) if (outputs[n] !== undefined) return outputs[n];
  return undefined;
}

function floats(t: OutputTensor, what: string): ArrayLike<number> {
  if (t.type !== undefined && t.type !== 'float32') throw new OmnivecError('encoder_error', `${what}: expected a float32 graph output, got ${t.type}`);
  return t.data as ArrayLike<number>;
}

/**
 * Dense vectors from a graph output [B, H], L2-normalised here: some exports emit the raw [CLS]
 * state, and normalising an already unit vector changes it by float rounding only.
 */
export function denseFromOutput(t: OutputTensor, B: number): Float32Array[] {
  const data = floats(t, 'dense output');
  if (t.dims.length !== 2 || t.dims[0] !== B) throw new OmnivecError('encoder_error', `dense output: expected shape [${B}, H], got [${t.dims.join(', ')}]`);
  const H = t.dims[1]!;
  return Array.from({ length: B }, (_, i) => {
    const v = Float32Array.from({ length: H }, (_, c) => data[i * H + c]!);
    normalizeAt(v, 0, H);
    return v;
  });
}

/**
 * Token weights B × T from a graph output: [B, T, 1] or [B, T] (relu already applied by the
 * export; applied again here, which changes nothing for such exports). [B, vocab] outputs — the
 * scattered sparse embedding — are not token weights and are refused.
 */
export function tokenWeightsFromOutput(t: OutputTensor, B: number, T: number): Float32Array {
  const data = floats(t, 'sparse output');
  const ok = t.dims[0] === B && t.dims[1] === T && (t.dims.length === 2 || (t.dims.length === 3 && t.dims[2] === 1));
  if (!ok) throw new OmnivecError('encoder_error', `sparse output: expected token weights of shape [${B}, ${T}, 1] or [${B}, ${T}], got [${t.dims.join(', ')}]`);
  return Float32Array.from({ length: B * T }, (_, i) => Math.max(0, data[i]!));
}

/**
 * ColBERT vectors from a graph output: [B, T − 1, D] (FlagEmbedding's layout: row r is token
 * r + 1) or [B, T, D] (row t is token t; row 0, [CLS], skipped). Tokens 1 … length − 1 are kept
 * and L2-normalised here (some exports emit `colbert_linear(h)` raw; for normalised ones this
 * changes nothing but float rounding).
 */
export function colbertFromOutput(t: OutputTensor, lengths: Int32Array, T: number): MultiVector[] {
  const data = floats(t, 'colbert output');
  const B = lengths.length;
  if (t.dims.length !== 3 || t.dims[0] !== B || (t.dims[1] !== T - 1 && t.dims[1] !== T)) {
    throw new OmnivecError('encoder_error', `colbert output: expected shape [${B}, ${T - 1}, D] or [${B}, ${T}, D], got [${t.dims.join(', ')}]`);
  }
  const rows = t.dims[1]!;
  const D = t.dims[2]!;
  const skip = rows === T ? 1 : 0;
  const out: MultiVector[] = [];
  for (let i = 0; i < B; i++) {
    const count = lengths[i]! - 1;
    const from = (i * rows + skip) * D;
    const v = Float32Array.from({ length: count * D }, (_, j) => data[from + j]!);
    for (let r = 0; r < count; r++) normalizeAt(v, r * D, D);
    out.push({ data: v, dim: D, count });
  }
  return out;
}
