/**
 * A Word2Vec training thread (started by trainer.ts through src/workers.ts): instantiates the
 * kernel on the shared memory and trains the blocks of token ids it is sent, taking the learning
 * rate from the shared progress counter (linear decay over all threads' words, as word2vec.c).
 */
import { parentPort, workerData } from 'node:worker_threads';

/** What trainer.ts passes as `workerData` (addresses are byte offsets in the shared memory). */
export interface TrainWorkerData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** The arguments of the kernel's `configure` (layout, sizes, modes). */
  config: number[];
  block: number; sen: number; neu1: number; neu1e: number;
  progress: number;
  totalWords: number;
  alpha: number;
  minAlpha: number;
  seedLo: number;
  seedHi: number;
  /** Most ids per kernel call (extended to the end of the sentence): the learning rate is re-read between calls. */
  subBlock: number;
}

/** A block to train: token ids, −1 ending each sentence. */
export interface TrainBlock { epoch: number; words: number; ids: Int32Array }
export interface TrainReply { epoch: number; words: number; kept: number; loss: number; count: number }

interface Kernel {
  configure(...args: number[]): void;
  setScratch(sen: number, neu1: number, neu1e: number, seedLo: number, seedHi: number): void;
  train(ptr: number, n: number, alpha: number): number;
  getLossSum(): number;
  getLossCount(): number;
  resetLoss(): void;
}

const d = workerData as TrainWorkerData;
const k = new WebAssembly.Instance(d.module, { env: { memory: d.memory } }).exports as unknown as Kernel;
k.configure(...d.config);
k.setScratch(d.sen, d.neu1, d.neu1e, d.seedLo, d.seedHi);
const heap = new Int32Array(d.memory.buffer);
const progress = new BigInt64Array(d.memory.buffer, d.progress, 1);
const span = d.alpha - d.minAlpha;

parentPort!.on('message', (m: TrainBlock) => {
  const ids = m.ids;
  heap.set(ids, d.block >> 2);
  let start = 0;
  let kept = 0;
  while (start < ids.length) {
    let end = Math.min(ids.length, start + d.subBlock);
    while (end < ids.length && ids[end - 1] !== -1) end++;
    let words = 0;
    for (let i = start; i < end; i++) if (ids[i]! >= 0) words++;
    const done = Number(Atomics.load(progress, 0));
    let alpha = d.alpha - span * done / d.totalWords;
    if (alpha < d.minAlpha) alpha = d.minAlpha;
    kept += k.train(d.block + start * 4, end - start, alpha);
    Atomics.add(progress, 0, BigInt(words));
    start = end;
  }
  const reply: TrainReply = { epoch: m.epoch, words: m.words, kept, loss: k.getLossSum(), count: k.getLossCount() };
  parentPort!.postMessage(reply);
  k.resetLoss();
});
