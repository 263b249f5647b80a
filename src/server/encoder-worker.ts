/**
 * One ONNX encoder (text, image or CLIP) in a worker thread, so tokenising and `session.run` (which
 * holds its thread for the whole forward pass) do not stall the server's event loop. Started by
 * `encoders.ts`; the protocol is the types below. Vectors come back as one transferred
 * Float32Array per request (n × dim), not one array per input.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { OmnivecError, type ErrorCode } from '../errors.js';
import { openEncoder, type AnyEncoder, type EncoderKind, type OpenEncoderOptions } from '../encoders/open.js';
import { locateModel } from '../encoders/onnx/model-folder.js';
import type { DetailedEncoding, EncodeOptions } from '../encoders/onnx/text-encoder.js';
import type { MatryoshkaDecl } from '../encoders/matryoshka.js';

export interface WorkerInit {
  /** A model folder, an .onnx file or a hub id (already known to be local unless allowNetwork). */
  model: string;
  options: OpenEncoderOptions;
}

export type WorkerCall =
  | { op: 'texts'; texts: string[]; mode?: 'query' | 'passage' }
  | { op: 'images'; images: Uint8Array[] }
  | { op: 'close' };

export type WorkerRequest = WorkerCall & { id: number };

export interface SerializedError {
  code: ErrorCode | undefined;
  message: string;
  details?: Record<string, unknown>;
}

export interface WorkerReady {
  kind: Exclude<EncoderKind, 'remote'>;
  dim: number;
  spec: { model: string; dim?: number; [key: string]: unknown };
  /** omnivec.json's `matryoshka`: which `dimensions` a request may ask for. */
  matryoshka: MatryoshkaDecl;
  /** The model folder (or .onnx file) opened. */
  path: string;
}

export type WorkerReply =
  | { id: -1; ready: WorkerReady }
  | { id: number; data: Float32Array; dim: number; tokens: number }
  | { id: number; closed: true }
  | { id: number; error: SerializedError };

/** The tokens CLIP's text tower runs: its BPE tokens, start and end, cut at the context length. */
const CLIP_CONTEXT = 77;

export function serializeError(e: unknown): SerializedError {
  if (e instanceof OmnivecError) return { code: e.code, message: e.message, ...(e.details !== undefined ? { details: { ...e.details } } : {}) };
  return { code: undefined, message: e instanceof Error ? e.message : String(e) };
}

function matryoshkaOf(path: string): MatryoshkaDecl {
  const file = join(path, 'omnivec.json');
  if (!statSync(path).isDirectory() || !existsSync(file)) return undefined;
  const m = (JSON.parse(readFileSync(file, 'utf8')) as { matryoshka?: unknown }).matryoshka;
  return m === true || (Array.isArray(m) && m.every((x) => Number.isInteger(x))) ? m as MatryoshkaDecl : undefined;
}

function flatten(vectors: readonly Float32Array[], dim: number): Float32Array {
  const out = new Float32Array(vectors.length * dim);
  vectors.forEach((v, i) => out.set(v, i * dim));
  return out;
}

async function main(port: NonNullable<typeof parentPort>, init: WorkerInit): Promise<void> {
  let enc: AnyEncoder;
  try {
    const located = await locateModel(init.model, { allowNetwork: init.options.allowNetwork });
    enc = await openEncoder(located.path, { ...init.options, name: init.options.name ?? located.name });
    if (enc.kind === 'remote') throw new OmnivecError('invalid_argument', `${init.model}: a remote model does not run in a worker`);
    const main = enc.text ?? enc.image!;
    const ready: WorkerReady = { kind: enc.kind, dim: main.dim, spec: main.spec, matryoshka: matryoshkaOf(located.path), path: located.path };
    port.postMessage({ id: -1, ready } satisfies WorkerReply);
  } catch (e) {
    port.postMessage({ id: -1, error: serializeError(e) } satisfies WorkerReply);
    return;
  }
  port.on('message', (m: WorkerRequest) => {
    void (async () => {
      try {
        if (m.op === 'close') {
          await enc.close();
          port.postMessage({ id: m.id, closed: true } satisfies WorkerReply);
          port.close();
          return;
        }
        let vectors: Float32Array[];
        let tokens = 0;
        let dim: number;
        if (m.op === 'texts') {
          const text = enc.text;
          if (text === undefined) throw new OmnivecError('invalid_argument', `${enc.kind} encoder: takes images, not texts`);
          const detailed = (text as { encodeDetailed?: (t: readonly string[], o?: EncodeOptions) => Promise<DetailedEncoding> }).encodeDetailed;
          if (typeof detailed === 'function') {
            const r = await detailed.call(text, m.texts, { mode: m.mode });
            vectors = r.vectors;
            for (const n of r.tokens) tokens += n;
          } else {
            vectors = await text.encode(m.texts, { mode: m.mode });
            if (enc.clip !== undefined) for (const t of m.texts) tokens += Math.min(CLIP_CONTEXT, enc.clip.tokenizer.tokenize(t).length + 2);
          }
          dim = text.dim;
        } else {
          const image = enc.image;
          if (image === undefined) throw new OmnivecError('invalid_argument', `${enc.kind} encoder: takes texts, not images`);
          vectors = await image.encode(m.images);
          dim = image.dim;
        }
        const data = flatten(vectors, dim);
        port.postMessage({ id: m.id, data, dim, tokens } satisfies WorkerReply, [data.buffer as ArrayBuffer]);
      } catch (e) {
        port.postMessage({ id: m.id, error: serializeError(e) } satisfies WorkerReply);
      }
    })();
  });
}

if (parentPort !== null && (workerData as { omnivecEncoder?: WorkerInit } | null)?.omnivecEncoder !== undefined) {
  void main(parentPort, (workerData as { omnivecEncoder: WorkerInit }).omnivecEncoder);
}
