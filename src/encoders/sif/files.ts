/**
 * A SIF model on disk: a folder with
 *
 * - `sif.json`: the model's JSON (`SifModel.toJSON()`: kind, a, tokenizer spec, normalizeWords,
 *   components, fit statistics), its `fingerprint` and `files` (where the rest is);
 * - `weights.f32`: the word weights a / (a + p(w)), little-endian float32, one per vocabulary row
 *   in the vector file's order (SIF only; the plain average has none);
 * - the word vectors: by default a copy, `vectors.bin` (word2vec binary, exact float32, readable
 *   by gensim) and `counts.txt` (`word count` a line, when the vectors have counts); or, saved with
 *   `{vectors: {path}}`, a reference to the file the vectors came from (no copy).
 *
 * Loading checks that the vectors found are the ones the model was fitted with (the fingerprint
 * hashes the vocabulary, the vectors, the weights and the settings), so a referenced file that has
 * changed since is refused (`corrupt_file`) instead of silently giving other vectors.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { OmnivecError, describe, invalidArgument } from '../../errors.js';
import { writeFileAtomic } from '../../storage/atomic.js';
import { decodeFloat32LE, encodeFloat32LE } from '../../io/vecs.js';
import { loadWordVectors, saveWordVectors, type WordVectorFormat } from '../word2vec/files.js';
import type { KeyedVectors } from '../word2vec/keyed-vectors.js';
import { SifModel, checkSifJson, type SifJson } from './sif.js';

export const SIF_JSON = 'sif.json';
const WEIGHTS = 'weights.f32';
const VECTORS = 'vectors.bin';
const COUNTS = 'counts.txt';

/** Where a saved model's vectors and weights are (the `files` entry of sif.json). */
export interface SifFiles {
  /** The word vector file: a name inside the folder (a copy) or an absolute path (a reference). */
  vectors: string;
  vectorsFormat: WordVectorFormat;
  /** The counts file inside the folder, or null. */
  counts: string | null;
  /** The weights file inside the folder, or null (plain average). */
  weights: string | null;
}

export interface SifFolderJson extends SifJson {
  fingerprint: string;
  files: SifFiles;
}

export interface SaveSifOptions {
  /**
   * 'copy' (default): write the vectors into the folder. `{path, format?}`: refer to the file the
   * model's vectors were loaded from instead (stored as an absolute path; checked on load).
   */
  vectors?: 'copy' | { path: string; format?: WordVectorFormat };
}

/** Writes a model folder (created if needed; an existing model there is replaced). */
export async function saveSif(model: SifModel, dir: string, options: SaveSifOptions = {}): Promise<void> {
  if (!(model instanceof SifModel)) throw invalidArgument(`model: expected a SifModel, got ${describe(model)}`);
  if (typeof dir !== 'string' || dir === '') throw invalidArgument(`dir: expected a folder name, got ${describe(dir)}`);
  const vectors = options.vectors ?? 'copy';
  if (vectors !== 'copy' && (vectors === null || typeof vectors !== 'object' || typeof vectors.path !== 'string' || vectors.path === '')) {
    throw invalidArgument(`vectors: expected "copy" or {path: the vector file the model's vectors came from}, got ${describe(vectors)}`);
  }
  await mkdir(dir, { recursive: true });
  const kv = model.kv;
  let files: SifFiles;
  if (vectors === 'copy') {
    await saveWordVectors(kv, join(dir, VECTORS), { format: 'word2vec-binary', counts: kv.counts !== null ? join(dir, COUNTS) : undefined });
    files = { vectors: VECTORS, vectorsFormat: 'word2vec-binary', counts: kv.counts !== null ? COUNTS : null, weights: null };
  } else {
    const path = resolve(vectors.path);
    try {
      await stat(path);
    } catch {
      throw new OmnivecError('not_found', `vectors.path: expected the word vector file the model's vectors came from, got ${path}, which does not exist`, { path });
    }
    files = { vectors: path, vectorsFormat: vectors.format ?? 'word2vec', counts: null, weights: null };
  }
  if (model.weights !== null) {
    await writeFileAtomic(join(dir, WEIGHTS), [encodeFloat32LE(model.weights)]);
    files.weights = WEIGHTS;
  }
  const json: SifFolderJson = { ...model.toJSON(), fingerprint: model.fingerprint(), files };
  await writeFileAtomic(join(dir, SIF_JSON), [Buffer.from(JSON.stringify(json, null, 2) + '\n', 'utf8')]);
}

function corrupt(path: string, expected: string, got: string): OmnivecError {
  return new OmnivecError('corrupt_file', `${path}: expected ${expected}, got ${got}`, { path });
}

