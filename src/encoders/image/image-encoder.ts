import { OmnivecError, describe, invalidArgument } from '../../errors.js';
import { isPlainObject } from '../../checks.js';
import { checkDimensions, normalizeVector, type MatryoshkaDecl } from '../matryoshka.js';
import { emptyEncoding } from '../common.js';
import type { EncodeOptions, Encoder, Encoding } from '../types.js';
import { openModelFolder } from '../onnx/model-folder.js';
import { OnnxSession, type TensorData } from '../onnx/session.js';
import {
  DEFAULT_IMAGENET_SPEC,
  IMAGENET_MEAN,
  IMAGENET_STD,
  imageSpecFromPreprocessorConfig,
  preprocessImages,
  validateImageSpec,
  type ImageInput,
  type ImageSpec,
} from './preprocess.js';

/**
 * An image embedding model from an ONNX graph with one NCHW float input: preprocessing as
 * torchvision / transformers do it (see preprocess.ts), the graph through onnxruntime-node, then
 * the pooled output or the mean of a feature map, Matryoshka truncation and L2 normalisation.
 * Implements the encoder contract (types.ts). See docs/images.md.
 */

export type ImagePooling = 'none' | 'mean';

export interface ImageEncoderOptions {
  /** Overrides of the preprocessing (after preprocessor_config.json and omnivec.json's "image"). */
  spec?: Partial<ImageSpec>;
  /** The graph output to read. Default: image_embeds when the graph has it, else its first
   *  [batch, dim] output, else its first output. */
  output?: string;
  /** 'none' for a [batch, dim] output, 'mean' to average a [batch, C, H, W] feature map over H × W.
   *  Default: what the output's rank calls for. */
  pooling?: ImagePooling;
  /** L2-normalise the vectors. Default true. */
  normalize?: boolean;
  /** Images per forward pass. Default 16 (1 when the graph's batch axis is fixed at 1). */
  batchSize?: number;
  /** Intra-op threads of the session. Default: the number of cores. */
  threads?: number;
  /** Matryoshka: keep the first `dimensions` components, then renormalise. */
  dimensions?: number;
  /** Cut to `dimensions` even when the spec does not declare Matryoshka training. */
  forceDimensions?: boolean;
  /** The graph file inside the folder (e.g. onnx/model_quantized.onnx). */
  file?: string;
  /** The model name to record in the spec (default: the folder's or file's name). */
  name?: string;
  /** Where the model is (an absolute path, a hub id), recorded in the spec so the registry can reopen it; set by the registry (src/encoders/registry.ts). */
  source?: string;
}

export interface ImageEncoderSpec {
  model: string;
  dim: number;
  kind: 'image';
  /** The preprocessing, every field resolved. */
  image: Required<ImageSpec>;
  output: string;
  pooling: ImagePooling;
  normalize: boolean;
  dimensions?: number;
  [key: string]: unknown;
}

/** The contract's options (`mode` is ignored: images take no prefix). */
export type ImageEncodeOptions = EncodeOptions;

const DEFAULT_BATCH = 16;

/** Layers a partial spec over a full one. Setting `resize` alone also sets `crop` to what it needs. */
function overlay(base: ImageSpec, over: Partial<ImageSpec> | undefined, what: string): ImageSpec {
  if (over === undefined) return base;
  if (!isPlainObject(over)) throw invalidArgument(`${what}: expected an object of image spec fields, got ${describe(over)}`);
  const merged: ImageSpec = { ...base, ...(over as Partial<ImageSpec>) };
  if (over.resize !== undefined && over.crop === undefined) merged.crop = over.resize !== 'exact';
  return merged;
}

/** A fixed size of a graph axis, or undefined when it is symbolic / unknown. */
function fixed(shape: readonly (number | string)[] | undefined, axis: number): number | undefined {
  const d = shape?.[axis];
  return typeof d === 'number' && d > 0 ? d : undefined;
}

export class ImageEncoder implements Encoder<'image'> {
  readonly modality = 'image' as const;
  readonly dim: number;
  readonly spec: ImageEncoderSpec;
  readonly session: OnnxSession;
  readonly #input: string;
  readonly #modelDim: number;
  readonly #batchSize: number;

  private constructor(session: OnnxSession, input: string, spec: ImageEncoderSpec, modelDim: number, batchSize: number) {
    this.session = session;
    this.#input = input;
    this.spec = spec;
    this.dim = spec.dim;
    this.#modelDim = modelDim;
    this.#batchSize = batchSize;
  }

