import { OmnivecError, describe } from '../../errors.js';
import { checkInt, checkK } from '../../checks.js';
import { SlotMap } from '../common.js';
import { MAX_ID } from '../types.js';
import { TopK } from '../../vector/heap.js';

/**
 * Sparse vectors (BGE-M3 lexical weights, SPLADE, BM25-style term weights) and an exact
 * inverted index over them, scored by dot product. See docs/indexes/sparse.md.
 */

/** A sparse vector: parallel arrays, term ids ascending and unique, weights finite and non-zero. */
export interface SparseVector {
  readonly terms: Uint32Array;
  readonly weights: Float32Array;
}

/**
 * Maps string tokens (BGE-M3 lexical-weight keys such as "9064", words) to dense term ids 0, 1,
 * 2, … in order of first appearance. Serialisable: `JSON.stringify(dict)` / `TermDictionary.fromJSON`.
 */
export class TermDictionary {
  readonly #ids = new Map<string, number>();
  readonly #tokens: string[] = [];

  /** The id of `token`, added when missing. */
  id(token: string): number {
    let id = this.#ids.get(token);
    if (id === undefined) {
      if (typeof token !== 'string') {
        throw new OmnivecError('invalid_argument', `token: expected a string, got ${describe(token)}`);
      }
      id = this.#tokens.length;
      if (id > MAX_ID) throw new OmnivecError('capacity_exceeded', `term dictionary: more than ${MAX_ID + 1} distinct tokens`);
      this.#tokens.push(token);
      this.#ids.set(token, id);
    }
    return id;
  }

  /** The id of `token`, or undefined when it was never added. */
  lookup(token: string): number | undefined {
    return this.#ids.get(token);
  }

  /** The token of term `id`, or undefined. */
  token(id: number): string | undefined {
    return this.#tokens[id];
  }

  get size(): number {
    return this.#tokens.length;
  }

