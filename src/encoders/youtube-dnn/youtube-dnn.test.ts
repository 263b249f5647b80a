import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OmnivecError } from '../../errors.js';
import { Random } from '../../vector/random.js';
import { fitFeatures } from '../recsys/features.js';
import { loadRecsys, saveRecsys } from '../recsys/files.js';
import { trainYoutubeDnn, type YoutubeDnnModel } from './train.js';
import { poolSize } from '../../parallel/pool.js';

/** 12 items in a cycle: every user walks i → i+1 (mod 12) from a random start. */
function cycles(users: number, length: number, seed = 9): Map<string, string[]> {
  const rng = new Random(seed);
  const out = new Map<string, string[]>();
  for (let u = 0; u < users; u++) {
    const s = rng.int(12);
    out.set(`u${u}`, Array.from({ length }, (_, j) => `i${(s + j) % 12}`));
  }
  return out;
}

const small = { dim: 8, hidden: [16], epochs: 25, negatives: 5, batchSize: 16, lr: 0.01 };

function top(m: YoutubeDnnModel, history: string[], userId?: string): string[] {
  const u = m.userVector({ history, ...(userId !== undefined ? { userId } : {}) });
  const { ids, vectors } = m.itemVectors();
  const scores = ids.map((id, i) => {
    let s = 0;
    for (let j = 0; j < m.dim; j++) s += u[j]! * vectors[i * m.dim + j]!;
    return { id, s };
  });
  return scores.filter((x) => !history.includes(x.id)).sort((a, b) => b.s - a.s).map((x) => x.id);
}

test('YouTube DNN learns the next item of a cycle from the history before it', () => {
  const m = trainYoutubeDnn(cycles(60, 6), { ...small, seed: 2 });
  let right = 0;
  for (let s = 0; s < 12; s++) {
    const history = [0, 1, 2].map((j) => `i${(s + j) % 12}`);
    if (top(m, history)[0] === `i${(s + 3) % 12}`) right++;
  }
  assert.ok(right >= 10, `next item first for ${right} of 12 histories`);
  const loss = m.stats!.epochs.map((e) => e.loss);
  assert.ok(loss[loss.length - 1]! < loss[0]! * 0.6, `loss ${loss[0]} → ${loss[loss.length - 1]}`);
});

test('a seeded single-thread run is reproducible bit for bit; another seed differs', () => {
  const seqs = cycles(30, 5);
  const a = trainYoutubeDnn(seqs, { ...small, epochs: 3, seed: 5 });
  const b = trainYoutubeDnn(seqs, { ...small, epochs: 3, seed: 5 });
  const c = trainYoutubeDnn(seqs, { ...small, epochs: 3, seed: 6 });
  assert.deepEqual(Buffer.from(a.output.buffer), Buffer.from(b.output.buffer));
  assert.deepEqual(Buffer.from(a.tower.mlp.params.buffer), Buffer.from(b.tower.mlp.params.buffer));
  assert.deepEqual(a.stats!.epochs.map((e) => e.loss), b.stats!.epochs.map((e) => e.loss));
  assert.notDeepEqual(Buffer.from(a.output.buffer), Buffer.from(c.output.buffer));
});

test('user features feed the tower: two users with the same history, different features, get different answers', () => {
  // Users of group x go 0→1→2…; users of group y go backwards: only the feature tells them apart.
  const seqs = new Map<string, string[]>();
  const rows: string[][] = [];
  const rng = new Random(4);
  for (let u = 0; u < 80; u++) {
    const fwd = u % 2 === 0;
    const s = rng.int(12);
    seqs.set(`u${u}`, Array.from({ length: 5 }, (_, j) => `i${(s + (fwd ? j : 12 - j)) % 12}`));
    rows.push([`u${u}`, fwd ? 'x' : 'y']);
  }
  const feats = fitFeatures(['id', 'group'], rows);
  const m = trainYoutubeDnn(seqs, { ...small, epochs: 40, seed: 1, userFeatures: feats, maxHistory: 1, recent: 0 });
  let ok = 0;
  for (const [u, h] of [['u0', ['i5']], ['u1', ['i5']], ['u2', ['i8']], ['u3', ['i8']]] as const) {
    const want = u === 'u0' || u === 'u2' ? `i${(Number(h[0]!.slice(1)) + 1) % 12}` : `i${(Number(h[0]!.slice(1)) + 11) % 12}`;
    if (top(m, [...h], u)[0] === want) ok++;
  }
  assert.ok(ok >= 3, `${ok} of 4 users got their group's next item`);
});

