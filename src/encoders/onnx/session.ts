import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { OmnivecError, invalidArgument, describe } from '../../errors.js';

/**
 * The one native seam: onnxruntime-node, imported lazily so that nothing else pays for it (and a
 * machine without it can still use every pure-JS part of omnivec).
 */
type Ort = typeof import('onnxruntime-node');
let ortPromise: Promise<Ort> | undefined;

export async function loadOrt(): Promise<Ort> {
  ortPromise ??= import('onnxruntime-node').catch((e: Error) => {
    ortPromise = undefined;
    throw new OmnivecError('encoder_error', `onnxruntime-node could not be loaded (${e.message}); install it with "npm install onnxruntime-node" (set ONNXRUNTIME_NODE_INSTALL=skip offline)`);
  });
  return ortPromise;
}

export interface SessionOptions {
  /** Intra-op threads. Default: the number of cores. */
  threads?: number;
  /** Graph optimisation level. Default 'all'. */
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
}

/** A tensor handed to or read from a session: float32 or int64 data with its shape. */
export interface TensorData {
  type: 'float32' | 'int64' | 'int32';
  data: Float32Array | BigInt64Array | Int32Array;
  dims: readonly number[];
}

export interface InputInfo {
  name: string;
  /** Element type as onnxruntime reports it ('float32', 'int64', …) when known. */
  type?: string;
  /** Shape with symbolic axes as strings or -1, when known. */
  shape?: readonly (number | string)[];
}

/** An open ONNX inference session. */
export class OnnxSession {
  readonly file: string;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputs: readonly InputInfo[];
  readonly #ort: Ort;
  readonly #session: import('onnxruntime-node').InferenceSession;
  #closed = false;

  private constructor(file: string, ort: Ort, session: import('onnxruntime-node').InferenceSession) {
    this.file = file;
    this.#ort = ort;
    this.#session = session;
    this.inputNames = session.inputNames;
    this.outputNames = session.outputNames;
    const meta = (session as unknown as { inputMetadata?: readonly { name: string; isTensor?: boolean; type?: string; shape?: readonly (number | string)[] }[] }).inputMetadata;
    this.inputs = session.inputNames.map((name, i) => {
      const m = Array.isArray(meta) ? meta[i] : undefined;
      return { name, type: m?.type, shape: m?.shape };
    });
  }

  /** Opens `file` (an .onnx graph). Errors name the file: missing → not_found, unreadable graph → corrupt_file. */
  static async open(file: string, options: SessionOptions = {}): Promise<OnnxSession> {
    if (!existsSync(file) || !statSync(file).isFile()) throw new OmnivecError('not_found', `ONNX model file ${file} not found`);
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) throw invalidArgument(`threads: expected a positive integer, got ${describe(options.threads)}`);
    const ort = await loadOrt();
    let session: import('onnxruntime-node').InferenceSession;
    try {
      session = await ort.InferenceSession.create(file, {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: options.graphOptimization ?? 'all',
        executionProviders: ['cpu'],
      });
    } catch (e) {
      throw new OmnivecError('corrupt_file', `${file}: not a loadable ONNX model (${(e as Error).message.split('\n')[0]})`);
    }
    return new OnnxSession(file, ort, session);
  }

  has(input: string): boolean {
    return this.inputNames.includes(input);
  }

  /** Runs the graph. `outputs` defaults to every output. */
  async run(feeds: Record<string, TensorData>, outputs?: readonly string[]): Promise<Record<string, TensorData>> {
    if (this.#closed) throw invalidArgument(`session for ${this.file} is closed`);
    const ort = this.#ort;
    const inputs: Record<string, import('onnxruntime-node').Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) inputs[name] = new ort.Tensor(t.type, t.data, t.dims);
    let out: import('onnxruntime-node').InferenceSession.ReturnType;
    try {
      out = outputs === undefined ? await this.#session.run(inputs) : await this.#session.run(inputs, outputs as string[]);
    } catch (e) {
      throw new OmnivecError('encoder_error', `${this.file}: inference failed (${(e as Error).message.split('\n')[0]})`);
    }
    const result: Record<string, TensorData> = {};
    for (const [name, t] of Object.entries(out)) {
      result[name] = { type: t.type as TensorData['type'], data: t.data as TensorData['data'], dims: t.dims };
    }
    return result;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#session.release();
  }
}
