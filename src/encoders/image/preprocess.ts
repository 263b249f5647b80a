/**
 * Image preprocessing that reproduces torchvision's
 * `Resize(256) → CenterCrop(224) → ToTensor() → Normalize(mean, std)` on a PIL image, number for
 * number, and the Hugging Face image processors that follow the same steps.
 *
 * sharp only decodes (to 8-bit sRGB, EXIF orientation applied); the resize is ours, on the raw
 * pixels, because the resize is where libraries differ most: PIL's `Image.resize(BILINEAR)` is a
 * separable triangle filter whose support widens with the downscale factor (so it antialiases),
 * run horizontally then vertically with fixed-point coefficients (22 fractional bits) and the
 * result rounded to 8 bits after each pass. We follow Pillow's `src/libImaging/Resample.c` step by
 * step (coefficient bounds, rounding of coefficients, the half added before the shift, clipping),
 * so that the 8-bit resized image is the one PIL makes. See docs/images.md for the measured
 * difference.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { OmnivecError, describe, invalidArgument } from '../../errors.js';
import { checkPositiveInt, isPlainObject } from '../../checks.js';
import { loadSharp } from './sharp.js';

import type { ImageInput } from '../types.js';

/** A path to an image file, or the encoded bytes (JPEG, PNG, WebP, …): the contract's (types.ts). */
export type { ImageInput };

export interface ImageSpec {
  /** [height, width] of the tensor fed to the model. */
  size: [number, number];
  /** Shorter side to this many pixels (the longer side keeps the aspect ratio), then centre crop to
   *  `size`; or 'exact': straight to `size` (aspect ratio not kept, no crop). */
  resize: number | 'exact';
  /** Centre crop to `size` after the shorter-side resize. Required (true) with a numeric `resize`,
   *  since a batch needs one size. */
  crop: boolean;
  /** Per-channel (R, G, B) mean and standard deviation, on the rescaled values. */
  mean: [number, number, number];
  std: [number, number, number];
  /** Default 'bilinear' (torchvision's default; PIL's BILINEAR). */
  resample?: 'bilinear' | 'bicubic';
  /** Factor applied to the 8-bit values before normalising. Default 1/255 (ToTensor). */
  rescale?: number;
  /** How the centre crop's offset is rounded when the margin is odd: 'round' (default) as
   *  torchvision's CenterCrop (`round((h - 224) / 2)`, half to even); 'floor' as transformers'
   *  `center_crop` (`(h - 224) // 2`). */
  cropOffset?: 'round' | 'floor';
}

export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

/** torchvision's ImageNet evaluation transform: shorter side 256, centre crop 224. */
export const DEFAULT_IMAGENET_SPEC: Readonly<ImageSpec> = Object.freeze<ImageSpec>({
  size: [224, 224],
  resize: 256,
  crop: true,
  mean: [...IMAGENET_MEAN],
  std: [...IMAGENET_STD],
  resample: 'bilinear',
  rescale: 1 / 255,
  cropOffset: 'round',
});

// ---------------------------------------------------------------------------------------------
// Spec from a Hugging Face preprocessor_config.json

function triple(v: unknown, what: string): [number, number, number] {
  if (typeof v === 'number' && Number.isFinite(v)) return [v, v, v];
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw invalidArgument(`${what}: expected 3 finite numbers (R, G, B), got ${describe(v)}`);
  }
  return [v[0], v[1], v[2]];
}

/** size / crop_size: an int, { height, width }, or { shortest_edge } (only for `size`). */
function hwOf(v: unknown, what: string): [number, number] | undefined {
  if (typeof v === 'number') return [checkPositiveInt(v, what), v];
  if (isPlainObject(v) && v.height !== undefined && v.width !== undefined) return [checkPositiveInt(v.height, `${what}.height`), checkPositiveInt(v.width, `${what}.width`)];
  return undefined;
}

