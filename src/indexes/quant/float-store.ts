import type { BinaryReader, BinaryWriter } from '../../storage/binary.js';

/**
 * The float32 vectors a quantised index keeps for exact re-scoring, OUTSIDE the index's
 * WebAssembly memory (docs/indexes/quantization.md): chunks of `SharedArrayBuffer`-backed
 * `Float32Array` (a worker thread can be handed the chunks and read them), each holding a power
 * of two of rows (~1 MiB a chunk), addressed by slot. Growing adds chunks and never copies the
 * ones already there. Used by flat and HNSW, and by IVF (A2) through the same API.
 */
export class FloatStore {
  readonly dim: number;
  /** log2 of the rows a chunk holds. */
  readonly shift: number;
  readonly #rows: number;
  #chunks: Float32Array[] = [];

  constructor(dim: number, chunkBytes = 1 << 20) {
    this.dim = dim;
    let shift = 4;
    while ((2 << shift) * dim * 4 <= chunkBytes && shift < 24) shift++;
    this.shift = shift;
    this.#rows = 1 << shift;
  }

  /** Slots the chunks allocated so far can hold. */
  get capacity(): number {
    return this.#chunks.length * this.#rows;
  }

  /** The chunks (for a worker thread or a caller that scans them); row r of chunk c is slot (c << shift) + r. */
  get chunks(): readonly Float32Array[] {
    return this.#chunks;
  }

  /** Bytes held (what `stats().rescoreBytes` reports). */
  get bytes(): number {
    return this.#chunks.length * this.#rows * this.dim * 4;
  }

  /** Makes room for slots 0 … n−1 (adds chunks; nothing already stored moves). */
  reserve(n: number): void {
    while (this.capacity < n) this.#chunks.push(new Float32Array(new SharedArrayBuffer(this.#rows * this.dim * 4)));
  }

  /** Drops every chunk beyond those needed for `n` slots. */
  truncate(n: number): void {
    const keep = Math.ceil(n / this.#rows);
    if (keep < this.#chunks.length) this.#chunks.length = keep;
  }

  /** The chunk holding `slot` and the element offset of its row there (no allocation: the hot path). */
  chunkOf(slot: number): Float32Array {
    return this.#chunks[slot >>> this.shift]!;
  }

  offsetOf(slot: number): number {
    return (slot & (this.#rows - 1)) * this.dim;
  }

  /** Stores `dim` floats from `src[srcOff…]` at `slot` (reserve first). */
  set(slot: number, src: Float32Array, srcOff = 0): void {
    this.chunkOf(slot).set(src.subarray(srcOff, srcOff + this.dim), this.offsetOf(slot));
  }

  /** A copy of the vector at `slot`. */
  get(slot: number): Float32Array {
    const o = this.offsetOf(slot);
    return this.chunkOf(slot).slice(o, o + this.dim);
  }

  /** A view of the vector at `slot` (valid until the store is permuted or truncated). */
  view(slot: number): Float32Array {
    const o = this.offsetOf(slot);
    return this.chunkOf(slot).subarray(o, o + this.dim);
  }

  /** Copies the vector at `from` to `to`. */
  move(from: number, to: number): void {
    this.chunkOf(to).set(this.view(from), this.offsetOf(to));
  }

  /** Renumbers slots: new slot t holds what old slot order[t] held, for t < n (HNSW's optimize). */
  permute(order: ArrayLike<number>, n: number): void {
    const old = this.#chunks;
    const oldView = (s: number): Float32Array => {
      const o = (s & (this.#rows - 1)) * this.dim;
      return old[s >>> this.shift]!.subarray(o, o + this.dim);
    };
    this.#chunks = [];
    this.reserve(Math.max(n, old.length * this.#rows));
    for (let t = 0; t < n; t++) this.chunkOf(t).set(oldView(order[t]!), this.offsetOf(t));
  }

  /** Writes slots 0 … n−1: the chunk count, then each chunk's used rows as an f32 array. */
  write(w: BinaryWriter, n: number): void {
    const chunks = Math.ceil(n / this.#rows);
    w.u32(chunks);
    for (let c = 0; c < chunks; c++) {
      const rows = Math.min(this.#rows, n - c * this.#rows);
      w.f32s(this.#chunks[c]!.subarray(0, rows * this.dim));
    }
  }

  /** Reads what `write` wrote for `n` slots, straight into the chunks. */
  read(r: BinaryReader, n: number, field = 'float vectors'): void {
    const chunks = r.u32(`${field} chunk count`);
    if (chunks !== Math.ceil(n / this.#rows)) r.fail(field, `${chunks} chunks, expected ${Math.ceil(n / this.#rows)} for ${n} vectors`);
    this.reserve(n);
    for (let c = 0; c < chunks; c++) {
      const rows = Math.min(this.#rows, n - c * this.#rows);
      const ch = this.#chunks[c]!;
      r.sectionInto(new Uint8Array(ch.buffer, ch.byteOffset, ch.byteLength), 0, 4, field, rows * this.dim);
    }
  }
}
