/**
 * Buffered output for the exporters: text and bytes are gathered into ~64 KB writes to a temporary
 * file beside the target, renamed over it only when the whole export succeeded (a failed export
 * leaves no half-written file and keeps any old one).
 */
import { lstat, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { OmnivecError } from '../errors.js';
import { fileError } from './block-reader.js';

const FLUSH_AT = 64 * 1024;

export class FileSink {
  private parts: (string | Uint8Array)[] = [];
  private pending = 0;
  private position = 0;

  private constructor(private readonly fh: FileHandle | undefined, private readonly tmp: string, readonly path: string) {}

  /** `path` '-' writes to standard output (no temporary file; a failed export leaves what was written). */
  static async create(path: string): Promise<FileSink> {
    if (path === '-') return new FileSink(undefined, '', '-');
    // A symbolic link (/dev/stdout), a device or a pipe is written in place, through the link:
    // renaming a temporary file over it would replace the link or the device node itself.
    const st = await lstat(path).catch(() => undefined);
    if (st !== undefined && !st.isFile() && !st.isDirectory()) return new FileSink(await open(path, 'w'), '', path);
    const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
    let fh: FileHandle;
    try {
      fh = await open(tmp, 'wx');
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') {
        throw new OmnivecError('not_found', `${path}: the directory ${dirname(path)} does not exist`, { path });
      }
      throw fileError(path, e);
    }
    return new FileSink(fh, tmp, path);
  }

  /** Appends text (as UTF-8) or bytes; flushes when enough is gathered. */
  async write(part: string | Uint8Array): Promise<void> {
    this.parts.push(part);
    this.pending += part.length;
    if (this.pending >= FLUSH_AT) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const chunks = this.parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p));
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    this.parts = [];
    this.pending = 0;
    await this.writeAt(bytes, this.position);
    this.position += bytes.length;
  }

  /** Writes bytes at a given offset (after a flush: used to patch a header once the count is known). */
  async writeAt(bytes: Uint8Array, position: number): Promise<void> {
    if (this.fh === undefined) {
      if (position !== this.position) throw new OmnivecError('invalid_argument', 'standard output: this format patches its header after writing; give a file path instead of -');
      const out = process.stdout;
      if (!out.write(bytes)) await new Promise<void>((res) => out.once('drain', () => res()));
      return;
    }
    let off = 0;
    while (off < bytes.length) {
      const { bytesWritten } = await this.fh.write(bytes, off, bytes.length - off, this.tmp === '' ? null : position + off);
      off += bytesWritten;
    }
  }

  /** Flushes, closes and renames the temporary file over the target. */
  async commit(): Promise<void> {
    await this.flush();
    if (this.fh === undefined) return;
    await this.fh.close();
    if (this.tmp === '') return;
    try {
      await rename(this.tmp, this.path);
    } catch (e) {
      await unlink(this.tmp).catch(() => undefined);
      throw fileError(this.path, e);
    }
  }

  /** Closes and deletes the temporary file. */
  async abort(): Promise<void> {
    if (this.fh === undefined) return;
    await this.fh.close().catch(() => undefined);
    if (this.tmp === '') return;
    await unlink(this.tmp).catch(() => undefined);
  }
}

/** Runs `body` with a sink for `path`: commits when it returns, aborts when it throws. */
export async function withSink<T>(path: string, body: (sink: FileSink) => Promise<T>): Promise<T> {
  const sink = await FileSink.create(path);
  let result: T;
  try {
    result = await body(sink);
  } catch (e) {
    await sink.abort();
    throw e;
  }
  await sink.commit();
  return result;
}
