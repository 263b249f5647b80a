/**
 * Smoke run of the LanceDB side of bench:db (bench/lib/lancedb-peer.ts) on seeded synthetic data:
 *
 *   node --import tsx bench/lancedb-smoke.ts [--n 20000] [--nq 1000] [--index ivf,hnsw]
 *                                            [--threads N] [--partitions N] [--quick] [--json FILE]
 *
 * Makes `syntheticClusters` data (128-d, the seed of bench:ann), computes the exact top-10 of every
 * query by brute force (omnivec's FlatIndex.searchBatch, an exhaustive scan, as bench:ann does),
 * runs runLanceDb for each index kind in a fresh temporary directory, and prints import and index
 * times, disk use and the recall/QPS curve. Progress goes to stderr, the results to stdout.
 *
 * --index       any of ivf, hnsw, ivf-pq (default ivf,hnsw)
 * --threads     cap LanceDB's threads (RAYON_NUM_THREADS, LANCE_CPU_THREADS, TOKIO_WORKER_THREADS)
 *               before its first use; default: LanceDB's own defaults
 * --partitions  IVF partitions (numPartitions) instead of LanceDB's default
 * --quick       one timed repetition of ≥ 0.2 s per sweep point (default: best of 2 of ≥ 1 s)
 * --json        also write the results as JSON
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { syntheticClusters } from './lib/datasets.js';
import { groundTruth, K } from './lib/measure.js';
import { limitLanceDbThreads, qpsAtRecall, runLanceDb, type LanceIndexKind, type PeerResult } from './lib/lancedb-peer.js';

const KINDS: readonly LanceIndexKind[] = ['ivf', 'hnsw', 'ivf-pq'];

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '20000' },
    nq: { type: 'string', default: '1000' },
    index: { type: 'string', default: 'ivf,hnsw' },
    threads: { type: 'string' },
    partitions: { type: 'string' },
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write('usage: node --import tsx bench/lancedb-smoke.ts [--n 20000] [--nq 1000] [--index ivf,hnsw,ivf-pq] [--threads N] [--partitions N] [--quick] [--json FILE]\n');
  process.exit(0);
}
const n = Number(args.n);
const nq = Number(args.nq);
if (!Number.isInteger(n) || n < 1000) throw new Error(`--n: expected an integer ≥ 1000, got ${args.n}`);
if (!Number.isInteger(nq) || nq < 1) throw new Error(`--nq: expected a positive integer, got ${args.nq}`);
const kinds = args.index.split(',').map((s) => s.trim()) as LanceIndexKind[];
for (const kind of kinds) if (!KINDS.includes(kind)) throw new Error(`--index: unknown kind ${kind} (expected ${KINDS.join(', ')})`);
if (args.threads !== undefined) limitLanceDbThreads(Number(args.threads));

const T0 = performance.now();
const log = (message: string): void => {
  process.stderr.write(`[${((performance.now() - T0) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);
};

log(`synthetic data: ${n.toLocaleString('en-US')} × 128 + ${nq} queries…`);
const ds = syntheticClusters(`synthetic-${n}`, n, nq);
log('exact ground truth (brute force)…');
const gt = groundTruth(ds);
const gtIds = Int32Array.from(gt.ids);

const results: PeerResult[] = [];
for (const kind of kinds) {
  const dir = mkdtempSync(join(tmpdir(), `omnivec-lancedb-${kind}-`));
  try {
    results.push(await runLanceDb({
      dir, base: ds.base, queries: ds.queries, gt: gtIds, k: K, index: kind,
      numPartitions: args.partitions === undefined ? undefined : Number(args.partitions),
      timing: args.quick ? { minSeconds: 0.2, reps: 1 } : undefined,
      progress: log,
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const out: string[] = [];
out.push(`${ds.description}`);
out.push(`ground truth: ${gt.source}; k = ${K}; queries sequential, one in flight; QPS = best of ${results[0]?.details.timing.reps ?? '?'} timed repetition(s) of ≥ ${results[0]?.details.timing.minSeconds ?? '?'} s after an untimed warm-up pass`);
for (const r of results) {
  const d = r.details;
  out.push('');
  out.push(`## ${r.engine} (${d.indexType}, ${d.partitions ?? '?'} IVF partition(s); threads: ${d.threads})`);
  out.push(`config: ${d.config}`);
  out.push(`import ${r.importSeconds.toFixed(2)} s (cpu/wall ${d.importCpuPerWall.toFixed(2)}), index ${r.indexSeconds.toFixed(2)} s (cpu/wall ${d.indexCpuPerWall.toFixed(2)})`);
  out.push(`disk ${(r.diskBytes / 1e6).toFixed(1)} MB = ${r.bytesPerVector.toFixed(1)} B/vector (table alone ${(d.importDiskBytes / n).toFixed(1)} B/vector; index files ${d.indexBytes === null ? '?' : (d.indexBytes / n).toFixed(1)} B/vector)`);
  out.push('| search setting | recall@10 | QPS | cpu/wall |');
  out.push('|---|---:|---:|---:|');
  for (const p of r.curve) out.push(`| ${p.param} | ${p.recall.toFixed(4)} | ${p.qps.toFixed(0)} | ${p.cpuPerWall.toFixed(2)} |`);
  for (const target of [0.95, 0.99]) {
    const at = qpsAtRecall(r.curve, target);
    out.push(`QPS at recall ${target}: ${at === null ? 'never reached' : `${at.lowerBound ? '≥ ' : ''}${at.qps.toFixed(0)} (${at.series})`}`);
  }
}
process.stdout.write(out.join('\n') + '\n');
if (args.json !== undefined) writeFileSync(args.json, JSON.stringify({ dataset: ds.description, n, nq, results }, null, 2) + '\n');
log('done');