/**
 * Reads a Hugging Face `preprocessor_config.json` (its parsed JSON). Fields used: `size` (an int,
 * `{shortest_edge}` or `{height, width}`), `crop_size`, `do_center_crop`, `do_resize`,
 * `image_mean`, `image_std`, `do_normalize`, `resample` (2 bilinear, 3 bicubic),
 * `rescale_factor`, `do_rescale`, `crop_pct` (ConvNextImageProcessor, e.g. microsoft/resnet-50).
 * The crop offset is transformers' (floor).
 *
 * - `{shortest_edge: s}` (or an int with `do_center_crop`): shorter side to s, centre crop to
 *   `crop_size` (default s × s — without a crop a batch would have mixed sizes, so we crop to the
 *   square even when `do_center_crop` is false).
 * - `{height, width}` (or an int without `do_center_crop`): straight to that size, or, with
 *   `do_center_crop`, to that size then a crop to `crop_size` — which we express as 'exact' at the
 *   crop size only when the two are equal.
 * Missing mean/std default to ImageNet's.
 */
export function imageSpecFromPreprocessorConfig(json: unknown): ImageSpec {
  if (!isPlainObject(json)) throw invalidArgument(`preprocessor config: expected a JSON object, got ${describe(json)}`);
  const doCrop = json.do_center_crop !== false && json.crop_size !== undefined ? true : json.do_center_crop === true;
  const crop = hwOf(json.crop_size, 'preprocessor config crop_size');
  let spec: Pick<ImageSpec, 'size' | 'resize' | 'crop'>;
  const size = json.size;
  if (isPlainObject(size) && size.shortest_edge !== undefined && typeof json.crop_pct === 'number' && crop === undefined) {
    // ConvNextImageProcessor (microsoft/resnet-50, convnext): below 384 the shorter side goes to
    // int(s / crop_pct) (224 / 0.875 = 256) and the centre s × s is kept; from 384 up, straight to s × s.
    const s = checkPositiveInt(size.shortest_edge, 'preprocessor config size.shortest_edge');
    if (!(json.crop_pct > 0 && json.crop_pct <= 1)) throw invalidArgument(`preprocessor config crop_pct: expected a number in (0, 1], got ${describe(json.crop_pct)}`);
    spec = s < 384 ? { size: [s, s], resize: Math.trunc(s / json.crop_pct), crop: true } : { size: [s, s], resize: 'exact', crop: false };
  } else if (isPlainObject(size) && size.shortest_edge !== undefined) {
    const s = checkPositiveInt(size.shortest_edge, 'preprocessor config size.shortest_edge');
    spec = { size: crop ?? [s, s], resize: s, crop: true };
  } else if (typeof size === 'number' && doCrop) {
    const s = checkPositiveInt(size, 'preprocessor config size');
    spec = { size: crop ?? [s, s], resize: s, crop: true };
  } else {
    const hw = hwOf(size, 'preprocessor config size');
    if (hw === undefined) {
      if (crop === undefined) throw invalidArgument(`preprocessor config size: expected an int, {shortest_edge} or {height, width}, got ${describe(size)}`);
      spec = { size: crop, resize: 'exact', crop: false };
    } else if (doCrop && crop !== undefined && (crop[0] !== hw[0] || crop[1] !== hw[1])) {
      throw invalidArgument(`preprocessor config: a resize to ${hw[0]}×${hw[1]} followed by a crop to ${crop[0]}×${crop[1]} is not supported; give omnivec.json "image" instead`);
    } else {
      spec = { size: hw, resize: 'exact', crop: false };
    }
  }
  const normalize = json.do_normalize !== false;
  const mean = normalize ? (json.image_mean === undefined ? IMAGENET_MEAN : triple(json.image_mean, 'preprocessor config image_mean')) : [0, 0, 0];
  const std = normalize ? (json.image_std === undefined ? IMAGENET_STD : triple(json.image_std, 'preprocessor config image_std')) : [1, 1, 1];
  let resample: ImageSpec['resample'] = 'bilinear';
  if (json.resample !== undefined) {
    if (json.resample === 2) resample = 'bilinear';
    else if (json.resample === 3) resample = 'bicubic';
    else throw invalidArgument(`preprocessor config resample: expected 2 (bilinear) or 3 (bicubic), got ${describe(json.resample)}`);
  }
  let rescale = 1 / 255;
  if (json.do_rescale === false) rescale = 1;
  else if (json.rescale_factor !== undefined) {
    if (typeof json.rescale_factor !== 'number' || !(json.rescale_factor > 0)) throw invalidArgument(`preprocessor config rescale_factor: expected a positive number, got ${describe(json.rescale_factor)}`);
    rescale = json.rescale_factor;
  }
  return validateImageSpec({ ...spec, mean: [mean[0], mean[1], mean[2]], std: [std[0], std[1], std[2]], resample, rescale, cropOffset: 'floor' });
}

