/**
 * `omnivec project NAME`: a 2-D map of a collection (PCA, t-SNE or UMAP), written as a PNG or SVG
 * picture coloured by a metadata field (docs/projections.md).
 */
import { writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { Command } from 'commander';
import { OmnivecError, invalidArgument } from '../errors.js';
import { openDatabase } from '../db/database.js';
import { project, PROJECTION_METHODS, type ProjectionMethod } from '../viz/projection.js';
import { scatterPng, scatterSvg } from '../viz/scatter.js';
import { dbDir, type Out } from './db-commands.js';
import { num } from './train-commands.js';

export interface ProjectOpts {
  method?: string;
  out?: string;
  colorBy?: string;
  sample?: string;
  seed?: string;
  title?: string;
}

export async function cmdProject(dir: string, name: string, o: ProjectOpts, out: Out): Promise<Float32Array> {
  const method = (o.method ?? 'umap') as ProjectionMethod;
  if (!PROJECTION_METHODS.includes(method)) throw invalidArgument(`--method: expected pca, tsne or umap, got ${JSON.stringify(o.method)}`);
  if (o.out === undefined) throw invalidArgument('--out: the picture to write (map.png or map.svg) is required');
  const ext = extname(o.out).toLowerCase();
  if (ext !== '.png' && ext !== '.svg') throw invalidArgument(`--out: expected a file ending in .png or .svg, got ${JSON.stringify(o.out)}`);
  const sample = num('--sample', o.sample) ?? 5000;
  const db = await openDatabase(dir, { readOnly: true });
  try {
    const c = db.getCollection(name);
    const got = c.get({ include: ['vectors', 'metadatas'], limit: sample });
    if (got.ids.length < 3) throw invalidArgument(`${name}: a map needs at least 3 records, the collection has ${got.ids.length}`);
    let labels: string[] | undefined;
    if (o.colorBy !== undefined) {
      const field = o.colorBy;
      labels = got.metadatas!.map((m) => (m === null || m[field] === undefined ? '—' : String(m[field])));
      if (labels.every((l) => l === '—')) throw new OmnivecError('not_found', `--color-by ${field}: no record of ${name} has this metadata field`);
    }
    const points = project(got.vectors!, { method, seed: num('--seed', o.seed) });
    const title = o.title ?? `${name}: ${method.toUpperCase()} of ${got.ids.length} records${o.colorBy !== undefined ? `, coloured by ${o.colorBy}` : ''}`;
    if (ext === '.png') await writeFile(o.out, await scatterPng(points, { labels, title }));
    else await writeFile(o.out, scatterSvg(points, { labels, title }));
    out.line(`wrote ${o.out}: ${method} map of ${got.ids.length} records${got.ids.length === sample ? ` (the first ${sample}; --sample for more)` : ''}`);
    return points;
  } finally {
    await db.close();
  }
}

export function registerProjectCommand(p: Command, out: Out): void {
  p.command('project <name>')
    .description('a 2-D map of a collection (pca, tsne or umap) as a PNG or SVG picture')
    .option('--method <m>', 'pca, tsne or umap', 'umap')
    .option('--out <file>', 'map.png or map.svg')
    .option('--color-by <field>', 'colour the points by this metadata field')
    .option('--sample <n>', 'at most this many records (default 5000)')
    .option('--seed <n>', 'seed of t-SNE / UMAP (default 42)')
    .option('--title <text>', 'the picture\'s title')
    .action(async (name: string, o: ProjectOpts) => { await cmdProject(dbDir(p.opts<{ db?: string }>().db), name, o, out); });
}
