/**
 * `omnivec cluster | outliers | dedupe NAME` (docs/tasks.md, docs/cli.md): the tasks over a
 * collection. A table by default, `--json` for the library's answer; progress on stderr when it is
 * a terminal. Only `cluster --write` opens the database for writing.
 */
import type { Command } from 'commander';
import { invalidArgument } from '../errors.js';
import { intArg, numberArg } from '../checks.js';
import { openDatabase, type Database } from '../db/database.js';
import type { Where } from '../db/where.js';
import { clusterCollection, clusterJson, type ClusterResult } from '../tasks/cluster.js';
import { outliers, type OutlierMethod } from '../tasks/outliers.js';
import { dedupe } from '../tasks/dedupe.js';
import type { KMeansMethod } from '../tasks/kmeans.js';
import type { OnProgress } from '../tasks/common.js';
import { jsonArg, type Out } from './db-commands.js';
import { Progress } from './progress.js';

export interface ClusterOpts {
  k?: string; kMin?: string; kMax?: string; method?: string; where?: string; sample?: string;
  seed?: string; maxIter?: string; write?: string; json?: boolean;
}
export interface OutliersOpts { method?: string; k?: string; top?: string; threshold?: string; where?: string; sample?: string; json?: boolean }
export interface DedupeOpts { threshold?: string; maxDistance?: string; k?: string; where?: string; sample?: string; json?: boolean }

