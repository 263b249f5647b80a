import { test, after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { buildModel, writeConvImageModel, writeModel, type NodeSpec } from '../../../test/helpers/onnx-build.js';
import { assertClose, rejectsCode, withTempDir } from '../../../test/helpers/assertions.js';
import { createImageEncoder } from './image-encoder.js';
import { batchRows } from '../common.js';
import { runEncoderConformance } from '../conformance.js';
import { openEncoder } from '../registry.js';
import type { Encoder } from '../types.js';
import { preprocessImages, type ImageSpec } from './preprocess.js';

/**
 * A 1×1 convolution (C × 3 weights, bias) and, unless `featureMap`, a global average pool: the
 * embedding of an image is W · mean(pixels) + b over its preprocessed tensor, which the test
 * computes from preprocessImages directly.
 */
const C = 4;
const W = Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1, 0.5, -0.25, 2]);
const B = Float32Array.from([0.1, -0.2, 0.3, 0.05]);

async function writeConvModel(file: string, options: { featureMap?: boolean; shape?: (number | string)[]; inputs?: number } = {}): Promise<void> {
  const shape = options.shape ?? ['batch', 3, 'height', 'width'];
  const nodes: NodeSpec[] = [{ op: 'Conv', inputs: ['pixel_values', 'w', 'b'], outputs: [options.featureMap ? 'feature_map' : 'conv'], attrs: { kernel_shape: [1, 1] } }];
  if (!options.featureMap) {
    nodes.push({ op: 'GlobalAveragePool', inputs: ['conv'], outputs: ['pooled'] }, { op: 'Flatten', inputs: ['pooled'], outputs: ['embedding'], attrs: { axis: 1 } });
  }
  const inputs = [{ name: 'pixel_values', type: 'float32' as const, shape }];
  if (options.inputs === 2) {
    inputs.push({ name: 'extra', type: 'float32' as const, shape: ['batch', 1] });
    nodes.push({ op: 'Identity', inputs: ['extra'], outputs: ['extra_out'] });
  }
  const outputs = [options.featureMap
    ? { name: 'feature_map', type: 'float32' as const, shape: [shape[0]!, C, shape[2]!, shape[3]!] }
    : { name: 'embedding', type: 'float32' as const, shape: [shape[0]!, C] }];
  if (options.inputs === 2) outputs.push({ name: 'extra_out', type: 'float32' as const, shape: ['batch', 1] });
  await writeModel(file, buildModel({ inputs, outputs, initializers: [{ name: 'w', dims: [C, 3, 1, 1], data: W }, { name: 'b', dims: [C], data: B }], nodes }));
}

function png(width: number, height: number, seed: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * (7 + seed) + seed * 31 + ((i * seed) % 13) * 11) % 256;
  return sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

/** W · (per-channel mean of the preprocessed tensor) + b, for each image. */
async function expected(images: Buffer[], spec: ImageSpec, normalize: boolean): Promise<Float32Array[]> {
  const { data, dims } = await preprocessImages(images, spec);
  const plane = dims[2] * dims[3];
  return images.map((_, n) => {
    const m = [0, 1, 2].map((c) => {
      let s = 0;
      for (let i = 0; i < plane; i++) s += data[(n * 3 + c) * plane + i];
      return s / plane;
    });
    const v = Float32Array.from({ length: C }, (_, k) => W[k * 3] * m[0] + W[k * 3 + 1] * m[1] + W[k * 3 + 2] * m[2] + B[k]);
    if (normalize) {
      const norm = Math.hypot(...v);
      for (let k = 0; k < C; k++) v[k] /= norm;
    }
    return v;
  });
}

const CLIP_LIKE = { size: { shortest_edge: 24 }, crop_size: { height: 20, width: 20 }, do_center_crop: true, image_mean: [0.5, 0.4, 0.3], image_std: [0.2, 0.25, 0.3], resample: 3 };

test('folder with preprocessor_config.json: W · mean(pixels) + b, normalised, in input order over batches', async () => {
  await withTempDir('omnivec-imgenc-', async (dir) => {
    await writeConvModel(join(dir, 'onnx', 'model.onnx'));
    await writeFile(join(dir, 'preprocessor_config.json'), JSON.stringify(CLIP_LIKE));
    const enc = await createImageEncoder(dir, { batchSize: 2, threads: 1 });
    try {
      assert.equal(enc.dim, C);
      assert.equal(enc.spec.kind, 'image');
      assert.equal(enc.spec.output, 'embedding');
      assert.equal(enc.spec.pooling, 'none');
      assert.deepEqual(enc.spec.image.size, [20, 20]);
      assert.equal(enc.spec.image.resize, 24);
      assert.equal(enc.spec.image.resample, 'bicubic');
      assert.deepEqual(JSON.parse(JSON.stringify(enc.spec)), enc.spec, 'the spec is plain JSON');
      const images = await Promise.all([[30, 40], [50, 20], [24, 24], [17, 61], [40, 30]].map(([w, h], i) => png(w, h, i + 1)));
      const progress: number[][] = [];
      const got = batchRows(await enc.encode(images, { onProgress: (done, total) => progress.push([done, total]) }));
      assert.deepEqual(progress, [[2, 5], [4, 5], [5, 5]]);
      const want = await expected(images, enc.spec.image, true);
      got.forEach((v, i) => assertClose(v, want[i], 1e-5, `image ${i}`));
      for (const v of got) assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5);
      assert.deepEqual(batchRows(await enc.encode([])), []);
    } finally {
      await enc.close();
    }
  });
});

