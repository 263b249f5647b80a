/**
 * Word-vector commands: `omnivec eval analogy`, `omnivec eval similarity` (intrinsic evaluation,
 * gensim's semantics) and `omnivec similar` (nearest words, analogies). One function per command,
 * called by the commander actions and by tests; errors are `OmnivecError`s that main.ts maps to
 * exit codes. Semantics: docs/word-vectors.md.
 */
import { basename } from 'node:path';
import type { Command } from 'commander';
import { OmnivecError, describe } from '../errors.js';
import { intArg } from '../checks.js';
import { loadWordVectors, type WordVectorFormat } from '../encoders/word2vec/files.js';
import type { KeyedVectors } from '../encoders/word2vec/keyed-vectors.js';
import { evaluateAnalogies, evaluateWordPairs, type AnalogyEvalResult, type WordPairsResult } from '../encoders/word2vec/eval.js';
import { mostSimilar, mostSimilarCosmul, type Neighbour } from '../encoders/word2vec/query.js';
import type { Out } from './db-commands.js';

/** Options every command that reads a vector file takes. */
export interface VectorFileOpts {
  vectors?: string;
  format?: string;
  limit?: string;
}

const FORMATS = ['auto', 'word2vec', 'word2vec-binary', 'fasttext'];

async function loadVectors(o: VectorFileOpts): Promise<KeyedVectors> {
  if (o.vectors === undefined || o.vectors === '') throw new OmnivecError('invalid_argument', '--vectors: required (a word2vec text or binary file, or a fastText .vec file)');
  const format = o.format ?? 'auto';
  if (!FORMATS.includes(format)) throw new OmnivecError('invalid_argument', `--format: expected one of ${FORMATS.join(', ')}, got ${JSON.stringify(format)}`);
  return loadWordVectors(o.vectors, { format: format as WordVectorFormat | 'auto', limit: intArg(o.limit, '--limit') });
}

function method(v: string | undefined): 'add' | 'mul' {
  if (v === undefined || v === 'add' || v === 'mul') return v ?? 'add';
  throw new OmnivecError('invalid_argument', `--method: expected "add" (3CosAdd) or "mul" (3CosMul), got ${JSON.stringify(v)}`);
}

const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;

// ---------------------------------------------------------------------------------------------

export interface EvalAnalogyOpts extends VectorFileOpts {
  questions?: string;
  method?: string;
  restrictVocab?: string;
  caseSensitive?: boolean;
  json?: boolean;
}

/**
 * `omnivec eval analogy --vectors FILE --questions FILE`: accuracy per section and overall, and
 * coverage (questions whose words are all within the first --restrict-vocab words).
 */
export async function cmdEvalAnalogy(o: EvalAnalogyOpts, out: Out): Promise<AnalogyEvalResult> {
  if (o.questions === undefined || o.questions === '') {
    throw new OmnivecError('invalid_argument', '--questions: required (an analogy file in the questions-words.txt format: ": section" lines, then "a b c d" lines)');
  }
  const m = method(o.method);
  const restrictVocab = intArg(o.restrictVocab, '--restrict-vocab');
  const kv = await loadVectors(o);
  const r = await evaluateAnalogies(kv, o.questions, { method: m, restrictVocab, caseInsensitive: o.caseSensitive !== true });
  if (o.json === true) {
    out.json({
      vectors: o.vectors, questions: o.questions, method: r.method, restrictVocab: r.restrictVocab, words: kv.size, dim: kv.dim,
      accuracy: r.total.accuracy, correct: r.total.correct, incorrect: r.total.incorrect,
      questionsTotal: r.questions, answered: r.answered, coverage: r.coverage, oov: r.oov, invalidLines: r.invalidLines,
      sections: r.sections.map((s) => ({ section: s.section, accuracy: s.accuracy, correct: s.correct, incorrect: s.incorrect, total: s.total, oov: s.oov })),
      seconds: r.seconds,
    });
    return r;
  }
  const width = Math.max(7, ...r.sections.map((s) => s.section.length));
  out.line(`${'section'.padEnd(width)}  correct  answered  accuracy`);
  for (const s of r.sections) {
    const answered = s.correct + s.incorrect;
    out.line(`${s.section.padEnd(width)}  ${String(s.correct).padStart(7)}  ${String(answered).padStart(8)}  ${(answered === 0 ? '-' : pct(s.accuracy)).padStart(8)}`);
  }
  out.line(`${'total'.padEnd(width)}  ${String(r.total.correct).padStart(7)}  ${String(r.answered).padStart(8)}  ${(r.answered === 0 ? '-' : pct(r.total.accuracy)).padStart(8)}`);
  out.line(`coverage ${pct(r.coverage)}: ${r.answered} of ${r.questions} questions answered, ${r.oov} skipped for a word outside the first ${r.restrictVocab} words`);
  out.line(`method ${r.method === 'add' ? 'add (3CosAdd)' : 'mul (3CosMul)'}, ${kv.size} words × ${kv.dim}, ${r.seconds.toFixed(2)} s`);
  return r;
}

export interface EvalSimilarityOpts extends VectorFileOpts {
  pairs?: string[];
  restrictVocab?: string;
  caseSensitive?: boolean;
  json?: boolean;
}

/**
 * `omnivec eval similarity --vectors FILE --pairs FILE...`: Spearman and Pearson correlation of
 * cosine similarity with the human scores of each file, and its coverage.
 */
