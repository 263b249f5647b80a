/**
 * `omnivec train word2vec` (options named as in the original C tool) and the shared `--into
 * COLLECTION` step that puts trained vectors into the database. docs/cli.md#train.
 */
import type { Command } from 'commander';
import { openDatabase } from '../db/database.js';
import { OmnivecError, invalidArgument } from '../errors.js';
import { intArg, numberArg } from '../checks.js';
import type { KeyedVectors } from '../encoders/word2vec/keyed-vectors.js';
import { saveWordVectors, type WordVectorFormat } from '../encoders/word2vec/files.js';
import { trainWord2Vec, type Word2VecModel, type Word2VecOptions, type Word2VecProgress } from '../encoders/word2vec/trainer.js';
import type { TokenizerSpec } from '../encoders/text/tokenizer.js';
import { type Out } from './db-commands.js';
import { Progress } from './progress.js';

export interface Word2VecCliOpts {
  input?: string; output?: string; binary?: boolean | string; format?: string; size?: string; dim?: string; window?: string;
  negative?: string; hs?: boolean | string; sample?: string; minCount?: string; maxVocab?: string; iter?: string;
  epochs?: string; threads?: string; cbow?: boolean | string; alpha?: string; minAlpha?: string; seed?: string;
  tokenizer?: string; lowercase?: boolean; saveVocab?: string; into?: string; quiet?: boolean; json?: boolean;
}

/** `--flag`, `--flag 1` and `--flag 0` (the C tool's style) as a boolean. */
export function flag(name: string, v: boolean | string | undefined): boolean | undefined {
  if (v === undefined || typeof v === 'boolean') return v;
  if (v === '1' || v === 'true') return true;
  if (v === '0' || v === 'false') return false;
  throw invalidArgument(`${name}: expected 0 or 1, got ${JSON.stringify(v)}`);
}

function tokenizerFrom(o: Word2VecCliOpts): TokenizerSpec {
  const t = o.tokenizer ?? 'words';
  if (t === 'whitespace') return { kind: 'whitespace' };
  if (t === 'words') return { kind: 'words', lowercase: o.lowercase !== false };
  throw invalidArgument(`--tokenizer: expected "words" or "whitespace", got ${JSON.stringify(t)}`);
}

/** The trainer's options from the command line. */
export function word2vecOptionsFrom(o: Word2VecCliOpts): Word2VecOptions {
  if (o.size !== undefined && o.dim !== undefined && o.size !== o.dim) throw invalidArgument('--size and --dim are the same option; give one');
  if (o.iter !== undefined && o.epochs !== undefined && o.iter !== o.epochs) throw invalidArgument('--iter and --epochs are the same option; give one');
  const cbow = flag('--cbow', o.cbow);
  const hs = flag('--hs', o.hs);
  const negative = intArg(o.negative, '--negative', { min: 0, max: 1000 });
  return {
    model: cbow === false ? 'skipgram' : 'cbow',
    dim: intArg(o.size ?? o.dim, '--size', { min: 1, max: 10_000 }),
    window: o.window === 'all' ? 'all' : intArg(o.window, '--window', { min: 1 }),
    negative: negative ?? (hs === true ? 0 : undefined),
    hs,
    sample: numberArg(o.sample, '--sample'),
    minCount: intArg(o.minCount, '--min-count', { min: 1 }),
    maxVocab: intArg(o.maxVocab, '--max-vocab', { min: 1 }),
    epochs: intArg(o.iter ?? o.epochs, '--iter', { min: 1 }),
    alpha: numberArg(o.alpha, '--alpha'),
    minAlpha: numberArg(o.minAlpha, '--min-alpha'),
    seed: intArg(o.seed, '--seed', { min: 0 }),
    threads: intArg(o.threads, '--threads', { min: 1, max: 256 }),
    tokenizer: tokenizerFrom(o),
  };
}

