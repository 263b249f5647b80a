/**
 * The encoder contract (docs/encoders.md, "The encoder contract"): one interface that every
 * encoder implements — ONNX text and image models, CLIP's two towers, SIF and averaged word
 * vectors, BGE-M3's dense output, OpenAI-compatible APIs — so that a collection binds any of them
 * the same way and reopens it from its stored spec through the registry (`registry.ts`).
 * Implementations run the suite in `conformance.ts`.
 */
import type { VectorBatch } from '../vector/batch.js';

/** What an encoder takes. CLIP's towers are two encoders, one of each modality, sharing a space. */
export type Modality = 'text' | 'image';

/** An image: a file path, or the encoded bytes of a file (JPEG, PNG, WebP …). */
export type ImageInput = string | Buffer | Uint8Array;

/** The input of an encoder of modality `M`. */
export type EncoderInput<M extends Modality> = M extends 'text' ? string : ImageInput;

/**
 * An encoder as plain JSON: what a collection stores (`createCollection({ encoder: enc.spec })`)
 * and what `openEncoder(spec, context)` reopens. `model` names the model (records carrying another
 * `model` are refused by a bound collection); `@D` ends it when the vectors were cut to D
 * Matryoshka dimensions (then `dimensions: D` too). Common keys besides: `dim`, `kind` (`text`,
 * `image`, `clip`, `bge-m3`, `sif`, `average`, `remote`), `source` (where the model is: a folder's
 * absolute path, a hub id; set by the registry), CLIP's `tower`, and each kind's own choices
 * (pooling, prefixes, maxLength, the image transform, a remote API's baseURL …). The database
 * (a layer above) stores it; src/db/types.ts declares the same shape.
 */
export interface EncoderSpec {
  model: string;
  dim?: number;
  [key: string]: unknown;
}

export interface EncodeOptions {
  /** Texts: which of the model's prefixes to prepend (default 'passage'); models without prefixes and images ignore it. */
  mode?: 'query' | 'passage';
  /** Inputs done out of the total, after each batch. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/**
 * What `encode` returns: one batch, row i the vector of input i (`count` = the number of inputs,
 * `data` = count × dim floats), and the tokens the model ran.
 */
export interface Encoding extends VectorBatch {
  /**
   * Tokens run through the model over all inputs, special tokens included (what `/v1/embeddings`
   * reports as usage): the tokenizer's count for ONNX text models and CLIP (at most 77 a text),
   * the words the tokenizer cut for SIF, the API's own `usage` for remote models; 0 for images.
   */
  readonly tokens: number;
}

/**
 * An encoder. `encode` of no input is an empty batch; an input the encoder cannot take is refused
 * (`invalid_argument`, naming its position); a text encoder never returns the zero vector for a
 * text (docs/hardening.md §6): it refuses that text with `no-vector.ts`'s message.
 */
export interface Encoder<M extends Modality = Modality> {
  readonly modality: M;
  /**
   * The output dimension (after any Matryoshka `dimensions`). Known once opened, except for a
   * remote API opened without a known dimension: learnt from its first response (reading it
   * before throws `invalid_argument`).
   */
  readonly dim: number;
  /** Plain JSON, enough for the registry to open the same encoder again. */
  readonly spec: EncoderSpec;
  encode(inputs: readonly EncoderInput<M>[], options?: EncodeOptions): Promise<Encoding>;
  /** Releases the model (an ONNX session; nothing for pure-JS encoders). Encoding after it is refused. */
  close(): Promise<void>;
}

/** An encoder of either modality, narrowed by `modality`. */
export type AnyEncoder = Encoder<'text'> | Encoder<'image'>;
