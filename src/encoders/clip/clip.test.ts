import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { Command } from 'commander';
import { createClip, zeroShotScores, CLIP_IMAGE_SPEC } from './clip.js';
import { batchRows } from '../common.js';
import { runEncoderConformance } from '../conformance.js';
import { openEncoder } from '../registry.js';
import type { Encoder } from '../types.js';
import { writeTinyClip } from '../../../test/helpers/tiny-clip.js';
import { openDatabase } from '../../db/database.js';
import { registerClassify, type ClassifyReport } from '../../cli/classify-command.js';
import type { Out } from '../../cli/db-commands.js';
import { buildModel, writeModel, type NodeSpec, type TensorSpec, type Initializer } from '../../../test/helpers/onnx-build.js';
import { withTempDir, rejectsCode } from '../../../test/helpers/assertions.js';

const BPE_GZ = '/work/shared/data/tokenizer-clip-bpe/bpe_simple_vocab_16e6.txt.gz';

/**
 * A toy CLIP in three dimensions, R, G, B.
 *
 * Text tower: a 49408 × 3 embedding table, zero except the BPE tokens `red</w>` (736) → R,
 * `green</w>` (1901) → G, `blue</w>` (1746) → B and `thing</w>` (946) → B; the masked sum over the
 * tokens is `text_embeds` (or, in the `eot` variant, the running sum is `last_hidden_state` and
 * CLIP's pooling must read it at `<|endoftext|>`). So "a photo of a red." ↦ (1, 0, 0).
 *
 * Image tower: GlobalAveragePool over each channel, then × std + mean, which undoes CLIP's
 * normalisation: an image of one colour (r, g, b) ↦ (r, g, b) / 255.
 */
const TOKENS = { red: 736, green: 1901, blue: 1746, thing: 946 };
const MEAN = CLIP_IMAGE_SPEC.mean;
const STD = CLIP_IMAGE_SPEC.std;

function towers(eot: boolean, fixed: boolean): { inputs: TensorSpec[]; outputs: TensorSpec[]; initializers: Initializer[]; nodes: NodeSpec[] }[] {
  // `fixed`: batch axes fixed at 1 and the sequence at 77, as some exports have them.
  const B = fixed ? 1 : 'batch';
  const T = fixed ? 77 : 'sequence';
  const table = new Float32Array(49408 * 3);
  table[TOKENS.red * 3 + 0] = 1;
  table[TOKENS.green * 3 + 1] = 1;
  table[TOKENS.blue * 3 + 2] = 1;
  table[TOKENS.thing * 3 + 2] = 1;
  const text = {
    inputs: [{ name: 'input_ids', type: 'int64', shape: [B, T] }, { name: 'attention_mask', type: 'int64', shape: [B, T] }] as TensorSpec[],
    outputs: [eot ? { name: 'last_hidden_state', type: 'float32', shape: [B, T, 3] } : { name: 'text_embeds', type: 'float32', shape: [B, 3] }] as TensorSpec[],
    initializers: [
      { name: 'table', dims: [49408, 3], data: table },
      { name: 'axis2', dims: [1], data: BigInt64Array.of(2n) },
      // ReduceSum's axes ([1]) or CumSum's axis (a scalar 1).
      eot ? { name: 'axis1', dims: [], data: BigInt64Array.of(1n) } : { name: 'axis1', dims: [1], data: BigInt64Array.of(1n) },
    ] as Initializer[],
    nodes: [
      { op: 'Gather', inputs: ['table', 'input_ids'], outputs: ['emb'] },
      { op: 'Cast', inputs: ['attention_mask'], outputs: ['maskf'], attrs: { to: 1 } },
      { op: 'Unsqueeze', inputs: ['maskf', 'axis2'], outputs: ['mask3'] },
      { op: 'Mul', inputs: ['emb', 'mask3'], outputs: ['masked'] },
      eot
        ? { op: 'CumSum', inputs: ['masked', 'axis1'], outputs: ['last_hidden_state'] }
        : { op: 'ReduceSum', inputs: ['masked', 'axis1'], outputs: ['text_embeds'], attrs: { keepdims: 0 } },
    ] as NodeSpec[],
  };
  const w = new Float32Array(9);
  for (let c = 0; c < 3; c++) w[c * 3 + c] = STD[c]!;
  const vision = {
    inputs: [{ name: 'pixel_values', type: 'float32', shape: [B, 3, 'height', 'width'] }] as TensorSpec[],
    outputs: [{ name: 'image_embeds', type: 'float32', shape: [B, 3] }] as TensorSpec[],
    initializers: [{ name: 'w', dims: [3, 3], data: w }, { name: 'mean', dims: [3], data: Float32Array.from(MEAN) }] as Initializer[],
    nodes: [
      { op: 'GlobalAveragePool', inputs: ['pixel_values'], outputs: ['pooled'] },
      { op: 'Flatten', inputs: ['pooled'], outputs: ['flat'], attrs: { axis: 1 } },
      { op: 'MatMul', inputs: ['flat', 'w'], outputs: ['scaled'] },
      { op: 'Add', inputs: ['scaled', 'mean'], outputs: ['image_embeds'] },
    ] as NodeSpec[],
  };
  return [text, vision];
}