/** Progress on stderr: a live line on a terminal, and one line per finished epoch unless quiet. */
export function trainingReporter(label: string, quiet: boolean): { onProgress: (p: Word2VecProgress) => void; done: () => void } {
  const bar = new Progress(label);
  let epochsShown = 0;
  let counting = new Progress(`${label}: reading the corpus`);
  return {
    onProgress: (p) => {
      if (p.phase === 'vocab') { counting.update(p.words, undefined, 'words'); return; }
      counting.done();
      counting = new Progress('');
      bar.update(p.words, p.totalWords, 'words');
      if (!quiet && p.loss !== undefined && p.epoch - 1 > epochsShown) {
        // p.epoch is the epoch running now, so p.epoch − 1 epochs have finished.
        bar.done();
        for (let e = epochsShown + 1; e < p.epoch; e++) {
          process.stderr.write(`${label}: epoch ${e}/${p.epochs} done, ${Math.round(p.wordsPerSecond).toLocaleString('en-US')} words/s\n`);
        }
        epochsShown = p.epoch - 1;
      }
    },
    done: () => { counting.done(); bar.done(); },
  };
}

export function printTrainingSummary(label: string, m: Word2VecModel, out: Out, json: boolean): void {
  const s = m.stats;
  if (json) {
    out.line(JSON.stringify({ ...s, options: m.options }));
    return;
  }
  out.line(`${label}: ${s.vocabSize.toLocaleString('en-US')} words in the vocabulary from ${s.corpusWords.toLocaleString('en-US')} tokens ` +
    `(${s.sentences.toLocaleString('en-US')} sentences), read in ${s.vocabSeconds.toFixed(2)} s`);
  for (const e of s.epochs) out.line(`  epoch ${e.epoch}: loss ${e.loss.toFixed(4)} over ${e.predictions.toLocaleString('en-US')} predictions`);
  out.line(`${label}: trained in ${s.trainSeconds.toFixed(2)} s, ${Math.round(s.wordsPerSecond).toLocaleString('en-US')} words/s on ${s.threads} thread(s)`);
}

/**
 * Puts vectors into a collection of the database (created when missing, cosine, ids = the words);
 * metadata `{count}` when counts are known. Existing ids are replaced (upsert), so training again
 * into the same collection refreshes it.
 */
export async function vectorsIntoCollection(dbDir: string, name: string, kv: KeyedVectors, out: Out,
  document: ((word: string) => string | undefined) | undefined = undefined): Promise<void> {
  const db = await openDatabase(dbDir);
  try {
    let c;
    if ((await db.hasCollection(name))) {
      c = await db.getCollection(name);
      if (c.dim !== kv.dim) {
        throw new OmnivecError('dimension_mismatch', `--into ${name}: the collection holds ${c.dim}-d vectors, the model ${kv.dim}-d; use another collection`);
      }
    } else {
      c = await db.createCollection({ name, dim: kv.dim });
      out.line(`created ${c.name} (${c.dim}-d, ${c.metric}, index ${c.indexSpec.kind})`);
    }
    const counts = kv.counts;
    const records = function* (): Generator<{ id: string; vector: Float32Array; metadata?: Record<string, number>; document?: string }> {
      for (let i = 0; i < kv.size; i++) {
        const w = kv.words[i]!;
        const doc = document?.(w);
        yield {
          id: w, vector: kv.row(i),
          ...(counts !== null ? { metadata: { count: counts[i]! } } : {}),
          ...(doc !== undefined ? { document: doc } : {}),
        };
      }
    };
    const p = new Progress(`into ${name}`);
    const n = await c.upsert(records(), { onProgress: (x: { done: number; total?: number }) => p.update(x.done, x.total ?? kv.size, 'vectors') });
    p.done();
    await c.flush();
    out.line(`stored ${n} vectors in ${name}; ${await c.count()} records now`);
  } finally {
    await db.close();
  }
}

/** Where trained vectors go and how the run reports, for every trainer's command. */
export interface TrainingSink {
  output?: string; format: WordVectorFormat; saveVocab?: string; into?: string; quiet?: boolean; json?: boolean;
}

/**
 * Trains with progress on stderr, prints the summary, writes the vectors (and counts) and / or
 * stores them in a collection: the common part of `train word2vec` and `train item2vec`.
 */
