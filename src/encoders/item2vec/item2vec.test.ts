import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OmnivecError } from '../../errors.js';
import { Random } from '../../vector/random.js';
import { runNextItemProtocol } from './experiment.js';
import { readMovieLensSequences, readMovieTitles, splitCsvLine } from './movielens.js';
import { evaluateNextItem, leaveLastOut, popularityRecommender, vectorRecommender } from './protocol.js';
import { trainItem2Vec } from './train.js';

/**
 * Planted structure: `clusters` groups of `size` items; each user picks a group and consumes 6–14
 * of its items (popular ones more often, Zipf-like), in random order, with a 1-in-10 chance per
 * item of one from another group instead.
 */
function syntheticSequences(seed: number, users = 400, clusters = 8, size = 25): Map<string, string[]> {
  const rnd = new Random(seed);
  const weights = Array.from({ length: size }, (_, i) => 1 / Math.sqrt(i + 1));
  const pick = (avoid: Set<string>, cluster: number): string | undefined => {
    let total = 0;
    for (let i = 0; i < size; i++) if (!avoid.has(`c${cluster}i${i}`)) total += weights[i]!;
    if (total === 0) return undefined;
    let u = rnd.next() * total;
    for (let i = 0; i < size; i++) {
      if (avoid.has(`c${cluster}i${i}`)) continue;
      u -= weights[i]!;
      if (u <= 0) return `c${cluster}i${i}`;
    }
    return undefined;
  };
  const out = new Map<string, string[]>();
  for (let u = 0; u < users; u++) {
    const cluster = rnd.int(clusters);
    const n = 6 + rnd.int(9);
    const seen = new Set<string>();
    const seq: string[] = [];
    while (seq.length < n) {
      const c = rnd.next() < 0.1 ? rnd.int(clusters) : cluster;
      const item = pick(seen, c);
      if (item === undefined) break;
      seen.add(item);
      seq.push(item);
    }
    out.set(`u${u}`, seq);
  }
  return out;
}

test('protocol on planted clusters: Item2Vec beats popularity clearly', async () => {
  const sequences = syntheticSequences(7);
  const r = await runNextItemProtocol(sequences, { train: { epochs: 10, dim: 16, threads: 1, seed: 3 }, minCount: 1 });
  assert.equal(r.item2vec.users, 400);
  assert.equal(r.popularity.users, 400);
  assert.equal(r.item2vec.short, 0);
  assert.ok(r.item2vec.hitRate > 0.4, `item2vec hit rate ${r.item2vec.hitRate}`);
  assert.ok(r.item2vec.hitRate > 3 * r.popularity.hitRate, `item2vec ${r.item2vec.hitRate} vs popularity ${r.popularity.hitRate}`);
  assert.ok(r.item2vec.ndcg > 3 * r.popularity.ndcg, `item2vec NDCG ${r.item2vec.ndcg} vs popularity ${r.popularity.ndcg}`);
  // Items of one cluster are each other's nearest neighbours.
  const kv = r.kv;
  const unit = kv.unitVectors();
  const cos = (a: string, b: string): number => {
    let s = 0;
    for (let j = 0; j < kv.dim; j++) s += unit[kv.rowOf(a) * kv.dim + j]! * unit[kv.rowOf(b) * kv.dim + j]!;
    return s;
  };
  assert.ok(cos('c0i0', 'c0i1') > cos('c0i0', 'c1i0') + 0.2);
});

