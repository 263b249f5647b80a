import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OmnivecError } from '../../errors.js';
import { float16 } from '../../io/npy.js';

/**
 * Head weights of BGE-M3 read from the files FlagEmbedding's checkpoints come as, converted:
 * safetensors (F32, F16, BF16) and NumPy .npy (float32, float16; C order). Everything is widened
 * to float32. Errors are `corrupt_file` naming the file and what was wrong with it.
 *
 * Safetensors: 8-byte little-endian header length N, N bytes of JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__? }`, then the data, offsets
 * relative to its start (huggingface/safetensors, "Format").
 * .npy: `\x93NUMPY`, version, header length (u16 in v1, u32 in v2/v3), a Python dict literal
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1024), }`, then the data (NEP 1).
 */

/** A tensor read from a file: its shape and its values as float32, row-major. */
export interface Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** A PyTorch `nn.Linear`: `y = x · Wᵀ + b`, `weight` row-major [outDim, inDim], `bias` [outDim]. */
export interface Linear {
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  readonly inDim: number;
  readonly outDim: number;
}

function corrupt(file: string, what: string): OmnivecError {
  return new OmnivecError('corrupt_file', `${file}: ${what}`);
}

async function readBytes(file: string): Promise<Buffer> {
  if (!existsSync(file)) throw new OmnivecError('not_found', `weight file ${file} not found`);
  try {
    return await readFile(file);
  } catch (e) {
    throw corrupt(file, `cannot be read (${(e as Error).message})`);
  }
}

/** Decodes `count` elements of `kind` ('f32' | 'f16' | 'bf16') from `bytes` (byte order `little`). */
function decode(bytes: Uint8Array, kind: 'f32' | 'f16' | 'bf16', count: number, little: boolean): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  if (kind === 'f32') {
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, little);
  } else if (kind === 'f16') {
    for (let i = 0; i < count; i++) out[i] = float16(view.getUint16(2 * i, little));
  } else {
    // bfloat16 is the upper half of a float32.
    const u = new Uint32Array(1);
    const f = new Float32Array(u.buffer);
    for (let i = 0; i < count; i++) {
      u[0] = view.getUint16(2 * i, little) << 16;
      out[i] = f[0]!;
    }
  }
  return out;
}

