/**
 * Image embeddings of a folder of class subfolders, stored in a collection, then a t-SNE picture
 * coloured by class (docs/images.md, docs/projections.md).
 *
 *   node --import tsx examples/image-tsne/run.ts [--model DIR|FILE.onnx] [--images DIR] [--out image-tsne.png]
 *       [--method tsne|umap|pca] [--db DIR] [--threads N] [--seed 42]
 *
 * Defaults: the OSNet x0.25 re-id model (../shared/data/onnx-osnet-x0_25-reid, 512-d) on the
 * Caltech-101 photographs (../shared/data/images-caltech101-5class: 5 classes × 12). Any image
 * model folder works (e.g. microsoft/resnet-50 exported with optimum-cli; docs/encoders.md).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { batchRows, createImageEncoder, openDatabase, project, scatterPng, type ProjectionMethod } from '../../src/index.js';

const REPO = resolve(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    model: { type: 'string', default: join(REPO, '../shared/data/onnx-osnet-x0_25-reid') },
    images: { type: 'string', default: join(REPO, '../shared/data/images-caltech101-5class') },
    out: { type: 'string', default: 'image-tsne.png' },
    method: { type: 'string', default: 'tsne' },
    db: { type: 'string' },
    threads: { type: 'string', default: '2' },
    seed: { type: 'string', default: '42' },
  },
});
const fail = (msg: string): never => {
  process.stderr.write(`${msg}\n`);
  process.exit(2);
};
if (!existsSync(values.model!)) fail(`--model ${values.model}: not found. Pass an image model folder (onnx/model.onnx + preprocessor_config.json) or an .onnx file; the default is the shared OSNet model beside the clone (../shared/data/onnx-osnet-x0_25-reid)`);
if (!existsSync(values.images!)) fail(`--images ${values.images}: not found. Pass a folder with one subfolder of images per class`);

const IMAGE = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff']);
const files: string[] = [];
const labels: string[] = [];
for (const c of readdirSync(values.images!).sort()) {
  const dir = join(values.images!, c);
  if (!statSync(dir).isDirectory()) continue;
  for (const f of readdirSync(dir).sort()) {
    if (IMAGE.has(extname(f).toLowerCase())) {
      files.push(join(dir, f));
      labels.push(c);
    }
  }
}
if (files.length < 3) fail(`--images ${values.images}: found ${files.length} images in class subfolders; a map needs at least 3`);

const t0 = performance.now();
const encoder = await createImageEncoder(values.model!, { threads: Number(values.threads) });
const vectors = batchRows(await encoder.encode(files));
await encoder.close();
const encodeSeconds = (performance.now() - t0) / 1000;

// Into a collection (a temporary database unless --db is given), bound to the model's spec.
const dbDir = values.db ?? mkdtempSync(join(tmpdir(), 'omnivec-image-tsne-'));
const db = await openDatabase(dbDir);
let correct = 0;
try {
  if (await db.hasCollection('images')) await db.dropCollection('images');
  const col = await db.createCollection({ name: 'images', dim: encoder.dim, metric: 'cosine', encoder: encoder.spec });
  await col.add(files.map((f, i) => ({ id: `${labels[i]}/${f.split(/[\\/]/).pop()}`, vector: vectors[i]!, metadata: { label: labels[i]!, file: f } })));
  // Leave-one-out 1-NN: the nearest other image has the same class.
  for (let i = 0; i < files.length; i++) {
    const hit = await col.queryById(`${labels[i]}/${files[i]!.split(/[\\/]/).pop()}`, { k: 1, include: ['metadatas'] });
    if (hit.metadatas?.[0]?.label === labels[i]) correct++;
  }
} finally {
  await db.close();
  if (values.db === undefined) rmSync(dbDir, { recursive: true, force: true });
}

const classes = [...new Set(labels)];
const t1 = performance.now();
const points = project(vectors, { method: values.method as ProjectionMethod, seed: Number(values.seed) });
const png = await scatterPng(points, { labels, title: `${values.method} of ${files.length} images, ${encoder.spec.model} (${encoder.dim}-d)` });
await writeFile(values.out!, png);
const lines = [
  `${files.length} images in ${classes.length} classes (${classes.join(', ')}) from ${values.images}`,
  `model ${encoder.spec.model}: ${encoder.dim}-d, encoded in ${encodeSeconds.toFixed(1)} s${values.db === undefined ? '' : `; stored in ${values.db}, collection images`}`,
  `leave-one-out 1-NN accuracy: ${(correct / files.length).toFixed(3)} (${correct} / ${files.length}; chance ≈ ${(1 / classes.length).toFixed(2)})`,
  `${values.method} map in ${((performance.now() - t1) / 1000).toFixed(1)} s → ${values.out}`,
];
process.stdout.write(lines.join('\n') + '\n');
