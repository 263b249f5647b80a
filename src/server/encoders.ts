/**
 * The encoder service (docs/server.md, "Served encoders"): which encoders the server offers under
 * which names, opened lazily and kept open. Finding and opening a model is the registry's
 * (src/encoders/registry.ts: flags, stored models and collections' specs resolve there); this file
 * serves: names → open models, each ONNX model in a worker thread (`encoder-worker.ts`; SIF, pure
 * JS, and remote APIs, network-bound, run in this thread), and what `/v1/embeddings` adds
 * (Matryoshka `dimensions` per request, the zero-vector check after a cut, token counts).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { OmnivecError, describe, invalidArgument } from '../errors.js';
import { checkPositiveInt } from '../checks.js';
import { startWorker } from '../workers.js';
import type { Database } from '../db/database.js';
import { checkDimensions, truncateVector, type MatryoshkaDecl } from '../encoders/matryoshka.js';
import {
  checkReference, openResolved, resolveReference, resolveSpec, type EncoderContext, type ModelKind, type OpenedModel, type ResolvedModel,
} from '../encoders/registry.js';
import { listStoredModels, type StoredModel } from '../encoders/stored-models.js';
import { refuseZeroVectors } from '../encoders/no-vector.js';
import { batchRows } from '../encoders/common.js';
import type { EncoderSpec, Encoding } from '../encoders/types.js';
import type { EncoderService, ServedEncoderInfo, ServedKind } from './context.js';
import type { SerializedError, WorkerCall, WorkerInit, WorkerReady, WorkerReply, WorkerRequest } from './encoder-worker.js';

export interface EncoderServiceOptions {
  db: Database;
  dbDir: string;
  /** `--encoder NAME=MODEL`, repeatable. */
  encoders?: Record<string, string>;
  allowNetwork?: boolean;
  /** onnxruntime intra-op threads of each ONNX encoder (default: the number of cores). */
  threads?: number;
  /** Called once per encoder opened (for the server's log; tests count opens with it). */
  onOpen?: (event: { name: string; kind: ServedKind; dim: number; ms: number }) => void;
}

interface Entry {
  name: string;
  source: ServedEncoderInfo['source'];
  created: number;
  /** Where the registry found the model, and the choices to open it with. */
  model: ResolvedModel;
}

/** An opened model, whatever runs it. */
interface Backend {
  kind: ServedKind;
  dim: number;
  spec: EncoderSpec;
  matryoshka: MatryoshkaDecl;
  /** Renormalise after a Matryoshka cut (the encoder's own `normalize`). */
  normalize: boolean;
  texts?(texts: string[], mode: 'query' | 'passage' | undefined, dimensions: number | undefined): Promise<Encoding>;
  images?(images: Uint8Array[]): Promise<Encoding>;
  close(): Promise<void>;
}

const MAX_FLAG_NAME = 200;

/** BGE-M3's dense output is served as a text encoder. */
const servedKind = (k: ModelKind): ServedKind => (k === 'bge-m3' ? 'text' : k);

function reviveError(e: SerializedError, during: 'open' | 'encode'): OmnivecError {
  // A text whose vector is the zero vector is a bad argument like any other (400, docs/hardening.md §6).
  if (e.details?.noVector === true) return new OmnivecError('invalid_argument', e.message, e.details);
  // An input the encoder refuses (a text it will not cut, bytes that are no image: the decoder's
  // corrupt_file) is the client's problem but not a malformed request: 422, not 400 or 500.
  if (during === 'encode' && (e.code === undefined || e.code === 'invalid_argument' || e.code === 'corrupt_file')) return new OmnivecError('encoder_error', e.message, e.details);
  return new OmnivecError(e.code ?? 'internal', e.message, e.details);
}

/** The encoder's thread: encoder-worker.ts beside this file, started as every omnivec worker is (src/workers.ts). */
function startEncoderWorker(init: WorkerInit): Worker {
  return startWorker(import.meta.url, 'encoder-worker', { workerData: { omnivecEncoder: init } });
}

