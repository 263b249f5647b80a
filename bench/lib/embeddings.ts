/**
 * Embedding-like datasets of the ANN benchmark (issue 16), both unit-normalised (cosine, run as L2
 * on unit vectors: the same ranking) and kept as .fvecs in the persistent bench cache:
 *
 * - `embed1024-*`: synthetic 1024-d "sentence embeddings" — a seeded Gaussian topic mixture with a
 *   power-law eigen-spectrum, mixed by a random orthogonal transform, plus a mean direction shared
 *   by every vector (the anisotropy of real embedding models), then normalised;
 * - `words`: word vectors trained by omnivec's Word2Vec on the WordNet glosses, every word of the
 *   vocabulary, queries held out from it.
 *
 * docs/benchmarks.md ("Issue 16 targets") says exactly how each is made.
 */
import { createReadStream, existsSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { trainWord2Vec } from '../../src/encoders/word2vec/trainer.js';
import { Random } from '../../src/vector/random.js';
import { benchCacheDir, writeFvecs } from './cache.js';
import { DatasetError, readFvecs, type BenchDataset } from './datasets.js';
import { log } from './measure.js';

function normaliseRows(data: Float32Array, dim: number): void {
  for (let o = 0; o < data.length; o += dim) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += data[o + j]! * data[o + j]!;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < dim; j++) data[o + j]! *= inv;
  }
}

/** Loads base and queries from the cache, or makes them with `make` and caches them. */
function cached(stem: string, dim: number, make: () => { base: Float32Array; queries: Float32Array }): { base: Float32Array; queries: Float32Array; fromCache: boolean } {
  const dir = benchCacheDir();
  const bPath = join(dir, `${stem}-base.fvecs`);
  const qPath = join(dir, `${stem}-queries.fvecs`);
  if (existsSync(bPath) && existsSync(qPath)) {
    const b = readFvecs(bPath, stem);
    const q = readFvecs(qPath, stem);
    if (b.dim === dim && q.dim === dim) return { base: b.data, queries: q.data, fromCache: true };
  }
  const made = make();
  writeFvecs(bPath, made.base, dim);
  writeFvecs(qPath, made.queries, dim);
  return { ...made, fromCache: false };
}

// ---------------------------------------------------------------------------------------------
// Synthetic 1024-d sentence embeddings

export const EMBED = {
  dim: 1024, topics: 1000, alpha: 1, within: 0.8, meanCosine: 0.35, seed: 20261207, queries: 1000,
} as const;

/** In-place fast Walsh–Hadamard transform of a power-of-two-length row, scaled to be orthonormal. */
function fwht(x: Float64Array): void {
  const n = x.length;
  for (let h = 1; h < n; h *= 2) {
    for (let i = 0; i < n; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        const a = x[j]!;
        const b = x[j + h]!;
        x[j] = a + b;
        x[j + h] = a - b;
      }
    }
  }
  const s = 1 / Math.sqrt(n);
  for (let i = 0; i < n; i++) x[i]! *= s;
}

/**
 * n + nq unit vectors in `dim` (a power of two) dimensions. Per vector: a topic t drawn uniformly
 * from `topics`; y_j = σ_j · (c_tj + within · z_j) with c_t ~ N(0, I) the topic's centre, z ~ N(0, I),
 * σ_j² = (j + 1)^−alpha (a power-law eigen-spectrum, as measured on real sentence-embedding
 * models); then x = R·y + a·u, R the orthogonal transform H·D₂·P·H·D₁ (D random signs, P a random
 * permutation, H the orthonormal Walsh–Hadamard matrix: every axis mixed into every coordinate),
 * u a random unit vector shared by all (the common mean direction of real embeddings), a chosen
 * so that two vectors of different topics have cosine ≈ meanCosine; finally x / |x|.
 */
export function syntheticEmbeddings(name: string, n: number, nq: number = EMBED.queries, dim: number = EMBED.dim, seed: number = EMBED.seed): BenchDataset {
  if ((dim & (dim - 1)) !== 0) throw new DatasetError(`${name}: dimension ${dim} must be a power of two`);
  const made = cached(`${name}-s${seed}`, dim, () => {
    log(`[${name}] generating ${n.toLocaleString('en-US')} + ${nq} synthetic ${dim}-d embeddings (cached afterwards)…`);
    const rng = new Random(seed);
    const sigma = new Float64Array(dim);
    let energy = 0;
    for (let j = 0; j < dim; j++) {
      sigma[j] = Math.pow(j + 1, -EMBED.alpha / 2);
      energy += sigma[j]! * sigma[j]! * (1 + EMBED.within * EMBED.within);
    }
    const a = Math.sqrt((EMBED.meanCosine / (1 - EMBED.meanCosine)) * energy);
    const signs1 = new Float64Array(dim);
    const signs2 = new Float64Array(dim);
    for (let j = 0; j < dim; j++) {
      signs1[j] = rng.next() < 0.5 ? -1 : 1;
      signs2[j] = rng.next() < 0.5 ? -1 : 1;
    }
    const perm = Uint32Array.from({ length: dim }, (_, i) => i);
    for (let i = dim - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = perm[i]!;
      perm[i] = perm[j]!;
      perm[j] = t;
    }
    const u = new Float64Array(dim);
    let un = 0;
    for (let j = 0; j < dim; j++) {
      u[j] = rng.gaussian();
      un += u[j]! * u[j]!;
    }
    for (let j = 0; j < dim; j++) u[j]! /= Math.sqrt(un);
    const centres = new Float32Array(EMBED.topics * dim);
    for (let i = 0; i < centres.length; i++) centres[i] = rng.gaussian();
    const y = new Float64Array(dim);
    const t2 = new Float64Array(dim);
    const make = (count: number): Float32Array => {
      const out = new Float32Array(count * dim);
      for (let i = 0; i < count; i++) {
        const c = rng.int(EMBED.topics) * dim;
        for (let j = 0; j < dim; j++) y[j] = sigma[j]! * (centres[c + j]! + EMBED.within * rng.gaussian()) * signs1[j]!;
        fwht(y);
        for (let j = 0; j < dim; j++) t2[j] = y[perm[j]!]! * signs2[j]!;
        fwht(t2);
        const o = i * dim;
        for (let j = 0; j < dim; j++) out[o + j] = t2[j]! + a * u[j]!;
      }
      normaliseRows(out, dim);
      return out;
    };
    return { base: make(n), queries: make(nq) };
  });
  return {
    name,
    description: `synthetic ${dim}-d embeddings: ${n.toLocaleString('en-US')} + ${nq} queries, ${EMBED.topics} Gaussian topics, ` +
      `spectrum σ_j² = (j+1)^−${EMBED.alpha}, Walsh–Hadamard rotation, shared mean direction (cosine ≈ ${EMBED.meanCosine} between topics), ` +
      `unit-normalised (cosine as L2), seed ${seed}${made.fromCache ? ', from the bench cache' : ''}`,
    dim,
    metric: 'l2',
    base: { data: made.base, dim, count: n },
    queries: { data: made.queries, dim, count: nq },
  };
}

