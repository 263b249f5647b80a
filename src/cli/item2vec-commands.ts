/**
 * `omnivec train item2vec` (item vectors from user sequences, saved in word2vec format and / or
 * put into a collection) and `omnivec recommend` (items near an item or a user's history, from a
 * vectors file or, with a collection name, through the collection: docs/tasks.md).
 * One function per command, called by the commander actions and by tests. docs/item2vec.md.
 */
import type { Command } from 'commander';
import { invalidArgument } from '../errors.js';
import { intArg, numberArg } from '../checks.js';
import { openDatabase } from '../db/database.js';
import { recommendFromCollection, type ItemScore } from '../tasks/recommend.js';
import { recommend, type Recommendation, type RecommendQuery } from '../encoders/item2vec/recommend.js';
import { ITEM2VEC_DEFAULTS, item2vecTrainerOptions, type Item2VecOptions } from '../encoders/item2vec/train.js';
import { loadWordVectors, type WordVectorFormat } from '../encoders/word2vec/files.js';
import type { Word2VecModel } from '../encoders/word2vec/trainer.js';
import { dbDir, type Out } from './db-commands.js';
import { flag, trainAndStore } from './train-commands.js';
import { cmdRecommendUsers, recommendWhere, type RecommendUsersOpts } from './recommend-command.js';

/** Options of `train item2vec`, as commander hands them over. */
export interface TrainItem2VecOpts {
  input?: string;
  output?: string;
  binary?: boolean | string;
  saveVocab?: string;
  into?: string;
  dim?: string;
  window?: string;
  /** true with --shuffle, false with --no-shuffle (the default). */
  shuffle?: boolean;
  negative?: string;
  sample?: string;
  minCount?: string;
  epochs?: string;
  alpha?: string;
  seed?: string;
  threads?: string;
  quiet?: boolean;
  json?: boolean;
}

/** Options of `recommend`. */
export interface RecommendOpts {
  vectors?: string;
  format?: string;
  counts?: string;
  item?: string;
  history?: string[];
  recent?: string;
  decay?: string;
  k?: string;
  exclude?: string[];
  minCount?: string;
  /** Collection form: only records matching this metadata filter are recommended. */
  where?: string;
  json?: boolean;
}

/** Item ids from variadic arguments, each possibly a list separated by commas or spaces. */
const ids = (args: readonly string[]): string[] => args.flatMap((s) => s.split(/[\s,]+/)).filter((x) => x.length > 0);

/** Item2Vec options from the command line (undefined where the default applies). */
export function item2vecOptionsFrom(o: TrainItem2VecOpts): Item2VecOptions {
  let window: number | 'all' | undefined;
  if (o.window !== undefined) window = o.window === 'all' ? 'all' : intArg(o.window, '--window', { min: 1, max: 10_000 });
  return {
    dim: intArg(o.dim, '--dim', { min: 1, max: 10_000 }),
    window,
    shuffle: o.shuffle,
    negative: intArg(o.negative, '--negative', { min: 1, max: 1000 }),
    sample: numberArg(o.sample, '--sample'),
    minCount: intArg(o.minCount, '--min-count', { min: 1 }),
    epochs: intArg(o.epochs, '--epochs', { min: 1 }),
    alpha: numberArg(o.alpha, '--alpha'),
    seed: intArg(o.seed, '--seed', { min: 0 }),
    threads: intArg(o.threads, '--threads', { min: 1, max: 256 }),
  };
}

/**
 * `omnivec train item2vec --input SEQUENCES --output FILE`: trains on a file of sequences (one user
 * a line, item ids separated by whitespace), prints the training figures, writes the vectors
 * (word2vec text, or binary with --binary), the counts with --save-vocab (what `recommend
 * --counts` reads for --min-count), and / or stores them in a collection with --into.
 */
export async function cmdTrainItem2Vec(db: () => string, o: TrainItem2VecOpts, out: Out): Promise<Word2VecModel> {
  if (o.input === undefined || o.input === '') throw invalidArgument('--input: the sequences file is required (one user a line, item ids separated by spaces)');
  if (o.output === undefined && o.into === undefined) throw invalidArgument('--output or --into: say where the vectors go');
  const options = item2vecTrainerOptions(item2vecOptionsFrom(o));
  const format: WordVectorFormat = flag('--binary', o.binary) === true ? 'word2vec-binary' : 'word2vec';
  const m = await trainAndStore('item2vec', o.input, options, { ...o, format }, db, out, 'item vectors');
  return m;
}