  /** `{ tokens }`: the tokens in id order (token i has id i). */
  toJSON(): { tokens: string[] } {
    return { tokens: this.#tokens.slice() };
  }

  /** Rebuilds a dictionary from `toJSON()`'s value (already parsed from JSON). */
  static fromJSON(value: unknown): TermDictionary {
    const tokens = value !== null && typeof value === 'object' ? (value as { tokens?: unknown }).tokens : undefined;
    if (!Array.isArray(tokens)) {
      throw new OmnivecError('invalid_argument', `term dictionary: expected an object { tokens: string[] }, got ${describe(value)}`);
    }
    const dict = new TermDictionary();
    for (let i = 0; i < tokens.length; i++) {
      const t: unknown = tokens[i];
      if (typeof t !== 'string') {
        throw new OmnivecError('invalid_argument', `term dictionary: tokens[${i}]: expected a string, got ${describe(t)}`);
      }
      if (dict.#ids.has(t)) {
        throw new OmnivecError('invalid_argument', `term dictionary: tokens[${i}]: token ${JSON.stringify(t)} appears twice`);
      }
      dict.id(t);
    }
    return dict;
  }
}

const EXPECTED = 'an object of token weights ({ "token": weight, … }) or { indices: number[], values: number[] }';

/**
 * Reads a sparse vector given by the caller, in one of two shapes:
 * - `{ token: weight, … }` (BGE-M3's `lexical_weights`, keys such as "9064" or words);
 * - `{ indices: number[], values: number[] }` (SPLADE / Qdrant / Pinecone; arrays or typed arrays
 *   of equal length), each index a non-negative safe integer, used as the token of its decimal
 *   string: index 9064 and key "9064" are the same term (but "09064" is another).
 *
 * Weights must be finite numbers within float32 range; zero weights (also those that round to
 * zero in float32) are dropped; negative weights are kept. A repeated index in `indices` is
 * refused (a repeat is almost always a bug upstream, and summing would hide it). The result is
 * sorted by term id.
 *
 * `addTerms`: true for stored records (unknown tokens are added to `dict`); false for queries —
 * a token the dictionary lacks occurs in no record, so it is dropped (the result may be empty).
 *
 * Throws OmnivecError('invalid_argument', `${what}…: expected …, got …`).
 */
export function parseSparse(value: unknown, dict: TermDictionary, what: string, addTerms: boolean): SparseVector {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value)) {
    throw new OmnivecError('invalid_argument', `${what}: expected ${EXPECTED}, got ${describe(value)}`);
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw new OmnivecError('invalid_argument',
      `${what}: expected ${EXPECTED}, got an instance of ${(value as object).constructor?.name ?? 'a class'}`);
  }
  const o = value as Record<string, unknown>;
  // { indices, values } unless both keys are absent or hold numbers (then they are tokens).
  const isPairs = (Object.hasOwn(o, 'indices') && typeof o.indices !== 'number')
    || (Object.hasOwn(o, 'values') && typeof o.values !== 'number');

  const tokens: string[] = [];
  const weights: number[] = [];
  if (isPairs) {
    const { indices, values } = o;
    for (const key of Object.keys(o)) {
      if (key !== 'indices' && key !== 'values') {
        throw new OmnivecError('invalid_argument',
          `${what}: expected only the keys "indices" and "values", got also ${JSON.stringify(key)}`);
      }
    }
    if (!isNumberList(indices)) {
      throw new OmnivecError('invalid_argument', `${what}.indices: expected an array of integers, got ${describe(indices)}`);
    }
    if (!isNumberList(values)) {
      throw new OmnivecError('invalid_argument', `${what}.values: expected an array of numbers, got ${describe(values)}`);
    }
    if (indices.length !== values.length) {
      throw new OmnivecError('invalid_argument',
        `${what}: expected as many values as indices (${indices.length}), got ${values.length}`);
    }
    const seen = new Set<number>();
    for (let i = 0; i < indices.length; i++) {
      const index = indices[i];
      if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) {
        throw new OmnivecError('invalid_argument',
          `${what}.indices[${i}]: expected a non-negative integer, got ${describe(index)}`);
      }
      if (seen.has(index)) {
        throw new OmnivecError('invalid_argument',
          `${what}.indices[${i}]: expected unique indices, got ${index} a second time`);
      }
      seen.add(index);
      const w = checkWeight(values[i], what, `.values[${i}]`);
      if (w === 0) continue;
      tokens.push(String(index));
      weights.push(w);
    }
  } else {
    for (const token of Object.keys(o)) {
      const w = checkWeight(o[token], what, `[${JSON.stringify(token)}]`);
      if (w === 0) continue;
      tokens.push(token);
      weights.push(w);
    }
  }

  // Only now, with everything checked, touch the dictionary (a refused value adds no terms).
  const ids: number[] = [];
  const kept: number[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const id = addTerms ? dict.id(tokens[i]!) : dict.lookup(tokens[i]!);
    if (id === undefined) continue;
    ids.push(id);
    kept.push(weights[i]!);
  }

  const n = ids.length;
  const terms = new Uint32Array(n);
  const ws = new Float32Array(n);
  let sorted = true;
  for (let i = 1; i < n; i++) {
    if (ids[i]! < ids[i - 1]!) {
      sorted = false;
      break;
    }
  }
  if (sorted) {
    for (let i = 0; i < n; i++) {
      terms[i] = ids[i]!;
      ws[i] = kept[i]!;
    }
  } else {
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => ids[a]! - ids[b]!);
    for (let i = 0; i < n; i++) {
      terms[i] = ids[order[i]!]!;
      ws[i] = kept[order[i]!]!;
    }
  }
  return { terms, weights: ws };
}