test('save and load: the same user vectors and item vectors; a damaged file is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-ytdnn-'));
  try {
    const m = trainYoutubeDnn(cycles(20, 4), { ...small, epochs: 2, seed: 3 });
    await saveRecsys(m, dir);
    const back = await loadRecsys(dir);
    assert.equal(back.kind, 'youtube-dnn');
    assert.deepEqual(back.itemVectors(), m.itemVectors());
    assert.deepEqual(back.userVector({ history: ['i1', 'i2'] }), m.userVector({ history: ['i1', 'i2'] }));
    const w = join(dir, 'weights.f32');
    const bytes = readFileSync(w);
    bytes[10] ^= 0xff;
    writeFileSync(w, bytes);
    await assert.rejects(loadRecsys(dir), (e: unknown) => e instanceof OmnivecError && e.code === 'corrupt_file' && /checksum/.test(e.message));
    const j = JSON.parse(readFileSync(join(dir, 'recsys.json'), 'utf8')) as { version: number };
    writeFileSync(join(dir, 'recsys.json'), JSON.stringify({ ...j, version: 99 }));
    await assert.rejects(loadRecsys(dir), (e: unknown) => e instanceof OmnivecError && e.code === 'unsupported_version');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad input: options, sequences, histories', () => {
  const seqs = cycles(5, 3);
  const code = (c: string, re: RegExp) => (e: unknown): boolean => e instanceof OmnivecError && e.code === c && re.test(e.message);
  assert.throws(() => trainYoutubeDnn(seqs, { epoch: 3 } as never), code('invalid_argument', /options\.epoch: unknown/));
  assert.throws(() => trainYoutubeDnn(seqs, { threads: 0 }), code('invalid_argument', /threads/));
  assert.throws(() => trainYoutubeDnn(seqs, { average: -1 }), code('invalid_argument', /average/));
  assert.throws(() => trainYoutubeDnn(seqs, { dim: 8, initialItems: { words: ['i0'], dim: 4, vectors: new Float32Array(4) } }), code('dimension_mismatch', /initialItems: expected vectors of dim 8/));
  assert.throws(() => trainYoutubeDnn(seqs, { dim: 8, embeddingDim: 4 }), code('invalid_argument', /tie/));
  assert.throws(() => trainYoutubeDnn(new Map([['u', ['a']]]), {}), code('invalid_argument', /two or more items/));
  assert.throws(() => trainYoutubeDnn(new Map([['u', []]]), {}), code('invalid_argument', /at least one item/));
  const m = trainYoutubeDnn(seqs, { ...small, epochs: 1 });
  assert.throws(() => m.userVector({ history: [] }), code('invalid_argument', /empty history/));
  const known = seqs.get('u0')![0]!;
  assert.throws(() => m.userVector({ history: [known, 'zz'] }), code('not_found', /"zz"/));
  assert.equal(m.userVector({ history: [known, 'zz'], unknown: 'skip' }).length, 8);
  assert.throws(() => m.userVector({ history: ['zz'], unknown: 'skip' }), code('invalid_argument', /none of its items/));
});

/** Largest |a − b| over two arrays of the same length. */
function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('2 threads: a run reproduces itself bit for bit and trains to within float rounding of 1 thread (tied and untied tables, user features); its model saves and loads', async () => {
  const seqs = cycles(60, 8);
  const feats = fitFeatures(['id', 'group'], [...seqs.keys()].map((u, i) => [u, i % 3 === 0 ? 'x' : 'y']));
  for (const tie of [true, false]) {
    const o = { ...small, epochs: 3, seed: 7, horizon: 2, userFeatures: feats, tie, ...(tie ? {} : { embeddingDim: 6, residual: false }) };
    const one = trainYoutubeDnn(seqs, o);
    const a = trainYoutubeDnn(seqs, { ...o, threads: 2 });
    const b = trainYoutubeDnn(seqs, { ...o, threads: 2 });
    assert.equal(a.stats!.threads, 2);
    assert.deepEqual(Buffer.from(a.output.buffer), Buffer.from(b.output.buffer));
    assert.deepEqual(Buffer.from(a.tower.mlp.params.buffer), Buffer.from(b.tower.mlp.params.buffer));
    assert.deepEqual(Buffer.from(a.tower.embed.buffer), Buffer.from(b.tower.embed.buffer));
    assert.deepEqual(a.stats!.epochs.map((e) => e.loss), b.stats!.epochs.map((e) => e.loss));
    // The same examples and negatives; only the order of the gradient sums differs.
    one.stats!.epochs.forEach((e, i) => assert.ok(Math.abs(e.loss - a.stats!.epochs[i]!.loss) < 1e-5 * e.loss, `epoch ${i + 1}: loss ${e.loss} vs ${a.stats!.epochs[i]!.loss}`));
    assert.ok(maxDiff(one.output, a.output) < 1e-3, `item vectors within ${maxDiff(one.output, a.output)}`);
    assert.ok(maxDiff(one.tower.mlp.params, a.tower.mlp.params) < 1e-3);
    if (!tie) assert.ok(maxDiff(one.tower.embed, a.tower.embed) < 1e-3);
    assert.notDeepEqual(Buffer.from(one.output.buffer), Buffer.from(a.output.buffer), 'the sums are really split');
    // The weights live in shared memory: the files must not care.
    const dir = mkdtempSync(join(tmpdir(), 'omnivec-ytdnn-threads-'));
    try {
      await saveRecsys(a, dir);
      const back = await loadRecsys(dir);
      assert.deepEqual(back.itemVectors(), a.itemVectors());
      assert.deepEqual(back.userVector({ history: ['i1', 'i2'], userId: 'u0' }), a.userVector({ history: ['i1', 'i2'], userId: 'u0' }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  assert.ok(poolSize() >= 1, 'a pool worker took part');
});

test('average: the served weights are the moving average (over ~0 epochs: the last weights; over 1: a different point)', () => {
  const seqs = cycles(40, 6);
  const o = { ...small, epochs: 3, seed: 2, average: 0 };
  const live = trainYoutubeDnn(seqs, o);
  const tiny = trainYoutubeDnn(seqs, { ...o, average: 1e-9 });
  assert.ok(maxDiff(live.output, tiny.output) < 1e-6, 'a window of ~0 steps keeps the last step\'s weights');
  const avg = trainYoutubeDnn(seqs, { ...o, average: 1 });
  assert.ok(maxDiff(live.output, avg.output) > 1e-4, 'β = 0.9 serves other weights');
  assert.deepEqual(live.stats!.epochs.map((e) => e.loss), avg.stats!.epochs.map((e) => e.loss), 'averaging does not change training');
  let seen = 0;
  trainYoutubeDnn(seqs, { ...o, average: 1, onEpoch: (_e, m) => { seen++; if (seen === 3) assert.deepEqual(Buffer.from((m as YoutubeDnnModel).output.buffer), Buffer.from(avg.output.buffer)); } });
  assert.equal(seen, 3);
});
