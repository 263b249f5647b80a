import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { OmnivecError, describe, invalidArgument } from '../../errors.js';
import { checkPositiveInt } from '../../checks.js';
import { checkDimensions, normalizeVector, type MatryoshkaDecl } from '../matryoshka.js';
import { openModelFolder } from '../onnx/model-folder.js';
import { OnnxSession, type TensorData } from '../onnx/session.js';
import { imageSpecFromPreprocessorConfig, preprocessImages, type ImageInput, type ImageSpec } from '../image/preprocess.js';
import { ClipTokenizer, CLIP_CONTEXT_LENGTH, loadClipTokenizer, type ClipBatch } from './bpe.js';
import { emptyEncoding } from '../common.js';
import { refuseZeroRows } from '../no-vector.js';
import type { EncodeOptions, Encoder, Encoding } from '../types.js';

/**
 * CLIP (Radford et al. 2021, "Learning Transferable Visual Models From Natural Language
 * Supervision"): a text tower and an image tower whose outputs share one space, so that a text
 * embedding finds images and a list of labels classifies an image zero-shot. Each tower is an
 * encoder of the contract (types.ts), a text one and an image one; zero-shot sits on top of the
 * two. See docs/clip.md.
 *
 * A folder holds `text_model.onnx` + `vision_model.onnx` (Hugging Face's export names, also under
 * `onnx/`) or one `model.onnx` taking both inputs; the tokenizer files (see bpe.ts); optionally
 * `preprocessor_config.json` and `omnivec.json`.
 */

/** The default image transform of the original CLIP: Resize(224, bicubic) → CenterCrop(224) → Normalize with CLIP's statistics. */
export const CLIP_IMAGE_SPEC: Readonly<ImageSpec> = Object.freeze<ImageSpec>({
  size: [224, 224],
  resize: 224,
  crop: true,
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
  resample: 'bicubic',
  rescale: 1 / 255,
  cropOffset: 'round',
});

/** The prompt of the CLIP notebook; `{label}` is replaced by each label. */
export const DEFAULT_TEMPLATES: readonly string[] = Object.freeze(['a photo of a {label}.']);
/** CLIP's learned temperature, exp(logit_scale), clamped at 100 in training and 100 in every released model. */
export const CLIP_LOGIT_SCALE = 100;

export interface ClipOptions {
  /** Intra-op threads per session. Default: the number of cores. */
  threads?: number;
  /** Texts or images per forward pass. Default 32. */
  batchSize?: number;
  /** Matryoshka: keep the first `dimensions` components, renormalised. CLIP is not trained for it, so this needs `forceDimensions` unless omnivec.json declares `matryoshka`. */
  dimensions?: number;
  forceDimensions?: boolean;
  /** Texts longer than 77 tokens: cut them, keeping `<|endoftext|>` last (default), or refuse them (false, as `clip.tokenize`). */
  truncate?: boolean;
  /** The model name recorded in the specs. Default: the folder's name. */
  name?: string;
  /** Where the model is (an absolute path, a hub id), recorded in the spec so the registry can reopen it; set by the registry (src/encoders/registry.ts). */
  source?: string;
}

export interface ClipEncoderSpec {
  /** The model; both towers carry the same name, so a collection of image vectors takes text queries. */
  model: string;
  dim: number;
  kind: 'clip';
  tower: 'text' | 'image';
  dimensions?: number;
  [key: string]: unknown;
}

/** One tower: an encoder of the contract whose spec says which tower it is. */
export interface ClipTower<M extends 'text' | 'image'> extends Encoder<M> {
  readonly spec: ClipEncoderSpec;
}

export interface ZeroShotOptions {
  /** Prompts with `{label}`; each label's embedding is the renormalised mean of its prompts'. Default ["a photo of a {label}."]. */
  templates?: readonly string[];
  /** Return only the `top` most probable labels. Default: all of them. */
  top?: number;
}

export interface LabelProbability {
  label: string;
  probability: number;
}

export interface Clip {
  /** Texts → the joint space (`mode` is ignored: CLIP has no prefixes). */
  readonly text: ClipTower<'text'>;
  /** Images → the joint space. */
  readonly image: ClipTower<'image'>;
  readonly tokenizer: ClipTokenizer;
  /** One vector per label: the templates' text embeddings, each unit length, averaged, renormalised (the original's zero-shot weights). */
  labelEmbeddings(labels: readonly string[], templates?: readonly string[]): Promise<Float32Array[]>;
  /** softmax(100 · cosine) over the labels, most probable first. `image` may be an image embedding already computed. */
  zeroShot(image: ImageInput | Float32Array, labels: readonly string[], options?: ZeroShotOptions): Promise<LabelProbability[]>;
  /** {@link zeroShot} for many images, the label embeddings computed once. */
  zeroShotBatch(images: readonly (ImageInput | Float32Array)[], labels: readonly string[], options?: ZeroShotOptions): Promise<LabelProbability[][]>;
  close(): Promise<void>;
}