function checkShape(file: string, name: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw corrupt(file, `tensor ${JSON.stringify(name)}: expected a shape of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  return shape as number[];
}

const SAFETENSORS_KINDS: Record<string, { kind: 'f32' | 'f16' | 'bf16'; size: number }> = {
  F32: { kind: 'f32', size: 4 },
  F16: { kind: 'f16', size: 2 },
  BF16: { kind: 'bf16', size: 2 },
};

/** Every tensor of a safetensors file, by name, as float32. */
export async function readSafetensors(file: string): Promise<Map<string, Tensor>> {
  const buf = await readBytes(file);
  if (buf.length < 8) throw corrupt(file, `expected a safetensors file (8-byte header length, JSON header, data), got ${buf.length} bytes`);
  const headerLen = Number(buf.readBigUInt64LE(0));
  if (headerLen < 2 || 8 + headerLen > buf.length) {
    throw corrupt(file, `safetensors header length ${headerLen} does not fit in the file of ${buf.length} bytes`);
  }
  let header: unknown;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8'));
  } catch (e) {
    throw corrupt(file, `safetensors header is not JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw corrupt(file, 'safetensors header: expected a JSON object');
  const data = buf.subarray(8 + headerLen);
  const tensors = new Map<string, Tensor>();
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (info === null || typeof info !== 'object') throw corrupt(file, `tensor ${JSON.stringify(name)}: expected { dtype, shape, data_offsets }`);
    const dtype = SAFETENSORS_KINDS[String(info.dtype)];
    if (dtype === undefined) throw corrupt(file, `tensor ${JSON.stringify(name)}: dtype ${JSON.stringify(info.dtype)} is not supported (expected F32, F16 or BF16)`);
    const shape = checkShape(file, name, info.shape);
    const offsets = info.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)) {
      throw corrupt(file, `tensor ${JSON.stringify(name)}: expected data_offsets [begin, end], got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * dtype.size) {
      throw corrupt(file, `tensor ${JSON.stringify(name)}: shape [${shape.join(', ')}] of ${info.dtype as string} needs ${count * dtype.size} bytes, data_offsets give ${end - begin}`);
    }
    if (end > data.length) throw corrupt(file, `tensor ${JSON.stringify(name)}: data ends at byte ${end}, past the ${data.length} bytes of data (truncated file?)`);
    tensors.set(name, { shape, data: decode(data.subarray(begin, end), dtype.kind, count, true) });
  }
  return tensors;
}

const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

/** One array of a .npy file (float32 or float16, either byte order, C order) as float32. */
export async function readNpy(file: string): Promise<Tensor> {
  const buf = await readBytes(file);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(NPY_MAGIC)) throw corrupt(file, 'expected a .npy file (magic \\x93NUMPY)');
  const major = buf[6]!;
  if (major < 1 || major > 3) throw corrupt(file, `.npy version ${major}.${buf[7]!} is not supported (expected 1.x, 2.x or 3.x)`);
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.length >= 12 ? buf.readUInt32LE(8) : -1;
  const start = major === 1 ? 10 : 12;
  if (headerLen < 0 || start + headerLen > buf.length) throw corrupt(file, '.npy header is truncated');
  const header = buf.subarray(start, start + headerLen).toString(major === 3 ? 'utf8' : 'latin1');
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw corrupt(file, `.npy header: expected 'descr', 'fortran_order' and 'shape', got ${JSON.stringify(header.trim())}`);
  }
  const kinds: Record<string, { kind: 'f32' | 'f16'; size: number; little: boolean }> = {
    '<f4': { kind: 'f32', size: 4, little: true }, '>f4': { kind: 'f32', size: 4, little: false },
    '<f2': { kind: 'f16', size: 2, little: true }, '>f2': { kind: 'f16', size: 2, little: false },
    '|f4': { kind: 'f32', size: 4, little: true }, '=f4': { kind: 'f32', size: 4, little: true },
  };
  const k = kinds[descr];
  if (k === undefined) throw corrupt(file, `.npy dtype ${JSON.stringify(descr)} is not supported (expected float32 '<f4' or float16 '<f2')`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw corrupt(file, `.npy shape (${shapeText}) is not a tuple of integers`);
  // A Fortran-ordered array of more than one dimension would be read transposed.
  if (fortran === 'True' && shape.filter((d) => d > 1).length > 1) throw corrupt(file, '.npy array is in Fortran order; save it in C order (numpy.ascontiguousarray)');
  const count = shape.reduce((a, b) => a * b, 1);
  const body = buf.subarray(start + headerLen);
  if (body.length < count * k.size) throw corrupt(file, `.npy shape (${shape.join(', ')}) needs ${count * k.size} bytes of data, the file has ${body.length} (truncated?)`);
  return { shape, data: decode(body, k.kind, count, k.little) };
}

/** Checks weight [out, in] (or [in] for out = 1) and bias [out] and makes a Linear. */
export function linearFrom(file: string, weight: Tensor, bias: Tensor | undefined): Linear {
  const ws = weight.shape;
  if (ws.length !== 2 && ws.length !== 1) throw corrupt(file, `weight: expected a shape [out, in], got [${ws.join(', ')}]`);
  const outDim = ws.length === 2 ? ws[0]! : 1;
  const inDim = ws.length === 2 ? ws[1]! : ws[0]!;
  if (bias !== undefined && bias.data.length !== outDim) {
    throw corrupt(file, `bias: expected ${outDim} values (the weight's out dimension), got shape [${bias.shape.join(', ')}]`);
  }
  return { weight: weight.data, bias: bias?.data ?? new Float32Array(outDim), inDim, outDim };
}

/** The one tensor whose name is `suffix` or ends with `.suffix` (checkpoints prefix names). */
function pick(file: string, tensors: Map<string, Tensor>, suffix: string, required: boolean): Tensor | undefined {
  const found = [...tensors.keys()].filter((n) => n === suffix || n.endsWith(`.${suffix}`));
  if (found.length === 0) {
    if (!required) return undefined;
    throw corrupt(file, `expected a tensor named "${suffix}" (or "….${suffix}"), got ${[...tensors.keys()].map((n) => JSON.stringify(n)).join(', ') || 'none'}`);
  }
  if (found.length > 1) throw corrupt(file, `expected one tensor named "${suffix}", got ${found.map((n) => JSON.stringify(n)).join(', ')}`);
  return tensors.get(found[0]!);
}

/** Reads a Linear layer from a safetensors file: tensors "weight" and "bias" (names may carry a prefix). */
export async function readLinearSafetensors(file: string): Promise<Linear> {
  const tensors = await readSafetensors(file);
  return linearFrom(file, pick(file, tensors, 'weight', true)!, pick(file, tensors, 'bias', false));
}

/**
 * The head `name` ('sparse_linear' | 'colbert_linear') from the files beside a model, in this
 * order: `name.safetensors`; `name.weight.npy` (+ `name.bias.npy`, zeros when absent). Returns
 * undefined when neither is there.
 */
export async function findLinear(dir: string, name: string): Promise<Linear | undefined> {
  const st = join(dir, `${name}.safetensors`);
  if (existsSync(st)) return readLinearSafetensors(st);
  const w = join(dir, `${name}.weight.npy`);
  if (existsSync(w)) {
    const b = join(dir, `${name}.bias.npy`);
    return linearFrom(w, await readNpy(w), existsSync(b) ? await readNpy(b) : undefined);
  }
  return undefined;
}
