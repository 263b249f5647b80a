/**
 * The encoder service (docs/server.md, "Served encoders"): which encoders the server offers under
 * which names, opened lazily and kept open. ONNX encoders each run in a worker thread
 * (`encoder-worker.ts`); SIF (pure JS, microseconds a sentence) and remote APIs (network-bound)
 * run in this thread.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { OmnivecError, describe, invalidArgument } from '../errors.js';
import { checkPositiveInt } from '../checks.js';
import { startWorker } from '../workers.js';
import type { Database } from '../db/database.js';
import type { EncoderSpec } from '../db/collection.js';
import { checkDimensions, truncateVector, type MatryoshkaDecl } from '../encoders/matryoshka.js';
import { hubModelFolder, isHubId } from '../encoders/onnx/hub.js';
import { createRemoteEncoder, type RemoteEncoder } from '../encoders/remote/index.js';
import { loadSif } from '../encoders/sif/files.js';
import { listStoredModels, storedModelDir, type StoredModel } from '../encoders/stored-models.js';
import { refuseZeroVectors } from '../encoders/no-vector.js';
import type { OpenEncoderOptions } from '../encoders/open.js';
import type { EmbedResult, EncoderService, ServedEncoderInfo, ServedKind } from './context.js';
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

/** What a served name opens. `model` is a folder, an .onnx file, a hub id or `openai:MODEL`. */
type Target =
  | { type: 'model'; model: string; dimensions?: number; baseURL?: string }
  | { type: 'sif'; dir: string };

interface Entry {
  name: string;
  source: ServedEncoderInfo['source'];
  created: number;
  target: Target;
}

/** An opened encoder, whatever runs it. */
interface Backend {
  kind: ServedKind;
  dim: number;
  spec: EncoderSpec;
  matryoshka: MatryoshkaDecl;
  /** Renormalise after a Matryoshka cut (the encoder's own `normalize`). */
  normalize: boolean;
  texts?(texts: string[], mode: 'query' | 'passage' | undefined, dimensions: number | undefined): Promise<EmbedResult>;
  images?(images: Uint8Array[]): Promise<EmbedResult>;
  close(): Promise<void>;
}

const MAX_FLAG_NAME = 200;

function reviveError(e: SerializedError, during: 'open' | 'encode'): OmnivecError {
  // An input the encoder refuses (a text it will not cut, bytes that are no image: the decoder's
  // corrupt_file) is the client's problem but not a malformed request: 422, not 400 or 500.
  if (during === 'encode' && (e.code === undefined || e.code === 'invalid_argument' || e.code === 'corrupt_file')) return new OmnivecError('encoder_error', e.message, e.details);
  return new OmnivecError(e.code ?? 'internal', e.message, e.details);
}

/** The encoder's thread: encoder-worker.ts beside this file, started as every omnivec worker is (src/workers.ts). */
function startEncoderWorker(init: WorkerInit): Worker {
  return startWorker(import.meta.url, 'encoder-worker', { workerData: { omnivecEncoder: init } });
}

