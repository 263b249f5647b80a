import { crc32 } from 'node:zlib';
import { OmnivecError } from '../errors.js';

/**
 * Little-endian binary writer that collects chunks (no single huge buffer is built while writing)
 * and a bounds-checked reader over one buffer. Typed-array sections are padded to 8 bytes so they
 * could be viewed in place; every read past the end is reported as a corrupt (truncated) file.
 */
export class BinaryWriter {
  #chunks: Uint8Array[] = [];
  #length = 0;
  #scratch = new DataView(new ArrayBuffer(8));
  readonly #copy: boolean;

  /**
   * `copy: false` keeps views of large typed-array sections instead of copying them: only for a
   * caller that guarantees the memory does not change (or grow) until the chunks are written, as
   * the database does for its snapshots (written under its writer mutex).
   */
  constructor(options: { copy?: boolean } = {}) {
    this.#copy = options.copy ?? true;
  }

  get length(): number {
    return this.#length;
  }

  chunks(): readonly Uint8Array[] {
    return this.#chunks;
  }

  bytes(src: Uint8Array): void {
    // Copy: callers may pass views of memory that changes after writing (an index's arena).
    this.#chunks.push(src.slice());
    this.#length += src.length;
  }

  u8(v: number): void {
    this.bytes(Uint8Array.of(v));
  }