function isNumberList(v: unknown): v is ArrayLike<unknown> {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

/** The weight as float32, 0 when it rounds to zero; throws for non-numbers and non-finite values. */
function checkWeight(v: unknown, what: string, where: string): number {
  if (typeof v !== 'number' || v - v !== 0) {
    throw new OmnivecError('invalid_argument', `${what}${where}: expected a finite number, got ${describe(v)}`);
  }
  const f = Math.fround(v);
  if (f - f !== 0) {
    throw new OmnivecError('invalid_argument', `${what}${where}: expected a number within float32 range, got ${describe(v)}`);
  }
  return f;
}

/**
 * Refuses a value that is not a well-formed SparseVector: `terms` a Uint32Array ascending without
 * repeats, `weights` a Float32Array of the same length, finite and non-zero. O(nnz).
 */
export function checkSparseVector(v: unknown, what: string): asserts v is SparseVector {
  const terms = v !== null && typeof v === 'object' ? (v as SparseVector).terms : undefined;
  const weights = v !== null && typeof v === 'object' ? (v as SparseVector).weights : undefined;
  if (!(terms instanceof Uint32Array) || !(weights instanceof Float32Array)) {
    throw new OmnivecError('invalid_argument',
      `${what}: expected a SparseVector { terms: Uint32Array, weights: Float32Array }, got ${describe(v)}`);
  }
  if (terms.length !== weights.length) {
    throw new OmnivecError('invalid_argument',
      `${what}: expected as many weights as terms (${terms.length}), got ${weights.length}`);
  }
  for (let i = 0; i < terms.length; i++) {
    if (i > 0 && terms[i]! <= terms[i - 1]!) {
      throw new OmnivecError('invalid_argument',
        `${what}.terms[${i}]: expected term ids ascending without repeats, got ${terms[i]} after ${terms[i - 1]}`);
    }
    const w = weights[i]!;
    if (w - w !== 0 || w === 0) {
      throw new OmnivecError('invalid_argument', `${what}.weights[${i}]: expected a finite non-zero number, got ${w}`);
    }
  }
}

/**
 * Dot product of two sparse vectors, accumulated in float32 in ascending term order (each
 * product taken exactly in double, each partial sum rounded to float32) — the very operations of
 * the index's search, so its scores equal this value bit for bit.
 */
export function sparseDot(a: SparseVector, b: SparseVector): number {
  let at = a.terms, aw = a.weights, bt = b.terms, bw = b.weights;
  if (at.length > bt.length) {
    [at, bt] = [bt, at];
    [aw, bw] = [bw, aw];
  }
  const na = at.length;
  const nb = bt.length;
  let s = 0;
  if (na === 0) return 0;
  if (na * 16 < nb) {
    // Much shorter a: binary-search each of its terms in the rest of b.
    let lo = 0;
    for (let i = 0; i < na && lo < nb; i++) {
      const t = at[i]!;
      let hi = nb;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (bt[mid]! < t) lo = mid + 1;
        else hi = mid;
      }
      if (lo < nb && bt[lo] === t) s = Math.fround(s + aw[i]! * bw[lo++]!);
    }
    return s;
  }
  let i = 0, j = 0;
  while (i < na && j < nb) {
    const x = at[i]!, y = bt[j]!;
    if (x === y) s = Math.fround(s + aw[i++]! * bw[j++]!);
    else if (x < y) i++;
    else j++;
  }
  return s;
}

export interface SparseSearchOptions {
  /** Only these slots may be returned: a set (an `IdSet` is cheapest) or a predicate. */
  allow?: ReadonlySet<number> | ((slot: number) => boolean);
}

export interface SparseSearchResult {
  /** Slots, best first. */
  ids: Uint32Array;
  /** Dot products with the query (float32), best (highest) first. */
  scores: Float32Array;
}

export interface SparseIndexStats {
  /** Slots held. */
  size: number;
  /** Posting lists held (terms of live records, plus lists left with only removed postings until the next purge). */
  terms: number;
  /** Postings of live records. */
  postings: number;
  /** Bytes held, estimated (typed arrays exactly, maps and per-array overhead estimated). */
  memoryBytes: number;
}

/** The slot recorded for a removed document (types.ts's NO_ID; a local constant reads faster in loops). */
const DEAD = 0xffffffff;
/** 2⁻¹²⁶, the smallest normal float32. */
const MIN_NORMAL_F32 = 1.1754943508222875e-38;
/** Purge removed postings when they exceed this share of all postings held. */
const PURGE_SHARE = 0.2;
/** Capacity of a new posting list. */
const INITIAL_LIST = 4;
/** Lists up to this capacity live in the shared pools; longer ones in arrays of their own. */
const POOLED_MAX = 128;
/**
 * Accumulate without tracking touched documents, and scan every document number afterwards,
 * when the query's posting lists hold more than this many postings per document.
 */
const DENSE_RATIO = 0.25;

