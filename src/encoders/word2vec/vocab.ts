/**
 * The vocabulary side of Word2Vec training: counting words while the corpus is stored as ids,
 * choosing the vocabulary, and the tables the kernel samples from (subsampling thresholds, the
 * alias table for negative sampling, the Huffman tree for hierarchical softmax).
 * Design: docs/word2vec.md.
 */
import { invalidArgument } from '../../errors.js';

/** Longest Huffman code the kernel holds (word2vec.c's MAX_CODE_LENGTH). */
export const MAX_CODE = 40;

/** Counts words in first-seen order and hands out provisional ids. */
export class WordCounter {
  readonly #ids = new Map<string, number>();
  readonly words: string[] = [];
  counts = new Float64Array(1024);

  /** Provisional id of a word, counting one more occurrence. */
  add(word: string): number {
    let id = this.#ids.get(word);
    if (id === undefined) {
      id = this.words.length;
      this.#ids.set(word, id);
      this.words.push(word);
      if (id >= this.counts.length) {
        const c = new Float64Array(this.counts.length * 2);
        c.set(this.counts);
        this.counts = c;
      }
    }
    this.counts[id]! += 1;
    return id;
  }

  get size(): number { return this.words.length; }
}

export interface Vocabulary {
  words: string[];
  counts: Float64Array;
  /** provisional id → final index, or −1 for a dropped word. */
  remap: Int32Array;
  /** Corpus words that are in the vocabulary (the N of subsampling and of the learning-rate schedule). */
  retainedWords: number;
}

/**
 * The vocabulary: words with count ≥ minCount, most frequent first (ties in first-seen order), at
 * most maxVocab of them.
 */
export function chooseVocabulary(counter: WordCounter, minCount: number, maxVocab: number | undefined): Vocabulary {
  const n = counter.size;
  const order: number[] = [];
  for (let i = 0; i < n; i++) if (counter.counts[i]! >= minCount) order.push(i);
  order.sort((a, b) => counter.counts[b]! - counter.counts[a]! || a - b);
  if (maxVocab !== undefined && order.length > maxVocab) order.length = maxVocab;
  const remap = new Int32Array(n).fill(-1);
  const words: string[] = new Array<string>(order.length);
  const counts = new Float64Array(order.length);
  let retained = 0;
  for (let r = 0; r < order.length; r++) {
    const id = order[r]!;
    remap[id] = r;
    words[r] = counter.words[id]!;
    counts[r] = counter.counts[id]!;
    retained += counts[r]!;
  }
  return { words, counts, remap, retainedWords: retained };
}

/**
 * Subsampling thresholds: word w is kept with probability (√(f/(s·N)) + 1)·(s·N)/f, stored as a u32
 * threshold a random u32 is compared with (0xFFFFFFFF = always kept).
 */
export function keepThresholds(counts: Float64Array, retained: number, sample: number): Uint32Array {
  const t = new Uint32Array(counts.length).fill(0xFFFFFFFF);
  if (sample <= 0) return t;
  const th = sample * retained;
  for (let i = 0; i < counts.length; i++) {
    const f = counts[i]!;
    const p = (Math.sqrt(f / th) + 1) * th / f;
    if (p < 1) t[i] = Math.floor(p * 0x100000000);
  }
  return t;
}

/**
 * Vose's alias table over count^power: draw i uniformly, then keep it when a random u32 is below
 * prob[i], else take alias[i].
 */
export function aliasTable(counts: Float64Array, power = 0.75): { prob: Uint32Array; alias: Int32Array } {
  const n = counts.length;
  const p = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) { p[i] = Math.pow(counts[i]!, power); total += p[i]!; }
  for (let i = 0; i < n; i++) p[i] = (p[i]! * n) / total;
  const prob = new Uint32Array(n);
  const alias = new Int32Array(n);
  const small: number[] = [];
  const large: number[] = [];
  for (let i = 0; i < n; i++) (p[i]! < 1 ? small : large).push(i);
  while (small.length > 0 && large.length > 0) {
    const s = small.pop()!;
    const l = large[large.length - 1]!;
    prob[s] = Math.min(0xFFFFFFFF, Math.floor(p[s]! * 0x100000000));
    alias[s] = l;
    p[l] = p[l]! + p[s]! - 1;
    if (p[l]! < 1) { large.pop(); small.push(l); }
  }
  for (const i of large) { prob[i] = 0xFFFFFFFF; alias[i] = i; }
  for (const i of small) { prob[i] = 0xFFFFFFFF; alias[i] = i; } // rounding leftovers
  return { prob, alias };
}

/**
 * word2vec.c's Huffman tree over the (count-sorted) vocabulary: for each word its code (bits from
 * the root) and points (inner nodes, indexes into syn1, 0..V−2).
 */
export function huffman(counts: Float64Array): { clen: Uint8Array; codes: Uint8Array; points: Int32Array } {
  const v = counts.length;
  const clen = new Uint8Array(v);
  const codes = new Uint8Array(v * MAX_CODE);
  const points = new Int32Array(v * MAX_CODE);
  if (v < 2) return { clen, codes, points };
  const count = new Float64Array(v * 2);
  const binary = new Uint8Array(v * 2);
  const parent = new Int32Array(v * 2);
  for (let i = 0; i < v; i++) count[i] = counts[i]!;
  for (let i = v; i < v * 2; i++) count[i] = 1e300;
  let pos1 = v - 1;
  let pos2 = v;
  for (let a = 0; a < v - 1; a++) {
    let min1: number, min2: number;
    if (pos1 >= 0 && count[pos1]! < count[pos2]!) min1 = pos1--; else min1 = pos2++;
    if (pos1 >= 0 && count[pos1]! < count[pos2]!) min2 = pos1--; else min2 = pos2++;
    count[v + a] = count[min1]! + count[min2]!;
    parent[min1] = v + a;
    parent[min2] = v + a;
    binary[min2] = 1;
  }
  const code = new Uint8Array(MAX_CODE + 1);
  const point = new Int32Array(MAX_CODE + 1);
  const root = v * 2 - 2;
  for (let a = 0; a < v; a++) {
    let b = a;
    let i = 0;
    while (b !== root) {
      if (i >= MAX_CODE) throw invalidArgument(`hierarchical softmax: a Huffman code longer than ${MAX_CODE} bits (vocabulary counts too skewed)`);
      code[i] = binary[b]!;
      point[i] = b;
      i++;
      b = parent[b]!;
    }
    clen[a] = i;
    // Reverse: from the root down. point[0] is the root (index v−2 after the −v shift).
    points[a * MAX_CODE] = root - v;
    for (let j = 0; j < i; j++) {
      codes[a * MAX_CODE + (i - j - 1)] = code[j]!;
      if (j > 0) points[a * MAX_CODE + (i - j)] = point[j]! - v;
    }
  }
  return { clen, codes, points };
}
