import { describe, invalidArgument } from '../../errors.js';

/**
 * Cuts a long document into overlapping windows of about `size` tokens for ingest. Windows are
 * made of whole words (runs of non-space characters, found with their offsets), so each chunk is
 * an exact substring of the document, `text.slice(start, end)`. A word longer than `size` tokens
 * becomes a chunk of its own (the encoder then truncates it).
 */
export interface Chunk {
  text: string;
  start: number;
  end: number;
  /** Tokens counted in the chunk (special tokens not included). */
  tokens: number;
}

export interface ChunkOptions {
  /** Tokens per chunk (special tokens not included). */
  size: number;
  /** Tokens shared by consecutive chunks. Default size / 8, rounded down. */
  overlap?: number;
}

/** `count(word)` gives the tokens of one word (e.g. TextTokenizer.count). */
export function chunkText(text: string, count: (word: string) => number, options: ChunkOptions): Chunk[] {
  if (typeof text !== 'string') throw invalidArgument(`text: expected a string, got ${describe(text)}`);
  const size = options.size;
  if (!Number.isInteger(size) || size < 1) throw invalidArgument(`size: expected a positive integer, got ${describe(size)}`);
  const overlap = options.overlap ?? Math.floor(size / 8);
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= size) {
    throw invalidArgument(`overlap: expected an integer from 0 to ${size - 1} (below size), got ${describe(options.overlap)}`);
  }
  const words: { start: number; end: number; n: number }[] = [];
  for (const m of text.matchAll(/\S+/gu)) words.push({ start: m.index, end: m.index + m[0].length, n: Math.max(1, count(m[0])) });
  const chunks: Chunk[] = [];
  let i = 0;
  while (i < words.length) {
    let j = i;
    let n = 0;
    while (j < words.length && (j === i || n + words[j]!.n <= size)) n += words[j++]!.n;
    const start = words[i]!.start;
    const end = words[j - 1]!.end;
    chunks.push({ text: text.slice(start, end), start, end, tokens: n });
    if (j >= words.length) break;
    // Step back over the last words until `overlap` tokens are shared (always advance by one word).
    let back = j;
    let shared = 0;
    while (back - 1 > i && shared + words[back - 1]!.n <= overlap) shared += words[--back]!.n;
    i = back;
  }
  return chunks;
}