const FORMATS = ['auto', 'word2vec', 'word2vec-binary', 'fasttext'];

/**
 * `omnivec recommend --vectors FILE (--item ID | --history ID…)`: the k items nearest to the item,
 * or to the recency-weighted mean of the history (which is excluded), one `item<TAB>score` a line
 * or JSON. --min-count needs the counts file written by `train item2vec --save-vocab`.
 */
export async function cmdRecommend(o: RecommendOpts, out: Out): Promise<Recommendation[]> {
  if (o.vectors === undefined || o.vectors === '') throw invalidArgument('--vectors: required (a word2vec text or binary file of item vectors)');
  const history = o.history === undefined ? undefined : ids(o.history);
  if ((o.item === undefined) === (history === undefined)) throw invalidArgument('expected one of --item ID and --history ID…');
  let query: RecommendQuery;
  if (o.item !== undefined) {
    if (o.recent !== undefined || o.decay !== undefined) throw invalidArgument('--recent and --decay go with --history, not --item');
    query = { item: o.item };
  } else {
    const decay = numberArg(o.decay, '--decay');
    query = { history: history!, recent: intArg(o.recent, '--recent'), decay };
  }
  const minCount = intArg(o.minCount, '--min-count', { min: 1 });
  if (minCount !== undefined && minCount > 1 && o.counts === undefined) {
    throw invalidArgument('--min-count: needs --counts FILE (the counts written by train item2vec --save-vocab)');
  }
  const format = o.format ?? 'auto';
  if (!FORMATS.includes(format)) throw invalidArgument(`--format: expected one of ${FORMATS.join(', ')}, got ${JSON.stringify(format)}`);
  const kv = await loadWordVectors(o.vectors, { format: format as WordVectorFormat | 'auto', ...(o.counts !== undefined ? { counts: o.counts } : {}) });
  const recs = recommend(kv, query, {
    k: intArg(o.k, '-k') ?? 10,
    ...(o.exclude !== undefined ? { exclude: ids(o.exclude) } : {}),
    ...(minCount !== undefined ? { minCount } : {}),
  });
  if (o.json === true) out.json(recs);
  else for (const r of recs) out.line(`${r.item}\t${r.score.toFixed(4)}`);
  return recs;
}

/**
 * `omnivec recommend NAME (--item ID | --history ID…)`: the same through a collection's index
 * (`recommendFromCollection`: recent 5 and decay 0.8 by default; --min-count N keeps records whose
 * `count` metadata, as `train item2vec --into` writes it, is at least N). `id<TAB>score` lines or JSON.
 */
export async function cmdRecommendCollection(dir: string, name: string, o: RecommendOpts, out: Out): Promise<ItemScore[]> {
  for (const [v, flag] of [[o.vectors, '--vectors'], [o.format, '--format'], [o.counts, '--counts']] as const) {
    if (v !== undefined) throw invalidArgument(`${flag}: goes with the file form (recommend --vectors FILE), not with a collection`);
  }
  const history = o.history === undefined ? undefined : ids(o.history);
  if ((o.item === undefined) === (history === undefined)) throw invalidArgument('expected one of --item ID and --history ID…');
  if (o.item !== undefined && (o.recent !== undefined || o.decay !== undefined)) throw invalidArgument('--recent and --decay go with --history, not --item');
  const where = recommendWhere(o.where, o.minCount);
  const db = await openDatabase(dir, { readOnly: true });
  try {
    const c = await db.getCollection(name);
    const recs = await recommendFromCollection(c, {
      ...(o.item !== undefined ? { item: o.item } : { history: history! }),
      k: intArg(o.k, '-k') ?? 10,
      ...(o.recent !== undefined ? { recent: intArg(o.recent, '--recent') } : {}),
      ...(o.decay !== undefined ? { decay: numberArg(o.decay, '--decay') } : {}),
      ...(o.exclude !== undefined ? { exclude: ids(o.exclude) } : {}),
      ...(where !== undefined ? { where } : {}),
    });
    if (o.json === true) out.json(recs);
    else for (const r of recs) out.line(`${r.id}\t${r.score.toFixed(4)}`);
    return recs;
  } finally {
    await db.close();
  }
}

/**
 * Adds `item2vec` under the `train` command and `recommend` to the program (main.ts owns both).
 * `--into` uses the program's `--db`. Errors propagate as `OmnivecError` for main's exit codes.
 */
