import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findLinear, readNpy, readSafetensors } from './weights.js';
import { withTempDir, rejectsCode } from '../../../test/helpers/assertions.js';

const withDir = (fn: (dir: string) => Promise<void>): Promise<void> => withTempDir('omnivec-m3w-', fn);

type Dtype = 'F32' | 'F16' | 'BF16';

/** float32 → IEEE half bits (round to nearest even is not needed: the test values are exact). */
function toHalf(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  const frac = (u >>> 13) & 0x3ff;
  if (x === 0) return sign;
  return sign | (exp << 10) | frac;
}

function encode(values: readonly number[], dtype: Dtype): Buffer {
  if (dtype === 'F32') return Buffer.from(Float32Array.from(values).buffer);
  const out = Buffer.alloc(2 * values.length);
  values.forEach((v, i) => {
    const bits = dtype === 'F16' ? toHalf(v) : new Uint32Array(Float32Array.from([v]).buffer)[0]! >>> 16;
    out.writeUInt16LE(bits, 2 * i);
  });
  return out;
}

/** A safetensors file as the format describes it (header padded to 8 bytes with spaces). */
function safetensors(tensors: Record<string, { dtype: Dtype; shape: number[]; values: number[] }>): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const parts: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = encode(t.values, t.dtype);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += ' ';
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, Buffer.from(json), ...parts]);
}

function npy(descr: string, shape: number[], data: Buffer, version = 1): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const pre = version === 1 ? 10 : 12;
  while ((pre + header.length + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const head = Buffer.alloc(pre);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(head);
  if (version === 1) head.writeUInt16LE(header.length, 8);
  else head.writeUInt32LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), data]);
}

const W = [0.5, -1.25, 2, 0.125, -0.75, 3];

test('safetensors: F32, F16 and BF16 tensors read back as float32, prefixed names found', () => withDir(async (dir) => {
  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    const file = join(dir, `colbert_linear.safetensors`);
    await writeFile(file, safetensors({ 'colbert_linear.weight': { dtype, shape: [2, 3], values: W }, 'colbert_linear.bias': { dtype, shape: [2], values: [0.25, -0.5] } }));
    const all = await readSafetensors(file);
    assert.deepEqual(all.get('colbert_linear.weight')!.shape, [2, 3]);
    assert.deepEqual(Array.from(all.get('colbert_linear.weight')!.data), W, dtype);
    const lin = (await findLinear(dir, 'colbert_linear'))!;
    assert.equal(lin.inDim, 3);
    assert.equal(lin.outDim, 2);
    assert.deepEqual(Array.from(lin.bias), [0.25, -0.5]);
  }
  // BF16 keeps only 8 bits of mantissa: 1/3 rounds toward zero to 0.33203125.
  const file = join(dir, 'b.safetensors');
  await writeFile(file, safetensors({ weight: { dtype: 'BF16', shape: [1, 1], values: [1 / 3] } }));
  assert.equal((await readSafetensors(file)).get('weight')!.data[0], 0.33203125);
}));

test('.npy: float32 and float16, little and big endian, versions 1 and 2; weight + optional bias', () => withDir(async (dir) => {
  const be = Buffer.alloc(4 * W.length);
  W.forEach((v, i) => be.writeFloatBE(v, 4 * i));
  const cases: [string, Buffer, number][] = [
    ['<f4', encode(W, 'F32'), 1], ['>f4', be, 1], ['<f2', encode(W, 'F16'), 2],
  ];
  for (const [descr, data, version] of cases) {
    const file = join(dir, 'x.npy');
    await writeFile(file, npy(descr, [2, 3], data, version));
    const t = await readNpy(file);
    assert.deepEqual(t.shape, [2, 3]);
    assert.deepEqual(Array.from(t.data), W, descr);
  }
  await writeFile(join(dir, 'sparse_linear.weight.npy'), npy('<f4', [1, 3], encode([1, 2, 3], 'F32')));
  let lin = (await findLinear(dir, 'sparse_linear'))!;
  assert.deepEqual(Array.from(lin.bias), [0]);
  assert.equal(lin.outDim, 1);
  await writeFile(join(dir, 'sparse_linear.bias.npy'), npy('<f4', [1], encode([0.5], 'F32')));
  lin = (await findLinear(dir, 'sparse_linear'))!;
  assert.deepEqual(Array.from(lin.bias), [0.5]);
  assert.equal(await findLinear(dir, 'colbert_linear'), undefined);
}));

test('broken weight files: corrupt_file naming the file and what is wrong', () => withDir(async (dir) => {
  const f = join(dir, 'h.safetensors');
  await writeFile(f, Buffer.from([1, 2, 3]));
  await rejectsCode(readSafetensors(f), 'corrupt_file', /h\.safetensors: expected a safetensors file/);
  const ok = safetensors({ weight: { dtype: 'F32', shape: [2, 3], values: W } });
  await writeFile(f, ok.subarray(0, ok.length - 4));
  await rejectsCode(readSafetensors(f), 'corrupt_file', /h\.safetensors: tensor "weight": data ends at byte 24, past the 20 bytes/);
  const bad = Buffer.from(ok);
  bad.writeBigUInt64LE(10_000n);
  await writeFile(f, bad);
  await rejectsCode(readSafetensors(f), 'corrupt_file', /header length 10000 does not fit/);
  await writeFile(f, ok.toString('latin1').replace('"F32"', '"I64"'), 'latin1');
  await rejectsCode(readSafetensors(f), 'corrupt_file', /dtype "I64" is not supported \(expected F32, F16 or BF16\)/);
  await writeFile(f, ok.toString('latin1').replace('[2,3]', '[3,3]'), 'latin1');
  await rejectsCode(readSafetensors(f), 'corrupt_file', /shape \[3, 3\] of F32 needs 36 bytes, data_offsets give 24/);
  await writeFile(f, safetensors({ kernel: { dtype: 'F32', shape: [1], values: [1] } }));
  await rejectsCode(findLinear(dir, 'h'), 'corrupt_file', /expected a tensor named "weight" \(or "….weight"\), got "kernel"/);
  await writeFile(f, safetensors({ weight: { dtype: 'F32', shape: [2, 3], values: W }, bias: { dtype: 'F32', shape: [3], values: [1, 2, 3] } }));
  await rejectsCode(findLinear(dir, 'h'), 'corrupt_file', /bias: expected 2 values \(the weight's out dimension\), got shape \[3\]/);

  const n = join(dir, 'a.npy');
  await writeFile(n, Buffer.from('not numpy at all'));
  await rejectsCode(readNpy(n), 'corrupt_file', /a\.npy: expected a \.npy file/);
  await writeFile(n, npy('<i8', [2], Buffer.alloc(16)));
  await rejectsCode(readNpy(n), 'corrupt_file', /dtype "<i8" is not supported/);
  await writeFile(n, npy('<f4', [2, 3], encode(W, 'F32')).subarray(0, 140));
  await rejectsCode(readNpy(n), 'corrupt_file', /needs 24 bytes of data, the file has \d+ \(truncated\?\)/);
  await writeFile(n, npy('<f4', [2, 3], encode(W, 'F32')).toString('latin1').replace('False', 'True'), 'latin1');
  await rejectsCode(readNpy(n), 'corrupt_file', /Fortran order/);
  await rejectsCode(readNpy(join(dir, 'missing.npy')), 'not_found', /missing\.npy not found/);
}));
