import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Database } from '../db/database.js';
import type { Metadata } from '../db/where.js';
import type { Metric } from '../vector/metric.js';
import { Random } from '../vector/random.js';
import { classifyCentroid, classifyKnn, evaluateClassifier, zeroShot } from './classify.js';
import { withDatabase, hasCode } from '../../test/helpers/assertions.js';

const withDb = (fn: (db: Database) => Promise<void>): Promise<void> => withDatabase('omnivec-classify-', fn);

const code = hasCode;

/** Gaussian blobs around `centres` (one label each), seeded. */
function blobs(centres: number[][], per: number, spread: number, seed: number): { vectors: Float32Array[]; labels: string[] } {
  const rng = new Random(seed);
  const vectors: Float32Array[] = [];
  const labels: string[] = [];
  centres.forEach((c, l) => {
    for (let i = 0; i < per; i++) {
      vectors.push(Float32Array.from(c, (x) => x + spread * rng.gaussian()));
      labels.push(`c${l}`);
    }
  });
  return { vectors, labels };
}

function dist(metric: Metric, a: Float32Array, b: Float32Array): number {
  let s = 0;
  if (metric === 'l2') { for (let j = 0; j < a.length; j++) s += (a[j]! - b[j]!) ** 2; return s; }
  let na = 0;
  let nb = 0;
  for (let j = 0; j < a.length; j++) { s += a[j]! * b[j]!; na += a[j]! ** 2; nb += b[j]! ** 2; }
  return metric === 'cosine' ? 1 - s / Math.sqrt(na * nb) : 1 - s;
}

test('k-NN equals a brute-force vote (l2 and cosine, plain and weighted), the record itself left out', async () => {
  await withDb(async (db) => {
    for (const metric of ['l2', 'cosine'] as const) {
      const rng = new Random(metric === 'l2' ? 3 : 4);
      const n = 300;
      const dim = 6;
      const vectors = Array.from({ length: n }, () => Float32Array.from({ length: dim }, () => rng.gaussian()));
      // Labels that depend on position (with noise) so the vote is not trivial.
      const labels = vectors.map((v) => (v[0]! + 0.5 * rng.gaussian() > 0 ? (v[1]! > 0 ? 'a' : 'b') : 'c'));
      const metadatas = labels.map((l, i): Metadata => (i % 10 === 9 ? { other: 1 } : { kind: l }));
      const c = await db.createCollection({ name: `knn-${metric}`, dim, metric, index: 'flat' });
      await c.add({ ids: vectors.map((_, i) => `r${String(i).padStart(3, '0')}`), vectors, metadatas });
      const ids = vectors.map((_, i) => `r${String(i).padStart(3, '0')}`);
      const labelled = ids.map((id, i) => ({ id, i, label: metadatas[i]!.kind as string | undefined })).filter((x) => x.label !== undefined);
      const oracle = (q: Float32Array, self: number, k: number, weighted: boolean): string => {
        const hits = labelled.filter((x) => x.i !== self).map((x) => ({ ...x, d: dist(metric, q, vectors[x.i]!) }))
          .sort((a, b) => a.d - b.d).slice(0, k);
        const votes = new Map<string, number>();
        const sims = new Map<string, number>();
        for (const h of hits) {
          const s = metric === 'l2' ? 1 / (1 + Math.sqrt(h.d)) : 1 - h.d;
          votes.set(h.label!, (votes.get(h.label!) ?? 0) + (weighted ? Math.max(0, s) : 1));
          sims.set(h.label!, (sims.get(h.label!) ?? 0) + s);
        }
        return [...votes].sort((a, b) => b[1] - a[1] || sims.get(b[0])! - sims.get(a[0])! || (a[0] < b[0] ? -1 : 1))[0]![0];
      };
      for (const weighted of [false, true]) {
        for (const k of [1, 4, 7]) {
          const some = ids.filter((_, i) => i % 7 === 0);
          const got = await classifyKnn(c, { labelField: 'kind', k, ids: some, weighted });
          assert.equal(got.length, some.length);
          got.forEach((p) => {
            const i = ids.indexOf(p.id!);
            assert.equal(p.label, oracle(vectors[i]!, i, k, weighted), `${metric} k=${k} weighted=${weighted} ${p.id}`);
            const total = Object.values(p.votes!).reduce((a, b) => a + b, 0);
            if (!weighted) assert.equal(total, k);
            assert.ok(p.score > 0 && p.score <= 1);
          });
        }
        // Query vectors: nothing is left out.
        const qs = Array.from({ length: 20 }, () => Float32Array.from({ length: dim }, () => rng.gaussian()));
        const data = new Float32Array(20 * dim);
        qs.forEach((q, i) => data.set(q, i * dim));
        const got = await classifyKnn(c, { labelField: 'kind', k: 5, vectors: { data, dim, count: 20 }, weighted });
        got.forEach((p, i) => { assert.equal(p.id, undefined); assert.equal(p.label, oracle(qs[i]!, -1, 5, weighted)); });
      }
      // Default targets: the unlabelled records (every tenth).
      const unl = await classifyKnn(c, { labelField: 'kind', k: 3 });
      assert.deepEqual(unl.map((p) => p.id), ids.filter((_, i) => i % 10 === 9));
      unl.forEach((p) => assert.equal(p.label, oracle(vectors[ids.indexOf(p.id!)]!, -1, 3, false)));
    }
  });
});

