import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { OmnivecError } from '../../errors.js';

/**
 * The checkpoint file of a remote encoding job: JSON Lines, one header line then one line per
 * embedding, appended batch by batch and fsync'd before the job moves on, so that a crash or a
 * permanent API failure never loses embeddings already paid for.
 *
 *   {"omnivec":"remote-checkpoint","version":1,"model":"openai:text-embedding-3-small@256"}
 *   {"i":0,"h":"9f86d081884c7d65","e":"<base64 of the little-endian float32 vector>"}
 *
 * `i` is the input's index in the job, `h` the first 16 hex digits of sha256(text) (UTF-8): a line
 * is reused only when both match, so a changed or reordered input list re-requests what changed.
 */

export const CHECKPOINT_VERSION = 1;
const KIND = 'remote-checkpoint';

/** First 16 hex digits (64 bits) of the SHA-256 of the text's UTF-8 bytes. */
export function textHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16);
}

/** A float32 vector as base64 of its little-endian bytes (the OpenAI `encoding_format: base64`). */
export function float32ToBase64(v: Float32Array): string {
  const buf = Buffer.allocUnsafe(v.length * 4);
  for (let i = 0; i < v.length; i++) buf.writeFloatLE(v[i], i * 4);
  return buf.toString('base64');
}

/** Decodes base64 little-endian float32; undefined when the byte count is not a multiple of 4. */
export function base64ToFloat32(s: string): Float32Array | undefined {
  const buf = Buffer.from(s, 'base64');
  if (buf.length % 4 !== 0) return undefined;
  const out = new Float32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

export interface LoadCheckpointOptions {
  /** The encoder's `spec.model`; a file written for another model is refused. */
  model: string;
  /** The known dimension, if any; lines of another length are ignored. */
  dim?: number;
  onWarning?: (message: string) => void;
}

export interface LoadedCheckpoint {
  /** One slot per input: the stored vector, or undefined when it must be requested. */
  vectors: (Float32Array | undefined)[];
  /** How many slots were filled. */
  found: number;
  /** The dimension of the stored vectors (undefined when none were). */
  dim: number | undefined;
}

/**
 * Reads FILE (absent is fine: nothing is stored yet) against the job's texts. A last line without
 * its newline is a write torn by a crash: it is cut off the file here, before anything is appended
 * after it. Lines that do not match an input (index out of range, other text, other length) are
 * ignored, with one warning that counts them.
 */
export async function loadCheckpoint(file: string, texts: readonly string[], o: LoadCheckpointOptions): Promise<LoadedCheckpoint> {
  const vectors: (Float32Array | undefined)[] = new Array(texts.length).fill(undefined);
  let dim = o.dim;
  const size = await stat(file).then((s) => s.size, (e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return -1;
    throw e;
  });
  if (size <= 0) return { vectors, found: 0, dim };
  if (await cutTornTail(file, size)) o.onWarning?.(`checkpoint ${file}: ignored a torn last line (a write interrupted by a crash)`);

  const hashes = texts.map(textHash);
  const mismatched: number[] = [];
  const unreadable: number[] = [];
  let found = 0;
  let lineNo = 0;
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of lines) {
    lineNo++;
    if (line.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      unreadable.push(lineNo);
      continue;
    }
    const rec = v as { omnivec?: unknown; version?: unknown; model?: unknown; i?: unknown; h?: unknown; e?: unknown };
    if (rec.omnivec !== undefined) {
      checkHeader(file, rec, o.model);
      continue;
    }
    if (!Number.isInteger(rec.i) || typeof rec.h !== 'string' || typeof rec.e !== 'string') {
      unreadable.push(lineNo);
      continue;
    }
    const i = rec.i as number;
    const vec = base64ToFloat32(rec.e);
    if (vec === undefined || vec.length === 0) {
      unreadable.push(lineNo);
      continue;
    }
    if (i < 0 || i >= texts.length || rec.h !== hashes[i] || (dim !== undefined && vec.length !== dim)) {
      mismatched.push(i);
      continue;
    }
    dim ??= vec.length;
    if (vectors[i] === undefined) found++;
    vectors[i] = vec;
  }
  if (unreadable.length > 0) {
    o.onWarning?.(`checkpoint ${file}: ignored ${unreadable.length} unreadable line(s) (line ${unreadable.slice(0, 5).join(', ')}${unreadable.length > 5 ? ', …' : ''}); expected {"i": index, "h": hash, "e": base64}`);
  }
  if (mismatched.length > 0) {
    o.onWarning?.(`checkpoint ${file}: ignored ${mismatched.length} line(s) that match no input (index ${mismatched.slice(0, 5).join(', ')}${mismatched.length > 5 ? ', …' : ''}: other text, index out of range, or another dimension); those inputs are requested again`);
  }
  return { vectors, found, dim };
}