test('a feature map [B, C, H, W] is averaged over H × W: the same vectors as the pooled graph', async () => {
  await withTempDir('omnivec-imgenc-', async (dir) => {
    await writeConvModel(join(dir, 'pooled.onnx'));
    await writeConvModel(join(dir, 'map', 'model.onnx'), { featureMap: true });
    const images = await Promise.all([png(33, 21, 3), png(21, 33, 4)]);
    const pooled = await createImageEncoder(join(dir, 'pooled.onnx'), { normalize: false, threads: 1 });
    const map = await createImageEncoder(join(dir, 'map'), { normalize: false, threads: 1 });
    try {
      assert.equal(map.spec.pooling, 'mean');
      assert.equal(map.dim, C);
      assert.equal(pooled.spec.model, 'pooled');
      assert.deepEqual(pooled.spec.image.size, [224, 224], 'no config, no fixed size: the ImageNet default');
      const a = batchRows(await pooled.encode(images));
      const b = batchRows(await map.encode(images));
      const want = await expected(images, pooled.spec.image, false);
      for (let i = 0; i < 2; i++) {
        assertClose(a[i], want[i], 1e-4, `pooled ${i}`);
        assertClose(b[i], want[i], 1e-4, `map ${i}`);
      }
      await rejectsCode(createImageEncoder(join(dir, 'map'), { pooling: 'none' }), 'invalid_argument', /feature map.*"mean"/);
      await rejectsCode(createImageEncoder(join(dir, 'pooled.onnx'), { pooling: 'mean' }), 'invalid_argument', /already pooled/);
    } finally {
      await pooled.close();
      await map.close();
    }
  });
});

test('a graph fixed at [1, 3, 16, 8]: exact resize to 16 × 8 with ImageNet statistics, one image per pass', async () => {
  await withTempDir('omnivec-imgenc-', async (dir) => {
    await writeConvModel(join(dir, 'model.onnx'), { shape: [1, 3, 16, 8] });
    const enc = await createImageEncoder(dir, { threads: 1 });
    try {
      assert.equal(enc.batchSize, 1);
      assert.deepEqual(enc.spec.image, { size: [16, 8], resize: 'exact', crop: false, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], resample: 'bilinear', rescale: 1 / 255, cropOffset: 'round' });
      const images = await Promise.all([png(40, 30, 5), png(9, 19, 6), png(8, 16, 7)]);
      const got = batchRows(await enc.encode(images));
      const want = await expected(images, enc.spec.image, true);
      got.forEach((v, i) => assertClose(v, want[i], 1e-5, `image ${i}`));
      await rejectsCode(createImageEncoder(dir, { spec: { size: [32, 16] } }), 'invalid_argument', /16 × 8.*32 × 16/);
    } finally {
      await enc.close();
    }
  });
});

test('spec layers: preprocessor_config.json < omnivec.json "image" < options.spec', async () => {
  await withTempDir('omnivec-imgenc-', async (dir) => {
    await writeConvModel(join(dir, 'model.onnx'));
    await writeFile(join(dir, 'preprocessor_config.json'), JSON.stringify(CLIP_LIKE));
    await writeFile(join(dir, 'omnivec.json'), JSON.stringify({ kind: 'image', normalize: false, image: { resize: 'exact', size: [12, 10] } }));
    const a = await createImageEncoder(dir, { threads: 1 });
    const b = await createImageEncoder(dir, { threads: 1, spec: { resize: 16, size: [14, 14] }, normalize: true });
    try {
      assert.equal(a.spec.normalize, false);
      assert.deepEqual([a.spec.image.size, a.spec.image.resize, a.spec.image.crop, a.spec.image.resample], [[12, 10], 'exact', false, 'bicubic']);
      assert.deepEqual(a.spec.image.mean, [0.5, 0.4, 0.3]);
      assert.deepEqual([b.spec.image.size, b.spec.image.resize, b.spec.image.crop], [[14, 14], 16, true]);
      assert.equal(b.spec.normalize, true);
      const img = [await png(30, 20, 9)];
      assertClose((batchRows(await a.encode(img)))[0], (await expected(img, a.spec.image, false))[0], 1e-5, 'a');
      assertClose((batchRows(await b.encode(img)))[0], (await expected(img, b.spec.image, true))[0], 1e-5, 'b');
    } finally {
      await a.close();
      await b.close();
    }
  });
});

