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

export class BinaryReader {
  readonly #buf: Uint8Array;
  readonly #view: DataView;
  readonly #base: number;
  #pos = 0;
  readonly #what: string;

  /** `base` is the absolute offset of `buf[0]` in the file, so padding matches the writer's. */
  constructor(buf: Uint8Array, what = 'file', base = 0) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.#what = what;
    this.#base = base;
  }

  get position(): number {
    return this.#pos;
  }

  get remaining(): number {
    return this.#buf.length - this.#pos;
  }

  #need(n: number, field: string): void {
    if (n < 0 || this.#pos + n > this.#buf.length) {
      throw new OmnivecError('corrupt_file',
        `${this.#what}: truncated or corrupt while reading ${field}: expected ${n} more bytes at offset ${this.#pos}, ${this.#buf.length - this.#pos} remain`);
    }
  }

  u8(field = 'u8'): number {
    this.#need(1, field);
    return this.#buf[this.#pos++]!;
  }

  u32(field = 'u32'): number {
    this.#need(4, field);
    const v = this.#view.getUint32(this.#pos, true);
    this.#pos += 4;
    return v;
  }

  f64(field = 'f64'): number {
    this.#need(8, field);
    const v = this.#view.getFloat64(this.#pos, true);
    this.#pos += 8;
    return v;
  }

  bytes(n: number, field = 'bytes'): Uint8Array {
    this.#need(n, field);
    const v = this.#buf.subarray(this.#pos, this.#pos + n);
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
    this.#need(n * bytesPer, field);
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
    const n = this.#count(field, 1, expected);
    return this.bytes(n, field).slice();
  }

  /** Fails unless every byte was read (trailing garbage means the file is not what it claims). */
  end(): void {
    if (this.#pos !== this.#buf.length) {
      throw new OmnivecError('corrupt_file', `${this.#what}: ${this.#buf.length - this.#pos} unexpected bytes after the payload`);
    }
  }

  /** Fails with a corrupt_file error naming the field. */
  fail(field: string, message: string): never {
    throw new OmnivecError('corrupt_file', `${this.#what}: ${field}: ${message}`);
  }
}