  u32(v: number): void {
    this.#scratch.setUint32(0, v, true);
    this.bytes(new Uint8Array(this.#scratch.buffer, 0, 4));
  }

  f64(v: number): void {
    this.#scratch.setFloat64(0, v, true);
    this.bytes(new Uint8Array(this.#scratch.buffer, 0, 8));
  }

  /** Length-prefixed UTF-8 JSON (parameters and other small structured data). */
  json(value: unknown): void {
    const b = new TextEncoder().encode(JSON.stringify(value));
    this.u32(b.length);
    this.bytes(b);
  }

  #pad(): void {
    const r = this.#length % 8;
    if (r !== 0) this.bytes(new Uint8Array(8 - r));
  }

  /** A length-prefixed typed array (u32 element count, padding to 8, raw little-endian elements). */
  f32s(a: Float32Array): void {
    this.u32(a.length);
    this.#pad();
    this.#section(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }

  u32s(a: Uint32Array): void {
    this.u32(a.length);
    this.#pad();
    this.#section(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }

  u8s(a: Uint8Array): void {
    this.u32(a.length);
    this.#pad();
    this.#section(a);
  }

  #section(b: Uint8Array): void {
    if (this.#copy) {
      this.bytes(b);
    } else {
      this.#chunks.push(b);
      this.#length += b.length;
    }
  }

  /** Concatenates everything written. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let o = 0;
    for (const c of this.#chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

/**
 * Where a BinaryReader's bytes come from when they are not all in memory: positional reads of a
 * file (`readSync` on a descriptor). `length` is the payload's length, positions are payload-relative.
 */
export interface ByteSource {
  readonly length: number;
  readAt(dst: Uint8Array, dstOffset: number, length: number, position: number): void;
}

const WINDOW = 4 << 20;

export class BinaryReader {
  /** The bytes in memory: the whole payload, or (file-backed) a window starting at #winStart. */
  #buf: Uint8Array;
  #view: DataView;
  #winStart = 0;
  readonly #length: number;
  readonly #source: ByteSource | undefined;
  /** File-backed: CRC-32 of every byte loaded so far (in file order), checked by end(). */
  #crc = 0;
  readonly #expectedCrc: number | undefined;
  readonly #base: number;
  #pos = 0;
  readonly #what: string;

  /**
   * `base` is the absolute offset of `buf[0]` in the file, so padding matches the writer's. With a
   * `source` instead of a buffer, bytes are read from it as needed (in a window, or straight into
   * the caller's memory with `u8sInto`) and their CRC-32 is checked against `expectedCrc` at end()
   * (not computed at all without one).
   */
  constructor(buf: Uint8Array | ByteSource, what = 'file', base = 0, expectedCrc?: number) {
    if (buf instanceof Uint8Array) {
      this.#buf = buf;
      this.#length = buf.length;
      this.#source = undefined;
    } else {
      this.#buf = new Uint8Array(0);
      this.#length = buf.length;
      this.#source = buf;
    }
    this.#view = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.byteLength);
    this.#what = what;
    this.#base = base;
    this.#expectedCrc = expectedCrc;
  }

  get position(): number {
    return this.#pos;
  }

  get remaining(): number {
    return this.#length - this.#pos;
  }

  #need(n: number, field: string): void {
    if (n < 0 || this.#pos + n > this.#length) {
      throw new OmnivecError('corrupt_file',
        `${this.#what}: truncated or corrupt while reading ${field}: expected ${n} more bytes at offset ${this.#pos}, ${this.#length - this.#pos} remain`);
    }
    if (this.#source !== undefined && this.#pos + n > this.#winStart + this.#buf.length) this.#refill(n);
  }

  /** File-backed: a new window from #pos holding at least n bytes (the unread tail is kept, never re-read). */
  #refill(n: number): void {
    const src = this.#source!;
    const keep = this.#buf.subarray(this.#pos - this.#winStart);
    const size = Math.min(this.#length - this.#pos, Math.max(n, WINDOW));
    const next = new Uint8Array(size);
    next.set(keep);
    const from = this.#pos + keep.length;
    const fresh = size - keep.length;
    src.readAt(next, keep.length, fresh, from);
    if (this.#expectedCrc !== undefined) this.#crc = crc32(next.subarray(keep.length), this.#crc) >>> 0;
    this.#buf = next;
    this.#winStart = this.#pos;
    this.#view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  u8(field = 'u8'): number {
    this.#need(1, field);
    return this.#buf[this.#pos++ - this.#winStart]!;
  }

  u32(field = 'u32'): number {
    this.#need(4, field);
    const v = this.#view.getUint32(this.#pos - this.#winStart, true);
    this.#pos += 4;
    return v;
  }

  f64(field = 'f64'): number {
    this.#need(8, field);
    const v = this.#view.getFloat64(this.#pos - this.#winStart, true);
    this.#pos += 8;
    return v;
  }

  /** The next n bytes as a view (valid until the next read of a file-backed reader). */
  bytes(n: number, field = 'bytes'): Uint8Array {
    this.#need(n, field);
    const o = this.#pos - this.#winStart;
    const v = this.#buf.subarray(o, o + n);
    this.#pos += n;
    return v;
  }

  json<T = unknown>(field = 'json'): T {
    const n = this.u32(field);
    const b = this.bytes(n, field);
    try {
      return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b)) as T;
    } catch {
      throw new OmnivecError('corrupt_file', `${this.#what}: ${field} is not valid UTF-8 JSON`);
    }
  }

  #pad(): void {
    const r = (this.#base + this.#pos) % 8;
    if (r !== 0) this.bytes(8 - r, 'padding');
  }

  #count(field: string, bytesPer: number, expected?: number): number {
    const n = this.u32(field);
    if (expected !== undefined && n !== expected) {
      throw new OmnivecError('corrupt_file', `${this.#what}: ${field}: expected ${expected} elements, the file says ${n}`);
    }
    this.#pad();
    if (n * bytesPer > this.#length - this.#pos) this.#need(n * bytesPer, field);
    return n;
  }

  /** Reads a typed-array section as raw bytes (copy them where they must live). */
  f32sBytes(field = 'f32 array', expected?: number): Uint8Array {
    const n = this.#count(field, 4, expected);
    return this.bytes(n * 4, field);
  }

  f32s(field = 'f32 array', expected?: number): Float32Array {
    const b = this.f32sBytes(field, expected);
    const out = new Float32Array(b.length / 4);
    new Uint8Array(out.buffer).set(b);
    return out;
  }

  u32s(field = 'u32 array', expected?: number): Uint32Array {
    const n = this.#count(field, 4, expected);
    const b = this.bytes(n * 4, field);
    const out = new Uint32Array(n);
    new Uint8Array(out.buffer).set(b);
    return out;
  }

  u8s(field = 'u8 array', expected?: number): Uint8Array {
    return this.u8sView(field, expected).slice();
  }

  /** Like u8s, but a view of the buffer being read (no copy): for a caller that copies it at once. */
  u8sView(field = 'u8 array', expected?: number): Uint8Array {
    const n = this.#count(field, 1, expected);
    return this.bytes(n, field);
  }

  /**
   * Reads a u8 section straight into `dst` at `offset` (an index's memory): a file-backed reader
   * reads the file into it with no intermediate buffer. Returns the section's length.
   */
  u8sInto(dst: Uint8Array, offset: number, field = 'u8 array', expected?: number): number {
    return this.sectionInto(dst, offset, 1, field, expected);
  }

  /** Any typed-array section (`bytesPer` bytes an element) straight into `dst`; returns its length in bytes. */
  sectionInto(dst: Uint8Array, offset: number, bytesPer: number, field = 'array', expected?: number): number {
    const n = this.#count(field, bytesPer, expected) * bytesPer;
    if (this.#source === undefined) {
      dst.set(this.bytes(n, field), offset);
      return n;
    }
    // What the window already holds (its CRC is counted), then the rest from the file.
    const inWin = Math.min(n, this.#winStart + this.#buf.length - this.#pos);
    if (inWin > 0) dst.set(this.bytes(inWin, field), offset);
    const rest = n - inWin;
    if (rest > 0) {
      this.#source.readAt(dst, offset + inWin, rest, this.#pos);
      if (this.#expectedCrc !== undefined) this.#crc = crc32(dst.subarray(offset + inWin, offset + n), this.#crc) >>> 0;
      this.#pos += rest;
      this.#buf = new Uint8Array(0);
      this.#winStart = this.#pos;
      this.#view = new DataView(this.#buf.buffer);
    }
    return n;
  }

  /** Fails unless every byte was read (trailing garbage means the file is not what it claims); checks a file-backed payload's CRC. */
  end(): void {
    if (this.#pos !== this.#length) {
      throw new OmnivecError('corrupt_file', `${this.#what}: ${this.#length - this.#pos} unexpected bytes after the payload`);
    }
    if (this.#source !== undefined && this.#expectedCrc !== undefined && this.#crc !== this.#expectedCrc) {
      throw new OmnivecError('corrupt_file',
        `${this.#what}: payload checksum mismatch (stored 0x${this.#expectedCrc.toString(16).padStart(8, '0')}, computed 0x${this.#crc.toString(16).padStart(8, '0')}): the file was altered or damaged`);
    }
  }

  /** Fails with a corrupt_file error naming the field. */
  fail(field: string, message: string): never {
    throw new OmnivecError('corrupt_file', `${this.#what}: ${field}: ${message}`);
  }
}