/** Writes a toy CLIP folder: two towers (under onnx/), or one model.onnx with both; the tokenizer linked in. */
async function toyClip(dir: string, layout: { combined?: boolean; eot?: boolean; fixed?: boolean; preprocessor?: boolean; omnivec?: unknown } = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  const [text, vision] = towers(layout.eot === true, layout.fixed === true);
  if (layout.combined === true) {
    await writeModel(join(dir, 'model.onnx'), buildModel({
      inputs: [...text!.inputs, ...vision!.inputs], outputs: [...text!.outputs, ...vision!.outputs],
      initializers: [...text!.initializers, ...vision!.initializers], nodes: [...text!.nodes, ...vision!.nodes],
    }));
  } else {
    await writeModel(join(dir, 'onnx', 'text_model.onnx'), buildModel(text!));
    await writeModel(join(dir, 'onnx', 'vision_model.onnx'), buildModel(vision!));
  }
  await symlink(BPE_GZ, join(dir, 'bpe_simple_vocab_16e6.txt.gz'));
  if (layout.preprocessor !== false) {
    // CLIP's preprocessor_config.json, at 32 pixels to keep the test fast.
    await writeFile(join(dir, 'preprocessor_config.json'), JSON.stringify({
      do_resize: true, size: { shortest_edge: 32 }, do_center_crop: true, crop_size: { height: 32, width: 32 }, resample: 3,
      do_normalize: true, image_mean: MEAN, image_std: STD, do_rescale: true, rescale_factor: 1 / 255,
    }));
  }
  if (layout.omnivec !== undefined) await writeFile(join(dir, 'omnivec.json'), JSON.stringify(layout.omnivec));
  return dir;
}

const png = (r: number, g: number, b: number, width = 48, height = 40): Promise<Buffer> =>
  sharp({ create: { width, height, channels: 3, background: { r, g, b } } }).png().toBuffer();

const LABELS = ['red', 'green', 'blue'];

/**
 * By hand: a (255, 250, 0) image ↦ (1, q, 0) with q = 250/255, unit length (1, q, 0)/√(1 + q²).
 * The label vectors are the axes, so the cosines are 1/√(1+q²) = 0.714073, q/√(1+q²) = 0.700072
 * and 0; logits 100 × those; softmax: p(red) = 1 / (1 + e^(100·(0.700072 − 0.714073)) + e^(−71.41))
 * = 1 / (1 + e^(−1.40017)) = 0.802210, p(green) = 0.197790, p(blue) ≈ 1e-31.
 */
