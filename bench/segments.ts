/**
 * bench:segments — one real index larger than 4 GiB (docs/indexes/segments.md): a flat and an
 * IVF-Flat index of 1.2M × 1024-d float32 (4.9 GB of vectors, past one WebAssembly memory), built
 * through createIndex with the default segmentBytes. Measures add / train time, memory (stats and
 * process RSS), save / load time and file size, and QPS with recall@10 on 100 queries against
 * exact ground truth (the flat index is exact: it is the ground truth for IVF). Beside it, when
 * /usr/bin/python3 has faiss: IndexFlatL2 and IndexIVFFlat on the same data (written as .fvecs),
 * in a child process, one thread (omnivec's search is one thread).
 *
 *   npm run bench:segments                 # the full run (~10–20 min, ~12 GB RAM, ~10 GB disk)
 *   npm run bench:segments -- --quick      # 60k × 128, 4 MiB segments: a smoke run in seconds
 *
 * Options: --n, --dim, --queries, --nlist, --train, --iterations, --nprobe 8,32,
 * --segment-bytes, --dir (scratch files, deleted at the end), --no-faiss, --out (markdown).
 *
 *   npm run bench:segments -- --peer-only  # the flat build (for the ground truth) and Faiss only
 *   npm run bench:segments -- --hnsw       # only: HNSW in 1 segment vs several, same efSearch
 *                                          # (recall@10, QPS, build): the cost of one graph per segment
 *
 * Data: deterministic (seeded), clustered like real embeddings: 2 000 centres, a decaying
 * per-dimension spectrum (scale 1/√(1 + j/16)), points = centre + 0.7 × spectrum × noise.
 */
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createIndex, loadIndex, saveIndex } from '../src/indexes/registry.js';
import type { SegmentedIndex } from '../src/indexes/segmented.js';
import type { BatchSearchResult, VectorIndex } from '../src/indexes/types.js';
import type { VectorBatch } from '../src/vector/batch.js';
import { log, settle, settledRss, timed } from './lib/measure.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    n: { type: 'string' },
    dim: { type: 'string' },
    queries: { type: 'string', default: '100' },
    nlist: { type: 'string' },
    train: { type: 'string' },
    iterations: { type: 'string', default: '10' },
    nprobe: { type: 'string' },
    'segment-bytes': { type: 'string' },
    dir: { type: 'string' },
    'no-faiss': { type: 'boolean', default: false },
    'peer-only': { type: 'boolean', default: false },
    hnsw: { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results/segments.md' },
  },
});
const quick = args.quick!;
const N = Number(args.n ?? (quick ? 60_000 : 1_200_000));
const DIM = Number(args.dim ?? (quick ? 128 : 1024));
const NQ = Number(args.queries);
const NLIST = Number(args.nlist ?? (quick ? 64 : 1024));
const TRAIN = Number(args.train ?? (quick ? 5_000 : 40 * NLIST));
const ITER = Number(args.iterations);
const NPROBES = (args.nprobe ?? (quick ? '4,16' : '8,32')).split(',').map(Number);
const SEGMENT_BYTES = args['segment-bytes'] !== undefined ? Number(args['segment-bytes']) : (quick ? 4 << 20 : undefined);
const CHUNK = 32_768;
const K = 10;
const PY = '/usr/bin/python3';

// ------------------------------------------------------------------------------------------
// Data: seeded, clustered, decaying spectrum

