// The Word2Vec training kernel, compiled by AssemblyScript to WebAssembly with 128-bit SIMD and
// *shared* memory (scripts/build-wasm.mjs). This file is AssemblyScript, not TypeScript: `usize`
// is a byte address in the shared linear memory, `v128` a SIMD register.
//
// Every worker thread instantiates this module on the same `WebAssembly.Memory({shared: true})`:
// the weights and tables are shared and updated without locks (Hogwild, as word2vec.c does); the
// module's globals (configuration, scratch addresses, random state, loss accumulators) are per
// instance, so per thread. The module has no data segments and calls no imports, so instantiating
// it again never writes to the shared memory. Design: docs/word2vec.md.
//
// Tables, filled by the JS side (src/encoders/word2vec/trainer.ts):
//   sig[i]    = σ(x)        for x = (i / TABLE · 2 − 1) · MAX_EXP, i < TABLE
//   nls[i]    = −log σ(x)   same grid (the loss)
//   keep[w]   = u32 threshold: word w is kept by subsampling when a random u32 ≤ keep[w]
//   aprob[w], aalias[w]: Vose's alias table over count^0.75 (u32 thresholds, i32 aliases)
//   clen[w] (u8), codes[w·MAXCODE + j] (u8), points[w·MAXCODE + j] (i32): the Huffman paths

import { dotf32 } from '../../../vector/wasm/assembly/simd';

const TABLE: i32 = 1000;
const MAX_EXP: f32 = 6.0;
const MAXCODE: i32 = 40;

let dim: i32 = 0;
let vocab: i32 = 0;
let syn0: usize = 0;
let syn1neg: usize = 0;
let syn1: usize = 0;
let sig: usize = 0;
let nls: usize = 0;
let keep: usize = 0;
let aprob: usize = 0;
let aalias: usize = 0;
let clen: usize = 0;
let codes: usize = 0;
let points: usize = 0;

let negative: i32 = 0;
let hs: i32 = 0;
let sg: i32 = 0;
let cbowMean: i32 = 1;
let window: i32 = 5; // 0 = the whole sentence (Item2Vec's set view)
let shuffle: i32 = 0;
let subsample: i32 = 0;

// Per-thread scratch.
let sen: usize = 0;
let neu1: usize = 0;
let neu1e: usize = 0;

let rng: u64 = 1;
let lossSum: f64 = 0;
let lossCount: f64 = 0;

export function configure(
  dim_: i32, vocab_: i32, syn0_: usize, syn1neg_: usize, syn1_: usize, sig_: usize, nls_: usize,
  keep_: usize, aprob_: usize, aalias_: usize, clen_: usize, codes_: usize, points_: usize,
  negative_: i32, hs_: i32, sg_: i32, cbowMean_: i32, window_: i32, shuffle_: i32, subsample_: i32,
): void {
  dim = dim_; vocab = vocab_; syn0 = syn0_; syn1neg = syn1neg_; syn1 = syn1_; sig = sig_; nls = nls_;
  keep = keep_; aprob = aprob_; aalias = aalias_; clen = clen_; codes = codes_; points = points_;
  negative = negative_; hs = hs_; sg = sg_; cbowMean = cbowMean_; window = window_; shuffle = shuffle_;
  subsample = subsample_;
}

/** Per-thread scratch areas and the random state (two 32-bit halves of the seed). */
export function setScratch(sen_: usize, neu1_: usize, neu1e_: usize, seedLo: u32, seedHi: u32): void {
  sen = sen_; neu1 = neu1_; neu1e = neu1e_;
  rng = (<u64>seedHi << 32) | <u64>seedLo;
}

export function getLossSum(): f64 { return lossSum; }
export function getLossCount(): f64 { return lossCount; }
export function resetLoss(): void { lossSum = 0; lossCount = 0; }

// word2vec.c's linear congruential generator; the high bits are the random ones.
@inline function next(): u32 {
  rng = rng * 25214903917 + 11;
  return <u32>(rng >> 16);
}

@inline function below(n: i32): i32 {
  return <i32>((<u64>next() * <u64>n) >> 32);
}

@inline function negSample(): i32 {
  const i = below(vocab);
  const coin = next();
  return coin < load<u32>(aprob + (<usize>i << 2)) ? i : load<i32>(aalias + (<usize>i << 2));
}

// The four-accumulator SIMD dot product, shared with the distance kernels (written once there).
@inline function dot(a: usize, b: usize): f32 {
  return dotf32(a, b, dim);
}

/** e += g·l2 and l2 += g·l1 in one pass (the two updates of one prediction). */
@inline function update2(e: usize, l2: usize, l1: usize, g: f32): void {
  const gv = f32x4.splat(g);
  const end4 = <usize>(dim & ~3) << 2;
  const end = <usize>dim << 2;
  let o: usize = 0;
  for (; o < end4; o += 16) {
    const w = v128.load(l2 + o);
    v128.store(e + o, f32x4.add(v128.load(e + o), f32x4.mul(gv, w)));
    v128.store(l2 + o, f32x4.add(w, f32x4.mul(gv, v128.load(l1 + o))));
  }
  for (; o < end; o += 4) {
    const w = load<f32>(l2 + o);
    store<f32>(e + o, load<f32>(e + o) + g * w);
    store<f32>(l2 + o, w + g * load<f32>(l1 + o));
  }
}

