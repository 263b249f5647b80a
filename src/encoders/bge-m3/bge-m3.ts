import { dirname, resolve } from 'node:path';
import { OmnivecError, describe, invalidArgument } from '../../errors.js';
import { checkDimensions, truncateVector, type MatryoshkaDecl } from '../matryoshka.js';
import { openModelFolder } from '../onnx/model-folder.js';
import { createTextEncoder, type OnnxTextEncoder, type TextMode, type TokenStatesBatch } from '../onnx/text-encoder.js';
import {
  colbertFromOutput, colbertHead, denseFromOutput, denseHead, headOutput, HEAD_OUTPUT_NAMES, lexicalTokens, lexicalWeights,
  tokenWeights, tokenWeightsFromOutput, type LexicalWeights, type MultiVector, type TokenBatch,
} from './heads.js';
import { findLinear, type Linear } from './weights.js';
import { encodingFromRows } from '../common.js';
import { refuseZeroRows } from '../no-vector.js';
import type { Encoder } from '../types.js';

/**
 * BGE-M3 (Chen et al. 2024): one forward pass of XLM-RoBERTa gives the dense vector, the sparse
 * lexical weights and the ColBERT token vectors. The forward pass is the ONNX text encoder's
 * (`tokenStates`); the heads run here (heads.ts) unless the graph already outputs them. See
 * docs/bge-m3.md.
 */

export interface BgeM3Options {
  /** Intra-op threads of the session. Default: the number of cores. */
  threads?: number;
  /** Texts per forward pass. Default 32. */
  batchSize?: number;
  /** Maximum tokens per text, special tokens included. Default: the model's (8192 for BGE-M3, capped by the folder's config). */
  maxLength?: number;
  /** The graph inside the folder (e.g. onnx/model_quantized.onnx). */
  file?: string;
  /** The model name recorded in the spec. Default: the folder's name. */
  name?: string;
  /** Matryoshka: keep the first `dimensions` components of the dense vector (then renormalise). */
  dimensions?: number;
  /** Cut to `dimensions` even when omnivec.json does not declare Matryoshka training (BGE-M3 was not trained for it). */
  forceDimensions?: boolean;
  /** Where the model is (an absolute path, a hub id), recorded in the spec so the registry can reopen it; set by the registry (src/encoders/registry.ts). */
  source?: string;
}

export interface BgeM3EncodeOptions {
  /** Compute the dense vectors. Default true. */
  dense?: boolean;
  /** Compute the lexical weights. Default true. */
  sparse?: boolean;
  /** Compute the ColBERT vectors. Default true. */
  colbert?: boolean;
  /** BGE-M3 uses no prefixes: the mode matters only when omnivec.json declares some. */
  mode?: TextMode;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** One entry per input text in each list asked for; lists not asked for are empty. */
export interface BgeM3Output {
  dense: Float32Array[];
  sparse: LexicalWeights[];
  colbert: MultiVector[];
}

export interface BgeM3Spec {
  model: string;
  dim: number;
  kind: 'bge-m3';
  maxLength: number;
  [key: string]: unknown;
}

/** A record for `collection.add`: all three outputs and the text. */
export interface BgeM3Record {
  id: string;
  vector: Float32Array;
  sparse: LexicalWeights;
  multiVector: MultiVector;
  document: string;
  model: string;
}

/** Where each head comes from: the graph's output, or computed here from the token states. */
export interface HeadSources {
  dense: 'graph' | 'states' | 'missing';
  sparse: 'graph' | 'weights' | 'missing';
  colbert: 'graph' | 'weights' | 'missing';
}

/** Token-level outputs the heads run on, in order of preference. */
const STATES_OUTPUTS = ['last_hidden_state', 'token_embeddings'];

/** The special tokens FlagEmbedding leaves out of the lexical weights: cls, eos, pad and unk, as the tokenizer's files name them. */
function unusedTokenIds(folder: ReturnType<typeof openModelFolder>, tok: OnnxTextEncoder['tokenizer']): Set<number> {
  const ids = new Set<number>();
  for (const key of ['cls_token', 'eos_token', 'pad_token', 'unk_token']) {
    const v = folder.specialTokensMap?.[key] ?? folder.tokenizerConfig?.[key];
    const name = typeof v === 'string' ? v : (v as { content?: unknown } | undefined)?.content;
    if (typeof name !== 'string') continue;
    const id = tok.tokenizer.token_to_id(name);
    if (id !== undefined) ids.add(id);
  }
  return ids;
}

export class BgeM3 {
  readonly dim: number;
  /** Dimension of the ColBERT vectors (undefined when the folder has no ColBERT head). */
  readonly colbertDim: number | undefined;
  readonly spec: BgeM3Spec;
  readonly heads: HeadSources;
  readonly #text: OnnxTextEncoder;
  readonly #sparse: Linear | undefined;
  readonly #colbert: Linear | undefined;
  readonly #unused: ReadonlySet<number>;
  readonly #where: string;

