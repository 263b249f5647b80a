/**
 * Intrinsic evaluation of word vectors, with gensim 4's semantics (docs/word-vectors.md#evaluation):
 * word analogies (`evaluate_word_analogies`, the `compute-accuracy` of word2vec.c) and word-pair
 * similarity judgements (`evaluate_word_pairs`: Spearman and Pearson correlation with human scores).
 */
import { averageRanks, incompleteBeta, pearson, spearman } from '../stats.js';
import { readFile } from 'node:fs/promises';
import { OmnivecError, describe } from '../../errors.js';
import { fileError } from '../../io/block-reader.js';
import { corrupt, quote } from '../../io/common.js';
import { TopK } from '../../vector/heap.js';
import { createTokenizer } from '../text/tokenizer.js';
import { checkPositiveInt } from '../../checks.js';
import { KeyedVectors, checkKv } from './keyed-vectors.js';
import { BLOCK_QUERIES, BLOCK_ROWS, scannerOf } from './query.js';

export interface AnalogyEvalOptions {
  /** Only the first `restrictVocab` words are used, as questions and as answers (default 300,000). */
  restrictVocab?: number;
  /** Compare upper-cased words (default true), the vector of a word's first case variant. */
  caseInsensitive?: boolean;
  /** `add` (3CosAdd, default, gensim's) or `mul` (3CosMul). */
  method?: 'add' | 'mul';
  /** 3CosMul's epsilon (default 1e-3). */
  epsilon?: number;
  /** Count questions with unknown words as wrong instead of skipping them (gensim's dummy4unknown). */
  dummy4unknown?: boolean;
  /** Keep every question with its prediction in the sections (`questions`). */
  keepQuestions?: boolean;
}

/** One answered question: the four words (as compared, upper-cased when case-insensitive) and the prediction. */
export interface AnalogyQuestion {
  a: string;
  b: string;
  c: string;
  expected: string;
  /** The answer given (null when there was none: an unknown word, or an empty search). */
  predicted: string | null;
  correct: boolean;
}

export interface AnalogySection {
  section: string;
  correct: number;
  incorrect: number;
  /** correct / (correct + incorrect); 0 when the section has no answered question (as gensim). */
  accuracy: number;
  /** Well-formed question lines in the section. */
  total: number;
  /** Questions skipped (or, with dummy4unknown, counted wrong) for a word outside the vocabulary. */
  oov: number;
  questions?: AnalogyQuestion[];
}

export interface AnalogyEvalResult {
  sections: AnalogySection[];
  /** Over all sections: gensim's "Total accuracy" and its score. */
  total: { correct: number; incorrect: number; accuracy: number };
  /** Well-formed question lines (gensim's quadruplets_no). */
  questions: number;
  /** Questions whose four words are all within the searched vocabulary. */
  answered: number;
  /** answered / questions. */
  coverage: number;
  /** Questions with a word outside the searched vocabulary. */
  oov: number;
  /** Lines that are neither a section header nor four words (skipped, as gensim does). */
  invalidLines: number;
  method: 'add' | 'mul';
  /** The number of rows searched: min(restrictVocab, vocabulary size). */
  restrictVocab: number;
  seconds: number;
}

export interface WordPairsOptions {
  /** Only the first `restrictVocab` words are used (default 300,000). */
  restrictVocab?: number;
  /** Compare upper-cased words (default true). */
  caseInsensitive?: boolean;
  /** Score pairs with unknown words 0 instead of skipping them (gensim's dummy4unknown). */
  dummy4unknown?: boolean;
  /** Field separator (default a tab). */
  delimiter?: string;
}

export interface WordPairsResult {
  /** Spearman's rank correlation (ties get average ranks) between the human and the cosine scores. */
  spearman: number;
  /** Two-sided p-value of `spearman` (t distribution with n − 2 degrees of freedom, as scipy). */
  spearmanP: number;
  pearson: number;
  /** Two-sided p-value of `pearson` (exact, beta distribution, as scipy). */
  pearsonP: number;
  /** Well-formed pair lines. */
  pairs: number;
  /** Pairs scored (both words known; with dummy4unknown every pair). */
  used: number;
  /** Pairs with a word outside the searched vocabulary. */
  oov: number;
  /** gensim's oov_ratio: oov / pairs × 100 (with dummy4unknown: oov / used × 100). */
  oovPercent: number;
  /** Pairs with both words known / pairs. */
  coverage: number;
  /** Lines that are not a comment nor `word delimiter word delimiter number` (skipped). */
  invalidLines: number;
}

