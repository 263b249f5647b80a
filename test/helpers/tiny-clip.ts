/**
 * A toy CLIP folder that needs no shared data: a tiny BPE vocabulary (the 512 byte symbols, a few
 * merges that spell the label words, the two special tokens) written as Hugging Face's vocab.json +
 * merges.txt, and two towers in three dimensions (R, G, B).
 *
 * Text tower: the masked sum of per-token rows, zero except the words of `WORDS` (one colour axis
 * each), so "a photo of a red." ↦ (1, 0, 0). Image tower: GlobalAveragePool, then × std + mean,
 * which undoes CLIP's normalisation: an image of one colour (r, g, b) ↦ (r, g, b) / 255.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesToUnicode, CLIP_IMAGE_SPEC, END_OF_TEXT, START_OF_TEXT } from '../../src/encoders/clip/index.js';
import { buildModel, writeModel } from './onnx-build.js';

/** Label word → colour axis. Their letter pairs differ, so the merges below never compete. */
export const TINY_CLIP_WORDS: Readonly<Record<string, 0 | 1 | 2>> = { red: 0, mint: 1, blue: 2 };

/** Merges spelling a word left to right: (w0, w1), (w0w1, w2), …, the last symbol with `</w>`. */
function wordMerges(word: string): [string, string][] {
  const out: [string, string][] = [];
  let left = word[0]!;
  for (let i = 1; i < word.length; i++) {
    const right = i === word.length - 1 ? `${word[i]}</w>` : word[i]!;
    out.push([left, right]);
    left += right;
  }
  return out;
}

export async function writeTinyClip(dir: string): Promise<string> {
  await mkdir(join(dir, 'onnx'), { recursive: true });
  const { chars } = bytesToUnicode();
  const merges = Object.keys(TINY_CLIP_WORDS).flatMap(wordMerges);
  const tokens = [...chars, ...chars.map((c) => `${c}</w>`), ...merges.map(([a, b]) => a + b), START_OF_TEXT, END_OF_TEXT];
  const vocab = Object.fromEntries(tokens.map((t, i) => [t, i]));
  await writeFile(join(dir, 'vocab.json'), JSON.stringify(vocab));
  await writeFile(join(dir, 'merges.txt'), ['#version: 0.2', ...merges.map(([a, b]) => `${a} ${b}`)].join('\n') + '\n');

  const table = new Float32Array(tokens.length * 3);
  for (const [word, axis] of Object.entries(TINY_CLIP_WORDS)) table[vocab[`${word}</w>`]! * 3 + axis] = 1;
  await writeModel(join(dir, 'onnx', 'text_model.onnx'), buildModel({
    inputs: [{ name: 'input_ids', type: 'int64', shape: ['batch', 'sequence'] }, { name: 'attention_mask', type: 'int64', shape: ['batch', 'sequence'] }],
    outputs: [{ name: 'text_embeds', type: 'float32', shape: ['batch', 3] }],
    initializers: [
      { name: 'table', dims: [tokens.length, 3], data: table },
      { name: 'axis2', dims: [1], data: BigInt64Array.of(2n) },
      { name: 'axis1', dims: [1], data: BigInt64Array.of(1n) },
    ],
    nodes: [
      { op: 'Gather', inputs: ['table', 'input_ids'], outputs: ['emb'] },
      { op: 'Cast', inputs: ['attention_mask'], outputs: ['maskf'], attrs: { to: 1 } },
      { op: 'Unsqueeze', inputs: ['maskf', 'axis2'], outputs: ['mask3'] },
      { op: 'Mul', inputs: ['emb', 'mask3'], outputs: ['masked'] },
      { op: 'ReduceSum', inputs: ['masked', 'axis1'], outputs: ['text_embeds'], attrs: { keepdims: 0 } },
    ],
  }));
  const w = new Float32Array(9);
  for (let c = 0; c < 3; c++) w[c * 3 + c] = CLIP_IMAGE_SPEC.std[c]!;
  await writeModel(join(dir, 'onnx', 'vision_model.onnx'), buildModel({
    inputs: [{ name: 'pixel_values', type: 'float32', shape: ['batch', 3, 'height', 'width'] }],
    outputs: [{ name: 'image_embeds', type: 'float32', shape: ['batch', 3] }],
    initializers: [{ name: 'w', dims: [3, 3], data: w }, { name: 'mean', dims: [3], data: Float32Array.from(CLIP_IMAGE_SPEC.mean) }],
    nodes: [
      { op: 'GlobalAveragePool', inputs: ['pixel_values'], outputs: ['pooled'] },
      { op: 'Flatten', inputs: ['pooled'], outputs: ['flat'], attrs: { axis: 1 } },
      { op: 'MatMul', inputs: ['flat', 'w'], outputs: ['scaled'] },
      { op: 'Add', inputs: ['scaled', 'mean'], outputs: ['image_embeds'] },
    ],
  }));
  // CLIP's preprocessing at 32 pixels, to keep tests fast.
  await writeFile(join(dir, 'preprocessor_config.json'), JSON.stringify({
    do_resize: true, size: { shortest_edge: 32 }, do_center_crop: true, crop_size: { height: 32, width: 32 }, resample: 3,
    do_normalize: true, image_mean: CLIP_IMAGE_SPEC.mean, image_std: CLIP_IMAGE_SPEC.std, do_rescale: true, rescale_factor: 1 / 255,
  }));
  return dir;
}
