/**
 * A real image-embedding network end to end: OSNet x0.25 (torchreid, trained for person
 * re-identification on MSMT17; ONNX input images [batch, 3, 256, 128], output [batch, 512]) on 60
 * Caltech-101 photographs, 5 classes × 12. The model has never seen these classes, yet its features
 * still put same-class photographs nearer: leave-one-out 1-NN accuracy measured 0.83 (50 / 60) against
 * a chance level of 0.2; the test asserts 0.65. Mean cosine within a class 0.64, across classes 0.44.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createImageEncoder } from '../src/encoders/image/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DATA = [resolve(root, '../shared/data'), '/work/shared/data'].find((d) => existsSync(join(d, 'onnx-osnet-x0_25-reid')));
const MODEL = DATA === undefined ? '' : join(DATA, 'onnx-osnet-x0_25-reid', 'osnet_x0_25_msmt17.onnx');
const IMAGES = DATA === undefined ? '' : join(DATA, 'images-caltech101-5class');
const skip = DATA === undefined || !existsSync(IMAGES) ? 'the shared data (onnx-osnet-x0_25-reid, images-caltech101-5class) is not beside the clone' : false;

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

test('OSNet x0.25 on Caltech-101 (5 × 12): 512-d, normalised, batch = one by one, same class nearer', { skip }, async () => {
  const files: string[] = [];
  const labels: string[] = [];
  for (const c of readdirSync(IMAGES).filter((d) => !d.endsWith('.md')).sort()) {
    for (const f of readdirSync(join(IMAGES, c)).sort()) {
      files.push(join(IMAGES, c, f));
      labels.push(c);
    }
  }
  assert.equal(files.length, 60);

  const enc = await createImageEncoder(MODEL, { threads: 2 });
  const raw = await createImageEncoder(MODEL, { threads: 2, normalize: false, batchSize: 7 });
  try {
    assert.equal(enc.dim, 512);
    assert.deepEqual(enc.spec.image.size, [256, 128]);
    assert.equal(enc.spec.image.resize, 'exact', 'a fixed 256 × 128 graph without a preprocessor config is resized straight to its size');
    assert.equal(enc.spec.model, 'osnet_x0_25_msmt17');

    const vectors = await enc.encode(files);
    assert.equal(vectors.length, 60);
    for (const v of vectors) {
      assert.equal(v.length, 512);
      assert.ok(v.every(Number.isFinite));
      assert.ok(Math.abs(Math.sqrt(dot(v, v)) - 1) < 1e-5, 'L2-normalised');
    }

    // Not normalised when asked so, and in batches of 7 the same directions as in batches of 16.
    const unnormalised = await raw.encode(files);
    const norms = unnormalised.map((v) => Math.sqrt(dot(v, v)));
    assert.ok(norms.some((n) => Math.abs(n - 1) > 0.1), 'raw features are not unit length');
    unnormalised.forEach((v, i) => v.forEach((x, k) => assert.ok(Math.abs(x / norms[i] - vectors[i][k]) < 1e-4)));

    // One image at a time gives the batch's vectors.
    for (const i of [0, 13, 27, 41, 59]) {
      const [one] = await enc.encode([files[i]]);
      one.forEach((x, k) => assert.ok(Math.abs(x - vectors[i][k]) < 1e-4, `image ${i}, component ${k}: ${x} vs ${vectors[i][k]}`));
    }

    // Leave-one-out nearest neighbour by cosine.
    let correct = 0;
    let within = 0;
    let across = 0;
    let nWithin = 0;
    let nAcross = 0;
    for (let i = 0; i < 60; i++) {
      let best = -1;
      let bestSim = -Infinity;
      for (let j = 0; j < 60; j++) {
        if (j === i) continue;
        const s = dot(vectors[i], vectors[j]);
        if (s > bestSim) { bestSim = s; best = j; }
        if (labels[i] === labels[j]) { within += s; nWithin++; } else { across += s; nAcross++; }
      }
      if (labels[best] === labels[i]) correct++;
    }
    const accuracy = correct / 60;
    assert.ok(accuracy >= 0.65, `1-NN accuracy ${accuracy.toFixed(3)}, measured 0.833, chance 0.2`);
    assert.ok(within / nWithin > across / nAcross + 0.1, `mean cosine within classes ${(within / nWithin).toFixed(3)} vs across ${(across / nAcross).toFixed(3)}`);
  } finally {
    await enc.close();
    await raw.close();
  }
});