/** Checks every field; returns the spec with defaults filled in. */
export function validateImageSpec(spec: ImageSpec): Required<ImageSpec> {
  if (!isPlainObject(spec)) throw invalidArgument(`image spec: expected an object, got ${describe(spec)}`);
  if (!Array.isArray(spec.size) || spec.size.length !== 2) throw invalidArgument(`image spec size: expected [height, width], got ${describe(spec.size)}`);
  checkPositiveInt(spec.size[0], 'image spec size[0] (height)');
  checkPositiveInt(spec.size[1], 'image spec size[1] (width)');
  if (spec.resize !== 'exact') {
    checkPositiveInt(spec.resize, 'image spec resize');
    if (spec.crop !== true) throw invalidArgument(`image spec crop: a shorter-side resize (resize: ${spec.resize}) needs crop: true so that every image comes out ${spec.size[0]}×${spec.size[1]}; got ${describe(spec.crop)} (use resize: "exact" to go straight to the size)`);
  }
  const mean = triple(spec.mean, 'image spec mean');
  const std = triple(spec.std, 'image spec std');
  if (std.some((s) => s === 0)) throw invalidArgument(`image spec std: expected non-zero values, got [${std.join(', ')}]`);
  const resample = spec.resample ?? 'bilinear';
  if (resample !== 'bilinear' && resample !== 'bicubic') throw invalidArgument(`image spec resample: expected "bilinear" or "bicubic", got ${describe(resample)}`);
  const rescale = spec.rescale ?? 1 / 255;
  if (typeof rescale !== 'number' || !(rescale > 0) || !Number.isFinite(rescale)) throw invalidArgument(`image spec rescale: expected a positive number, got ${describe(rescale)}`);
  const cropOffset = spec.cropOffset ?? 'round';
  if (cropOffset !== 'round' && cropOffset !== 'floor') throw invalidArgument(`image spec cropOffset: expected "round" or "floor", got ${describe(cropOffset)}`);
  return { size: [spec.size[0], spec.size[1]], resize: spec.resize, crop: spec.resize !== 'exact', mean, std, resample, rescale, cropOffset };
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** 8-bit RGB pixels, interleaved, row by row. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * Decodes a path or encoded bytes to 8-bit RGB (alpha dropped, as PIL's `convert('RGB')`; grey
 * expanded to three channels; an embedded ICC profile is not applied, as in PIL), with the EXIF
 * orientation applied. `label` names the input in
 * errors: missing file → not_found, anything sharp cannot decode → corrupt_file.
 */
export async function decodeImage(input: ImageInput, label: string): Promise<RgbImage> {
  if (typeof input === 'string') {
    if (!existsSync(input)) throw new OmnivecError('not_found', `image ${label}: file ${input} not found`);
  } else if (!(input instanceof Uint8Array)) {
    throw invalidArgument(`image ${label}: expected a path or encoded image bytes (Buffer / Uint8Array), got ${describe(input)}`);
  }
  let bytes: Uint8Array;
  try {
    // sharp decodes from memory faster than from a path (bench:encode: preprocessImages 1.05–1.12×).
    bytes = typeof input === 'string' ? await readFile(input) : input;
  } catch (e) {
    throw new OmnivecError('corrupt_file', `image ${label}: ${String(input)} cannot be read (${(e as Error).message})`);
  }
  const sharp = await loadSharp();
  try {
    const { data, info } = await sharp(bytes, { failOn: 'error' })
      .rotate()
      .removeAlpha()
      // The stored values, as PIL reads them: without this sharp converts an embedded ICC profile
      // (Display P3, Adobe RGB) to sRGB, which PIL and torchvision never do.
      .keepIccProfile()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (e) {
    const what = typeof input === 'string' ? input : `${input.byteLength} bytes`;
    throw new OmnivecError('corrupt_file', `image ${label}: ${what} is not a readable image (${(e as Error).message.split('\n')[0]})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Resampling (Pillow's Resample.c, 8 bits per pass)

const PRECISION_BITS = 22; // Pillow: 32 - 8 - 2 (8 bits of result, 2 of headroom for negative lobes)
const HALF = 1 << (PRECISION_BITS - 1);
const CLIP_HIGH = 256 * (1 << PRECISION_BITS);

interface Filter {
  support: number;
  weight(x: number): number;
}

const FILTERS: Record<'bilinear' | 'bicubic', Filter> = {
  bilinear: {
    support: 1,
    weight: (x) => {
      const a = Math.abs(x);
      return a < 1 ? 1 - a : 0;
    },
  },
  // Keys' cubic convolution with a = -0.5, as PIL's BICUBIC.
  bicubic: {
    support: 2,
    weight: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
};

/** Per output pixel: the first input index, the tap count, and fixed-point weights (ksize each). */
interface Coefficients {
  ksize: number;
  first: Int32Array;
  count: Int32Array;
  weights: Int32Array;
}

/** The taps of a 1-D resize of `inSize` samples to `outSize`, as Pillow's precompute_coeffs then
 *  normalize_coeffs_8bpc compute them (the filter widens by the downscale factor). */
function coefficients(inSize: number, outSize: number, filter: Filter): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    const n = hi - lo;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      w[i] = filter.weight((i + lo - center + 0.5) / filterScale);
      sum += w[i];
    }
    for (let i = 0; i < n; i++) {
      const k = sum !== 0 ? w[i] / sum : w[i];
      // C's (int) conversion truncates toward zero; Pillow adds ±0.5 first to round half away.
      weights[o * ksize + i] = Math.trunc(k < 0 ? -0.5 + k * (1 << PRECISION_BITS) : 0.5 + k * (1 << PRECISION_BITS));
    }
    first[o] = lo;
    count[o] = n;
  }
  return { ksize, first, count, weights };
}

function clip8(acc: number): number {
  if (acc <= 0) return 0;
  if (acc >= CLIP_HIGH) return 255;
  return acc >> PRECISION_BITS;
}

/**
 * Resizes 8-bit RGB pixels to `width` × `height` exactly as PIL's `Image.resize(size, BILINEAR |
 * BICUBIC)` on an RGB image: a horizontal pass (only if the width changes), rounded to 8 bits,
 * then a vertical pass (only if the height changes) over just the rows it needs.
 */
export function resizeRgb(img: RgbImage, width: number, height: number, resample: 'bilinear' | 'bicubic' = 'bilinear'): RgbImage {
  checkPositiveInt(width, 'resize width');
  checkPositiveInt(height, 'resize height');
  if (width === img.width && height === img.height) return { width, height, data: img.data.slice() };
  const filter = FILTERS[resample];
  let src = img;
  if (width !== img.width) {
    const c = coefficients(img.width, width, filter);
    // Pillow resamples horizontally only the input rows the vertical pass will read.
    let rowLo = 0;
    let rowHi = img.height;
    let v: Coefficients | undefined;
    if (height !== img.height) {
      v = coefficients(img.height, height, filter);
      rowLo = v.first[0];
      rowHi = v.first[height - 1] + v.count[height - 1];
    }
    const rows = rowHi - rowLo;
    const out = new Uint8Array(width * rows * 3);
    const inRow = img.width * 3;
    for (let y = 0; y < rows; y++) {
      const rowBase = (y + rowLo) * inRow;
      for (let x = 0; x < width; x++) {
        const k0 = x * c.ksize;
        const n = c.count[x];
        let p = rowBase + c.first[x] * 3;
        let r = HALF, g = HALF, b = HALF;
        for (let i = 0; i < n; i++, p += 3) {
          const k = c.weights[k0 + i];
          r += img.data[p] * k;
          g += img.data[p + 1] * k;
          b += img.data[p + 2] * k;
        }
        const o = (y * width + x) * 3;
        out[o] = clip8(r);
        out[o + 1] = clip8(g);
        out[o + 2] = clip8(b);
      }
    }
    src = { width, height: rows, data: out };
    if (v === undefined) return src;
    return verticalPass(src, height, v, rowLo);
  }
  return verticalPass(src, height, coefficients(img.height, height, filter), 0);
}

function verticalPass(src: RgbImage, height: number, v: Coefficients, rowOffset: number): RgbImage {
  const width = src.width;
  const stride = width * 3;
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const k0 = y * v.ksize;
    const n = v.count[y];
    const base = (v.first[y] - rowOffset) * stride;
    for (let x = 0; x < stride; x++) {
      let acc = HALF;
      let p = base + x;
      for (let i = 0; i < n; i++, p += stride) acc += src.data[p] * v.weights[k0 + i];
      out[y * stride + x] = clip8(acc);
    }
  }
  return { width, height, data: out };
}

// ---------------------------------------------------------------------------------------------
// Sizes and crop offsets

/** torchvision's Resize(s) (and transformers' shortest_edge): the shorter side becomes s, the
 *  longer `int(s * long / short)` (truncated). Returns [height, width]. */
export function shorterSideSize(height: number, width: number, shorter: number): [number, number] {
  if (width <= height) return [Math.trunc((shorter * height) / width), shorter];
  return [shorter, Math.trunc((shorter * width) / height)];
}

/** Python's round(): half to even. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * The offset of a centre crop of `crop` from `size` samples along one axis, in source
 * coordinates (negative when the crop is larger and the image is padded with zeros).
 * 'round': torchvision's CenterCrop (pads floor((crop - size) / 2) before; otherwise
 * round((size - crop) / 2), half to even); 'floor': transformers' center_crop ((size - crop) // 2).
 */
export function cropOffset(size: number, crop: number, mode: 'round' | 'floor'): number {
  if (mode === 'floor') return Math.floor((size - crop) / 2);
  if (crop > size) return -Math.floor((crop - size) / 2) || 0; // never -0
  return roundHalfEven((size - crop) / 2);
}

// ---------------------------------------------------------------------------------------------
// The tensor

/** Writes one image, cropped at (top, left) to h × w (zeros outside), rescaled and normalised, as
 *  three planes (NCHW) at `offset` in `out`. */
function writePlanes(img: RgbImage, top: number, left: number, spec: Required<ImageSpec>, out: Float32Array, offset: number): void {
  const [h, w] = spec.size;
  const plane = h * w;
  for (let c = 0; c < 3; c++) {
    const scale = spec.rescale / spec.std[c];
    const shift = spec.mean[c] / spec.std[c];
    const base = offset + c * plane;
    for (let y = 0; y < h; y++) {
      const sy = y + top;
      for (let x = 0; x < w; x++) {
        const sx = x + left;
        const v = sy >= 0 && sy < img.height && sx >= 0 && sx < img.width ? img.data[(sy * img.width + sx) * 3 + c] : 0;
        // (v * rescale - mean) / std, as ToTensor then Normalize (in float64, stored as float32).
        out[base + y * w + x] = v * scale - shift;
      }
    }
  }
}

/** One decoded image to the model's h × w: resize (and crop) as the spec says. */
export function fitImage(img: RgbImage, spec: Required<ImageSpec>): { image: RgbImage; top: number; left: number } {
  const [h, w] = spec.size;
  if (spec.resize === 'exact') return { image: resizeRgb(img, w, h, spec.resample), top: 0, left: 0 };
  const [rh, rw] = shorterSideSize(img.height, img.width, spec.resize);
  const image = resizeRgb(img, rw, rh, spec.resample);
  return { image, top: cropOffset(rh, h, spec.cropOffset), left: cropOffset(rw, w, spec.cropOffset) };
}

export interface PreprocessOptions {
  /** Index of inputs[0] in the caller's list, so that errors name `input[i]` of that list. Default 0. */
  indexOffset?: number;
}

/**
 * Decodes, resizes, crops and normalises a batch into one NCHW float32 tensor
 * [inputs.length, 3, height, width]. Errors name the path, or `input[i]` for bytes.
 */
export async function preprocessImages(inputs: readonly ImageInput[], spec: ImageSpec, options: PreprocessOptions = {}): Promise<{ data: Float32Array; dims: [number, 3, number, number] }> {
  const s = validateImageSpec(spec);
  if (!Array.isArray(inputs)) throw invalidArgument(`images: expected an array of paths or encoded images, got ${describe(inputs)}`);
  const offset = options.indexOffset ?? 0;
  const [h, w] = s.size;
  const data = new Float32Array(inputs.length * 3 * h * w);
  const label = (input: ImageInput, i: number): string => (typeof input === 'string' ? `input[${i + offset}] (${input})` : `input[${i + offset}]`);
  const decoded = await Promise.all(inputs.map((input, i) => decodeImage(input, label(input, i))));
  decoded.forEach((img, i) => {
    const { image, top, left } = fitImage(img, s);
    writePlanes(image, top, left, s, data, i * 3 * h * w);
  });
  return { data, dims: [inputs.length, 3, h, w] };
}
