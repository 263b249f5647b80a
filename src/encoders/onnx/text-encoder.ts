import { Tokenizer } from '@huggingface/tokenizers';
import { OmnivecError, describe, invalidArgument } from '../../errors.js';
import { checkDimensions, normalizeVector, type MatryoshkaDecl } from '../matryoshka.js';
import { emptyEncoding } from '../common.js';
import { refuseZeroRows } from '../no-vector.js';
import type { EncodeOptions, Encoder, Encoding } from '../types.js';
import { locateModel, openModelFolder, type ModelFolder } from './model-folder.js';
import { OnnxSession, type TensorData } from './session.js';

/**
 * A sentence encoder from a Hugging Face style folder: tokenizer.json through
 * `@huggingface/tokenizers`, the graph through onnxruntime-node, then pooling, Matryoshka
 * truncation and normalisation. See docs/encoders.md, "Text encoders". Implements the encoder
 * contract (types.ts).
 */

export type Pooling = 'cls' | 'mean' | 'last' | 'none';
export type TextMode = 'query' | 'passage';

export interface TextEncoderOptions {
  /** Intra-op threads of the session. Default: the number of cores. */
  threads?: number;
  /** Texts per forward pass. Default 32. */
  batchSize?: number;
  /**
   * Length-bucketed batching: texts are sorted by token count so each batch holds texts of similar
   * length and pads little (results still come back in input order). Default true; false keeps
   * the input order in the batches.
   */
  bucketing?: boolean;
  /** Maximum tokens per text, special tokens included. Default: the model's (≤ 512 unless the spec says more). */
  maxLength?: number;
  /** What to do with a longer text: cut it (default; reported by encodeDetailed) or refuse it. */
  truncation?: 'truncate' | 'error';
  pooling?: Pooling;
  normalize?: boolean;
  /** The graph output to read. Default: sentence_embedding when the graph has it, else last_hidden_state. */
  output?: string;
  queryPrefix?: string;
  passagePrefix?: string;
  /** Matryoshka: keep the first `dimensions` components (then renormalise). */
  dimensions?: number;
  /** Cut to `dimensions` even when the spec does not declare Matryoshka training. */
  forceDimensions?: boolean;
  /** The graph file inside the folder (e.g. onnx/model_quantized.onnx). */
  file?: string;
  /** The model name to record in the spec (default: the folder's name, or the hub id). */
  name?: string;
  /** A hub id may download its missing files into the cache (default: OMNIVEC_ALLOW_NETWORK=1). */
  allowNetwork?: boolean;
  /** Where the model is (an absolute path, a hub id), recorded in the spec so the registry can reopen it; set by the registry (src/encoders/registry.ts). */
  source?: string;
}

export interface OnnxTextEncoderSpec {
  model: string;
  dim: number;
  kind: 'text';
  pooling: Pooling;
  normalize: boolean;
  maxLength: number;
  output: string;
  queryPrefix?: string;
  passagePrefix?: string;
  dimensions?: number;
  [key: string]: unknown;
}

export interface DetailedEncoding {
  /** The vectors (and their total tokens), as `encode` returns them. */
  vectors: Encoding;
  /** Indices of the texts that were cut to maxLength. */
  truncated: number[];
  /** Tokens fed per text (after truncation, special tokens included). */
  tokens: Int32Array;
}

/** One forward pass: token states of a batch of texts (rows in `order`). */
export interface TokenStatesBatch {
  /** Input index of each row. */
  order: Int32Array;
  /** The token-level output, [B, T, H], padded rows (undefined when the graph only has a pooled output). */
  states: Float32Array | undefined;
  dims: [number, number, number];
  /** Token ids fed, [B, T] (padding = the pad id). */
  inputIds: Int32Array;
  /** Real tokens per row (special tokens included). */
  lengths: Int32Array;
  /** Every output of the graph for this batch. */
  outputs: Record<string, TensorData>;
}

const DEFAULT_BATCH = 32;
const MAX_DEFAULT_LENGTH = 512;

