/**
 * The guide's film example (docs/features.md#the-film-example): 1,000 actors multi-hot + duration +
 * 10 genres one-hot + rating = 1,012 dimensions, on synthetic films made here with a seeded RNG so
 * that the fitted statistics are known by hand:
 *
 * - durations 90, 120, 150 in equal thirds → mean 120, population std √600;
 * - ratings 5 … 9 in equal fifths → min 5, max 9;
 * - genre g appears in 390 − 20g films → the genres rank in list order;
 * - three stars in 600, 500 and 400 films, 997 actors in 2–7 films each, 200 extras in one film
 *   each → the 1,000 kept actors are the stars (columns 0, 1, 2) and the 997, the extras dropped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Random } from '../../vector/random.js';
import { FeatureEncoder, fitFeatureSchema } from './index.js';

const GENRES = ['Drama', 'Comedy', 'Thriller', 'Action', 'Romance', 'Horror', 'Documentary', 'Animation', 'Sci-Fi', 'Western'];
const STARS = ['Star One', 'Star Two', 'Star Three'];
const N = 3000;

interface Film { id: string; cast: string; duration: string; genre: string; rating: string }

function films(seed: number): { rows: Film[]; mains: string[]; extras: string[] } {
  const rng = new Random(seed);
  const genres = GENRES.flatMap((g, i) => new Array<string>(390 - 20 * i).fill(g));
  assert.equal(genres.length, N);
  rng.shuffle(genres);
  const casts: string[][] = Array.from({ length: N }, () => []);
  const cast = (actor: string, count: number): void => {
    const chosen = new Set<number>();
    while (chosen.size < count) chosen.add(rng.int(N));
    for (const f of chosen) casts[f]!.push(actor);
  };
  const mains = Array.from({ length: 997 }, (_, i) => `Actor ${String(i + 1).padStart(4, '0')}`);
  const extras = Array.from({ length: 200 }, (_, i) => `Extra ${String(i + 1).padStart(3, '0')}`);
  cast(STARS[0]!, 600);
  cast(STARS[1]!, 500);
  cast(STARS[2]!, 400);
  for (const a of mains) cast(a, 2 + rng.int(6));
  for (const a of extras) cast(a, 1);
  const order = rng.shuffle(Array.from({ length: N }, (_, i) => i));
  const rows = order.map((i, r) => ({
    id: `film-${r}`,
    cast: rng.shuffle(casts[i]!).join('|'),
    duration: String(90 + 30 * (i % 3)),
    genre: genres[i]!,
    rating: String(5 + (i % 5)),
  }));
  return { rows, mains, extras };
}

const SCHEMA = {
  fields: [
    { name: 'cast', type: 'multihot', separator: '|', maxCategories: 1000 },
    { name: 'duration', type: 'numeric', scale: 'standard' },
    { name: 'genre', type: 'onehot' },
    { name: 'rating', type: 'numeric', scale: 'minmax' },
  ],
};

test('film example: 1,000 actors + duration + 10 genres + rating = 1,012 dimensions, entries by hand', () => {
  const { rows, mains, extras } = films(2024);
  const fitted = fitFeatureSchema(SCHEMA, rows);
  const enc = new FeatureEncoder(fitted);
  assert.equal(enc.dim, 1012);

  const layout = enc.layout();
  assert.deepEqual(layout.map((s) => [s.name, s.type, s.offset, s.dims]), [
    ['cast', 'multihot', 0, 1000],
    ['duration', 'numeric', 1000, 1],
    ['genre', 'onehot', 1001, 10],
    ['rating', 'numeric', 1011, 1],
  ]);
  const actors = layout[0]!.categories!;
  assert.deepEqual(actors.slice(0, 3), STARS);
  assert.deepEqual(new Set(actors), new Set([...STARS, ...mains]));
  for (const x of extras) assert.equal(actors.includes(x), false);
  assert.deepEqual(layout[2]!.categories, GENRES);

  const duration = fitted.fields[1] as { mean: number; std: number; min: number; max: number };
  assert.ok(Math.abs(duration.mean - 120) < 1e-9 && Math.abs(duration.std - Math.sqrt(600)) < 1e-9);
  assert.equal(duration.min, 90);
  assert.equal(duration.max, 150);
  const rating = fitted.fields[3] as { min: number; max: number };
  assert.deepEqual([rating.min, rating.max], [5, 9]);

  const z = 30 / Math.sqrt(600); // 1.2247449…
  const actorColumn = new Map(actors.map((a, i) => [a, i]));
  let checked = 0;
  for (const row of rows.slice(0, 200)) {
    const v = enc.encode(row);
    const cast = row.cast === '' ? [] : row.cast.split('|');
    const kept = cast.filter((a) => actorColumn.has(a));
    for (const a of kept) assert.equal(v[actorColumn.get(a)!], 1);
    assert.equal(v.subarray(0, 1000).reduce((s, x) => s + x, 0), kept.length);
    assert.equal(v[0], cast.includes('Star One') ? 1 : 0);
    const d = Number(row.duration);
    assert.ok(Math.abs(v[1000]! - (d === 90 ? -z : d === 120 ? 0 : z)) < 1e-6);
    assert.equal(v[1001 + GENRES.indexOf(row.genre)], 1);
    assert.equal(v.subarray(1001, 1011).reduce((s, x) => s + x, 0), 1);
    assert.equal(v[1011], (Number(row.rating) - 5) / 4);
    checked++;
  }
  assert.equal(checked, 200);

  // A film of the hand example in docs/features.md: Star Two and an extra, 150 min, Western, rated 8.
  const v = enc.encode({ cast: 'Star Two|Extra 001', duration: '150', genre: 'Western', rating: '8' });
  assert.deepEqual(enc.explain(v).map((c) => [c.index, c.label, Math.round(c.value * 1e6) / 1e6]), [
    [1, 'Star Two', 1], [1000, 'duration', 1.224745], [1010, 'Western', 1], [1011, 'rating', 0.75],
  ]);

  // The fitted schema as JSON rebuilds the same encoder (bit for bit).
  const again = new FeatureEncoder(JSON.parse(JSON.stringify(fitted)));
  const a = enc.encodeBatch(rows);
  const b = again.encodeBatch(rows);
  assert.equal(a.count, N);
  assert.deepEqual(Buffer.from(a.data.buffer), Buffer.from(b.data.buffer));
});