export function registerItem2VecCommands(trainCommand: Command, program: Command, out: Out): void {
  const d = ITEM2VEC_DEFAULTS;
  const db = (): string => dbDir(program.opts<{ db?: string }>().db);
  trainCommand.command('item2vec')
    .description('item vectors (Item2Vec: skip-gram over each user\'s set of items) from sequences, one user a line')
    .option('--input <file>', 'the sequences: one user a line, item ids separated by spaces (.gz read through gunzip)')
    .option('--output <file>', 'where the vectors go (word2vec text unless --binary)')
    .option('--binary [0|1]', 'write the word2vec binary format')
    .option('--save-vocab <file>', 'also write the item counts, "item count" a line (recommend --counts)')
    .option('--into <collection>', 'also store the vectors in this collection of the database (--db)')
    .option('--dim <n>', `vector size (default ${d.dim})`)
    .option('--window <n|all>', `context: n items on each side of the sequence (default ${d.window}) or all (every other item)`)
    .option('--shuffle', 'shuffle each sequence every epoch (sets, not sequences)')
    .option('--no-shuffle', 'keep each sequence in its order (the default)')
    .option('--negative <n>', `negative samples (default ${d.negative})`)
    .option('--sample <t>', `subsampling threshold of frequent items (default ${d.sample}; 0 = off)`)
    .option('--min-count <n>', `drop items seen fewer times (default ${d.minCount})`)
    .option('--epochs <n>', `passes over the sequences (default ${d.epochs})`)
    .option('--alpha <a>', 'starting learning rate (default 0.025)')
    .option('--seed <n>', 'random seed (default 1); with --threads 1 training is reproducible')
    .option('--threads <n>', 'worker threads (default: all cores)')
    .option('--quiet', 'no per-epoch lines on stderr')
    .option('--json', 'print the training figures as JSON')
    .action(async (o: TrainItem2VecOpts) => { await cmdTrainItem2Vec(db, o, out); });
  program.command('recommend [name]')
    .description('items near an item, or near the latest items of a history (cosine), from item vectors or a collection NAME')
    .option('--vectors <file>', 'the item vectors (word2vec text or binary, e.g. from train item2vec)')
    .option('--format <format>', 'auto (default) | word2vec | word2vec-binary | fasttext')
    .option('--counts <file>', 'the item counts (train item2vec --save-vocab), for --min-count')
    .option('--item <id>', 'items similar to this one')
    .option('--history <ids...>', 'items the user has consumed, oldest first (excluded from the answer)')
    .option('--histories <file>', 'NAME: many users, one a line ("USER<TAB>ids" or ids); with --out')
    .option('--out <file>', 'NAME with --histories: one line of k item ids per user')
    .option('--user-id <id>', 'NAME of a youtube-dnn / two-tower model trained with user features: the user\'s features')
    .option('--recent <n>', 'use only the last n known history items (default all; with NAME 5)')
    .option('--decay <d>', 'weight d^j for the j-th most recent history item, in (0, 1] (default 1: plain mean; with NAME 0.8)')
    .option('--min-count <n>', 'recommend only items seen at least n times in training (needs --counts; with NAME the records\' count metadata)')
    .option('--where <json>', 'NAME: recommend only records matching this metadata filter')
    .option('--exclude <ids...>', 'items never to recommend')
    .option('-k, --k <k>', 'number of items (default 10)')
    .option('--json', 'print JSON: [{item, score}] (with NAME [{id, score}])')
    .action(async (name: string | undefined, o: RecommendOpts & RecommendUsersOpts) => {
      if (name === undefined) {
        if (o.histories !== undefined || o.userId !== undefined) throw invalidArgument('--histories / --user-id: go with a collection (recommend NAME …)');
        if (o.where !== undefined) throw invalidArgument('--where: goes with a collection (recommend NAME …), not with --vectors');
        await cmdRecommend(o, out);
      } else if (o.item === undefined) {
        // Users: Item2Vec, YouTube DNN and two-tower collections alike (recommend-command.ts).
        for (const [v, f] of [[o.vectors, '--vectors'], [o.format, '--format'], [o.counts, '--counts']] as const) {
          if (v !== undefined) throw invalidArgument(`${f}: goes with the file form (recommend --vectors FILE), not with a collection`);
        }
        await cmdRecommendUsers(db(), name, o, out);
      } else {
        await cmdRecommendCollection(db(), name, o, out);
      }
    });
}