// ---------------------------------------------------------------------------------------------
// Shared

const decoder = new TextDecoder('utf-8', { fatal: true });

async function readText(path: string): Promise<string> {
  if (typeof path !== 'string' || path === '') throw new OmnivecError('invalid_argument', `path: expected a file name, got ${describe(path)}`);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw fileError(path, e);
  }
  try {
    return decoder.decode(bytes);
  } catch {
    throw corrupt(path, { line: 1 }, 'UTF-8 text', 'invalid UTF-8 bytes');
  }
}

function flag(name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new OmnivecError('invalid_argument', `${name}: expected a boolean, got ${describe(v)}`);
  return v;
}

function restrict(kv: KeyedVectors, v: unknown): number {
  return Math.min(kv.size, checkPositiveInt(v, 'restrictVocab', { fallback: 300000 }));
}

function checkOptions(options: unknown, known: readonly string[]): void {
  if (options === null || typeof options !== 'object') throw new OmnivecError('invalid_argument', `options: expected an object, got ${describe(options)}`);
  for (const k of Object.keys(options)) {
    if (!known.includes(k)) throw new OmnivecError('invalid_argument', `options: unknown option ${JSON.stringify(k)}; expected one of ${known.join(', ')}`);
  }
}

/**
 * gensim's ok_vocab: the key of each of the first `n` words (upper-cased when case-insensitive)
 * mapped to the row of its first occurrence.
 */
function okVocab(kv: KeyedVectors, n: number, ci: boolean): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const k = ci ? kv.words[i]!.toUpperCase() : kv.words[i]!;
    if (!m.has(k)) m.set(k, i);
  }
  return m;
}

const pySplit = createTokenizer({ kind: 'whitespace' });

// ---------------------------------------------------------------------------------------------
// Analogies

interface Pending {
  section: AnalogySection;
  keys: [string, string, string, string];
  rows: [number, number, number];
}

/**
 * Accuracy on an analogy test set (`questions-words.txt`: `: section` header lines, then
 * `a b c d` lines meaning a:b :: c:d), as gensim 4's `evaluate_word_analogies`:
 * - only the first `restrictVocab` words are used; a question with a word outside them is skipped
 *   (it counts against coverage, not accuracy), or counted wrong with `dummy4unknown`;
 * - the answer is the best of the 5 nearest words to b − a + c (unit vectors; `mul`: 3CosMul),
 *   a, b and c themselves (and, case-insensitively, their other case variants) left out;
 * - a line that is not four words is skipped; a question before the first header is `corrupt_file`.
 * Searches run in blocks of questions against blocks of rows with the SIMD kernels.
 */
export async function evaluateAnalogies(kv: KeyedVectors, path: string, options: AnalogyEvalOptions = {}): Promise<AnalogyEvalResult> {
  checkKv(kv);
  checkOptions(options, ['restrictVocab', 'caseInsensitive', 'method', 'epsilon', 'dummy4unknown', 'keepQuestions']);
  const t0 = performance.now();
  const n = restrict(kv, options.restrictVocab);
  const ci = flag('caseInsensitive', options.caseInsensitive, true);
  const dummy = flag('dummy4unknown', options.dummy4unknown, false);
  const keep = flag('keepQuestions', options.keepQuestions, false);
  const method = options.method ?? 'add';
  if (method !== 'add' && method !== 'mul') throw new OmnivecError('invalid_argument', `method: expected "add" or "mul", got ${describe(method)}`);
  const epsilon = options.epsilon ?? 1e-3;
  if (typeof epsilon !== 'number' || !(epsilon > 0) || !Number.isFinite(epsilon)) {
    throw new OmnivecError('invalid_argument', `epsilon: expected a positive number, got ${describe(epsilon)}`);
  }
  const text = await readText(path);
  const ok = okVocab(kv, n, ci);
  const sections: AnalogySection[] = [];
  let section: AnalogySection | null = null;
  let questions = 0;
  let oov = 0;
  let invalid = 0;
  const pending: Pending[] = [];
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln]!;
    if (line.startsWith(': ')) {
      section = { section: line.replace(/^[: ]+/, '').trim(), correct: 0, incorrect: 0, accuracy: 0, total: 0, oov: 0 };
      if (keep) section.questions = [];
      sections.push(section);
      continue;
    }
    if (section === null) throw corrupt(path, { line: ln + 1 }, 'a section header (": name") before the first question', quote(line));
    const f = pySplit.tokenize(line);
    if (f.length !== 4) { invalid++; continue; }
    const keys = (ci ? f.map((w) => w.toUpperCase()) : f) as [string, string, string, string];
    questions++;
    section.total++;
    const ra = ok.get(keys[0]);
    const rb = ok.get(keys[1]);
    const rc = ok.get(keys[2]);
    if (ra === undefined || rb === undefined || rc === undefined || !ok.has(keys[3])) {
      oov++;
      section.oov++;
      if (dummy) {
        section.incorrect++;
        section.questions?.push({ a: keys[0], b: keys[1], c: keys[2], expected: keys[3], predicted: null, correct: false });
      }
      continue;
    }
    pending.push({ section, keys, rows: [ra, rb, rc] });
  }
  const perBlock = method === 'add' ? BLOCK_QUERIES : Math.floor(BLOCK_QUERIES / 3);
  for (let i = 0; i < pending.length; i += perBlock) {
    const batch = pending.slice(i, i + perBlock);
    const tops = searchBatch(kv, batch, n, method, epsilon);
    batch.forEach((p, j) => judge(kv, p, tops[j]!, ci));
  }
  let correct = 0;
  let incorrect = 0;
  for (const s of sections) {
    s.accuracy = s.correct + s.incorrect === 0 ? 0 : s.correct / (s.correct + s.incorrect);
    correct += s.correct;
    incorrect += s.incorrect;
  }
  const answered = questions - oov;
  return {
    sections,
    total: { correct, incorrect, accuracy: correct + incorrect === 0 ? 0 : correct / (correct + incorrect) },
    questions, answered, coverage: questions === 0 ? 0 : answered / questions, oov, invalidLines: invalid,
    method, restrictVocab: n, seconds: (performance.now() - t0) / 1000,
  };
}

