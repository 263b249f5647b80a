/**
 * The encoder registry: the one place that turns a model reference or a stored spec into an open
 * encoder of the contract (types.ts), whatever runs it — an ONNX text, image or CLIP folder, a
 * BGE-M3 folder, a SIF model, an OpenAI-compatible API. The CLI, the server and collections open
 * encoders only through here (docs/encoders.md, "The registry").
 *
 * Two steps, so that the server can find a model without opening it and open it in a worker
 * thread: `resolveReference` / `resolveSpec` say where a model is (a `ResolvedModel`: plain JSON),
 * `openResolved` opens it. `openModel` and `openEncoder` do both.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OmnivecError, describe, invalidArgument } from '../errors.js';
import type { MatryoshkaDecl } from './matryoshka.js';
import { locateModel } from './onnx/model-folder.js';
import { hubModelFolder, isHubId } from './onnx/hub.js';
import { createTextEncoder, type Pooling } from './onnx/text-encoder.js';
import { createImageEncoder, type ImagePooling } from './image/image-encoder.js';
import type { ImageSpec } from './image/preprocess.js';
import { createClip, type Clip } from './clip/clip.js';
import { createBgeM3, type BgeM3 } from './bge-m3/bge-m3.js';
import { createRemoteEncoder } from './remote/openai.js';
import { SIF_JSON, loadSif } from './sif/files.js';
import { listStoredModels, storedModelDir, type StoredModel } from './stored-models.js';
import type { AnyEncoder, Encoder, EncoderSpec, Encoding, Modality } from './types.js';

/** What a model is: decides which encoders it opens (CLIP: a text and an image one). */
export type ModelKind = 'text' | 'image' | 'clip' | 'bge-m3' | 'sif' | 'remote';

/** How encoders are opened: the same for every model of a run (a CLI command, a server). */
export interface EncoderContext {
  /** A database folder: its stored models (`DIR/models/<name>/`) are found by name. */
  dbDir?: string;
  /**
   * Download a hub model's missing files into the cache, and call the remote API a stored spec
   * names (default false: the cache only; a remote spec is refused). A reference the user types,
   * `openai:MODEL`, is the user's permission to call that API.
   */
  allowNetwork?: boolean;
  /** onnxruntime intra-op threads of each session (default: the number of cores). */
  threads?: number;
  /** Inputs per forward pass (per request for remote APIs). Default: each encoder's own. */
  batchSize?: number;
  /** Names that stand for model references, looked up first (the server's `--encoder NAME=MODEL`). */
  models?: Readonly<Record<string, string>>;
}

/** Choices of one model, beyond where it is: what a spec records, or what a command line gives. */
export interface ModelOptions {
  /** Open as this kind instead of detecting it from the folder. */
  kind?: ModelKind;
  /** The model name the specs record (default: the folder's name, the hub id, `sif:<fingerprint>`). */
  name?: string;
  dimensions?: number;
  forceDimensions?: boolean;
  batchSize?: number;
  /** Text: tokens per text, and what to do with a longer one (cut, reported; or refuse). */
  maxLength?: number;
  truncation?: 'truncate' | 'error';
  /** ONNX text and image encoders: the graph output, pooling and normalisation (a spec's choices). */
  output?: string;
  pooling?: Pooling | ImagePooling;
  normalize?: boolean;
  queryPrefix?: string;
  passagePrefix?: string;
  /** Image encoders: the preprocessing. */
  image?: Partial<ImageSpec>;
  /** Files a hub model must have (default config.json). */
  files?: readonly string[];
  /** `openai:MODEL`: the API's base URL (default $OPENAI_BASE_URL, else https://api.openai.com/v1). */
  baseURL?: string;
  /** `openai:MODEL`: the checkpoint file (docs/remote.md). */
  checkpoint?: string;
  /** `openai:MODEL`: the known output dimension (else learnt from the first response). */
  dim?: number;
}

/** Where a model is, found without opening it; plain JSON (it crosses into worker threads). */
export type ModelLocation =
  /** A SIF (or plain average) model folder. */
  | { type: 'sif'; dir: string }
  /** An ONNX model folder or .onnx file (an absolute path), or a hub id (opened from the cache). */
  | { type: 'onnx'; model: string }
  /** An OpenAI-compatible API: `openai:NAME`. */
  | { type: 'remote'; model: string };

