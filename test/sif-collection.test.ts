import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../src/db/database.js';
import { OmnivecError } from '../src/errors.js';
import { fitSif } from '../src/encoders/sif/index.js';
import { trainWord2Vec } from '../src/encoders/word2vec/trainer.js';
import { batchRows } from '../src/encoders/common.js';

/** Sentences about four topics, each from its own words. */
function sentences(n: number): string[] {
  const topics = [
    ['ship', 'sail', 'sea', 'harbour', 'captain', 'wave', 'anchor'],
    ['bread', 'oven', 'flour', 'baker', 'dough', 'yeast', 'crust'],
    ['goal', 'match', 'team', 'ball', 'striker', 'referee', 'league'],
    ['court', 'judge', 'law', 'trial', 'jury', 'verdict', 'lawyer'],
  ];
  let s = 11;
  const rnd = (k: number): number => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return (s >>> 8) % k; };
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const t = topics[i % 4]!;
    const words = ['the'];
    for (let j = 0; j < 6; j++) words.push(t[rnd(t.length)]!, rnd(3) === 0 ? 'and' : 'of');
    out.push(words.join(' '));
  }
  return out;
}

test('SIF as the encoder of a collection: text in, nearest sentences of the same topic out; vectors of another model refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-sif-db-'));
  const corpus = sentences(2000);
  const w2v = await trainWord2Vec(corpus, { dim: 32, minCount: 2, epochs: 5, threads: 1, model: 'skipgram', sample: 0 });
  const sif = await fitSif(w2v.wv, corpus);
  const enc = sif.asEncoder();
  const db = await openDatabase(dir);
  try {
    const c = await db.createCollection({ name: 'sentences', dim: enc.dim, encoder: enc.spec });
    const docs = corpus.slice(0, 200);
    const vectors = batchRows(await enc.encode(docs));
    await c.add({ ids: docs.map((_, i) => `s${i}`), vectors, documents: docs, metadatas: docs.map((_, i) => ({ topic: i % 4 })) });
    const [q] = batchRows(await enc.encode(['the captain of the ship at sea']));
    const hits = await c.query({ vector: q!, k: 10 });
    assert.equal(hits.ids.length, 10);
    for (const m of hits.metadatas!) assert.equal((m as { topic: number }).topic, 0, `hits: ${hits.documents!.join(' | ')}`);
    await assert.rejects(
      c.add([{ id: 'x', vector: q!, model: 'sif:0000000000000000' }]),
      (e: unknown) => e instanceof OmnivecError && e.code === 'encoder_error',
    );
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
