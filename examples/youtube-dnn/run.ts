/**
 * Deep candidate generation on MovieLens (ml-latest-small): popularity, Item2Vec, YouTube DNN and
 * two-tower side by side on the leave-last-out protocol of docs/item2vec.md, several seeds.
 *
 *   node --import tsx examples/youtube-dnn/run.ts [--data DIR] [--seeds 1,2,3] [--validation]
 *       [--epochs N] [--init item2vec|none] [--threads N] [--quick] [--json FILE]
 *
 * Each user's liked movies (rating ≥ 4) by time; the last is held out (with --validation, the
 * second to last, the model trained on what precedes it); every model is trained on the rest;
 * for each of the 608 users, 10 movies liked ≥ 10 times in training and not yet seen are
 * recommended; hit rate@10 and NDCG@10. The two-tower item tower reads the genres and the year
 * of each movie (movies.csv). The deep models start their item table from Item2Vec vectors trained
 * on the same sequences (--init none: random), and train on --threads (default 1).
 * --quick: 2 epochs, one seed, 120 users (a smoke test).
 * docs/recommenders.md.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readMovieLensSequences } from '../../src/encoders/item2vec/movielens.js';
import { evaluateNextItem, leaveLastOut, popularityRecommender, vectorRecommender, type NextItemScore } from '../../src/encoders/item2vec/protocol.js';
import { trainItem2Vec } from '../../src/encoders/item2vec/train.js';
import { modelRecommender } from '../../src/encoders/recsys/evaluate.js';
import { pretrainItemVectors } from '../../src/encoders/recsys/pretrain.js';
import { YOUTUBE_DNN_DEFAULTS, trainYoutubeDnn } from '../../src/encoders/youtube-dnn/train.js';
import { TWO_TOWER_DEFAULTS, trainTwoTower } from '../../src/encoders/two-tower/train.js';
import { movieFeatures } from './movies.js';

const REPO = resolve(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    data: { type: 'string', default: join(REPO, '../shared/data/movielens-latest-small') },
    seeds: { type: 'string', default: '1,2,3' },
    validation: { type: 'boolean' },
    epochs: { type: 'string' },
    init: { type: 'string', default: 'item2vec' },
    threads: { type: 'string', default: '1' },
    quick: { type: 'boolean' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help === true) {
  process.stdout.write('usage: node --import tsx examples/youtube-dnn/run.ts [--data DIR] [--seeds 1,2,3] [--validation] [--epochs N] [--init item2vec|none] [--threads N] [--quick] [--json FILE]\n');
  process.exit(0);
}
const dir = values.data!;
if (!existsSync(join(dir, 'ratings.csv'))) {
  process.stderr.write(`no ratings.csv in ${dir}: pass --data DIR, a MovieLens directory (ml-latest-small)\n`);
  process.exit(2);
}
const quick = values.quick === true;
const seeds = (quick ? '1' : values.seeds!).split(',').map(Number);
if (seeds.some((s) => !Number.isInteger(s) || s < 0)) { process.stderr.write(`--seeds: expected integers, got ${values.seeds}\n`); process.exit(2); }
const epochs = values.epochs !== undefined ? Number(values.epochs) : quick ? 2 : undefined;
const init = values.init!;
if (init !== 'item2vec' && init !== 'none') { process.stderr.write(`--init: expected item2vec or none, got ${init}\n`); process.exit(2); }
const threads = Number(values.threads);
if (!Number.isInteger(threads) || threads < 1) { process.stderr.write(`--threads: expected a positive integer, got ${values.threads}\n`); process.exit(2); }

let sequences = await readMovieLensSequences(dir);
if (quick) sequences = new Map([...sequences].slice(0, 120));
let split = leaveLastOut(sequences);
if (values.validation === true) split = leaveLastOut(split.train);
const itemFeatures = await movieFeatures(dir);
const trainSeqs = split.train;

interface Row { method: string; seed: number; score: NextItemScore; seconds: number }
const rows: Row[] = [];
const timed = <T>(f: () => T | Promise<T>): Promise<[T, number]> => {
  const t = performance.now();
  return Promise.resolve(f()).then((v) => [v, (performance.now() - t) / 1000]);
};
const pop = evaluateNextItem(split, popularityRecommender(trainSeqs.values()));
process.stdout.write(`MovieLens ${values.validation === true ? 'validation' : 'test'} split: ${split.heldOut.size} users, ` +
  `${[...trainSeqs.values()].reduce((s, x) => s + x.length, 0)} training items; seeds ${seeds.join(',')}; deep models: item table from ${init === 'item2vec' ? 'Item2Vec vectors' : 'random'}, ${threads} thread${threads > 1 ? 's' : ''}\n`);
for (const seed of seeds) {
  const [kv, t1] = await timed(() => trainItem2Vec(trainSeqs.values(), { seed, ...(epochs !== undefined ? { epochs } : {}) }));
  rows.push({ method: 'Item2Vec', seed, score: evaluateNextItem(split, vectorRecommender(kv)), seconds: t1 });
  // The deep models start from Item2Vec vectors of their own width (one thread: reproducible); the
  // time includes that pretraining.
  const initial = async (dim: number) => (init === 'item2vec' ? { initialItems: await pretrainItemVectors(trainSeqs, { dim, seed }) } : {});
  const [yt, t2] = await timed(async () => trainYoutubeDnn(trainSeqs, { seed, threads, ...(await initial(YOUTUBE_DNN_DEFAULTS.dim)), ...(epochs !== undefined ? { epochs } : {}) }));
  rows.push({ method: 'YouTube DNN', seed, score: evaluateNextItem(split, modelRecommender(yt)), seconds: t2 });
  const [tt, t3] = await timed(async () => trainTwoTower(trainSeqs, { seed, threads, itemFeatures, ...(await initial(TWO_TOWER_DEFAULTS.dim)), ...(epochs !== undefined ? { epochs } : {}) }));
  rows.push({ method: 'two-tower', seed, score: evaluateNextItem(split, modelRecommender(tt)), seconds: t3 });
  for (const r of rows.filter((x) => x.seed === seed)) {
    process.stdout.write(`  seed ${seed}  ${r.method.padEnd(12)} hit rate@10 ${r.score.hitRate.toFixed(4)}  NDCG@10 ${r.score.ndcg.toFixed(4)}  train ${r.seconds.toFixed(1)} s\n`);
  }
}

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
const summary = ['Item2Vec', 'YouTube DNN', 'two-tower'].map((method) => {
  const rs = rows.filter((r) => r.method === method);
  const hr = rs.map((r) => r.score.hitRate);
  return { method, hitRate: mean(hr), min: Math.min(...hr), max: Math.max(...hr), ndcg: mean(rs.map((r) => r.score.ndcg)), seconds: mean(rs.map((r) => r.seconds)) };
});
process.stdout.write(`\nmethod        hit rate@10 (mean, min–max over ${seeds.length} seed${seeds.length > 1 ? 's' : ''})   NDCG@10   train s\n`);
process.stdout.write(`popularity    ${pop.hitRate.toFixed(4)}                                ${pop.ndcg.toFixed(4)}    –\n`);
for (const s of summary) {
  process.stdout.write(`${s.method.padEnd(13)} ${s.hitRate.toFixed(4)} (${s.min.toFixed(4)}–${s.max.toFixed(4)})                ${s.ndcg.toFixed(4)}    ${s.seconds.toFixed(1)}\n`);
}
const i2v = summary[0]!;
for (const s of summary.slice(1)) {
  const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}×` : '– (Item2Vec scored 0)');
  process.stdout.write(`${s.method} / Item2Vec: hit rate ${ratio(s.hitRate, i2v.hitRate)}, NDCG ${ratio(s.ndcg, i2v.ndcg)}\n`);
}
if (values.json !== undefined) writeFileSync(values.json, JSON.stringify({ seeds, validation: values.validation === true, popularity: pop, summary, rows }, null, 1));
