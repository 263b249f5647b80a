import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from '../db/database.js';
import type { Collection } from '../db/collection.js';
import { Random } from '../vector/random.js';
import type { KeyedVectors } from '../encoders/word2vec/keyed-vectors.js';
import { trainItem2Vec } from '../encoders/item2vec/train.js';
import { recommend } from '../encoders/item2vec/recommend.js';
import { readMovieLensSequences } from '../encoders/item2vec/movielens.js';
import { evaluateNextItem, leaveLastOut, popularityRecommender, vectorRecommender, QUERY_DEFAULTS } from '../encoders/item2vec/protocol.js';
import { recommendFromCollection } from './recommend.js';
import { withDatabase, hasCode } from '../../test/helpers/assertions.js';

const withDb = (fn: (db: Database) => Promise<void>): Promise<void> => withDatabase('omnivec-recommend-', fn);

const code = hasCode;

/** An Item2Vec collection as `train item2vec --into` makes it: cosine, `count` in the metadata. */
async function intoCollection(db: Database, name: string, kv: KeyedVectors): Promise<Collection> {
  const c = await db.createCollection({ name, dim: kv.dim });
  await c.add({
    ids: [...kv.words],
    vectors: kv.words.map((_, i) => kv.row(i)),
    metadatas: kv.words.map((_, i) => ({ count: kv.counts![i]! })),
  });
  return c;
}

/** Users who buy within one of four themes of 15 items each, with some noise. */
function sequences(seed: number): string[][] {
  const rng = new Random(seed);
  const out: string[][] = [];
  for (let u = 0; u < 400; u++) {
    const theme = rng.int(4);
    const seq: string[] = [];
    const len = 4 + rng.int(8);
    for (let i = 0; i < len; i++) seq.push(rng.next() < 0.85 ? `t${theme}-${rng.int(15)}` : `t${rng.int(4)}-${rng.int(15)}`);
    out.push(seq);
  }
  return out;
}

test('recommendFromCollection gives the items of Item2Vec\'s recommend on the same vectors (item, history, exclude, minCount as where)', async () => {
  const kv = await trainItem2Vec(sequences(5), { dim: 16, epochs: 5, threads: 1, seed: 2, sample: 0 });
  await withDb(async (db) => {
    const c = await intoCollection(db, 'items', kv);
    const rng = new Random(8);
    for (let trial = 0; trial < 30; trial++) {
      const item = kv.words[rng.int(kv.size)]!;
      const want = recommend(kv, { item }, { k: 8 });
      const got = await recommendFromCollection(c, { item, k: 8 });
      assert.deepEqual(got.map((r) => r.id), want.map((r) => r.item), `item ${item}`);
      got.forEach((r, i) => assert.ok(Math.abs(r.score - want[i]!.score) < 1e-5));

      const history = Array.from({ length: 1 + rng.int(7) }, () => kv.words[rng.int(kv.size)]!);
      const recent = 1 + rng.int(6);
      const decay = [1, 0.8, 0.5][rng.int(3)]!;
      const exclude = [kv.words[rng.int(kv.size)]!, 'not-an-item'];
      const wantH = recommend(kv, { history, recent, decay }, { k: 10, exclude, minCount: 5 });
      const gotH = await recommendFromCollection(c, { history, recent, decay, k: 10, exclude, where: { count: { $gte: 5 } } });
      assert.deepEqual(gotH.map((r) => r.id), wantH.map((r) => r.item), `history ${history.join(' ')}`);
      for (const r of gotH) assert.ok(!history.includes(r.id) && !exclude.includes(r.id));
    }
    // Defaults: recent 5, decay 0.8.
    const history = kv.words.slice(0, 8);
    assert.deepEqual((await recommendFromCollection(c, { history })).map((r) => r.id),
      recommend(kv, { history, recent: 5, decay: 0.8 }, { k: 10 }).map((r) => r.item));
  });
});

