/**
 * The projection service end to end on synthetic clustered vectors: a collection of N × D records,
 * then each method through `createProjectionService().compute()` (the worker thread, as the server
 * and `omnivec project` run it), with the time of each phase, then the cached answer.
 * `node --import tsx bench/projection.ts [-- --n 10000 --dim 64 --methods pca,umap,tsne --tsne-n 5000]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '../src/db/database.js';
import { Random } from '../src/vector/random.js';
import { createProjectionService, MAX_SAMPLE } from '../src/viz/projection-service.js';
import type { ProjectionMethod } from '../src/viz/projection.js';

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '10000' },
    dim: { type: 'string', default: '64' },
    methods: { type: 'string', default: 'pca,umap,tsne' },
    'tsne-n': { type: 'string', default: String(MAX_SAMPLE.tsne) },
  },
});
const n = Number(args.n);
const dim = Number(args.dim);
const methods = args.methods!.split(',') as ProjectionMethod[];

const dir = mkdtempSync(join(tmpdir(), 'omnivec-bench-proj-'));
const db = await openDatabase(join(dir, 'db'));
try {
  const rng = new Random(1);
  const centres = Array.from({ length: 10 }, () => Float32Array.from({ length: dim }, () => rng.gaussian() * 3));
  const c = await db.createCollection({ name: 'bench', dim });
  const batch = 2000;
  for (let s = 0; s < n; s += batch) {
    await c.add(Array.from({ length: Math.min(batch, n - s) }, (_, k) => {
      const i = s + k;
      return { id: `r${String(i).padStart(7, '0')}`, vector: Float32Array.from(centres[i % 10]!, (x) => x + rng.gaussian()) };
    }));
  }
  process.stdout.write(`# projection service, ${n.toLocaleString('en-US')} × ${dim} (t-SNE: a sample of ${Math.min(n, Number(args['tsne-n'])).toLocaleString('en-US')}), ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}\n\n`);
  process.stdout.write('| method | points | phases (s) | total (s) | cached (ms) |\n|---|---|---|---|---|\n');
  const svc = createProjectionService({ db, dbDir: join(dir, 'db') });
  for (const method of methods) {
    const sample = method === 'tsne' ? Math.min(n, Number(args['tsne-n'])) : n;
    const t0 = performance.now();
    const phases = new Map<string, number>();
    let current = '';
    let since = t0;
    const r = await svc.compute('bench', { method, sample, seed: 42 }, (phase) => {
      if (phase === current) return;
      const now = performance.now();
      if (current !== '') phases.set(current, (phases.get(current) ?? 0) + (now - since) / 1000);
      current = phase;
      since = now;
    });
    const total = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    await svc.compute('bench', { method, sample, seed: 42 });
    const cached = performance.now() - t1;
    const list = [...phases].map(([p, s]) => `${p} ${s.toFixed(1)}`).join(', ');
    process.stdout.write(`| ${method} | ${r.ids.length.toLocaleString('en-US')} | ${list} | ${total.toFixed(1)} | ${cached.toFixed(1)} |\n`);
  }
  await svc.close();
} finally {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
}
