/**
 * Word2Vec training: skip-gram and CBOW, negative sampling and hierarchical softmax, on worker
 * threads sharing the weights in one shared WebAssembly memory. Design and file of record:
 * docs/word2vec.md.
 */
import { createReadStream, closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync, existsSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Worker } from 'node:worker_threads';
import { createGunzip } from 'node:zlib';
import { OmnivecError, describe, invalidArgument } from '../../errors.js';
import { createTokenizer, type Tokenizer, type TokenizerSpec } from '../text/tokenizer.js';
import { checkInt, checkNumber } from '../../checks.js';
import { Random } from '../../vector/random.js';
import { startWorker } from '../../workers.js';
import type { TrainReply, TrainWorkerData } from './train-worker.js';
import { KeyedVectors } from './keyed-vectors.js';
import { MAX_CODE, WordCounter, aliasTable, chooseVocabulary, huffman, keepThresholds, type Vocabulary } from './vocab.js';
import { w2vWasmBase64 } from './w2v.generated.js';

/** A corpus: a text file (`.gz` is decompressed), or lines / token arrays, sync or async. */
export type Corpus = string | Iterable<string | readonly string[]> | AsyncIterable<string | readonly string[]>;

export interface Word2VecOptions {
  /** 'cbow' (default, as word2vec.c and gensim) or 'skipgram'. */
  model?: 'cbow' | 'skipgram';
  /** Vector size (default 100). */
  dim?: number;
  /** Context words on each side (default 5), shrunk at random per word; 'all' = the whole sentence, no shrinking (Item2Vec). */
  window?: number | 'all';
  /** Negative samples per prediction (default 5; 0 with `hs`). */
  negative?: number;
  /** Hierarchical softmax (default false). */
  hs?: boolean;
  /** Subsampling threshold for frequent words (default 1e-3; 0 turns it off). */
  sample?: number;
  /** Words seen fewer times are dropped (default 5). */
  minCount?: number;
  /** Keep at most this many words, the most frequent (default: no limit). */
  maxVocab?: number;
  /** Passes over the corpus (default 5). */
  epochs?: number;
  /** Learning rate at the start (default 0.025), decaying linearly to `minAlpha` (default 0.0001). */
  alpha?: number;
  minAlpha?: number;
  /** CBOW: average the context vectors (default true) instead of summing them. */
  cbowMean?: boolean;
  /** Shuffle each sentence every epoch (Item2Vec; default false). */
  shuffle?: boolean;
  /** Random seed (default 1). With one thread, training is reproducible bit for bit. */
  seed?: number;
  /** Worker threads (default: the machine's available parallelism). */
  threads?: number;
  /** How text lines are cut into tokens (default `{kind: 'words'}`); token arrays are taken as they are. */
  tokenizer?: TokenizerSpec | Tokenizer;
  /** Token ids beyond this many bytes spill from memory to a temporary file (default 512 MiB). */
  memoryBudget?: number;
  /** Called while counting the corpus and after each block trained. */
  onProgress?: (p: Word2VecProgress) => void;
}

export interface Word2VecProgress {
  phase: 'vocab' | 'train';
  /** Epoch being trained (1-based); 0 while counting. */
  epoch: number;
  epochs: number;
  /** Corpus words processed so far (in the vocabulary, all epochs). */
  words: number;
  /** Words to process in all (vocabulary words × epochs); 0 while counting. */
  totalWords: number;
  wordsPerSecond: number;
  seconds: number;
  /** Mean loss of the last finished epoch, when one has finished. */
  loss?: number;
}

export interface EpochStats {
  epoch: number;
  /** Mean negative log-likelihood per prediction (see docs/word2vec.md#loss). */
  loss: number;
  predictions: number;
  /** Words kept by subsampling and trained on. */
  trainedWords: number;
  /** Seconds since training started, when the epoch's last block finished. */
  seconds: number;
}

export interface Word2VecStats {
  vocabSize: number;
  /** Tokens in the corpus (all, including words below minCount). */
  corpusWords: number;
  sentences: number;
  /** Corpus tokens that are in the vocabulary. */
  retainedWords: number;
  vocabSeconds: number;
  trainSeconds: number;
  /** corpusWords × epochs / trainSeconds: comparable with gensim's and word2vec.c's figure. */
  wordsPerSecond: number;
  threads: number;
  epochs: EpochStats[];
  spilled: boolean;
}