/** Reads and checks a folder's sif.json. */
export async function readSifJson(dir: string): Promise<SifFolderJson> {
  const path = join(dir, SIF_JSON);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new OmnivecError('not_found', `${dir}: expected a SIF model folder with ${SIF_JSON}, got no ${SIF_JSON}`, { path });
    }
    throw e;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw corrupt(path, 'JSON', `a parse error (${(e as Error).message})`);
  }
  try {
    checkSifJson(raw);
  } catch (e) {
    if (e instanceof OmnivecError && e.code === 'invalid_argument') throw corrupt(path, 'a SIF model', e.message);
    throw e;
  }
  const j = raw as SifFolderJson;
  const f = j.files as unknown as Record<string, unknown> | undefined;
  if (f === null || typeof f !== 'object' || typeof f.vectors !== 'string' || typeof f.vectorsFormat !== 'string' ||
    (f.weights !== null && typeof f.weights !== 'string') || (f.counts !== null && typeof f.counts !== 'string')) {
    throw corrupt(path, 'files: {vectors, vectorsFormat, counts, weights}', describe(f));
  }
  if (typeof j.fingerprint !== 'string') throw corrupt(path, 'a fingerprint string', describe(j.fingerprint));
  return j;
}

/** Where the folder's vector file is (a copy inside it, or the referenced absolute path). */
export function sifVectorsPath(dir: string, json: SifFolderJson): string {
  return isAbsolute(json.files.vectors) ? json.files.vectors : join(dir, json.files.vectors);
}

/**
 * Loads a model folder written by {@link saveSif}. `kv` may be given when the caller already holds
 * the model's word vectors (they are checked by fingerprint like the file would be).
 */
export async function loadSif(dir: string, options: { kv?: KeyedVectors } = {}): Promise<SifModel> {
  if (typeof dir !== 'string' || dir === '') throw invalidArgument(`dir: expected a folder name, got ${describe(dir)}`);
  const json = await readSifJson(dir);
  const vectorsPath = sifVectorsPath(dir, json);
  const kv = options.kv ?? await loadWordVectors(vectorsPath, {
    format: json.files.vectorsFormat,
    counts: json.files.counts === null ? undefined : join(dir, json.files.counts),
  });
  let weights: Float32Array | null = null;
  if (json.files.weights !== null) {
    const wpath = join(dir, json.files.weights);
    let bytes: Buffer;
    try {
      bytes = await readFile(wpath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new OmnivecError('not_found', `${wpath}: expected the SIF word weights, got no such file`, { path: wpath });
      throw e;
    }
    if (bytes.length !== json.vocabSize * 4) {
      throw corrupt(wpath, `${json.vocabSize} float32 weights (${json.vocabSize * 4} bytes, one per word)`, `${bytes.length} bytes`);
    }
    weights = decodeFloat32LE(bytes, json.vocabSize);
  } else if (json.kind === 'sif') {
    throw corrupt(join(dir, SIF_JSON), 'files.weights for a SIF model', 'null');
  }
  let model: SifModel;
  try {
    model = SifModel.fromJSON(json, kv, weights);
  } catch (e) {
    if (e instanceof OmnivecError && (e.code === 'dimension_mismatch' || e.code === 'invalid_argument')) {
      throw corrupt(vectorsPath, 'the word vectors the model was fitted with', e.message);
    }
    throw e;
  }
  if (model.fingerprint() !== json.fingerprint) {
    throw corrupt(vectorsPath, `the word vectors the model was fitted with (fingerprint ${json.fingerprint})`,
      `vectors with fingerprint ${model.fingerprint()}: the file changed since the model was saved`);
  }
  return model;
}

/**
 * The lines of a text file (`.gz` decompressed on the way), `\r\n` tolerated, empty lines kept
 * (a sentence without words is counted and encoded as zero). `not_found` for a missing file.
 */
export async function* readTextLines(path: string): AsyncGenerator<string> {
  if (typeof path !== 'string' || path === '') throw invalidArgument(`path: expected a file name, got ${describe(path)}`);
  try {
    await stat(path);
  } catch {
    throw new OmnivecError('not_found', `${path}: expected a text file, got no such file`, { path });
  }
  const file = createReadStream(path);
  const input = path.toLowerCase().endsWith('.gz') ? file.pipe(createGunzip()) : file;
  file.on('error', (e) => input.destroy(e));
  const rl = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of rl) yield line;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('Z_')) {
      throw new OmnivecError('corrupt_file', `${path}: expected gzip data, got ${(e as Error).message}`, { path });
    }
    throw e;
  } finally {
    rl.close();
    file.destroy();
  }
}