export async function trainAndStore(label: string, input: string, options: Word2VecOptions, sink: TrainingSink,
  dbDir: () => string, out: Out, what = 'vectors'): Promise<Word2VecModel> {
  const r = trainingReporter(label, sink.quiet === true);
  let m: Word2VecModel;
  try {
    m = await trainWord2Vec(input, { ...options, onProgress: r.onProgress });
  } finally {
    r.done();
  }
  printTrainingSummary(label, m, out, sink.json === true);
  if (sink.output !== undefined) {
    await saveWordVectors(m.wv, sink.output, { format: sink.format, ...(sink.saveVocab !== undefined ? { counts: sink.saveVocab } : {}) });
    if (sink.json !== true) {
      out.line(`wrote ${m.wv.size} × ${m.wv.dim} ${what} to ${sink.output} (${sink.format})${sink.saveVocab !== undefined ? ` and the counts to ${sink.saveVocab}` : ''}`);
    }
  }
  if (sink.into !== undefined) await vectorsIntoCollection(dbDir(), sink.into, m.wv, out);
  return m;
}

export async function cmdTrainWord2Vec(dbDir: () => string, o: Word2VecCliOpts, out: Out): Promise<void> {
  if (o.input === undefined) throw invalidArgument('--input: the corpus file is required (text, one sentence a line; .gz allowed)');
  if (o.output === undefined && o.into === undefined) throw invalidArgument('--output or --into: say where the vectors go');
  const options = word2vecOptionsFrom(o);
  const format = o.format ?? (flag('--binary', o.binary) === true ? 'word2vec-binary' : 'word2vec');
  if (format !== 'word2vec' && format !== 'word2vec-binary' && format !== 'fasttext') {
    throw invalidArgument(`--format: expected word2vec, word2vec-binary or fasttext, got ${JSON.stringify(format)}`);
  }
  await trainAndStore('word2vec', o.input, options, { ...o, format }, dbDir, out);
}

/** Options shared by the trainers, named as in the original word2vec tool. */
export function word2vecCliOptions(c: Command, defaults: { minCount: number; window: string }): Command {
  return c
    .option('--input <file>', 'training text, one sentence a line (.gz read through gunzip)')
    .option('--output <file>', 'where the vectors go (word2vec text unless --binary)')
    .option('--binary [0|1]', 'write the word2vec binary format')
    .option('--format <format>', 'word2vec | word2vec-binary | fasttext (.vec)')
    .option('--save-vocab <file>', 'also write the vocabulary counts, "word count" a line')
    .option('--into <collection>', 'also store the vectors in this collection of the database (--db)')
    .option('--size <n>', 'vector dimension (default 100)')
    .option('--dim <n>', 'same as --size')
    .option('--window <n>', `context words on each side (default ${defaults.window})`)
    .option('--negative <n>', 'negative samples (default 5; 0 with --hs)')
    .option('--hs [0|1]', 'hierarchical softmax')
    .option('--sample <t>', 'subsampling threshold for frequent words (default 1e-3; 0 = off)')
    .option('--min-count <n>', `drop words seen fewer times (default ${defaults.minCount})`)
    .option('--max-vocab <n>', 'keep at most the n most frequent words')
    .option('--iter <n>', 'epochs (default 5)')
    .option('--epochs <n>', 'same as --iter')
    .option('--alpha <a>', 'starting learning rate (default 0.025)')
    .option('--min-alpha <a>', 'final learning rate (default 0.0001)')
    .option('--threads <n>', 'worker threads (default: all cores)')
    .option('--seed <n>', 'random seed (default 1); with --threads 1 training is reproducible')
    .option('--quiet', 'no per-epoch lines on stderr')
    .option('--json', 'print the training figures as JSON');
}

/** Adds `train word2vec` to the `train` command. */
export function registerTrainCommands(train: Command, dbDir: () => string, out: Out): void {
  word2vecCliOptions(train.command('word2vec').description('train Word2Vec (CBOW or skip-gram) on a text corpus'), { minCount: 5, window: '5' })
    .option('--cbow [0|1]', 'CBOW (1, the default) or skip-gram (0)')
    .option('--tokenizer <kind>', 'words (default: Unicode words, lower-cased, punctuation dropped, Chinese segmented) | whitespace')
    .option('--no-lowercase', 'keep the case of words')
    .action((o: Word2VecCliOpts) => cmdTrainWord2Vec(dbDir, o, out));
}
