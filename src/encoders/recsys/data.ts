/**
 * Training data of the deep recommenders: user sequences (oldest item first) turned into item rows
 * (the vocabulary, most frequent first, ties by first appearance) and next-item examples.
 * The sequences file has one user a line: `USER<TAB>item item …`, or just the items (the user is
 * then the line number, from 1), ids separated by whitespace.
 */
import { readFile } from 'node:fs/promises';
import { OmnivecError, describe, invalidArgument } from '../../errors.js';

/** Sequences keyed by user, each oldest first (a Map keeps the users' order). */
export type UserSequences = ReadonlyMap<string, readonly string[]>;

export interface Vocabulary {
  items: string[];
  index: Map<string, number>;
  /** Occurrences of each item in the training sequences. */
  counts: Float64Array;
}

export interface EncodedSequences {
  vocab: Vocabulary;
  users: string[];
  seqs: Int32Array[];
}

/** Items of the sequences, most frequent first (ties: first appearance). */
export function buildVocabulary(sequences: UserSequences): Vocabulary {
  const counts = new Map<string, number>();
  for (const seq of sequences.values()) for (const it of seq) counts.set(it, (counts.get(it) ?? 0) + 1);
  if (counts.size === 0) throw invalidArgument('sequences: expected at least one item, got none');
  const items = [...counts.entries()].sort((a, b) => b[1] - a[1]).map((e) => e[0]);
  const index = new Map(items.map((it, i) => [it, i]));
  return { items, index, counts: Float64Array.from(items, (it) => counts.get(it)!) };
}

export function encodeSequences(sequences: UserSequences, vocab: Vocabulary): EncodedSequences {
  const users: string[] = [];
  const seqs: Int32Array[] = [];
  for (const [user, seq] of sequences) {
    users.push(user);
    seqs.push(Int32Array.from(seq, (it) => vocab.index.get(it) ?? -1).filter((x) => x >= 0));
  }
  return { vocab, users, seqs };
}

/** Checks sequences given in code: a Map of user → array of non-empty item ids. */
export function checkSequences(s: unknown): UserSequences {
  if (!(s instanceof Map)) throw invalidArgument(`sequences: expected a Map of user id → item ids (oldest first), got ${describe(s)}`);
  for (const [u, seq] of s as Map<unknown, unknown>) {
    if (!Array.isArray(seq)) throw invalidArgument(`sequences[${JSON.stringify(u)}]: expected an array of item ids, got ${describe(seq)}`);
    for (const it of seq) if (typeof it !== 'string' || it === '') throw invalidArgument(`sequences[${JSON.stringify(u)}]: expected item ids (non-empty strings), got ${describe(it)}`);
  }
  return s as UserSequences;
}

/** Parses the text of a sequences file (see the header). Blank lines are skipped but counted. */
export function parseSequences(text: string, source = 'sequences'): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!;
    if (line.trim() === '') continue;
    const tab = line.indexOf('\t');
    const user = tab >= 0 ? line.slice(0, tab).trim() : String(n + 1);
    const items = (tab >= 0 ? line.slice(tab + 1) : line).split(/\s+/).filter((x) => x !== '');
    if (user === '') throw invalidArgument(`${source}:${n + 1}: expected a user id before the tab, got an empty one`);
    if (out.has(user)) throw invalidArgument(`${source}:${n + 1}: the user ${JSON.stringify(user)} has two lines`);
    out.set(user, items);
  }
  if (out.size === 0) throw invalidArgument(`${source}: expected at least one line of item ids, got none`);
  return out;
}

export async function readSequences(path: string): Promise<Map<string, string[]>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new OmnivecError('not_found', `${path}: no such sequences file (expected one user a line, item ids separated by spaces)`, { path });
    throw e;
  }
  return parseSequences(text, path);
}

/**
 * One epoch's examples (sequence, position ≥ `first`), at most `cap` per user (0: all): a user with
 * more positions gets `cap` of them drawn at random each epoch, so every user weighs about the same
 * in the loss (Covington et al. 2016 §3.3: a few very active users would otherwise dominate it),
 * then the whole list is shuffled. Writes into `exSeq` / `exPos` (sized for every position) and
 * returns the count.
 */
export function drawExamples(seqs: readonly Int32Array[], first: number, cap: number, rng: { int(n: number): number },
  exSeq: Int32Array, exPos: Int32Array, scratch: Int32Array): number {
  let n = 0;
  for (let s = 0; s < seqs.length; s++) {
    const m = seqs[s]!.length - first;
    if (m <= 0) continue;
    if (cap === 0 || m <= cap) {
      for (let t = first; t < seqs[s]!.length; t++, n++) { exSeq[n] = s; exPos[n] = t; }
      continue;
    }
    for (let i = 0; i < m; i++) scratch[i] = first + i;
    for (let i = 0; i < cap; i++) {
      const j = i + rng.int(m - i);
      const x = scratch[i]!;
      scratch[i] = scratch[j]!;
      scratch[j] = x;
      exSeq[n] = s;
      exPos[n++] = scratch[i]!;
    }
  }
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const a = exSeq[i]!, b = exPos[i]!;
    exSeq[i] = exSeq[j]!; exPos[i] = exPos[j]!;
    exSeq[j] = a; exPos[j] = b;
  }
  return n;
}
