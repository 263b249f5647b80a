/**
 * Users' item sequences handed to the training threads: every sequence packed into one shared
 * Int32Array of items and one of start offsets (sequence i is items[start[i], start[i + 1])), and
 * unpacked into views on each thread without copying.
 */

export interface SharedSequences {
  seqItems: SharedArrayBuffer;
  seqStart: SharedArrayBuffer;
}

export function packSequences(seqs: readonly Int32Array[]): SharedSequences {
  let total = 0;
  for (const q of seqs) total += q.length;
  const items = new Int32Array(new SharedArrayBuffer(Math.max(4, total * 4)));
  const start = new Int32Array(new SharedArrayBuffer((seqs.length + 1) * 4));
  let p = 0;
  seqs.forEach((q, i) => { start[i] = p; items.set(q, p); p += q.length; });
  start[seqs.length] = p;
  return { seqItems: items.buffer as SharedArrayBuffer, seqStart: start.buffer as SharedArrayBuffer };
}

export function unpackSequences(packed: SharedSequences): Int32Array[] {
  const items = new Int32Array(packed.seqItems);
  const start = new Int32Array(packed.seqStart);
  const seqs: Int32Array[] = [];
  for (let i = 0; i + 1 < start.length; i++) seqs.push(items.subarray(start[i]!, start[i + 1]!));
  return seqs;
}

/**
 * A training thread's views of a run's shared buffers, made once per run: `cache` keeps the latest
 * few (a run ends without telling the workers), `make` builds the views of run `id` the first time.
 */
export function runState<S>(cache: Map<number, S>, id: number, make: () => S): S {
  let s = cache.get(id);
  if (s === undefined) {
    s = make();
    cache.set(id, s);
    while (cache.size > 4) cache.delete(cache.keys().next().value!);
  }
  return s;
}
