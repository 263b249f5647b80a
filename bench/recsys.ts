/**
 * Deep recommenders benchmark (`npm run bench:recommend`): training speed (examples/s) of YouTube
 * DNN and two-tower beside Item2Vec's (items/s: training items × epochs / s, and pairs/s), all on
 * the MovieLens training sequences of the leave-last-out split, and serving QPS of each through
 * an omnivec collection (flat and HNSW) answering the 608 users' histories one query at a time
 * (`recommendForUsers`: the model's user vector, or Item2Vec's recency-weighted mean), on the same
 * run. The deep trainers run at each of `--threads` (default 1,2: synchronous data parallelism on
 * worker threads), with the speed-up over 1 thread printed; serving is measured once per model.
 * docs/recommenders.md.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '../src/db/database.js';
import { readMovieLensSequences } from '../src/encoders/item2vec/movielens.js';
import { leaveLastOut } from '../src/encoders/item2vec/protocol.js';
import { item2vecTrainerOptions } from '../src/encoders/item2vec/train.js';
import { trainWord2Vec } from '../src/encoders/word2vec/trainer.js';
import type { RecsysModel } from '../src/encoders/recsys/model.js';
import { trainYoutubeDnn } from '../src/encoders/youtube-dnn/train.js';
import { trainTwoTower } from '../src/encoders/two-tower/train.js';
import { recommendForUsers, type UserVectorModel } from '../src/tasks/recommend.js';

const USAGE = `Usage: npm run bench:recommend -- [--data DIR] [--epochs N] [--seed N] [--threads 1,2] [--queries N] [--no-write]
  --epochs N    epochs of every trainer (default 3: speed, not quality; quality is examples/youtube-dnn)
  --threads L   thread counts the deep trainers run at (default 1,2)
  --queries N   user queries per collection (default: the 608 test users)
`;
const REPO = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    data: { type: 'string', default: join(REPO, '../shared/data/movielens-latest-small') },
    epochs: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string', default: '1,2' },
    queries: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help === true) { process.stdout.write(USAGE); process.exit(0); }
const epochs = Number(values.epochs);
const seed = Number(values.seed);
const threadCounts = values.threads!.split(',').map(Number);
if (threadCounts.some((t) => !Number.isInteger(t) || t < 1)) { process.stderr.write(`--threads: expected counts like 1,2, got ${values.threads}\n`); process.exit(2); }

const split = leaveLastOut(await readMovieLensSequences(values.data!));
const trainItems = [...split.train.values()].reduce((s, x) => s + x.length, 0);
const users = [...split.heldOut.keys()].map((u) => ({ history: split.train.get(u)! }));
const nq = values.queries !== undefined ? Math.min(users.length, Number(values.queries)) : users.length;

interface Row { method: string; threads: number; trainSeconds: number; rate: number; unit: string; qps: Record<string, number> | null }
const rows: Row[] = [];

async function serve(name: string, ids: string[], vectors: Float32Array, dim: number, model: UserVectorModel | null, metric: 'ip' | 'cosine'): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-bench-rec-'));
  const out: Record<string, number> = {};
  try {
    const db = await openDatabase(dir);
    for (const index of ['flat', 'hnsw'] as const) {
      const c = await db.createCollection({ name: `${name}-${index}`, dim, metric, index });
      await c.add(ids.map((id, i) => ({ id, vector: vectors.subarray(i * dim, (i + 1) * dim) })));
      await c.flush();
      await recommendForUsers(c, model, users.slice(0, 20), { k: 10 }); // warm-up
      const t = performance.now();
      for (let i = 0; i < nq; i++) await recommendForUsers(c, model, [users[i]!], { k: 10 });
      out[index] = nq / ((performance.now() - t) / 1000);
    }
    await db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

// Item2Vec (its defaults, one thread like the deep trainers, same epochs).
{
  const t = performance.now();
  const m = await trainWord2Vec(split.train.values(), item2vecTrainerOptions({ seed, epochs, threads: 1 }));
  const s = (performance.now() - t) / 1000;
  const kv = m.wv;
  const vectors = new Float32Array(kv.size * kv.dim);
  for (let i = 0; i < kv.size; i++) vectors.set(kv.row(i), i * kv.dim);
  const pairs = m.stats.epochs.reduce((a, e) => a + e.predictions, 0);
  rows.push({ method: 'Item2Vec', threads: 1, trainSeconds: s, rate: (trainItems * epochs) / s, unit: `items/s (${Math.round(pairs / s).toLocaleString('en-US')} pairs/s)`, qps: await serve('i2v', kv.words.slice(), vectors, kv.dim, null, 'cosine') });
}
for (const [method, train] of [
  ['YouTube DNN', (threads: number) => trainYoutubeDnn(split.train, { seed, epochs, threads })],
  ['two-tower', (threads: number) => trainTwoTower(split.train, { seed, epochs, threads })],
] as [string, (threads: number) => RecsysModel][]) {
  for (const [i, threads] of threadCounts.entries()) {
    const t = performance.now();
    const m = train(threads);
    const s = (performance.now() - t) / 1000;
    const { ids, vectors } = m.itemVectors();
    const qps = i === 0 ? await serve(method === 'two-tower' ? 'tt' : 'yt', ids, vectors, m.dim, m, 'ip') : null;
    rows.push({ method, threads, trainSeconds: s, rate: m.stats!.examplesPerSecond, unit: 'examples/s', qps });
  }
}

const i2v = rows[0]!;
const fmtQps = (q: Record<string, number> | null, k: string): string => (q === null ? '–' : String(Math.round(q[k]!)));
const speedups = rows.slice(1).filter((r) => r.threads !== threadCounts[0]).map((r) => {
  const base = rows.find((x) => x.method === r.method && x.threads === threadCounts[0])!;
  return `${r.method}: ${r.threads} threads train ${(r.rate / base.rate).toFixed(2)}× as fast as ${base.threads} (${Math.round(r.rate).toLocaleString('en-US')} vs ${Math.round(base.rate).toLocaleString('en-US')} examples/s)`;
});
const lines = [
  `MovieLens ml-latest-small, leave-last-out training part (${split.train.size} users, ${trainItems} items), ${epochs} epochs, seed ${seed}; Item2Vec on 1 thread; serving: ${nq} user queries, k 10`,
  '',
  '| method | threads | train s | training speed | QPS flat | QPS HNSW |',
  '|---|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.method} | ${r.threads} | ${r.trainSeconds.toFixed(1)} | ${Math.round(r.rate).toLocaleString('en-US')} ${r.unit} | ${fmtQps(r.qps, 'flat')} | ${fmtQps(r.qps, 'hnsw')} |`),
  '',
  ...rows.slice(1).filter((r) => r.qps !== null).map((r) => `${r.method} / Item2Vec: QPS flat ${(r.qps!.flat! / i2v.qps!.flat!).toFixed(2)}×, HNSW ${(r.qps!.hnsw! / i2v.qps!.hnsw!).toFixed(2)}×; training (${r.threads} thread${r.threads > 1 ? 's' : ''}) ${(i2v.trainSeconds / r.trainSeconds).toFixed(2)}× Item2Vec's speed (same epochs)`),
  ...speedups,
];
process.stdout.write(lines.join('\n') + '\n');
if (values['no-write'] !== true) {
  mkdirSync(join(REPO, 'bench/results'), { recursive: true });
  writeFileSync(join(REPO, 'bench/results/recsys.md'), lines.join('\n') + '\n');
  writeFileSync(join(REPO, 'bench/results/recsys.json'), JSON.stringify({ epochs, seed, threads: threadCounts, queries: nq, rows }, null, 1));
}
