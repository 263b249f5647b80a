/**
 * The STS Benchmark (Cer et al., SemEval-2017 task 1): English sentence pairs scored 0 … 5 by
 * people. An encoder is judged by the correlation between the cosine of its two sentence vectors
 * and the gold score over the pairs of a split (Spearman's ρ is the headline figure).
 *
 * File format (sts-train.csv, sts-dev.csv, sts-test.csv of the original release): UTF-8,
 * TAB-separated, no header, no quoting (sentences contain `"`): genre, file, year, id, score,
 * sentence 1, sentence 2, and on some rows two more source columns (7 or 9 columns).
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OmnivecError, describe, invalidArgument } from '../../errors.js';
import { pearson, spearman } from './correlation.js';
import { SifEncoder, SifModel } from './sif.js';
import { batchRows } from '../common.js';
import type { VectorBatch } from '../../vector/batch.js';

/** The pairs of one STS file. */
export interface StsPairs {
  path: string;
  genres: string[];
  sentences1: string[];
  sentences2: string[];
  /** Gold similarity, 0 … 5. */
  scores: Float64Array;
}

export type StsSplit = 'train' | 'dev' | 'test';
export const STS_SPLITS: readonly StsSplit[] = ['train', 'dev', 'test'];

/** The file of a split: `dataDirOrFile` itself when it is a file, else `<dir>/sts-<split>.csv`. */
export async function stsFile(dataDirOrFile: string, split: StsSplit = 'test'): Promise<string> {
  if (!STS_SPLITS.includes(split)) throw invalidArgument(`split: expected one of ${STS_SPLITS.join(', ')}, got ${describe(split)}`);
  let s;
  try {
    s = await stat(dataDirOrFile);
  } catch {
    throw new OmnivecError('not_found', `${dataDirOrFile}: expected an STS-B directory or file, got no such file or directory`, { path: dataDirOrFile });
  }
  return s.isDirectory() ? join(dataDirOrFile, `sts-${split}.csv`) : dataDirOrFile;
}

function corrupt(path: string, line: number, expected: string, got: string): OmnivecError {
  return new OmnivecError('corrupt_file', `${path}: line ${line}: expected ${expected}, got ${got}`, { path, line });
}

/** Reads one STS-B file (see the module comment for the format). */
export async function readSts(path: string): Promise<StsPairs> {
  if (typeof path !== 'string' || path === '') throw invalidArgument(`path: expected a file name, got ${describe(path)}`);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new OmnivecError('not_found', `${path}: expected an STS-B file, got no such file`, { path });
    throw e;
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const genres: string[] = [];
  const sentences1: string[] = [];
  const sentences2: string[] = [];
  const scores: number[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') continue;
    const f = line.split('\t');
    if (f.length !== 7 && f.length !== 9) {
      throw corrupt(path, i + 1, '7 or 9 TAB-separated columns (genre, file, year, id, score, sentence 1, sentence 2[, source 1, source 2])', `${f.length}`);
    }
    const score = Number(f[4]);
    if (f[4]!.trim() === '' || !Number.isFinite(score) || score < 0 || score > 5) {
      throw corrupt(path, i + 1, 'a score from 0 to 5 in column 5', JSON.stringify(f[4]));
    }
    genres.push(f[0]!);
    scores.push(score);
    sentences1.push(f[5]!);
    sentences2.push(f[6]!);
  }
  if (scores.length === 0) throw corrupt(path, 1, 'at least one sentence pair', 'an empty file');
  return { path, genres, sentences1, sentences2, scores: Float64Array.from(scores) };
}

/** Every sentence of the given splits that exist in `dir` (both sides of each pair), in file order. */
export async function readStsSentences(dir: string, splits: readonly StsSplit[] = STS_SPLITS): Promise<string[]> {
  const out: string[] = [];
  for (const split of splits) {
    const p = await readSts(await stsFile(dir, split));
    for (let i = 0; i < p.scores.length; i++) out.push(p.sentences1[i]!, p.sentences2[i]!);
  }
  return out;
}

/** Result of {@link evaluateSts}. */
export interface StsResult {
  pairs: number;
  /** Spearman's ρ and Pearson's r of cosine vs gold. */
  spearman: number;
  pearson: number;
  /** Pairs where a sentence got the zero vector (no known word): cosine taken as 0. */
  zeroPairs: number;
}

/** Vectors of texts: one array per text, or one batch (an encoder's `Encoding`). */
type Vectors = Float32Array[] | VectorBatch;
/** Something that encodes texts: a function, or an object with `encode` (SifModel, any encoder of the contract). */
export type EncodeFn = (texts: string[]) => Vectors | Promise<Vectors>;
export type Encodes = EncodeFn | { encode(texts: string[]): Vectors | Promise<Vectors> };

const asRows = (v: Vectors): Float32Array[] | unknown => (!Array.isArray(v) && v !== null && typeof v === 'object' && v.data instanceof Float32Array ? batchRows(v) : v);

/** Cosine of two vectors in float64; 0 when either is zero (flagged by `zero`). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): { cos: number; zero: boolean } {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  if (aa === 0 || bb === 0) return { cos: 0, zero: true };
  return { cos: ab / Math.sqrt(aa * bb), zero: false };
}

/**
 * Encodes both sides of every pair of an STS file (a path, or pairs already read) and correlates
 * their cosine with the gold scores.
 */
export async function evaluateSts(encoder: Encodes, source: string | StsPairs): Promise<StsResult> {
  // A SIF model's texts without a known word count as zero pairs here rather than being refused.
  const sif = encoder instanceof SifModel ? encoder : encoder instanceof SifEncoder ? encoder.model : undefined;
  const encode: EncodeFn = sif !== undefined ? (t) => sif.encode(t, { allowEmpty: true })
    : typeof encoder === 'function' ? encoder
    : encoder !== null && typeof encoder === 'object' && typeof encoder.encode === 'function' ? (t) => encoder.encode(t)
      : (() => { throw invalidArgument(`encoder: expected a function or an object with encode(texts), got ${describe(encoder)}`); })();
  const pairs = typeof source === 'string' ? await readSts(source) : source;
  const n = pairs.scores.length;
  const v1 = asRows(await encode(pairs.sentences1)) as Float32Array[];
  const v2 = asRows(await encode(pairs.sentences2)) as Float32Array[];
  if (!Array.isArray(v1) || v1.length !== n || !Array.isArray(v2) || v2.length !== n) {
    throw new OmnivecError('encoder_error', `encoder: expected ${n} vectors per side, got ${Array.isArray(v1) ? v1.length : describe(v1)} and ${Array.isArray(v2) ? v2.length : describe(v2)}`);
  }
  const cos = new Float64Array(n);
  let zeroPairs = 0;
  for (let i = 0; i < n; i++) {
    if (v1[i]!.length !== v2[i]!.length) {
      throw new OmnivecError('dimension_mismatch', `encoder: pair ${i}: expected vectors of one dimension, got ${v1[i]!.length} and ${v2[i]!.length}`);
    }
    const c = cosine(v1[i]!, v2[i]!);
    cos[i] = c.cos;
    if (c.zero) zeroPairs++;
  }
  return { pairs: n, spearman: spearman(cos, pairs.scores), pearson: pearson(cos, pairs.scores), zeroPairs };
}
