/**
 * The cluster and outlier tasks on real data (docs/tasks.md, "Quality on real data"): MNIST's
 * 10,000 test digits as 784 raw pixels, from ../shared/data/vectors-mnist-test (skipped when absent).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { openDatabase } from '../src/db/database.js';
import { Random } from '../src/vector/random.js';
import { fitKMeans } from '../src/tasks/kmeans.js';
import { nmi, purity } from '../src/tasks/metrics.js';
import { outliers } from '../src/tasks/outliers.js';

const here = dirname(fileURLToPath(import.meta.url));
const DIR = [join(here, '..', '..', 'shared', 'data', 'vectors-mnist-test'), '/work/shared/data/vectors-mnist-test'].find((d) => existsSync(join(d, 't10k-images-idx3-ubyte.gz')));

/** The IDX files (big-endian headers: magic, count, rows, cols), checked. */
function loadMnist(dir: string): { data: Float32Array; labels: Uint8Array; n: number; dim: number } {
  const img = gunzipSync(readFileSync(join(dir, 't10k-images-idx3-ubyte.gz')));
  const lab = gunzipSync(readFileSync(join(dir, 't10k-labels-idx1-ubyte.gz')));
  assert.equal(img.readUInt32BE(0), 0x803);
  assert.equal(lab.readUInt32BE(0), 0x801);
  const n = img.readUInt32BE(4);
  const dim = img.readUInt32BE(8) * img.readUInt32BE(12);
  assert.equal(lab.readUInt32BE(4), n);
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n * dim; i++) data[i] = img[16 + i]!;
  return { data, labels: lab.subarray(8, 8 + n), n, dim };
}

const skip = DIR === undefined ? 'MNIST not found (../shared/data/vectors-mnist-test): quality test skipped' : false;

test('MNIST: k-means k = 10 on 10,000 raw-pixel digits, NMI and purity against the digit labels', { skip, timeout: 30_000 }, (t) => {
  const { data, labels, n, dim } = loadMnist(DIR!);
  for (const method of ['kmeans', 'minibatch'] as const) {
    const start = performance.now();
    const fit = fitKMeans({ data, dim, count: n }, { k: 10, method, seed: 42 });
    const ms = performance.now() - start;
    const score = nmi(fit.labels, labels);
    const pur = purity(fit.labels, labels);
    t.diagnostic(`${method}: NMI ${score.toFixed(3)}, purity ${pur.toFixed(3)}, inertia ${fit.inertia.toExponential(4)}, ${fit.iterations} iterations, ${Math.round(ms)} ms (nInit 3)`);
    // Published k-means on raw MNIST pixels: NMI ≈ 0.50, purity (cluster accuracy) ≈ 0.53–0.60.
    assert.ok(score > 0.45 && score < 0.6, `${method} NMI ${score}`);
    assert.ok(pur > 0.5, `${method} purity ${pur}`);
  }
});

test('MNIST: 50 out-of-distribution images planted among 2,000 digits fill the top of the outlier ranking', { skip, timeout: 30_000 }, async (t) => {
  const { data, n, dim } = loadMnist(DIR!);
  const rng = new Random(7);
  const digits = 2000;
  const planted = 50;
  // Seeded choice of 2,000 digits and 50 out-of-distribution images: other digits under heavy
  // Gaussian noise (σ = 100 grey levels; at σ = 80 k-NN finds 0.90 and LOF 0.70). Each is nearer
  // the clean digits than the other noisy ones (independent noise adds up), so they are isolated
  // points, what k-NN and LOF look for. (A batch
  // of uniform-noise images is a group instead — in 784-d they sit closer to one another than to
  // any digit: the k-th-neighbour distance still ranks all 50 first, LOF with k ≤ 60 none of them.)
  const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const vectors = new Float32Array((digits + planted) * dim);
  const ids: string[] = [];
  for (let i = 0; i < digits; i++) {
    vectors.set(data.subarray(order[i]! * dim, (order[i]! + 1) * dim), i * dim);
    ids.push(`digit-${order[i]}`);
  }
  for (let p = 0; p < planted; p++) {
    const o = (digits + p) * dim;
    const src = order[digits + p]! * dim;
    for (let j = 0; j < dim; j++) vectors[o + j] = data[src + j]! + 100 * rng.gaussian();
    ids.push(`noisy-${p}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-mnist-outliers-'));
  const db = await openDatabase(dir);
  try {
    const c = await db.createCollection({ name: 'mnist', dim, metric: 'l2' });
    await c.add({ ids, vectors });
    for (const [method, k] of [['knn', 10], ['lof', 10], ['lof', 20]] as const) {
      const start = performance.now();
      const top = await outliers(c, { method, k, top: planted });
      const ms = performance.now() - start;
      const hits = top.filter((o) => o.id.startsWith('noisy-')).length;
      t.diagnostic(`${method} k = ${k}: precision@${planted} ${(hits / planted).toFixed(2)} (${hits} of ${planted} planted in the top ${planted}), ${Math.round(ms)} ms`);
      assert.ok(hits / planted >= 0.8, `${method} k = ${k}: precision@${planted} ${hits / planted}`);
    }
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