/** An ONNX model in its worker thread. */
class WorkerBackend implements Backend {
  readonly kind: ServedKind;
  readonly dim: number;
  readonly spec: EncoderSpec;
  readonly matryoshka: MatryoshkaDecl;
  readonly normalize: boolean;
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }>();
  #next = 1;
  #dead: Error | undefined;

  private constructor(worker: Worker, ready: WorkerReady) {
    this.#worker = worker;
    this.kind = servedKind(ready.kind);
    this.dim = ready.dim;
    this.spec = ready.spec;
    this.matryoshka = ready.matryoshka;
    this.normalize = ready.spec.normalize !== false;
  }

  /** Starts the worker and waits for its model to open; `onDeath` runs if the thread dies later. */
  static open(init: WorkerInit, onDeath: () => void): Promise<WorkerBackend> {
    const what = init.model.location.type === 'onnx' ? init.model.location.model : init.model.location.type;
    return new Promise((resolveOpen, rejectOpen) => {
      const worker = startEncoderWorker(init);
      let backend: WorkerBackend | undefined;
      const fail = (e: Error): void => {
        if (backend === undefined) {
          rejectOpen(e);
          return;
        }
        backend.#die(e);
        onDeath();
      };
      worker.on('message', (m: WorkerReply) => {
        if (m.id === -1) {
          if ('ready' in m) {
            backend = new WorkerBackend(worker, m.ready);
            worker.unref();
            resolveOpen(backend);
          } else if ('error' in m) {
            void worker.terminate();
            rejectOpen(reviveError(m.error, 'open'));
          }
          return;
        }
        if (backend === undefined) return;
        const p = backend.#pending.get(m.id);
        if (p === undefined) return;
        backend.#pending.delete(m.id);
        if (backend.#pending.size === 0) worker.unref();
        if ('error' in m) p.reject(reviveError(m.error, 'encode'));
        else p.resolve(m);
      });
      worker.on('error', (e) => fail(new OmnivecError('internal', `encoder worker for ${what} failed: ${e.message}`)));
      worker.on('exit', (code) => fail(new OmnivecError('internal', `encoder worker for ${what} exited (code ${code})`)));
    });
  }

  #die(e: Error): void {
    if (this.#dead !== undefined) return;
    this.#dead = e;
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }

  #call(req: WorkerCall): Promise<WorkerReply> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    const id = this.#next++;
    return new Promise((res, rej) => {
      this.#pending.set(id, { resolve: res, reject: rej });
      // Kept alive while a request is out, so a caller awaiting it is not left behind by an exit.
      this.#worker.ref();
      this.#worker.postMessage({ ...req, id } as WorkerRequest);
    });
  }

  static #result(r: WorkerReply): Encoding {
    const m = r as { data: Float32Array; dim: number; tokens: number };
    return { data: m.data, dim: m.dim, count: m.data.length / m.dim, tokens: m.tokens };
  }

  get texts(): Backend['texts'] {
    if (this.kind === 'image') return undefined;
    return async (texts, mode) => WorkerBackend.#result(await this.#call({ op: 'texts', texts, mode }));
  }

  get images(): Backend['images'] {
    if (this.kind !== 'image' && this.kind !== 'clip') return undefined;
    return async (images) => WorkerBackend.#result(await this.#call({ op: 'images', images }));
  }

  async close(): Promise<void> {
    if (this.#dead !== undefined) return;
    const closing = this.#call({ op: 'close' }).catch(() => undefined);
    // A worker busy with a long batch is not waited for beyond a moment.
    await Promise.race([closing, new Promise((r) => setTimeout(r, 2000).unref())]);
    this.#die(new OmnivecError('shutting_down', 'the encoder is closed'));
    await this.#worker.terminate();
  }
}

/** A SIF (or plain average) model, in this thread: microseconds a sentence. */
async function openSif(model: ResolvedModel, context: EncoderContext): Promise<Backend> {
  const m = await openResolved(model, context);
  const enc = m.text!;
  return {
    kind: 'sif', dim: enc.dim, spec: enc.spec, matryoshka: undefined, normalize: false,
    texts: (texts, mode) => enc.encode(texts, { mode }),
    close: () => m.close(),
  };
}

/**
 * A remote API: `dimensions` is the API's own (text-embedding-3-*), so one client per distinct
 * value. Each call's tokens are the API's usage for that call's requests.
 */
async function openRemote(model: ResolvedModel, context: EncoderContext): Promise<Backend> {
  const clients = new Map<number | undefined, Promise<OpenedModel>>();
  const base = model.options.dimensions;
  const client = (d: number | undefined): Promise<OpenedModel> => {
    let c = clients.get(d);
    if (c === undefined) {
      // A spec's known `dim` holds for its own dimensions only.
      c = openResolved({ ...model, options: { ...model.options, dimensions: d, dim: d === base ? model.options.dim : undefined } }, context);
      clients.set(d, c);
    }
    return c;
  };
  const first = (await client(base)).text!;
  // The dimension is learnt from a first response (unless the spec recorded it).
  if (model.options.dim === undefined) await first.encode(['dimension probe']);
  return {
    kind: 'remote', dim: first.dim, spec: first.spec, matryoshka: true, normalize: true,
    texts: async (texts, _mode, d) => (await client(d ?? base)).text!.encode(texts),
    close: async () => { for (const c of clients.values()) await (await c).close(); },
  };
}

