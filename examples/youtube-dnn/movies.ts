/** MovieLens movies.csv → item features for the two-tower item tower: genres (multi-valued) and the year in the title. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { splitCsvLine } from '../../src/encoders/item2vec/movielens.js';
import { fitFeatures, type FeatureTable } from '../../src/encoders/recsys/features.js';

export async function movieFeatures(dir: string): Promise<FeatureTable> {
  const lines = (await readFile(join(dir, 'movies.csv'), 'utf8')).split(/\r?\n/).filter((l) => l !== '');
  const head = splitCsvLine(lines[0]!);
  const [im, it, ig] = ['movieId', 'title', 'genres'].map((c) => head.indexOf(c));
  const rows = lines.slice(1).map((l) => {
    const f = splitCsvLine(l);
    const year = /\((\d{4})\)\s*$/.exec(f[it!] ?? '')?.[1] ?? '';
    return [f[im!]!, f[ig!] ?? '', year];
  });
  return fitFeatures(['id', 'genres', 'year'], rows);
}
