/**
 * A real image-embedding network end to end: OSNet x0.25 (torchreid, trained for person
 * re-identification on MSMT17; ONNX input images [batch, 3, 256, 128], output [batch, 512]) on 60
 * Caltech-101 photographs, 5 classes × 12. The model has never seen these classes, yet its features
 * still put same-class photographs nearer: leave-one-out 1-NN accuracy measured 0.83 (50 / 60) against
 * a chance level of 0.2; the test asserts 0.65. Mean cosine within a class 0.64, across classes 0.44.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_IMAGENET_SPEC, createImageEncoder, decodeImage, fitImage, validateImageSpec, type ImageSpec } from '../src/encoders/image/index.js';
import { batchRows } from '../src/encoders/common.js';

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

    const vectors = batchRows(await enc.encode(files));
    assert.equal(vectors.length, 60);
    for (const v of vectors) {
      assert.equal(v.length, 512);
      assert.ok(v.every(Number.isFinite));
      assert.ok(Math.abs(Math.sqrt(dot(v, v)) - 1) < 1e-5, 'L2-normalised');
    }

    // Not normalised when asked so, and in batches of 7 the same directions as in batches of 16.
    const unnormalised = batchRows(await raw.encode(files));
    const norms = unnormalised.map((v) => Math.sqrt(dot(v, v)));
    assert.ok(norms.some((n) => Math.abs(n - 1) > 0.1), 'raw features are not unit length');
    unnormalised.forEach((v, i) => v.forEach((x, k) => assert.ok(Math.abs(x / norms[i] - vectors[i][k]) < 1e-4)));

    // One image at a time gives the batch's vectors.
    for (const i of [0, 13, 27, 41, 59]) {
      const [one] = batchRows(await enc.encode([files[i]]));
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

/**
 * The 8-bit images our resize and crop make are Pillow's, byte for byte: sha256 (first 16 hex) of
 * the cropped H × W × 3 pixels as Pillow 12.3.0 made them from the same JPEGs (its own decoder),
 * with torchvision's size and crop arithmetic: Resize(256) + CenterCrop(224) bilinear;
 * transformers-CLIP-style shortest_edge 224 + crop 224 bicubic with floor offsets; and PIL's
 * resize((128, 256), BILINEAR). See docs/images.md for the tensor-level comparison.
 */
const PILLOW: [string, string, string, string][] = [
  ['Leopards/image_0001.jpg', '28ff715f12f286e7', '90e41b91eb88497a', 'cbfcc4e8a3c1c07e'],
  ['Motorbikes/image_0007.jpg', '67f881a30cc29d9b', '3f80a4fe5baabd11', '9c2b7aa45ed3e2ca'],
  ['airplanes/image_0012.jpg', 'd6b3e7546a46e1ae', '0d4520694d6fdd01', '6c552ee1d77a4036'],
  ['starfish/image_0004.jpg', '1531ff337777127e', '11853ae3f19a68d2', '37dc1ecd3c0e746a'],
  ['sunflower/image_0009.jpg', 'dcd0c75ce93dea4c', '06dd2d86f323d511', '56bc3a8bc156b7a5'],
];

test('resize and crop give Pillow\'s 8-bit pixels on real JPEGs (torchvision, transformers-CLIP, exact)', { skip }, async () => {
  const specs: ImageSpec[] = [
    DEFAULT_IMAGENET_SPEC,
    { ...DEFAULT_IMAGENET_SPEC, resize: 224, resample: 'bicubic', cropOffset: 'floor' },
    { size: [256, 128], resize: 'exact', crop: false, mean: [0, 0, 0], std: [1, 1, 1] },
  ];
  for (const [file, ...hashes] of PILLOW) {
    const img = await decodeImage(join(IMAGES, file), file);
    specs.forEach((spec, k) => {
      const s = validateImageSpec(spec);
      const { image, top, left } = fitImage(img, s);
      const [h, w] = s.size;
      const crop = Buffer.alloc(h * w * 3);
      for (let y = 0; y < h; y++) crop.set(image.data.subarray(((y + top) * image.width + left) * 3, ((y + top) * image.width + left + w) * 3), y * w * 3);
      assert.equal(createHash('sha256').update(crop).digest('hex').slice(0, 16), hashes[k], `${file}, pipeline ${k}`);
    });
  }
});