const Q = 250 / 255;
const P_RED = 1 / (1 + Math.exp(100 * (Q - 1) / Math.sqrt(1 + Q * Q)) + Math.exp(-100 / Math.sqrt(1 + Q * Q)));

test('toy CLIP: a red image is "red"; a yellowish one red with the probability worked out by hand', () => withTempDir('omnivec-clip-', async (dir) => {
  assert.ok(Math.abs(P_RED - 0.80221) < 1e-5);
  const clip = await createClip(await toyClip(join(dir, 'toy')), { threads: 1 });
  try {
    assert.equal(clip.text.dim, 3);
    assert.deepEqual(clip.text.spec, { model: 'toy', dim: 3, kind: 'clip', tower: 'text' });
    assert.deepEqual(clip.image.spec, { model: 'toy', dim: 3, kind: 'clip', tower: 'image' });
    const red = await clip.zeroShot(await png(255, 0, 0), LABELS);
    assert.equal(red[0]!.label, 'red');
    assert.ok(red[0]!.probability > 0.999999);
    const yellowish = await clip.zeroShot(await png(255, 250, 0), LABELS);
    assert.deepEqual(yellowish.map((r) => r.label), ['red', 'green', 'blue']);
    assert.ok(Math.abs(yellowish[0]!.probability - P_RED) < 1e-4, `p(red) ${yellowish[0]!.probability}, by hand ${P_RED}`);
    assert.ok(Math.abs(yellowish[1]!.probability - (1 - P_RED)) < 1e-4);
    assert.ok(Math.abs(yellowish.reduce((s, r) => s + r.probability, 0) - 1) < 1e-9);
    // top; an embedding computed before gives the same answer.
    const [v] = batchRows(await clip.image.encode([await png(255, 250, 0)]));
    assert.ok(Math.abs(v![0]! - 1 / Math.sqrt(1 + Q * Q)) < 1e-4 && Math.abs(v![1]! - Q / Math.sqrt(1 + Q * Q)) < 1e-4);
    const top1 = await clip.zeroShot(v!, LABELS, { top: 1 });
    assert.equal(top1.length, 1);
    assert.ok(Math.abs(top1[0]!.probability - yellowish[0]!.probability) < 1e-6);
    // Batches across images, results in input order.
    const batch = await clip.zeroShotBatch([await png(0, 0, 255), v!, await png(0, 255, 0)], LABELS, { top: 1 });
    assert.deepEqual(batch.map((r) => r[0]!.label), ['blue', 'red', 'green']);
  } finally {
    await clip.close();
  }
}));

test('templates: each label is the renormalised mean of its unit template embeddings', () => withTempDir('omnivec-clip-', async (dir) => {
  const clip = await createClip(await toyClip(join(dir, 'toy')), { threads: 1 });
  try {
    // "a photo of a red." ↦ (1, 0, 0); "a red thing" ↦ (1, 0, 1)/√2; mean (0.8536, 0, 0.3536) ↦ (0.9239, 0, 0.3827).
    const [red] = await clip.labelEmbeddings(['red'], ['a photo of a {label}.', 'a {label} thing']);
    const c = Math.cos(Math.PI / 8);
    const s = Math.sin(Math.PI / 8);
    assert.ok(Math.abs(red![0]! - c) < 1e-6 && Math.abs(red![1]!) < 1e-6 && Math.abs(red![2]! - s) < 1e-6, `${[...red!]}`);
    await rejectsCode(clip.zeroShot(await png(255, 0, 0), []), 'invalid_argument', /labels: expected at least one label/);
    await rejectsCode(clip.zeroShot(await png(255, 0, 0), ['red', '']), 'invalid_argument', /labels\[1\]/);
    await rejectsCode(clip.zeroShot(await png(255, 0, 0), ['red'], { templates: ['no placeholder'] }), 'invalid_argument', /templates\[0\].*\{label\}/);
    await rejectsCode(clip.zeroShot(new Float32Array(4), ['red']), 'invalid_argument', /needs 3 numbers/);
    await rejectsCode(clip.image.encode([join(dir, 'missing.png')]), 'not_found', /missing\.png/);
  } finally {
    await clip.close();
  }
  await rejectsCode(clip.text.encode(['red']), 'invalid_argument', /closed/);
  await clip.image.close(); // closing again is a no-op
  const strict = await createClip(join(dir, 'toy'), { threads: 1, truncate: false });
  try {
    await rejectsCode(strict.text.encode(['red', Array.from({ length: 80 }, () => 'red').join(' ')]), 'invalid_argument', /texts\[1\]: 82 tokens/);
    const cut = await createClip(join(dir, 'toy'), { threads: 1 });
    // Cut to 75 tokens + <|endoftext|>: still all "red".
    assert.deepEqual([...(batchRows(await cut.text.encode([Array.from({ length: 80 }, () => 'red').join(' ')])))[0]!], [1, 0, 0]);
    await cut.close();
  } finally {
    await strict.close();
  }
}));

