/**
 * The durable home of an embedded collection's vectors (docs/db.md, "Vectors stored once";
 * docs/file-format.md, "Vector file"): `DIR/vectors/c<cid>.vec`, a 64-byte header then row `s` =
 * slot `s` = `dim` little-endian float32 at `HEADER + s × dim × 4`.
 *
 * Slots are never reused (the collection's `next_slot` only grows), so a committed row never
 * changes: the writer fills new slots with positional writes inside its SQLite transaction,
 * fdatasyncs the file (durability 'full') and only then lets SQLite commit. Bytes past the
 * committed `next_slot` (a crash before COMMIT) are referenced by nothing and overwritten by the
 * next write. Readers read committed slots only, which are always complete in the file.
 *
 * Each row's CRC-32 lives in its SQLite row (`vcrc`), so `verify` names a damaged row; the header
 * has its own CRC.
 */
import { closeSync, fdatasync, fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { OmnivecError } from '../../../errors.js';

export const VECTOR_DIR = 'vectors';
export const VECTOR_HEADER = 64;
export const VECTOR_VERSION = 1;
const MAGIC = 'OMNIVVEC';

/**
 * The vector file of collection `cid` at generation `gen` (`collections.vec_gen`): `c<cid>.vec`
 * first, `c<cid>.<gen>.vec` after each compaction that rewrote it without holes.
 */
export function vectorFilePath(dir: string, cid: number, gen = 0): string {
  return join(dir, VECTOR_DIR, gen === 0 ? `c${cid}.vec` : `c${cid}.${gen}.vec`);
}

/** A vector file's name: collection number and generation. */
export const VECTOR_FILE_NAME = /^c(\d+)(?:\.(\d+))?\.vec$/;

/** CRC-32 of a row's bytes (what `vcrc` stores). */
export function rowCrc(bytes: Uint8Array): number {
  return crc32(bytes) >>> 0;
}

function header(dim: number, cid: number): Buffer {
  const b = Buffer.alloc(VECTOR_HEADER);
  b.write(MAGIC, 0, 'latin1');
  b.writeUInt32LE(VECTOR_VERSION, 8);
  b.writeUInt32LE(dim, 12);
  b.writeUInt32LE(cid, 16);
  b.writeUInt32LE(crc32(b.subarray(0, 60)) >>> 0, 60);
  return b;
}

/** Makes a new file's directory entry durable (a created file must survive power loss with the commit that uses it). */
export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

export interface VectorFileOptions {
  readOnly: boolean;
  /** Create the file (with its header) when missing. */
  create: boolean;
}

export class VectorFile {
  readonly dim: number;
  readonly cid: number;
  readonly #rowBytes: number;
  readonly #readOnly: boolean;
  #path: string;
  #gen: number;
  #fd: number;
  #headerProblem: string | undefined;

  private constructor(path: string, fd: number, dim: number, cid: number, readOnly: boolean, gen: number) {
    this.#path = path;
    this.#fd = fd;
    this.dim = dim;
    this.cid = cid;
    this.#rowBytes = dim * 4;
    this.#readOnly = readOnly;
    this.#gen = gen;
  }

  get path(): string {
    return this.#path;
  }

  /** The generation this handle reads (compaction moves a collection to the next one). */
  get gen(): number {
    return this.#gen;
  }

  /**
   * Moves this handle to another generation's file (after the commit that switched the
   * collection to it): every holder of this object reads the new file from now on.
   */
  switchTo(path: string, gen: number): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
    this.#path = path;
    this.#gen = gen;
    this.#headerProblem = undefined;
    if (!this.#readOnly) {
      this.#fd = openSync(path, 'r+');
      this.#admitHeader();
    }
    this.#ensure();
  }

  /**
   * Opens (or creates) the vector file of collection `cid`. A missing file with `create` false
   * opens as empty (every read past its end reports the rows missing; verify names it).
   */
  static open(path: string, dim: number, cid: number, options: VectorFileOptions, gen = 0): VectorFile {
    let fd: number;
    try {
      fd = openSync(path, options.readOnly ? 'r' : 'r+');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      if (!options.create) return new VectorFile(path, -1, dim, cid, options.readOnly, gen); // a read-only handle retries on read
      mkdirSync(dirname(path), { recursive: true });
      fd = openSync(path, 'w+');
      writeSync(fd, header(dim, cid), 0, VECTOR_HEADER, 0);
      fdatasyncSync(fd);
      syncDir(dirname(path));
      return new VectorFile(path, fd, dim, cid, options.readOnly, gen);
    }
    const f = new VectorFile(path, fd, dim, cid, options.readOnly, gen);
    f.#admitHeader();
    return f;
  }

  /**
   * Checks the header of the file just opened. A newer format version is refused; a damaged or
   * foreign header is never fatal: the rows sit at fixed offsets and each is checked against its
   * record's CRC anyway, so the file stays readable, `headerProblem` says what was wrong (verify
   * reports it), and a writer rewrites the header, which is derived from the collection.
   */
  #admitHeader(): void {
    try {
      this.#checkHeader();
    } catch (e) {
      if (!(e instanceof OmnivecError) || e.code !== 'corrupt_file') {
        closeSync(this.#fd);
        this.#fd = -1;
        throw e;
      }
      this.#headerProblem = this.#readOnly ? e.message : `${e.message} (rewritten)`;
      if (!this.#readOnly) {
        writeSync(this.#fd, header(this.dim, this.cid), 0, VECTOR_HEADER, 0);
        fdatasyncSync(this.#fd);
      }
    }
  }

  /** What was wrong with the header when this handle opened the file (undefined: nothing). */
  get headerProblem(): string | undefined {
    return this.#headerProblem;
  }

  #checkHeader(): void {
    const b = Buffer.alloc(VECTOR_HEADER);
    const n = readSync(this.#fd, b, 0, VECTOR_HEADER, 0);
    const bad = (why: string): OmnivecError => new OmnivecError('corrupt_file', `vector file ${this.path}: ${why}`);
    if (n < VECTOR_HEADER) throw bad(`expected a ${VECTOR_HEADER}-byte header, got ${n} bytes`);
    if (b.toString('latin1', 0, 8) !== MAGIC) throw bad(`expected the magic "${MAGIC}", got ${JSON.stringify(b.toString('latin1', 0, 8))}`);
    if ((crc32(b.subarray(0, 60)) >>> 0) !== b.readUInt32LE(60)) throw bad('the header checksum does not match');
    const version = b.readUInt32LE(8);
    if (version !== VECTOR_VERSION) {
      throw new OmnivecError('unsupported_version', `vector file ${this.path}: format version ${version}; this omnivec reads version ${VECTOR_VERSION}`, { version, supported: VECTOR_VERSION });
    }
    if (b.readUInt32LE(12) !== this.dim) throw bad(`holds ${b.readUInt32LE(12)}-d vectors, the collection is ${this.dim}-d`);
    if (b.readUInt32LE(16) !== this.cid) throw bad(`belongs to collection number ${b.readUInt32LE(16)}, expected ${this.cid}`);
  }

  /** A read-only handle opened before the writer created the file: open it now if it is there. */
  #ensure(): void {
    if (this.#fd !== -1) return; // open, or closed (-2)
    try {
      this.#fd = openSync(this.#path, 'r');
    } catch {
      return;
    }
    this.#admitHeader();
  }

  /** Whether the file exists (a read-only open of a missing file is empty). */
  get present(): boolean {
    this.#ensure();
    return this.#fd >= 0;
  }

  /** Whole rows the file holds (committed or not). */
  get rows(): number {
    this.#ensure();
    if (this.#fd < 0) return 0;
    return Math.max(0, Math.floor((fstatSync(this.#fd).size - VECTOR_HEADER) / this.#rowBytes));
  }

  /** File size in bytes. */
  get bytes(): number {
    return this.#fd < 0 ? 0 : fstatSync(this.#fd).size;
  }

  /** Writes `count` rows starting at slot `first` (one positional write). */
  writeRows(first: number, bytes: Uint8Array): void {
    if (this.#fd < 0) throw new OmnivecError('internal', `vector file ${this.path}: not open for writing`);
    let off = 0;
    const pos = VECTOR_HEADER + first * this.#rowBytes;
    while (off < bytes.byteLength) off += writeSync(this.#fd, bytes, off, bytes.byteLength - off, pos + off);
  }

  /** Makes the rows written so far durable (before the SQLite commit that references them). */
  /**
   * fdatasync on libuv's thread pool: the caller's thread is free meanwhile (a server's loop keeps
   * answering; the write's transaction stays open until it resolves, and COMMIT follows it).
   */
  syncAsync(): Promise<void> {
    const fd = this.#fd;
    if (fd < 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e === null ? resolve() : reject(e))));
  }

  sync(): void {
    if (this.#fd >= 0) fdatasyncSync(this.#fd);
  }

  /** Cuts the file after `slots` rows (compact of a collection emptied; never below committed rows). */
  truncate(slots: number): void {
    if (this.#fd >= 0) ftruncateSync(this.#fd, VECTOR_HEADER + slots * this.#rowBytes);
  }

  /**
   * Reads rows `first … first + count - 1` into `dst` (count × dim floats); returns how many whole
   * rows were there (fewer when the file is short).
   */
  readRows(first: number, count: number, dst: Float32Array): number {
    this.#ensure();
    if (this.#fd < 0 || count === 0) return 0;
    const want = count * this.#rowBytes;
    const view = new Uint8Array(dst.buffer, dst.byteOffset, want);
    let got = 0;
    const pos = VECTOR_HEADER + first * this.#rowBytes;
    while (got < want) {
      const n = readSync(this.#fd, view, got, want - got, pos + got);
      if (n === 0) break;
      got += n;
    }
    return Math.floor(got / this.#rowBytes);
  }

  /** The bytes of one row, or undefined when the file does not hold it. */
  readRow(slot: number, dst: Float32Array): boolean {
    return this.readRows(slot, 1, dst) === 1;
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -2;
  }
}