const DEFAULT_BATCH = 32;

/** Where the graphs are: two towers, or one graph with both. */
interface Graphs {
  text: string;
  vision: string;
  combined: boolean;
}

function findGraphs(dir: string): Graphs {
  const find = (f: string): string | undefined => [join(dir, f), join(dir, 'onnx', f)].find((p) => existsSync(p));
  const text = find('text_model.onnx');
  const vision = find('vision_model.onnx');
  if (text !== undefined && vision !== undefined) return { text, vision, combined: false };
  const both = find('model.onnx');
  if (both !== undefined) return { text: both, vision: both, combined: true };
  const missing = [text === undefined ? 'text_model.onnx' : undefined, vision === undefined ? 'vision_model.onnx' : undefined].filter((x) => x !== undefined);
  throw new OmnivecError('not_found', `CLIP folder ${dir} is missing ${missing.join(' and ')} (looked in the folder and onnx/; or one model.onnx with both towers)`, { missing });
}

const isFloat = (t: string | undefined): boolean => t === 'float32' || t === 'float16' || t === 'float';

/** Runs one tower (or the combined graph) and hands back rows of the joint space. */
class Tower {
  readonly session: OnnxSession;
  readonly #combined: Graphs['combined'];
  readonly #ids: { name: string; type: 'int64' | 'int32' } | undefined;
  readonly #mask: { name: string; type: 'int64' | 'int32' } | undefined;
  readonly #pixels: string | undefined;
  /** A fixed sequence length of the text input (77 for OpenAI's exports), else undefined (dynamic). */
  readonly fixedLength: number | undefined;
  /** 1 when the input's batch axis is fixed at 1 (some exports), else undefined. */
  readonly fixedTextBatch: number | undefined;
  readonly fixedImageBatch: number | undefined;

  constructor(session: OnnxSession, combined: boolean) {
    this.session = session;
    this.#combined = combined;
    const intType = (t: string | undefined): 'int64' | 'int32' => (t === 'int32' ? 'int32' : 'int64');
    const ids = session.inputs.find((i) => i.name === 'input_ids') ?? session.inputs.find((i) => !isFloat(i.type) && i.name !== 'attention_mask' && i.name !== 'position_ids');
    this.#ids = ids === undefined ? undefined : { name: ids.name, type: intType(ids.type) };
    const mask = session.inputs.find((i) => i.name === 'attention_mask');
    this.#mask = mask === undefined ? undefined : { name: mask.name, type: intType(mask.type) };
    const pixels = session.inputs.find((i) => i.name === 'pixel_values') ?? session.inputs.find((i) => isFloat(i.type));
    this.#pixels = pixels?.name;
    const fixed = (v: unknown): number | undefined => (typeof v === 'number' && v > 0 ? v : undefined);
    this.fixedLength = fixed(ids?.shape?.[1]);
    // A batch axis fixed at 1 means one input per run; other fixed sizes are left to fail in the run, naming the file.
    this.fixedTextBatch = ids?.shape?.[0] === 1 ? 1 : undefined;
    this.fixedImageBatch = pixels?.shape?.[0] === 1 ? 1 : undefined;
  }