function validTexts(texts: readonly string[]): string[] {
  if (!Array.isArray(texts)) throw invalidArgument(`texts: expected an array of strings, got ${describe(texts)}`);
  texts.forEach((t, i) => {
    if (typeof t !== 'string') throw invalidArgument(`texts[${i}]: expected a string, got ${describe(t)}`);
    if (t.trim() === '') throw invalidArgument(`texts[${i}]: expected a non-empty string, got ${describe(t)}`);
  });
  return texts as string[];
}

/** Models that open the same way share one backend, whatever they are called. */
function targetKey(m: ResolvedModel): string {
  return JSON.stringify([m.location, { ...m.options, name: undefined }]);
}

export function createEncoderService(options: EncoderServiceOptions): EncoderService {
  const { db, dbDir } = options;
  const allowNetwork = options.allowNetwork === true;
  const started = Math.floor(Date.now() / 1000);
  const flags = new Map<string, string>();
  for (const [name, model] of Object.entries(options.encoders ?? {})) {
    if (name === '' || name.length > MAX_FLAG_NAME || /\s/.test(name)) throw invalidArgument(`--encoder ${name}=${model}: expected a NAME without spaces, got ${JSON.stringify(name)}`);
    if (typeof model !== 'string' || model === '') throw invalidArgument(`--encoder ${name}=MODEL: expected a model folder, an .onnx file, a hub id or openai:MODEL, got ${describe(model)}`);
    try {
      checkReference(model, { allowNetwork });
    } catch (e) {
      throw e instanceof OmnivecError && e.code === 'not_found' ? new OmnivecError('not_found', `--encoder ${name}=${e.message}`, e.details) : e;
    }
    flags.set(name, model.startsWith('openai:') || !existsSync(resolve(model)) ? model : resolve(model));
  }
  /** How models open: flags stand for their models when a collection's spec names them. */
  const context: EncoderContext = { dbDir, allowNetwork, threads: options.threads, models: Object.fromEntries(flags) };
  /** Names seen by a scan (flags, stored models, collections' encoders), for lookups between scans. */
  let known = new Map<string, Entry>();
  /** Opened (or opening) models by target; names that open the same target share it. */
  const opened = new Map<string, Promise<Backend>>();
  const settled = new Map<string, Backend>();
  let closed = false;

  function flagEntry(name: string): Entry | undefined {
    const model = flags.get(name);
    if (model === undefined) return undefined;
    return { name, source: 'flag', created: started, model: resolveReference(model, { allowNetwork }, { name }) };
  }

  function storedEntry(s: StoredModel): Entry {
    return { name: s.name, source: 'database', created: s.created, model: resolveReference(s.dir, {}, { name: s.name }) };
  }

  /** Every served name now, in the order of docs/server.md (the first source of a name wins). */
  async function scan(): Promise<Map<string, Entry>> {
    const entries = new Map<string, Entry>();
    for (const name of flags.keys()) entries.set(name, flagEntry(name)!);
    const stored = listStoredModels(dbDir);
    for (const s of stored) if (!entries.has(s.name)) entries.set(s.name, storedEntry(s));
    for (const c of await db.listCollections()) {
      const spec = c.encoder;
      if (spec === null || entries.has(spec.model)) continue;
      const r = resolveSpec(spec, context, stored);
      if (!('reason' in r)) {
        const created = Math.floor(Date.parse(c.created) / 1000);
        entries.set(spec.model, { name: spec.model, source: 'collection', created: Number.isFinite(created) ? created : started, model: r });
      }
    }
    known = entries;
    return entries;
  }

  async function lookup(name: string): Promise<Entry> {
    if (typeof name !== 'string' || name === '') throw invalidArgument(`model: expected the name of a served encoder, got ${describe(name)}`);
    const e = flagEntry(name) ?? known.get(name) ?? (await scan()).get(name);
    if (e === undefined) {
      const names = [...known.keys()];
      throw new OmnivecError('not_found', `model: no served encoder is named ${JSON.stringify(name)}; ${names.length === 0 ? 'none are served' : `served: ${names.join(', ')}`}`);
    }
    return e;
  }

  async function openTarget(entry: Entry): Promise<Backend> {
    const m = entry.model;
    const t0 = performance.now();
    let b: Backend;
    if (m.location.type === 'sif') b = await openSif(m, context);
    else if (m.location.type === 'remote') b = await openRemote(m, context);
    else {
      const key = targetKey(m);
      b = await WorkerBackend.open({ model: m, context: { allowNetwork, threads: options.threads } }, () => { opened.delete(key); settled.delete(key); });
    }
    options.onOpen?.({ name: entry.name, kind: b.kind, dim: b.dim, ms: performance.now() - t0 });
    return b;
  }

  function open(entry: Entry): Promise<Backend> {
    if (closed) return Promise.reject(new OmnivecError('shutting_down', 'the encoder service is closed'));
    const key = targetKey(entry.model);
    let p = opened.get(key);
    if (p === undefined) {
      p = openTarget(entry);
      opened.set(key, p);
      p.then((b) => { settled.set(key, b); }, () => { if (opened.get(key) === p) opened.delete(key); });
    }
    return p;
  }

  function specOf(entry: Entry, b: Backend): EncoderSpec {
    const spec: EncoderSpec = { ...b.spec, model: entry.name, dim: b.dim };
    // Where the model is (the registry records it for folders, hub ids and SIF models; a remote
    // API is its openai: id), so a collection bound to this spec finds it after a restart without the flag.
    const loc = entry.model.location;
    if (spec.source === undefined) spec.source = loc.type === 'sif' ? loc.dir : loc.model;
    return spec;
  }

  function outputDims(entry: Entry, b: Backend, dimensions: number | undefined): number | undefined {
    if (dimensions === undefined) return undefined;
    if (b.kind === 'remote') {
      checkPositiveInt(dimensions, 'dimensions');
      return dimensions;
    }
    return checkDimensions(dimensions, b.dim, b.matryoshka, false, entry.name);
  }

  /** The rows of an encoder's batch, cut to `d` Matryoshka dimensions (a remote API cut them itself). */
  function rows(batch: Encoding, d: number | undefined, b: Backend): Float32Array[] {
    const vectors = batchRows(batch);
    if (d === undefined || d === b.dim || b.kind === 'remote') return vectors;
    return vectors.map((v) => truncateVector(v, d, b.normalize));
  }

  return {
    async list() {
      const out: ServedEncoderInfo[] = [];
      for (const e of (await scan()).values()) {
        const b = settled.get(targetKey(e.model));
        out.push({ name: e.name, source: e.source, created: e.created, ...(b !== undefined ? { kind: b.kind, dim: b.dim } : {}) });
      }
      return out;
    },

    async info(name) {
      const e = await lookup(name);
      const b = await open(e);
      return { name: e.name, source: e.source, created: e.created, kind: b.kind, dim: b.dim, spec: specOf(e, b) };
    },

    async embedTexts(name, texts, o = {}) {
      const e = await lookup(name);
      const input = validTexts(texts);
      const b = await open(e);
      if (b.texts === undefined) throw invalidArgument(`model: ${name} is an ${b.kind} encoder; it takes images, not texts`);
      const d = outputDims(e, b, o.dimensions);
      if (input.length === 0) return { vectors: [], tokens: 0 };
      const r = await b.texts(input, o.mode, d);
      // The encoders refuse a text whose vector is zero themselves; a Matryoshka cut can make one.
      return { vectors: refuseZeroVectors(rows(r, d, b), input), tokens: r.tokens };
    },

    async embedImages(name, images, o = {}) {
      const e = await lookup(name);
      if (!Array.isArray(images)) throw invalidArgument(`images: expected an array of image file bytes, got ${describe(images)}`);
      images.forEach((x, i) => { if (!(x instanceof Uint8Array)) throw invalidArgument(`images[${i}]: expected the bytes of an image file, got ${describe(x)}`); });
      const b = await open(e);
      if (b.images === undefined) throw invalidArgument(`model: ${name} is a ${b.kind} encoder; it takes texts, not images`);
      const d = outputDims(e, b, o.dimensions);
      if (images.length === 0) return { vectors: [], tokens: 0 };
      const r = await b.images([...images]);
      return { vectors: rows(r, d, b), tokens: 0 };
    },

    async forCollection(c) {
      const spec = c.encoder;
      if (spec === null) return { name: undefined, reason: `collection ${c.name} has no bound encoder` };
      let e = flagEntry(spec.model) ?? known.get(spec.model);
      if (e === undefined) {
        const r = resolveSpec(spec, context);
        if ('reason' in r) return { name: undefined, reason: `collection ${c.name}: ${r.reason}` };
        e = { name: spec.model, source: 'collection', created: started, model: r };
        known.set(e.name, e);
      }
      let b: Backend;
      try {
        b = await open(e);
      } catch (err) {
        return { name: undefined, reason: `collection ${c.name}: encoder "${spec.model}" cannot be opened: ${(err as Error).message}` };
      }
      if (b.dim !== c.dim) return { name: undefined, reason: `collection ${c.name}: encoder "${spec.model}" gives ${b.dim}-d vectors, the collection holds ${c.dim}-d` };
      return { name: e.name, kind: b.kind };
    },

    async close() {
      closed = true;
      const all = [...opened.values()];
      opened.clear();
      settled.clear();
      await Promise.all(all.map((p) => p.then((b) => b.close(), () => undefined)));
    },
  };
}
