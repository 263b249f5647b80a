/**
 * Index load time (issue 17): an HNSW snapshot with its float vectors (file version 1) against the
 * same snapshot without them (`vectors: false`, version 3) filled from a plain vector file
 * (row `id` = float32 × dim, read with fs.readSync — the shape of the database's vector file).
 * Both also with `verifyChecksum: false` (the payload CRC left to `verifyIndexFile`).
 * Each load runs in a fresh process (a cold heap, as a reopen; the files are in the page cache,
 * read once before), `--runs` times; the median is printed, and the first query after it.
 *
 * And where the with-vectors load's time goes, each part timed on its own in a fresh process:
 * reading the file's bytes (readSync into fresh memory), CRC-32 of the payload, touching a fresh
 * WebAssembly arena of the records' size, the rest (the side tables, id map, link checks).
 *
 *   node --import tsx bench/lib/index-load.ts               # 1M × 128, m 16 (builds once: minutes)
 *   node --import tsx bench/lib/index-load.ts --quick       # 100k × 128: seconds
 *
 * Options: --n, --dim, --m, --ef-construction (default 40: the graph's quality does not change
 * the file's layout or size, and a 1M build at 200 takes long), --runs (3), --dir (scratch files;
 * kept with --keep and reused when present), --threads for the build (2).
 */
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { createIndex, loadIndex, saveIndex } from '../../src/indexes/registry.js';
import type { ExternalVectors } from '../../src/indexes/types.js';
import { Arena } from '../../src/vector/arena.js';
import { Random } from '../../src/vector/random.js';

const HERE = fileURLToPath(import.meta.url);

/** A vector file read with readSync: the source the database hands to loadIndex. */
function fileVectors(path: string, dim: number): ExternalVectors & { close(): void } {
  const fd = openSync(path, 'r');
  const end = fstatSync(fd).size / (dim * 4);
  return {
    dim,
    end,
    readRows(first: number, count: number, dst: Float32Array): void {
      const bytes = new Uint8Array(dst.buffer, dst.byteOffset, count * dim * 4);
      let done = 0;
      while (done < bytes.length) {
        const n = readSync(fd, bytes, done, bytes.length - done, first * dim * 4 + done);
        if (n === 0) throw new Error(`${path}: ended at row ${first + done / (dim * 4)}`);
        done += n;
      }
    },
    close: () => closeSync(fd),
  };
}

/** CPU seconds (user + system, every thread of the process) since `c0`: steadier than wall time on a shared machine. */
function cpuSince(c0: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
}

function queryOf(dim: number, seed: number): Float32Array {
  const r = new Random(seed);
  return Float32Array.from({ length: dim }, () => r.next() * 2 - 1);
}

/** One measurement in this (fresh) process; prints one JSON line. */
async function child(mode: string, dir: string, dim: number): Promise<void> {
  const full = join(dir, 'full.idx');
  const slim = join(dir, 'slim.idx');
  const vec = join(dir, 'vectors.f32');
  const out: Record<string, number> = {};
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  if (mode === 'full' || mode === 'slim' || mode === 'full-nocrc' || mode === 'slim-nocrc') {
    const source = mode.startsWith('slim') ? fileVectors(vec, dim) : undefined;
    const index = await loadIndex(mode.startsWith('full') ? full : slim,
      { ...(source === undefined ? {} : { vectors: source }), verifyChecksum: !mode.endsWith('nocrc') });
    out.seconds = (performance.now() - t0) / 1000;
    out.cpuSeconds = cpuSince(c0);
    source?.close();
    const q = queryOf(dim, 99);
    const t1 = performance.now();
    index.search(q, 10);
    out.firstQueryMs = performance.now() - t1;
    out.size = index.size;
  } else if (mode === 'read') {
    const fd = openSync(full, 'r');
    const size = fstatSync(fd).size;
    const buf = new Uint8Array(size);
    for (let done = 0; done < size;) done += readSync(fd, buf, done, Math.min(size - done, 1 << 30), done);
    closeSync(fd);
    out.seconds = (performance.now() - t0) / 1000;
    out.cpuSeconds = cpuSince(c0);
    const t1 = performance.now();
    let c = 0;
    for (let o = 64; o < size; o += 4 << 20) c = crc32(buf.subarray(o, Math.min(size, o + (4 << 20))), c);
    out.crcSeconds = (performance.now() - t1) / 1000;
  } else if (mode === 'arena') {
    // A fresh arena grown to the records' size and touched (what reading into it costs beyond the copy).
    const bytes = statSync(full).size;
    const a = new Arena();
    const p = a.alloc(1 << 16);
    const q = a.realloc(p, bytes);
    a.u8.fill(1, q, q + bytes);
    out.seconds = (performance.now() - t0) / 1000;
    out.cpuSeconds = cpuSince(c0);
  } else if (mode === 'vectors') {
    // Reading the vector file alone, in the fill's chunks.
    const src = fileVectors(vec, dim);
    const rows = Math.floor((16 << 20) / (dim * 4));
    const buf = new Float32Array(rows * dim);
    for (let f = 0; f < src.end; f += rows) {
      const n = Math.min(rows, src.end - f);
      src.readRows(f, n, n === rows ? buf : buf.subarray(0, n * dim));
    }
    src.close();
    out.seconds = (performance.now() - t0) / 1000;
    out.cpuSeconds = cpuSince(c0);
  }
  out.rssMB = process.memoryUsage().rss / 2 ** 20;
  process.stdout.write(JSON.stringify(out) + '\n');
}