export interface ResolvedModel {
  location: ModelLocation;
  options: ModelOptions;
  /** How it was found (for messages): a name of `models`, a path, a stored model, a spec's source, the hub cache, a remote API. */
  via: 'name' | 'path' | 'stored' | 'source' | 'hub' | 'remote';
}

/** An open model: its encoders (CLIP: one per tower, sharing a space), closed together. */
export interface OpenedModel {
  readonly kind: ModelKind;
  readonly text?: Encoder<'text'>;
  readonly image?: Encoder<'image'>;
  /** CLIP's towers, tokenizer and zero-shot (kind 'clip'). */
  readonly clip?: Clip;
  /** BGE-M3 with its three outputs (kind 'bge-m3'); `text` is its dense output. */
  readonly bgeM3?: BgeM3;
  /** Which `dimensions` the model declares Matryoshka training for (omnivec.json's `matryoshka`; remote APIs: any). */
  readonly matryoshka: MatryoshkaDecl;
  /** Where it was opened from: a folder's or file's absolute path, a hub id, `openai:NAME`; also the specs' `source`. */
  readonly source: string;
  close(): Promise<void>;
}

const REMOTE = 'openai:';

/**
 * The kind of an ONNX model folder: omnivec.json's `kind` (`bge-m3` opens as a text encoder: its
 * dense output through the ONNX text pipeline, unless a spec says `bge-m3`), else two tower graphs
 * → CLIP, `tokenizer.json` → text, otherwise image.
 */