  static async create(model: string, options: ImageEncoderOptions = {}): Promise<ImageEncoder> {
    const folder = openModelFolder(model, { file: options.file, name: options.name });
    const o = folder.omnivec ?? {};
    if (o.kind !== undefined && o.kind !== 'image') {
      throw invalidArgument(`model ${model}: omnivec.json says kind ${JSON.stringify(o.kind)}; an image encoder needs kind "image"`);
    }
    let batchSize = options.batchSize ?? DEFAULT_BATCH;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw invalidArgument(`batchSize: expected a positive integer, got ${describe(options.batchSize)}`);
    const session = await OnnxSession.open(folder.onnxFile, { threads: options.threads });
    try {
      if (session.inputs.length !== 1) {
        throw new OmnivecError('encoder_error', `${folder.onnxFile}: an image encoder feeds one input (images [batch, 3, height, width]); the graph has ${session.inputNames.length}: ${session.inputNames.join(', ')}`);
      }
      const input = session.inputs[0]!;
      if (input.type !== undefined && input.type !== 'float32') {
        throw new OmnivecError('encoder_error', `${folder.onnxFile}: input ${input.name} is ${input.type}; expected float32 pixels [batch, 3, height, width]`);
      }
      if (input.shape !== undefined && (input.shape.length !== 4 || (fixed(input.shape, 1) !== undefined && fixed(input.shape, 1) !== 3))) {
        throw new OmnivecError('encoder_error', `${folder.onnxFile}: input ${input.name} has shape [${input.shape.join(', ')}]; expected [batch, 3, height, width]`);
      }
      if (fixed(input.shape, 0) === 1) batchSize = 1;
      const fixedH = fixed(input.shape, 2);
      const fixedW = fixed(input.shape, 3);

      // The preprocessing: defaults → preprocessor_config.json (or the graph's fixed size) → omnivec.json → options.
      let base: ImageSpec;
      if (folder.preprocessorConfig !== undefined) {
        try {
          base = imageSpecFromPreprocessorConfig(folder.preprocessorConfig);
        } catch (e) {
          throw e instanceof OmnivecError ? new OmnivecError(e.code, `${folder.dir}/preprocessor_config.json: ${e.message}`) : e;
        }
      } else if (fixedH !== undefined && fixedW !== undefined) {
        // A fixed-size graph without a preprocessor config (torchreid's OSNet: 256 × 128) is fed as
        // its training resized it: straight to that size, ImageNet statistics.
        base = { size: [fixedH, fixedW], resize: 'exact', crop: false, mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD], resample: 'bilinear' };
      } else {
        base = { ...DEFAULT_IMAGENET_SPEC };
      }
      const image = validateImageSpec(overlay(overlay(base, o.image as Partial<ImageSpec> | undefined, `${folder.dir}/omnivec.json image`), options.spec, 'spec'));
      if ((fixedH !== undefined && fixedH !== image.size[0]) || (fixedW !== undefined && fixedW !== image.size[1])) {
        throw invalidArgument(`image size: ${folder.onnxFile} takes ${fixedH ?? 'any'} × ${fixedW ?? 'any'} pixels (height × width), the spec gives ${image.size[0]} × ${image.size[1]}`);
      }

      // Probe: one forward pass on a blank image tells the outputs' shapes (and that the graph runs).
      const [h, w] = image.size;
      const probe = await session.run({ [input.name]: { type: 'float32', data: new Float32Array(3 * h * w), dims: [1, 3, h, w] } });
      const rank2 = session.outputNames.find((n) => probe[n]?.dims.length === 2);
      const requested = options.output ?? (typeof o.output === 'string' ? o.output : undefined);
      const output = requested ?? (session.outputNames.includes('image_embeds') ? 'image_embeds' : rank2 ?? session.outputNames[0]!);
      if (!session.outputNames.includes(output)) {
        throw invalidArgument(`output: ${folder.onnxFile} has no output ${JSON.stringify(output)}; it has ${session.outputNames.join(', ')}`);
      }
      const dims = probe[output]!.dims;
      if (dims.length !== 2 && dims.length !== 4) {
        throw new OmnivecError('encoder_error', `${folder.onnxFile}: output ${output} has shape [${dims.join(', ')}]; expected [batch, dim] or a feature map [batch, channels, height, width]`);
      }
      const pooling: ImagePooling = options.pooling ?? (o.pooling === 'none' || o.pooling === 'mean' ? o.pooling : dims.length === 2 ? 'none' : 'mean');
      if (pooling !== 'none' && pooling !== 'mean') throw invalidArgument(`pooling: expected "none" or "mean", got ${describe(pooling)}`);
      if (pooling === 'none' && dims.length === 4) throw invalidArgument(`pooling: output ${output} is a feature map [${dims.join(', ')}]; use pooling "mean"`);
      if (pooling === 'mean' && dims.length === 2) throw invalidArgument(`pooling: output ${output} is already pooled [${dims.join(', ')}]; use pooling "none"`);
      const normalize = options.normalize ?? (typeof o.normalize === 'boolean' ? o.normalize : true);
      const modelDim = dims[1]!;
      const name = folder.name;
      const dim = checkDimensions(options.dimensions, modelDim, o.matryoshka as MatryoshkaDecl, options.forceDimensions, name);
      const spec: ImageEncoderSpec = {
        model: dim === modelDim ? name : `${name}@${dim}`,
        dim, kind: 'image', image, output, pooling, normalize,
        ...(dim !== modelDim ? { dimensions: dim } : {}),
        ...(options.source !== undefined ? { source: options.source } : {}),
      };
      return new ImageEncoder(session, input.name, spec, modelDim, batchSize);
    } catch (e) {
      await session.close();
      throw e;
    }
  }

  /** The model's own output width (before `dimensions`). */
  get modelDim(): number {
    return this.#modelDim;
  }

  /** Images per forward pass. */
  get batchSize(): number {
    return this.#batchSize;
  }

  /** One vector per image, row i for input i (tokens 0). Paths that do not exist → not_found; undecodable → corrupt_file. */
  async encode(inputs: readonly ImageInput[], options: ImageEncodeOptions = {}): Promise<Encoding> {
    if (!Array.isArray(inputs)) throw invalidArgument(`images: expected an array of paths or encoded images, got ${describe(inputs)}`);
    const dim = this.dim;
    const vectors = emptyEncoding(inputs.length, dim);
    const bs = this.#batchSize;
    const prepare = (start: number): Promise<{ data: Float32Array; dims: [number, 3, number, number] }> => {
      const p = preprocessImages(inputs.slice(start, start + bs), this.spec.image, { indexOffset: start });
      // The next batch is decoded while the graph runs; its failure is reported when it is awaited.
      p.catch(() => undefined);
      return p;
    };
    let next = inputs.length > 0 ? prepare(0) : undefined;
    for (let start = 0; start < inputs.length; start += bs) {
      if (options.signal?.aborted) throw new OmnivecError('encoder_error', 'encoding aborted');
      const tensor = await next!;
      next = start + bs < inputs.length ? prepare(start + bs) : undefined;
      const out = (await this.session.run({ [this.#input]: { type: 'float32', data: tensor.data, dims: tensor.dims } }, [this.spec.output]))[this.spec.output]!;
      const B = tensor.dims[0];
      for (let r = 0; r < B; r++) {
        const row = vectors.data.subarray((start + r) * dim, (start + r + 1) * dim);
        const m = this.#modelDim;
        if (out.dims.length === 2) row.set((out.data as Float32Array).subarray(r * m, r * m + dim));
        else row.set(rowOf(out, r, m).subarray(0, dim));
        if (this.spec.normalize) normalizeVector(row);
      }
      options.onProgress?.(start + B, inputs.length);
    }
    return vectors;
  }

  async close(): Promise<void> {
    await this.session.close();
  }
}

/** Row r of a [B, D] output, or the mean over H × W of row r of a [B, C, H, W] feature map. */
function rowOf(out: TensorData, r: number, dim: number): Float32Array {
  const data = out.data as Float32Array;
  if (out.dims.length === 2) return data.slice(r * dim, (r + 1) * dim);
  const plane = out.dims[2]! * out.dims[3]!;
  const v = new Float32Array(dim);
  const base = r * dim * plane;
  for (let c = 0; c < dim; c++) {
    let s = 0;
    const o = base + c * plane;
    for (let i = 0; i < plane; i++) s += data[o + i]!;
    v[c] = s / plane;
  }
  return v;
}

/** Opens an image encoder from a model folder or an .onnx file (see ImageEncoderOptions). */
export function createImageEncoder(model: string, options?: ImageEncoderOptions): Promise<ImageEncoder> {
  return ImageEncoder.create(model, options);
}
