/**
 * The data of `omnivec demo` (docs/cli.md, "demo"): everything comes from the package itself or
 * from a seeded generator, so the demo builds offline on a fresh machine.
 *
 * - `docs`: the package's own documentation (README.md, docs/**.md ship in the package) cut into
 *   paragraphs, embedded with SIF over Word2Vec trained on those same paragraphs; the SIF model is
 *   stored in `DIR/models/` so `omnivec serve` encodes text queries on the collection.
 * - `words`: the Word2Vec vectors themselves, each word tagged with the file it is most used in.
 * - `albums`: a synthetic listening history (users with one or two favourite genres) trained with
 *   Item2Vec; albums of a genre should gather on the map.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../db/database.js';
import type { RecordInput } from '../db/records.js';
import { fitSif } from '../encoders/sif/sif.js';
import { saveSif } from '../encoders/sif/files.js';
import { storedModelDir } from '../encoders/stored-models.js';
import { createTokenizer } from '../encoders/text/tokenizer.js';
import { trainWord2Vec } from '../encoders/word2vec/trainer.js';
import { trainItem2Vec } from '../encoders/item2vec/train.js';
import { Random } from '../vector/random.js';

/** The package's root: `src/cli/` and `dist/cli/` are both two levels down. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Paragraph {
  /** Path relative to the package root, `/`-separated (`docs/indexes/hnsw.md`). */
  file: string;
  /** The file's first heading (its title). */
  title: string;
  /** The nearest heading above the paragraph. */
  section: string;
  /** 1-based line where the paragraph starts. */
  line: number;
  /** The paragraph as plain text (link targets, emphasis marks and table rules removed). */
  text: string;
}

