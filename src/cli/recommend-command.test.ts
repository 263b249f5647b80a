import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OmnivecError } from '../errors.js';
import { openDatabase } from '../db/database.js';
import type { Out } from './db-commands.js';
import { cmdRecommendUsers, cmdTrainRecsys } from './recommend-command.js';
import { cmdTrainItem2Vec } from './item2vec-commands.js';

function capture(): Out & { lines: string[]; values: unknown[] } {
  const lines: string[] = [];
  const values: unknown[] = [];
  return { lines, values, line: (s) => { lines.push(s); }, json: (v) => { values.push(v); } };
}

/** Users walk a cycle of 12 films; films of the first half are "Drama", the rest "Comedy". */
function world(dir: string): { seqs: string; items: string; users: string; histories: string[] } {
  const lines: string[] = [];
  for (let u = 0; u < 48; u++) lines.push(`u${u}\t${Array.from({ length: 5 }, (_, j) => `m${(u + j) % 12}`).join(' ')}`);
  const seqs = join(dir, 'seq.txt');
  writeFileSync(seqs, lines.join('\n') + '\n');
  const items = join(dir, 'items.csv');
  writeFileSync(items, 'movieId,genres,year\n' + Array.from({ length: 13 }, (_, i) => `m${i},${i < 6 ? 'Drama' : 'Comedy'},${1990 + i}`).join('\n') + '\n');
  const users = join(dir, 'users.csv');
  writeFileSync(users, 'userId,age\n' + Array.from({ length: 48 }, (_, u) => `u${u},${20 + u}`).join('\n') + '\n');
  return { seqs, items, users, histories: ['m1 m2 m3', 'm7', 'm10 m11 m0 m1', 'm4 m5'] };
}

const quick = { dim: '8', hidden: '16', epochs: '3', batchSize: '16', quiet: true };

test('recommend --histories (batch) equals recommend --history one by one, for YouTube DNN, two-tower and Item2Vec collections', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-rec-'));
  try {
    const w = world(dir);
    const db = (): string => join(dir, 'db');
    await cmdTrainRecsys('youtube-dnn', db, { ...quick, input: w.seqs, into: 'yt', userFeatures: w.users, idColumn: undefined, negatives: '4' }, capture());
    await cmdTrainRecsys('two-tower', db, { ...quick, input: w.seqs, into: 'tt', itemFeatures: w.items }, capture());
    writeFileSync(join(dir, 'plain.txt'), readFileSync(w.seqs, 'utf8').split('\n').map((l) => l.split('\t')[1] ?? '').join('\n'));
    await cmdTrainItem2Vec(db, { input: join(dir, 'plain.txt'), into: 'i2v', dim: '8', epochs: '2', threads: '1', quiet: true, sample: '0' }, capture());
    const models = readdirSync(join(db(), 'models')).sort();
    assert.equal(models.length, 2, models.join());
    assert.match(models[0]!, /^two-tower--[0-9a-f]{16}$/);
    assert.match(models[1]!, /^youtube-dnn--[0-9a-f]{16}$/);
    const two = await openDatabase(db(), { readOnly: true });
    assert.deepEqual((await two.getCollection('yt')).encoder, { model: `youtube-dnn:${models[1]!.slice('youtube-dnn--'.length)}`, kind: 'youtube-dnn', dim: 8 });
    assert.ok((await (await two.getCollection('tt')).get({ ids: ['m12'] })).ids.length === 1, 'the cold-start film m12 (features only) has a vector');
    await two.close();
    const hist = join(dir, 'hist.txt');
    writeFileSync(hist, w.histories.join('\n') + '\n');
    for (const name of ['yt', 'tt', 'i2v']) {
      const outFile = join(dir, `${name}.out`);
      await cmdRecommendUsers(db(), name, { histories: hist, out: outFile, k: '4' }, capture());
      const batch = readFileSync(outFile, 'utf8').trimEnd().split('\n');
      assert.equal(batch.length, w.histories.length);
      for (const [n, h] of w.histories.entries()) {
        const one = await cmdRecommendUsers(db(), name, { history: [h], k: '4' }, capture());
        assert.equal(batch[n], one[0]!.map((r) => r.id).join(' '), `${name}: user ${n + 1}`);
        assert.equal(one[0]!.length, 4);
        for (const seen of h.split(' ')) assert.ok(!one[0]!.some((r) => r.id === seen), `${name}: ${seen} was seen`);
      }
    }
    // the user's features change the YouTube DNN answer's scores
    const withUser = capture();
    await cmdRecommendUsers(db(), 'yt', { history: ['m1 m2'], userId: 'u3', k: '3', json: true }, withUser);
    assert.equal((withUser.values[0] as unknown[]).length, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad input: unknown items, empty history, a features file without its id column, a dimension mismatch', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-rec-bad-'));
  try {
    const w = world(dir);
    const db = (): string => join(dir, 'db');
    const code = (c: string, re: RegExp) => (e: unknown): boolean => e instanceof OmnivecError && e.code === c && re.test(e.message);
    await cmdTrainRecsys('youtube-dnn', db, { ...quick, epochs: '1', input: w.seqs, into: 'yt', init: 'random', average: '0' }, capture());
    await assert.rejects(cmdTrainRecsys('youtube-dnn', db, { ...quick, input: w.seqs, into: 'yt3', init: 'glove' }, capture()), code('invalid_argument', /--init: expected item2vec or random, got "glove"/));
    await assert.rejects(cmdRecommendUsers(db(), 'yt', { history: ['m1 nope'] }, capture()), code('not_found', /"nope"/));
    await assert.rejects(cmdRecommendUsers(db(), 'yt', { history: [' '] }, capture()), code('invalid_argument', /at least one item/));
    const hist = join(dir, 'hist.txt');
    writeFileSync(hist, 'm1 m2\nm3 zzz\n');
    await assert.rejects(cmdRecommendUsers(db(), 'yt', { histories: hist, out: join(dir, 'o.txt') }, capture()), code('not_found', /user 2: .*"zzz"/));
    await assert.rejects(cmdTrainRecsys('two-tower', db, { ...quick, input: w.seqs, into: 'tt', itemFeatures: w.items, idColumn: 'itemId' }, capture()),
      code('invalid_argument', /expected an id column "itemId"/));
    const noId = join(dir, 'noid.csv');
    writeFileSync(noId, 'age,job\n31,x\n44,y\n');
    await assert.rejects(cmdTrainRecsys('youtube-dnn', db, { ...quick, input: w.seqs, into: 'yt2', userFeatures: noId }, capture()),
      code('invalid_argument', /no value of its id column "age" is a user/));
    await assert.rejects(cmdTrainRecsys('youtube-dnn', db, { ...quick, dim: '16', input: w.seqs, into: 'yt' }, capture()),
      code('dimension_mismatch', /8-d vectors, the model makes 16-d/));
    await assert.rejects(cmdTrainRecsys('youtube-dnn', db, { ...quick, input: join(dir, 'missing.txt'), into: 'x' }, capture()), code('not_found', /missing\.txt/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
