/**
 * Item2Vec benchmark: the MovieLens next-movie protocol (docs/item2vec.md) with omnivec's Item2Vec
 * and gensim's Word2Vec on the same training sequences and the same settings, both scored by
 * omnivec's evaluation code, beside the popularity baseline. `npm run bench:item2vec -- --help`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readMovieLensSequences } from '../src/encoders/item2vec/movielens.js';
import {
  QUERY_DEFAULTS, evaluateNextItem, leaveLastOut, popularityRecommender, vectorRecommender, type NextItemScore,
} from '../src/encoders/item2vec/protocol.js';
import { ITEM2VEC_DEFAULTS, trainItem2Vec } from '../src/encoders/item2vec/train.js';
import { KeyedVectors } from '../src/encoders/word2vec/keyed-vectors.js';
import { openRecords } from '../src/io/index.js';

const USAGE = `Usage: npm run bench:item2vec -- [options]

  --data DIR        MovieLens directory with ratings.csv (default ../shared/data/movielens-latest-small)
  --seeds LIST      seeds, e.g. 1,2,3 (default 1,2,3); the table shows each and the mean
  --threads N       training threads for both (default 2)
  --epochs N        epochs for both (default ${ITEM2VEC_DEFAULTS.epochs})
  --negative N      negative samples for both (default ${ITEM2VEC_DEFAULTS.negative})
  --dim N           vector size for both (default ${ITEM2VEC_DEFAULTS.dim})
  --window N|all    context window for both (default ${ITEM2VEC_DEFAULTS.window})
  --sample T        subsampling threshold for both (default ${ITEM2VEC_DEFAULTS.sample})
  --shuffle         shuffle each sequence every epoch (both engines; default ${ITEM2VEC_DEFAULTS.shuffle ? 'on' : 'off'})
  --no-shuffle      keep each sequence in time order (both engines)
  --min-rating R    a "liked" movie has rating ≥ R (default 4; e.g. 0.5 keeps every rating)
  --validation      score on the validation split (the second-to-last liked movie held out, trained on
                    what precedes it) instead of the test split
  --python PATH     Python with gensim (default /usr/bin/python3)
  --no-gensim       omnivec and popularity only
  --no-write        print only (default: also bench/results/item2vec.{json,md})
`;

const REPO = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    data: { type: 'string', default: join(REPO, '../shared/data/movielens-latest-small') },
    seeds: { type: 'string', default: '1,2,3' },
    threads: { type: 'string', default: String(Math.min(2, availableParallelism())) },
    epochs: { type: 'string' },
    negative: { type: 'string' },
    dim: { type: 'string' },
    window: { type: 'string' },
    sample: { type: 'string' },
    validation: { type: 'boolean', default: false },
    'no-shuffle': { type: 'boolean', default: false },
    shuffle: { type: 'boolean', default: false },
    'min-rating': { type: 'string', default: '4' },
    python: { type: 'string', default: '/usr/bin/python3' },
    'no-gensim': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help === true) { process.stdout.write(USAGE); process.exit(0); }
function fail(message: string): never {
  process.stderr.write(`bench:item2vec: ${message}\n`);
  process.exit(2);
}
const int = (name: string, v: string | undefined, def: number): number => {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) fail(`--${name}: expected a positive integer, got ${v}`);
  return n;
};
const seeds = values.seeds!.split(',').map((s) => int('seeds', s.trim(), 1));
const settings = {
  ...ITEM2VEC_DEFAULTS,
  threads: int('threads', values.threads, 2),
  epochs: int('epochs', values.epochs, ITEM2VEC_DEFAULTS.epochs),
  negative: int('negative', values.negative, ITEM2VEC_DEFAULTS.negative),
  dim: int('dim', values.dim, ITEM2VEC_DEFAULTS.dim),
  window: values.window === 'all' ? 'all' as const : int('window', values.window, ITEM2VEC_DEFAULTS.window as number),
  sample: values.sample === undefined ? ITEM2VEC_DEFAULTS.sample : Number(values.sample),
  shuffle: values.shuffle === true ? true : values['no-shuffle'] === true ? false : ITEM2VEC_DEFAULTS.shuffle,
};
const minRating = Number(values['min-rating']);
if (!(minRating > 0 && minRating <= 5)) fail(`--min-rating: expected a number in (0, 5], got ${values['min-rating']}`);
if (!(settings.sample >= 0)) fail(`--sample: expected a number ≥ 0, got ${values.sample}`);
if (!existsSync(join(values.data!, 'ratings.csv'))) fail(`no ratings.csv in ${values.data}: pass --data DIR`);
const gensim = values['no-gensim'] !== true;
if (gensim && !existsSync(values.python!)) fail(`${values.python}: no such Python (pass --python PATH or --no-gensim)`);

const sequences = await readMovieLensSequences(values.data!, { minRating });
const testSplit = leaveLastOut(sequences);
const split = values.validation === true ? leaveLastOut(testSplit.train) : testSplit;
const trainSeqs = [...split.train.values()].filter((s) => s.length > 0);
const counts = new Map<string, number>();
for (const s of trainSeqs) for (const item of s) counts.set(item, (counts.get(item) ?? 0) + 1);

const tmp = mkdtempSync(join(tmpdir(), 'omnivec-bench-i2v-'));
const seqFile = join(tmp, 'train.txt');
writeFileSync(seqFile, trainSeqs.map((s) => s.join(' ')).join('\n') + '\n');

/** gensim's vectors in word2vec text format, with the training counts (gensim's file has none). */
async function loadGensim(path: string): Promise<KeyedVectors> {
  const opened = await openRecords(path, { format: 'word2vec' });
  const words: string[] = [];
  const rows: Float32Array[] = [];
  for await (const r of opened.records) { words.push(r.id); rows.push(r.vector); }
  const dim = opened.dim!;
  const v = new Float32Array(words.length * dim);
  rows.forEach((r, i) => v.set(r, i * dim));
  return new KeyedVectors(words, v, dim, Float64Array.from(words, (w) => counts.get(w) ?? 0));
}