/**
 * Exact inverted index over sparse vectors: top-k by dot product, scored term-at-a-time.
 *
 * Records are keyed by a caller `slot` (0 … 2³²−2; the database's rowids) and stored under an
 * internal document number assigned on add (0, 1, 2, …). Each term has a posting list of
 * (document number, weight) pairs in document order, in two parallel typed arrays (Uint32Array,
 * Float32Array) grown by doubling. Most terms of a vocabulary are rare, so short lists (capacity
 * ≤ 128) are blocks of two pools shared by all of them (no objects per term: 12 bytes a term
 * besides its postings); a full block moves to the end of the pool, and abandoned blocks are
 * reclaimed by compacting the pools in place when they reach a quarter of it. A list that outgrows
 * 128 entries moves to arrays of its own (grown ×2, and ×1.5 from 1 024 entries).
 *
 * A removal only marks the document dead (O(1)); when the dead postings exceed 20 % of all
 * postings (or dead documents half of all), the lists are rewritten without them and the live
 * documents renumbered, so a removal costs amortised O(nnz). Re-adding a removed slot gets a
 * fresh document number, so its old postings never mix with the new ones.
 *
 * Search: for each query term, each posting adds `qw · w` into a reusable Float32Array of
 * scores by document number (half the cache footprint of doubles, and measurably faster) and
 * flags the document as matched (no flag needed when all weights are positive: then a non-zero
 * score is the mark); the matched live (and allowed) documents then go through a bounded heap.
 * When the query's lists are short, the touched documents are listed as they are first met (cost
 * ∝ postings read); when they are long, every document number is scanned instead (no branch per
 * posting). A Set of allowed slots smaller than the candidates is turned into document numbers
 * first, and only those are looked at.
 */
export class SparseIndex {
  /** slot ⇄ document number; `table[doc]` is the doc's slot, DEAD once removed. */
  #map = new SlotMap();
  #docNnz = new Uint32Array(1024);
  #docs = 0; // document numbers handed out (live + dead)
  #deadDocs = 0;
  #postings = 0; // postings held, dead included
  #deadPostings = 0;
  /** term id ⇄ list number (term ids may be sparse; list numbers are dense). */
  #termMap = new SlotMap();
  #lists = 0;
  /** Where list l starts in its arrays: the pools, or its own arrays (then 0). */
  #listOff = new Uint32Array(1024);
  #listCap = new Uint32Array(1024);
  #listLen = new Uint32Array(1024);
  /** The arrays of a list that left the pools; undefined while it is pooled. */
  #ownDocs: (Uint32Array | undefined)[] = [];
  #ownWeights: (Float32Array | undefined)[] = [];
  // The pools: blocks [off, off + cap) of the pooled lists, the first len entries used.
  #poolDocs = new Uint32Array(4096);
  #poolWeights = new Float32Array(4096);
  #used = 0; // pool entries handed out to blocks
  #garbage = 0; // entries of abandoned blocks
  /** Whether a negative weight may be held, and a lower bound of the positive ones (kept on add, recomputed by a purge). */
  #hasNegative = false;
  #minWeight = Infinity;
  // Search scratch, by document number.
  #acc = new Float32Array(0);
  #seen = new Uint8Array(0);
  #touched = new Uint32Array(0);

  get size(): number {
    return this.#map.size;
  }

  has(slot: number): boolean {
    return this.#map.slotOf(slot) !== undefined;
  }