export interface ResolvedWord2VecOptions {
  model: 'cbow' | 'skipgram'; dim: number; window: number | 'all'; negative: number; hs: boolean; sample: number;
  minCount: number; maxVocab: number | null; epochs: number; alpha: number; minAlpha: number; cbowMean: boolean;
  shuffle: boolean; seed: number; threads: number; tokenizer: TokenizerSpec;
}

/** A trained model: the word vectors (with counts), the settings and the training figures. */
export interface Word2VecModel {
  wv: KeyedVectors;
  options: ResolvedWord2VecOptions;
  stats: Word2VecStats;
}

const MAX_SENTENCE = 10_000;
const BLOCK = 32_768;
const SUB_BLOCK = 10_000;
const TABLE = 1000;
const MAX_EXP = 6;
const CHUNK = 1 << 20;
const LAYOUT_START = 65_536;
const PAGE = 65_536;


/** Options with defaults applied and checked; `invalid_argument` names the bad one. */
export function resolveWord2VecOptions(o: Word2VecOptions = {}): ResolvedWord2VecOptions {
  if (o.model !== undefined && o.model !== 'cbow' && o.model !== 'skipgram') {
    throw invalidArgument(`model: expected "cbow" or "skipgram", got ${describe(o.model)}`);
  }
  const window = o.window === 'all' ? 'all' : checkInt(o.window, 'window', { min: 1, max: 1_000_000, fallback: 5 });
  const hs = o.hs ?? false;
  if (typeof hs !== 'boolean') throw invalidArgument(`hs: expected a boolean, got ${describe(hs)}`);
  const negative = checkInt(o.negative, 'negative', { min: 0, max: 1000, fallback: hs ? 0 : 5 });
  if (!hs && negative === 0) throw invalidArgument('negative: 0 without hs leaves nothing to train; set negative ≥ 1 or hs: true');
  const alpha = checkNumber(o.alpha, 'alpha', { min: 0, minExclusive: true, max: 10, fallback: 0.025 });
  const minAlpha = checkNumber(o.minAlpha, 'minAlpha', { min: 0, max: alpha, fallback: 0.0001 });
  const tok = o.tokenizer;
  const tokenizer: TokenizerSpec = tok === undefined ? { kind: 'words' } : ('tokenize' in tok ? tok.spec : tok);
  return {
    model: o.model ?? 'cbow',
    dim: checkInt(o.dim, 'dim', { min: 1, max: 10_000, fallback: 100 }),
    window,
    negative,
    hs,
    sample: checkNumber(o.sample, 'sample', { min: 0, max: 1, fallback: 1e-3 }),
    minCount: checkInt(o.minCount, 'minCount', { min: 1, fallback: 5 }),
    maxVocab: o.maxVocab === undefined ? null : checkInt(o.maxVocab, 'maxVocab', { min: 1, max: 2 ** 31 - 1 }),
    epochs: checkInt(o.epochs, 'epochs', { min: 1, max: 100_000, fallback: 5 }),
    alpha,
    minAlpha,
    cbowMean: o.cbowMean ?? true,
    shuffle: o.shuffle ?? false,
    seed: checkInt(o.seed, 'seed', { min: 0, max: 2 ** 52, fallback: 1 }),
    threads: checkInt(o.threads, 'threads', { min: 1, max: 256, fallback: Math.max(1, availableParallelism()) }),
    tokenizer,
  };
}

/**
 * Token ids of the corpus, one pass, in chunks of 1 Mi ids (−1 ends a sentence); chunks beyond the
 * memory budget go to a temporary file.
 */
class TokenStore {
  readonly #chunks: Int32Array[] = [];
  readonly #chunkIds: number;
  #cur: Int32Array;
  #len = 0;
  readonly #budgetChunks: number;
  #dir: string | null = null;
  #fd = -1;
  #spilledIds = 0;
  #sentenceLen = 0;
  words = 0;
  sentences = 0;

