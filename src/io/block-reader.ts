/**
 * Reads a file in blocks through one reusable buffer: lines, byte runs up to a delimiter and
 * fixed-size byte runs, each returned as a view that stays valid until the next call. The buffer
 * grows only when a single line or run is longer than it, so files of any size stream through.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { OmnivecError } from '../errors.js';

export const DEFAULT_BLOCK_SIZE = 64 * 1024;

/** The longest text line a reader accepts (a 65 536-d vector as JSON text is about 1.5 MB). */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

/** Maps the errors of opening a file to omnivec's codes (a missing file is `not_found`). */
export function fileError(path: string, e: unknown): unknown {
  const code = (e as { code?: string } | null)?.code;
  if (code === 'ENOENT') return new OmnivecError('not_found', `${path}: file not found`, { path });
  if (code === 'EISDIR') return new OmnivecError('invalid_argument', `${path}: expected a file, got a directory`, { path });
  if (code === 'EACCES' || code === 'EPERM') return new OmnivecError('invalid_argument', `${path}: permission denied`, { path });
  return e;
}

/** The size of a file; `not_found` when it does not exist. */
export async function fileSize(path: string): Promise<number> {
  try {
    const s = await stat(path);
    if (s.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
    return s.size;
  } catch (e) {
    throw fileError(path, e);
  }
}

export class BlockReader {
  private buf: Buffer;
  /** First unread byte in `buf`. */
  private start = 0;
  /** End of the bytes read into `buf`. */
  private end = 0;
  /** File offset of `buf[0]`. */
  private base: number;
  private eof = false;
  /** Number of lines returned by `readLine` so far (so the 1-based number of the last one). */
  line = 0;
  /** True when the last line returned was ended by `\r\n`. */
  lastHadCr = false;

  private constructor(private readonly fh: FileHandle, readonly path: string, private readonly blockSize: number, position: number) {
    this.buf = Buffer.allocUnsafe(blockSize);
    this.base = position;
  }

  static async open(path: string, blockSize = DEFAULT_BLOCK_SIZE, position = 0): Promise<BlockReader> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      throw fileError(path, e);
    }
    return new BlockReader(fh, path, blockSize, position);
  }

  /** File offset of the next unread byte. */
  get offset(): number {
    return this.base + this.start;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  /** Makes at least `n` unread bytes available unless the file ends first; returns how many are. */
  private async ensure(n: number): Promise<number> {
    if (this.end - this.start >= n || this.eof) return this.end - this.start;
    if (this.start > 0) {
      this.buf.copy(this.buf, 0, this.start, this.end);
      this.base += this.start;
      this.end -= this.start;
      this.start = 0;
    }
    if (n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
      this.buf.copy(bigger, 0, 0, this.end);
      this.buf = bigger;
    }
    while (this.end < n && !this.eof) {
      const want = Math.min(this.blockSize, this.buf.length - this.end);
      const { bytesRead } = await this.fh.read(this.buf, this.end, want, this.base + this.end);
      if (bytesRead === 0) this.eof = true;
      this.end += bytesRead;
    }
    return this.end - this.start;
  }

  /** Whether any byte is left. */
  async atEnd(): Promise<boolean> {
    return (await this.ensure(1)) === 0;
  }

  /**
   * The bytes up to (not including) the next `delimiter`, which is consumed; at the end of the file
   * the remaining bytes (`found` false), or null when nothing is left. Throws `corrupt_file` when no
   * delimiter comes within `maxLength` bytes.
   */
  async readUntil(delimiter: number, maxLength = Infinity, what?: string): Promise<{ bytes: Buffer; found: boolean } | null> {
    let scanned = 0;
    for (;;) {
      const avail = this.end - this.start;
      const i = this.buf.subarray(this.start + scanned, this.end).indexOf(delimiter);
      if (i >= 0) {
        const stop = this.start + scanned + i;
        if (stop - this.start > maxLength) break;
        const bytes = this.buf.subarray(this.start, stop);
        this.start = stop + 1;
        return { bytes, found: true };
      }
      scanned = avail;
      if (scanned > maxLength) break;
      if (this.eof) {
        if (avail === 0) return null;
        const bytes = this.buf.subarray(this.start, this.end);
        this.start = this.end;
        return { bytes, found: false };
      }
      await this.ensure(avail + this.blockSize);
    }
    const expected = what ?? `a delimiter 0x${delimiter.toString(16).padStart(2, '0')}`;
    throw new OmnivecError('corrupt_file',
      `${this.path}: byte ${this.offset}: expected ${expected} within ${maxLength} bytes, got none`,
      { path: this.path, offset: this.offset });
  }

  /**
   * The next line without its `\n` or `\r\n`, or null at the end of the file. A line longer than
   * MAX_LINE_BYTES is `corrupt_file` (a binary file read as text would otherwise be one huge line).
   */
  async readLine(): Promise<Buffer | null> {
    const r = await this.readUntil(0x0a, MAX_LINE_BYTES, `a line break (line ${this.line + 1}; is this a text file?)`);
    if (r === null) return null;
    this.line++;
    let bytes = r.bytes;
    this.lastHadCr = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d;
    if (this.lastHadCr) bytes = bytes.subarray(0, bytes.length - 1);
    return bytes;
  }

  /** The next `n` bytes, or fewer when the file ends first. */
  async readBytes(n: number): Promise<Buffer> {
    const avail = await this.ensure(n);
    const take = Math.min(n, avail);
    const bytes = this.buf.subarray(this.start, this.start + take);
    this.start += take;
    return bytes;
  }

  /** The next byte without consuming it, or -1 at the end. */
  async peekByte(): Promise<number> {
    return (await this.ensure(1)) === 0 ? -1 : this.buf[this.start]!;
  }

  skip(n: number): void {
    this.start += n;
  }
}

/** Runs `body` with a reader of `path`, closing it afterwards whatever happens. */
export async function withReader<T>(path: string, blockSize: number | undefined, body: (r: BlockReader) => Promise<T>): Promise<T> {
  const r = await BlockReader.open(path, blockSize ?? DEFAULT_BLOCK_SIZE);
  try {
    return await body(r);
  } finally {
    await r.close();
  }
}

/**
 * An async iterable that opens `path` anew each time it is iterated and closes it when the loop
 * ends (normally, by `break`, or by an error).
 */
export function readerIterable<T>(path: string, blockSize: number | undefined,
  body: (r: BlockReader) => AsyncGenerator<T>): AsyncIterable<T> {
  return {
    async *[Symbol.asyncIterator]() {
      const r = await BlockReader.open(path, blockSize ?? DEFAULT_BLOCK_SIZE);
      try {
        yield* body(r);
      } finally {
        await r.close();
      }
    },
  };
}