export function detectKind(dir: string): 'text' | 'image' | 'clip' {
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

/** True when the hub id's files are in the local cache. */
export function hubCached(id: string): boolean {
  return existsSync(join(hubModelFolder(id), 'config.json'));
}

/** The stored model for `name` in `dbDir`: by its name, else by its folder (the name made file-safe). */
export function findStoredModel(dbDir: string, name: string, stored: readonly StoredModel[] = listStoredModels(dbDir)): StoredModel | undefined {
  const dir = resolve(storedModelDir(dbDir, name));
  return stored.find((s) => s.name === name) ?? stored.find((s) => resolve(s.dir) === dir);
}

function isSifFolder(path: string): boolean {
  return existsSync(join(path, SIF_JSON));
}

/**
 * Where a model reference leads: a name of `context.models`; `openai:MODEL`; an existing folder or
 * file (a SIF folder holds sif.json); a model stored in `context.dbDir`; otherwise a hub id (or a
 * path that does not exist), which `openResolved` reports or, with `allowNetwork`, downloads.
 */
export function resolveReference(ref: string, context: EncoderContext = {}, options: ModelOptions = {}): ResolvedModel {
  if (typeof ref !== 'string' || ref === '') throw invalidArgument(`model: expected a model folder, an .onnx file, a hub id or openai:MODEL, got ${describe(ref)}`);
  const named = context.models?.[ref];
  if (named !== undefined) return { ...resolveReference(named, { ...context, models: undefined }, { name: ref, ...options }), via: 'name' };
  if (ref.startsWith(REMOTE)) return { location: { type: 'remote', model: ref }, options, via: 'remote' };
  const path = resolve(ref);
  if (existsSync(path)) {
    return { location: statSync(path).isDirectory() && isSifFolder(path) ? { type: 'sif', dir: path } : { type: 'onnx', model: path }, options, via: 'path' };
  }
  const stored = context.dbDir === undefined ? undefined : findStoredModel(context.dbDir, ref);
  if (stored !== undefined) return fromStored(stored, options);
  return { location: { type: 'onnx', model: ref }, options, via: 'hub' };
}

function fromStored(s: StoredModel, options: ModelOptions): ResolvedModel {
  return { location: s.kind === 'sif' ? { type: 'sif', dir: s.dir } : { type: 'onnx', model: s.dir }, options, via: 'stored' };
}

/**
 * Refuses a reference that cannot be opened now (`not_found`: no such folder or file, or a hub id
 * not in the cache without `allowNetwork`), for checks before anything opens (the server's flags).
 */
export function checkReference(ref: string, context: EncoderContext = {}): void {
  const r = resolveReference(ref, context);
  if (r.via !== 'hub' || (isHubId(ref) && (context.allowNetwork === true || hubCached(ref)))) return;
  throw new OmnivecError('not_found', `${ref}: no such folder or file${isHubId(ref) ? `, and the hub id is not in the local cache (${hubModelFolder(ref)}); pass --allow-network to download it` : ''}`);
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The `@D` a spec's model name ends with when its vectors were cut to D Matryoshka dimensions. */
function specDimensions(spec: EncoderSpec): number | undefined {
  return typeof spec.dimensions === 'number' && spec.model.endsWith(`@${spec.dimensions}`) ? spec.dimensions : undefined;
}

/** The choices a spec records, as options to open the same encoder again. */
export function specOptions(spec: EncoderSpec): ModelOptions {
  const d = specDimensions(spec);
  const o: ModelOptions = { name: d === undefined ? spec.model : spec.model.slice(0, -`@${d}`.length) };
  // A spec `NAME@D` was made with those dimensions: open it the same way, declared or not.
  if (d !== undefined) Object.assign(o, { dimensions: d, forceDimensions: true });
  const kind = spec.kind;
  if (kind === 'text' || kind === 'image' || kind === 'clip' || kind === 'bge-m3' || kind === 'remote') o.kind = kind;
  if (kind === 'sif' || kind === 'average') o.kind = 'sif';
  if (kind === 'text') {
    Object.assign(o, {
      ...(str(spec.pooling) !== undefined ? { pooling: spec.pooling } : {}),
      ...(typeof spec.normalize === 'boolean' ? { normalize: spec.normalize } : {}),
      ...(typeof spec.maxLength === 'number' ? { maxLength: spec.maxLength } : {}),
      ...(str(spec.output) !== undefined ? { output: spec.output } : {}),
      ...(str(spec.queryPrefix) !== undefined ? { queryPrefix: spec.queryPrefix } : {}),
      ...(str(spec.passagePrefix) !== undefined ? { passagePrefix: spec.passagePrefix } : {}),
    });
  } else if (kind === 'image') {
    Object.assign(o, {
      ...(spec.image !== null && typeof spec.image === 'object' ? { image: spec.image } : {}),
      ...(str(spec.output) !== undefined ? { output: spec.output } : {}),
      ...(str(spec.pooling) !== undefined ? { pooling: spec.pooling } : {}),
      ...(typeof spec.normalize === 'boolean' ? { normalize: spec.normalize } : {}),
    });
  } else if (kind === 'bge-m3' && typeof spec.maxLength === 'number') {
    o.maxLength = spec.maxLength;
  }
  if (typeof spec.baseURL === 'string') o.baseURL = spec.baseURL;
  if (kind === 'remote') {
    if (typeof spec.dimensions === 'number') o.dimensions = spec.dimensions;
    if (typeof spec.dim === 'number') o.dim = spec.dim;
  }
  return o;
}

/**
 * Where a stored spec's model is (docs/server.md, "Served encoders", 3), tried in order: a name of
 * `context.models`, a model stored in `context.dbDir` (by name or file-safe folder), the spec's
 * `source` (a path that exists, or a cached hub id), the model name as a cached hub id, and a
 * remote `openai:` model (only with `allowNetwork`). `{ reason }` says what was tried when none
 * works.
 */
export function resolveSpec(spec: EncoderSpec, context: EncoderContext = {}, stored?: readonly StoredModel[]): ResolvedModel | { reason: string } {
  if (spec === null || typeof spec !== 'object' || typeof spec.model !== 'string' || spec.model === '') {
    throw invalidArgument(`encoder: expected a spec { model, dim, … }, got ${describe(spec)}`);
  }
  const options = specOptions(spec);
  const base = options.name!;
  const named = context.models?.[base];
  if (named !== undefined) return { ...resolveReference(named, { ...context, models: undefined }, options), via: 'name' };
  const s = context.dbDir === undefined ? undefined : findStoredModel(context.dbDir, base, stored);
  if (s !== undefined) {
    if (s.kind === 'sif' && options.dimensions !== undefined) return { reason: `encoder "${spec.model}": the stored SIF model ${s.dir} has no Matryoshka dimensions` };
    return fromStored(s, options);
  }
  const source = str(spec.source);
  if (source !== undefined && !source.startsWith(REMOTE)) {
    if (existsSync(source)) {
      const path = resolve(source);
      return { location: statSync(path).isDirectory() && isSifFolder(path) ? { type: 'sif', dir: path } : { type: 'onnx', model: path }, options, via: 'source' };
    }
    if (isHubId(source) && hubCached(source)) return { location: { type: 'onnx', model: source }, options, via: 'source' };
  }
  if (isHubId(base) && hubCached(base)) return { location: { type: 'onnx', model: base }, options, via: 'hub' };
  const remote = base.startsWith(REMOTE) ? base : source?.startsWith(REMOTE) ? source : undefined;
  if (remote !== undefined) {
    if (context.allowNetwork === true) return { location: { type: 'remote', model: remote }, options, via: 'remote' };
    return { reason: `encoder "${spec.model}" is a remote API (${remote}); the server calls it only with --allow-network or --encoder ${spec.model}=${remote}` };
  }
  const tried = [`no --encoder ${base}=MODEL`, context.dbDir === undefined ? 'no database folder to look for a stored model in' : `no stored model ${storedModelDir(context.dbDir, base)}`];
  tried.push(source !== undefined ? `its source ${source} does not exist` : 'no source path recorded in its spec');
  if (isHubId(base)) tried.push(`the hub id is not in the local cache (${hubModelFolder(base)})`);
  return { reason: `encoder "${spec.model}" cannot be opened: ${tried.join(', ')}` };
}

/** omnivec.json's `matryoshka` of a model folder. */
function matryoshkaOf(path: string): MatryoshkaDecl {
  const file = join(path, 'omnivec.json');
  if (!statSync(path).isDirectory() || !existsSync(file)) return undefined;
  const m = (JSON.parse(readFileSync(file, 'utf8')) as { matryoshka?: unknown }).matryoshka;
  return m === true || (Array.isArray(m) && m.every((x) => Number.isInteger(x))) ? m as MatryoshkaDecl : undefined;
}

/** Opens what `resolveReference` / `resolveSpec` found. */
export async function openResolved(r: ResolvedModel, context: EncoderContext = {}): Promise<OpenedModel> {
  const o = r.options;
  const loc = r.location;
  const batchSize = o.batchSize ?? context.batchSize;
  if (loc.type === 'sif') {
    const model = await loadSif(loc.dir);
    const enc = model.asEncoder(o.name, { source: loc.dir });
    return { kind: 'sif', text: enc, matryoshka: undefined, source: loc.dir, close: () => enc.close() };
  }
  if (loc.type === 'remote') {
    const remote = createRemoteEncoder({
      baseURL: o.baseURL ?? process.env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1', model: loc.model.slice(REMOTE.length),
      dimensions: o.dimensions, checkpoint: o.checkpoint, dim: o.dim, ...(batchSize !== undefined ? { maxBatch: batchSize } : {}),
    });
    return { kind: 'remote', text: remote, matryoshka: true, source: loc.model, close: () => remote.close() };
  }
  const located = await locateModel(loc.model, { allowNetwork: context.allowNetwork, ...(o.files !== undefined ? { files: o.files } : {}) });
  const path = located.path;
  // A hub model is found again by its id (the cache folder is an implementation detail).
  const source = existsSync(resolve(loc.model)) ? path : loc.model;
  const name = o.name ?? located.name;
  const kind: ModelKind = o.kind ?? (path.endsWith('.onnx') ? 'image' : detectKind(path));
  const common = { threads: context.threads, batchSize, dimensions: o.dimensions, forceDimensions: o.forceDimensions, name, source };
  const matryoshka = matryoshkaOf(path);
  if (kind === 'text') {
    const text = await createTextEncoder(path, {
      ...common, maxLength: o.maxLength, truncation: o.truncation, output: o.output, pooling: o.pooling as Pooling | undefined, normalize: o.normalize,
      queryPrefix: o.queryPrefix, passagePrefix: o.passagePrefix,
    });
    return { kind, text, matryoshka, source, close: () => text.close() };
  }
  if (kind === 'bge-m3') {
    const m3 = await createBgeM3(path, { ...common, maxLength: o.maxLength });
    const text = m3.asEncoder();
    return { kind, text, bgeM3: m3, matryoshka, source, close: () => m3.close() };
  }
  if (kind === 'clip') {
    const clip = await createClip(path, common);
    return { kind, text: clip.text, image: clip.image, clip, matryoshka, source, close: () => clip.close() };
  }
  if (kind !== 'image') throw invalidArgument(`kind: ${path} is an ONNX model; expected text, image, clip or bge-m3, got ${describe(kind)}`);
  const image = await createImageEncoder(path, { ...common, output: o.output, pooling: o.pooling as ImagePooling | undefined, normalize: o.normalize, spec: o.image });
  return { kind, image, matryoshka, source, close: () => image.close() };
}

/**
 * Opens a model reference (a folder, an .onnx file, a SIF folder, a hub id, `openai:MODEL`, a
 * stored model's name) or a stored spec, with all its encoders (CLIP: both towers).
 */
export async function openModel(ref: string | EncoderSpec, context: EncoderContext = {}, options: ModelOptions = {}): Promise<OpenedModel> {
  const r = typeof ref === 'string' ? resolveReference(ref, context, options) : resolveSpec(ref, context);
  if ('reason' in r) throw new OmnivecError('not_found', r.reason);
  if (typeof ref !== 'string') r.options = { ...r.options, ...options };
  return openResolved(r, context);
}

/**
 * The encoder a spec (or a model reference) stands for, open: what a collection calls to encode
 * text or image queries with its bound encoder — `openEncoder(collection.encoder, { dbDir,
 * allowNetwork, modality: 'text' })`. `modality` picks the tower of a CLIP model (default: the
 * spec's `tower`, else what the model takes: text when it takes text). A model that does not take
 * `modality` is refused (`invalid_argument`); one whose dimension is not the spec's `dim`,
 * `dimension_mismatch`. Closing the encoder closes the model.
 */
export async function openEncoder(spec: EncoderSpec | string, context: EncoderContext & { modality?: Modality } = {}, options: ModelOptions = {}): Promise<AnyEncoder> {
  const m = await openModel(spec, context, options);
  const name = typeof spec === 'string' ? spec : spec.model;
  const tower = typeof spec === 'string' ? undefined : spec.tower === 'text' || spec.tower === 'image' ? spec.tower : undefined;
  const modality = context.modality ?? tower ?? (m.text !== undefined ? 'text' : 'image');
  const enc: AnyEncoder | undefined = modality === 'text' ? m.text : m.image;
  try {
    if (enc === undefined) {
      throw invalidArgument(`encoder "${name}" is ${m.kind === 'image' ? 'an image' : `a ${m.kind}`} encoder; it takes ${modality === 'text' ? 'images, not texts' : 'texts, not images'}`);
    }
    const dim = typeof spec === 'string' ? undefined : spec.dim;
    // A remote API learns its dimension from its first response; `dim` was passed to it then.
    if (typeof dim === 'number' && m.kind !== 'remote' && enc.dim !== dim) {
      throw new OmnivecError('dimension_mismatch', `encoder "${name}" gives ${enc.dim}-d vectors, its spec says ${dim}-d`, { expected: dim, actual: enc.dim });
    }
  } catch (e) {
    await m.close();
    throw e;
  }
  // Every encoder's close closes its whole model (CLIP: the other tower shares its sessions).
  return enc;
}

/** Text encoders for stored specs, each opened once: what a database encodes text queries with. */
export interface SpecEncoders {
  /**
   * The vectors of query texts (the model's query prefix) through the encoder `spec` stands for,
   * opened by {@link openEncoder} (modality text) on first use and kept open; a spec that cannot be
   * opened is tried again on the next call.
   */
  encodeText(spec: EncoderSpec, texts: string[]): Promise<Encoding>;
  /** Closes every encoder opened. */
  close(): Promise<void>;
}

/**
 * Encoders for collections' stored specs: `openDatabase(dir, { encodeText: encoders.encodeText })`
 * makes `collection.query({ text })` encode through the collection's bound encoder.
 */
export function specEncoders(context: EncoderContext = {}): SpecEncoders {
  const open = new Map<string, Promise<AnyEncoder>>();
  return {
    async encodeText(spec, texts) {
      const key = JSON.stringify(spec);
      let p = open.get(key);
      if (p === undefined) {
        p = openEncoder(spec, { ...context, modality: 'text' });
        open.set(key, p);
        p.catch(() => { if (open.get(key) === p) open.delete(key); });
      }
      return (await p as Encoder<'text'>).encode(texts, { mode: 'query' });
    },
    async close() {
      const all = [...open.values()];
      open.clear();
      await Promise.all(all.map((p) => p.then((e) => e.close(), () => undefined)));
    },
  };
}
