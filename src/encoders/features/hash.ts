/**
 * The hashing trick's hash: MurmurHash3 x86 32-bit (Appleby's `MurmurHash3_x86_32`) of a token's
 * UTF-8 bytes, and the column / sign rule of scikit-learn's `FeatureHasher` built on it
 * (docs/features.md#hashing). Stable across platforms and versions: a hashed field's vectors depend
 * only on the tokens, `dims` and `seed`.
 */
import { fmix32 } from '../../vector/random.js';

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** MurmurHash3_x86_32 of `bytes[0, length)` with a 32-bit `seed`; an unsigned 32-bit integer. */
export function murmurHash3(bytes: Uint8Array, seed = 0, length = bytes.length): number {
  let h = seed | 0;
  const blocks = length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail !== 0) {
    let k = 0;
    if (tail === 3) k ^= bytes[blocks + 2]! << 16;
    if (tail >= 2) k ^= bytes[blocks + 1]! << 8;
    k ^= bytes[blocks]!;
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= length;
  return fmix32(h);
}

const encoder = new TextEncoder();
let scratch = new Uint8Array(256);

/** MurmurHash3_x86_32 of the UTF-8 encoding of `text` (no Unicode normalisation), unsigned. */
export function murmurHash3String(text: string, seed = 0): number {
  // A UTF-16 code unit takes at most 3 UTF-8 bytes.
  if (text.length * 3 > scratch.length) scratch = new Uint8Array(Math.max(text.length * 3, scratch.length * 2));
  const { written } = encoder.encodeInto(text, scratch);
  return murmurHash3(scratch, seed, written);
}

/**
 * Where a token lands in a hashed slice of `dims` columns, and with which sign: with `h` the
 * *signed* 32-bit hash, the column is `|h| mod dims` (2³¹ mod dims for h = −2³¹) and the sign is
 * +1 when h ≥ 0, −1 otherwise — scikit-learn's `FeatureHasher` rule (`alternate_sign=True`).
 */
export function hashSlot(token: string, dims: number, seed = 0): { index: number; sign: 1 | -1 } {
  const h = murmurHash3String(token, seed) | 0;
  const index = h === -0x80000000 ? 0x80000000 % dims : Math.abs(h) % dims;
  return { index, sign: h >= 0 ? 1 : -1 };
}