  private constructor(text: OnnxTextEncoder, spec: BgeM3Spec, heads: HeadSources, sparse: Linear | undefined, colbert: Linear | undefined,
    colbertDim: number | undefined, unused: ReadonlySet<number>, where: string) {
    this.#text = text;
    this.spec = spec;
    this.dim = spec.dim;
    this.heads = heads;
    this.#sparse = sparse;
    this.#colbert = colbert;
    this.colbertDim = colbertDim;
    this.#unused = unused;
    this.#where = where;
  }

  static async create(model: string, options: BgeM3Options = {}): Promise<BgeM3> {
    const folder = openModelFolder(model, { file: options.file, require: ['tokenizer.json'], name: options.name });
    // Head weights beside the graph or at the folder's root (where FlagEmbedding keeps its .pt files).
    const dirs = [...new Set([folder.dir, dirname(folder.onnxFile)])];
    const find = async (name: string): Promise<Linear | undefined> => {
      for (const d of dirs) {
        const lin = await findLinear(d, name);
        if (lin !== undefined) return lin;
      }
      return undefined;
    };
    const sparse = await find('sparse_linear');
    const colbert = await find('colbert_linear');
    const textOptions = {
      threads: options.threads, batchSize: options.batchSize, maxLength: options.maxLength, file: options.file,
      name: folder.name, pooling: 'cls' as const, normalize: true,
    };
    let text = await createTextEncoder(resolve(model), textOptions);
    // The heads need the token states: when the text encoder chose a pooled output (e.g. a graph
    // with sentence_embedding beside last_hidden_state), open it again on the states.
    const statesName = STATES_OUTPUTS.find((n) => text.session.outputNames.includes(n));
    if (statesName !== undefined && text.spec.output !== statesName) {
      await text.close();
      text = await createTextEncoder(resolve(model), { ...textOptions, output: statesName });
    }
    try {
      const outs = text.session.outputNames;
      const has = (head: keyof typeof HEAD_OUTPUT_NAMES): boolean => HEAD_OUTPUT_NAMES[head].some((n) => outs.includes(n));
      const statesOutput = text.spec.pooling !== 'none';
      const heads: HeadSources = {
        dense: has('dense') ? 'graph' : statesOutput ? 'states' : 'missing',
        sparse: has('sparse') ? 'graph' : sparse !== undefined && statesOutput ? 'weights' : 'missing',
        colbert: has('colbert') ? 'graph' : colbert !== undefined && statesOutput ? 'weights' : 'missing',
      };
      const H = text.modelDim;
      for (const [lin, name] of [[sparse, 'sparse_linear'], [colbert, 'colbert_linear']] as const) {
        if (lin !== undefined && statesOutput && lin.inDim !== H) {
          throw new OmnivecError('dimension_mismatch', `${name}: the layer takes ${lin.inDim} inputs, ${folder.onnxFile}'s ${text.spec.output} has ${H}`);
        }
      }
      // The dense width: the graph's dense output when it has one (probed), else the hidden size.
      let dim = H;
      let colbertDim = heads.colbert === 'weights' ? colbert!.outDim : undefined;
      if (heads.dense === 'graph' || heads.colbert === 'graph') {
        const [probe] = await text.tokenStates(['hello']);
        if (heads.dense === 'graph') dim = headOutput(probe!.outputs, 'dense')!.dims.at(-1)!;
        if (heads.colbert === 'graph') colbertDim = headOutput(probe!.outputs, 'colbert')!.dims.at(-1)!;
      }
      if (heads.dense === 'missing') throw new OmnivecError('encoder_error', `${folder.onnxFile}: no token states (last_hidden_state) and no dense output (${HEAD_OUTPUT_NAMES.dense.join(', ')}); outputs: ${outs.join(', ')}`);
      const outDim = checkDimensions(options.dimensions, dim, folder.omnivec?.matryoshka as MatryoshkaDecl, options.forceDimensions, folder.name);
      const spec: BgeM3Spec = {
        model: outDim === dim ? folder.name : `${folder.name}@${outDim}`, dim: outDim, kind: 'bge-m3', maxLength: text.maxLength,
        ...(outDim !== dim ? { dimensions: outDim } : {}), ...(options.source !== undefined ? { source: options.source } : {}),
      };
      return new BgeM3(text, spec, heads, sparse, colbert, colbertDim, unusedTokenIds(folder, text.tokenizer), folder.dir);
    } catch (e) {
      await text.close();
      throw e;
    }
  }

