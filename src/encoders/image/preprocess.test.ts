import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import { withTempDir, rejectsCode, throwsCode } from '../../../test/helpers/assertions.js';
import {
  DEFAULT_IMAGENET_SPEC,
  cropOffset,
  decodeImage,
  imageSpecFromPreprocessorConfig,
  preprocessImages,
  resizeRgb,
  shorterSideSize,
  validateImageSpec,
  type ImageSpec,
} from './preprocess.js';

/** A lossless PNG from raw RGB pixels. */
function png(width: number, height: number, pixel: (x: number, y: number, c: number) => number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) raw[(y * width + x) * 3 + c] = pixel(x, y, c);
  return sharp(raw, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

const identity: ImageSpec = { size: [0, 0], resize: 'exact', crop: false, mean: [0, 0, 0], std: [1, 1, 1], rescale: 1 };

/** Applies one pass of hand-derived weights and rounds to 8 bits, as PIL does after each pass. */
function pass(values: number[], taps: { first: number; w: number[] }[]): number[] {
  return taps.map(({ first, w }) => Math.round(w.reduce((s, wi, i) => s + wi * values[first + i], 0)));
}

test('resize 6×4 → 3×2 bilinear: the antialiased triangle filter worked out by hand', async () => {
  // Downscale by 2: the triangle's support widens from 1 to 2 input pixels. Output x = 0 is centred
  // on input 1.0 and covers pixels 0..2 with weights (0.75, 0.75, 0.25) / 1.75; x = 1, centred on
  // 3.0, covers 1..4 with (0.25, 0.75, 0.75, 0.25); x = 2 covers 3..5 with (0.25, 0.75, 0.75) / 1.75.
  const horizontal = [
    { first: 0, w: [3 / 7, 3 / 7, 1 / 7] },
    { first: 1, w: [1 / 8, 3 / 8, 3 / 8, 1 / 8] },
    { first: 3, w: [1 / 7, 3 / 7, 3 / 7] },
  ];
  const vertical = [
    { first: 0, w: [3 / 7, 3 / 7, 1 / 7] },
    { first: 1, w: [1 / 7, 3 / 7, 3 / 7] },
  ];
  const pixel = (x: number, y: number, c: number): number => (x * 41 + y * 67 + c * 29 + ((x * y) % 3) * 13) % 256;
  const bytes = await png(6, 4, pixel);
  const { data, dims } = await preprocessImages([bytes], { ...identity, size: [2, 3] });
  assert.deepEqual(dims, [1, 3, 2, 3]);
  for (let c = 0; c < 3; c++) {
    // Horizontal pass first, rounded to 8 bits, then the vertical pass.
    const rows = [0, 1, 2, 3].map((y) => pass([0, 1, 2, 3, 4, 5].map((x) => pixel(x, y, c)), horizontal));
    for (let x = 0; x < 3; x++) {
      const column = pass(rows.map((r) => r[x]), vertical);
      for (let y = 0; y < 2; y++) assert.equal(data[c * 6 + y * 3 + x], column[y], `channel ${c}, y ${y}, x ${x}`);
    }
  }
});

test('resize upscales 2 → 4 bilinear without widening the filter; a constant image stays constant', () => {
  // Scale 0.5: centres 0.25, 0.75, 1.25, 1.75 over support 1 → (v0), (0.75 v0 + 0.25 v1), (0.25 v0 + 0.75 v1), (v1).
  const img = { width: 2, height: 1, data: new Uint8Array([10, 100, 200, 90, 0, 255]) };
  const out = resizeRgb(img, 4, 1);
  assert.deepEqual([...out.data], [10, 100, 200, 30, 75, 214, 70, 25, 241, 90, 0, 255].map(Math.round));
  const flat = { width: 7, height: 5, data: new Uint8Array(7 * 5 * 3).fill(77) };
  for (const r of ['bilinear', 'bicubic'] as const) assert.ok(resizeRgb(flat, 3, 9, r).data.every((v) => v === 77));
});

test('bicubic: negative lobes are clipped to 0 and 255 as PIL does', () => {
  // 1×4 → 1×8. Output 0 (centre 0.25) sees pixels 0, 1 with Keys weights 0.8671875 and -0.0703125,
  // normalised to 1.088 and -0.088: 255 × 1.088 clips to 255. Output 3 (centre 1.75) gives pixel 0
  // the weight -0.0703125 (the four weights sum to 1): 255 × -0.07 clips to 0.
  const row = new Uint8Array(12);
  row.set([255, 255, 255], 0);
  const out = resizeRgb({ width: 4, height: 1, data: row }, 8, 1, 'bicubic');
  assert.equal(out.data[0], 255);
  assert.equal(out.data[3 * 3], 0);
  // Pixels 2, 3 = 255, the rest 0: output 3 = 255 × (0.2265625 - 0.0234375) = 51.8 → 52.
  const step = new Uint8Array(12).fill(0);
  step.fill(255, 6);
  assert.equal(resizeRgb({ width: 4, height: 1, data: step }, 8, 1, 'bicubic').data[9], 52);
});

test('shorter side to s, the longer truncated as torchvision computes it', () => {
  assert.deepEqual(shorterSideSize(300, 400, 256), [256, 341]); // 256 × 400 / 300 = 341.33
  assert.deepEqual(shorterSideSize(401, 300, 256), [342, 256]); // 342.19
  assert.deepEqual(shorterSideSize(200, 200, 256), [256, 256]);
});

test('crop offsets: torchvision rounds half to even, transformers floors; padding when the crop is larger', () => {
  assert.equal(cropOffset(256, 224, 'round'), 16);
  assert.equal(cropOffset(257, 224, 'round'), 16); // round(16.5) = 16
  assert.equal(cropOffset(259, 224, 'round'), 18); // round(17.5) = 18
  assert.equal(cropOffset(259, 224, 'floor'), 17);
  assert.equal(cropOffset(223, 224, 'round'), 0); // torchvision pads 0 before, 1 after
  assert.equal(cropOffset(223, 224, 'floor'), -1); // transformers pads 1 before
  assert.equal(cropOffset(220, 224, 'round'), -2);
});

test('normalisation and NCHW order: (v / 255 - mean) / std per channel plane', async () => {
  const pixel = (x: number, y: number, c: number): number => [17, 128, 240][c] + x * 3 + y * 5;
  const bytes = await png(3, 2, pixel);
  const mean: [number, number, number] = [0.485, 0.456, 0.406];
  const std: [number, number, number] = [0.229, 0.224, 0.225];
  const { data, dims } = await preprocessImages([bytes, bytes], { size: [2, 3], resize: 'exact', crop: false, mean, std });
  assert.deepEqual(dims, [2, 3, 2, 3]);
  for (let n = 0; n < 2; n++) {
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 2; y++) {
        for (let x = 0; x < 3; x++) {
          const expected = (pixel(x, y, c) / 255 - mean[c]) / std[c];
          assert.ok(Math.abs(data[n * 18 + c * 6 + y * 3 + x] - expected) < 1e-6);
        }
      }
    }
  }
});

