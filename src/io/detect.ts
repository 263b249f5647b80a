/**
 * Which format a file is in: by its extension, and by its first bytes when the extension does not
 * settle it (`.txt`, `.bin`, anything else).
 */
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { extname } from 'node:path';
import { OmnivecError } from '../errors.js';
import { fileError } from './block-reader.js';
import { FORMATS, MAX_DIM, parseNumber, type ImportFormat } from './common.js';

const BY_EXTENSION: Record<string, ImportFormat> = {
  '.jsonl': 'jsonl', '.ndjson': 'jsonl', '.csv': 'csv', '.npy': 'npy', '.fvecs': 'fvecs',
  '.vec': 'word2vec', '.tsv': 'projector',
};

const SNIFF_BYTES = 4096;

function isNumberToken(t: string): boolean {
  return parseNumber(t) !== undefined;
}

/** The format the first bytes of a file look like, or undefined. */
export function sniff(head: Buffer, size: number): ImportFormat | undefined {
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]))) return 'npy';
  if (head.length >= 8) {
    const d = head.readInt32LE(0);
    if (d >= 1 && d <= MAX_DIM && size % (4 + 4 * d) === 0 && (head.length < 4 + 4 * d + 4 || head.readInt32LE(4 + 4 * d) === d)) {
      return 'fvecs';
    }
  }
  const nl = head.indexOf(0x0a);
  const first = head.subarray(0, nl < 0 ? head.length : nl).toString('utf8').replace(/^\uFEFF/, '').replace(/\r$/, '');
  if (/^\s*\d+[ \t]+\d+\s*$/.test(first)) {
    // A word2vec header: text when what follows the first word is text numbers.
    if (nl < 0) return 'word2vec';
    const rest = head.subarray(nl + 1);
    const sp = rest.indexOf(0x20);
    if (sp < 0) return rest.length < 64 ? 'word2vec' : 'word2vec-binary';
    const after = rest.subarray(sp + 1, sp + 1 + 16);
    return after.every((b) => (b >= 0x30 && b <= 0x39) || b === 0x2e || b === 0x2d || b === 0x2b || b === 0x65 || b === 0x45 ||
      b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09 || b === 0x6e || b === 0x61 || b === 0x69 || b === 0x66)
      ? 'word2vec' : 'word2vec-binary';
  }
  const trimmed = first.trim();
  if (trimmed.startsWith('{')) return 'jsonl';
  if (first.includes('\t')) {
    const cells = trimmed.split(/\t+/);
    if (cells.every(isNumberToken)) return 'projector';
  }
  if (first.includes(',')) return 'csv';
  const fields = trimmed.split(/[ \t]+/);
  if (fields.length >= 2 && fields.slice(1).every(isNumberToken)) return 'word2vec';
  return undefined;
}

function readHead(path: string): { head: Buffer; size: number } | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return undefined;
    throw fileError(path, e);
  }
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(SNIFF_BYTES, size));
    let got = 0;
    while (got < head.length) {
      const n = readSync(fd, head, got, head.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return { head: head.subarray(0, got), size };
  } catch (e) {
    throw fileError(path, e);
  } finally {
    closeSync(fd);
  }
}

/**
 * The format of `path`: `.jsonl`/`.ndjson`, `.csv`, `.npy`, `.fvecs`, `.vec` (word2vec text) and
 * `.tsv` (projector) by extension; `.txt` (word2vec text unless it looks like projector TSV or JSON Lines), `.bin`
 * (word2vec binary unless it looks like .npy or .fvecs) and other names by their first bytes. A file
 * that does not exist is judged by its extension alone (so this also names the format to write).
 */
export function detectFormat(path: string): ImportFormat {
  if (typeof path !== 'string' || path === '') {
    throw new OmnivecError('invalid_argument', `path: expected a file name, got ${typeof path === 'string' ? 'an empty string' : typeof path}`);
  }
  const ext = extname(path).toLowerCase();
  const known = BY_EXTENSION[ext];
  if (known !== undefined) return known;
  const file = readHead(path);
  const sniffed = file === undefined ? undefined : sniff(file.head, file.size);
  if (ext === '.txt') return sniffed === 'projector' || sniffed === 'jsonl' ? sniffed : 'word2vec';
  if (ext === '.bin') return sniffed === 'npy' || sniffed === 'fvecs' ? sniffed : 'word2vec-binary';
  if (sniffed !== undefined) return sniffed;
  const hint = ext === '.npz' ? ' (.npz archives are zip files: unzip and pass the .npy inside)'
    : ext === '.gz' || ext === '.zip' || ext === '.bz2' || ext === '.xz' ? ' (compressed files are not read: decompress first)'
      : ext === '.ivecs' ? ' (.ivecs holds neighbour ids, read with readIvecs)' : '';
  throw new OmnivecError('invalid_argument',
    `${path}: cannot tell the format ${file === undefined ? `from the extension ${JSON.stringify(ext)} (the file does not exist)` : 'from its extension or first bytes'}` +
    `${hint}; expected one of ${FORMATS.join(', ')} (extensions .jsonl .ndjson .csv .npy .fvecs .txt .vec .bin .tsv), or pass format`,
    { path });
}