export async function cmdEvalSimilarity(o: EvalSimilarityOpts, out: Out): Promise<(WordPairsResult & { file: string })[]> {
  const files = o.pairs ?? [];
  if (!Array.isArray(files) || files.length === 0) {
    throw new OmnivecError('invalid_argument', '--pairs: required (one or more files of "word1<TAB>word2<TAB>score" lines, e.g. wordsim353.tsv)');
  }
  const restrictVocab = intArg(o.restrictVocab, '--restrict-vocab');
  const kv = await loadVectors(o);
  const results: (WordPairsResult & { file: string })[] = [];
  for (const file of files) {
    results.push({ file, ...(await evaluateWordPairs(kv, file, { restrictVocab, caseInsensitive: o.caseSensitive !== true })) });
  }
  if (o.json === true) {
    out.json(results.map((r) => ({ ...r, spearman: finite(r.spearman), spearmanP: finite(r.spearmanP), pearson: finite(r.pearson), pearsonP: finite(r.pearsonP) })));
    return results;
  }
  const names = results.map((r) => basename(r.file));
  const width = Math.max(4, ...names.map((n) => n.length));
  out.line(`${'file'.padEnd(width)}  spearman  pearson  pairs  used  coverage`);
  results.forEach((r, i) => {
    const f = (x: number): string => (Number.isNaN(x) ? '-' : x.toFixed(4));
    out.line(`${names[i]!.padEnd(width)}  ${f(r.spearman).padStart(8)}  ${f(r.pearson).padStart(7)}  ${String(r.pairs).padStart(5)}  ${String(r.used).padStart(4)}  ${pct(r.coverage).padStart(8)}`);
  });
  return results;
}

/** NaN as null for JSON. */
function finite(x: number): number | null {
  return Number.isNaN(x) ? null : x;
}

export interface SimilarOpts extends VectorFileOpts {
  negative?: string[];
  k?: string;
  method?: string;
  restrictVocab?: string;
  json?: boolean;
}

/**
 * `omnivec similar --vectors FILE WORD... [--negative WORD...]`: the nearest words to the mean of
 * the words minus the negative ones (one word: its neighbours; `king woman --negative man`: the
 * analogy), the query's words left out; `--method mul` ranks by 3CosMul.
 */
export async function cmdSimilar(words: string[], o: SimilarOpts, out: Out): Promise<Neighbour[]> {
  if (!Array.isArray(words) || words.length === 0) throw new OmnivecError('invalid_argument', `words: expected one or more words, got ${describe(words)}`);
  const m = method(o.method);
  const topn = intArg(o.k, '-k') ?? 10;
  const restrictVocab = intArg(o.restrictVocab, '--restrict-vocab');
  const kv = await loadVectors(o);
  const q = { positive: words, negative: o.negative ?? [], topn, restrictVocab };
  const hits = m === 'add' ? mostSimilar(kv, q) : mostSimilarCosmul(kv, q);
  if (o.json === true) out.json(hits.map((h) => ({ word: h.word, score: h.score })));
  else for (const h of hits) out.line(`${h.word}\t${h.score.toFixed(4)}`);
  return hits;
}

// ---------------------------------------------------------------------------------------------

const vectorOptions = (c: Command): Command => c
  .requiredOption('--vectors <file>', 'word vectors: word2vec text or binary, or fastText .vec')
  .option('--format <format>', 'auto | word2vec | word2vec-binary | fasttext (default auto: binary or text from the first bytes)')
  .option('--limit <n>', 'load only the first n vectors');

/**
 * Adds `eval analogy` and `eval similarity` under the `eval` command (created when the program has
 * none yet) and returns the `eval` command, so that other evaluations (`eval sts`) can join it.
 */
export function registerEvalCommands(program: Command, out: Out): Command {
  const ev = program.commands.find((c) => c.name() === 'eval')
    ?? program.command('eval').description('evaluate embeddings on standard benchmarks');
  vectorOptions(ev.command('analogy').description('word-analogy accuracy (questions-words.txt format), as gensim\'s evaluate_word_analogies'))
    .requiredOption('--questions <file>', 'the analogy questions (": section" lines, then "a b c d" lines)')
    .option('--method <method>', 'add (3CosAdd, default) | mul (3CosMul)')
    .option('--restrict-vocab <n>', 'use only the first n words (default 300000)')
    .option('--case-sensitive', 'compare words as they are (default: case-insensitive, as gensim)')
    .option('--json', 'print JSON')
    .action(async (o: EvalAnalogyOpts) => { await cmdEvalAnalogy(o, out); });
  vectorOptions(ev.command('similarity').description('Spearman / Pearson correlation with human word-pair scores, as gensim\'s evaluate_word_pairs'))
    .requiredOption('--pairs <files...>', 'word-pair files: "word1<TAB>word2<TAB>score" lines, "#" comments')
    .option('--restrict-vocab <n>', 'use only the first n words (default 300000)')
    .option('--case-sensitive', 'compare words as they are (default: case-insensitive)')
    .option('--json', 'print JSON')
    .action(async (o: EvalSimilarityOpts) => { await cmdEvalSimilarity(o, out); });
  return ev;
}

/** Adds `similar <words...>`: nearest words and analogies from a vector file. */
export function registerWordCommands(program: Command, out: Out): void {
  vectorOptions(program.command('similar <words...>').description('nearest words to the words (minus --negative ones): neighbours and analogies'))
    .option('--negative <words...>', 'words to subtract (king woman --negative man → queen)')
    .option('-k, --k <k>', 'number of words (default 10)')
    .option('--method <method>', 'add (cosine of the mean, default) | mul (3CosMul)')
    .option('--restrict-vocab <n>', 'search only the first n words')
    .option('--json', 'print JSON')
    .action(async (words: string[], o: SimilarOpts) => { await cmdSimilar(words, o, out); });
}