/** The 5 best rows for each question of the batch (a, b, c left out), best first. */
function searchBatch(kv: KeyedVectors, batch: Pending[], n: number, method: 'add' | 'mul', epsilon: number): Uint32Array[] {
  const d = kv.dim;
  const scanner = scannerOf(kv);
  const perQ = method === 'add' ? 1 : 3;
  const nq = batch.length * perQ;
  const queries = new Float32Array(nq * d);
  batch.forEach((p, j) => {
    const [ra, rb, rc] = p.rows;
    if (method === 'add') {
      // gensim: unit(b) + unit(c) − unit(a), scaled to unit length.
      const ua = scanner.unitRow(ra).slice();
      const ub = scanner.unitRow(rb).slice();
      const uc = scanner.unitRow(rc);
      const m = new Float64Array(d);
      let s = 0;
      for (let k = 0; k < d; k++) { m[k] = ub[k]! + uc[k]! - ua[k]!; s += m[k]! * m[k]!; }
      const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
      for (let k = 0; k < d; k++) queries[j * d + k] = m[k]! * inv;
    } else {
      queries.set(scanner.unitRow(ra), (3 * j) * d);
      queries.set(scanner.unitRow(rb), (3 * j + 1) * d);
      queries.set(scanner.unitRow(rc), (3 * j + 2) * d);
    }
  });
  const heaps = batch.map(() => new TopK(Math.min(5, n)));
  for (let start = 0; start < n; start += BLOCK_ROWS) {
    const count = Math.min(BLOCK_ROWS, n - start);
    const dist = scanner.block(queries, nq, start, count);
    for (let j = 0; j < batch.length; j++) {
      const heap = heaps[j]!;
      const [ra, rb, rc] = batch[j]!.rows;
      if (method === 'add') {
        const o = j * count;
        for (let x = 0; x < count; x++) {
          const v = dist[o + x]!;
          if (v < heap.worst()) {
            const row = start + x;
            if (row !== ra && row !== rb && row !== rc) heap.push(row, v);
          }
        }
      } else {
        const oa = 3 * j * count;
        const ob = oa + count;
        const oc = ob + count;
        for (let x = 0; x < count; x++) {
          // ((1 + cos b)/2 · (1 + cos c)/2) / ((1 + cos a)/2 + ε), with cos = 1 − distance.
          const v = -(((2 - dist[ob + x]!) / 2) * ((2 - dist[oc + x]!) / 2) / ((2 - dist[oa + x]!) / 2 + epsilon));
          if (v < heap.worst()) {
            const row = start + x;
            if (row !== ra && row !== rb && row !== rc) heap.push(row, v);
          }
        }
      }
    }
  }
  return heaps.map((h) => {
    const rows = new Uint32Array(h.size);
    h.drainSorted(rows, new Float32Array(h.size));
    return rows;
  });
}