  #intTensor(data: BigInt64Array, type: 'int64' | 'int32', dims: readonly number[]): TensorData {
    return type === 'int64' ? { type, data, dims } : { type, data: Int32Array.from(data, Number), dims };
  }

  /** Text rows: `text_embeds`, else a pooled [B, D] output, else the token states at each text's `<|endoftext|>`. */
  async text(batch: ClipBatch, imageSize: [number, number]): Promise<Float32Array[]> {
    if (this.#ids === undefined) throw new OmnivecError('encoder_error', `${this.session.file}: no token input (expected input_ids; inputs: ${this.session.inputNames.join(', ')})`);
    const feeds: Record<string, TensorData> = { [this.#ids.name]: this.#intTensor(batch.inputIds, this.#ids.type, batch.dims) };
    if (this.#mask !== undefined) feeds[this.#mask.name] = this.#intTensor(batch.attentionMask, this.#mask.type, batch.dims);
    if (this.#combined && this.#pixels !== undefined) feeds[this.#pixels] = { type: 'float32', data: new Float32Array(3 * imageSize[0] * imageSize[1]), dims: [1, 3, ...imageSize] };
    const names = this.session.outputNames;
    const name = ['text_embeds', 'pooler_output', 'last_hidden_state'].find((n) => names.includes(n)) ?? (this.#combined ? undefined : names[0]);
    if (name === undefined) throw new OmnivecError('encoder_error', `${this.session.file}: no text output (expected text_embeds; outputs: ${names.join(', ')})`);
    const out = (await this.session.run(feeds, [name]))[name]!;
    const n = batch.dims[0];
    if (out.dims.length === 2 && out.dims[0] === n) return rows(out.data as Float32Array, n, out.dims[1]!);
    if (out.dims.length === 3 && out.dims[0] === n) {
      // CLIP's pooling: the state at <|endoftext|> (the text's last real token; the causal mask keeps padding out of it).
      const [, T, H] = out.dims as [number, number, number];
      const data = out.data as Float32Array;
      return Array.from({ length: n }, (_, r) => data.slice((r * T + batch.eotIndex[r]!) * H, (r * T + batch.eotIndex[r]! + 1) * H));
    }
    throw new OmnivecError('encoder_error', `${this.session.file}: output ${name} has shape [${out.dims.join(', ')}]; expected [${n}, D] or [${n}, T, D]`);
  }

  /** Image rows: `image_embeds`, else the graph's [B, D] output. */
  async image(pixels: { data: Float32Array; dims: readonly number[] }, emptyText: ClipBatch): Promise<Float32Array[]> {
    if (this.#pixels === undefined) throw new OmnivecError('encoder_error', `${this.session.file}: no image input (expected pixel_values; inputs: ${this.session.inputNames.join(', ')})`);
    const feeds: Record<string, TensorData> = { [this.#pixels]: { type: 'float32', data: pixels.data, dims: pixels.dims } };
    if (this.#combined) {
      // The combined graph wants a text too: one empty text, whose result is not read.
      if (this.#ids !== undefined) feeds[this.#ids.name] = this.#intTensor(emptyText.inputIds, this.#ids.type, emptyText.dims);
      if (this.#mask !== undefined) feeds[this.#mask.name] = this.#intTensor(emptyText.attentionMask, this.#mask.type, emptyText.dims);
    }
    const names = this.session.outputNames;
    const name = names.includes('image_embeds') ? 'image_embeds' : this.#combined ? undefined : names.find((n) => n === 'pooler_output') ?? names[0];
    if (name === undefined) throw new OmnivecError('encoder_error', `${this.session.file}: no image output (expected image_embeds; outputs: ${names.join(', ')})`);
    const out = (await this.session.run(feeds, [name]))[name]!;
    const n = pixels.dims[0]!;
    if (out.dims.length !== 2 || out.dims[0] !== n) throw new OmnivecError('encoder_error', `${this.session.file}: output ${name} has shape [${out.dims.join(', ')}]; expected [${n}, D]`);
    return rows(out.data as Float32Array, n, out.dims[1]!);
  }
}

function rows(data: Float32Array, n: number, d: number): Float32Array[] {
  return Array.from({ length: n }, (_, r) => data.slice(r * d, (r + 1) * d));
}

function checkArray(name: string, v: unknown): asserts v is readonly unknown[] {
  if (!Array.isArray(v)) throw invalidArgument(`${name}: expected an array, got ${describe(v)}`);
}

/** Opens a CLIP model folder: both towers, the tokenizer, the image transform. */
export async function createClip(folder: string, options: ClipOptions = {}): Promise<Clip> {
  if (typeof folder !== 'string' || folder === '') throw invalidArgument(`folder: expected a CLIP model folder, got ${describe(folder)}`);
  if (options === null || typeof options !== 'object') throw invalidArgument(`options: expected an object, got ${describe(options)}`);
  const dir = resolve(folder);
  if (!existsSync(dir)) throw new OmnivecError('not_found', `CLIP model folder ${folder} not found`);
  const batchSize = checkPositiveInt(options.batchSize, 'batchSize', { fallback: DEFAULT_BATCH });
  if (options.truncate !== undefined && typeof options.truncate !== 'boolean') throw invalidArgument(`truncate: expected a boolean, got ${describe(options.truncate)}`);
  const graphs = findGraphs(dir);
  const folderInfo = openModelFolder(dir, { file: relative(dir, graphs.text), name: options.name });
  const tokenizer = await loadClipTokenizer(dir);
  const omnivec = folderInfo.omnivec ?? {};
  let imageSpec: ImageSpec = { ...CLIP_IMAGE_SPEC };
  if (folderInfo.preprocessorConfig !== undefined) imageSpec = imageSpecFromPreprocessorConfig(folderInfo.preprocessorConfig);
  if (omnivec.image !== undefined) imageSpec = { ...imageSpec, ...(omnivec.image as Partial<ImageSpec>) };

  const textSession = await OnnxSession.open(graphs.text, { threads: options.threads });
  let visionSession: OnnxSession;
  try {
    visionSession = graphs.combined ? textSession : await OnnxSession.open(graphs.vision, { threads: options.threads });
  } catch (e) {
    await textSession.close();
    throw e;
  }
  const textTower = new Tower(textSession, graphs.combined);
  const imageTower = graphs.combined ? textTower : new Tower(visionSession, false);
  const contextLength = textTower.fixedLength ?? CLIP_CONTEXT_LENGTH;
  const truncate = options.truncate ?? true;
  const size = imageSpec.size;

  const closeAll = async (): Promise<void> => {
    await textSession.close();
    if (visionSession !== textSession) await visionSession.close();
  };

  let modelDim: number;
  let dim: number;
  const emptyText = tokenizer.encodeBatch([''], { contextLength, padToLongest: textTower.fixedLength === undefined });
  try {
    // The dimension of the joint space, from one forward pass of the (cheap) text tower.
    const probe = await textTower.text(emptyText, size);
    modelDim = probe[0]!.length;
    dim = checkDimensions(options.dimensions, modelDim, omnivec.matryoshka as MatryoshkaDecl, options.forceDimensions, folderInfo.name);
  } catch (e) {
    await closeAll();
    throw e;
  }
  const model = dim === modelDim ? folderInfo.name : `${folderInfo.name}@${dim}`;
  const spec = (tower: 'text' | 'image'): ClipEncoderSpec => ({
    model, dim, kind: 'clip', tower, ...(dim !== modelDim ? { dimensions: dim } : {}), ...(options.source !== undefined ? { source: options.source } : {}),
  });
  // Cut to `dim` (a copy when cutting), unit length: zero-shot and cosine search both want unit vectors.
  const finish = (v: Float32Array): Float32Array => normalizeVector(v.length === dim ? v : v.slice(0, dim));
  let closed = false;
  const live = (): void => {
    if (closed) throw invalidArgument(`CLIP model ${folderInfo.name} is closed`);
  };
  // One close for the text encoder, the image encoder and the model: they share the sessions.
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await closeAll();
  };

  /** Runs `inputs` in batches of `size` in `order`, each row cut and normalised into the batch's row for its input. */
  async function batches<I>(inputs: readonly I[], order: readonly number[], size: number, tokens: number, options: EncodeOptions | undefined, run: (chunk: I[]) => Promise<Float32Array[]>): Promise<Encoding> {
    const out = emptyEncoding(inputs.length, dim, tokens);
    for (let s = 0; s < order.length; s += size) {
      options?.signal?.throwIfAborted();
      const idx = order.slice(s, s + size);
      const vecs = await run(idx.map((i) => inputs[i]!));
      idx.forEach((i, k) => { out.data.set(finish(vecs[k]!), i * dim); });
      options?.onProgress?.(Math.min(s + size, order.length), order.length);
    }
    return out;
  }

  const text: ClipTower<'text'> = {
    modality: 'text',
    dim,
    spec: spec('text'),
    async encode(texts, options) {
      live();
      checkArray('texts', texts);
      // Sorted by token count so that each batch pads little (results come back in input order).
      let tokens = 0;
      const lengths = texts.map((t, i) => {
        if (typeof t !== 'string') throw invalidArgument(`texts[${i}]: expected a string, got ${describe(t)}`);
        const n = tokenizer.tokenize(t).length + 2;
        if (n > contextLength && !truncate) {
          throw invalidArgument(`texts[${i}]: ${n} tokens (special tokens included) do not fit the context length ${contextLength} (${describe(t)}); create the model with truncate: true to cut it`);
        }
        // The tokens the tower runs: BPE tokens, start and end, cut at the context length.
        tokens += Math.min(n, contextLength);
        return n;
      });
      const order = texts.map((_, i) => i).sort((a, b) => lengths[a]! - lengths[b]!);
      const out = await batches(texts, order, textTower.fixedTextBatch ?? batchSize, tokens, options, (chunk) =>
        textTower.text(tokenizer.encodeBatch(chunk, { contextLength, truncate, padToLongest: textTower.fixedLength === undefined }), size));
      return refuseZeroRows(out, texts);
    },
    close,
  };

  let imageChecked = false;
  const image: ClipTower<'image'> = {
    modality: 'image',
    dim,
    spec: spec('image'),
    async encode(images, options) {
      live();
      checkArray('images', images);
      return batches(images, images.map((_, i) => i), imageTower.fixedImageBatch ?? batchSize, 0, options, async (chunk) => {
        const vecs = await imageTower.image(await preprocessImages(chunk, imageSpec), emptyText);
        if (!imageChecked) {
          if (vecs[0]!.length !== modelDim) throw new OmnivecError('encoder_error', `${graphs.vision}: image embeddings have ${vecs[0]!.length} dimensions, the text tower's ${modelDim}; the towers are not one CLIP model`);
          imageChecked = true;
        }
        return vecs;
      });
    },
    close,
  };

  async function labelEmbeddings(labels: readonly string[], templates: readonly string[] = DEFAULT_TEMPLATES): Promise<Float32Array[]> {
    checkLabels(labels, templates);
    const prompts = labels.flatMap((l) => templates.map((t) => t.replaceAll('{label}', l)));
    const vecs = (await text.encode(prompts)).data;
    return labels.map((_, i) => {
      const mean = new Float32Array(dim);
      for (let k = 0; k < templates.length; k++) {
        const o = (i * templates.length + k) * dim;
        for (let j = 0; j < dim; j++) mean[j]! += vecs[o + j]!;
      }
      return normalizeVector(mean);
    });
  }

  async function zeroShotBatch(images: readonly (ImageInput | Float32Array)[], labels: readonly string[], options: ZeroShotOptions = {}): Promise<LabelProbability[][]> {
    live();
    checkArray('images', images);
    const top = checkPositiveInt(options?.top, 'top', { fallback: labels?.length ?? 1 });
    const weights = await labelEmbeddings(labels, options.templates ?? DEFAULT_TEMPLATES);
    const encoded = (await image.encode(images.filter((x) => !(x instanceof Float32Array)) as ImageInput[])).data;
    let next = 0;
    const vectors = images.map((x, i) => {
      if (!(x instanceof Float32Array)) return encoded.subarray(dim * next, dim * ++next);
      if (x.length !== dim) throw invalidArgument(`images[${i}]: an image embedding needs ${dim} numbers, got ${x.length}`);
      return normalizeVector(x.slice());
    });
    return vectors.map((v) => zeroShotScores(v, weights, labels).slice(0, top));
  }

  return {
    text,
    image,
    tokenizer,
    labelEmbeddings,
    zeroShotBatch,
    async zeroShot(img, labels, options) {
      return (await zeroShotBatch([img], labels, options))[0]!;
    },
    close,
  };
}

function checkLabels(labels: readonly string[], templates: readonly string[]): void {
  checkArray('labels', labels);
  if (labels.length === 0) throw invalidArgument('labels: expected at least one label, got an empty list');
  labels.forEach((l, i) => {
    if (typeof l !== 'string' || l.trim() === '') throw invalidArgument(`labels[${i}]: expected a non-empty string, got ${describe(l)}`);
  });
  checkArray('templates', templates);
  if (templates.length === 0) throw invalidArgument('templates: expected at least one template such as "a photo of a {label}.", got an empty list');
  templates.forEach((t, i) => {
    if (typeof t !== 'string' || !t.includes('{label}')) throw invalidArgument(`templates[${i}]: expected a string with {label}, got ${describe(t)}`);
  });
}

/**
 * softmax(scale · cosine) of one unit image vector against unit label vectors, most probable
 * first (ties keep the label order). Subtracting the largest logit keeps exp() finite.
 */
export function zeroShotScores(image: Float32Array, labelVectors: readonly Float32Array[], labels: readonly string[], scale = CLIP_LOGIT_SCALE): LabelProbability[] {
  const logits = labelVectors.map((w) => {
    let s = 0;
    for (let j = 0; j < w.length; j++) s += w[j]! * image[j]!;
    return scale * s;
  });
  const max = Math.max(...logits);
  const exps = logits.map((z) => Math.exp(z - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return labels.map((label, i) => ({ label, probability: exps[i]! / sum }))
    .map((r, i) => ({ r, i }))
    .sort((a, b) => b.r.probability - a.r.probability || a.i - b.i)
    .map(({ r }) => r);
}