  constructor(budgetBytes: number) {
    // Chunks of 1 Mi ids, smaller when the budget is smaller (a budget of 0 spills everything).
    this.#chunkIds = Math.max(4096, Math.min(CHUNK, Math.floor(budgetBytes / 4)));
    this.#budgetChunks = Math.floor(budgetBytes / (this.#chunkIds * 4));
    this.#cur = new Int32Array(this.#chunkIds);
  }

  get spilled(): boolean { return this.#dir !== null; }

  push(id: number): void {
    if (this.#sentenceLen === MAX_SENTENCE) this.endSentence();
    this.#put(id);
    this.#sentenceLen++;
    this.words++;
  }

  endSentence(): void {
    if (this.#sentenceLen === 0) return;
    this.#put(-1);
    this.#sentenceLen = 0;
    this.sentences++;
  }

  #put(id: number): void {
    if (this.#len === this.#chunkIds) this.#flush();
    this.#cur[this.#len++] = id;
  }

  #flush(): void {
    if (this.#dir === null && this.#chunks.length < this.#budgetChunks) {
      this.#chunks.push(this.#len === this.#chunkIds ? this.#cur : this.#cur.slice(0, this.#len));
    } else {
      if (this.#dir === null) {
        this.#dir = mkdtempSync(join(tmpdir(), 'omnivec-w2v-'));
        this.#fd = openSync(join(this.#dir, 'ids.bin'), 'w+');
      }
      const b = this.#cur.subarray(0, this.#len);
      writeSync(this.#fd, b, 0, b.byteLength, this.#spilledIds * 4);
      this.#spilledIds += this.#len;
    }
    this.#cur = new Int32Array(this.#chunkIds);
    this.#len = 0;
  }

  finish(): void {
    this.endSentence();
    if (this.#len > 0) this.#flush();
  }

  /** The chunks in order: the ones in memory, then the spilled ones read back one at a time. */
  *#all(): Generator<Int32Array> {
    yield* this.#chunks;
    if (this.#fd < 0) return;
    const buf = new Int32Array(this.#chunkIds);
    for (let at = 0; at < this.#spilledIds; at += this.#chunkIds) {
      const n = Math.min(this.#chunkIds, this.#spilledIds - at);
      readSync(this.#fd, buf, 0, n * 4, at * 4);
      yield buf.subarray(0, n);
    }
  }

  /**
   * Blocks of whole sentences, ≤ BLOCK ids, in final word indexes (dropped words removed), with the
   * number of words in each. The yielded array is reused: use it before asking for the next.
   */
  *blocks(remap: Int32Array): Generator<{ ids: Int32Array; words: number }> {
    const block = new Int32Array(BLOCK);
    let len = 0;
    let words = 0;
    for (const chunk of this.#all()) {
      for (let i = 0; i < chunk.length; i++) {
        const p = chunk[i]!;
        if (p >= 0) {
          const w = remap[p]!;
          if (w >= 0) { block[len++] = w; words++; }
        } else if (len > 0 && block[len - 1] !== -1) {
          block[len++] = -1;
          if (len >= BLOCK - MAX_SENTENCE - 2) {
            yield { ids: block.subarray(0, len), words };
            len = 0;
            words = 0;
          }
        }
      }
    }
    if (len > 0) yield { ids: block.subarray(0, len), words };
  }

  dispose(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    if (this.#dir !== null) rmSync(this.#dir, { recursive: true, force: true });
    this.#fd = -1;
    this.#dir = null;
  }
}

async function* corpusLines(corpus: Corpus): AsyncGenerator<string | readonly string[]> {
  if (typeof corpus === 'string') {
    if (!existsSync(corpus)) throw new OmnivecError('not_found', `corpus: no file at ${corpus}`);
    if (!statSync(corpus).isFile()) throw invalidArgument(`corpus: expected a text file, got the directory ${corpus}`);
    const raw = createReadStream(corpus);
    const input = corpus.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
    const rl = createInterface({ input, crlfDelay: Infinity });
    try {
      for await (const line of rl) yield line;
    } catch (e) {
      if (corpus.endsWith('.gz')) throw new OmnivecError('corrupt_file', `corpus ${corpus}: not a readable gzip file (${(e as Error).message})`);
      throw e;
    }
    return;
  }
  if (corpus === null || typeof corpus !== 'object' || (!(Symbol.iterator in corpus) && !(Symbol.asyncIterator in corpus))) {
    throw invalidArgument(`corpus: expected a file path or an iterable of lines or token arrays, got ${describe(corpus)}`);
  }
  yield* corpus as AsyncIterable<string | readonly string[]>;
}

/** Reads the corpus once: counts words and stores their provisional ids. */
async function readCorpus(corpus: Corpus, tokenizer: Tokenizer, budget: number, progress: (words: number) => void): Promise<{ counter: WordCounter; store: TokenStore }> {
  const counter = new WordCounter();
  const store = new TokenStore(budget);
  let next = 1_000_000;
  try {
    for await (const item of corpusLines(corpus)) {
      const tokens = typeof item === 'string' ? tokenizer.tokenize(item) : item;
      if (!Array.isArray(tokens)) throw invalidArgument(`corpus: expected lines (strings) or token arrays, got ${describe(item)}`);
      for (const t of tokens) {
        if (typeof t !== 'string') throw invalidArgument(`corpus: expected tokens as strings, got ${describe(t)}`);
        store.push(counter.add(t));
      }
      store.endSentence();
      if (store.words >= next) { progress(store.words); next += 1_000_000; }
    }
    store.finish();
  } catch (e) {
    store.dispose();
    throw e;
  }
  return { counter, store };
}

interface Layout {
  bytes: number;
  syn0: number; syn1neg: number; syn1: number; sig: number; nls: number; keep: number; aprob: number; aalias: number;
  clen: number; codes: number; points: number; progress: number;
  threads: { block: number; sen: number; neu1: number; neu1e: number }[];
}

function planLayout(v: number, dim: number, o: ResolvedWord2VecOptions): Layout {
  let at = LAYOUT_START;
  const take = (bytes: number): number => { const p = at; at += Math.ceil(bytes / 64) * 64; return p; };
  const row = v * dim * 4;
  const l = {
    syn0: take(row),
    syn1neg: o.negative > 0 ? take(row) : 0,
    syn1: o.hs ? take(row) : 0,
    sig: take(TABLE * 4), nls: take(TABLE * 4),
    keep: take(v * 4), aprob: take(v * 4), aalias: take(v * 4),
    clen: o.hs ? take(v) : 0, codes: o.hs ? take(v * MAX_CODE) : 0, points: o.hs ? take(v * MAX_CODE * 4) : 0,
    progress: take(8),
    threads: [] as Layout['threads'],
    bytes: 0,
  };
  for (let t = 0; t < o.threads; t++) {
    l.threads.push({ block: take(BLOCK * 4), sen: take((MAX_SENTENCE + 1) * 4), neu1: take(dim * 4), neu1e: take(dim * 4) });
  }
  l.bytes = at;
  return l;
}

let wasmModule: WebAssembly.Module | null = null;
function kernelModule(): WebAssembly.Module {
  wasmModule ??= new WebAssembly.Module(Buffer.from(w2vWasmBase64, 'base64'));
  return wasmModule;
}

function emptiedVocabulary(counter: WordCounter, minCount: number): OmnivecError {
  let best = -1;
  for (let i = 0; i < counter.size; i++) if (best < 0 || counter.counts[i]! > counter.counts[best]!) best = i;
  return invalidArgument(
    `minCount ${minCount} leaves no word in the vocabulary: the most frequent of the corpus' ${counter.size} distinct words, ` +
    `${JSON.stringify(counter.words[best])}, occurs ${counter.counts[best]} time(s); lower minCount`);
}

/**
 * Trains Word2Vec on a corpus. One pass reads and counts the corpus (keeping its ids), then
 * `epochs` passes train on worker threads. Rejects with `invalid_argument` on bad options, an
 * empty corpus or a vocabulary emptied by `minCount`.
 */
export async function trainWord2Vec(corpus: Corpus, options: Word2VecOptions = {}): Promise<Word2VecModel> {
  const o = resolveWord2VecOptions(options);
  const tokenizer: Tokenizer = options.tokenizer !== undefined && 'tokenize' in options.tokenizer
    ? options.tokenizer : createTokenizer(o.tokenizer);
  const budget = checkNumber(options.memoryBudget, 'memoryBudget', { min: 0, fallback: 512 * 2 ** 20 });
  const onProgress = options.onProgress;
  const t0 = performance.now();
  const { counter, store } = await readCorpus(corpus, tokenizer, budget, (words) => onProgress?.({
    phase: 'vocab', epoch: 0, epochs: o.epochs, words, totalWords: 0,
    wordsPerSecond: words / Math.max(1e-9, (performance.now() - t0) / 1000), seconds: (performance.now() - t0) / 1000,
  }));
  try {
    if (store.words === 0) {
      throw invalidArgument(`corpus: it holds no tokens${typeof corpus === 'string' ? ` (${corpus})` : ''}; nothing to train on`);
    }
    const vocab = chooseVocabulary(counter, o.minCount, o.maxVocab ?? undefined);
    if (vocab.words.length === 0) throw emptiedVocabulary(counter, o.minCount);
    const vocabSeconds = (performance.now() - t0) / 1000;
    return await train(o, vocab, store, vocabSeconds, onProgress);
  } finally {
    store.dispose();
  }
}

async function train(o: ResolvedWord2VecOptions, vocab: Vocabulary, store: TokenStore,
  vocabSeconds: number, onProgress: Word2VecOptions['onProgress']): Promise<Word2VecModel> {
  const v = vocab.words.length;
  const dim = o.dim;
  const layout = planLayout(v, dim, o);
  if (layout.bytes > 65_536 * PAGE - PAGE) {
    throw new OmnivecError('capacity_exceeded',
      `training needs ${(layout.bytes / 2 ** 30).toFixed(2)} GiB of weights and tables for ${v} words × ${dim} dimensions; ` +
      'the limit is 4 GiB: lower dim, or maxVocab / raise minCount');
  }
  const pages = Math.ceil(layout.bytes / PAGE);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const buf = memory.buffer;

  // Weights: syn0 uniform in [−1/dim, 1/dim) (gensim 4's range; word2vec.c's is half as wide, which
  // measured worse on MovieLens Item2Vec: docs/item2vec.md), output weights zero.
  const syn0 = new Float32Array(buf, layout.syn0, v * dim);
  // The library's one seeded generator (vector/random.ts); the kernel's per-thread draws are
  // word2vec.c's LCG inside the WebAssembly module (assembly/w2v.ts).
  const rnd = new Random(o.seed ^ 0x5bd1e995);
  for (let i = 0; i < syn0.length; i++) syn0[i] = (rnd.next() * 2 - 1) / dim;
  const sig = new Float32Array(buf, layout.sig, TABLE);
  const nls = new Float32Array(buf, layout.nls, TABLE);
  for (let i = 0; i < TABLE; i++) {
    const x = ((i + 0.5) / TABLE * 2 - 1) * MAX_EXP;
    sig[i] = 1 / (1 + Math.exp(-x));
    nls[i] = Math.log1p(Math.exp(-x));
  }
  new Uint32Array(buf, layout.keep, v).set(keepThresholds(vocab.counts, vocab.retainedWords, o.sample));
  if (o.negative > 0) {
    const { prob, alias } = aliasTable(vocab.counts);
    new Uint32Array(buf, layout.aprob, v).set(prob);
    new Int32Array(buf, layout.aalias, v).set(alias);
  }
  if (o.hs) {
    const h = huffman(vocab.counts);
    new Uint8Array(buf, layout.clen, v).set(h.clen);
    new Uint8Array(buf, layout.codes, v * MAX_CODE).set(h.codes);
    new Int32Array(buf, layout.points, v * MAX_CODE).set(h.points);
  }

  const config = [
    dim, v, layout.syn0, layout.syn1neg, layout.syn1, layout.sig, layout.nls, layout.keep, layout.aprob, layout.aalias,
    layout.clen, layout.codes, layout.points, o.negative, o.hs ? 1 : 0, o.model === 'skipgram' ? 1 : 0,
    o.cbowMean ? 1 : 0, o.window === 'all' ? 0 : o.window, o.shuffle ? 1 : 0, o.sample > 0 ? 1 : 0,
  ];
  const totalWords = vocab.retainedWords * o.epochs;
  const module = kernelModule();
  const workers: Worker[] = [];
  const inflight = new Int32Array(o.threads);
  const epochLoss = new Float64Array(o.epochs);
  const epochCount = new Float64Array(o.epochs);
  const epochKept = new Float64Array(o.epochs);
  const epochBlocks = new Int32Array(o.epochs);
  const blocksPerEpoch: number[] = new Array<number>(o.epochs).fill(-1);
  const epochs: EpochStats[] = [];
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  let wordsDone = 0;
  const start = performance.now();
  const seconds = (): number => (performance.now() - start) / 1000;

  const finishEpochs = (): void => {
    while (epochs.length < o.epochs && blocksPerEpoch[epochs.length] === epochBlocks[epochs.length]) {
      const e = epochs.length;
      epochs.push({
        epoch: e + 1, loss: epochCount[e]! > 0 ? epochLoss[e]! / epochCount[e]! : 0, predictions: epochCount[e]!,
        trainedWords: epochKept[e]!, seconds: seconds(),
      });
    }
  };

  try {
    for (let t = 0; t < o.threads; t++) {
      const seed = o.seed + t;
      // The thread's code: train-worker.ts beside this file, started as every omnivec worker is (src/workers.ts).
      const workerData: TrainWorkerData = {
        module, memory, config, ...layout.threads[t]!, progress: layout.progress, totalWords, alpha: o.alpha,
        minAlpha: o.minAlpha, seedLo: seed >>> 0, seedHi: Math.floor(seed / 2 ** 32) >>> 0, subBlock: SUB_BLOCK,
      };
      const w = startWorker(import.meta.url, 'train-worker', { workerData });
      w.on('message', (m: TrainReply) => {
        inflight[t]--;
        epochLoss[m.epoch] += m.loss;
        epochCount[m.epoch] += m.count;
        epochKept[m.epoch] += m.kept;
        epochBlocks[m.epoch]++;
        wordsDone += m.words;
        finishEpochs();
        if (onProgress !== undefined) {
          const s = seconds();
          onProgress({
            phase: 'train', epoch: Math.min(o.epochs, epochs.length + 1), epochs: o.epochs, words: wordsDone, totalWords,
            wordsPerSecond: wordsDone / Math.max(1e-9, s), seconds: s, loss: epochs.at(-1)?.loss,
          });
        }
        const f = wake; wake = null; f?.();
      });
      w.on('error', (e) => { failure ??= e; const f = wake; wake = null; f?.(); });
      w.on('exit', (code) => {
        if (code !== 0) failure ??= new Error(`a Word2Vec worker thread exited with code ${code}`);
        const f = wake; wake = null; f?.();
      });
      workers.push(w);
    }
    const waitForSlot = async (): Promise<number> => {
      for (;;) {
        if (failure !== null) throw failure;
        let best = 0;
        for (let t = 1; t < o.threads; t++) if (inflight[t]! < inflight[best]!) best = t;
        if (inflight[best]! < 2) return best;
        await new Promise<void>((r) => { wake = r; });
      }
    };
    for (let e = 0; e < o.epochs; e++) {
      let n = 0;
      for (const b of store.blocks(vocab.remap)) {
        const t = await waitForSlot();
        workers[t]!.postMessage({ epoch: e, ids: b.ids, words: b.words });
        inflight[t]++;
        n++;
      }
      blocksPerEpoch[e] = n;
      finishEpochs();
    }
    while (inflight.some((x) => x > 0)) {
      if (failure !== null) throw failure;
      await new Promise<void>((r) => { wake = r; });
    }
    if (failure !== null) throw failure;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  const trainSeconds = seconds();
  const vectors = new Float32Array(v * dim);
  vectors.set(syn0);
  const wv = new KeyedVectors(vocab.words, vectors, dim, vocab.counts);
  return {
    wv,
    options: o,
    stats: {
      vocabSize: v, corpusWords: store.words, sentences: store.sentences, retainedWords: vocab.retainedWords,
      vocabSeconds, trainSeconds, wordsPerSecond: (store.words * o.epochs) / trainSeconds, threads: o.threads,
      epochs, spilled: store.spilled,
    },
  };
}
