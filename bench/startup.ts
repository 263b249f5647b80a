/**
 * `npm run bench:startup`: how long `import 'omnivec'` and each subpath entry take to load
 * (docs/benchmarks.md, "bench:startup"), beside the vector packages installed as peers.
 *
 * Every measurement is a fresh `node` process that times one `await import(entry)` with
 * performance.now() (the module graph's resolve, read, compile and evaluate) and the CPU time it
 * took (less inflated by a busy machine); the whole process, Node's own start-up included, is shown
 * as "process". omnivec is imported by its package
 * name, so the `exports` map is what is measured, and that resolves to the built `dist/` (the npm
 * script builds it first when src/ is newer), as a project that installed omnivec would load it.
 * The processes are interleaved (one of each entry and peer per round, then the next round) so a
 * slow spell of a busy machine lands on every row, and each row is the median of its rounds
 * after one discarded warm-up round (cold disk cache).
 *
 * Options: --runs N (rounds, default 11), --quick (5 rounds, prints only), --baseline DIR (also
 * time the entries of another build's dist/, e.g. a checkout of an older commit built with
 * `tsc`; the entries its package.json exports), --no-write (print only; otherwise
 * bench/results/startup.{json,md} and BENCHMARKS.md). Over budget is reported, not an error.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { updateBenchmarksMd } from './lib/report.js';

const ROOT = join(import.meta.dirname, '..');
const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const value = (name: string): string | undefined => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
if (flag('--help')) {
  process.stdout.write('npm run bench:startup [-- --runs N] [--quick] [--baseline DIST_DIR] [--no-write]\n');
  process.exit(0);
}
const quick = flag('--quick');
const RUNS = Number(value('--runs') ?? (quick ? 5 : 11));
const write = !flag('--no-write') && !quick;
const baselineDir = value('--baseline');
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs: expected a positive integer, got ${String(value('--runs'))}`);

/** Budgets on this 2-core machine (issue 14): the light entry and the whole package. */
const TARGETS: Record<string, number> = { omnivec: 200, 'omnivec/indexes': 50 };

/**
 * Peers: the vector packages installed as devDependencies (whichever are), each beside the omnivec
 * entry that does the same job. chromadb is measured when it is installed (it is not by default:
 * its bindings are ~420 MB).
 */
const PEERS: { name: string; versus: string; what: string }[] = [
  { name: 'hnswlib-node', versus: 'omnivec/indexes', what: 'HNSW index (native)' },
  { name: 'usearch', versus: 'omnivec/indexes', what: 'HNSW index (native)' },
  { name: '@lancedb/lancedb', versus: 'omnivec/db', what: 'embedded vector database (native)' },
  { name: 'chromadb', versus: 'omnivec', what: 'vector database client' },
];

/** The dependencies that load on first use, each behind one seam: what an entry does not pay. */
const SEAMS: { name: string; seam: string }[] = [
  { name: 'sharp', seam: 'src/encoders/image/sharp.ts' },
  { name: 'fastify', seam: 'src/server/fastify.ts' },
  { name: '@fastify/ajv-compiler', seam: 'src/server/fastify.ts' },
  { name: 'onnxruntime-node', seam: 'src/encoders/onnx/session.ts' },
  { name: 'umap-js', seam: 'src/viz/projection-libraries.ts' },
  { name: 'ml-pca', seam: 'src/viz/projection-libraries.ts' },
];

interface Job {
  label: string;
  kind: 'omnivec' | 'baseline' | 'peer' | 'seam' | 'node';
  /** What the child imports (a package specifier or a file URL); none for the bare process. */
  specifier?: string;
  importMs: number[];
  /** CPU time (user + system, every thread) the process spent in the import. */
  cpuMs: number[];
  processMs: number[];
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, string | { import: string }> };
const entries = Object.entries(pkg.exports).filter(([key, v]) => key !== './package.json' && typeof v === 'object');
for (const [key, v] of entries) {
  const file = join(ROOT, (v as { import: string }).import);
  if (!existsSync(file)) throw new Error(`${key}: ${file} is missing; npm run build (bench:startup measures the built dist/)`);
}
const nameOf = (key: string): string => (key === '.' ? 'omnivec' : `omnivec/${key.slice(2)}`);
const versionOf = (name: string): string | undefined => {
  const p = join(ROOT, 'node_modules', name, 'package.json');
  return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as { version: string }).version : undefined;
};