/** gensim's choice among the 5: the first whose key is not one of a, b, c. */
function judge(kv: KeyedVectors, p: Pending, top: Uint32Array, ci: boolean): void {
  const [a, b, c, expected] = p.keys;
  let predicted: string | null = null;
  for (const r of top) {
    const w = kv.words[r]!;
    predicted = ci ? w.toUpperCase() : w;
    if (predicted !== a && predicted !== b && predicted !== c) break;
  }
  const correct = predicted === expected;
  if (correct) p.section.correct++;
  else p.section.incorrect++;
  p.section.questions?.push({ a, b, c, expected, predicted, correct });
}

// ---------------------------------------------------------------------------------------------
// Word pairs

const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/** Leading and trailing whitespace as Python's str.strip() sees it. */
const PY_STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'g');
const PY_DECIMAL = /^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$/;
const PY_SPECIAL = /^[+-]?(?:inf|infinity|nan)$/i;

/** Python's float(text), or undefined where Python raises ValueError. */
export function pythonFloat(text: string): number | undefined {
  const t = text.replace(PY_STRIP, '');
  if (PY_DECIMAL.test(t)) return Number(t.replace(/_/g, ''));
  if (PY_SPECIAL.test(t)) {
    const neg = t.startsWith('-');
    if (/nan/i.test(t)) return NaN;
    return neg ? -Infinity : Infinity;
  }
  return undefined;
}

/**
 * Correlation with human similarity judgements (`w1 <delimiter> w2 <delimiter> score` lines, `#`
 * comments; WordSim-353, SimLex-999, the EN-*.txt sets), as gensim 4's `evaluate_word_pairs`:
 * cosine similarity of each pair whose two words are within the first `restrictVocab` words
 * (upper-cased when case-insensitive), then Spearman and Pearson correlation with the human
 * scores. Pairs with an unknown word are skipped (or scored 0 with `dummy4unknown`); lines that are
 * not three fields with a number last are skipped. With no pair scored the correlations are NaN
 * (gensim raises).
 */
export async function evaluateWordPairs(kv: KeyedVectors, path: string, options: WordPairsOptions = {}): Promise<WordPairsResult> {
  checkKv(kv);
  checkOptions(options, ['restrictVocab', 'caseInsensitive', 'dummy4unknown', 'delimiter']);
  const n = restrict(kv, options.restrictVocab);
  const ci = flag('caseInsensitive', options.caseInsensitive, true);
  const dummy = flag('dummy4unknown', options.dummy4unknown, false);
  const delimiter = options.delimiter ?? '\t';
  if (typeof delimiter !== 'string' || delimiter === '') throw new OmnivecError('invalid_argument', `delimiter: expected a non-empty string, got ${describe(delimiter)}`);
  const text = await readText(path);
  const ok = okVocab(kv, n, ci);
  const scanner = scannerOf(kv);
  const gold: number[] = [];
  const model: number[] = [];
  let oov = 0;
  let invalid = 0;
  let pairs = 0;
  // Python's text mode: universal newlines, each line keeps its '\n'.
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  for (const raw of lines) {
    const line = raw + '\n';
    if (line.startsWith('#')) continue;
    const f = line.split(delimiter);
    const sim = f.length === 3 ? pythonFloat(f[2]!) : undefined;
    if (sim === undefined) { invalid++; continue; }
    pairs++;
    const a = ci ? f[0]!.toUpperCase() : f[0]!;
    const b = ci ? f[1]!.toUpperCase() : f[1]!;
    const ra = ok.get(a);
    const rb = ok.get(b);
    if (ra === undefined || rb === undefined) {
      oov++;
      if (dummy) { gold.push(sim); model.push(0); }
      continue;
    }
    gold.push(sim);
    // gensim's similarity is a float32.
    const u = scanner.unitRow(ra).slice();
    const v = scanner.unitRow(rb);
    let s = 0;
    for (let k = 0; k < u.length; k++) s += u[k]! * v[k]!;
    model.push(Math.fround(s));
  }
  const sp = spearman(gold, model);
  const pe = pearson(gold, model);
  return {
    spearman: sp.r, spearmanP: sp.p, pearson: pe.r, pearsonP: pe.p,
    pairs, used: gold.length, oov,
    oovPercent: dummy ? (gold.length === 0 ? 0 : oov / gold.length * 100) : (pairs === 0 ? 0 : oov / pairs * 100),
    coverage: pairs === 0 ? 0 : (pairs - oov) / pairs,
    invalidLines: invalid,
  };
}

export { averageRanks, incompleteBeta, pearson, spearman };
