/**
 * `omnivec project NAME`: a 2-D map of a collection (PCA, t-SNE or UMAP) through the projection
 * service (computed in a worker, cached at DIR/projections like the server's), written as a PNG or
 * SVG picture, a self-contained HTML page, and/or an Embedding Projector folder with the
 * coordinates (docs/projections.md).
 */
import { writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { Command } from 'commander';
import { OmnivecError, invalidArgument } from '../errors.js';
import { numberArg } from '../checks.js';
import { openDatabase } from '../db/database.js';
import { PROJECTION_METHODS, type ProjectionMethod } from '../viz/projection.js';
import { createProjectionService, DEFAULT_REQUEST } from '../viz/projection-service.js';
import { scatterPng, scatterSvg } from '../viz/scatter.js';
import { mapHtml, MISSING_LABEL } from '../viz/map-html.js';
import { writeProjectorMap } from '../viz/projector-export.js';
import { dbDir, type Out } from './db-commands.js';

export interface ProjectOpts {
  method?: string;
  out?: string;
  colorBy?: string;
  sample?: string;
  seed?: string;
  title?: string;
  /** false with --no-cache. */
  cache?: boolean;
  projector?: string;
}

const OUT_KINDS = ['.png', '.svg', '.html'];

/** A progress line rewritten in place on stderr when it is a terminal (nothing otherwise). */
function progressLine(label: string): { update(phase: string, p: number): void; done(): void } {
  const tty = process.stderr.isTTY === true && process.env.OMNIVEC_NO_PROGRESS === undefined;
  let last = 0;
  let shown = false;
  const start = performance.now();
  return {
    update(phase, p) {
      const now = performance.now();
      if (!tty || (now - last < 100 && p < 1)) return;
      last = now;
      const w = 24;
      const f = Math.min(w, Math.round(p * w));
      process.stderr.write(`\r${label} [${'#'.repeat(f)}${'.'.repeat(w - f)}] ${Math.floor(p * 100)}% ${phase} (${((now - start) / 1000).toFixed(1)} s)\x1b[K`);
      shown = true;
    },
    done() { if (shown) process.stderr.write('\n'); },
  };
}

export async function cmdProject(dir: string, name: string, o: ProjectOpts, out: Out): Promise<Float32Array> {
  const method = (o.method ?? DEFAULT_REQUEST.method) as ProjectionMethod;
  if (!PROJECTION_METHODS.includes(method)) throw invalidArgument(`--method: expected pca, tsne or umap, got ${JSON.stringify(o.method)}`);
  if (o.out === undefined && o.projector === undefined) throw invalidArgument('--out or --projector: say what to write (map.png, map.svg, map.html, or a folder for the Embedding Projector)');
  const ext = o.out === undefined ? undefined : extname(o.out).toLowerCase();
  if (ext !== undefined && !OUT_KINDS.includes(ext)) throw invalidArgument(`--out: expected a file ending in .png, .svg or .html, got ${JSON.stringify(o.out)}`);
  const sample = numberArg(o.sample, '--sample') ?? DEFAULT_REQUEST.sample;
  const seed = numberArg(o.seed, '--seed') ?? DEFAULT_REQUEST.seed;
  const db = await openDatabase(dir, { readOnly: true });
  const service = createProjectionService({ db, dbDir: db.filesDir, cache: o.cache !== false });
  try {
    const c = await db.getCollection(name);
    const bar = progressLine(`${method} map of ${name}`);
    let result;
    try {
      result = await service.compute(name, { method, sample, seed }, (phase, p) => bar.update(phase, p));
    } finally {
      bar.done();
    }
    const { ids } = result;
    const points = result.points instanceof Float32Array ? result.points : Float32Array.from(result.points);
    const got = await c.get({ ids, include: ['metadatas', 'documents', ...(o.projector !== undefined ? ['vectors' as const] : [])] });
    if (got.ids.length !== ids.length) throw new OmnivecError('internal', `${name}: ${ids.length - got.ids.length} mapped records were deleted while the map was made; run again`);
    const metadatas = got.metadatas!;
    let labels: string[] | undefined;
    if (o.colorBy !== undefined) {
      const field = o.colorBy;
      labels = metadatas.map((m) => (m === null || m[field] === undefined || m[field] === null ? MISSING_LABEL : String(m[field])));
      if (labels.every((l) => l === MISSING_LABEL)) throw new OmnivecError('not_found', `--color-by ${field}: no record of ${name} has this metadata field`);
    }
    const title = o.title ?? `${name}: ${method.toUpperCase()} of ${ids.length} records${o.colorBy !== undefined ? `, coloured by ${o.colorBy}` : ''}`;
    const written: string[] = [];
    if (o.out !== undefined) {
      if (ext === '.png') await writeFile(o.out, await scatterPng(points, { labels, title }));
      else if (ext === '.svg') await writeFile(o.out, scatterSvg(points, { labels, title }));
      else await writeFile(o.out, mapHtml({ ids, points, labels, colorBy: o.colorBy, documents: got.documents!, metadatas, title }));
      written.push(o.out);
    }
    if (o.projector !== undefined) {
      await writeProjectorMap(o.projector, {
        ids, vectors: got.vectors!, points, method, documents: got.documents!, metadatas, colorBy: o.colorBy, name,
      });
      written.push(`${o.projector}/ (vectors.tsv, metadata.tsv, bookmarks.json, projector_config.json)`);
    }
    const cached = service.workersStarted === 0 ? ', from the cache' : '';
    out.line(`wrote ${written.join(' and ')}: ${method} map of ${ids.length} records${result.total > ids.length ? ` (${ids.length} of ${result.total} records, sampled evenly; --sample for more)` : ''}${cached}`);
    if (o.projector !== undefined) {
      out.line(`${join(o.projector, 'projector_config.json')} names the files by relative paths, so it works only with the Projector page served from that same folder (?config=projector_config.json); ` +
        'on projector.tensorflow.org, Load vectors.tsv and metadata.tsv, then bookmarks.json in the bookmark panel');
    }
    return points;
  } finally {
    await service.close();
    await db.close();
  }
}

export function registerProjectCommand(p: Command, out: Out): void {
  p.command('project <name>')
    .description('a 2-D map of a collection (pca, tsne or umap) as a PNG/SVG picture, an HTML page, or an Embedding Projector folder')
    .option('--method <m>', 'pca, tsne or umap', 'umap')
    .option('--out <file>', 'map.png, map.svg or map.html (a self-contained page: hover, zoom, legend)')
    .option('--projector <dir>', 'write vectors.tsv, metadata.tsv, bookmarks.json and projector_config.json with the map\'s coordinates for the Embedding Projector')
    .option('--color-by <field>', 'colour the points by this metadata field')
    .option('--sample <n>', 'at most N records, sampled evenly over the collection (default 5000)')
    .option('--seed <n>', 'seed of t-SNE / UMAP (default 42)')
    .option('--title <text>', 'the picture\'s title')
    .option('--no-cache', 'compute afresh: neither read nor write DIR/projections')
    .action(async (name: string, o: ProjectOpts) => { await cmdProject(dbDir(p.opts<{ db?: string }>().db), name, o, out); });
}