test('resize then centre crop: the crop is the middle of the resized image', async () => {
  // 4 wide × 8 high, shorter side stays 4 (no resize), crop 4×4 from rows 2..5.
  const pixel = (x: number, y: number): number => y * 30 + x;
  const bytes = await png(4, 8, pixel);
  const { data } = await preprocessImages([bytes], { ...identity, size: [4, 4], resize: 4, crop: true });
  assert.deepEqual([...data.subarray(0, 16)], [2, 3, 4, 5].flatMap((y) => [0, 1, 2, 3].map((x) => pixel(x, y))));
});

test('the ImageNet default on a real-sized image: 1 × 3 × 224 × 224', async () => {
  const bytes = await png(300, 200, (x, y, c) => (x + y + c * 50) % 256);
  const { data, dims } = await preprocessImages([bytes], DEFAULT_IMAGENET_SPEC);
  assert.deepEqual(dims, [1, 3, 224, 224]);
  assert.ok(data.every(Number.isFinite));
});

test('EXIF orientation is applied (orientation 6: rotate 90° clockwise)', async () => {
  // 16 wide × 8 high, left half black, right half white; stored with orientation 6 it displays
  // 8 wide × 16 high with the black half on top.
  const raw = Buffer.alloc(16 * 8 * 3);
  for (let y = 0; y < 8; y++) for (let x = 8; x < 16; x++) raw.fill(255, (y * 16 + x) * 3, (y * 16 + x) * 3 + 3);
  const jpeg = await sharp(raw, { raw: { width: 16, height: 8, channels: 3 } }).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toBuffer();
  const img = await decodeImage(jpeg, 'input[0]');
  assert.equal(img.width, 8);
  assert.equal(img.height, 16);
  assert.ok(img.data[(2 * 8 + 4) * 3] < 20, 'top is black');
  assert.ok(img.data[(13 * 8 + 4) * 3] > 235, 'bottom is white');
});