test('layouts: one model.onnx with both towers; a text tower giving token states is pooled at <|endoftext|>', () => withTempDir('omnivec-clip-', async (dir) => {
  const expected = await (async () => {
    const clip = await createClip(await toyClip(join(dir, 'two')), { threads: 1 });
    try { return await clip.zeroShot(await png(255, 250, 0), LABELS); } finally { await clip.close(); }
  })();
  for (const layout of [{ combined: true }, { eot: true }, { combined: true, eot: true }, { fixed: true, eot: true }, { fixed: true, combined: true }]) {
    const clip = await createClip(await toyClip(join(dir, JSON.stringify(layout).replace(/\W/g, '')), layout), { threads: 1, batchSize: 2 });
    try {
      const got = await clip.zeroShot(await png(255, 250, 0), LABELS);
      assert.deepEqual(got.map((r) => r.label), expected.map((r) => r.label), JSON.stringify(layout));
      got.forEach((r, i) => assert.ok(Math.abs(r.probability - expected[i]!.probability) < 1e-6, JSON.stringify(layout)));
      // Five texts of different lengths over three batches come back in input order.
      const texts = ['blue', 'a red thing', 'green', 'a photo of a green.', 'red red red red'];
      const progress: number[] = [];
      const vecs = batchRows(await clip.text.encode(texts, { onProgress: (done, total) => { assert.equal(total, 5); progress.push(done); } }));
      assert.deepEqual(progress, layout.fixed === true ? [1, 2, 3, 4, 5] : [2, 4, 5]);
      assert.deepEqual(vecs.map((v) => [...v].map((x) => Math.round(x * 1000) / 1000)), [
        [0, 0, 1], [0.707, 0, 0.707], [0, 1, 0], [0, 1, 0], [1, 0, 0],
      ]);
      const stop = new AbortController();
      stop.abort(new Error('stopped'));
      await assert.rejects(clip.image.encode([await png(1, 2, 3)], { signal: stop.signal }), /stopped/);
    } finally {
      await clip.close();
    }
  }
}));