interface Row { engine: 'omnivec' | 'gensim' | 'popularity'; seed: number | null; seconds: number; score: NextItemScore }
const rows: Row[] = [];
const log = (s: string): void => { process.stderr.write(s + '\n'); };
const f4 = (x: number): string => x.toFixed(4);

const popStart = performance.now();
const popularity = evaluateNextItem(split, popularityRecommender(split.train.values()));
rows.push({ engine: 'popularity', seed: null, seconds: (performance.now() - popStart) / 1000, score: popularity });
log(`${values.validation === true ? 'validation' : 'test'} split: ${split.heldOut.size} users, ${trainSeqs.length} training sequences, ${counts.size} movies; popularity hit rate@10 ${f4(popularity.hitRate)}, NDCG@10 ${f4(popularity.ndcg)}`);

try {
  for (const seed of seeds) {
    let t = performance.now();
    const ours = await trainItem2Vec(trainSeqs, { ...settings, seed });
    const oursSeconds = (performance.now() - t) / 1000;
    const s1 = evaluateNextItem(split, vectorRecommender(ours));
    rows.push({ engine: 'omnivec', seed, seconds: oursSeconds, score: s1 });
    log(`seed ${seed}: omnivec  ${f4(s1.hitRate)} ${f4(s1.ndcg)}  train ${oursSeconds.toFixed(1)} s`);
    if (gensim) {
      const out = join(tmp, `gensim-${seed}.txt`);
      t = performance.now();
      const report = execFileSync(values.python!, [
        join(REPO, 'bench/lib/gensim-item2vec.py'), seqFile, out, '--window', String(settings.window), ...(settings.shuffle ? ['--shuffle'] : []),
        '--dim', String(settings.dim), '--negative', String(settings.negative), '--sample', String(settings.sample),
        '--epochs', String(settings.epochs), '--min-count', String(settings.minCount), '--seed', String(seed),
        '--workers', String(settings.threads),
      ], { encoding: 'utf8' });
      const g = JSON.parse(report.trim().split('\n').pop()!) as { gensim: string; seconds: number };
      const kv = await loadGensim(out);
      const s2 = evaluateNextItem(split, vectorRecommender(kv));
      rows.push({ engine: 'gensim', seed, seconds: g.seconds, score: s2 });
      log(`seed ${seed}: gensim ${g.gensim}  ${f4(s2.hitRate)} ${f4(s2.ndcg)}  train ${g.seconds.toFixed(1)} s (${((performance.now() - t) / 1000).toFixed(1)} s with Python's start and the file)`);
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const mean = (engine: Row['engine'], key: 'hitRate' | 'ndcg' | 'seconds'): number => {
  const rs = rows.filter((r) => r.engine === engine);
  return rs.reduce((s, r) => s + (key === 'seconds' ? r.seconds : r.score[key]), 0) / rs.length;
};
const table: string[] = [
  `Item2Vec on MovieLens latest-small${minRating !== 4 ? ` (liked = rating ≥ ${minRating})` : ''}, ${values.validation === true ? 'validation' : 'test'} split (${split.heldOut.size} users, last liked movie held out), k = 10`,
  `settings: skip-gram, window ${settings.window}, shuffle ${settings.shuffle} (gensim: ${settings.window === 'all' ? "window 'all' = the longest sequence with shrink_windows off" : `window ${settings.window}, shrink_windows on`}${settings.shuffle ? ', shuffled = one train() call per epoch on shuffled copies' : ''}), dim ${settings.dim}, negative ${settings.negative}, sample ${settings.sample}, min count ${settings.minCount}, epochs ${settings.epochs}, threads ${settings.threads}; query decay ${QUERY_DEFAULTS.decay}, candidates liked ≥ ${QUERY_DEFAULTS.minCount} times`,
  '',
  '| engine | seed | hit rate@10 | NDCG@10 | train s |',
  '|---|---:|---:|---:|---:|',
  ...rows.filter((r) => r.engine !== 'popularity').map((r) => `| ${r.engine} | ${r.seed} | ${f4(r.score.hitRate)} | ${f4(r.score.ndcg)} | ${r.seconds.toFixed(1)} |`),
  `| **omnivec** | mean | **${f4(mean('omnivec', 'hitRate'))}** | **${f4(mean('omnivec', 'ndcg'))}** | ${mean('omnivec', 'seconds').toFixed(1)} |`,
  ...(gensim ? [`| **gensim** | mean | **${f4(mean('gensim', 'hitRate'))}** | **${f4(mean('gensim', 'ndcg'))}** | ${mean('gensim', 'seconds').toFixed(1)} |`] : []),
  `| popularity | – | ${f4(popularity.hitRate)} | ${f4(popularity.ndcg)} | – |`,
  '',
  `omnivec / popularity: hit rate ${(mean('omnivec', 'hitRate') / popularity.hitRate).toFixed(2)}×, NDCG ${(mean('omnivec', 'ndcg') / popularity.ndcg).toFixed(2)}×`,
  ...(gensim ? [
    `gensim / popularity: hit rate ${(mean('gensim', 'hitRate') / popularity.hitRate).toFixed(2)}×, NDCG ${(mean('gensim', 'ndcg') / popularity.ndcg).toFixed(2)}×`,
    `omnivec / gensim: hit rate ${(mean('omnivec', 'hitRate') / mean('gensim', 'hitRate')).toFixed(2)}×, NDCG ${(mean('omnivec', 'ndcg') / mean('gensim', 'ndcg')).toFixed(2)}×, training ${(mean('gensim', 'seconds') / mean('omnivec', 'seconds')).toFixed(2)}× faster`,
  ] : []),
];
process.stdout.write(table.join('\n') + '\n');
if (values['no-write'] !== true) {
  const dir = join(REPO, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const name = values.validation === true ? 'item2vec-validation' : 'item2vec';
  writeFileSync(join(dir, `${name}.json`), JSON.stringify({ settings, query: QUERY_DEFAULTS, seeds, date: new Date().toISOString(), rows }, null, 2) + '\n');
  writeFileSync(join(dir, `${name}.md`), table.join('\n') + '\n');
}