function runChild(mode: string, dir: string, dim: number): Record<string, number> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', HERE, '--child', mode, '--dir', dir, '--dim', String(dim)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`child ${mode} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function prepare(dir: string, n: number, dim: number, m: number, efc: number, threads: number): Promise<void> {
  const t0 = performance.now();
  const r = new Random(7);
  const data = new Float32Array(n * dim);
  for (let i = 0; i < data.length; i++) data[i] = r.next() * 2 - 1;
  writeFileSync(join(dir, 'vectors.f32'), new Uint8Array(data.buffer));
  const index = createIndex({ kind: 'hnsw', dim, m, efConstruction: efc, threads });
  const ids = Uint32Array.from({ length: n }, (_, i) => i);
  const step = 100_000;
  for (let i = 0; i < n; i += step) {
    const to = Math.min(n, i + step);
    index.add(ids.subarray(i, to), { data: data.subarray(i * dim, to * dim), dim, count: to - i });
    process.stderr.write(`\rbuilt ${to} / ${n} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  process.stderr.write('\n');
  await saveIndex(index, join(dir, 'full.idx'), { copy: false });
  await saveIndex(index, join(dir, 'slim.idx'), { copy: false, vectors: false });
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      child: { type: 'string' },
      quick: { type: 'boolean', default: false },
      n: { type: 'string' },
      dim: { type: 'string', default: '128' },
      m: { type: 'string', default: '16' },
      'ef-construction': { type: 'string', default: '40' },
      runs: { type: 'string', default: '3' },
      threads: { type: 'string', default: '2' },
      dir: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const dim = Number(args.dim);
  if (args.child !== undefined) return child(args.child, args.dir!, dim);
  const n = Number(args.n ?? (args.quick ? 100_000 : 1_000_000));
  const dir = args.dir ?? join(tmpdir(), `omnivec-index-load-${n}x${dim}`);
  mkdirSync(dir, { recursive: true });
  try {
    if (!existsSync(join(dir, 'slim.idx'))) await prepare(dir, n, dim, Number(args.m), Number(args['ef-construction']), Number(args.threads));
    const runs = Number(args.runs);
    const mb = (p: string): string => (statSync(join(dir, p)).size / 2 ** 20).toFixed(1);
    console.log(`HNSW ${n} × ${dim}, m ${args.m}: with vectors ${mb('full.idx')} MB, without ${mb('slim.idx')} MB, vector file ${mb('vectors.f32')} MB`);
    for (const mode of ['read', 'full', 'slim']) runChild(mode, dir, dim); // warm the page cache
    const rows: [string, string][] = [];
    for (const mode of ['full', 'slim', 'full-nocrc', 'slim-nocrc', 'read', 'arena', 'vectors']) {
      const rs = Array.from({ length: runs }, () => runChild(mode, dir, dim));
      const s = median(rs.map((x) => x.seconds!));
      let extra = `, CPU ${median(rs.map((x) => x.cpuSeconds!)).toFixed(3)} s`;
      if (rs[0]!.firstQueryMs !== undefined) extra += `, first query ${median(rs.map((x) => x.firstQueryMs!)).toFixed(2)} ms`;
      if (rs[0]!.crcSeconds !== undefined) extra += `, CRC-32 of it ${median(rs.map((x) => x.crcSeconds!)).toFixed(3)} s`;
      extra += `, RSS ${median(rs.map((x) => x.rssMB!)).toFixed(0)} MB`;
      rows.push([mode, `${s.toFixed(3)} s${extra}  (runs: ${rs.map((x) => x.seconds!.toFixed(3)).join(', ')})`]);
    }
    const label: Record<string, string> = {
      full: 'loadIndex, with vectors',
      slim: 'loadIndex, without vectors + fill from the vector file',
      'full-nocrc': 'loadIndex, with vectors, verifyChecksum: false',
      'slim-nocrc': 'loadIndex, without vectors + fill, verifyChecksum: false',
      read: 'readSync of the with-vectors file into fresh memory',
      arena: 'fresh arena of that size, grown and touched',
      vectors: 'readSync of the vector file in 16 MiB chunks',
    };
    for (const [mode, text] of rows) console.log(`${label[mode]!.padEnd(56)} ${text}`);
  } finally {
    if (!args.keep && args.dir === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