test('trainItem2Vec: a file of sequences, one user a line; seeded single-thread training is reproducible', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-i2v-'));
  try {
    const sequences = [...syntheticSequences(11, 120).values()];
    const file = join(dir, 'seq.txt');
    writeFileSync(file, sequences.map((s) => s.join(' ')).join('\n') + '\n');
    const a = await trainItem2Vec(file, { epochs: 3, dim: 8, threads: 1, seed: 5 });
    const b = await trainItem2Vec(sequences, { epochs: 3, dim: 8, threads: 1, seed: 5 });
    assert.equal(a.dim, 8);
    assert.deepEqual(a.words, b.words);
    assert.deepEqual(a.vectors, b.vectors);
    assert.ok(a.counts !== null && a.counts[0]! >= a.counts[a.size - 1]!, 'most frequent first, with counts');
    const items = new Set(sequences.flat());
    assert.equal(a.size, items.size, 'minCount 1: every item gets a vector');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('trainItem2Vec: unknown options and empty sequences are invalid_argument', async () => {
  await assert.rejects(trainItem2Vec([['a', 'b']], { epoch: 3 } as never), (e: unknown) => e instanceof OmnivecError && e.code === 'invalid_argument' && /epoch/.test(e.message));
  await assert.rejects(trainItem2Vec([], {}), (e: unknown) => e instanceof OmnivecError && e.code === 'invalid_argument');
});

test('leaveLastOut and evaluateNextItem: held-out last items, hit rate and NDCG by rank', () => {
  const split = leaveLastOut(new Map([['u1', ['a', 'b', 'c']], ['u2', ['d']], ['u3', ['b', 'e']], ['u4', ['a', 'f']]]));
  assert.deepEqual([...split.heldOut], [['u1', 'c'], ['u3', 'e'], ['u4', 'f']]);
  assert.deepEqual(split.train.get('u1'), ['a', 'b']);
  assert.deepEqual(split.train.get('u2'), ['d'], 'a one-item user keeps it for training');
  // A fake recommender: u1's target at rank 0, u3's at rank 2, u4's missing.
  const fixed: Record<string, string[]> = { 'a b': ['c', 'x'], b: ['x', 'y', 'e'], a: ['x'] };
  const s = evaluateNextItem(split, (h) => fixed[h.join(' ')]!, { k: 3 });
  assert.equal(s.users, 3);
  assert.equal(s.hits, 2);
  assert.ok(Math.abs(s.hitRate - 2 / 3) < 1e-12);
  assert.ok(Math.abs(s.ndcg - (1 + 1 / Math.log2(4)) / 3) < 1e-12);
  assert.equal(s.short, 2);
  // Only the first k count.
  assert.equal(evaluateNextItem(split, (h) => fixed[h.join(' ')]!, { k: 2 }).hits, 1);
});

test('popularityRecommender: most frequent unseen items, ties in first-seen order', () => {
  const rec = popularityRecommender([['a', 'b', 'c'], ['b', 'c'], ['c', 'd'], ['e']]);
  assert.deepEqual(rec([], 3), ['c', 'b', 'a']);
  assert.deepEqual(rec(['c', 'a'], 3), ['b', 'd', 'e']);
});

test('vectorRecommender: a history with no known item gets nothing (a miss)', async () => {
  const kv = await trainItem2Vec([['a', 'b', 'c'], ['b', 'c', 'd']], { epochs: 1, dim: 4, threads: 1 });
  const rec = vectorRecommender(kv, { minCount: 1 });
  assert.deepEqual(rec(['zz'], 10), []);
  assert.equal(rec(['zz', 'a'], 10).length, 3);
});

test('MovieLens readers: liked movies by time, ties by movieId; quoted titles', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-ml-'));
  try {
    writeFileSync(join(dir, 'ratings.csv'), 'userId,movieId,rating,timestamp\n1,10,4.0,300\n1,2,5.0,300\n1,3,3.5,100\n1,50,4.5,100\n2,7,4.0,5\n3,1,2.0,1\n');
    writeFileSync(join(dir, 'movies.csv'), 'movieId,title,genres\n2,"American President, The (1995)",Comedy\n3,"A ""quoted"" one",Drama\n10,Plain (1990),Drama\n');
    const seqs = await readMovieLensSequences(dir);
    assert.deepEqual([...seqs], [['1', ['50', '2', '10']], ['2', ['7']]]);
    assert.deepEqual([...(await readMovieLensSequences(dir, { minRating: 3.5 })).get('1')!], ['3', '50', '2', '10']);
    const titles = await readMovieTitles(dir);
    assert.equal(titles.get('2'), 'American President, The (1995)');
    assert.equal(titles.get('3'), 'A "quoted" one');
    assert.equal(titles.get('10'), 'Plain (1990)');
    assert.deepEqual(splitCsvLine('a,"b,c",,d'), ['a', 'b,c', '', 'd']);
    await assert.rejects(readMovieLensSequences(join(dir, 'nope')), (e: unknown) => e instanceof OmnivecError && e.code === 'not_found');
    writeFileSync(join(dir, 'ratings.csv'), 'user,movie\n1,2\n');
    await assert.rejects(readMovieLensSequences(dir), (e: unknown) => e instanceof OmnivecError && e.code === 'corrupt_file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const ML = join(import.meta.dirname, '../../../../shared/data/movielens-latest-small');
test('MovieLens latest-small: 609 users with a liked movie, 48,580 liked ratings', { skip: !existsSync(ML) && 'no shared data' }, async () => {
  const seqs = await readMovieLensSequences(ML);
  assert.equal(seqs.size, 609);
  assert.equal([...seqs.values()].reduce((s, x) => s + x.length, 0), 48_580);
  assert.equal(leaveLastOut(seqs).heldOut.size, 608);
});
