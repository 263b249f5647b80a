import type { Metric } from '../../vector/metric.js';
import { normalizeInPlace } from '../../vector/normalize.js';
import { checkBatch, type VectorBatch } from '../../vector/batch.js';
import type { BinaryReader, BinaryWriter } from '../../storage/binary.js';
import { FloatStore } from './float-store.js';
import { Rescorer } from './rescore.js';
import { createQuantizer, readQuantizerWithMeta, type Quantizer, type WarningHook } from './quantizer.js';

/**
 * What a quantised index holds besides its codes: the quantiser, the float32 store for
 * re-scoring and the default `rescore`. Flat and HNSW use it (IVF may): it normalises for cosine,
 * trains the quantiser from the first batch when nobody called `train`, stores the float vector
 * of a slot and writes its code where the index says.
 */
/**
 * An index never trained learns its quantiser from what it holds: from the first `add` batch,
 * then again (re-encoding every code) each time it has doubled, until it holds AUTO_TRAIN_ROWS
 * vectors — so a first batch of one vector (a database adding records one at a time) does not fix
 * the ranges for good. An explicit `train(sample)` ends this.
 */
export const AUTO_TRAIN_ROWS = 2048;

export class QuantParts {
  readonly kind: 'int8' | 'binary';
  readonly dim: number;
  readonly metric: Metric;
  readonly rescore: number;
  q: Quantizer;
  readonly store: FloatStore;
  /** Re-scores candidates in a small arena of its own (rescore × k rows). */
  readonly rescorer: Rescorer;
  readonly #row: Float32Array;
  /** Rows the automatic training last used; Infinity once trained explicitly (or when done). */
  autoTrainedOn = 0;

  constructor(kind: 'int8' | 'binary', dim: number, metric: Metric, rescore: number, onWarning?: WarningHook) {
    this.kind = kind;
    this.dim = dim;
    this.metric = metric;
    this.rescore = rescore;
    this.q = createQuantizer(kind, dim, metric, onWarning);
    this.store = new FloatStore(dim);
    this.rescorer = new Rescorer(dim, metric);
    this.#row = new Float32Array(dim);
  }

  get codeBytes(): number {
    return this.q.codeBytes;
  }

  /** What `stats().rescoreBytes` reports: the float store and the re-scoring arena. */
  get rescoreBytes(): number {
    return this.store.bytes + this.rescorer.bytes;
  }

  get metricCode(): number {
    return this.q.metricCode;
  }

  /** The params a quantised index adds to its own (persisted). */
  params(): { quantization: 'int8' | 'binary'; rescore: number } {
    return { quantization: this.kind, rescore: this.rescore };
  }

  /** Learns the quantiser from `count` rows of `data` (copied and normalised for cosine). */
  train(data: Float32Array, count: number): void {
    let rows = data.subarray(0, count * this.dim);
    if (this.metric === 'cosine') {
      rows = rows.slice();
      for (let i = 0; i < count; i++) normalizeInPlace(rows, i * this.dim, this.dim);
    }
    this.q.train(rows, count);
  }

  /** Trains from this batch when the quantiser was never trained (the first `add`). */
  /**
   * An index's `train(sample)`: learns the quantiser from the sample (checked against the shape);
   * true when it did, and the index must re-encode the codes it holds. No sample or an empty one:
   * nothing learnt.
   */
  learn(sample: VectorBatch | undefined): boolean {
    if (sample === undefined) return false;
    checkBatch(sample, this.dim, 'sample');
    if (sample.count === 0) return false;
    this.trainExplicit(sample.data, sample.count);
    return true;
  }

  ensureTrained(data: Float32Array, count: number): void {
    if (!this.q.trained && count > 0) {
      this.train(data, count);
      this.autoTrainedOn = count >= AUTO_TRAIN_ROWS ? Infinity : count;
    }
  }

  /** An explicit `train(sample)`: learns from it and ends the automatic training. */
  trainExplicit(data: Float32Array, count: number): void {
    this.train(data, count);
    this.autoTrainedOn = Infinity;
  }

  /**
   * After an add that left `slots` slots in use: when the quantiser was trained automatically on
   * fewer than AUTO_TRAIN_ROWS rows and the index has doubled since, learns it again from the
   * stored float vectors of slots 0 … slots−1 and returns true (the caller re-encodes every code).
   */
  retrainIfGrown(slots: number): boolean {
    if (this.autoTrainedOn === Infinity || slots < 2 * this.autoTrainedOn) return false;
    const rows = Math.min(slots, AUTO_TRAIN_ROWS);
    const sample = new Float32Array(rows * this.dim);
    // Spread over the slots (in slot order: flat's are dense, HNSW's include removed ones, still data).
    for (let i = 0; i < rows; i++) sample.set(this.store.view(Math.floor((i * slots) / rows)), i * this.dim);
    this.q.train(sample, rows);
    this.autoTrainedOn = slots >= AUTO_TRAIN_ROWS ? Infinity : slots;
    return true;
  }