test('nearest centroid: 100 % on separated clusters (l2 and cosine); a tie-free majority', async () => {
  await withDb(async (db) => {
    const centres = [[10, 0, 0, 0], [0, 10, 0, 0], [0, 0, 10, 0], [0, 0, 0, 10]];
    const { vectors, labels } = blobs(centres, 40, 1, 9);
    for (const metric of ['l2', 'cosine'] as const) {
      const c = await db.createCollection({ name: `cent-${metric}`, dim: 4, metric });
      const ids = vectors.map((_, i) => `p${i}`);
      await c.add({ ids, vectors, metadatas: labels.map((l) => ({ cluster: l })) });
      const got = await classifyCentroid(c, { labelField: 'cluster', ids });
      assert.equal(got.filter((p, i) => p.label === labels[i]).length, ids.length, metric);
      const ev = await evaluateClassifier(c, { labelField: 'cluster', method: 'centroid' });
      assert.equal(ev.accuracy, 1);
      assert.equal(ev.perLabel.length, 4);
      const knn = await evaluateClassifier(c, { labelField: 'cluster', method: 'knn', k: 5 });
      assert.equal(knn.accuracy, 1);
      // A query vector near the third centre.
      const q = await classifyCentroid(c, { labelField: 'cluster', vectors: { data: Float32Array.from([0.5, 0, 9, 0.2]), dim: 4, count: 1 } });
      assert.equal(q[0]!.label, 'c2');
      if (metric === 'cosine') assert.ok(q[0]!.score > 0.99);
    }
  });
});

test('leave-one-out accuracy is exact on a hand-made set (k-NN and centroid)', async () => {
  await withDb(async (db) => {
    // On a line (l2): a at 0, 1, 2; b at 10, 11; a at 10.4 (a stray a among the bs).
    const pts: [string, number, string][] = [['x1', 0, 'a'], ['x2', 1, 'a'], ['x3', 2, 'a'], ['y1', 10, 'b'], ['y2', 11, 'b'], ['x4', 10.4, 'a']];
    const c = await db.createCollection({ name: 'line', dim: 1, metric: 'l2' });
    await c.add({ ids: pts.map((p) => p[0]), vectors: pts.map((p) => [p[1]]), metadatas: pts.map((p) => ({ t: p[2] })) });
    // 1-NN, each left out: x1→x2 a ✓, x2→x1 (tie 1 vs x3 1; both a) ✓, x3→x2 a ✓,
    // y1→x4 (0.4) a ✗, y2→x4 (0.6) a ✗, x4→y1 (0.4) b ✗: 3 / 6.
    const one = await evaluateClassifier(c, { labelField: 't', method: 'knn', k: 1 });
    assert.equal(one.correct, 3);
    assert.equal(one.accuracy, 0.5);
    assert.deepEqual(one.perLabel, [{ label: 'a', n: 4, correct: 3, accuracy: 0.75 }, { label: 'b', n: 2, correct: 0, accuracy: 0 }]);
    // 3-NN: x1 {x2,x3,?}: x2 a, x3 a, then y1(10)/x4(10.4): a a b|a → a ✓; x2 → a ✓; x3 → x2,x1 a,a ✓;
    // y1 → x4 a, y2 b, x3 a → a ✗; y2 → y1 b, x4 a, x3 a → a ✗; x4 → y1 b, y2 b, x3 a → b ✗: 3 / 6.
    const three = await evaluateClassifier(c, { labelField: 't', method: 'knn', k: 3 });
    assert.equal(three.correct, 3);
    // Centroid, each removed from its own mean: x4 (10.4): a mean of 0,1,2 = 1 vs b 10.5 → b ✗;
    // y1 (10): b mean without it 11 (d 1) vs a mean 3.35 → b ✓; y2: b mean 10 vs a 3.35 → b ✓;
    // x1 (0): a mean of 1,2,10.4 = 4.47 vs b 10.5 → a ✓; x2, x3 likewise ✓: 5 / 6.
    const cent = await evaluateClassifier(c, { labelField: 't', method: 'centroid' });
    assert.equal(cent.correct, 5);
    assert.equal(cent.n, 6);
    assert.equal(cent.perLabel.find((x) => x.label === 'a')!.correct, 3);
  });
});

