import { describe, invalidArgument } from '../errors.js';

/**
 * Matryoshka truncation (Kusupati et al. 2022): a model trained so that every prefix of its vector
 * is itself an embedding can be cut to `dimensions` components and renormalised.
 */

/** What a spec may declare: `true` (any prefix), a list of trained sizes, or nothing. */
export type MatryoshkaDecl = boolean | readonly number[] | undefined;

/**
 * Checks a `dimensions` request against the model's dimension and its Matryoshka declaration.
 * Returns the dimension to output (the model's when `dimensions` is undefined).
 */
export function checkDimensions(dimensions: unknown, modelDim: number, declared: MatryoshkaDecl, force: boolean | undefined, model: string): number {
  if (dimensions === undefined) return modelDim;
  if (typeof dimensions !== 'number' || !Number.isInteger(dimensions) || dimensions < 1) {
    throw invalidArgument(`dimensions: expected a positive integer, got ${describe(dimensions)}`);
  }
  if (dimensions > modelDim) {
    throw invalidArgument(`dimensions: ${dimensions} is larger than the ${modelDim} dimensions of ${model}`);
  }
  if (dimensions === modelDim || force === true) return dimensions;
  if (declared === true) return dimensions;
  if (Array.isArray(declared)) {
    if (declared.includes(dimensions)) return dimensions;
    throw invalidArgument(`dimensions: ${model} was trained for the Matryoshka sizes ${declared.join(', ')}, not ${dimensions} (pass forceDimensions / --force-dimensions to cut anyway)`);
  }
  throw invalidArgument(`dimensions: ${model} does not declare Matryoshka training ("matryoshka" in omnivec.json), so its first ${dimensions} components are not an embedding; pass forceDimensions / --force-dimensions to cut anyway`);
}

/** The first `d` components of `v`, renormalised to unit length when `normalize` (zero vectors stay zero). */
export function truncateVector(v: Float32Array, d: number, normalize: boolean): Float32Array {
  const out = v.length === d ? v : v.slice(0, d);
  if (normalize) normalizeVector(out);
  return out;
}

export function normalizeVector(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  if (s > 0) {
    const inv = 1 / Math.sqrt(s);
    for (let i = 0; i < v.length; i++) v[i]! *= inv;
  }
  return v;
}