  /**
   * Stores row `row` of `data` at `slot`: the float vector (normalised for cosine) in the store,
   * its code at `dst[dstOff…]`. The store must have room (`store.reserve`).
   */
  put(slot: number, data: Float32Array, row: number, dst: Uint8Array, dstOff: number): void {
    const v = this.#row;
    v.set(data.subarray(row * this.dim, (row + 1) * this.dim));
    if (this.metric === 'cosine') normalizeInPlace(v, 0, this.dim);
    this.store.set(slot, v);
    this.q.encode(v, 0, dst, dstOff);
  }

  /** Re-encodes the stored float vector of `slot` into `dst[dstOff…]` (after a new `train`). */
  reencode(slot: number, dst: Uint8Array, dstOff: number): void {
    this.q.encode(this.store.chunkOf(slot), this.store.offsetOf(slot), dst, dstOff);
  }

  /** The query ready for re-scoring (a copy, normalised for cosine), its code written at `dst[dstOff…]`. */
  prepareQuery(query: Float32Array, dst: Uint8Array, dstOff: number): Float32Array {
    const v = Float32Array.from(query);
    if (this.metric === 'cosine') normalizeInPlace(v, 0, this.dim);
    this.q.encode(v, 0, dst, dstOff);
    return v;
  }

  /** Writes the quantiser's parameters and the float vectors of slots 0 … n−1. */
  write(w: BinaryWriter, n: number): void {
    this.q.write(w, { autoTrainedOn: this.autoTrainedOn === Infinity ? -1 : this.autoTrainedOn });
    this.store.write(w, n);
  }

  /** A vectors-less payload (docs/file-format.md): the quantiser's parameters only. */
  writeQuantizer(w: BinaryWriter): void {
    this.q.write(w, { autoTrainedOn: this.autoTrainedOn === Infinity ? -1 : this.autoTrainedOn });
  }

  /** Reads what `writeQuantizer` wrote; the float store is filled afterwards (`putFloat`). */
  readQuantizer(r: BinaryReader): void {
    const { quantizer, autoTrainedOn } = readQuantizerWithMeta(r, this.kind, this.dim, this.metric);
    this.q = quantizer;
    this.autoTrainedOn = autoTrainedOn < 0 ? Infinity : autoTrainedOn;
  }

  /**
   * Stores `row` (dim floats) at `slot` as `put` does (normalised for cosine), without encoding:
   * a vectors-less file holds the codes already. The store must have room.
   */
  putFloat(slot: number, row: Float32Array): void {
    const v = this.#row;
    v.set(row);
    if (this.metric === 'cosine') normalizeInPlace(v, 0, this.dim);
    this.store.set(slot, v);
  }

  /** Reads what `write` wrote into these (fresh) parts. */
  read(r: BinaryReader, n: number): void {
    const { quantizer, autoTrainedOn } = readQuantizerWithMeta(r, this.kind, this.dim, this.metric);
    this.q = quantizer;
    this.autoTrainedOn = autoTrainedOn < 0 ? Infinity : autoTrainedOn;
    this.store.read(r, n);
  }
}

/**
 * The candidates of a quantised search (ids by code distance, nearest first) and their exact
 * re-scoring: one per index, reused by every query (flat and HNSW).
 */
export class Candidates {
  ids = new Uint32Array(0);
  dists = new Float32Array(0);
  #slots = new Uint32Array(0);

  /** Room for `n` candidates. */
  reserve(n: number): void {
    if (this.ids.length >= n) return;
    this.ids = new Uint32Array(n);
    this.dists = new Float32Array(n);
    this.#slots = new Uint32Array(n);
  }

  /**
   * Re-scores `ids[0 … n)` against `query` (normalised for cosine) with exact float32 distances
   * and writes the best k from `outOff`; returns how many.
   */
  rescore(qp: QuantParts, query: Float32Array, n: number, k: number, slots: { slotOf(id: number): number | undefined },
    outIds: Uint32Array, outDists: Float32Array, outOff: number): number {
    for (let i = 0; i < n; i++) this.#slots[i] = slots.slotOf(this.ids[i]!)!;
    return qp.rescorer.rescoreInto(query, qp.store, this.#slots, this.ids, n, Math.min(k, n), outIds, outDists, outOff);
  }
}