// ---------------------------------------------------------------------------------------------
// Word vectors trained on the WordNet glosses

export const WORDS = { dim: 100, minCount: 1, epochs: 5, window: 5, negative: 5, seed: 1, queries: 1000, querySeed: 7 } as const;

/** The glosses as both word2vec benches read them: lower-cased, ASCII punctuation → spaces, empty lines dropped. */
async function prepareGlosses(dataDir: string): Promise<string> {
  const src = join(dataDir, 'text-en-wordnet-glosses', 'wordnet-glosses.txt.gz');
  if (!existsSync(src)) throw new DatasetError(`words: ${src} not found (pass --data DIR, or leave the set out with --only)`);
  const out = join(benchCacheDir(), 'wordnet-glosses.txt');
  if (existsSync(out)) return out;
  const lines: string[] = [];
  const rl = createInterface({ input: createReadStream(src).pipe(createGunzip()), crlfDelay: Infinity });
  for await (const line of rl) {
    const t = line.toLowerCase().replace(/[!-/:-@[-`{-~]/g, ' ').split(/\s+/).filter((x) => x.length > 0);
    if (t.length > 0) lines.push(t.join(' '));
  }
  writeFileSync(`${out}.${process.pid}.tmp`, lines.join('\n') + '\n');
  renameSync(`${out}.${process.pid}.tmp`, out);
  return out;
}

/**
 * omnivec's Word2Vec (CBOW, 100-d, window 5, negative 5, sample 1e-3, min count 1 — all words —,
 * 5 epochs, one thread, seed 1: reproducible) on the WordNet glosses; every word, unit-normalised;
 * `queries` words drawn at random (seed 7) are held out of the base. Trained once, then read from
 * the bench cache.
 */
export async function wordVectors(dataDir: string): Promise<BenchDataset> {
  const stem = `words-wordnet-cbow${WORDS.dim}-min${WORDS.minCount}`;
  const dir = benchCacheDir();
  const bPath = join(dir, `${stem}-base.fvecs`);
  const qPath = join(dir, `${stem}-queries.fvecs`);
  let fromCache = true;
  if (!existsSync(bPath) || !existsSync(qPath)) {
    fromCache = false;
    const corpus = await prepareGlosses(dataDir);
    log(`[words] training omnivec Word2Vec on the WordNet glosses (one thread, cached afterwards)…`);
    const t0 = performance.now();
    const m = await trainWord2Vec(corpus, {
      model: 'cbow', dim: WORDS.dim, window: WORDS.window, negative: WORDS.negative, sample: 1e-3, minCount: WORDS.minCount,
      epochs: WORDS.epochs, threads: 1, seed: WORDS.seed, tokenizer: { kind: 'whitespace' },
    });
    log(`[words] trained in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${m.wv.size.toLocaleString('en-US')} words`);
    const unit = m.wv.unitVectors();
    const dim = m.wv.dim;
    const total = m.wv.size;
    const rng = new Random(WORDS.querySeed);
    const order = Uint32Array.from({ length: total }, (_, i) => i);
    for (let i = total - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    const isQuery = new Uint8Array(total);
    for (let i = 0; i < WORDS.queries; i++) isQuery[order[i]!] = 1;
    const base = new Float32Array((total - WORDS.queries) * dim);
    const queries = new Float32Array(WORDS.queries * dim);
    let b = 0;
    let q = 0;
    for (let i = 0; i < total; i++) {
      const row = unit.subarray(i * dim, (i + 1) * dim);
      if (isQuery[i]) queries.set(row, dim * q++);
      else base.set(row, dim * b++);
    }
    writeFvecs(bPath, base, dim);
    writeFvecs(qPath, queries, dim);
  }
  const base = readFvecs(bPath, 'words');
  const queries = readFvecs(qPath, 'words');
  return {
    name: 'words',
    description: `word vectors: omnivec Word2Vec (CBOW ${WORDS.dim}-d, min count ${WORDS.minCount}, ${WORDS.epochs} epochs, 1 thread, seed ${WORDS.seed}) on the WordNet glosses, ` +
      `${base.count.toLocaleString('en-US')} vocabulary words as base, ${queries.count} held-out words as queries, unit-normalised (cosine as L2)` +
      (fromCache ? ', from the bench cache' : ''),
    dim: base.dim,
    metric: 'l2',
    base,
    queries,
  };
}
