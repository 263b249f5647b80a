import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OmnivecError } from '../errors.js';
import { createTextEncoder, type EncodeOptions } from './onnx/text-encoder.js';
import { locateModel } from './onnx/model-folder.js';
import { createRemoteEncoder } from './remote/index.js';
import { createImageEncoder } from './image/index.js';
import { createClip, type Clip } from './clip/index.js';

/**
 * Opens whatever a model folder holds — a text encoder, an image encoder, or CLIP's two towers —
 * for the CLI and the server, which take "a model" without knowing its kind. The kind comes from
 * omnivec.json's `kind`, else from the files: text_model.onnx + vision_model.onnx → clip;
 * tokenizer.json → text; preprocessor_config.json or a bare graph → image.
 */
export type EncoderKind = 'text' | 'image' | 'clip' | 'remote';

export interface SomeEncoder<I> {
  readonly dim: number;
  readonly spec: { model: string; dim?: number; [key: string]: unknown };
  encode(inputs: readonly I[], options?: EncodeOptions): Promise<Float32Array[]>;
}

export interface AnyEncoder {
  kind: EncoderKind;
  text?: SomeEncoder<string>;
  image?: SomeEncoder<string | Buffer | Uint8Array>;
  /** CLIP's two towers and tokenizer (kind 'clip'). */
  clip?: Clip;
  close(): Promise<void>;
}

export interface OpenEncoderOptions {
  threads?: number;
  batchSize?: number;
  dimensions?: number;
  forceDimensions?: boolean;
  maxLength?: number;
  /** Text longer than maxLength: cut (default, reported) or refuse. */
  truncation?: 'truncate' | 'error';
  allowNetwork?: boolean;
  /** `openai:MODEL`: the API's base URL (default $OPENAI_BASE_URL, else https://api.openai.com/v1). */
  baseURL?: string;
  /** `openai:MODEL`: the checkpoint file (docs/remote.md). */
  checkpoint?: string;
  /** The model name the specs record (default: the folder's name, or the hub id). */
  name?: string;
}

export function detectKind(dir: string): EncoderKind {
  const folder = resolve(dir);
  const omnivec = join(folder, 'omnivec.json');
  if (existsSync(omnivec)) {
    let kind: unknown;
    try {
      kind = (JSON.parse(readFileSync(omnivec, 'utf8')) as { kind?: unknown }).kind;
    } catch (e) {
      throw new OmnivecError('corrupt_file', `${omnivec}: expected a JSON object, ${(e as Error).message}`);
    }
    if (kind === 'text' || kind === 'image' || kind === 'clip') return kind;
    if (kind === 'bge-m3') return 'text';
  }
  const has = (f: string): boolean => existsSync(join(folder, f)) || existsSync(join(folder, 'onnx', f));
  if (has('text_model.onnx') && has('vision_model.onnx')) return 'clip';
  if (existsSync(join(folder, 'tokenizer.json'))) return 'text';
  return 'image';
}

export async function openEncoder(model: string, options: OpenEncoderOptions = {}): Promise<AnyEncoder> {
  if (model.startsWith('openai:')) {
    // A remote OpenAI-compatible API: naming it is the user's permission to use the network.
    const remote = createRemoteEncoder({
      baseURL: options.baseURL ?? process.env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1', model: model.slice('openai:'.length),
      dimensions: options.dimensions, checkpoint: options.checkpoint,
      ...(options.batchSize !== undefined ? { maxBatch: options.batchSize } : {}),
    });
    return { kind: 'remote', text: remote, close: () => remote.close() };
  }
  const located = await locateModel(model, { allowNetwork: options.allowNetwork });
  const path = located.path;
  const name = options.name ?? located.name;
  const kind = path.endsWith('.onnx') ? 'image' : detectKind(path);
  if (kind === 'text') {
    const text = await createTextEncoder(path, { ...options, name });
    return { kind, text, close: () => text.close() };
  }
  if (kind === 'clip') {
    const clip = await createClip(path, { threads: options.threads, batchSize: options.batchSize, dimensions: options.dimensions, forceDimensions: options.forceDimensions, name });
    return { kind, text: clip.text, image: clip.image, clip, close: () => clip.close() };
  }
  const image = await createImageEncoder(path, {
    threads: options.threads, batchSize: options.batchSize, dimensions: options.dimensions, forceDimensions: options.forceDimensions, name,
  });
  return { kind: 'image', image, close: () => image.close() };
}
