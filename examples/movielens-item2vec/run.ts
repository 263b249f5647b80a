/**
 * MovieLens walkthrough for Item2Vec: next-movie recommendation on ml-latest-small.
 *
 *   node --import tsx examples/movielens-item2vec/run.ts [--data DIR] [--seed N] [--threads N] [--epochs N]
 *       [--history "296 380 344 588 593 231 595 318 480"] [--no-eval]
 *
 * Each user's liked movies (rating ≥ 4) sorted by time; the last one is held out; Item2Vec is
 * trained on the rest; for every user with ≥ 2 liked movies, 10 movies are recommended from the
 * history (seen ones excluded) and scored by hit rate@10 and NDCG@10 beside the popularity
 * baseline. Then the recommendations for one history, with titles (the guide's sequence by
 * default). With --no-eval, nothing is held out: Item2Vec is trained on every liked movie and only
 * the recommendations for the history are printed (the guide's walkthrough). docs/item2vec.md.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runNextItemProtocol } from '../../src/encoders/item2vec/experiment.js';
import { trainItem2Vec } from '../../src/encoders/item2vec/train.js';
import { GUIDE_HISTORY, readMovieLensSequences, readMovieTitles } from '../../src/encoders/item2vec/movielens.js';
import { QUERY_DEFAULTS } from '../../src/encoders/item2vec/protocol.js';
import { recommend } from '../../src/encoders/item2vec/recommend.js';
import { ITEM2VEC_DEFAULTS } from '../../src/encoders/item2vec/train.js';

const REPO = resolve(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    data: { type: 'string', default: join(REPO, '../shared/data/movielens-latest-small') },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string', default: String(Math.min(2, availableParallelism())) },
    epochs: { type: 'string' },
    sample: { type: 'string' },
    history: { type: 'string' },
    'no-eval': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help === true) {
  process.stdout.write('usage: node --import tsx examples/movielens-item2vec/run.ts [--data DIR] [--seed N] [--threads N] [--epochs N] [--sample X] [--history "ID ID …"] [--no-eval]\n');
  process.exit(0);
}
const dir = values.data!;
if (!existsSync(join(dir, 'ratings.csv'))) {
  process.stderr.write(`no ratings.csv in ${dir}: pass --data DIR, a MovieLens directory (ml-latest-small)\n`);
  process.exit(2);
}
const int = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) { process.stderr.write(`--${name}: expected a non-negative integer, got ${v}\n`); process.exit(2); }
  return n;
};

const t0 = performance.now();
const sequences = await readMovieLensSequences(dir);
const titles = await readMovieTitles(dir);
const readSeconds = (performance.now() - t0) / 1000;
const liked = [...sequences.values()].reduce((s, x) => s + x.length, 0);

const train = {
  ...ITEM2VEC_DEFAULTS,
  seed: int('seed', values.seed)!,
  threads: Math.max(1, int('threads', values.threads)!),
  epochs: int('epochs', values.epochs) ?? ITEM2VEC_DEFAULTS.epochs,
  sample: values.sample === undefined ? ITEM2VEC_DEFAULTS.sample : Number(values.sample),
};
if (!(train.sample >= 0)) { process.stderr.write(`--sample: expected a number ≥ 0, got ${values.sample}\n`); process.exit(2); }
const history = values.history === undefined ? GUIDE_HISTORY : values.history.split(/[\s,]+/).filter((x) => x !== '');
if (history.length === 0) { process.stderr.write('--history: expected movie ids separated by spaces, e.g. "296 380 344"\n'); process.exit(2); }
const f = (x: number): string => x.toFixed(4);
const recommendations = (kv: Parameters<typeof recommend>[0]): string[] => [
  'history (oldest first):',
  ...history.map((id) => `  ${id.padStart(5)}  ${titles.get(id) ?? '?'}${kv.has(id) ? '' : '  (not in training: skipped)'}`),
  'recommended:',
  ...recommend(kv, { history, decay: QUERY_DEFAULTS.decay }, { k: 10, minCount: QUERY_DEFAULTS.minCount })
    .map((x, i) => `  ${String(i + 1).padStart(2)}. ${x.item.padStart(5)}  ${titles.get(x.item) ?? '?'}  (${x.score.toFixed(3)})`),
];

if (values['no-eval'] === true) {
  const t1 = performance.now();
  const kv = await trainItem2Vec([...sequences.values()], train);
  process.stdout.write([
    `MovieLens (${dir}): ${sequences.size} users, ${liked.toLocaleString('en-US')} liked ratings (≥ 4), ${kv.size.toLocaleString('en-US')} movies`,
    `Item2Vec on every liked sequence: skip-gram, window ${train.window}, dim ${train.dim}, negative ${train.negative}, epochs ${train.epochs}, seed ${train.seed}, threads ${train.threads}: ${((performance.now() - t1) / 1000).toFixed(1)} s`,
    `query: the history's unit vectors weighted ${QUERY_DEFAULTS.decay}^j (j = 0 for the latest); candidates liked ≥ ${QUERY_DEFAULTS.minCount} times`,
    '',
    ...recommendations(kv),
  ].join('\n') + '\n');
  process.exit(0);
}

const r = await runNextItemProtocol(sequences, { train, ...QUERY_DEFAULTS });

const lines = [
  `MovieLens (${dir}): ${sequences.size} users, ${liked.toLocaleString('en-US')} liked ratings (≥ 4), ${r.kv.size.toLocaleString('en-US')} movies in training`,
  `held out: each user's last liked movie; ${r.item2vec.users} users evaluated`,
  `Item2Vec: skip-gram, window ${train.window}, shuffle ${train.shuffle}, dim ${train.dim}, negative ${train.negative}, sample ${train.sample}, epochs ${train.epochs}, seed ${train.seed}, threads ${train.threads}`,
  `query: the history's unit vectors weighted ${QUERY_DEFAULTS.decay}^j (j = 0 for the latest); candidates liked ≥ ${QUERY_DEFAULTS.minCount} times in training`,
  '',
  '              hit rate@10   NDCG@10',
  `Item2Vec      ${f(r.item2vec.hitRate)}        ${f(r.item2vec.ndcg)}`,
  `popularity    ${f(r.popularity.hitRate)}        ${f(r.popularity.ndcg)}`,
  `ratio         ${(r.item2vec.hitRate / r.popularity.hitRate).toFixed(2)}×         ${(r.item2vec.ndcg / r.popularity.ndcg).toFixed(2)}×`,
  '',
  `timings: read ${readSeconds.toFixed(2)} s, train ${r.seconds.train.toFixed(2)} s, evaluate ${r.seconds.evaluate.toFixed(2)} s, popularity ${r.seconds.popularity.toFixed(2)} s`,
  '',
  ...recommendations(r.kv),
  `total ${((performance.now() - t0) / 1000).toFixed(1)} s`,
];
process.stdout.write(lines.join('\n') + '\n');