class Rng {
  #s: number;
  constructor(seed: number) { this.#s = seed >>> 0 || 1; }
  u32(): number {
    // xorshift32
    let x = this.#s;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    this.#s = x;
    return x;
  }
}

const GAUSS = (() => {
  const r = new Rng(12345);
  const t = new Float32Array(1 << 16);
  for (let i = 0; i < t.length; i += 2) {
    const u = (r.u32() + 1) / 4294967297;
    const v = r.u32() / 4294967296;
    const m = Math.sqrt(-2 * Math.log(u));
    t[i] = m * Math.cos(2 * Math.PI * v);
    t[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  return t;
})();
const SPECTRUM = Float32Array.from({ length: DIM }, (_, j) => 1 / Math.sqrt(1 + j / 16));
const CLUSTERS = 2000;
const CENTRES = (() => {
  const r = new Rng(777);
  const c = new Float32Array(CLUSTERS * DIM);
  for (let i = 0; i < CLUSTERS; i++) for (let j = 0; j < DIM; j++) c[i * DIM + j] = SPECTRUM[j]! * GAUSS[r.u32() & 0xffff]!;
  return c;
})();

/** Rows [first, first + count) of the stream `seed` (base: 1, queries: 2). */
function rows(seed: number, first: number, count: number): VectorBatch {
  const data = new Float32Array(count * DIM);
  for (let i = 0; i < count; i++) {
    const r = new Rng(Math.imul(first + i + 1, 0x9e3779b1) ^ seed);
    r.u32();
    const c = r.u32() % CLUSTERS;
    const o = i * DIM;
    const co = c * DIM;
    for (let j = 0; j < DIM; j++) data[o + j] = CENTRES[co + j]! + 0.7 * SPECTRUM[j]! * GAUSS[r.u32() & 0xffff]!;
  }
  return { data, dim: DIM, count };
}

function fvecsRows(b: VectorBatch): Buffer {
  const row = 4 + b.dim * 4;
  const out = Buffer.allocUnsafe(b.count * row);
  for (let i = 0; i < b.count; i++) {
    out.writeInt32LE(b.dim, i * row);
    Buffer.from(b.data.buffer, b.data.byteOffset + i * b.dim * 4, b.dim * 4).copy(out, i * row + 4);
  }
  return out;
}

function writeAll(fd: number, buf: Buffer): void {
  let o = 0;
  while (o < buf.length) o += writeSync(fd, buf, o, Math.min(buf.length - o, 1 << 30));
}

/** Rows [first, first + count) of a .fvecs file. */
function readFvecsRows(fd: number, first: number, count: number): VectorBatch {
  const row = 4 + DIM * 4;
  const buf = new Uint8Array(count * row); // its own buffer: rows at multiples of 4
  let done = 0;
  while (done < buf.length) {
    const n = readSync(fd, buf, done, buf.length - done, first * row + done);
    if (n === 0) throw new Error('fvecs: truncated');
    done += n;
  }
  const data = new Float32Array(count * DIM);
  for (let i = 0; i < count; i++) data.set(new Float32Array(buf.buffer, i * row + 4, DIM), i * DIM);
  return { data, dim: DIM, count };
}

// ------------------------------------------------------------------------------------------

const GB = 1e9;
const fmt = (x: number, d = 1): string => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const gb = (b: number): string => `${fmt(b / GB, 2)} GB`;

function recall(gt: Uint32Array, got: BatchSearchResult): number {
  let hit = 0;
  for (let q = 0; q < NQ; q++) {
    const want = new Set(gt.subarray(q * K, q * K + K));
    for (let j = 0; j < got.counts[q]!; j++) if (want.has(got.ids[q * K + j]!)) hit++;
  }
  return hit / (NQ * K);
}

/** Queries / second of searchBatch over all queries (passes repeated until ≥ 2 s, at least one). */
function qps(index: VectorIndex, queries: VectorBatch, options: object): { qps: number; result: BatchSearchResult } {
  let result!: BatchSearchResult;
  let n = 0;
  const t0 = performance.now();
  do {
    result = index.searchBatch(queries, K, options);
    n += queries.count;
  } while (performance.now() - t0 < 2000);
  return { qps: n / ((performance.now() - t0) / 1000), result };
}

interface Row { what: string; value: string }
const rowsOut: Row[] = [];
const note = (what: string, value: string): void => {
  rowsOut.push({ what, value });
  log(`${what}: ${value}`);
};

async function main(): Promise<void> {
  const dir = args.dir ?? mkdtempSync(join(tmpdir(), 'omnivec-segments-'));
  mkdirSync(dir, { recursive: true });
  const fvecs = join(dir, 'base.fvecs');
  const qvecs = join(dir, 'queries.fvecs');
  const idxPath = join(dir, 'index.idx');
  const segOpt = SEGMENT_BYTES !== undefined ? { segmentBytes: SEGMENT_BYTES } : {};
  log(`${N} × ${DIM} float32 = ${gb(N * DIM * 4)} of vectors; ${NQ} queries; scratch in ${dir}`);
  const queries = rows(2, 0, NQ);
  writeFileSync(qvecs, fvecsRows(queries));
  const rss0 = await settledRss();
  const ids = (first: number, count: number): Uint32Array => Uint32Array.from({ length: count }, (_, i) => first + i);

  // ---------------- flat: build while writing the .fvecs the peer reads
  let flat: VectorIndex | undefined = createIndex({ kind: 'flat', dim: DIM, ...segOpt });
  let addSeconds = 0;
  let genSeconds = 0;
  const fd = openSync(fvecs, 'w');
  for (let i = 0; i < N; i += CHUNK) {
    const n = Math.min(CHUNK, N - i);
    const g = timed(() => rows(1, i, n));
    genSeconds += g.seconds;
    const f = flat;
    addSeconds += timed(() => f.add(ids(i, n), g.value)).seconds;
    writeAll(fd, fvecsRows(g.value));
    if ((i / CHUNK) % 8 === 0) log(`flat: ${i + n} added (${(flat as SegmentedIndex).segmentCount} segments)`);
  }
  closeSync(fd);
  let st = flat.stats();
  note('data generation (omnivec side, not counted)', `${fmt(genSeconds)} s`);
  note('flat: add', `${fmt(addSeconds)} s (${fmt(N / addSeconds, 0)} vectors/s)`);
  note('flat: segments', String(st.segments ?? 1));
  note('flat: stats memoryBytes / vectorBytes', `${gb(st.memoryBytes)} / ${gb(st.vectorBytes)}`);
  note('flat: process RSS growth', gb((await settledRss()) - rss0));
  const gtRun = qps(flat, queries, {});
  const gt = gtRun.result.ids.slice();
  note('flat: QPS (searchBatch of 100, one thread)', fmt(gtRun.qps, 2));
  note('flat: recall@10', '1.000 (exact: the ground truth)');
  if (args['peer-only']) {
    flat = undefined; // the ground truth is all the peer needs
    await settle();
  }
  if (!args['peer-only']) {
    const save = await timedAsync(() => saveIndex(flat!, idxPath, { copy: false }));
    note('flat: save (copy: false)', `${fmt(save)} s, file ${gb(statSync(idxPath).size)}`);
    flat = undefined;
    await settle();
    const rss1 = await settledRss();
    let loadedFlat: VectorIndex | undefined;
    const load = await timedAsync(async () => { loadedFlat = await loadIndex(idxPath, segOpt); });
    const again = loadedFlat!.searchBatch(queries, K);
    note('flat: load', `${fmt(load)} s (${(loadedFlat as SegmentedIndex).segmentCount} segments, RSS +${gb((await settledRss()) - rss1)}); results after reload ${Buffer.from(again.ids.buffer).equals(Buffer.from(gt.buffer)) ? 'identical' : 'DIFFER'}`);
    loadedFlat = undefined;
    await settle();
    rmSync(idxPath, { force: true });

    // ---------------- IVF-Flat: train on the first rows, add from the .fvecs
    const rss2 = await settledRss();
    let ivf: VectorIndex | undefined = createIndex({ kind: 'ivf', dim: DIM, nList: NLIST, iterations: ITER, seed: 1, ...segOpt });
    const rfd = openSync(fvecs, 'r');
    const sample = readFvecsRows(rfd, 0, TRAIN);
    const train = timed(() => ivf!.train(sample)).seconds;
    note(`ivf: train (nList ${NLIST}, ${TRAIN} vectors, ${ITER} iterations)`, `${fmt(train)} s`);
    addSeconds = 0;
    for (let i = 0; i < N; i += CHUNK) {
      const n = Math.min(CHUNK, N - i);
      const b = readFvecsRows(rfd, i, n);
      const x = ivf;
      addSeconds += timed(() => x.add(ids(i, n), b)).seconds;
      if ((i / CHUNK) % 8 === 0) log(`ivf: ${i + n} added (${(ivf as SegmentedIndex).segmentCount} segments)`);
    }
    closeSync(rfd);
    st = ivf.stats();
    note('ivf: add', `${fmt(addSeconds)} s (${fmt(N / addSeconds, 0)} vectors/s)`);
    note('ivf: segments', String(st.segments ?? 1));
    note('ivf: stats memoryBytes / vectorBytes', `${gb(st.memoryBytes)} / ${gb(st.vectorBytes)}`);
    note('ivf: process RSS growth', gb((await settledRss()) - rss2));
    const ivfResults: Record<number, BatchSearchResult> = {};
    for (const nProbe of NPROBES) {
      const r = qps(ivf, queries, { nProbe });
      ivfResults[nProbe] = r.result;
      note(`ivf: nProbe ${nProbe}: QPS / recall@10`, `${fmt(r.qps, 1)} / ${fmt(recall(gt, r.result), 3)}`);
    }
    const isave = await timedAsync(() => saveIndex(ivf!, idxPath, { copy: false }));
    note('ivf: save (copy: false)', `${fmt(isave)} s, file ${gb(statSync(idxPath).size)}`);
    ivf = undefined;
    await settle();
    let loadedIvf: VectorIndex | undefined;
    const iload = await timedAsync(async () => { loadedIvf = await loadIndex(idxPath, segOpt); });
    const same = NPROBES.every((p) => Buffer.from(loadedIvf!.searchBatch(queries, K, { nProbe: p }).ids.buffer).equals(Buffer.from(ivfResults[p]!.ids.buffer)));
    note('ivf: load', `${fmt(iload)} s; results after reload ${same ? 'identical' : 'DIFFER'}`);
    loadedIvf = undefined;
    await settle();
    rmSync(idxPath, { force: true });
  }

  // ---------------- Faiss, same data, child process
  let peer = 'not run (--no-faiss)';
  if (!args['no-faiss']) {
    const gtPath = join(dir, 'gt.u32');
    writeFileSync(gtPath, gt);
    const py = spawnSync(PY, ['-c', FAISS_SCRIPT, fvecs, qvecs, gtPath, String(NLIST), String(TRAIN), String(ITER), NPROBES.join(',')],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
    if (py.status !== 0) {
      peer = `failed (exit ${py.status}): ${(py.stdout ?? '').slice(-300)}`;
      log(`faiss: ${peer}`);
    } else {
      const f = JSON.parse(py.stdout.trim().split('\n').pop()!) as Record<string, number | string>;
      peer = `faiss ${f.version}`;
      note('faiss flat: add', `${fmt(Number(f.flatAdd))} s`);
      note('faiss flat: QPS (1 thread) / recall@10 vs omnivec flat', `${fmt(Number(f.flatQps), 2)} / ${fmt(Number(f.flatRecall), 3)}`);
      note(`faiss ivf: train (nList ${NLIST}, ${TRAIN} vectors, ${ITER} iterations)`, `${fmt(Number(f.ivfTrain))} s`);
      note('faiss ivf: add', `${fmt(Number(f.ivfAdd))} s`);
      for (const p of NPROBES) note(`faiss ivf: nProbe ${p}: QPS / recall@10`, `${fmt(Number(f[`qps${p}`]), 1)} / ${fmt(Number(f[`recall${p}`]), 3)}`);
      note('faiss: peak RSS of its process', gb(Number(f.maxRss)));
    }
  }
  if (args.dir === undefined) rmSync(dir, { recursive: true, force: true });
  else rmSync(fvecs, { force: true });

  const md = [
    `# bench:segments — one index larger than 4 GiB`,
    '',
    `${new Date().toISOString().slice(0, 10)}; ${N.toLocaleString('en-US')} × ${DIM} float32 (${gb(N * DIM * 4)}), ${NQ} queries, k = ${K}; ` +
      `segmentBytes ${SEGMENT_BYTES === undefined ? 'default (1.875 GiB)' : SEGMENT_BYTES}; ${cpus()[0]?.model ?? '?'}, ${cpus().length} logical CPUs (shared), ` +
      `${gb(totalmem())} RAM; Node ${process.version}; peer: ${peer}. omnivec searches on one thread; Faiss set to one thread.`,
    '',
    '| what | value |',
    '| --- | --- |',
    ...rowsOut.map((r) => `| ${r.what} | ${r.value} |`),
    '',
  ].join('\n');
  if (!quick || args.out !== 'bench/results/segments.md') {
    mkdirSync(join(args.out!, '..'), { recursive: true });
    writeFileSync(args.out!, md);
    log(`wrote ${args.out}`);
  }
  process.stdout.write(md);
}

async function timedAsync(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

const FAISS_SCRIPT = String.raw`
import sys, time, json, resource
import numpy as np
import faiss
faiss.omp_set_num_threads(1)
base, qpath, gtpath, nlist, ntrain, niter, nprobes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), [int(x) for x in sys.argv[7].split(',')]
raw = np.memmap(base, dtype='int32', mode='r')
d = int(raw[0])
xb = raw.view('float32').reshape(-1, d + 1)
n = xb.shape[0]
q = np.fromfile(qpath, dtype='int32').view('float32').reshape(-1, d + 1)[:, 1:].copy()
gt = np.fromfile(gtpath, dtype='uint32').reshape(len(q), 10)
K = 10
def rec(I):
    return float(np.mean([len(set(I[i]) & set(gt[i])) / K for i in range(len(q))]))
def qps(index):
    t = time.time(); m = 0
    while True:
        D, I = index.search(q, K); m += len(q)
        if time.time() - t >= 2: break
    return m / (time.time() - t), I
def add_all(index):
    t = time.time()
    for i in range(0, n, 32768):
        index.add(np.ascontiguousarray(xb[i:i + 32768, 1:]))
    return time.time() - t
out = {'version': faiss.__version__}
flat = faiss.IndexFlatL2(d)
out['flatAdd'] = add_all(flat)
r, I = qps(flat)
out['flatQps'] = r; out['flatRecall'] = rec(I)
print('faiss flat done', file=sys.stderr, flush=True)
del flat
quant = faiss.IndexFlatL2(d)
ivf = faiss.IndexIVFFlat(quant, d, nlist)
ivf.cp.niter = niter
t = time.time(); ivf.train(np.ascontiguousarray(xb[:ntrain, 1:])); out['ivfTrain'] = time.time() - t
out['ivfAdd'] = add_all(ivf)
for p in nprobes:
    ivf.nprobe = p
    r, I = qps(ivf)
    out['qps%d' % p] = r; out['recall%d' % p] = rec(I)
out['maxRss'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(out))
`;

/** HNSW over the same 40k × 64-d data in 1, 4 and 8 segments: build time, then recall@10 and QPS per efSearch. */
function hnswSegments(): void {
  const n = 40_000;
  const dim = 64;
  const gen = (seed: number, count: number): VectorBatch => {
    const b = { data: new Float32Array(count * dim), dim, count };
    for (let i = 0; i < count; i++) {
      const r = new Rng(Math.imul(i + 1, 0x9e3779b1) ^ seed);
      const c = r.u32() % 200;
      for (let j = 0; j < dim; j++) b.data[i * dim + j] = GAUSS[(c * 977 + j * 131) & 0xffff]! / Math.sqrt(1 + j / 16) + 0.7 * GAUSS[r.u32() & 0xffff]! / Math.sqrt(1 + j / 16);
    }
    return b;
  };
  const base = gen(11, n);
  const qs = gen(12, 200);
  const ids = Uint32Array.from({ length: n }, (_, i) => i);
  const exact = createIndex({ kind: 'flat', dim });
  exact.add(ids, base);
  const truth = exact.searchBatch(qs, K);
  const rec = (r: BatchSearchResult): number => {
    let hit = 0;
    for (let q = 0; q < qs.count; q++) {
      const want = new Set(truth.ids.subarray(q * K, q * K + K));
      for (let j = 0; j < r.counts[q]!; j++) if (want.has(r.ids[q * K + j]!)) hit++;
    }
    return hit / (qs.count * K);
  };
  const lines = ['| segments | build s | efSearch 16: recall / QPS | efSearch 32 | efSearch 64 | efSearch 128 |', '| ---: | ---: | --- | --- | --- | --- |'];
  for (const segs of [1, 4, 8]) {
    // A segment of n / segs vectors: 64-d float32 + links ≈ 400 B a vector, ×1.5 headroom.
    const segmentBytes = segs === 1 ? undefined : Math.floor((n / segs) * 400 * 1.5);
    const index = createIndex({ kind: 'hnsw', dim, m: 16, efConstruction: 100, ...(segmentBytes ? { segmentBytes } : {}) }) as SegmentedIndex;
    const build = timed(() => index.add(ids, base)).seconds;
    const cells = [64 / 4, 32, 64, 128].map((ef) => {
      const r = qpsOf(index, qs, { efSearch: ef });
      return `${fmt(rec(r.result), 3)} / ${fmt(r.qps, 0)}`;
    });
    lines.push(`| ${index.segmentCount} | ${fmt(build)} | ${cells.join(' | ')} |`);
    log(lines[lines.length - 1]!);
  }
  // IVF: the same lists probed in every segment; each segment also ranks the nList centroids.
  const ivfLines = ['| segments | add s | nProbe 4: recall / QPS | nProbe 16 |', '| ---: | ---: | --- | --- |'];
  // 1 segment measured first and last: the spread between the two is this machine's noise.
  for (const segs of [1, 4, 8, 1]) {
    const segmentBytes = segs === 1 ? undefined : Math.floor((n / segs) * dim * 4 * 2.5);
    const index = createIndex({ kind: 'ivf', dim, nList: 128, seed: 1, ...(segmentBytes ? { segmentBytes } : {}) }) as SegmentedIndex;
    index.train(base);
    const add = timed(() => index.add(ids, base)).seconds;
    const cells = [4, 16].map((p) => {
      const r = qpsOf(index, qs, { nProbe: p });
      return `${fmt(rec(r.result), 3)} / ${fmt(r.qps, 0)}`;
    });
    ivfLines.push(`| ${index.segmentCount} | ${fmt(add)} | ${cells.join(' | ')} |`);
    log(ivfLines[ivfLines.length - 1]!);
  }
  process.stdout.write(`HNSW, ${n} × ${dim}, m 16, efConstruction 100, ${qs.count} queries, one thread\n\n${lines.join('\n')}\n\n` +
    `IVF-Flat, nList 128, same data\n\n${ivfLines.join('\n')}\n`);
}

function qpsOf(index: VectorIndex, queries: VectorBatch, options: object): { qps: number; result: BatchSearchResult } {
  let result = index.searchBatch(queries, K, options); // warm-up, untimed
  let n = 0;
  const t0 = performance.now();
  do {
    result = index.searchBatch(queries, K, options);
    n += queries.count;
  } while (performance.now() - t0 < 1500);
  return { qps: n / ((performance.now() - t0) / 1000), result };
}

if (!existsSync(PY)) args['no-faiss'] = true;
if (args.hnsw) hnswSegments();
else await main();