  /** Dense vectors, lexical weights and ColBERT vectors of `texts`, from one forward pass per batch. */
  async encode(texts: readonly string[], options: BgeM3EncodeOptions = {}): Promise<BgeM3Output> {
    return (await this.#run(texts, options)).out;
  }

  /** {@link encode}, and the tokens fed (special tokens included). */
  async #run(texts: readonly string[], options: BgeM3EncodeOptions): Promise<{ out: BgeM3Output; tokens: number }> {
    if (options === null || typeof options !== 'object') throw invalidArgument(`options: expected an object, got ${describe(options)}`);
    const want = { dense: options.dense ?? true, sparse: options.sparse ?? true, colbert: options.colbert ?? true };
    for (const k of ['sparse', 'colbert'] as const) {
      if (want[k] && this.heads[k] === 'missing') {
        throw new OmnivecError('not_found', `${k}: the model ${this.#where} has no ${k} head: expected a graph output (${k}_vecs) or ${k}_linear.safetensors (or ${k}_linear.weight.npy) beside the model; pass { ${k}: false } to skip it`);
      }
    }
    const batches = await this.#text.tokenStates(texts, { mode: options.mode, signal: options.signal });
    const out: BgeM3Output = {
      dense: want.dense ? new Array(texts.length) : [],
      sparse: want.sparse ? new Array(texts.length) : [],
      colbert: want.colbert ? new Array(texts.length) : [],
    };
    let done = 0;
    let tokens = 0;
    for (const b of batches) {
      for (const n of b.lengths) tokens += n;
      const part = this.#heads(b, want);
      for (let r = 0; r < b.order.length; r++) {
        const i = b.order[r]!;
        if (want.dense) out.dense[i] = part.dense[r]!.length === this.dim ? part.dense[r]! : truncateVector(part.dense[r]!, this.dim, true);
        if (want.sparse) out.sparse[i] = part.sparse[r]!;
        if (want.colbert) out.colbert[i] = part.colbert[r]!;
      }
      done += b.order.length;
      options.onProgress?.(done, texts.length);
    }
    return { out, tokens };
  }

  #heads(b: TokenStatesBatch, want: { dense: boolean; sparse: boolean; colbert: boolean }): BgeM3Output {
    const [B, T] = b.dims;
    const states: TokenBatch | undefined = b.states === undefined ? undefined : { states: b.states, dims: b.dims, inputIds: b.inputIds, lengths: b.lengths };
    const out: BgeM3Output = { dense: [], sparse: [], colbert: [] };
    if (want.dense) out.dense = this.heads.dense === 'graph' ? denseFromOutput(headOutput(b.outputs, 'dense')!, B) : denseHead(states!);
    if (want.sparse) {
      const w = this.heads.sparse === 'graph' ? tokenWeightsFromOutput(headOutput(b.outputs, 'sparse')!, B, T) : tokenWeights(states!, this.#sparse!);
      out.sparse = lexicalWeights(w, b, this.#unused);
    }
    if (want.colbert) out.colbert = this.heads.colbert === 'graph' ? colbertFromOutput(headOutput(b.outputs, 'colbert')!, b.lengths, T) : colbertHead(states!, this.#colbert!);
    return out;
  }

  /** The text encoder underneath (its tokenizer and maxLength, e.g. for chunking documents). */
  get textEncoder(): OnnxTextEncoder {
    return this.#text;
  }

  /** `{ token: weight }` for display (FlagEmbedding's `convert_id_to_token`: each id decoded alone). */
  lexicalTokens(lw: LexicalWeights): Record<string, number> {
    const tok = this.#text.tokenizer.tokenizer;
    return lexicalTokens(lw, (id) => tok.decode([id]));
  }

  /** Records for `collection.add`: `{ id, vector, sparse, multiVector, document, model }` per text. */
  async toRecords(ids: readonly string[], texts: readonly string[], options: Pick<BgeM3EncodeOptions, 'onProgress' | 'signal'> = {}): Promise<BgeM3Record[]> {
    if (!Array.isArray(ids) || !Array.isArray(texts) || ids.length !== texts.length) {
      throw invalidArgument(`toRecords: expected as many ids as texts (${describe(texts)}), got ${describe(ids)}`);
    }
    const enc = await this.encode(texts, { ...options, mode: 'passage' });
    return ids.map((id, i) => ({
      id, vector: enc.dense[i]!, sparse: enc.sparse[i]!, multiVector: enc.colbert[i]!, document: texts[i]!, model: this.spec.model,
    }));
  }

  /**
   * The dense output alone, as an encoder of the contract (types.ts) a collection binds; `tokens`
   * counts the tokens fed. Closing it closes this model.
   */
  asEncoder(): Encoder<'text'> & { readonly spec: BgeM3Spec } {
    return {
      modality: 'text',
      dim: this.dim,
      spec: this.spec,
      encode: async (texts, options = {}) => {
        const { out, tokens } = await this.#run(texts, { ...options, dense: true, sparse: false, colbert: false });
        return refuseZeroRows(encodingFromRows(out.dense, this.dim, tokens), texts);
      },
      close: () => this.close(),
    };
  }

  async close(): Promise<void> {
    await this.#text.close();
  }
}

/** Opens a BGE-M3 model folder (tokenizer.json, the graph, and the head weights unless the graph outputs the heads). */
export function createBgeM3(model: string, options?: BgeM3Options): Promise<BgeM3> {
  return BgeM3.create(model, options);
}
