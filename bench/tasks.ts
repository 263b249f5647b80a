/**
 * bench:tasks — the tasks' quality and speed on MNIST beside scikit-learn (Debian's python3-sklearn)
 * on the same arrays in the same run: k-means (Lloyd and mini-batch, k = 10, one k-means++ start
 * each, NMI and purity against the digits), 5-NN classification (the last 1,000 test images against
 * the first 9,000, exact neighbours on both sides), and outlier detection (50 corrupted digits
 * (digits with N(0, 0.5²) pixel noise) planted among 2,000 digits: LOF with 20 neighbours and the 10th-neighbour distance, precision@50).
 * `npm run bench:tasks [-- --data DIR] [--seed N] [--no-write]`; writes bench/results/tasks.{md,json} and the
 * tasks section of BENCHMARKS.md. Method: docs/benchmarks.md.
 */
import { spawnSync, execSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { openDatabase } from '../src/db/database.js';
import { vectorBatch } from '../src/vector/batch.js';
import { Random } from '../src/vector/random.js';
import { writeNpy } from '../src/io/npy.js';
import { fitKMeans } from '../src/tasks/kmeans.js';
import { nmi, purity } from '../src/tasks/metrics.js';
import { classifyKnn } from '../src/tasks/classify.js';
import { outliers } from '../src/tasks/outliers.js';
import { Arena } from '../src/vector/arena.js';
import { log } from './lib/measure.js';
import { updateBenchmarksMd } from './lib/report.js';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: '/work/shared/data' },
    seed: { type: 'string', default: '1' },
    seeds: { type: 'string', default: '1,2,3,4,5' },
    'no-write': { type: 'boolean', default: false },
  },
});
const seed = Number(args.seed);
/** k-means runs once per seed on both sides; the table gives the means. */
const kmSeeds = args.seeds!.split(',').map(Number);
const PY = '/usr/bin/python3';
const N_OUT = 50;
const N_INLIERS = 2000;

function readMnist(dir: string): { X: Float32Array; y: Int32Array; n: number } {
  const img = gunzipSync(readFileSync(join(dir, 't10k-images-idx3-ubyte.gz')));
  const lab = gunzipSync(readFileSync(join(dir, 't10k-labels-idx1-ubyte.gz')));
  if (img.readUInt32BE(0) !== 0x803 || lab.readUInt32BE(0) !== 0x801) throw new Error(`${dir}: not the IDX files of MNIST`);
  const n = img.readUInt32BE(4);
  const X = new Float32Array(n * 784);
  for (let i = 0; i < X.length; i++) X[i] = img[16 + i]! / 255;
  const y = Int32Array.from(lab.subarray(8, 8 + n));
  return { X, y, n };
}

function seconds<T>(fn: () => T): { value: T; s: number } {
  const t = performance.now();
  const value = fn();
  return { value, s: (performance.now() - t) / 1000 };
}

async function secondsAsync<T>(fn: () => Promise<T>): Promise<{ value: T; s: number }> {
  const t = performance.now();
  const value = await fn();
  return { value, s: (performance.now() - t) / 1000 };
}

interface Row { task: string; quality: string; ours: number; peer: number | undefined; oursSeconds: number; peerSeconds: number | undefined; oneThreadSeconds?: number; oursSteady?: number; peerSteady?: number }

/** Repeat calls after the timed one: their median is the steady-state time (the same on the scikit-learn side). */
const REPEATS = 5;

async function steadySeconds(fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < REPEATS; i++) times.push((await secondsAsync(fn)).s);
  times.sort((a, b) => a - b);
  return times[REPEATS >> 1]!;
}