test('folder errors: a missing tower, missing tokenizer files; dimensions refused unless forced', () => withTempDir('omnivec-clip-', async (dir) => {
  const d = await toyClip(join(dir, 'toy'));
  await rm(join(d, 'onnx', 'vision_model.onnx'));
  await rejectsCode(createClip(d), 'not_found', /missing vision_model\.onnx/);
  const t = await toyClip(join(dir, 'notok'));
  await rm(join(t, 'bpe_simple_vocab_16e6.txt.gz'));
  await rejectsCode(createClip(t), 'not_found', /no CLIP tokenizer files/);
  await rejectsCode(createClip(join(dir, 'nowhere')), 'not_found', /nowhere/);
  const m = await toyClip(join(dir, 'm'));
  await rejectsCode(createClip(m, { dimensions: 2 }), 'invalid_argument', /does not declare Matryoshka/);
  await rejectsCode(createClip(m, { dimensions: 4, forceDimensions: true }), 'invalid_argument', /larger than the 3 dimensions/);
  const cut = await createClip(m, { dimensions: 2, forceDimensions: true, threads: 1 });
  try {
    assert.equal(cut.image.dim, 2);
    assert.equal(cut.image.spec.model, 'm@2');
    const [v] = batchRows(await cut.image.encode([await png(255, 250, 0)]));
    // (1, q) cut from (1, q, 0) and renormalised: the same direction here.
    assert.ok(Math.abs(v![0]! - 1 / Math.sqrt(1 + Q * Q)) < 1e-4 && v!.length === 2);
  } finally {
    await cut.close();
  }
  const declared = await createClip(await toyClip(join(dir, 'decl'), { omnivec: { matryoshka: [2] } }), { dimensions: 2, threads: 1 });
  assert.equal(declared.text.dim, 2);
  await declared.close();
}));

test('text → image search: image embeddings in a cosine collection, queried with a text embedding', () => withTempDir('omnivec-clip-', async (dir) => {
  const clip = await createClip(await toyClip(join(dir, 'toy'), { preprocessor: false }), { threads: 1 });
  const db = await openDatabase(join(dir, 'db'));
  try {
    const images = { tomato: [230, 20, 10], leaf: [30, 200, 40], sky: [40, 90, 230], brick: [180, 60, 40] } as const;
    const ids = Object.keys(images);
    const vectors = batchRows(await clip.image.encode(await Promise.all(Object.values(images).map(([r, g, b]) => png(r, g, b)))));
    const col = await db.createCollection({ name: 'photos', dim: clip.image.dim, metric: 'cosine', encoder: clip.image.spec });
    await col.add({ ids, vectors });
    const [q] = batchRows(await clip.text.encode(['a photo of something red']));
    const res = await col.query({ vector: q!, k: 2 });
    assert.deepEqual(res.ids, ['tomato', 'brick']);
    const [sky] = batchRows(await clip.text.encode(['blue']));
    assert.equal((await col.query({ vector: sky!, k: 1 })).ids[0], 'sky');
  } finally {
    await db.close();
    await clip.close();
  }
}));

