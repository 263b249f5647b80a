/**
 * The projection service end to end on synthetic clustered vectors: a collection of N × D records,
 * then each method through `createProjectionService().compute()` (the worker thread, as the server
 * and `omnivec project` run it), with the time of each phase, then the cached answer.
 * `node --import tsx bench/projection.ts [-- --n 10000 --dim 64 --methods pca,umap,tsne --tsne-n 5000]`.
 *
 * Then the HTML map (`omnivec project --html`, src/viz/map-html.ts) in Chromium at `--html-points`
 * points (default 10,000; 0 skips it; skipped without /usr/bin/chromium): the time per zoom / pan
 * event beside the driver's bare round trip, and a redraw, against a frame at 60 fps (16.7 ms).
 * `--methods ''` runs the HTML map alone.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '../src/db/database.js';
import { Random } from '../src/vector/random.js';
import { createProjectionService, MAX_SAMPLE } from '../src/viz/projection-service.js';
import { mapHtml } from '../src/viz/map-html.js';
import type { ProjectionMethod } from '../src/viz/projection.js';

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '10000' },
    dim: { type: 'string', default: '64' },
    methods: { type: 'string', default: 'pca,umap,tsne' },
    'tsne-n': { type: 'string', default: String(MAX_SAMPLE.tsne) },
    'html-points': { type: 'string', default: '10000' },
  },
});
const n = Number(args.n);
const dim = Number(args.dim);
const methods = args.methods!.split(',').filter((m) => m !== '') as ProjectionMethod[];
const htmlPoints = Number(args['html-points']);
const CHROMIUM = '/usr/bin/chromium';

const dir = mkdtempSync(join(tmpdir(), 'omnivec-bench-proj-'));
const db = await openDatabase(join(dir, 'db'));
try {
  if (methods.length > 0) await serviceTable();
  if (htmlPoints > 0) {
    if (existsSync(CHROMIUM)) await htmlMapFigures(htmlPoints);
    else process.stdout.write(`\n# the HTML map: skipped (no ${CHROMIUM})\n`);
  }
} finally {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
}

/** Each method through the service: the time of each phase, then the cached answer. */
async function serviceTable(): Promise<void> {
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
}

/**
 * The HTML map of `count` clustered points in Chromium (playwright-core, as test/explorer.browser
 * and src/viz/map-html.test.ts drive it): 30 wheel steps and a 20-step drag, each event sent and
 * answered through the driver, timed per event; the same number of bare round trips
 * (`page.evaluate('0')`) beside it, the driver's own share; and 10 resizes redrawn within a frame.
 * The target for a zoom / pan step beyond the round trip, and for a redraw, is a frame at 60 fps.
 */
async function htmlMapFigures(count: number): Promise<void> {
  const { chromium } = await import('playwright-core');
  const rng = new Random(2);
  const points = new Float32Array(2 * count);
  for (let i = 0; i < count; i++) { points[2 * i] = rng.gaussian() + (i % 7) * 3; points[2 * i + 1] = rng.gaussian() + (i % 5) * 3; }
  const ids = Array.from({ length: count }, (_, i) => `rec-${i}`);
  const file = join(dir, 'map.html');
  writeFileSync(file, mapHtml({
    ids, points, labels: ids.map((_, i) => `topic ${i % 7}`), colorBy: 'topic',
    documents: ids.map((id) => `the text of ${id}`), metadatas: ids.map((_, i) => ({ n: i })), title: 'bench',
  }));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 750 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`file://${file}`);
    await page.waitForFunction('window.omnivecMap !== undefined');
    const events = 52;
    const t0 = performance.now();
    for (let i = 0; i < 30; i++) await page.mouse.wheel(0, -60);
    await page.mouse.move(500, 400);
    await page.mouse.down();
    for (let i = 0; i < 20; i++) await page.mouse.move(500 + i * 10, 400 + i * 5);
    await page.mouse.up();
    await page.evaluate('new Promise((r) => requestAnimationFrame(r))');
    const perEvent = (performance.now() - t0) / events;
    const t1 = performance.now();
    for (let i = 0; i < events; i++) await page.evaluate('0');
    const roundTrip = (performance.now() - t1) / events;
    const redraw = await page.evaluate<number>(`(() => {
      const t0 = performance.now();
      for (let i = 0; i < 10; i++) window.dispatchEvent(new Event('resize'));
      return new Promise((resolve) => requestAnimationFrame(() => resolve(performance.now() - t0)));
    })()`);
    if (errors.length > 0) throw new Error(`the page failed: ${errors.join('; ')}`);
    const frame = 1000 / 60;
    process.stdout.write(`\n# the HTML map in Chromium, ${count.toLocaleString('en-US')} points (ms)\n\n`);
    process.stdout.write('| figure | ms | beside it | target |\n|---|---|---|---|\n');
    process.stdout.write(`| a zoom / pan event, sent and answered | ${perEvent.toFixed(1)} | the driver's bare round trip ${roundTrip.toFixed(1)}; the map's share ${(perEvent - roundTrip).toFixed(1)} | the map's share ≤ ${frame.toFixed(1)} (a frame at 60 fps) |\n`);
    process.stdout.write(`| 10 resizes redrawn | ${redraw.toFixed(1)} | | ≤ ${frame.toFixed(1)} (one frame) |\n`);
  } finally {
    await browser.close();
  }
}