test('recommendFromCollection errors: unknown ids are not_found naming them; bad options; empty collection', async () => {
  await withDb(async (db) => {
    const c = await db.createCollection({ name: 'tiny', dim: 2 });
    await assert.rejects(recommendFromCollection(c, { item: 'a' }), code('empty_index'));
    await c.add({ ids: ['a', 'b', 'c'], vectors: [[1, 0], [0.9, 0.1], [0, 1]] });
    await assert.rejects(recommendFromCollection(c, { item: 'zz' }), (e: unknown) => code('not_found')(e) && /"zz"/.test((e as Error).message));
    await assert.rejects(recommendFromCollection(c, { history: ['a', 'yy', 'xx'] }), (e: unknown) => code('not_found')(e) && /"yy"/.test((e as Error).message) && /"xx"/.test((e as Error).message));
    await assert.rejects(recommendFromCollection(c, {}), code('invalid_argument'));
    await assert.rejects(recommendFromCollection(c, { item: 'a', history: ['b'] }), code('invalid_argument'));
    await assert.rejects(recommendFromCollection(c, { history: [] }), code('invalid_argument'));
    await assert.rejects(recommendFromCollection(c, { item: 'a', decay: 0 }), code('invalid_argument'));
    await assert.rejects(recommendFromCollection(c, { item: 'a', k: 0 }), code('invalid_argument'));
    assert.deepEqual((await recommendFromCollection(c, { item: 'a', k: 5 })).map((r) => r.id), ['b', 'c'], 'k beyond the records: every other record');
    assert.deepEqual(await recommendFromCollection(c, { history: ['a', 'b', 'c'] }), []);
  });
});

const ML = join(import.meta.dirname, '../../../shared/data/movielens-latest-small');

test('MovieLens: hit rate@10 through the collection equals Item2Vec\'s and is ≥ 1.5× popularity', { skip: !existsSync(ML) && 'no shared MovieLens data' }, async (t) => {
  const t0 = performance.now();
  const split = leaveLastOut(await readMovieLensSequences(ML));
  const kv = await trainItem2Vec(split.train.values(), { seed: 1 });
  const t1 = performance.now();
  await withDb(async (db) => {
    const c = await intoCollection(db, 'movies', kv);
    const t2 = performance.now();
    const recs = new Map<string, string[]>();
    for (const [user] of split.heldOut) {
      const history = split.train.get(user)!;
      const got = await recommendFromCollection(c, {
        history, k: 10, recent: history.length, decay: QUERY_DEFAULTS.decay, where: { count: { $gte: QUERY_DEFAULTS.minCount } },
      });
      recs.set(history.join(' '), got.map((r) => r.id));
    }
    const t3 = performance.now();
    const viaCollection = evaluateNextItem(split, (history) => recs.get(history.join(' '))!, { k: 10 });
    const oracle = evaluateNextItem(split, vectorRecommender(kv), { k: 10 });
    const popularity = evaluateNextItem(split, popularityRecommender(split.train.values()), { k: 10 });
    t.diagnostic(`MovieLens hit rate@10: collection ${viaCollection.hitRate.toFixed(4)} (NDCG ${viaCollection.ndcg.toFixed(4)}), Item2Vec recommend ${oracle.hitRate.toFixed(4)}, popularity ${popularity.hitRate.toFixed(4)}, ratio ${(viaCollection.hitRate / popularity.hitRate).toFixed(2)}×; train ${((t1 - t0) / 1000).toFixed(1)} s, store ${((t2 - t1) / 1000).toFixed(1)} s, ${viaCollection.users} queries ${((t3 - t2) / 1000).toFixed(2)} s`);
    assert.equal(viaCollection.hits, oracle.hits);
    assert.ok(viaCollection.hitRate >= 1.5 * popularity.hitRate, `${viaCollection.hitRate} vs popularity ${popularity.hitRate}`);
  });
});