test('omnivec classify: the notebook\'s lines, most probable first; --json; several images', () => withTempDir('omnivec-clip-', async (dir) => {
  const model = await toyClip(join(dir, 'toy'));
  await writeFile(join(dir, 'yellowish.png'), await png(255, 250, 0));
  await writeFile(join(dir, 'blue.png'), await png(0, 0, 255));
  const run = async (args: string[]): Promise<{ lines: string[]; json: unknown[] }> => {
    const lines: string[] = [];
    const json: unknown[] = [];
    const out: Out = { line: (s) => { lines.push(s); }, json: (v) => { json.push(JSON.parse(JSON.stringify(v))); } };
    const p = new Command('omnivec').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
    registerClassify(p, out);
    await p.parseAsync(args, { from: 'user' });
    return { lines, json };
  };
  const one = await run(['classify', '--image', join(dir, 'yellowish.png'), '--labels', 'red, green,blue', '--model', model, '--threads', '1']);
  assert.deepEqual(one.lines, ['    red: 80.22%', '  green: 19.78%', '   blue: 0.00%']);
  const two = await run(['classify', '--image', join(dir, 'yellowish.png'), '--image', join(dir, 'blue.png'), '--labels', 'red,green,blue',
    '--model', model, '--top', '1', '--template', 'a photo of a {label}.', '--template', 'a {label} thing', '--json']);
  const reports = two.json[0] as ClassifyReport[];
  assert.deepEqual(reports.map((r) => [r.image.endsWith('yellowish.png'), r.labels.length, r.labels[0]!.label]), [[true, 1, 'red'], [false, 1, 'blue']]);
  await assert.rejects(run(['classify', '--image', join(dir, 'blue.png'), '--labels', 'red,,blue', '--model', model]), /label 2 is empty/);
  await assert.rejects(run(['classify', '--labels', 'red', '--model', model]), /required option '--image/);
}));

test('real JPEGs (Caltech-101) through CLIP\'s default transform: the toy image tower gives the centre crop\'s mean colour', () => withTempDir('omnivec-clip-', async (dir) => {
  const clip = await createClip(await toyClip(join(dir, 'toy'), { preprocessor: false }), { threads: 1 });
  try {
    const root = '/work/shared/data/images-caltech101-5class';
    const files = ['sunflower', 'airplanes', 'Leopards', 'starfish', 'Motorbikes'].map((c) => join(root, c, readdirSync(join(root, c)).filter((f) => f.endsWith('.jpg')).sort()[0]!));
    const vecs = batchRows(await clip.image.encode(files));
    for (const [i, file] of files.entries()) {
      // Independently: sharp's own resize (shorter side 224) and centre crop, then the channel means.
      const { channels } = await sharp(file).rotate().resize(224, 224, { fit: 'cover', position: 'centre', kernel: 'cubic' }).removeAlpha().toColourspace('srgb').stats();
      const mean = channels.slice(0, 3).map((c) => c.mean);
      const norm = Math.hypot(...mean);
      mean.forEach((m, c) => assert.ok(Math.abs(vecs[i]![c]! - m / norm) < 0.01, `${file} channel ${c}: ${vecs[i]![c]} vs ${m / norm}`));
    }
  } finally {
    await clip.close();
  }
}));

test('zeroShotScores: softmax of 100 × cosine, stable for large logits, ties in label order', () => {
  const axes = [Float32Array.of(1, 0), Float32Array.of(0, 1), Float32Array.of(1, 0)];
  const r = zeroShotScores(Float32Array.of(1, 0), axes, ['a', 'b', 'c']);
  assert.deepEqual(r.map((x) => x.label), ['a', 'c', 'b']);
  assert.ok(Math.abs(r[0]!.probability - 0.5) < 1e-12 && r[2]!.probability > 0 && r[2]!.probability < 1e-40);
  const s = Math.SQRT1_2;
  const half = zeroShotScores(Float32Array.of(s, s), axes.slice(0, 2), ['a', 'b']);
  assert.deepEqual(half.map((x) => x.probability), [0.5, 0.5]);
});

// The encoder contract (types.ts) through the registry: each tower of the tiny CLIP (three colour
// axes; a text without a colour word is the zero vector, refused) is an encoder of its modality.
const contractDir = mkdtempSync(join(tmpdir(), 'omnivec-clip-contract-'));
after(() => rmSync(contractDir, { recursive: true, force: true }));
let tinyClip: Promise<string> | undefined;
const tinyClipDir = (): Promise<string> => (tinyClip ??= writeTinyClip(join(contractDir, 'tiny-clip')));
runEncoderConformance('CLIP text tower', {
  modality: 'text',
  open: async () => await openEncoder(await tinyClipDir(), { threads: 1, modality: 'text' }) as Encoder<'text'>,
  context: { threads: 1 },
  inputs: ['a photo of a red.', 'mint', 'blue red blue', 'a mint thing and a blue one'],
  zeroText: 'a photo of a banana.',
});
runEncoderConformance('CLIP image tower', {
  modality: 'image',
  open: async () => await openEncoder(await tinyClipDir(), { threads: 1, modality: 'image' }) as Encoder<'image'>,
  context: { threads: 1 },
  inputs: await Promise.all([png(255, 0, 0), png(20, 200, 90, 30, 50), png(10, 20, 250, 64, 33)]),
  skip: { 'zero vector': 'images: docs/hardening.md §6 is about texts (an image has pixels, so a vector)' },
});