/** a += b */
@inline function addTo(a: usize, b: usize): void {
  const end4 = <usize>(dim & ~3) << 2;
  const end = <usize>dim << 2;
  let o: usize = 0;
  for (; o < end4; o += 16) v128.store(a + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  for (; o < end; o += 4) store<f32>(a + o, load<f32>(a + o) + load<f32>(b + o));
}

@inline function scale(a: usize, s: f32): void {
  const sv = f32x4.splat(s);
  const end4 = <usize>(dim & ~3) << 2;
  const end = <usize>dim << 2;
  let o: usize = 0;
  for (; o < end4; o += 16) v128.store(a + o, f32x4.mul(v128.load(a + o), sv));
  for (; o < end; o += 4) store<f32>(a + o, load<f32>(a + o) * s);
}

@inline function zero(a: usize): void {
  memory.fill(a, 0, <usize>dim << 2);
}

/**
 * One prediction: the output row l2 against the input l1 with the given label. Adds the gradient
 * for l1 into neu1e, updates l2, and accumulates the loss.
 */
@inline function predict(l1: usize, l2: usize, label: i32, alpha: f32): void {
  const f = dot(l1, l2);
  let g: f32;
  if (f >= MAX_EXP) {
    g = <f32>(label - 1) * alpha;
    if (label == 0) lossSum += <f64>f; // −log σ(−f) ≈ f beyond the table
  } else if (f <= -MAX_EXP) {
    g = <f32>label * alpha;
    if (label != 0) lossSum -= <f64>f; // −log σ(f) ≈ −f
  } else {
    const i = <i32>((f + MAX_EXP) * (<f32>TABLE / MAX_EXP / 2.0));
    g = (<f32>label - load<f32>(sig + (<usize>i << 2))) * alpha;
    // −log σ(−f) = −log σ(f) + f
    const nl = load<f32>(nls + (<usize>i << 2));
    lossSum += <f64>(label != 0 ? nl : nl + f);
  }
  lossCount += 1;
  update2(neu1e, l2, l1, g);
}

/** All predictions of one target word from the input vector l1 (HS path and / or negatives). */
@inline function learn(word: i32, l1: usize, alpha: f32): void {
  const rowBytes = <usize>dim << 2;
  if (hs != 0) {
    const n = <i32>load<u8>(clen + <usize>word);
    const cbase = codes + <usize>word * <usize>MAXCODE;
    const pbase = points + ((<usize>word * <usize>MAXCODE) << 2);
    for (let d = 0; d < n; d++) {
      const node = load<i32>(pbase + (<usize>d << 2));
      const code = <i32>load<u8>(cbase + <usize>d);
      predict(l1, syn1 + <usize>node * rowBytes, 1 - code, alpha);
    }
  }
  if (negative > 0) {
    predict(l1, syn1neg + <usize>word * rowBytes, 1, alpha);
    for (let d = 0; d < negative; d++) {
      const target = negSample();
      if (target == word) continue;
      predict(l1, syn1neg + <usize>target * rowBytes, 0, alpha);
    }
  }
}

function trainSentence(len: i32, alpha: f32): void {
  const rowBytes = <usize>dim << 2;
  for (let p = 0; p < len; p++) {
    const word = load<i32>(sen + (<usize>p << 2));
    let lo: i32, hi: i32;
    if (window > 0) {
      const b = below(window); // the usual random shrinking: effective window window − b
      lo = p - window + b; if (lo < 0) lo = 0;
      hi = p + window - b; if (hi > len - 1) hi = len - 1;
    } else {
      lo = 0; hi = len - 1;
    }
    if (sg != 0) {
      for (let c = lo; c <= hi; c++) {
        if (c == p) continue;
        const l1 = syn0 + <usize>load<i32>(sen + (<usize>c << 2)) * rowBytes;
        zero(neu1e);
        learn(word, l1, alpha);
        addTo(l1, neu1e);
      }
    } else {
      zero(neu1);
      let cw = 0;
      for (let c = lo; c <= hi; c++) {
        if (c == p) continue;
        addTo(neu1, syn0 + <usize>load<i32>(sen + (<usize>c << 2)) * rowBytes);
        cw++;
      }
      if (cw == 0) continue;
      if (cbowMean != 0) scale(neu1, <f32>1.0 / <f32>cw);
      zero(neu1e);
      learn(word, neu1, alpha);
      for (let c = lo; c <= hi; c++) {
        if (c == p) continue;
        addTo(syn0 + <usize>load<i32>(sen + (<usize>c << 2)) * rowBytes, neu1e);
      }
    }
  }
}

/**
 * Trains on n ids at `ids` (word indexes; −1 ends a sentence) with one learning rate. Returns the
 * number of words kept by subsampling.
 */
export function train(ids: usize, n: i32, alpha: f32): i32 {
  let kept = 0;
  let i = 0;
  while (i < n) {
    let len = 0;
    while (i < n) {
      const w = load<i32>(ids + (<usize>i << 2));
      i++;
      if (w < 0) break;
      if (subsample != 0) {
        const t = load<u32>(keep + (<usize>w << 2));
        if (t != 0xFFFFFFFF && next() > t) continue;
      }
      store<i32>(sen + (<usize>len << 2), w);
      len++;
    }
    if (len == 0) continue;
    if (shuffle != 0) {
      for (let j = len - 1; j > 0; j--) {
        const r = below(j + 1);
        const a = sen + (<usize>j << 2);
        const b = sen + (<usize>r << 2);
        const t = load<i32>(a);
        store<i32>(a, load<i32>(b));
        store<i32>(b, t);
      }
    }
    kept += len;
    trainSentence(len, alpha);
  }
  return kept;
}
