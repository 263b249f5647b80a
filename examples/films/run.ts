/**
 * One-hot / multi-hot film vectors (docs/features.md): the 1,000 films of films.csv become
 * 1,012-d vectors — the 1,000 most cast actors multi-hot, duration standardised, 10 genres
 * one-hot, rating min-max scaled — and "films like this one" are their nearest by cosine.
 *
 *   node --import tsx examples/films/run.ts [--id film-0042] [--k 5] [--schema examples/films/schema.json]
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  FeatureEncoder, FlatIndex, fitFeatureSchema, splitCsvLine, vectorBatch,
} from '../../src/index.js';

const HERE = resolve(import.meta.dirname);
const { values } = parseArgs({
  options: {
    id: { type: 'string', default: 'film-0042' },
    k: { type: 'string', default: '5' },
    schema: { type: 'string', default: join(HERE, 'schema.json') },
    input: { type: 'string', default: join(HERE, 'films.csv') },
  },
});

const lines = readFileSync(values.input!, 'utf8').split('\n').filter((l) => l.trim() !== '');
const header = splitCsvLine(lines[0]!);
const rows: Record<string, string>[] = lines.slice(1).map((l) => {
  const cells = splitCsvLine(l);
  return Object.fromEntries(header.map((h, i) => [h, cells[i] ?? '']));
});
const schema = fitFeatureSchema(JSON.parse(readFileSync(values.schema!, 'utf8')), rows);
const encoder = new FeatureEncoder(schema);

process.stdout.write(`${rows.length.toLocaleString('en-US')} films from ${values.input}, schema ${values.schema}\n\nlayout:\n`);
for (const s of encoder.layout()) {
  const cols = s.dims === 1 ? `column ${s.offset}` : `columns ${s.offset}–${s.offset + s.dims - 1}`;
  const what = s.categories !== undefined ? `${s.categories.length.toLocaleString('en-US')} ${s.type === 'multihot' ? 'multi-hot' : 'one-hot'} categories${s.unknownBucket ? ' + unknown bucket' : ''}` : s.type;
  process.stdout.write(`  ${s.name.padEnd(9)} ${cols.padEnd(18)} ${s.dims.toLocaleString('en-US').padStart(5)}  ${what}\n`);
}
process.stdout.write(`  total ${encoder.dim.toLocaleString('en-US')} dimensions (${encoder.layout().map((s) => s.dims).join(' + ')})\n`);

const batch = encoder.encodeBatch(rows);
const ids = rows.map((r) => String(r.id));
const at = ids.indexOf(values.id!);
if (at < 0) {
  process.stderr.write(`--id ${values.id}: no such film (ids film-0001 … film-${String(rows.length).padStart(4, '0')})\n`);
  process.exit(2);
}
const film = rows[at]!;
process.stdout.write(`\n${film.id}: ${film.title} (${film.year}), ${film.genre}, ${film.duration} min, rated ${film.rating || '—'}; cast ${String(film.cast).split('|').join(', ')}\n`);
process.stdout.write('its non-zero components:\n');
for (const c of encoder.explain(batch.data.subarray(at * encoder.dim, (at + 1) * encoder.dim))) {
  process.stdout.write(`  [${c.index}] ${c.field === c.label ? c.label : `${c.field}=${c.label}`} = ${Number(c.value.toFixed(4))}\n`);
}

const index = new FlatIndex({ dim: encoder.dim, metric: 'cosine' });
index.add(Uint32Array.from(ids, (_, i) => i), vectorBatch(batch.data, encoder.dim));
const k = Number(values.k);
const hits = index.search(batch.data.subarray(at * encoder.dim, (at + 1) * encoder.dim), k + 1, { filter: (i) => i !== at });
process.stdout.write(`\nthe ${k} films nearest to ${film.id} (cosine similarity):\n`);
[...hits.ids].slice(0, k).forEach((i, r) => {
  const f = rows[i]!;
  const shared = String(f.cast).split('|').filter((a) => String(film.cast).split('|').includes(a));
  process.stdout.write(`  ${r + 1}. ${f.id} ${String(f.title).padEnd(26)} ${String(f.genre).padEnd(11)} ${String(f.duration).padStart(3)} min  ` +
    `rated ${String(f.rating || '—').padStart(4)}  cos ${(1 - hits.distances[r]!).toFixed(3)}  shared cast: ${shared.join(', ') || '—'}\n`);
});
