import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OmnivecError } from '../../errors.js';
import { Random } from '../../vector/random.js';
import { fitFeatures } from '../recsys/features.js';
import { loadRecsys, saveRecsys } from '../recsys/files.js';
import { trainTwoTower, type TwoTowerModel } from './train.js';

/**
 * Two genres: users of genre A watch A films only, users of B watch B films. Films a0…a9 are
 * "A", b0…b9 "B"; a film of each genre ("aNew", "bNew") has features but is never watched.
 */
function genreWorld(seed = 1): { seqs: Map<string, string[]>; rows: string[][] } {
  const rng = new Random(seed);
  const seqs = new Map<string, string[]>();
  for (let u = 0; u < 120; u++) {
    const g = u % 2 === 0 ? 'a' : 'b';
    const picks = rng.sample(10, 5);
    rng.shuffle(picks);
    seqs.set(`u${u}`, [...picks].map((i) => `${g}${i}`));
  }
  const rows: string[][] = [];
  for (const g of ['a', 'b']) {
    for (let i = 0; i < 10; i++) rows.push([`${g}${i}`, g === 'a' ? 'Action|Thriller' : 'Comedy|Romance', String(1990 + i)]);
    rows.push([`${g}New`, g === 'a' ? 'Action|Thriller' : 'Comedy|Romance', '2001']);
  }
  return { seqs, rows };
}

function ranked(m: TwoTowerModel, history: string[]): string[] {
  const u = m.userVector({ history });
  const { ids, vectors } = m.itemVectors();
  return ids.map((id, i) => {
    let s = 0;
    for (let j = 0; j < m.dim; j++) s += u[j]! * vectors[i * m.dim + j]!;
    return { id, s };
  }).filter((x) => !history.includes(x.id)).sort((a, b) => b.s - a.s).map((x) => x.id);
}

test('cold start: an item never seen in training, with features, gets a vector and is recommended to users of its genre', () => {
  const { seqs, rows } = genreWorld();
  const itemFeatures = fitFeatures(['id', 'genres', 'year'], rows);
  const m = trainTwoTower(seqs, { dim: 8, hidden: [16], epochs: 30, batchSize: 32, lr: 0.01, seed: 3, itemFeatures, idDropout: 0.3 });
  assert.equal(m.vocab.index.has('aNew'), false, 'aNew was not in training');
  const { ids } = m.itemVectors();
  assert.ok(ids.includes('aNew') && ids.includes('bNew'), 'the cold-start items get vectors');
  let aHits = 0, bHits = 0, users = 0;
  for (const [u, h] of seqs) {
    if (Number(u.slice(1)) >= 40) break;
    const history = h.slice(0, 4);
    const top = ranked(m, history).slice(0, 7); // 6 unseen films of the genre + its new one
    const mine = u.slice(1) === '' ? 'a' : Number(u.slice(1)) % 2 === 0 ? 'a' : 'b';
    users++;
    if (top.includes(`${mine}New`)) aHits++;
    if (top.includes(`${mine === 'a' ? 'b' : 'a'}New`)) bHits++;
  }
  assert.ok(aHits >= 0.8 * users, `own genre's new item in the top 7 for ${aHits} of ${users} users`);
  assert.ok(bHits <= 0.1 * users, `other genre's new item in the top 7 for ${bHits} of ${users} users`);
});

test('two-tower: reproducible for a seed; save / load keeps the item tower (cold start included)', async () => {
  const { seqs, rows } = genreWorld(2);
  const itemFeatures = fitFeatures(['id', 'genres', 'year'], rows);
  const o = { dim: 8, hidden: [16], epochs: 2, batchSize: 16, lr: 0.01, seed: 4, itemFeatures };
  const a = trainTwoTower(seqs, o);
  const b = trainTwoTower(seqs, o);
  assert.deepEqual(a.itemVectors(), b.itemVectors());
  assert.deepEqual(a.stats!.epochs.map((e) => e.loss), b.stats!.epochs.map((e) => e.loss));
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-2t-'));
  try {
    await saveRecsys(a, dir);
    const back = await loadRecsys(dir);
    assert.equal(back.kind, 'two-tower');
    assert.deepEqual(back.itemVectors(), a.itemVectors());
    assert.deepEqual(back.userVector({ history: ['a1', 'a2'] }), a.userVector({ history: ['a1', 'a2'] }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => trainTwoTower(seqs, { idDropout: 2 }), (e: unknown) => e instanceof OmnivecError && e.code === 'invalid_argument' && /idDropout/.test(e.message));
});

test('two-tower on 2 threads: reproducible bit for bit, within float rounding of 1 thread (features, id dropout, tied and untied)', () => {
  const { seqs, rows } = genreWorld(5);
  const itemFeatures = fitFeatures(['id', 'genres', 'year'], rows);
  for (const tie of [true, false]) {
    const o = { dim: 8, hidden: [16], epochs: 3, batchSize: 24, lr: 0.01, seed: 6, itemFeatures, idDropout: 0.2, horizon: 2, tie, ...(tie ? {} : { embeddingDim: 6, residual: false }) };
    const one = trainTwoTower(seqs, o);
    const a = trainTwoTower(seqs, { ...o, threads: 2 });
    const b = trainTwoTower(seqs, { ...o, threads: 2 });
    assert.deepEqual(a.itemVectors(), b.itemVectors());
    assert.deepEqual(Buffer.from(a.tower.mlp.params.buffer), Buffer.from(b.tower.mlp.params.buffer));
    assert.deepEqual(a.stats!.epochs.map((e) => e.loss), b.stats!.epochs.map((e) => e.loss));
    one.stats!.epochs.forEach((e, i) => assert.ok(Math.abs(e.loss - a.stats!.epochs[i]!.loss) < 1e-5 * e.loss, `epoch ${i + 1}: loss ${e.loss} vs ${a.stats!.epochs[i]!.loss}`));
    // The item tower's output bias gets an exact-zero gradient (in-batch softmax: each row's
    // probabilities sum to 1), so it walks on rounding noise that Adam scales up to ±lr a step:
    // it differs between the runs but adds the same vector to every item, which ranks nothing.
    // Compared: everything else, and the item vectors up to that common shift.
    const d = 8;
    const p1 = one.itemTower.params, p2 = a.itemTower.params;
    let m = 0;
    for (let i = 0; i < p1.length - d; i++) m = Math.max(m, Math.abs(p1[i]! - p2[i]!));
    for (let i = 0; i < one.idEmbed.length; i++) m = Math.max(m, Math.abs(one.idEmbed[i]! - a.idEmbed[i]!));
    for (let i = 0; i < one.tower.mlp.params.length; i++) m = Math.max(m, Math.abs(one.tower.mlp.params[i]! - a.tower.mlp.params[i]!));
    assert.ok(m > 0 && m < 1e-3, `weights within ${m} of 1 thread's`);
    const v1 = one.itemVectors().vectors, v2 = a.itemVectors().vectors;
    let shift = 0;
    for (let i = d; i < v1.length; i++) shift = Math.max(shift, Math.abs((v1[i]! - v2[i]!) - (v1[i % d]! - v2[i % d]!)));
    assert.ok(shift < 1e-3, `item vectors within ${shift} of 1 thread's, up to one common shift`);
  }
});