const jobs: Job[] = [{ label: 'node (empty process)', kind: 'node', importMs: [], cpuMs: [], processMs: [] }];
for (const [key] of entries) jobs.push({ label: nameOf(key), kind: 'omnivec', specifier: nameOf(key), importMs: [], cpuMs: [], processMs: [] });
if (baselineDir !== undefined) {
  // The entries that build exported (its package.json beside its dist/; without one, the root only).
  const dir = resolve(baselineDir);
  const manifest = join(dir, '..', 'package.json');
  const exported = existsSync(manifest) ? Object.keys((JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: Record<string, unknown> }).exports ?? { '.': 1 }) : ['.'];
  for (const [key, v] of entries) {
    const file = join(dir, (v as { import: string }).import.replace(/^\.\/dist\//, ''));
    if (exported.includes(key) && existsSync(file)) jobs.push({ label: `${nameOf(key)} (baseline)`, kind: 'baseline', specifier: pathToFileURL(file).href, importMs: [], cpuMs: [], processMs: [] });
  }
}
const peers = PEERS.filter((p) => versionOf(p.name) !== undefined);
for (const p of peers) jobs.push({ label: p.name, kind: 'peer', specifier: p.name, importMs: [], cpuMs: [], processMs: [] });
for (const s of SEAMS) if (versionOf(s.name) !== undefined) jobs.push({ label: s.name, kind: 'seam', specifier: s.name, importMs: [], cpuMs: [], processMs: [] });

function runOnce(job: Job): { importMs: number; cpuMs: number; processMs: number } {
  const code = job.specifier === undefined
    ? 'process.stdout.write("[0, 0]")'
    : `const c = process.cpuUsage(); const t = performance.now(); await import(${JSON.stringify(job.specifier)});
       const ms = performance.now() - t; const u = process.cpuUsage(c); process.stdout.write(JSON.stringify([ms, (u.user + u.system) / 1000]));`;
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8' });
  const processMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${job.label}: the import failed (exit ${String(r.status)}):\n${r.stderr}`);
  const [importMs, cpuMs] = JSON.parse(r.stdout) as [number, number];
  return { importMs, cpuMs, processMs };
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

const load0 = loadavg()[0]!;
process.stderr.write(`bench:startup: ${jobs.length} imports × (${RUNS} rounds + 1 warm-up), fresh process each; load average ${load0.toFixed(2)}\n`);
for (let round = 0; round <= RUNS; round++) {
  for (const job of jobs) {
    const r = runOnce(job);
    if (round === 0) continue;
    job.importMs.push(r.importMs);
    job.cpuMs.push(r.cpuMs);
    job.processMs.push(r.processMs);
  }
  if (round > 0) process.stderr.write(`  round ${round}/${RUNS}\n`);
}
const load1 = loadavg()[0]!;

const byLabel = new Map(jobs.map((j) => [j.label, j]));
const ms = (x: number): string => (x < 10 ? x.toFixed(1) : x.toFixed(0));
const spread = (j: Job): string => { const s = [...j.importMs].sort((a, b) => a - b); return `${ms(s[0]!)}–${ms(s[s.length - 1]!)}`; };

let commit = '?';
const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
if (git.status === 0) commit = git.stdout.trim();

const lines: string[] = [];
lines.push('## Start-up: import time of each entry (`npm run bench:startup`)', '');
lines.push(`- Machine: ${cpus()[0]?.model ?? '?'}, ${availableParallelism()} logical CPUs, shared with other work (load average ${load0.toFixed(2)} at the start, ${load1.toFixed(2)} at the end: figures are slower than on a quiet machine, peers measured in the same rounds); Node ${process.version}`);
lines.push(`- Date: ${new Date().toISOString()}; commit ${commit}; ${RUNS} rounds after a warm-up round, every import in a fresh process, entries and peers interleaved`);
lines.push('- omnivec is imported by its package name through the `exports` map, i.e. from the built `dist/` (what a project that installed it loads), not from src/ through tsx.');
lines.push('- import ms = median of the time one `await import(entry)` takes inside the process (resolve, read, compile, evaluate); CPU ms = the CPU time (user + system, all threads) the process spent in that import, which a busy machine inflates much less than the wall time; process ms = median wall time of the whole `node -e` process (Node\'s own start-up included; the first row is an empty process).');
if (baselineDir !== undefined) lines.push(`- Baseline: the same entries from \`${baselineDir}\` (another build's dist/), in the same rounds.`);
lines.push('');
lines.push('| entry | import ms (median) | min–max | CPU ms | process ms | target | |');
lines.push('| --- | ---: | ---: | ---: | ---: | ---: | --- |');
for (const j of jobs.filter((x) => x.kind === 'node' || x.kind === 'omnivec' || x.kind === 'baseline')) {
  const target = TARGETS[j.label];
  const m = median(j.importMs);
  const verdict = target === undefined ? '' : m <= target ? 'met' : 'missed';
  lines.push(`| ${j.kind === 'node' ? j.label : `\`${j.label}\``} | ${j.kind === 'node' ? '—' : ms(m)} | ${j.kind === 'node' ? '—' : spread(j)} | ${j.kind === 'node' ? '—' : ms(median(j.cpuMs))} | ${ms(median(j.processMs))} | ${target === undefined ? '' : `≤ ${target}`} | ${verdict} |`);
}
lines.push('');
if (peers.length > 0) {
  lines.push('Peers, in the same rounds. Ratio = peer import ms ÷ omnivec import ms (above 1: omnivec loads faster).', '');
  lines.push('| peer | version | what | import ms | CPU ms | omnivec entry | omnivec ms | omnivec CPU ms | ratio |');
  lines.push('| --- | --- | --- | ---: | ---: | --- | ---: | ---: | ---: |');
  for (const p of peers) {
    const peer = byLabel.get(p.name)!;
    const ours = byLabel.get(p.versus)!;
    const ratio = median(peer.importMs) / median(ours.importMs);
    lines.push(`| ${p.name} | ${versionOf(p.name)!} | ${p.what} | ${ms(median(peer.importMs))} | ${ms(median(peer.cpuMs))} | \`${p.versus}\` | ${ms(median(ours.importMs))} | ${ms(median(ours.cpuMs))} | ${ratio.toFixed(2)}× |`);
  }
  const missing = PEERS.filter((p) => versionOf(p.name) === undefined).map((p) => p.name);
  if (missing.length > 0) lines.push('', `Not installed, so not measured: ${missing.join(', ')}.`);
  lines.push('');
}
const seams = jobs.filter((j) => j.kind === 'seam');
if (seams.length > 0) {
  lines.push('Dependencies that no entry loads: each is imported on first use, behind one seam (its cost alone, in the same rounds).', '');
  lines.push('| package | version | import ms | CPU ms | loaded by |');
  lines.push('| --- | --- | ---: | ---: | --- |');
  for (const j of seams) lines.push(`| ${j.label} | ${versionOf(j.label)!} | ${ms(median(j.importMs))} | ${ms(median(j.cpuMs))} | \`${SEAMS.find((s) => s.name === j.label)!.seam}\` |`);
}
const md = lines.join('\n');
process.stdout.write(md + '\n');

const missed = Object.entries(TARGETS).filter(([label, t]) => median(byLabel.get(label)!.importMs) > t);
if (write) {
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  const json = {
    date: new Date().toISOString(), commit, node: process.version, runs: RUNS, loadAverage: [load0, load1], targets: TARGETS,
    rows: jobs.map((j) => ({
      label: j.label, kind: j.kind, importMs: j.importMs, cpuMs: j.cpuMs, processMs: j.processMs,
      medianImportMs: median(j.importMs), medianCpuMs: median(j.cpuMs), medianProcessMs: median(j.processMs),
    })),
  };
  writeFileSync(join(ROOT, 'bench', 'results', 'startup.json'), JSON.stringify(json, null, 2) + '\n');
  writeFileSync(join(ROOT, 'bench', 'results', 'startup.md'), md + '\n');
  updateBenchmarksMd(join(ROOT, 'BENCHMARKS.md'), md, 'startup');
}
// Over budget is reported, not failed: on a shared machine a busy spell alone can push a median over.
if (missed.length > 0) process.stderr.write(`bench:startup: over budget in this run: ${missed.map(([l, t]) => `${l} > ${t} ms`).join(', ')}\n`);
