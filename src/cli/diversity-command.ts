/**
 * `omnivec diversity NAME` (docs/tasks.md): the mean pairwise distance, the pairwise cosine
 * similarity histogram (printed, and drawn with --out hist.png / hist.svg), and with a subset
 * (--subset-where or --subset-ids) its coverage of the collection.
 */
import { writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { Command } from 'commander';
import { invalidArgument } from '../errors.js';
import { intArg, numberArg } from '../checks.js';
import { openDatabase } from '../db/database.js';
import type { Where } from '../db/where.js';
import { diversity, histogramPng, histogramSvg, type DiversityOptions, type DiversityResult } from '../tasks/diversity.js';
import { jsonArg, type Out } from './db-commands.js';

export interface DiversityOpts {
  where?: string;
  sample?: string;
  subsetWhere?: string;
  subsetIds?: string[];
  radius?: string;
  bins?: string;
  seed?: string;
  out?: string;
  json?: boolean;
}

const DISTANCE_NAME = { l2: 'squared Euclidean', cosine: '1 − cosine', ip: '1 − inner product' } as const;

export async function cmdDiversity(dir: string, name: string, o: DiversityOpts, out: Out): Promise<DiversityResult> {
  const ext = o.out === undefined ? undefined : extname(o.out).toLowerCase();
  if (ext !== undefined && ext !== '.png' && ext !== '.svg') throw invalidArgument(`--out: expected a file ending in .png or .svg, got ${JSON.stringify(o.out)}`);
  if (o.subsetWhere !== undefined && o.subsetIds !== undefined) throw invalidArgument('expected one of --subset-where and --subset-ids, got both');
  const where = jsonArg<Where>('--where', o.where);
  const subsetWhere = jsonArg<Where>('--subset-where', o.subsetWhere);
  const subsetIds = o.subsetIds?.flatMap((x) => x.split(/[\s,]+/)).filter((x) => x.length > 0);
  if (o.radius !== undefined && subsetWhere === undefined && subsetIds === undefined) throw invalidArgument('--radius: goes with --subset-where or --subset-ids');
  const options: DiversityOptions = {
    ...(where !== undefined ? { where } : {}),
    ...(o.sample !== undefined ? { sample: intArg(o.sample, '--sample') } : {}),
    ...(subsetWhere !== undefined ? { subset: { where: subsetWhere } } : subsetIds !== undefined ? { subset: { ids: subsetIds } } : {}),
    ...(o.radius !== undefined ? { radius: numberArg(o.radius, '--radius') } : {}),
    ...(o.bins !== undefined ? { bins: intArg(o.bins, '--bins', { min: 1, max: 1000 }) } : {}),
    ...(o.seed !== undefined ? { seed: intArg(o.seed, '--seed', { min: 0 }) } : {}),
  };
  const db = await openDatabase(dir, { readOnly: true });
  let r: DiversityResult;
  try {
    r = await diversity(await db.getCollection(name), options);
  } finally {
    await db.close();
  }
  if (o.out !== undefined) {
    const title = `${name}: pairwise cosine similarity of ${r.n} records${r.pairs.exact ? '' : ` (${r.pairs.count} sampled pairs)`}`;
    await writeFile(o.out, ext === '.png' ? await histogramPng(r.similarity.histogram, { title }) : histogramSvg(r.similarity.histogram, { title }));
  }
  if (o.json === true) {
    out.json(r);
    return r;
  }
  out.line(`${name}: ${r.n} records (${r.metric}), ${r.pairs.exact ? `every pair (${r.pairs.count})` : `${r.pairs.count} seeded random pairs`}`);
  out.line(`mean pairwise distance  ${r.meanDistance.toFixed(4)} (${DISTANCE_NAME[r.metric]})`);
  out.line(`cosine similarity       mean ${r.similarity.mean.toFixed(4)}, std ${r.similarity.std.toFixed(4)}`);
  const { edges, counts } = r.similarity.histogram;
  const max = Math.max(1, ...counts);
  counts.forEach((n, i) => {
    out.line(`  [${edges[i]!.toFixed(2).padStart(5)}, ${edges[i + 1]!.toFixed(2).padStart(5)}${i === counts.length - 1 ? ']' : ')'} ${String(n).padStart(9)} ${'#'.repeat(Math.round((40 * n) / max))}`);
  });
  if (r.coverage !== undefined) {
    const cv = r.coverage;
    out.line(`coverage of the subset (${cv.subset} records): ${(100 * cv.covered).toFixed(1)} % of the records within ${cv.radius.toPrecision(4)} (${cv.radiusFrom}); mean distance to the subset ${cv.meanDistance.toPrecision(4)}`);
  }
  if (o.out !== undefined) out.line(`wrote ${o.out}`);
  return r;
}

export function registerDiversityCommand(p: Command, db: () => string, out: Out): void {
  p.command('diversity <name>')
    .description('how spread out a collection is: mean pairwise distance, cosine similarity histogram, coverage of a subset')
    .option('--where <json>', 'only records matching this metadata filter')
    .option('--sample <n>', 'the first n records in id order (after --where)')
    .option('--subset-where <json>', 'the coverage of the records matching this filter')
    .option('--subset-ids <ids...>', 'the coverage of these records (ids separated by spaces or commas)')
    .option('--radius <r>', 'coverage radius in the collection\'s distance (default: the median nearest-neighbour distance)')
    .option('--bins <n>', 'histogram bins over [−1, 1] (default 20)')
    .option('--seed <n>', 'seed of the sampled pairs above 2,000 records (default 42)')
    .option('--out <file>', 'draw the similarity histogram: hist.png or hist.svg')
    .option('--json', 'print JSON: { n, metric, meanDistance, pairs, similarity: { mean, std, histogram }, coverage? }')
    .action(async (name: string, o: DiversityOpts) => { await cmdDiversity(db(), name, o, out); });
}