function checkHeader(file: string, rec: { omnivec?: unknown; version?: unknown; model?: unknown }, model: string): void {
  if (rec.omnivec !== KIND) {
    throw new OmnivecError('corrupt_file', `checkpoint ${file}: expected a "${KIND}" header, got ${JSON.stringify(rec.omnivec)}`);
  }
  if (rec.version !== CHECKPOINT_VERSION) {
    throw new OmnivecError('unsupported_version', `checkpoint ${file}: expected version ${CHECKPOINT_VERSION}, got ${JSON.stringify(rec.version)}`);
  }
  if (rec.model !== model) {
    throw new OmnivecError('invalid_argument', `checkpoint ${file}: written for model ${JSON.stringify(rec.model)}, this encoder is ${JSON.stringify(model)}; use another checkpoint file (mixing models would mix vector spaces)`);
  }
}

/** Truncates FILE after its last newline when its last byte is not one. True when it cut. */
async function cutTornTail(file: string, size: number): Promise<boolean> {
  const fh = await open(file, 'r+');
  try {
    const last = Buffer.alloc(1);
    await fh.read(last, 0, 1, size - 1);
    if (last[0] === 0x0a) return false;
    // Scan back in 64 KiB steps for the last newline (a torn line is at most one vector long).
    const chunk = Buffer.alloc(65536);
    let end = size;
    let keep = 0;
    while (end > 0) {
      const start = Math.max(0, end - chunk.length);
      const { bytesRead } = await fh.read(chunk, 0, end - start, start);
      const at = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (at >= 0) {
        keep = start + at + 1;
        break;
      }
      end = start;
    }
    await fh.truncate(keep);
    await fh.sync();
    return true;
  } finally {
    await fh.close();
  }
}

/** Appends lines to a checkpoint, one fsync per batch; appends are serialised. */
export class CheckpointWriter {
  readonly file: string;
  readonly #fh: FileHandle;
  #chain: Promise<void> = Promise.resolve();

  private constructor(file: string, fh: FileHandle) {
    this.file = file;
    this.#fh = fh;
  }

  /** Opens FILE for appending; a new (or empty) file gets the header line first. */
  static async open(file: string, model: string): Promise<CheckpointWriter> {
    const fh = await open(file, 'a');
    try {
      const { size } = await fh.stat();
      if (size === 0) {
        await fh.write(JSON.stringify({ omnivec: KIND, version: CHECKPOINT_VERSION, model }) + '\n');
        await fh.sync();
        await syncDir(dirname(file));
      }
    } catch (e) {
      await fh.close();
      throw e;
    }
    return new CheckpointWriter(file, fh);
  }

  /** Appends one batch and resolves once it is on disk (fsync). */
  append(entries: readonly { i: number; text: string; vector: Float32Array }[]): Promise<void> {
    const text = entries.map((x) => JSON.stringify({ i: x.i, h: textHash(x.text), e: float32ToBase64(x.vector) }) + '\n').join('');
    const next = this.#chain.then(async () => {
      await this.#fh.write(text);
      await this.#fh.sync();
    });
    // A failed append fails its caller; later appends still run (the file is append-only).
    this.#chain = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.#chain;
    await this.#fh.close();
  }
}

/** fsync a directory so that a new file's name is durable too (best effort: not on Windows). */
async function syncDir(dir: string): Promise<void> {
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // Directories cannot be opened for fsync on every platform; the data itself is synced.
  }
}
