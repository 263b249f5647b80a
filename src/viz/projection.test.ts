import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { Command, Option } from 'commander';
import { project, type ProjectionMethod } from './projection.js';
import { scatterPng, scatterSvg } from './scatter.js';
import { Random } from '../vector/random.js';
import { openDatabase } from '../db/database.js';
import { createImageEncoder } from '../encoders/image/index.js';
import { registerProjectCommand } from '../cli/project-command.js';
import type { Out } from '../cli/db-commands.js';
import { withTempDir, throwsCode } from '../../test/helpers/assertions.js';
import { batchRows } from '../encoders/common.js';

/** Leave-one-out 1-NN accuracy of the labels in the 2-D map: how well the groups hold together. */
function nnAccuracy(points: Float32Array, labels: readonly string[]): number {
  const n = labels.length;
  let right = 0;
  for (let i = 0; i < n; i++) {
    let best = -1;
    let bestD = Infinity;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const d = (points[2 * i]! - points[2 * j]!) ** 2 + (points[2 * i + 1]! - points[2 * j + 1]!) ** 2;
      if (d < bestD) { bestD = d; best = j; }
    }
    if (labels[best] === labels[i]) right++;
  }
  return right / n;
}

test('pca, t-SNE and UMAP keep four separated 50-d clusters apart in 2-D; seeded maps repeat', () => {
  const rng = new Random(5);
  const centres = Array.from({ length: 4 }, () => Float32Array.from({ length: 50 }, () => rng.gaussian() * 4));
  const vectors: Float32Array[] = [];
  const labels: string[] = [];
  for (let i = 0; i < 160; i++) {
    const c = i % 4;
    vectors.push(Float32Array.from(centres[c]!, (x) => x + rng.gaussian()));
    labels.push(`c${c}`);
  }
  for (const method of ['pca', 'tsne', 'umap'] as ProjectionMethod[]) {
    const p = project(vectors, { method, seed: 3 });
    assert.equal(p.length, 320);
    assert.ok(p.every(Number.isFinite), `${method}: finite`);
    const acc = nnAccuracy(p, labels);
    assert.ok(acc >= 0.95, `${method}: 2-D 1-NN accuracy ${acc}`);
    if (method !== 'pca') assert.deepEqual(project(vectors, { method, seed: 3 }), p, `${method}: same seed, same map`);
  }
  throwsCode(() => project(vectors.slice(0, 2), { method: 'pca' }), 'invalid_argument', /at least 3 vectors, got 2/);
  throwsCode(() => project([vectors[0]!, vectors[1]!, new Float32Array(3)]), 'invalid_argument', /vectors\[2\]: expected 50 numbers/);
  throwsCode(() => project(vectors, { method: 'mds' as ProjectionMethod }), 'invalid_argument', /expected pca, tsne or umap/);
});

test('scatter: SVG with a legend per label, PNG of the asked size', async () => {
  const pts = Float32Array.from([0, 0, 1, 1, 2, 0.5]);
  const svg = scatterSvg(pts, { labels: ['a', 'b', 'a'], title: 'x <y>' });
  assert.equal((svg.match(/<circle /g) ?? []).length, 3 + 2);
  assert.match(svg, /x &#60;y&#62;/);
  const png = await scatterPng(pts, { labels: ['a', 'b', 'a'], width: 400, height: 300 });
  const meta = await sharp(png).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 400, 300]);
  throwsCode(() => scatterSvg(pts, { labels: ['a'] }), 'invalid_argument', /expected 3 labels/);
});

const root = resolve(import.meta.dirname, '../..');
const DATA = [resolve(root, '../shared/data'), '/work/shared/data'].find((d) => existsSync(join(d, 'onnx-osnet-x0_25-reid')));

test('omnivec project: the 5 Caltech classes (OSNet embeddings) form groups in the t-SNE map written as a PNG', { skip: DATA === undefined && 'shared data missing' }, async () => {
  await withTempDir('omnivec-project-', async (dir) => {
    const images = join(DATA!, 'images-caltech101-5class');
    const classes = ['Leopards', 'Motorbikes', 'airplanes', 'starfish', 'sunflower'];
    const files = classes.flatMap((c) => Array.from({ length: 12 }, (_, i) => ({ c, f: join(images, c, `image_${String(i + 1).padStart(4, '0')}.jpg`) })));
    const enc = await createImageEncoder(join(DATA!, 'onnx-osnet-x0_25-reid/osnet_x0_25_msmt17.onnx'), { threads: 2 });
    const vectors = batchRows(await enc.encode(files.map((x) => x.f)));
    await enc.close();
    const db = join(dir, 'db');
    const d = await openDatabase(db);
    const c = await d.createCollection({ name: 'caltech', dim: enc.dim, metric: 'cosine' });
    await c.add(files.map((x, i) => ({ id: `${x.c}/${i}`, vector: vectors[i]!, metadata: { label: x.c } })));
    await d.close();
    const lines: string[] = [];
    const out: Out = { line: (s) => { lines.push(s); }, json: () => undefined };
    const p = new Command('omnivec').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
    p.addOption(new Option('--db <dir>').default(db));
    registerProjectCommand(p, out);
    const png = join(dir, 'map.png');
    await p.parseAsync(['project', 'caltech', '--method', 'tsne', '--out', png, '--color-by', 'label', '--seed', '7'], { from: 'user' });
    assert.match(lines[0]!, /wrote .*map\.png: tsne map of 60 records/);
    const meta = await sharp(png).metadata();
    assert.equal(meta.format, 'png');
    // The map itself: recompute it as the command did and measure how the classes hold together.
    const points = project(vectors, { method: 'tsne', seed: 7 });
    const acc = nnAccuracy(points, files.map((x) => x.c));
    // OSNet (a person re-id model) gets 0.83 leave-one-out 1-NN in its own 512-d space (test/image-osnet.test.ts).
    assert.ok(acc >= 0.6, `2-D 1-NN accuracy of the classes: ${acc}`);
    process.stdout.write(`# caltech t-SNE map: 2-D 1-NN accuracy ${acc.toFixed(3)} (chance 0.2)\n`);
  });
});