test('zero-shot with a fake encoder picks the right labels; CLIP probabilities sum to 1; unknown labels are refused', async () => {
  await withDb(async (db) => {
    const vocab = ['cat', 'dog', 'car'];
    // Closed vocabulary: one axis per known word, zero for anything else.
    const encode = async (texts: string[]): Promise<Float32Array[]> => texts.map((t) => {
      const v = new Float32Array(4);
      vocab.forEach((w, i) => { if (t.split(/\W+/).includes(w)) v[i] = 1; });
      return v;
    });
    const c = await db.createCollection({ name: 'pics', dim: 4, metric: 'cosine' });
    await c.add({
      ids: ['p1', 'p2', 'p3', 'p4'],
      vectors: [[0.9, 0.1, 0, 0.1], [0.1, 0.8, 0.2, 0], [0, 0.3, 1, 0], [0.2, 0.9, 0, 0.3]],
    });
    const got = await zeroShot(c, { labels: ['cat', 'dog', 'car'], encode });
    assert.deepEqual(got.map((p) => [p.id, p.label]), [['p1', 'cat'], ['p2', 'dog'], ['p3', 'car'], ['p4', 'dog']]);
    assert.ok(Math.abs(got[0]!.score - 0.9 / Math.hypot(0.9, 0.1, 0.1)) < 1e-6);
    const withClip = await zeroShot(c, { labels: ['cat', 'dog'], encode, clip: true, ids: ['p3', 'p1'] });
    assert.deepEqual(withClip.map((p) => p.id), ['p3', 'p1']);
    assert.equal(withClip[1]!.label, 'cat');
    const probs = Object.values(withClip[1]!.probabilities!);
    assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-9);
    assert.ok(withClip[1]!.probabilities!.cat! > 0.99);
    // The template reaches the encoder (CLIP's by default with clip).
    const seen: string[] = [];
    await zeroShot(c, { labels: ['cat'], encode: async (t) => { seen.push(...t); return encode(t); }, clip: true });
    await zeroShot(c, { labels: ['dog'], encode: async (t) => { seen.push(...t); return encode(t); }, template: 'a {label} here' });
    assert.deepEqual(seen, ['a photo of a cat.', 'a dog here']);
    await assert.rejects(zeroShot(c, { labels: ['cat', 'zebra'], encode }), (e: unknown) => code('invalid_argument')(e) && /"zebra"/.test((e as Error).message));
    await assert.rejects(zeroShot(c, { labels: ['cat', 'cat'], encode }), code('invalid_argument'));
    await assert.rejects(zeroShot(c, { labels: ['cat'], encode, template: 'no slot' }), code('invalid_argument'));
    await assert.rejects(zeroShot(c, { labels: ['cat'], encode: async (t) => t.map(() => new Float32Array(3)) }), code('dimension_mismatch'));
    await assert.rejects(zeroShot(c, { labels: ['cat'], encode, ids: ['nope'] }), (e: unknown) => code('not_found')(e) && /"nope"/.test((e as Error).message));
    const empty = await db.createCollection({ name: 'none', dim: 4 });
    await assert.rejects(zeroShot(empty, { labels: ['cat'], encode }), code('empty_index'));
  });
});