async function main(): Promise<void> {
  const mnistDir = join(args.data!, 'vectors-mnist-test');
  if (!existsSync(mnistDir)) throw new Error(`${mnistDir} is missing (--data DIR)`);
  const { X, y, n } = readMnist(mnistDir);
  const dim = 784;
  const tmp = mkdtempSync(join(tmpdir(), 'omnivec-bench-tasks-'));
  const rows: Row[] = [];
  let peer: Record<string, Record<string, number>> | undefined;
  try {
    // The outlier set: the first 2,000 digits and 50 corrupted digits (other test images plus
    // independent N(0, 0.5²) noise on every pixel), shuffled together. Uniform-noise images would
    // not do for LOF: 50 of them form a cluster of their own, as dense as their neighbours.
    const rng = new Random(seed);
    const m = N_INLIERS + N_OUT;
    const order = Array.from({ length: m }, (_, i) => i);
    for (let i = m - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const O = new Float32Array(m * dim);
    const planted = new Float32Array(m);
    order.forEach((src, row) => {
      if (src < N_INLIERS) O.set(X.subarray(src * dim, (src + 1) * dim), row * dim);
      else {
        const from = 5000 + (src - N_INLIERS) * 7;
        for (let c = 0; c < dim; c++) O[row * dim + c] = X[from * dim + c]! + 0.5 * rng.gaussian();
        planted[row] = 1;
      }
    });

    // scikit-learn on the same arrays.
    const haveSk = spawnSync(PY, ['-c', 'import sklearn'], { encoding: 'utf8' }).status === 0;
    if (haveSk) {
      await writeNpy(join(tmp, 'mnist.npy'), vectorBatch(X, dim));
      await writeNpy(join(tmp, 'labels.npy'), vectorBatch(Float32Array.from(y), 1));
      await writeNpy(join(tmp, 'outl.npy'), vectorBatch(O, dim));
      await writeNpy(join(tmp, 'outl_planted.npy'), vectorBatch(planted, 1));
      // The .npy files hold float32: labels and the planted flags are cast back in Python.
      writeFileSync(join(tmp, 'run.py'), `import numpy as np, runpy, sys
np.save('${tmp}/labels.npy', np.load('${tmp}/labels.npy').reshape(-1).astype(np.int64))
np.save('${tmp}/outl_planted.npy', np.load('${tmp}/outl_planted.npy').reshape(-1) > 0.5)
sys.argv = ['sklearn-tasks.py', '${tmp}', '10', '${kmSeeds.join(',')}']
runpy.run_path('bench/lib/sklearn-tasks.py', run_name='__main__')
`);
      log('scikit-learn: k-means, mini-batch k-means, 5-NN, LOF, k-NN distance');
      const r = spawnSync(PY, [join(tmp, 'run.py')], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(cpus().length) } });
      if (r.status !== 0) throw new Error(`scikit-learn failed: ${r.stderr}`);
      peer = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, Record<string, number>>;
    } else {
      log('scikit-learn is not installed for /usr/bin/python3 (apt-get install -y python3-sklearn): omnivec figures only');
    }

    // k-means, Lloyd and mini-batch: one k-means++ start each, as the peer; means over the seeds.
    for (const method of ['kmeans', 'minibatch'] as const) {
      log(`omnivec: k-means (${method}), seeds ${kmSeeds.join(',')}`);
      let s = 0, s1 = 0, nm = 0, pu = 0, inertia = 0;
      for (const sd of kmSeeds) {
        const fit = seconds(() => fitKMeans(vectorBatch(X, dim), { k: 10, method, nInit: 1, seed: sd }));
        s1 += seconds(() => fitKMeans(vectorBatch(X, dim), { k: 10, method, nInit: 1, seed: sd, threads: 1 })).s;
        s += fit.s;
        nm += nmi(fit.value.labels, y);
        pu += purity(fit.value.labels, y);
        inertia += fit.value.inertia;
      }
      const t = kmSeeds.length;
      const p = peer?.[method];
      const name = method === 'kmeans' ? 'k-means (Lloyd), k = 10, 10,000 × 784' : 'mini-batch k-means, k = 10, batch 1,024';
      rows.push({ task: name, quality: 'NMI', ours: nm / t, peer: p?.nmi, oursSeconds: s / t, peerSeconds: p?.seconds, oneThreadSeconds: s1 / t });
      rows.push({ task: name, quality: 'purity', ours: pu / t, peer: p?.purity, oursSeconds: s / t, peerSeconds: p?.seconds, oneThreadSeconds: s1 / t });
      rows.push({ task: name, quality: 'inertia (Σ squared distance)', ours: inertia / t, peer: p?.inertia, oursSeconds: s / t, peerSeconds: p?.seconds, oneThreadSeconds: s1 / t });
    }

    // 5-NN: a flat (exact) collection of the first 9,000, the last 1,000 classified.
    const db = await openDatabase(join(tmp, 'db'));
    const train = n - 1000;
    const c = await db.createCollection({ name: 'mnist', dim, metric: 'l2', index: 'flat' });
    await c.add({
      ids: Array.from({ length: train }, (_, i) => `m${String(i).padStart(5, '0')}`),
      vectors: X.subarray(0, train * dim),
      metadatas: Array.from({ length: train }, (_, i) => ({ digit: y[i]! })),
    });
    log('omnivec: 5-NN of the last 1,000 against the first 9,000');
    // Warm-up: the same call, as for the outliers below (the store's pages and the pool's workers,
    // which a 100-query warm-up did not start: the first 1,000-query call took ~2× the second).
    const cold = await secondsAsync(() => classifyKnn(c, { labelField: 'digit', k: 5, vectors: vectorBatch(X.slice(train * dim), dim) }));
    log(`  first call (cold: the pool's workers start) ${cold.s.toFixed(2)} s`);
    const knn = await secondsAsync(() => classifyKnn(c, { labelField: 'digit', k: 5, vectors: vectorBatch(X.slice(train * dim), dim) }));
    const knnSteady = await steadySeconds(() => classifyKnn(c, { labelField: 'digit', k: 5, vectors: vectorBatch(X.slice(train * dim), dim) }));
    let right = 0;
    knn.value.forEach((p, i) => { if (p.label === String(y[train + i])) right++; });
    rows.push({ task: '5-NN classification (exact), 1,000 queries', quality: 'accuracy', ours: right / 1000, peer: peer?.knn?.accuracy, oursSeconds: knn.s, peerSeconds: peer?.knn?.seconds, oursSteady: knnSteady, peerSteady: peer?.knn?.steady });

    // Outliers.
    const oc = await db.createCollection({ name: 'outl', dim, metric: 'l2', index: 'flat' });
    await oc.add({ ids: Array.from({ length: m }, (_, i) => `o${String(i).padStart(5, '0')}`), vectors: O });
    const plantedIds = new Set<string>();
    planted.forEach((v, i) => { if (v > 0) plantedIds.add(`o${String(i).padStart(5, '0')}`); });
    for (const [method, k, key, label] of [['lof', 20, 'lof', 'LOF, 20 neighbours'], ['knn', 10, 'knn_outliers', '10th-neighbour distance']] as const) {
      log(`omnivec: outliers (${method})`);
      await outliers(oc, { method, k, top: N_OUT }); // warm-up: the store's pages, the pool's workers
      const r = await secondsAsync(() => outliers(oc, { method, k, top: N_OUT }));
      const steady = await steadySeconds(() => outliers(oc, { method, k, top: N_OUT }));
      const one = await secondsAsync(() => outliers(oc, { method, k, top: N_OUT, threads: 1 }));
      const precision = r.value.filter((o) => plantedIds.has(o.id)).length / N_OUT;
      rows.push({ task: `outliers: ${label}, 50 noisy digits among 2,000`, quality: 'precision@50', ours: precision, peer: peer?.[key]?.precision, oursSeconds: r.s, peerSeconds: peer?.[key]?.seconds, oneThreadSeconds: one.s, oursSteady: steady, peerSteady: peer?.[key]?.steady });
    }
    await db.close();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  let commit = '?';
  try { commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim(); } catch { /* not a checkout */ }
  const f = (x: number | undefined, d = 4): string => (x === undefined ? '–' : Math.abs(x) >= 1000 ? Math.round(x).toLocaleString('en-US') : x.toFixed(d));
  const lines = [
    '## Tasks on MNIST (`npm run bench:tasks`)', '',
    `- Machine: ${cpus()[0]?.model ?? '?'}, ${cpus().length} logical CPUs; Node ${process.version}; scikit-learn ${peer === undefined ? 'absent' : 'from Debian (python3-sklearn), OMP threads = CPUs'}`,
    `- Kernels: ${Arena.relaxedKernels() ? 'the relaxed-SIMD build (fused multiply-adds in the screened scans)' : 'the plain build (relaxed SIMD not taken by this engine, or OMNIVEC_WASM_RELAXED=0)'}; 5-NN and the outlier scans are screened exact scans (docs/kernels.md, "Screened exact scans")`,
    `- Date: ${new Date().toISOString()}; commit ${commit}; k-means: means over seeds ${kmSeeds.join(', ')} on both sides; other tasks seed ${seed}`,
    '- Data: the 10,000 MNIST test images as 784-d vectors of pixels / 255 (`vectors-mnist-test`); the same arrays go to scikit-learn as .npy files.',
    '- Each side: k-means with one k-means++ start (scikit-learn `n_init=1`); 5-NN with exact neighbours (our flat collection; scikit-learn `algorithm="brute"`), time = classifying the 1,000 (ours) / fit + predict (scikit-learn); outliers over all 2,050 points (our flat collection through `outliers()`; scikit-learn `LocalOutlierFactor(n_neighbors=20)` and `NearestNeighbors`).',
    '- Speed ratio = scikit-learn seconds ÷ omnivec seconds (above 1: omnivec is faster), each side\'s first timed call (ours after one warm-up call of the same task). omnivec runs on every core by default (the exact scans on the worker pool, docs/tasks.md "Multi-core exact scans"); "1 thread" is the same task with `threads: 1`.',
    `- Steady state: the median of ${REPEATS} more calls of the same task right after the timed one, on each side (ours: JIT-compiled code and warm heaps; scikit-learn: the same repeat), and the ratio of those medians.`,
    `- Load average at the end of the run: ${loadavg().map((x) => x.toFixed(1)).join(' / ')} (on a machine shared with other work, two threads may get no more CPU than one).`,
    '',
    '| task | measure | omnivec | scikit-learn | omnivec s | omnivec s, 1 thread | scikit-learn s | speed ratio | steady state: omnivec / scikit-learn s | steady-state ratio |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.task} | ${r.quality} | ${f(r.ours)} | ${f(r.peer)} | ${r.oursSeconds.toFixed(2)} | ${r.oneThreadSeconds === undefined ? '–' : r.oneThreadSeconds.toFixed(2)} | ${r.peerSeconds === undefined ? '–' : r.peerSeconds.toFixed(2)} | ${r.peerSeconds === undefined ? '–' : `${(r.peerSeconds / r.oursSeconds).toFixed(2)}×`} | ${r.oursSteady === undefined ? '–' : `${r.oursSteady.toFixed(3)} / ${r.peerSteady === undefined ? '–' : r.peerSteady.toFixed(3)}`} | ${r.oursSteady === undefined || r.peerSteady === undefined ? '–' : `${(r.peerSteady / r.oursSteady).toFixed(2)}×`} |`),
    '',
  ];
  const md = lines.join('\n');
  process.stdout.write('\n' + md);
  if (!args['no-write']) {
    mkdirSync('bench/results', { recursive: true });
    writeFileSync('bench/results/tasks.md', md);
    writeFileSync('bench/results/tasks.json', JSON.stringify({ date: new Date().toISOString(), commit, seed, rows }, null, 2) + '\n');
    updateBenchmarksMd('BENCHMARKS.md', md, 'tasks');
    log('wrote bench/results/tasks.{md,json} and the tasks section of BENCHMARKS.md');
  }
}

await main();