  /** The slots held, ascending. */
  slots(): Uint32Array {
    const out = new Uint32Array(this.#map.size);
    const table = this.#map.table;
    let n = 0;
    for (let d = 0; d < this.#docs; d++) {
      const s = table[d]!;
      if (s !== DEAD) out[n++] = s;
    }
    return out.sort();
  }

  /** Adds the sparse vector of `slot`; refuses a slot already present (`already_exists`). An empty vector is held but never matches. */
  add(slot: number, v: SparseVector): void {
    checkInt(slot, 'slot', { min: 0, max: MAX_ID });
    if (this.#map.slotOf(slot) !== undefined) {
      throw new OmnivecError('already_exists', `slot: slot ${slot} is already in the sparse index; remove it first to replace it`, { slot });
    }
    checkSparseVector(v, 'sparse vector');
    const d = this.#docs++;
    if (d >= this.#docNnz.length) this.#docNnz = grow(this.#docNnz, d + 1);
    const { terms, weights } = v;
    const n = terms.length;
    this.#docNnz[d] = n;
    this.#map.set(slot, d);
    const termMap = this.#termMap;
    for (let i = 0; i < n; i++) {
      let l = termMap.slotOf(terms[i]!);
      if (l === undefined) l = this.#newList(terms[i]!);
      const len = this.#listLen[l]!;
      if (len === this.#listCap[l]) this.#growList(l);
      const at = this.#listOff[l]! + len;
      const w = weights[i]!;
      if (w < 0) this.#hasNegative = true;
      else if (w < this.#minWeight) this.#minWeight = w;
      const own = this.#ownDocs[l];
      if (own === undefined) {
        this.#poolDocs[at] = d;
        this.#poolWeights[at] = w;
      } else {
        own[at] = d;
        this.#ownWeights[l]![at] = w;
      }
      this.#listLen[l] = len + 1;
    }
    this.#postings += n;
  }

  #newList(term: number): number {
    this.#reserve(INITIAL_LIST); // before the list exists: a compaction must not see it
    const l = this.#lists++;
    if (l >= this.#listOff.length) {
      this.#listOff = grow(this.#listOff, l + 1);
      this.#listCap = grow(this.#listCap, l + 1);
      this.#listLen = grow(this.#listLen, l + 1);
    }
    this.#listOff[l] = this.#used;
    this.#listCap[l] = INITIAL_LIST;
    this.#listLen[l] = 0;
    this.#ownDocs[l] = undefined;
    this.#ownWeights[l] = undefined;
    this.#used += INITIAL_LIST;
    this.#termMap.set(term, l);
    return l;
  }

  /** Gives the full list `l` more capacity. */
  #growList(l: number): void {
    const oldCap = this.#listCap[l]!;
    // Doubling, then ×1.5 for long lists (less slack where it costs most memory).
    const cap = Math.max(INITIAL_LIST, oldCap < 1024 ? oldCap * 2 : Math.ceil(oldCap * 1.5));
    const len = this.#listLen[l]!;
    const own = this.#ownDocs[l];
    if (own !== undefined || cap > POOLED_MAX) {
      // Own arrays (a pooled list moving out leaves its block behind).
      const from = own ?? this.#poolDocs;
      const fromW = this.#ownWeights[l] ?? this.#poolWeights;
      const off = this.#listOff[l]!;
      const docs = new Uint32Array(cap);
      docs.set(from.subarray(off, off + len));
      const ws = new Float32Array(cap);
      ws.set(fromW.subarray(off, off + len));
      if (own === undefined) this.#garbage += oldCap;
      this.#ownDocs[l] = docs;
      this.#ownWeights[l] = ws;
      this.#listOff[l] = 0;
      this.#listCap[l] = cap;
      return;
    }
    if (this.#listOff[l]! + oldCap === this.#used && this.#used - oldCap + cap <= this.#poolDocs.length) {
      // The last block: grow in place.
      this.#used += cap - oldCap;
      this.#listCap[l] = cap;
      return;
    }
    this.#reserve(cap); // may compact: offsets change (a full block keeps its capacity)
    const off = this.#listOff[l]!;
    const at = this.#used;
    this.#poolDocs.copyWithin(at, off, off + len);
    this.#poolWeights.copyWithin(at, off, off + len);
    this.#garbage += this.#listCap[l]!;
    this.#listOff[l] = at;
    this.#listCap[l] = cap;
    this.#used += cap;
  }

  /** Makes room for `n` more pool entries at `#used`: compacts when a quarter of the pool is garbage, else grows it. */
  #reserve(n: number): void {
    if (this.#used + n <= this.#poolDocs.length) return;
    if (4 * this.#garbage >= this.#used) this.#compact(null);
    if (this.#used + n <= this.#poolDocs.length) return;
    this.#resizePool(Math.max(this.#used + n, Math.ceil(this.#poolDocs.length * 1.5)));
  }

  #resizePool(len: number): void {
    const docs = new Uint32Array(len);
    docs.set(this.#poolDocs.subarray(0, this.#used));
    const ws = new Float32Array(len);
    ws.set(this.#poolWeights.subarray(0, this.#used));
    this.#poolDocs = docs;
    this.#poolWeights = ws;
  }

  /**
   * Rewrites the pools in place, blocks in offset order, without abandoned blocks. With `renum`
   * (old document number → new, −1 = dead) also drops dead postings from every list (pooled or
   * not) and renumbers the documents, then drops the lists left empty and renumbers the others.
   * A pooled block keeps ⅛ of its length as room to grow, never more than it had, so writes
   * never overtake reads.
   */
  #compact(renum: Int32Array | null): void {
    const nLists = this.#lists;
    const off = this.#listOff;
    const cap = this.#listCap;
    const lens = this.#listLen;
    const pooled: number[] = [];
    for (let l = 0; l < nLists; l++) {
      const own = this.#ownDocs[l];
      if (own === undefined) {
        pooled.push(l);
      } else if (renum !== null) {
        lens[l] = filterDead(own, this.#ownWeights[l]!, 0, lens[l]!, 0, renum);
        if (cap[l]! > 4 * lens[l]! && cap[l]! > POOLED_MAX) {
          cap[l] = Math.max(POOLED_MAX, 2 * lens[l]!);
          this.#ownDocs[l] = own.slice(0, cap[l]);
          this.#ownWeights[l] = this.#ownWeights[l]!.slice(0, cap[l]);
        }
      }
    }
    pooled.sort((a, b) => off[a]! - off[b]!);
    const docs = this.#poolDocs;
    const ws = this.#poolWeights;
    let bump = 0;
    for (const l of pooled) {
      const start = off[l]!;
      let len = lens[l]!;
      if (renum === null) {
        docs.copyWithin(bump, start, start + len);
        ws.copyWithin(bump, start, start + len);
      } else {
        len = filterDead(docs, ws, start, start + len, bump, renum);
      }
      off[l] = bump;
      lens[l] = len;
      cap[l] = Math.min(cap[l]!, len + (len >>> 3) + 2);
      bump += cap[l]!;
    }
    this.#used = bump;
    this.#garbage = 0;
    if (renum === null) return;
    // Drop empty lists; renumber the rest in list order.
    const termOf = this.#termMap.table;
    let kept = 0;
    for (let l = 0; l < nLists; l++) {
      const term = termOf[l]!;
      if (lens[l] === 0) {
        this.#termMap.delete(term);
        if (this.#ownDocs[l] === undefined) this.#garbage += cap[l]!;
        continue;
      }
      if (kept !== l) {
        off[kept] = off[l]!;
        cap[kept] = cap[l]!;
        lens[kept] = lens[l]!;
        this.#ownDocs[kept] = this.#ownDocs[l];
        this.#ownWeights[kept] = this.#ownWeights[l];
        this.#termMap.set(term, kept);
      }
      kept++;
    }
    this.#lists = kept;
    this.#ownDocs.length = kept;
    this.#ownWeights.length = kept;
  }

  /** Recomputes `#hasNegative` and `#minWeight` from the postings held. */
  #scanWeights(): void {
    let negative = false;
    let min = Infinity;
    for (let l = 0; l < this.#lists; l++) {
      const ws = this.#ownWeights[l] ?? this.#poolWeights;
      for (let i = this.#listOff[l]!, end = i + this.#listLen[l]!; i < end; i++) {
        const w = ws[i]!;
        if (w < 0) negative = true;
        else if (w < min) min = w;
      }
    }
    this.#hasNegative = negative;
    this.#minWeight = min;
  }

  /** Removes `slot`; false when it was not present. */
  remove(slot: number): boolean {
    const d = this.#map.slotOf(slot);
    if (d === undefined) return false;
    this.#map.delete(slot);
    this.#map.setSlotId(d, DEAD);
    this.#deadDocs++;
    this.#deadPostings += this.#docNnz[d]!;
    if (this.#deadPostings > PURGE_SHARE * this.#postings || 2 * this.#deadDocs > this.#docs) this.#purge();
    return true;
  }

  /** Drops the postings of removed documents and renumbers the live documents densely (order kept). */
  #purge(): void {
    const table = this.#map.table;
    const nDocs = this.#docs;
    const renum = new Int32Array(nDocs);
    let live = 0;
    for (let d = 0; d < nDocs; d++) {
      const s = table[d]!;
      if (s === DEAD) {
        renum[d] = -1;
      } else {
        renum[d] = live;
        this.#docNnz[live] = this.#docNnz[d]!;
        if (live !== d) this.#map.set(s, live); // also writes table[live] = s
        live++;
      }
    }
    this.#compact(renum);
    this.#scanWeights();
    this.#docs = live;
    this.#postings -= this.#deadPostings;
    this.#deadPostings = 0;
    this.#deadDocs = 0;
    // Give memory back after large removals.
    if (this.#poolDocs.length > 4 * this.#used && this.#poolDocs.length > 65536) this.#resizePool(2 * this.#used);
    if (this.#docNnz.length > 4 * live && this.#docNnz.length > 4096) this.#docNnz = this.#docNnz.slice(0, 2 * live);
    if (this.#listOff.length > 4 * this.#lists && this.#listOff.length > 4096) {
      this.#listOff = this.#listOff.slice(0, 2 * this.#lists);
      this.#listCap = this.#listCap.slice(0, 2 * this.#lists);
      this.#listLen = this.#listLen.slice(0, 2 * this.#lists);
    }
    if (this.#acc.length > 4 * live && this.#acc.length > 4096) {
      this.#acc = new Float32Array(0);
      this.#seen = new Uint8Array(0);
      this.#touched = new Uint32Array(0);
    }
  }

  /**
   * Exact top-k by dot product (higher = better), best first, ties broken by the smaller slot.
   * Returns only records sharing at least one term with the query (whatever their score, so a
   * record whose products cancel to 0 is still returned); fewer than k when fewer match.
   */
  search(query: SparseVector, k: number, options?: SparseSearchOptions): SparseSearchResult {
    checkK(k);
    checkSparseVector(query, 'query');
    const allow = options?.allow;
    let allowSet: ReadonlySet<number> | undefined;
    let accepts: ((slot: number) => boolean) | undefined;
    if (typeof allow === 'function') {
      accepts = allow;
    } else if (allow !== undefined && allow !== null) {
      if (typeof (allow as ReadonlySet<number>).has !== 'function' || typeof allow.size !== 'number') {
        throw new OmnivecError('invalid_argument', `allow: expected a Set of slots or a function (slot) => boolean, got ${describe(allow)}`);
      }
      allowSet = allow;
      accepts = (slot) => allow.has(slot);
    }

    // The query's lists, and how many postings they hold.
    const qt = query.terms;
    const qw = query.weights;
    const lists: number[] = [];
    const listWeights: number[] = [];
    let total = 0;
    for (let q = 0; q < qt.length; q++) {
      const l = this.#termMap.slotOf(qt[q]!);
      if (l === undefined) continue;
      lists.push(l);
      listWeights.push(qw[q]!);
      total += this.#listLen[l]!;
    }
    if (total === 0 || allowSet?.size === 0) return { ids: new Uint32Array(0), scores: new Float32Array(0) };

    const nDocs = this.#docs;
    if (this.#acc.length < nDocs) {
      const cap = Math.max(1024, nDocs + (nDocs >>> 2));
      this.#acc = new Float32Array(cap);
      this.#seen = new Uint8Array(cap);
      this.#touched = new Uint32Array(cap);
    }
    const acc = this.#acc;
    const seen = this.#seen;
    const touched = this.#touched;
    const dense = total > DENSE_RATIO * nDocs;
    // With positive weights only (the usual case: SPLADE, BGE-M3), a document shares a term with
    // the query exactly when its score is non-zero, so no flag per document is needed …
    let positive = !this.#hasNegative;
    let minQuery = Infinity;
    for (let q = 0; q < listWeights.length && positive; q++) {
      positive = listWeights[q]! > 0;
      minQuery = Math.min(minQuery, listWeights[q]!);
    }
    // … and every product is at least the smallest normal float32 (so no partial sum rounds to 0).
    if (minQuery * this.#minWeight < MIN_NORMAL_F32) positive = false;
    let nt = 0;
    for (let q = 0; q < lists.length; q++) {
      const l = lists[q]!;
      const docs = this.#ownDocs[l] ?? this.#poolDocs;
      const ws = this.#ownWeights[l] ?? this.#poolWeights;
      const start = this.#listOff[l]!;
      const end = start + this.#listLen[l]!;
      const w = listWeights[q]!;
      if (dense && positive) {
        for (let i = start; i < end; i++) acc[docs[i]!] += w * ws[i]!;
      } else if (dense) {
        for (let i = start; i < end; i++) {
          const d = docs[i]!;
          seen[d] = 1;
          acc[d] += w * ws[i]!;
        }
      } else if (positive) {
        for (let i = start; i < end; i++) {
          const d = docs[i]!;
          if (acc[d] === 0) touched[nt++] = d;
          acc[d] += w * ws[i]!;
        }
      } else {
        for (let i = start; i < end; i++) {
          const d = docs[i]!;
          if (seen[d] === 0) {
            seen[d] = 1;
            touched[nt++] = d;
          }
          acc[d] += w * ws[i]!;
        }
      }
    }

    // Select among the matched documents; reset the scratch for the next search.
    const table = this.#map.table;
    // The library's one top-k heap over (−score, slot): smallest first is best first, ties by the
    // smaller slot at the cut as in the brute-force oracle.
    const heap = new TopK(Math.min(k, dense ? nDocs : nt));
    try {
      if (allowSet !== undefined && allowSet.size < (dense ? nDocs : nt) / 2) {
        // Few allowed slots: look only at their documents.
        // An IdSet (indexes/common.ts) carries its ids as a sorted Uint32Array: iterate that.
        const sorted = (allowSet as { list?: unknown }).list;
        const list: Iterable<number> = sorted instanceof Uint32Array && sorted.length === allowSet.size ? sorted : allowSet;
        for (const slot of list) {
          const d = this.#map.slotOf(slot);
          if (d !== undefined && (positive ? acc[d] !== 0 : seen[d] !== 0)) heap.push(slot, -acc[d]!);
        }
        if (dense) {
          acc.fill(0, 0, nDocs);
          if (!positive) seen.fill(0, 0, nDocs);
        } else {
          for (let t = 0; t < nt; t++) {
            const d = touched[t]!;
            acc[d] = 0;
            seen[d] = 0;
          }
        }
      } else if (dense) {
        // `floor`: the worst score kept once the heap is full; anything below it is out at once.
        let floor = -Infinity;
        for (let d = 0; d < nDocs; d++) {
          const score = acc[d]!;
          if (positive) {
            if (score === 0) continue;
          } else {
            if (seen[d] === 0) continue;
            seen[d] = 0;
          }
          acc[d] = 0;
          if (score < floor) continue;
          const slot = table[d]!;
          if (slot === DEAD || (accepts !== undefined && !accepts(slot))) continue;
          if (heap.push(slot, -score)) floor = -heap.worst();
        }
      } else {
        let floor = -Infinity;
        for (let t = 0; t < nt; t++) {
          const d = touched[t]!;
          const score = acc[d]!;
          acc[d] = 0;
          seen[d] = 0;
          if (score < floor) continue;
          const slot = table[d]!;
          if (slot === DEAD || (accepts !== undefined && !accepts(slot))) continue;
          if (heap.push(slot, -score)) floor = -heap.worst();
        }
      }
    } catch (e) {
      // A throwing `allow` must not leave scores behind for the next search.
      acc.fill(0);
      seen.fill(0);
      throw e;
    }
    const ids = new Uint32Array(heap.size);
    const scores = new Float32Array(heap.size);
    heap.drainSorted(ids, scores);
    for (let i = 0; i < scores.length; i++) scores[i] = -scores[i]!;
    return { ids, scores };
  }

  #ownBytes(): number {
    let n = 0;
    for (const own of this.#ownDocs) if (own !== undefined) n += own.byteLength * 2 + 2 * ARRAY_OVERHEAD;
    return n;
  }

  stats(): SparseIndexStats {
    return {
      size: this.#map.size,
      terms: this.#lists,
      postings: this.#postings - this.#deadPostings,
      memoryBytes: this.#poolDocs.byteLength + this.#poolWeights.byteLength + 3 * this.#listOff.byteLength
        + this.#ownBytes() + 16 * this.#ownDocs.length
        + this.#termMap.bytes() + this.#map.bytes() + this.#docNnz.byteLength
        + this.#acc.byteLength + this.#seen.byteLength + this.#touched.byteLength,
    };
  }
}

/** Estimated bytes of a typed-array object besides its elements (the JS object and its ArrayBuffer). */
const ARRAY_OVERHEAD = 160;

/**
 * Keeps the postings [start, end) of live documents, renumbered by `renum` (−1 = dead), writing
 * from `to` ≤ start onwards (in place); returns how many were kept.
 */
function filterDead(docs: Uint32Array, ws: Float32Array, start: number, end: number, to: number, renum: Int32Array): number {
  let j = to;
  for (let i = start; i < end; i++) {
    const nd = renum[docs[i]!]!;
    if (nd >= 0) {
      docs[j] = nd;
      ws[j] = ws[i]!;
      j++;
    }
  }
  return j - to;
}

function grow(a: Uint32Array, min: number): Uint32Array<ArrayBuffer> {
  const t = new Uint32Array(Math.max(min, a.length * 2));
  t.set(a);
  return t;
}

