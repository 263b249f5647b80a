/**
 * One ONNX model (text, image, CLIP or BGE-M3) in a worker thread, so tokenising and `session.run`
 * (which holds its thread for the whole forward pass) do not stall the server's event loop.
 * Started by `encoders.ts` with what the registry resolved (`ResolvedModel`, plain JSON); opened
 * here through the registry; the protocol is the types below. Vectors come back as the encoder's
 * batch, one transferred Float32Array per request (n × dim), with its token count.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { OmnivecError, type ErrorCode } from '../errors.js';
import { openResolved, type EncoderContext, type ModelKind, type OpenedModel, type ResolvedModel } from '../encoders/registry.js';
import type { EncoderSpec, Encoding } from '../encoders/types.js';
import type { MatryoshkaDecl } from '../encoders/matryoshka.js';

export interface WorkerInit {
  /** An ONNX model (a folder, an .onnx file or a hub id, already known to be local unless allowNetwork). */
  model: ResolvedModel;
  context: EncoderContext;
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
  kind: Exclude<ModelKind, 'remote' | 'sif'>;
  dim: number;
  /** The spec of the model's text encoder (its image one when it takes only images). */
  spec: EncoderSpec;
  /** omnivec.json's `matryoshka`: which `dimensions` a request may ask for. */
  matryoshka: MatryoshkaDecl;
}

export type WorkerReply =
  | { id: -1; ready: WorkerReady }
  | { id: number; data: Float32Array; dim: number; tokens: number }
  | { id: number; closed: true }
  | { id: number; error: SerializedError };

export function serializeError(e: unknown): SerializedError {
  if (e instanceof OmnivecError) return { code: e.code, message: e.message, ...(e.details !== undefined ? { details: { ...e.details } } : {}) };
  return { code: undefined, message: e instanceof Error ? e.message : String(e) };
}

async function main(port: NonNullable<typeof parentPort>, init: WorkerInit): Promise<void> {
  let m: OpenedModel;
  try {
    if (init.model.location.type !== 'onnx') throw new OmnivecError('invalid_argument', `${init.model.location.type} models do not run in a worker`);
    m = await openResolved(init.model, init.context);
    const main = m.text ?? m.image!;
    const ready: WorkerReady = { kind: m.kind as WorkerReady['kind'], dim: main.dim, spec: main.spec, matryoshka: m.matryoshka };
    port.postMessage({ id: -1, ready } satisfies WorkerReply);
  } catch (e) {
    port.postMessage({ id: -1, error: serializeError(e) } satisfies WorkerReply);
    return;
  }
  port.on('message', (r: WorkerRequest) => {
    void (async () => {
      try {
        if (r.op === 'close') {
          await m.close();
          port.postMessage({ id: r.id, closed: true } satisfies WorkerReply);
          port.close();
          return;
        }
        let out: Encoding;
        if (r.op === 'texts') {
          if (m.text === undefined) throw new OmnivecError('invalid_argument', `${m.kind} encoder: takes images, not texts`);
          out = await m.text.encode(r.texts, { mode: r.mode });
        } else {
          if (m.image === undefined) throw new OmnivecError('invalid_argument', `${m.kind} encoder: takes texts, not images`);
          out = await m.image.encode(r.images);
        }
        // The batch's own buffer is transferred when it is exactly the batch (it is, for every ONNX encoder).
        const data = out.data.byteOffset === 0 && out.data.byteLength === out.data.buffer.byteLength ? out.data : out.data.slice();
        port.postMessage({ id: r.id, data, dim: out.dim, tokens: out.tokens } satisfies WorkerReply, [data.buffer as ArrayBuffer]);
      } catch (e) {
        port.postMessage({ id: r.id, error: serializeError(e) } satisfies WorkerReply);
      }
    })();
  });
}

if (parentPort !== null && (workerData as { omnivecEncoder?: WorkerInit } | null)?.omnivecEncoder !== undefined) {
  void main(parentPort, (workerData as { omnivecEncoder: WorkerInit }).omnivecEncoder);
}