test('dimensions: refused unless Matryoshka is declared or forced, never beyond the model; then cut and renormalised', async () => {
  await withTempDir('omnivec-imgenc-', async (dir) => {
    await writeConvModel(join(dir, 'plain', 'model.onnx'));
    await writeConvModel(join(dir, 'mrl', 'model.onnx'));
    await writeFile(join(dir, 'mrl', 'omnivec.json'), JSON.stringify({ kind: 'image', matryoshka: [4, 2] }));
    await rejectsCode(createImageEncoder(join(dir, 'plain'), { dimensions: 2 }), 'invalid_argument', /does not declare Matryoshka/);
    await rejectsCode(createImageEncoder(join(dir, 'mrl'), { dimensions: 3 }), 'invalid_argument', /Matryoshka sizes 4, 2/);
    await rejectsCode(createImageEncoder(join(dir, 'mrl'), { dimensions: 5 }), 'invalid_argument', /larger than the 4 dimensions/);
    const img = [await png(26, 26, 2)];
    const full = await createImageEncoder(join(dir, 'mrl'), { normalize: false, threads: 1 });
    const cut = await createImageEncoder(join(dir, 'mrl'), { dimensions: 2, threads: 1 });
    const forced = await createImageEncoder(join(dir, 'plain'), { dimensions: 3, forceDimensions: true, threads: 1 });
    try {
      assert.equal(cut.dim, 2);
      assert.equal(cut.spec.model, 'mrl@2');
      assert.equal(cut.spec.dimensions, 2);
      assert.equal(forced.dim, 3);
      const f = (batchRows(await full.encode(img)))[0];
      const n2 = Math.hypot(f[0], f[1]);
      assertClose((batchRows(await cut.encode(img)))[0], Float32Array.from([f[0] / n2, f[1] / n2]), 1e-5, 'cut');
      const n3 = Math.hypot(f[0], f[1], f[2]);
      assertClose((batchRows(await forced.encode(img)))[0], Float32Array.from([f[0] / n3, f[1] / n3, f[2] / n3]), 1e-5, 'forced');
    } finally {
      await full.close();
      await cut.close();
      await forced.close();
    }
  });
});

test('errors: graphs it cannot feed, bad options, inputs named by their index across batches', async () => {
  await withTempDir('omnivec-imgenc-', async (dir) => {
    await writeConvModel(join(dir, 'two', 'model.onnx'), { inputs: 2 });
    await rejectsCode(createImageEncoder(join(dir, 'two')), 'encoder_error', /one input.*pixel_values, extra/);
    await writeConvModel(join(dir, 'ok', 'model.onnx'));
    await rejectsCode(createImageEncoder(join(dir, 'ok'), { output: 'nope' }), 'invalid_argument', /no output "nope".*embedding/);
    await rejectsCode(createImageEncoder(join(dir, 'ok'), { batchSize: 0 }), 'invalid_argument', /batchSize/);
    await rejectsCode(createImageEncoder(join(dir, 'ok'), { spec: { std: [1, 0, 1] } }), 'invalid_argument', /std/);
    await rejectsCode(createImageEncoder(join(dir, 'missing')), 'not_found', /missing/);
    await writeFile(join(dir, 'ok', 'omnivec.json'), JSON.stringify({ kind: 'text' }));
    await rejectsCode(createImageEncoder(join(dir, 'ok')), 'invalid_argument', /kind "text"/);
    await writeFile(join(dir, 'ok', 'omnivec.json'), '{}');
    const enc = await createImageEncoder(join(dir, 'ok'), { batchSize: 2, threads: 1 });
    try {
      const good = await png(10, 10, 1);
      await rejectsCode(enc.encode([good, good, good, Buffer.from('garbage')]), 'corrupt_file', /input\[3\]/);
      await rejectsCode(enc.encode([good, join(dir, 'no.png')]), 'not_found', /input\[1\].*no\.png/);
      const ac = new AbortController();
      ac.abort();
      await rejectsCode(enc.encode([good], { signal: ac.signal }), 'encoder_error', /aborted/);
    } finally {
      await enc.close();
    }
  });
});

// The encoder contract (types.ts) through the registry, on a 1 × 1 conv model at 16 × 16 pixels.
const contractDir = mkdtempSync(join(tmpdir(), 'omnivec-image-contract-'));
after(() => rmSync(contractDir, { recursive: true, force: true }));
let contractModel: Promise<string> | undefined;
const convModel = (): Promise<string> => (contractModel ??= writeConvImageModel(join(contractDir, 'conv'), { channels: 5, size: [16, 16], bias: Float32Array.from([0.1, 0, -0.1, 0.2, 0]) }).then((m) => m.dir));
const contractImages = await Promise.all([png(20, 16, 11), png(16, 30, 12), png(9, 9, 13)]);
runEncoderConformance('ONNX image (1 × 1 conv, pooled)', {
  modality: 'image',
  open: async () => await openEncoder(await convModel(), { threads: 1 }) as Encoder<'image'>,
  context: { threads: 1 },
  inputs: contractImages,
  skip: { 'zero vector': 'images: docs/hardening.md §6 is about texts (an image has pixels, so a vector)' },
});
