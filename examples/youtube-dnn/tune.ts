/**
 * Tuning runs for the deep recommenders on MovieLens (docs/recommenders.md#tuning): one setting,
 * several seeds, the hit rate@10 and NDCG@10 after every epoch, on the validation split by
 * default (the last liked movie of every user dropped, the second to last held out), so the
 * epoch count and the options are chosen without looking at the test split.
 *
 *   node --import tsx examples/youtube-dnn/tune.ts --model youtube-dnn|two-tower [--options JSON]
 *       [--seeds 1,2,3] [--epochs N] [--init item2vec] [--test] [--data DIR] [--json FILE]
 *
 * --options: the trainer's options as JSON (e.g. '{"average":0.999,"lr":0.001}');
 * --init item2vec: start the item table from Item2Vec vectors trained on the same split and seed
 * (the model's `dim` wide); --init random-direction: a control, each item's Item2Vec row replaced by
 * a random direction of the same norm (is it the vectors or their scale that helps?);
 * --test: the test split (only to confirm a choice made on validation).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readMovieLensSequences } from '../../src/encoders/item2vec/movielens.js';
import { evaluateNextItem, leaveLastOut, vectorRecommender } from '../../src/encoders/item2vec/protocol.js';
import { trainItem2Vec } from '../../src/encoders/item2vec/train.js';
import { modelRecommender } from '../../src/encoders/recsys/evaluate.js';
import { YOUTUBE_DNN_DEFAULTS, trainYoutubeDnn } from '../../src/encoders/youtube-dnn/train.js';
import { TWO_TOWER_DEFAULTS, trainTwoTower } from '../../src/encoders/two-tower/train.js';
import { movieFeatures } from './movies.js';
import { Random } from '../../src/vector/random.js';

const REPO = resolve(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'youtube-dnn' },
    options: { type: 'string', default: '{}' },
    seeds: { type: 'string', default: '1,2,3' },
    epochs: { type: 'string' },
    init: { type: 'string' },
    test: { type: 'boolean' },
    item2vec: { type: 'boolean' },
    data: { type: 'string', default: join(REPO, '../shared/data/movielens-latest-small') },
    json: { type: 'string' },
  },
});
const dir = values.data!;
if (!existsSync(join(dir, 'ratings.csv'))) { process.stderr.write(`no ratings.csv in ${dir}\n`); process.exit(2); }
const kind = values.model!;
if (kind !== 'youtube-dnn' && kind !== 'two-tower') { process.stderr.write(`--model: expected youtube-dnn or two-tower, got ${kind}\n`); process.exit(2); }
const opts = JSON.parse(values.options!) as Record<string, unknown>;
const seeds = values.seeds!.split(',').map(Number);
const epochs = values.epochs !== undefined ? Number(values.epochs) : (opts.epochs as number | undefined) ?? (kind === 'youtube-dnn' ? YOUTUBE_DNN_DEFAULTS.epochs : TWO_TOWER_DEFAULTS.epochs);

let split = leaveLastOut(await readMovieLensSequences(dir));
if (values.test !== true) split = leaveLastOut(split.train);
const itemFeatures = await movieFeatures(dir);
const dim = (opts.dim as number | undefined) ?? (kind === 'youtube-dnn' ? YOUTUBE_DNN_DEFAULTS.dim : TWO_TOWER_DEFAULTS.dim);

const hr: number[][] = [];
const nd: number[][] = [];
const i2v: number[] = [];
const t0 = performance.now();
for (const seed of seeds) {
  const h: number[] = [];
  const n: number[] = [];
  const onEpoch = (_e: unknown, model: Parameters<typeof modelRecommender>[0]): void => {
    const s = evaluateNextItem(split, modelRecommender(model));
    h.push(s.hitRate);
    n.push(s.ndcg);
  };
  let initialItems;
  const init = values.init ?? 'none';
  if (init !== 'none' || values.item2vec === true) {
    const kv = await trainItem2Vec(split.train.values(), { seed, threads: 1, ...(init !== 'none' ? { dim } : {}) });
    if (values.item2vec === true) i2v.push(evaluateNextItem(split, vectorRecommender(kv)).hitRate);
    if (init === 'item2vec') initialItems = kv;
    else if (init === 'random-direction') {
      const rng = new Random(seed + 1000);
      const vectors = kv.vectors.slice();
      for (let i = 0; i < kv.size; i++) {
        const row = vectors.subarray(i * kv.dim, (i + 1) * kv.dim);
        let n0 = 0, n1 = 0;
        for (let j = 0; j < kv.dim; j++) n0 += row[j]! * row[j]!;
        for (let j = 0; j < kv.dim; j++) { row[j] = rng.gaussian(); n1 += row[j]! * row[j]!; }
        for (let j = 0; j < kv.dim; j++) row[j] = row[j]! * Math.sqrt(n0 / n1);
      }
      initialItems = { words: kv.words, dim: kv.dim, vectors };
    } else if (init !== 'none') { process.stderr.write(`--init: expected item2vec or random-direction, got ${init}\n`); process.exit(2); }
  }
  const o = { ...opts, seed, epochs, onEpoch, ...(initialItems !== undefined ? { initialItems } : {}) };
  if (kind === 'youtube-dnn') trainYoutubeDnn(split.train, o);
  else trainTwoTower(split.train, { itemFeatures, ...o });
  hr.push(h);
  nd.push(n);
  process.stderr.write(`seed ${seed}: ${h.map((x) => x.toFixed(3)).join(' ')}\n`);
}
const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
process.stdout.write(`${kind} ${values.options} init=${values.init ?? 'none'} ${values.test === true ? 'TEST' : 'validation'} seeds ${seeds.join(',')} (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
if (i2v.length > 0) process.stdout.write(`  Item2Vec ${mean(i2v).toFixed(4)} (${Math.min(...i2v).toFixed(4)}–${Math.max(...i2v).toFixed(4)})\n`);
for (let e = 0; e < epochs; e++) {
  const col = hr.map((r) => r[e]!);
  process.stdout.write(`  epoch ${String(e + 1).padStart(2)}  hit rate@10 ${mean(col).toFixed(4)} (${Math.min(...col).toFixed(4)}–${Math.max(...col).toFixed(4)})  NDCG@10 ${mean(nd.map((r) => r[e]!)).toFixed(4)}\n`);
}
if (values.json !== undefined) writeFileSync(values.json, JSON.stringify({ kind, options: opts, seeds, hitRate: hr, ndcg: nd, item2vec: i2v }));