test('classify errors: k too large, empty collection, missing label field, unknown id', async () => {
  await withDb(async (db) => {
    const empty = await db.createCollection({ name: 'empty', dim: 2 });
    await assert.rejects(classifyKnn(empty, { labelField: 'x' }), code('empty_index'));
    await assert.rejects(classifyCentroid(empty, { labelField: 'x' }), code('empty_index'));
    await assert.rejects(evaluateClassifier(empty, { labelField: 'x' }), code('empty_index'));
    const c = await db.createCollection({ name: 'small', dim: 2, metric: 'l2' });
    await c.add({ ids: ['a', 'b', 'c', 'd'], vectors: [[0, 0], [1, 0], [0, 1], [5, 5]], metadatas: [{ t: 'x' }, { t: 'y' }, { t: 'x' }, null] });
    await assert.rejects(classifyKnn(c, { labelField: 't', k: 3, ids: ['a'] }), (e: unknown) => code('invalid_argument')(e) && /3/.test((e as Error).message) && /3 records/.test((e as Error).message));
    assert.equal((await classifyKnn(c, { labelField: 't', k: 3, ids: ['d'] }))[0]!.label, 'x', 'an unlabelled record may use every labelled one');
    await assert.rejects(classifyKnn(c, { labelField: 't', k: 4, vectors: { data: new Float32Array(2), dim: 2, count: 1 } }), code('invalid_argument'));
    await assert.rejects(evaluateClassifier(c, { labelField: 't', k: 3 }), code('invalid_argument'));
    await assert.rejects(classifyKnn(c, { labelField: 'colour' }), (e: unknown) => code('not_found')(e) && /"colour"/.test((e as Error).message));
    await assert.rejects(classifyCentroid(c, { labelField: 'colour' }), code('not_found'));
    await assert.rejects(evaluateClassifier(c, { labelField: 'colour', method: 'centroid' }), code('not_found'));
    await assert.rejects(classifyKnn(c, { labelField: 't', ids: ['a', 'zz'], k: 1 }), (e: unknown) => code('not_found')(e) && /"zz"/.test((e as Error).message));
    await assert.rejects(classifyKnn(c, { labelField: 't', k: 1, vectors: { data: new Float32Array(3), dim: 3, count: 1 } }), code('dimension_mismatch'));
    await assert.rejects(classifyKnn(c, { labelField: '' }), code('invalid_argument'));
    assert.deepEqual((await classifyCentroid(c, { labelField: 't' })).map((p) => [p.id, p.label]), [['d', 'y']], 'x mean (0, 0.5): 45.25 away; y (1, 0): 41');
  });
});

// ---------------------------------------------------------------------------------------------
// MNIST (../shared/data/vectors-mnist-test): 5-NN with the last 1,000 as queries against the first 9,000.

const MNIST = join(import.meta.dirname, '../../../shared/data/vectors-mnist-test');

function readIdx(file: string): { dims: number[]; data: Uint8Array } {
  const b = gunzipSync(readFileSync(file));
  const ndim = b[3]!;
  const dims = Array.from({ length: ndim }, (_, i) => b.readUInt32BE(4 + 4 * i));
  return { dims, data: new Uint8Array(b.buffer, b.byteOffset + 4 + 4 * ndim, dims.reduce((a, x) => a * x, 1)) };
}

test('MNIST: 5-NN of the last 1,000 digits against the first 9,000 (l2) is ≥ 0.95 accurate', { skip: !existsSync(MNIST) && 'no shared MNIST data' }, async (t) => {
  const images = readIdx(join(MNIST, 't10k-images-idx3-ubyte.gz'));
  const labels = readIdx(join(MNIST, 't10k-labels-idx1-ubyte.gz'));
  assert.deepEqual(images.dims, [10000, 28, 28]);
  const dim = 784;
  const train = 9000;
  await withDb(async (db) => {
    const c = await db.createCollection({ name: 'mnist', dim, metric: 'l2', index: 'flat' });
    const t0 = performance.now();
    const data = Float32Array.from(images.data);
    const ids = Array.from({ length: train }, (_, i) => `d${i}`);
    await c.add({ ids, vectors: Array.from({ length: train }, (_, i) => data.subarray(i * dim, (i + 1) * dim)), metadatas: ids.map((_, i) => ({ digit: labels.data[i]! })) });
    const t1 = performance.now();
    const queries = { data: data.subarray(train * dim), dim, count: 10000 - train };
    const preds = await classifyKnn(c, { labelField: 'digit', k: 5, vectors: queries });
    const t2 = performance.now();
    let right = 0;
    preds.forEach((p, i) => { if (p.label === String(labels.data[train + i])) right++; });
    const accuracy = right / preds.length;
    t.diagnostic(`MNIST 5-NN (l2, flat, 9,000 labelled, 1,000 queries): accuracy ${accuracy.toFixed(4)}; add ${((t1 - t0) / 1000).toFixed(1)} s, classify ${((t2 - t1) / 1000).toFixed(2)} s`);
    assert.ok(accuracy >= 0.95, `accuracy ${accuracy}`);
  });
});