test('alpha is dropped and grey is expanded to RGB', async () => {
  const rgba = await sharp(Buffer.from([10, 20, 30, 0, 40, 50, 60, 255]), { raw: { width: 2, height: 1, channels: 4 } }).png().toBuffer();
  assert.deepEqual([...(await decodeImage(rgba, 'x')).data], [10, 20, 30, 40, 50, 60]);
  const grey = await sharp(Buffer.from([5, 250]), { raw: { width: 2, height: 1, channels: 1 } }).png().toBuffer();
  assert.deepEqual([...(await decodeImage(grey, 'x')).data], [5, 5, 5, 250, 250, 250]);
});

test('an embedded ICC profile is not applied: the stored values, as PIL reads them', async () => {
  // sharp writes sRGB (200, 50, 50), (30, 200, 60) converted into Display P3 and tags the file P3;
  // PIL 12.3 reads the stored (184, 63, 57), (95, 197, 81) back, and so must we (sharp by default
  // would convert them back to sRGB).
  const p3 = await sharp(Buffer.from([200, 50, 50, 30, 200, 60]), { raw: { width: 2, height: 1, channels: 3 } }).withIccProfile('p3').png().toBuffer();
  assert.deepEqual([...(await decodeImage(p3, 'x')).data], [184, 63, 57, 95, 197, 81]);
});

test('errors: missing file → not_found, corrupt bytes or file → corrupt_file naming the input', async () => {
  await withTempDir('omnivec-img-', async (dir) => {
    const missing = join(dir, 'nope.jpg');
    await rejectsCode(preprocessImages([missing], DEFAULT_IMAGENET_SPEC), 'not_found', /nope\.jpg/);
    const bad = join(dir, 'bad.jpg');
    await writeFile(bad, 'not an image');
    await rejectsCode(preprocessImages([await png(2, 2, () => 0), bad], DEFAULT_IMAGENET_SPEC), 'corrupt_file', /input\[1\].*bad\.jpg/);
    const truncated = (await png(20, 20, (x) => x)).subarray(0, 40);
    await rejectsCode(preprocessImages([truncated], DEFAULT_IMAGENET_SPEC), 'corrupt_file', /input\[0\]/);
    // A JPEG cut short: PIL refuses it ("image file is truncated"), and so do we.
    const jpeg = await sharp(await png(64, 64, (x, y, c) => (x * y + c * 40) % 256)).jpeg().toBuffer();
    await rejectsCode(preprocessImages([jpeg.subarray(0, jpeg.length - 200)], DEFAULT_IMAGENET_SPEC), 'corrupt_file', /input\[0\]/);
    await rejectsCode(preprocessImages([42 as unknown as string], DEFAULT_IMAGENET_SPEC), 'invalid_argument', /input\[0\]/);
  });
});

