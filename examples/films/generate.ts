/**
 * Writes examples/films/films.csv: 1,000 synthetic films (made-up titles and people, seeded, so
 * the file is the same on every run) for the feature-vector walkthrough in docs/features.md.
 *
 *   node --import tsx examples/films/generate.ts
 *
 * Columns: id, title, year, cast (actors separated by "|"), duration (minutes), genre, rating
 * (0–10, one decimal; ~2 % left empty), tags ("|"-separated keywords). About 1,300 people act;
 * their popularity is Zipf-like, so `maxCategories: 1000` keeps the 1,000 most cast.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Random } from '../../src/vector/random.js';

const FIRST = ['Ada', 'Bruno', 'Clara', 'Dmitri', 'Elena', 'Farid', 'Greta', 'Hiro', 'Ines', 'Jonas', 'Kira', 'Luca',
  'Mara', 'Nikos', 'Olga', 'Pablo', 'Quinn', 'Rosa', 'Sven', 'Tala', 'Umar', 'Vera', 'Wen', 'Xenia', 'Yusuf', 'Zora',
  'Amos', 'Bea', 'Cyril', 'Dalia', 'Emil', 'Freya', 'Gideon', 'Hana', 'Ivo', 'Juno', 'Kofi', 'Lena', 'Milo', 'Nadia'];
const LAST = ['Abara', 'Berg', 'Castell', 'Dunmore', 'Eklund', 'Ferro', 'Galloway', 'Hollis', 'Ibsen', 'Jarvik', 'Kovac',
  'Lindqvist', 'Moreau', 'Novak', 'Okafor', 'Petrov', 'Quill', 'Rinaldi', 'Sato', 'Thorne', 'Ulloa', 'Varga', 'Weller',
  'Xu', 'Yilmaz', 'Zeller', 'Ashby', 'Brandt', 'Corvin', 'Delacroix', 'Esposito', 'Falk', 'Greer', 'Haas', 'Ivers',
  'Janssen', 'Kaur', 'Lund', 'Marsh', 'Nilsen'];
const GENRES: [string, number][] = [
  ['Drama', 22], ['Comedy', 17], ['Thriller', 12], ['Action', 11], ['Romance', 9],
  ['Horror', 8], ['Documentary', 7], ['Animation', 6], ['Sci-Fi', 5], ['Western', 3],
];
const ADJECTIVES = ['Silent', 'Crimson', 'Last', 'Hidden', 'Broken', 'Golden', 'Distant', 'Quiet', 'Burning', 'Lost',
  'Northern', 'Paper', 'Hollow', 'Restless', 'Winter'];
const NOUNS = ['Harbor', 'Letter', 'Garden', 'Frontier', 'Signal', 'Orchard', 'Mirror', 'Station', 'Tide', 'Kingdom',
  'Bridge', 'Lantern', 'Island', 'Promise', 'Road'];
const TAGS = ['heist', 'noir', 'coming-of-age', 'road-trip', 'based-on-a-true-story', 'ensemble', 'twist-ending',
  'period-piece', 'small-town', 'space', 'revenge', 'friendship', 'musical', 'courtroom', 'family', 'dystopia'];

const rng = new Random(20240401);
const people = rng.shuffle(FIRST.flatMap((f) => LAST.map((l) => `${f} ${l}`))).slice(0, 1300);
// Zipf-like popularity: person k is cast with weight 1 / (k + 10).
const weights = people.map((_, k) => 1 / (k + 10));
const cumulative: number[] = [];
weights.reduce((s, w, k) => (cumulative[k] = s + w), 0);
const total = cumulative[cumulative.length - 1]!;
function person(): string {
  const x = rng.next() * total;
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return people[lo]!;
}
const genreTotal = GENRES.reduce((s, [, w]) => s + w, 0);
function genre(): string {
  let x = rng.next() * genreTotal;
  for (const [g, w] of GENRES) { x -= w; if (x < 0) return g; }
  return GENRES[0]![0];
}

function csvCell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const lines = ['id,title,year,cast,duration,genre,rating,tags'];
for (let i = 0; i < 1000; i++) {
  const g = genre();
  const size = 3 + rng.int(5);
  const cast = new Set<string>();
  while (cast.size < size) cast.add(person());
  const base = g === 'Animation' ? 88 : g === 'Documentary' ? 95 : g === 'Drama' ? 118 : 105;
  const duration = Math.max(70, Math.min(200, Math.round(base + rng.gaussian() * 15)));
  const rating = rng.next() < 0.02 ? '' : Math.max(1, Math.min(10, 6.4 + rng.gaussian() * 1.2)).toFixed(1);
  let title = `The ${ADJECTIVES[rng.int(ADJECTIVES.length)]} ${NOUNS[rng.int(NOUNS.length)]}`;
  if (rng.next() < 0.1) title += `, Part ${2 + rng.int(3)}`;
  if (rng.next() < 0.03) title = `"${title.slice(4)}"`;
  const tags = new Set<string>();
  const nTags = rng.int(4);
  while (tags.size < nTags) tags.add(TAGS[rng.int(TAGS.length)]!);
  lines.push([
    `film-${String(i + 1).padStart(4, '0')}`, csvCell(title), String(1950 + rng.int(75)), csvCell([...cast].join('|')),
    String(duration), g, rating, [...tags].join('|'),
  ].join(','));
}
writeFileSync(join(import.meta.dirname, 'films.csv'), lines.join('\n') + '\n');
