/**
 * Seeded pseudo-random numbers: xoshiro128** (Blackman & Vigna 2018) seeded through splitmix32.
 * 32-bit state words so it runs on plain JS integers; the same seed gives the same sequence on
 * every platform, which makes index builds, k-means and training reproducible.
 */
/** MurmurHash3's 32-bit finaliser (fmix32): spreads every input bit over the output. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class Random {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  #spare = NaN;

  constructor(seed = 42) {
    let s = seed >>> 0;
    const next = (): number => {
      // splitmix32: a Weyl sequence through fmix32
      s = (s + 0x9e3779b9) | 0;
      return fmix32(s);
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
    if ((this.#a | this.#b | this.#c | this.#d) === 0) this.#a = 1;
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.#b, 5), 7), 9) >>> 0;
    const t = this.#b << 9;
    this.#c ^= this.#a;
    this.#d ^= this.#b;
    this.#b ^= this.#c;
    this.#a ^= this.#d;
    this.#c ^= t;
    this.#d = rotl(this.#d, 11);
    return result;
  }

  /** A uniform number in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A standard normal number (Box–Muller, the spare kept for the next call). */
  gaussian(): number {
    if (!Number.isNaN(this.#spare)) {
      const s = this.#spare;
      this.#spare = NaN;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /**
   * `size` distinct integers of [0, n), uniformly (a partial Fisher–Yates shuffle of 0 … n − 1),
   * ascending — so copies of the chosen rows read their source in order. When size ≥ n: all of
   * them, without drawing.
   */
  sample(n: number, size: number): Uint32Array {
    const perm = new Uint32Array(n);
    for (let i = 0; i < n; i++) perm[i] = i;
    if (size >= n) return perm;
    for (let i = 0; i < size; i++) {
      const j = i + this.int(n - i);
      const t = perm[i]!;
      perm[i] = perm[j]!;
      perm[j] = t;
    }
    return perm.slice(0, size).sort();
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