function pick<T>(...values: (T | undefined)[]): T | undefined {
  for (const v of values) if (v !== undefined) return v;
  return undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** The token string of a special token entry of tokenizer_config / special_tokens_map (a string or {content}). */
function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

function poolingFromFolder(f: ModelFolder): Pooling | undefined {
  const p = f.poolingConfig;
  if (p === undefined) return undefined;
  if (p.pooling_mode_cls_token === true) return 'cls';
  if (p.pooling_mode_lasttoken === true) return 'last';
  if (p.pooling_mode_mean_tokens === true) return 'mean';
  return undefined;
}

/** The tokenizer of a folder, with truncation that keeps the special tokens at both ends. */
export class TextTokenizer {
  readonly tokenizer: Tokenizer;
  readonly padId: number;
  /** Ids of the special tokens (CLS, SEP, PAD, UNK, BOS, EOS …). */
  readonly specialIds: ReadonlySet<number>;

  constructor(json: Record<string, unknown>, config: Record<string, unknown> | undefined, specialTokensMap?: Record<string, unknown>) {
    try {
      this.tokenizer = new Tokenizer(json, config ?? {});
    } catch (e) {
      throw new OmnivecError('corrupt_file', `tokenizer.json: not a tokenizer this runtime reads (${(e as Error).message})`);
    }
    const name = (k: string): string | undefined => tokenContent(config?.[k]) ?? tokenContent(specialTokensMap?.[k]);
    const idOf = (t: string | undefined): number | undefined => (t === undefined ? undefined : this.tokenizer.token_to_id(t));
    this.padId = idOf(name('pad_token')) ?? idOf('[PAD]') ?? idOf('<pad>') ?? 0;
    const special = new Set<number>();
    for (const k of ['pad_token', 'unk_token', 'cls_token', 'sep_token', 'bos_token', 'eos_token', 'mask_token']) {
      const id = idOf(name(k));
      if (id !== undefined) special.add(id);
    }
    for (const [id, t] of this.tokenizer.get_added_tokens_decoder()) if ((t as { special?: boolean }).special) special.add(id);
    this.specialIds = special;
  }

  /** Token ids with the special tokens, cut to `maxLength` keeping the leading and trailing specials. */
  encode(text: string, maxLength: number): { ids: number[]; truncated: boolean } {
    const full = this.tokenizer.encode(text).ids;
    if (full.length <= maxLength) return { ids: full, truncated: false };
    const content = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
    const extra = full.length - content.length;
    // Where the content starts inside `full` (after the leading special tokens).
    let start = 0;
    for (let p = 0; p <= extra; p++) {
      let same = true;
      for (let i = 0; i < Math.min(content.length, 8); i++) if (full[p + i] !== content[i]) { same = false; break; }
      if (same) { start = p; break; }
    }
    const keep = Math.max(0, maxLength - extra);
    const ids = [...full.slice(0, start), ...content.slice(0, keep), ...full.slice(start + content.length)];
    return { ids, truncated: true };
  }

  /** Tokens of `text` without special tokens. */
  count(text: string): number {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids.length;
  }
}

export class OnnxTextEncoder implements Encoder<'text'> {
  readonly modality = 'text' as const;
  readonly dim: number;
  readonly spec: OnnxTextEncoderSpec;
  readonly tokenizer: TextTokenizer;
  readonly session: OnnxSession;
  readonly maxLength: number;
  readonly #modelDim: number;
  readonly #batchSize: number;
  readonly #truncation: 'truncate' | 'error';
  readonly #bucketing: boolean;

  private constructor(session: OnnxSession, tokenizer: TextTokenizer, spec: OnnxTextEncoderSpec, modelDim: number, batchSize: number,
    truncation: 'truncate' | 'error', bucketing: boolean) {
    this.session = session;
    this.tokenizer = tokenizer;
    this.spec = spec;
    this.dim = spec.dim;
    this.maxLength = spec.maxLength;
    this.#modelDim = modelDim;
    this.#batchSize = batchSize;
    this.#truncation = truncation;
    this.#bucketing = bucketing;
  }

  static async create(model: string, options: TextEncoderOptions = {}): Promise<OnnxTextEncoder> {
    const where = await locateModel(model, { allowNetwork: options.allowNetwork, files: ['config.json', 'tokenizer.json', options.file ?? 'onnx/model.onnx'] });
    const folder = openModelFolder(where.path, { file: options.file, require: ['tokenizer.json'], name: options.name ?? where.name });
    const o = folder.omnivec ?? {};
    const batchSize = options.batchSize ?? DEFAULT_BATCH;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw invalidArgument(`batchSize: expected a positive integer, got ${describe(options.batchSize)}`);
    const truncation = options.truncation ?? 'truncate';
    if (truncation !== 'truncate' && truncation !== 'error') throw invalidArgument(`truncation: expected "truncate" or "error", got ${describe(truncation)}`);
    const tokenizer = new TextTokenizer(folder.tokenizerJson!, folder.tokenizerConfig, folder.specialTokensMap);
    const session = await OnnxSession.open(folder.onnxFile, { threads: options.threads });
    try {
      const output = pick(options.output, str(o.output),
        session.outputNames.includes('sentence_embedding') ? 'sentence_embedding' : undefined,
        session.outputNames.includes('last_hidden_state') ? 'last_hidden_state' : undefined,
        session.outputNames.includes('token_embeddings') ? 'token_embeddings' : undefined,
        session.outputNames[0])!;
      if (!session.outputNames.includes(output)) {
        throw invalidArgument(`output: ${folder.onnxFile} has no output ${JSON.stringify(output)}; it has ${session.outputNames.join(', ')}`);
      }
      for (const input of session.inputNames) {
        if (!['input_ids', 'attention_mask', 'token_type_ids', 'position_ids'].includes(input)) {
          throw new OmnivecError('encoder_error', `${folder.onnxFile}: input ${JSON.stringify(input)} is not one a text encoder feeds (input_ids, attention_mask, token_type_ids, position_ids)`);
        }
      }
      if (!session.inputNames.includes('input_ids')) throw new OmnivecError('encoder_error', `${folder.onnxFile}: no input_ids input; it has ${session.inputNames.join(', ')}`);
      const cfg = folder.config ?? {};
      const tc = folder.tokenizerConfig ?? {};
      const modelMax = typeof tc.model_max_length === 'number' && tc.model_max_length <= 100_000 ? tc.model_max_length : undefined;
      const positions = typeof cfg.max_position_embeddings === 'number'
        ? cfg.max_position_embeddings - (['roberta', 'xlm-roberta', 'camembert'].includes(String(cfg.model_type)) ? 2 : 0)
        : undefined;
      const maxLength = pick(options.maxLength, typeof o.maxLength === 'number' ? o.maxLength : undefined, modelMax !== undefined ? Math.min(modelMax, positions ?? modelMax) : undefined,
        positions !== undefined ? Math.min(positions, MAX_DEFAULT_LENGTH) : undefined, MAX_DEFAULT_LENGTH)!;
      if (!Number.isInteger(maxLength) || maxLength < 2) throw invalidArgument(`maxLength: expected an integer ≥ 2, got ${describe(maxLength)}`);
      const normalize = pick(options.normalize, typeof o.normalize === 'boolean' ? o.normalize : undefined, true)!;
      const queryPrefix = pick(options.queryPrefix, str(o.queryPrefix));
      const passagePrefix = pick(options.passagePrefix, str(o.passagePrefix));
      // Probe: one forward pass tells the output's rank and width (and checks the graph runs).
      const probe = tokenizer.encode('hello', maxLength).ids;
      const out = (await runBatch(session, [probe], tokenizer.padId))[output]!;
      const rank = out.dims.length;
      if (rank !== 2 && rank !== 3) throw new OmnivecError('encoder_error', `${folder.onnxFile}: output ${output} has shape [${out.dims.join(', ')}]; expected [batch, dim] or [batch, tokens, dim]`);
      const pooling: Pooling = rank === 2 ? 'none' : pick<Pooling>(options.pooling, str(o.pooling) as Pooling | undefined, poolingFromFolder(folder), 'mean')!;
      if (!['cls', 'mean', 'last', 'none'].includes(pooling)) throw invalidArgument(`pooling: expected cls, mean, last or none, got ${describe(pooling)}`);
      if (pooling === 'none' && rank === 3) throw invalidArgument(`pooling: output ${output} is per token ([batch, tokens, dim]); choose cls, mean or last`);
      const modelDim = out.dims[rank - 1]!;
      const declared = o.matryoshka as MatryoshkaDecl;
      const name = folder.name;
      const dim = checkDimensions(options.dimensions, modelDim, declared, options.forceDimensions, name);
      const spec: OnnxTextEncoderSpec = {
        model: dim === modelDim ? name : `${name}@${dim}`,
        dim, kind: 'text', pooling, normalize, maxLength, output,
        ...(queryPrefix !== undefined ? { queryPrefix } : {}),
        ...(passagePrefix !== undefined ? { passagePrefix } : {}),
        ...(dim !== modelDim ? { dimensions: dim } : {}),
        ...(options.source !== undefined ? { source: options.source } : {}),
      };
      return new OnnxTextEncoder(session, tokenizer, spec, modelDim, batchSize, truncation, options.bucketing ?? true);
    } catch (e) {
      await session.close();
      throw e;
    }
  }

  #prepare(texts: readonly string[], mode: TextMode | undefined): { ids: number[][]; truncated: number[] } {
    if (!Array.isArray(texts)) throw invalidArgument(`texts: expected an array of strings, got ${describe(texts)}`);
    if (mode !== undefined && mode !== 'query' && mode !== 'passage') throw invalidArgument(`mode: expected "query" or "passage", got ${describe(mode)}`);
    const prefix = (mode === 'query' ? this.spec.queryPrefix : this.spec.passagePrefix) ?? '';
    const ids: number[][] = new Array(texts.length);
    const truncated: number[] = [];
    for (let i = 0; i < texts.length; i++) {
      const t = texts[i];
      if (typeof t !== 'string') throw invalidArgument(`texts[${i}]: expected a string, got ${describe(t)}`);
      if (t.trim() === '') throw invalidArgument(`texts[${i}]: expected a non-empty text, got ${describe(t)}`);
      const enc = this.tokenizer.encode(prefix + t, this.maxLength);
      if (enc.truncated) {
        if (this.#truncation === 'error') {
          throw invalidArgument(`texts[${i}]: ${this.tokenizer.encode(prefix + t, Number.MAX_SAFE_INTEGER).ids.length} tokens, more than the ${this.maxLength} ${this.spec.model} takes (truncation: "error")`);
        }
        truncated.push(i);
      }
      ids[i] = enc.ids;
    }
    return { ids, truncated };
  }

  /** Runs the graph over the texts in batches of similar length. */
  async *#batches(ids: number[][], signal: AbortSignal | undefined): AsyncGenerator<TokenStatesBatch> {
    const order = Int32Array.from(ids.keys());
    if (this.#bucketing) order.sort((a, b) => ids[b]!.length - ids[a]!.length);
    for (let s = 0; s < order.length; s += this.#batchSize) {
      if (signal?.aborted) throw new OmnivecError('encoder_error', 'encoding aborted');
      const rows = order.subarray(s, Math.min(order.length, s + this.#batchSize));
      const list = Array.from(rows, (i) => ids[i]!);
      const outputs = await runBatch(this.session, list, this.tokenizer.padId);
      let T = 0;
      for (const r of list) T = Math.max(T, r.length);
      const inputIds = new Int32Array(list.length * T).fill(this.tokenizer.padId);
      list.forEach((r, b) => inputIds.set(r, b * T));
      const out = outputs[this.spec.output]!;
      const states = out.dims.length === 3 ? out.data as Float32Array : undefined;
      yield {
        order: rows.slice(), states, dims: [list.length, T, out.dims[out.dims.length - 1]!], inputIds,
        lengths: Int32Array.from(list, (r) => r.length), outputs,
      };
    }
  }

  /** Token states per batch (for BGE-M3 heads and other token-level uses). */
  async tokenStates(texts: readonly string[], options: EncodeOptions = {}): Promise<TokenStatesBatch[]> {
    const { ids } = this.#prepare(texts, options.mode);
    const out: TokenStatesBatch[] = [];
    for await (const b of this.#batches(ids, options.signal)) out.push(b);
    return out;
  }

  /**
   * {@link encode}, plus which texts were cut to maxLength and the tokens of each. A text whose
   * vector is the zero vector is refused (docs/hardening.md §6).
   */
  async encodeDetailed(texts: readonly string[], options: EncodeOptions = {}): Promise<DetailedEncoding> {
    const { ids, truncated } = this.#prepare(texts, options.mode);
    const tokens = Int32Array.from(ids, (r) => r.length);
    let total = 0;
    for (const n of tokens) total += n;
    const dim = this.dim;
    const vectors = emptyEncoding(texts.length, dim, total);
    let done = 0;
    for await (const b of this.#batches(ids, options.signal)) {
      const out = b.outputs[this.spec.output]!;
      const data = out.data as Float32Array;
      const [B, T, H] = b.dims;
      for (let r = 0; r < B; r++) {
        // Pooled (or the graph's own [B, H] row), cut to `dim`, written into the batch's row.
        const row = vectors.data.subarray(b.order[r]! * dim, (b.order[r]! + 1) * dim);
        if (out.dims.length === 2) row.set(data.subarray(r * H, r * H + dim));
        else poolInto(row, data, r, T, H, b.lengths[r]!, this.spec.pooling);
        if (this.spec.normalize) normalizeVector(row);
      }
      done += B;
      options.onProgress?.(done, texts.length);
    }
    refuseZeroRows(vectors, texts);
    return { vectors, truncated, tokens };
  }

  /** One vector per text (row i of the batch is text i), and the tokens run. */
  async encode(texts: readonly string[], options: EncodeOptions = {}): Promise<Encoding> {
    return (await this.encodeDetailed(texts, options)).vectors;
  }

  /** The model's own output width (before `dimensions`). */
  get modelDim(): number {
    return this.#modelDim;
  }

  async close(): Promise<void> {
    await this.session.close();
  }
}

/** Pools row `r` of a [B, T, H] output over its first `len` tokens. */
export function pool(data: Float32Array, r: number, T: number, H: number, len: number, pooling: Pooling): Float32Array {
  return poolInto(new Float32Array(H), data, r, T, H, len, pooling);
}

/**
 * {@link pool} into `out`, straight into a row of the batch `encode` returns: its first
 * `out.length` (≤ H) components only, so a Matryoshka cut pools no more than it keeps.
 */
export function poolInto(out: Float32Array, data: Float32Array, r: number, T: number, H: number, len: number, pooling: Pooling): Float32Array {
  const base = r * T * H;
  const D = out.length;
  if (pooling === 'cls' || pooling === 'last') {
    const at = base + (pooling === 'cls' ? 0 : (len - 1) * H);
    out.set(data.subarray(at, at + D));
    return out;
  }
  // Four components at a time down the token axis, summed in locals (1.8× faster than row by row;
  // bench:encode, lookup model: encode 1.17–1.36× faster).
  const inv = 1 / len;
  let h = 0;
  for (; h + 4 <= D; h += 4) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let t = 0, o = base + h; t < len; t++, o += H) {
      s0 += data[o]!;
      s1 += data[o + 1]!;
      s2 += data[o + 2]!;
      s3 += data[o + 3]!;
    }
    out[h] = s0 * inv;
    out[h + 1] = s1 * inv;
    out[h + 2] = s2 * inv;
    out[h + 3] = s3 * inv;
  }
  for (; h < D; h++) {
    let sum = 0;
    for (let t = 0, o = base + h; t < len; t++, o += H) sum += data[o]!;
    out[h] = sum * inv;
  }
  return out;
}

/** Pads `list` to its longest row and runs the graph (int64 inputs). */
async function runBatch(session: OnnxSession, list: readonly number[][], padId: number): Promise<Record<string, TensorData>> {
  const B = list.length;
  let T = 0;
  for (const r of list) T = Math.max(T, r.length);
  // int64 tensors written through 32-bit views (ids and masks are small non-negative integers on a
  // little-endian machine: the high word stays 0), instead of one BigInt per token.
  const ids = new BigInt64Array(B * T);
  const mask = new BigInt64Array(B * T);
  const ids32 = new Int32Array(ids.buffer);
  const mask32 = new Int32Array(mask.buffer);
  for (let b = 0; b < B; b++) {
    const r = list[b]!;
    const o = b * T;
    for (let t = 0; t < r.length; t++) {
      ids32[2 * (o + t)] = r[t]!;
      mask32[2 * (o + t)] = 1;
    }
    for (let t = r.length; t < T; t++) ids32[2 * (o + t)] = padId;
  }
  const dims = [B, T];
  const feeds: Record<string, TensorData> = { input_ids: { type: 'int64', data: ids, dims } };
  if (session.has('attention_mask')) feeds.attention_mask = { type: 'int64', data: mask, dims };
  if (session.has('token_type_ids')) feeds.token_type_ids = { type: 'int64', data: new BigInt64Array(B * T), dims };
  if (session.has('position_ids')) {
    const pos = new BigInt64Array(B * T);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) pos[b * T + t] = BigInt(t);
    feeds.position_ids = { type: 'int64', data: pos, dims };
  }
  return session.run(feeds);
}

/** Opens a text encoder from a model folder (see TextEncoderOptions). */
export function createTextEncoder(model: string, options?: TextEncoderOptions): Promise<OnnxTextEncoder> {
  return OnnxTextEncoder.create(model, options);
}