/** An ONNX encoder in its worker thread. */
class WorkerBackend implements Backend {
  readonly kind: ServedKind;
  readonly dim: number;
  readonly spec: EncoderSpec;
  readonly matryoshka: MatryoshkaDecl;
  readonly normalize: boolean;
  readonly path: string;
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }>();
  #next = 1;
  #dead: Error | undefined;

  private constructor(worker: Worker, ready: WorkerReady) {
    this.#worker = worker;
    this.kind = ready.kind;
    this.dim = ready.dim;
    this.spec = ready.spec;
    this.matryoshka = ready.matryoshka;
    this.normalize = ready.spec.normalize !== false;
    this.path = ready.path;
  }

  /** Starts the worker and waits for its encoder to open; `onDeath` runs if the thread dies later. */
  static open(init: WorkerInit, onDeath: () => void): Promise<WorkerBackend> {
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
      worker.on('error', (e) => fail(new OmnivecError('internal', `encoder worker for ${init.model} failed: ${e.message}`)));
      worker.on('exit', (code) => fail(new OmnivecError('internal', `encoder worker for ${init.model} exited (code ${code})`)));
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

  static #result(r: WorkerReply): EmbedResult {
    const m = r as { data: Float32Array; dim: number; tokens: number };
    const vectors: Float32Array[] = new Array(m.data.length / m.dim);
    for (let i = 0; i < vectors.length; i++) vectors[i] = m.data.subarray(i * m.dim, (i + 1) * m.dim);
    return { vectors, tokens: m.tokens };
  }

  get texts(): Backend['texts'] {
    if (this.kind === 'image') return undefined;
    return async (texts, mode) => WorkerBackend.#result(await this.#call({ op: 'texts', texts, mode }));
  }

  get images(): Backend['images'] {
    if (this.kind === 'text') return undefined;
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

async function openSif(dir: string): Promise<Backend> {
  const model = await loadSif(dir);
  const enc = model.asEncoder();
  return {
    kind: 'sif', dim: model.dim, spec: enc.spec, matryoshka: undefined, normalize: false,
    texts: async (texts) => {
      let tokens = 0;
      for (const t of texts) tokens += model.tokenizer.tokenize(t).length;
      return { vectors: await enc.encode(texts), tokens };
    },
    close: async () => undefined,
  };
}

/**
 * A remote API: `dimensions` is the API's own (text-embedding-3-*), so one client per distinct
 * value; calls to one client are queued so that its usage counter gives each call's tokens.
 */
async function openRemote(model: string, baseURL: string | undefined, dimensions: number | undefined): Promise<Backend> {
  const clients = new Map<number | undefined, RemoteEncoder>();
  let queue: Promise<unknown> = Promise.resolve();
  const client = (d: number | undefined): RemoteEncoder => {
    let c = clients.get(d);
    if (c === undefined) {
      c = createRemoteEncoder({ baseURL: baseURL ?? process.env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1', model: model.slice('openai:'.length), dimensions: d });
      clients.set(d, c);
    }
    return c;
  };
  const run = (texts: string[], d: number | undefined): Promise<EmbedResult> => {
    const job = queue.then(async () => {
      const c = client(d);
      const before = c.usage.promptTokens;
      const vectors = await c.encode(texts);
      return { vectors, tokens: c.usage.promptTokens - before };
    });
    queue = job.catch(() => undefined);
    return job;
  };
  // The dimension is learnt from a first response.
  await run(['dimension probe'], dimensions);
  const base = client(dimensions);
  return {
    kind: 'remote', dim: base.dim, spec: base.spec, matryoshka: true, normalize: true,
    texts: (texts, _mode, d) => run(texts, d ?? dimensions),
    close: async () => { for (const c of clients.values()) await c.close(); },
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

export function createEncoderService(options: EncoderServiceOptions): EncoderService {
  const { db, dbDir } = options;
  const allowNetwork = options.allowNetwork === true;
  const started = Math.floor(Date.now() / 1000);
  const flags = new Map<string, string>();
  for (const [name, model] of Object.entries(options.encoders ?? {})) {
    if (name === '' || name.length > MAX_FLAG_NAME || /\s/.test(name)) throw invalidArgument(`--encoder ${name}=${model}: expected a NAME without spaces, got ${JSON.stringify(name)}`);
    if (typeof model !== 'string' || model === '') throw invalidArgument(`--encoder ${name}=MODEL: expected a model folder, an .onnx file, a hub id or openai:MODEL, got ${describe(model)}`);
    if (!model.startsWith('openai:') && !existsSync(resolve(model)) && !(isHubId(model) && (allowNetwork || hubCached(model)))) {
      throw new OmnivecError('not_found', `--encoder ${name}=${model}: no such folder or file${isHubId(model) ? `, and the hub id is not in the local cache (${hubModelFolder(model)}); pass --allow-network to download it` : ''}`);
    }
    flags.set(name, model.startsWith('openai:') || !existsSync(resolve(model)) ? model : resolve(model));
  }
  /** Names seen by a scan (flags, stored models, collections' encoders), for lookups between scans. */
  let known = new Map<string, Entry>();
  /** Opened (or opening) encoders by target; names that open the same target share it. */
  const opened = new Map<string, Promise<Backend>>();
  const settled = new Map<string, Backend>();
  let closed = false;

  function hubCached(id: string): boolean {
    return existsSync(join(hubModelFolder(id), 'config.json'));
  }

  function targetKey(t: Target): string {
    if (t.type === 'sif') return `sif ${resolve(t.dir)}`;
    const m = t.model.startsWith('openai:') || !existsSync(t.model) ? t.model : resolve(t.model);
    return `model ${m}|${t.dimensions ?? ''}|${t.baseURL ?? ''}`;
  }

  function flagEntry(name: string): Entry | undefined {
    const model = flags.get(name);
    if (model === undefined) return undefined;
    // A SIF folder (train sif --output) is served in-process like a stored one.
    const target: Target = existsSync(join(model, 'sif.json')) ? { type: 'sif', dir: model } : { type: 'model', model };
    return { name, source: 'flag', created: started, target };
  }

  function storedEntry(s: StoredModel): Entry {
    return { name: s.name, source: 'database', created: s.created, target: s.kind === 'sif' ? { type: 'sif', dir: s.dir } : { type: 'model', model: s.dir } };
  }

  /** The stored model for `name`: by its served name, else by its folder (the name made file-safe). */
  function findStored(name: string, stored: readonly StoredModel[]): StoredModel | undefined {
    const dir = resolve(storedModelDir(dbDir, name));
    return stored.find((s) => s.name === name) ?? stored.find((s) => resolve(s.dir) === dir);
  }

  /** How a collection's bound spec opens, or why it cannot (docs/server.md, "Served encoders", 3). */
  function resolveSpec(spec: EncoderSpec, stored: readonly StoredModel[]): { target: Target } | { reason: string } {
    const d = typeof spec.dimensions === 'number' && spec.model.endsWith(`@${spec.dimensions}`) ? spec.dimensions : undefined;
    const base = d === undefined ? spec.model : spec.model.slice(0, -`@${d}`.length);
    const at = d === undefined ? {} : { dimensions: d };
    const flag = flags.get(base);
    if (flag !== undefined) return { target: { type: 'model', model: flag, ...at } };
    const s = findStored(base, stored);
    if (s !== undefined) {
      if (s.kind === 'sif') return d === undefined ? { target: { type: 'sif', dir: s.dir } } : { reason: `encoder "${spec.model}": the stored SIF model ${s.dir} has no Matryoshka dimensions` };
      return { target: { type: 'model', model: s.dir, ...at } };
    }
    const source = typeof spec.source === 'string' ? spec.source : undefined;
    if (source !== undefined && !source.startsWith('openai:')) {
      if (existsSync(source)) return { target: { type: 'model', model: resolve(source), ...at } };
      if (isHubId(source) && hubCached(source)) return { target: { type: 'model', model: source, ...at } };
    }
    if (isHubId(base) && hubCached(base)) return { target: { type: 'model', model: base, ...at } };
    const remote = base.startsWith('openai:') ? base : source?.startsWith('openai:') ? source : undefined;
    if (remote !== undefined) {
      if (allowNetwork) return { target: { type: 'model', model: remote, ...at, ...(typeof spec.baseURL === 'string' ? { baseURL: spec.baseURL } : {}) } };
      return { reason: `encoder "${spec.model}" is a remote API (${remote}); the server calls it only with --allow-network or --encoder ${spec.model}=${remote}` };
    }
    const tried = [`no --encoder ${base}=MODEL`, `no stored model ${storedModelDir(dbDir, base)}`];
    if (source !== undefined) tried.push(`its source ${source} does not exist`);
    else tried.push('no source path recorded in its spec');
    if (isHubId(base)) tried.push(`the hub id is not in the local cache (${hubModelFolder(base)})`);
    return { reason: `encoder "${spec.model}" cannot be opened: ${tried.join(', ')}` };
  }

  /** Every served name now, in the order of docs/server.md (the first source of a name wins). */
  function scan(): Map<string, Entry> {
    const entries = new Map<string, Entry>();
    for (const name of flags.keys()) entries.set(name, flagEntry(name)!);
    const stored = listStoredModels(dbDir);
    for (const s of stored) if (!entries.has(s.name)) entries.set(s.name, storedEntry(s));
    for (const c of db.listCollections()) {
      const spec = c.encoder;
      if (spec === null || entries.has(spec.model)) continue;
      const r = resolveSpec(spec, stored);
      if ('target' in r) {
        const created = Math.floor(Date.parse(c.created) / 1000);
        entries.set(spec.model, { name: spec.model, source: 'collection', created: Number.isFinite(created) ? created : started, target: r.target });
      }
    }
    known = entries;
    return entries;
  }

  function lookup(name: string): Entry {
    if (typeof name !== 'string' || name === '') throw invalidArgument(`model: expected the name of a served encoder, got ${describe(name)}`);
    const e = flagEntry(name) ?? known.get(name) ?? scan().get(name);
    if (e === undefined) {
      const names = [...known.keys()];
      throw new OmnivecError('not_found', `model: no served encoder is named ${JSON.stringify(name)}; ${names.length === 0 ? 'none are served' : `served: ${names.join(', ')}`}`);
    }
    return e;
  }

  async function openTarget(entry: Entry): Promise<Backend> {
    const t = entry.target;
    const t0 = performance.now();
    let b: Backend;
    if (t.type === 'sif') b = await openSif(t.dir);
    else if (t.model.startsWith('openai:')) b = await openRemote(t.model, t.baseURL, t.dimensions);
    else {
      const o: OpenEncoderOptions = {
        threads: options.threads, allowNetwork, name: entry.name,
        // A collection bound at `model@d` was made with those dimensions: open it the same way.
        ...(t.dimensions !== undefined ? { dimensions: t.dimensions, forceDimensions: true } : {}),
      };
      const key = targetKey(t);
      b = await WorkerBackend.open({ model: t.model, options: o }, () => { opened.delete(key); settled.delete(key); });
    }
    options.onOpen?.({ name: entry.name, kind: b.kind, dim: b.dim, ms: performance.now() - t0 });
    return b;
  }

  function open(entry: Entry): Promise<Backend> {
    if (closed) return Promise.reject(new OmnivecError('shutting_down', 'the encoder service is closed'));
    const key = targetKey(entry.target);
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
    const t = entry.target;
    // Where the model is, so a collection bound to this spec finds it after a restart without the flag.
    if (t.type === 'model' && spec.source === undefined) {
      spec.source = b instanceof WorkerBackend && existsSync(t.model) ? b.path : t.model;
    }
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

  function cut(vectors: Float32Array[], d: number | undefined, b: Backend): Float32Array[] {
    if (d === undefined || d === b.dim || b.kind === 'remote') return vectors;
    return vectors.map((v) => truncateVector(v, d, b.normalize));
  }

  return {
    async list() {
      const out: ServedEncoderInfo[] = [];
      for (const e of scan().values()) {
        const b = settled.get(targetKey(e.target));
        out.push({ name: e.name, source: e.source, created: e.created, ...(b !== undefined ? { kind: b.kind, dim: b.dim } : {}) });
      }
      return out;
    },

    async info(name) {
      const e = lookup(name);
      const b = await open(e);
      return { name: e.name, source: e.source, created: e.created, kind: b.kind, dim: b.dim, spec: specOf(e, b) };
    },

    async embedTexts(name, texts, o = {}) {
      const e = lookup(name);
      const input = validTexts(texts);
      const b = await open(e);
      if (b.texts === undefined) throw invalidArgument(`model: ${name} is an ${b.kind} encoder; it takes images, not texts`);
      const d = outputDims(e, b, o.dimensions);
      if (input.length === 0) return { vectors: [], tokens: 0 };
      const r = await b.texts(input, o.mode, d);
      // SIF refuses a text without a known word itself; any other encoder (a remote API, an ONNX
      // model, a Matryoshka cut) whose output is the zero vector is refused the same way here.
      return { vectors: refuseZeroVectors(cut(r.vectors, d, b), input), tokens: r.tokens };
    },

    async embedImages(name, images, o = {}) {
      const e = lookup(name);
      if (!Array.isArray(images)) throw invalidArgument(`images: expected an array of image file bytes, got ${describe(images)}`);
      images.forEach((x, i) => { if (!(x instanceof Uint8Array)) throw invalidArgument(`images[${i}]: expected the bytes of an image file, got ${describe(x)}`); });
      const b = await open(e);
      if (b.images === undefined) throw invalidArgument(`model: ${name} is a ${b.kind} encoder; it takes texts, not images`);
      const d = outputDims(e, b, o.dimensions);
      if (images.length === 0) return { vectors: [], tokens: 0 };
      const r = await b.images([...images]);
      return { vectors: cut(r.vectors, d, b), tokens: 0 };
    },

    async forCollection(c) {
      const spec = c.encoder;
      if (spec === null) return { name: undefined, reason: `collection ${c.name} has no bound encoder` };
      let e = flagEntry(spec.model) ?? known.get(spec.model);
      if (e === undefined) {
        const r = resolveSpec(spec, listStoredModels(dbDir));
        if ('reason' in r) return { name: undefined, reason: `collection ${c.name}: ${r.reason}` };
        e = { name: spec.model, source: 'collection', created: started, target: r.target };
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
