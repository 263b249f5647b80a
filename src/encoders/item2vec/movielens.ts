/**
 * MovieLens files (ratings.csv, movies.csv of the GroupLens "latest" datasets) as item sequences:
 * each user's liked movies (rating ≥ `minRating`) sorted by time, ties by movieId.
 * Design: docs/item2vec.md.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OmnivecError, invalidArgument } from '../../errors.js';

/** The guide's example history (Pulp Fiction, True Lies, Ace Ventura, Aladdin, …), oldest first. */
export const GUIDE_HISTORY: readonly string[] = ['296', '380', '344', '588', '593', '231', '595', '318', '480'];

/** Splits one CSV line (RFC 4180 quoting: `"a, b"`, `""` for a quote). */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  const n = line.length;
  for (;;) {
    if (line[i] === '"') {
      let cell = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) { cell += line.slice(i); i = n; break; }
        cell += line.slice(i, q);
        if (line[q + 1] === '"') { cell += '"'; i = q + 2; } else { i = q + 1; break; }
      }
      out.push(cell);
      const c = line.indexOf(',', i);
      if (c < 0) return out;
      i = c + 1;
    } else {
      const c = line.indexOf(',', i);
      if (c < 0) { out.push(line.slice(i)); return out; }
      out.push(line.slice(i, c));
      i = c + 1;
    }
  }
}

async function readLines(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new OmnivecError('not_found', `${path}: no such file (expected a MovieLens directory with ratings.csv and movies.csv)`, { path });
    throw e;
  }
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function header(path: string, line: string | undefined, wanted: string[]): number[] {
  const cols = splitCsvLine((line ?? '').replace(/^\uFEFF/, ''));
  return wanted.map((w) => {
    const i = cols.indexOf(w);
    if (i < 0) throw new OmnivecError('corrupt_file', `${path}:1: expected a header with ${wanted.join(',')}, got ${JSON.stringify(line ?? '')}`, { path, line: 1 });
    return i;
  });
}

const compareIds = (a: string, b: string): number => {
  const x = Number(a);
  const y = Number(b);
  if (Number.isFinite(x) && Number.isFinite(y) && x !== y) return x - y;
  return a < b ? -1 : a > b ? 1 : 0;
};

/**
 * Reads `dir/ratings.csv` (userId,movieId,rating,timestamp) into sequences: per user (in order of
 * first appearance), the movies rated ≥ `minRating` (default 4), oldest first, ties by movieId.
 * Users with no such rating are left out.
 */
export async function readMovieLensSequences(dir: string, options: { minRating?: number } = {}): Promise<Map<string, string[]>> {
  const minRating = options.minRating ?? 4;
  if (typeof minRating !== 'number' || !Number.isFinite(minRating)) throw invalidArgument(`minRating: expected a number, got ${String(minRating)}`);
  const path = join(dir, 'ratings.csv');
  const lines = await readLines(path);
  const [cu, cm, cr, ct] = header(path, lines[0], ['userId', 'movieId', 'rating', 'timestamp']);
  const byUser = new Map<string, { item: string; time: number }[]>();
  for (let n = 1; n < lines.length; n++) {
    if (lines[n] === '') continue;
    const f = splitCsvLine(lines[n]!);
    const rating = Number(f[cr!]);
    const time = Number(f[ct!]);
    const user = f[cu!];
    const item = f[cm!];
    if (user === undefined || item === undefined || item === '' || !Number.isFinite(rating) || !Number.isFinite(time)) {
      throw new OmnivecError('corrupt_file', `${path}:${n + 1}: expected userId,movieId,rating,timestamp, got ${JSON.stringify(lines[n])}`, { path, line: n + 1 });
    }
    if (rating < minRating) continue;
    let list = byUser.get(user);
    if (list === undefined) byUser.set(user, (list = []));
    list.push({ item, time });
  }
  const out = new Map<string, string[]>();
  for (const [user, list] of byUser) {
    list.sort((a, b) => a.time - b.time || compareIds(a.item, b.item));
    out.set(user, list.map((x) => x.item));
  }
  return out;
}

/** Reads `dir/movies.csv` (movieId,title,genres): movieId → title. */
export async function readMovieTitles(dir: string): Promise<Map<string, string>> {
  const path = join(dir, 'movies.csv');
  const lines = await readLines(path);
  const [cm, ct] = header(path, lines[0], ['movieId', 'title']);
  const titles = new Map<string, string>();
  for (let n = 1; n < lines.length; n++) {
    if (lines[n] === '') continue;
    const f = splitCsvLine(lines[n]!);
    if (f[cm!] !== undefined && f[ct!] !== undefined) titles.set(f[cm!]!, f[ct!]!);
  }
  return titles;
}