test('spec validation names the field', () => {
  throwsCode(() => validateImageSpec({ ...DEFAULT_IMAGENET_SPEC, size: [0, 224] }), 'invalid_argument', /size\[0\]/);
  throwsCode(() => validateImageSpec({ ...DEFAULT_IMAGENET_SPEC, crop: false }), 'invalid_argument', /crop/);
  throwsCode(() => validateImageSpec({ ...DEFAULT_IMAGENET_SPEC, std: [1, 0, 1] }), 'invalid_argument', /std/);
  throwsCode(() => validateImageSpec({ ...DEFAULT_IMAGENET_SPEC, mean: [1, 2] as unknown as [number, number, number] }), 'invalid_argument', /mean/);
  throwsCode(() => validateImageSpec({ ...DEFAULT_IMAGENET_SPEC, resample: 'lanczos' as 'bilinear' }), 'invalid_argument', /resample/);
});

test('spec from preprocessor_config.json: CLIP (old and new style), ViT, errors', () => {
  const clipMean = [0.48145466, 0.4578275, 0.40821073];
  const clipStd = [0.26862954, 0.26130258, 0.27577711];
  const old = imageSpecFromPreprocessorConfig({ crop_size: 224, do_center_crop: true, do_normalize: true, do_resize: true, image_mean: clipMean, image_std: clipStd, resample: 3, size: 224 });
  assert.deepEqual(old, { size: [224, 224], resize: 224, crop: true, mean: clipMean, std: clipStd, resample: 'bicubic', rescale: 1 / 255, cropOffset: 'floor' });
  const modern = imageSpecFromPreprocessorConfig({ crop_size: { height: 224, width: 224 }, do_center_crop: true, image_mean: clipMean, image_std: clipStd, resample: 3, rescale_factor: 0.00392156862745098, size: { shortest_edge: 224 } });
  assert.deepEqual(modern, old);
  const vit = imageSpecFromPreprocessorConfig({ do_normalize: true, do_resize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5], resample: 2, size: { height: 384, width: 384 } });
  assert.deepEqual(vit, { size: [384, 384], resize: 'exact', crop: false, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], resample: 'bilinear', rescale: 1 / 255, cropOffset: 'floor' });
  const oldVit = imageSpecFromPreprocessorConfig({ size: 224, do_normalize: false });
  assert.equal(oldVit.resize, 'exact');
  assert.deepEqual(oldVit.mean, [0, 0, 0]);
  // microsoft/resnet-50's ConvNextImageProcessor: shorter side to int(224 / 0.875) = 256, centre 224 × 224.
  const resnet = imageSpecFromPreprocessorConfig({
    crop_pct: 0.875, do_normalize: true, do_resize: true, image_mean: [0.485, 0.456, 0.406], image_processor_type: 'ConvNextImageProcessor',
    image_std: [0.229, 0.224, 0.225], resample: 3, size: { shortest_edge: 224 },
  });
  assert.deepEqual([resnet.size, resnet.resize, resnet.crop, resnet.resample], [[224, 224], 256, true, 'bicubic']);
  const big = imageSpecFromPreprocessorConfig({ crop_pct: 0.875, size: { shortest_edge: 384 } });
  assert.deepEqual([big.size, big.resize, big.crop], [[384, 384], 'exact', false]);
  throwsCode(() => imageSpecFromPreprocessorConfig({ crop_pct: 1.5, size: { shortest_edge: 224 } }), 'invalid_argument', /crop_pct/);
  throwsCode(() => imageSpecFromPreprocessorConfig({ size: 224, resample: 1 }), 'invalid_argument', /resample/);
  throwsCode(() => imageSpecFromPreprocessorConfig({ size: { foo: 1 } }), 'invalid_argument', /size/);
  throwsCode(() => imageSpecFromPreprocessorConfig([]), 'invalid_argument', /JSON object/);
});
