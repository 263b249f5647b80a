/**
 * LangChain's Chroma vector store (`@langchain/community/vectorstores/chroma`, built on the
 * official `chromadb` client) pointed at `omnivec serve` (docs/chroma.md): it creates its
 * collection, adds documents with explicit embeddings, answers similarity searches with scores
 * (Chroma's distances, checked against a brute-force oracle), filters and deletes. No network:
 * the embeddings are a fixed table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Embeddings } from '@langchain/core/embeddings';
import { Document } from '@langchain/core/documents';
import { Chroma } from '@langchain/community/vectorstores/chroma';
import { createServer } from '../src/server/app.js';
import { bruteForce, vectors } from './helpers/chroma-oracle.js';

const KEY = 'langchain-key';

/** Texts to vectors by a fixed table (what a model would give; no inference here). */
class TableEmbeddings extends Embeddings {
  readonly #table: Map<string, number[]>;
  constructor(table: Map<string, number[]>) {
    super({});
    this.#table = table;
  }
  #one(text: string): number[] {
    const v = this.#table.get(text);
    if (v === undefined) throw new Error(`no embedding for ${JSON.stringify(text)}`);
    return v;
  }
  async embedDocuments(texts: string[]): Promise<number[][]> {
    return texts.map((t) => this.#one(t));
  }
  async embedQuery(text: string): Promise<number[]> {
    return this.#one(text);
  }
}

test('LangChain\'s Chroma store against omnivec serve: add with embeddings, similarity search with scores, filter, delete', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-chroma-langchain-'));
  const server = await createServer({ db: join(dir, 'db'), apiKey: KEY, threads: 1 });
  const warn = console.warn;
  try {
    const url = await server.listen(0);
    const texts = Array.from({ length: 60 }, (_, i) => `passage number ${i}`);
    const data = vectors(texts.length + 2, 8, 21);
    const table = new Map<string, number[]>(texts.map((t, i) => [t, data[i]!]));
    table.set('the question', data[texts.length]!);
    table.set('another question', data[texts.length + 1]!);
    // The store builds its client with the deprecated `path` argument, which warns once.
    console.warn = () => undefined;
    const store = new Chroma(new TableEmbeddings(table), {
      collectionName: 'langchain-docs',
      url,
      collectionMetadata: { 'hnsw:space': 'cosine' },
      clientParams: { headers: { 'x-chroma-token': KEY } },
    });
    const ids = texts.map((_, i) => `doc-${i}`);
    const docs = texts.map((t, i) => new Document({ pageContent: t, metadata: { i, parity: i % 2 === 0 ? 'even' : 'odd' } }));
    // Explicit embeddings: addVectors; and addDocuments through the embeddings object.
    assert.deepEqual(await store.addVectors(data.slice(0, 40), docs.slice(0, 40), { ids: ids.slice(0, 40) }), ids.slice(0, 40));
    await store.addDocuments(docs.slice(40), { ids: ids.slice(40) });

    const q = table.get('the question')!;
    const hits = await store.similaritySearchWithScore('the question', 5);
    const want = bruteForce('cosine', data.slice(0, texts.length), ids, q, 5);
    assert.deepEqual(hits.map(([d]) => d.id), want.ids);
    assert.deepEqual(hits.map(([d]) => d.pageContent), want.ids.map((id) => texts[Number(id.slice(4))]));
    hits.forEach(([, score], i) => assert.ok(Math.abs(score - want.distances[i]!) < 1e-5, `score ${i}: ${score} vs ${want.distances[i]}`));
    assert.equal(hits[0]![0].metadata.i, Number(want.ids[0]!.slice(4)));

    // A filter (Chroma's where), then a delete by filter and by ids.
    const odd = await store.similaritySearchVectorWithScore(table.get('another question')!, 4, { parity: 'odd' });
    const wantOdd = bruteForce('cosine', data.slice(0, texts.length), ids, table.get('another question')!, 4, (i) => i % 2 === 1);
    assert.deepEqual(odd.map(([d]) => d.id), wantOdd.ids);
    await store.delete({ filter: { parity: 'odd' } });
    await store.delete({ ids: ['doc-0'] });
    const left = await store.similaritySearch('the question', 100);
    assert.equal(left.length, 29);
    assert.ok(left.every((d) => d.metadata.parity === 'even' && d.id !== 'doc-0'));

    // The same collection is an omnivec collection: its own API sees the records.
    const own = await fetch(`${url}/api/collections/langchain-docs/count`, { headers: { authorization: `Bearer ${KEY}` } });
    assert.deepEqual(await own.json(), { count: 29 });
  } finally {
    console.warn = warn;
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