async function withDb<T>(dir: string, readOnly: boolean, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase(dir, { readOnly, create: false });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** The task's progress as a line on stderr (a terminal only), one bar per phase. */
function progress(label: string): { on: OnProgress; done(): void } {
  let bar: Progress | undefined;
  let phase = '';
  return {
    on: (p) => {
      if (p.phase !== phase) {
        bar?.done();
        phase = p.phase;
        bar = new Progress(`${label}: ${p.phase}`);
      }
      bar!.update(p.done, p.total, p.phase.startsWith('k-means') ? 'k' : 'records');
    },
    done: () => bar?.done(),
  };
}

/** Columns padded to their widest cell. */
function table(out: Out, header: string[], rows: string[][]): void {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ');
  out.line(line(header));
  for (const r of rows) out.line(line(r));
}

const fmt = (x: number, digits = 4): string => (Number.isFinite(x) ? x.toFixed(digits) : '-');

export async function cmdCluster(dir: string, name: string, o: ClusterOpts, out: Out): Promise<ClusterResult> {
  const method = (o.method ?? 'kmeans') as KMeansMethod;
  if (method !== 'kmeans' && method !== 'minibatch') throw invalidArgument(`--method: expected kmeans or minibatch, got ${JSON.stringify(o.method)}`);
  const bar = progress(`cluster ${name}`);
  const r = await withDb(dir, o.write === undefined, async (db) => {
    try {
      return await clusterCollection(await db.getCollection(name), {
        k: intArg(o.k, '--k'), kMin: intArg(o.kMin, '--k-min', { min: 2 }), kMax: intArg(o.kMax, '--k-max', { min: 2 }), method,
        where: jsonArg<Where>('--where', o.where), sample: intArg(o.sample, '--sample'), seed: intArg(o.seed, '--seed', { min: 0, max: 0xffffffff }),
        maxIter: intArg(o.maxIter, '--max-iter'), writeField: o.write, onProgress: bar.on,
      });
    } finally {
      bar.done();
    }
  });
  if (o.json === true) {
    out.json(clusterJson(r));
    return r;
  }
  out.line(`${name}: ${r.k} clusters of ${r.ids.length} records${r.tried !== undefined ? ' (k chosen by the silhouette)' : ''}; silhouette ${fmt(r.silhouette)}, inertia ${fmt(r.inertia, 2)}`);
  if (r.tried !== undefined) {
    out.line('');
    table(out, ['k', 'silhouette', 'inertia'], r.tried.map((t) => [String(t.k) + (t.k === r.k ? ' *' : ''), fmt(t.silhouette), fmt(t.inertia, 2)]));
  }
  out.line('');
  const examples: string[][] = Array.from({ length: r.k }, () => []);
  r.ids.forEach((id, i) => { const e = examples[r.labels[i]!]!; if (e.length < 3) e.push(id); });
  table(out, ['cluster', 'size', 'first ids'], Array.from({ length: r.k }, (_, c) => [String(c), String(r.sizes[c]), examples[c]!.join(', ')]));
  if (r.written !== undefined) out.line(`\nwrote the cluster numbers into the metadata field "${r.written.field}" of ${r.written.count} records (filter with --where '{"${r.written.field}": 0}')`);
  return r;
}

export async function cmdOutliers(dir: string, name: string, o: OutliersOpts, out: Out): Promise<void> {
  const method = (o.method ?? 'knn') as OutlierMethod;
  if (method !== 'knn' && method !== 'lof') throw invalidArgument(`--method: expected knn or lof, got ${JSON.stringify(o.method)}`);
  const bar = progress(`outliers ${name}`);
  const list = await withDb(dir, true, async (db) => {
    try {
      return await outliers(await db.getCollection(name), {
        method, k: intArg(o.k, '--k'), top: intArg(o.top, '--top'), threshold: numberArg(o.threshold, '--threshold'),
        where: jsonArg<Where>('--where', o.where), sample: intArg(o.sample, '--sample'), onProgress: bar.on,
      });
    } finally {
      bar.done();
    }
  });
  if (o.json === true) {
    out.json({ outliers: list });
    return;
  }
  table(out, ['rank', 'id', method === 'lof' ? 'lof' : 'k-distance'], list.map((x, i) => [String(i + 1), x.id, fmt(x.score)]));
}

export async function cmdDedupe(dir: string, name: string, o: DedupeOpts, out: Out): Promise<void> {
  const bar = progress(`dedupe ${name}`);
  const r = await withDb(dir, true, async (db) => {
    try {
      return await dedupe(await db.getCollection(name), {
        threshold: numberArg(o.threshold, '--threshold'), maxDistance: numberArg(o.maxDistance, '--max-distance'), k: intArg(o.k, '--k'),
        where: jsonArg<Where>('--where', o.where), sample: intArg(o.sample, '--sample'), onProgress: bar.on,
      });
    } finally {
      bar.done();
    }
  });
  if (o.json === true) {
    out.json(r);
    return;
  }
  const l2 = r.pairs.length > 0 && r.pairs[0]!.distance !== undefined;
  out.line(`${name}: ${r.pairs.length} near-duplicate pair${r.pairs.length === 1 ? '' : 's'} in ${r.groups.length} group${r.groups.length === 1 ? '' : 's'}`);
  if (r.pairs.length === 0) return;
  out.line('');
  table(out, ['a', 'b', l2 ? 'distance' : 'similarity'], r.pairs.map((p) => [p.a, p.b, fmt(l2 ? p.distance! : p.similarity!)]));
  out.line('');
  r.groups.forEach((g, i) => out.line(`group ${i + 1}: ${g.join(' ')}`));
}

export function registerClusterCommands(p: Command, db: () => string, out: Out): void {
  p.command('cluster <name>')
    .description('k-means clusters of a collection (k given, or chosen by the silhouette); --write stores each record\'s cluster number in its metadata')
    .option('--k <k>', 'the number of clusters (default: the best silhouette of --k-min..--k-max)')
    .option('--k-min <k>', 'smallest k tried (default 2)')
    .option('--k-max <k>', 'largest k tried (default 10)')
    .option('--method <m>', 'kmeans (Lloyd) or minibatch (faster on large collections)', 'kmeans')
    .option('--where <json>', 'cluster only the records matching this metadata filter')
    .option('--sample <n>', 'the first N records in id order')
    .option('--seed <n>', 'seed of the seeding and sampling (default 42)')
    .option('--max-iter <n>', 'most Lloyd updates (default 300) or mini-batch epochs (default 100)')
    .option('--write <field>', 'write each record\'s cluster number into this metadata field')
    .option('--json', 'print the answer as JSON')
    .action(async (name: string, o: ClusterOpts) => { await cmdCluster(db(), name, o, out); });
  p.command('outliers <name>')
    .description('the records farthest from their neighbours: k-th neighbour distance or local outlier factor')
    .option('--method <m>', 'knn (distance to the k-th neighbour) or lof (local outlier factor)', 'knn')
    .option('--k <k>', 'neighbours per record (default 10)')
    .option('--top <n>', 'how many to list (default 20, or all above --threshold)')
    .option('--threshold <t>', 'only scores above this')
    .option('--where <json>', 'only the records matching this metadata filter')
    .option('--sample <n>', 'the first N records in id order')
    .option('--json', 'print the answer as JSON')
    .action(async (name: string, o: OutliersOpts) => { await cmdOutliers(db(), name, o, out); });
  p.command('dedupe <name>')
    .description('near-duplicate pairs and their groups (cosine / ip: similarity ≥ --threshold; l2: distance ≤ --max-distance)')
    .option('--threshold <s>', 'cosine and ip collections: the smallest similarity of a pair (default 0.95)')
    .option('--max-distance <d>', 'l2 collections (required there): the largest Euclidean distance of a pair')
    .option('--k <k>', 'neighbours looked at per record (default 10)')
    .option('--where <json>', 'only the records matching this metadata filter')
    .option('--sample <n>', 'the first N records in id order')
    .option('--json', 'print the answer as JSON')
    .action(async (name: string, o: DedupeOpts) => { await cmdDedupe(db(), name, o, out); });
}