/** `[text](url)` → text, `**x**` / `*x*` / `` `x` `` → x, table pipes → spaces; whitespace runs → one space. */
export function plainText(md: string): string {
  return md
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<!--.*?-->/g, ' ')
    .replace(/\*\*([^*]+)\*\*/g, '$1')
    .replace(/(^|[\s(])\*([^*\s][^*]*)\*/g, '$1$2')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/^\s*\|?\s*:?-{3,}.*$/gm, ' ')
    .replace(/\|/g, ' ')
    .replace(/^\s*(?:[-*+]|\d+\.)\s+/gm, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Longest paragraph kept in one record; longer blocks (tables, long lists) are cut at line ends. */
const MAX_CHARS = 1200;
/** Blocks with fewer words are left out (headings alone, "Example:", lone links). */
const MIN_WORDS = 6;

/**
 * A Markdown file cut into paragraphs: blocks between blank lines, headings and code fences
 * (fenced code is left out: it is not prose, and its identifiers would crowd the vocabulary).
 */
export function markdownParagraphs(text: string, file: string): Paragraph[] {
  const out: Paragraph[] = [];
  let title = '';
  let section = '';
  let block: string[] = [];
  let start = 0;
  let fence = false;
  const flush = (): void => {
    let lines = block;
    block = [];
    while (lines.length > 0) {
      let n = 0;
      let chars = 0;
      while (n < lines.length && (n === 0 || chars + lines[n]!.length <= MAX_CHARS)) chars += lines[n++]!.length + 1;
      const t = plainText(lines.slice(0, n).join('\n'));
      if (t.split(' ').length >= MIN_WORDS) out.push({ file, title, section, line: start, text: t });
      start += n;
      lines = lines.slice(n);
    }
  };
  text.split(/\r?\n/).forEach((line, i) => {
    if (/^\s*(```|~~~)/.test(line)) {
      flush();
      fence = !fence;
      return;
    }
    if (fence) return;
    const h = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (h !== null || line.trim() === '') {
      flush();
      if (h !== null) {
        section = plainText(h[2]!);
        if (title === '') title = section;
      }
      return;
    }
    if (block.length === 0) start = i + 1;
    block.push(line);
  });
  flush();
  return out;
}

/** README.md and every `.md` under docs/ (sorted, so the demo is the same on every machine). */
export function documentationFiles(root = PACKAGE_ROOT): string[] {
  const files: string[] = [];
  if (existsSync(join(root, 'README.md'))) files.push(join(root, 'README.md'));
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith('.md')) files.push(join(dir, e.name));
    }
  };
  walk(join(root, 'docs'));
  return files;
}

export async function documentationParagraphs(root = PACKAGE_ROOT): Promise<Paragraph[]> {
  const out: Paragraph[] = [];
  for (const f of documentationFiles(root)) {
    out.push(...markdownParagraphs(await readFile(f, 'utf8'), relative(root, f).split('\\').join('/')));
  }
  return out;
}

/** What a paragraph is embedded as: its file's title and its section give it context (a short paragraph alone says little). */
export const paragraphContext = (p: Paragraph): string => `${p.title}. ${p.section}. ${p.text}`;

// ---------------------------------------------------------------------------------------------
// A synthetic listening history.

export const GENRES = ['jazz', 'rock', 'classical', 'hip-hop', 'folk', 'electronic', 'metal', 'reggae'] as const;
const ADJECTIVES = ['Blue', 'Electric', 'Quiet', 'Golden', 'Broken', 'Midnight', 'Northern', 'Velvet', 'Paper', 'Hollow',
  'Burning', 'Silver', 'Distant', 'Wild', 'Crystal', 'Lonely', 'Restless', 'Bright', 'Frozen', 'Secret'];
const NOUNS = ['Harbor', 'Signal', 'Garden', 'Machine', 'River', 'Kingdom', 'Lantern', 'Highway', 'Orchard', 'Mirror',
  'Engine', 'Tide', 'Canyon', 'Letter', 'Station', 'Island', 'Forest', 'Bridge', 'Echo', 'Parade'];

export interface Album {
  id: string;
  title: string;
  genre: string;
}

export interface ListeningHistory {
  albums: Album[];
  /** One sequence of album ids per user, in listening order. */
  sequences: string[][];
}

/**
 * `perGenre` albums in each genre; `users` users, each with a favourite genre (70 % of what they
 * play), often a second one (20 %), and the rest anything; within a genre, album k is played with
 * weight 1 / (k + 2) (a few hits, a long tail). Seeded: the same history on every machine.
 */
export function listeningHistory(options: { users?: number; perGenre?: number; seed?: number } = {}): ListeningHistory {
  const users = options.users ?? 2000;
  const perGenre = options.perGenre ?? 30;
  const rng = new Random(options.seed ?? 7);
  const albums: Album[] = [];
  const titles = new Set<string>();
  for (const genre of GENRES) {
    for (let k = 0; k < perGenre; k++) {
      let title: string;
      do title = `${ADJECTIVES[rng.int(ADJECTIVES.length)]!} ${NOUNS[rng.int(NOUNS.length)]!}`; while (titles.has(title));
      titles.add(title);
      albums.push({ id: `${genre}-${String(k + 1).padStart(2, '0')}`, title, genre });
    }
  }
  const weights = Array.from({ length: perGenre }, (_, k) => 1 / (k + 2));
  const totalWeight = weights.reduce((s, w) => s + w, 0);
  const inGenre = (g: number): string => {
    let x = rng.next() * totalWeight;
    let k = 0;
    while (k < perGenre - 1 && (x -= weights[k]!) > 0) k++;
    return albums[g * perGenre + k]!.id;
  };
  const sequences: string[][] = [];
  for (let u = 0; u < users; u++) {
    const first = rng.int(GENRES.length);
    const second = rng.next() < 0.6 ? rng.int(GENRES.length) : first;
    const length = 8 + rng.int(18);
    const seq: string[] = [];
    for (let i = 0; i < length; i++) {
      const r = rng.next();
      seq.push(inGenre(r < 0.7 ? first : r < 0.9 ? second : rng.int(GENRES.length)));
    }
    sequences.push(seq);
  }
  return { albums, sequences };
}

// ---------------------------------------------------------------------------------------------
// The build.

export interface DemoBuildOptions {
  /** Word2Vec / Item2Vec worker threads (default 1: the same database on every run). */
  threads?: number;
  /** Where README.md and docs/ are (default: this package). */
  root?: string;
  /** Called with one line per step (the CLI prints them on stderr). */
  log?: (line: string) => void;
}

export interface DemoCollectionReport {
  name: string;
  count: number;
  dim: number;
  what: string;
}

export interface DemoBuildReport {
  collections: DemoCollectionReport[];
  /** The SIF model's name, served by `omnivec serve` for the docs collection. */
  model: string;
  seconds: number;
}

const DOCS_WORD2VEC = { model: 'skipgram', dim: 64, window: 5, minCount: 2, epochs: 20, negative: 5, seed: 1 } as const;

/** Builds the three collections in `dir` (which must not hold them yet). */
export async function buildDemo(dir: string, options: DemoBuildOptions = {}): Promise<DemoBuildReport> {
  const t0 = performance.now();
  const log = options.log ?? ((): void => {});
  const threads = options.threads ?? 1;
  const elapsed = (): string => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

  const paragraphs = await documentationParagraphs(options.root);
  const files = new Set(paragraphs.map((p) => p.file));
  log(`docs: ${paragraphs.length} paragraphs from ${files.size} files`);
  const texts = paragraphs.map(paragraphContext);
  const tokenizer = createTokenizer();
  const w2v = await trainWord2Vec(texts, { ...DOCS_WORD2VEC, threads });
  const kv = w2v.wv;
  log(`docs: Word2Vec (skip-gram, ${kv.dim}-d, ${DOCS_WORD2VEC.epochs} epochs) on ${w2v.stats.corpusWords.toLocaleString('en-US')} words: ${kv.size.toLocaleString('en-US')} words kept (${elapsed()})`);
  const sif = await fitSif(kv, texts, { tokenizer });
  const spec = sif.asEncoder().spec;
  log(`docs: SIF fitted, model ${spec.model}`);

  const db = await openDatabase(dir);
  const collections: DemoCollectionReport[] = [];
  try {
    await saveSif(sif, storedModelDir(dir, spec.model));
    const docs = await db.createCollection({ name: 'docs', dim: sif.dim, metric: 'cosine', encoder: spec });
    const vectors = sif.encode(texts, { allowEmpty: true });
    const records: RecordInput[] = [];
    paragraphs.forEach((p, i) => {
      const v = vectors[i]!;
      if (!v.some((x) => x !== 0)) return;   // no known word: no direction to store
      records.push({ id: `${p.file}:${p.line}`, vector: v, document: p.text, metadata: { file: p.file, section: p.section, title: p.title } });
    });
    await docs.add(records);
    collections.push({ name: 'docs', count: (await docs.count()), dim: sif.dim, what: 'paragraphs of the documentation, SIF over Word2Vec trained on them; text queries work' });

    // Each word tagged with the file it occurs in most (a colour for the map).
    const perFile = new Map<string, Map<string, number>>();
    paragraphs.forEach((p, i) => {
      for (const w of tokenizer.tokenize(texts[i]!)) {
        let m = perFile.get(w);
        if (m === undefined) perFile.set(w, (m = new Map()));
        m.set(p.file, (m.get(p.file) ?? 0) + 1);
      }
    });
    const wordRecords: RecordInput[] = [];
    for (let row = 0; row < Math.min(kv.size, 3000); row++) {
      const word = kv.words[row]!;
      const counts = [...(perFile.get(word) ?? new Map<string, number>())].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
      wordRecords.push({ id: word, vector: kv.row(row), document: word, metadata: { count: kv.counts?.[row] ?? 0, file: counts[0]?.[0] ?? '' } });
    }
    const words = await db.createCollection({ name: 'words', dim: kv.dim, metric: 'cosine' });
    await words.add(wordRecords);
    collections.push({ name: 'words', count: (await words.count()), dim: kv.dim, what: 'the Word2Vec word vectors behind docs, coloured by the file each word is most used in' });
    log(`docs: ${(await docs.count())} paragraphs and ${(await words.count())} words stored (${elapsed()})`);

    const history = listeningHistory();
    const items = await trainItem2Vec(history.sequences, { dim: 32, epochs: 10, window: 20, threads, seed: 1 });
    const plays = new Map<string, number>();
    for (const s of history.sequences) for (const id of s) plays.set(id, (plays.get(id) ?? 0) + 1);
    const albums = await db.createCollection({ name: 'albums', dim: items.dim, metric: 'cosine' });
    await albums.add(history.albums.filter((a) => items.has(a.id)).map((a) => ({
      id: a.id, vector: items.vector(a.id), document: `${a.title} (${a.genre})`, metadata: { title: a.title, genre: a.genre, plays: plays.get(a.id) ?? 0 },
    })));
    collections.push({ name: 'albums', count: (await albums.count()), dim: items.dim, what: `Item2Vec on ${history.sequences.length.toLocaleString('en-US')} synthetic listening histories; albums of a genre gather` });
    log(`albums: Item2Vec on ${history.sequences.length} users, ${(await albums.count())} albums stored (${elapsed()})`);
  } finally {
    await db.close();
  }
  return { collections, model: spec.model, seconds: (performance.now() - t0) / 1000 };
}
