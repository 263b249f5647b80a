/**
 * classify / recommend / diversity end to end (docs/tasks.md): each CLI command through `main`
 * and each route through real HTTP, with a SIF model stored in the database for the CLI's
 * zero-shot (a closed vocabulary: an unknown label is refused) and the fake hashing encoder for
 * the server's.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../src/db/database.js';
import { fitSif } from '../src/encoders/sif/index.js';
import { saveSif } from '../src/encoders/sif/files.js';
import { storedModelDir } from '../src/encoders/stored-models.js';
import { trainWord2Vec } from '../src/encoders/word2vec/trainer.js';
import { Random } from '../src/vector/random.js';
import { main } from '../src/cli/main.js';
import type { Out } from '../src/cli/db-commands.js';
import { createServer } from '../src/server/app.js';
import { fakeEncoders, hashText, FAKE_MODEL } from './helpers/fake-encoders.js';
import { client } from './helpers/http.js';
import { testEachLocation } from './helpers/stores.js';

function capture(): Out & { lines: string[]; text: () => string; parsed: () => unknown } {
  const lines: string[] = [];
  return {
    lines,
    line: (s) => { lines.push(s); },
    json: (v) => { lines.push(JSON.stringify(v)); },
    text: () => lines.join('\n'),
    parsed: () => JSON.parse(lines.join('\n')) as unknown,
  };
}

const TOPICS = [
  ['ship', 'sail', 'sea', 'harbour', 'captain', 'wave', 'anchor'],
  ['bread', 'oven', 'flour', 'baker', 'dough', 'yeast', 'crust'],
  ['goal', 'match', 'team', 'ball', 'striker', 'referee', 'league'],
];

function sentences(n: number, seed: number): string[] {
  const rng = new Random(seed);
  return Array.from({ length: n }, (_, i) => {
    const t = TOPICS[i % TOPICS.length]!;
    const words = ['the'];
    for (let j = 0; j < 6; j++) words.push(t[rng.int(t.length)]!, rng.int(3) === 0 ? 'and' : 'of');
    return words.join(' ');
  });
}

/** Two labelled clusters (l2, 3-d) with two unlabelled points; item vectors; a SIF-bound collection. */
async function setUp(location: string): Promise<void> {
  const db = await openDatabase(location);
  try {
    const rng = new Random(4);
    const pts = await db.createCollection({ name: 'pts', dim: 3, metric: 'l2' });
    const ids: string[] = [];
    const vectors: number[][] = [];
    const metadatas: ({ side: string } | null)[] = [];
    for (let i = 0; i < 40; i++) {
      const left = i < 20;
      ids.push(`p${String(i).padStart(2, '0')}`);
      vectors.push([(left ? -10 : 10) + rng.gaussian(), rng.gaussian(), rng.gaussian()]);
      metadatas.push({ side: left ? 'left' : 'right' });
    }
    ids.push('u1', 'u2');
    vectors.push([-9, 0.5, 0], [11, 0, -0.5]);
    metadatas.push(null, null);
    await pts.add({ ids, vectors, metadatas });

    const items = await db.createCollection({ name: 'items', dim: 2 });
    const angles: Record<string, number> = { a: 0, b: 10, c: 90, d: 80, e: 45, f: 180, g: 20 };
    await items.add({
      ids: Object.keys(angles),
      vectors: Object.values(angles).map((deg) => [Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180)]),
      metadatas: Object.keys(angles).map((k) => ({ count: k === 'g' ? 2 : 20 })),
    });

    const corpus = sentences(900, 7);
    const w2v = await trainWord2Vec(corpus, { dim: 24, minCount: 2, epochs: 5, threads: 1, model: 'skipgram', sample: 0, seed: 3 });
    const sif = await fitSif(w2v.wv, corpus);
    const enc = sif.asEncoder();
    await saveSif(sif, storedModelDir(db.filesDir, enc.spec.model));
    const sent = await db.createCollection({ name: 'sentences', dim: enc.dim, encoder: enc.spec });
    const docs = corpus.slice(0, 30);
    await sent.add({ ids: docs.map((_, i) => `s${String(i).padStart(2, '0')}`), vectors: await enc.encode(docs), documents: docs, metadatas: docs.map((_, i) => ({ topic: i % 3 })) });
  } finally {
    await db.close();
  }
}

testEachLocation('omnivec classify NAME (knn, centroid, --evaluate, zero-shot through the stored SIF), recommend NAME, diversity NAME', async (dir, tmp) => {
  {
    await setUp(dir);
    let out = capture();
    assert.equal(await main(['--db', dir, 'classify', 'pts', '--label-field', 'side'], out), 0, out.text());
    assert.deepEqual(out.lines.map((l) => l.split('\t').slice(0, 2)), [['u1', 'left'], ['u2', 'right']]);

    out = capture();
    assert.equal(await main(['--db', dir, 'classify', 'pts', '--label-field', 'side', '--method', 'centroid', '--id', 'p00,p39', '--json'], out), 0, out.text());
    const cent = out.parsed() as { predictions: { id: string; label: string }[] };
    assert.deepEqual(cent.predictions.map((p) => [p.id, p.label]), [['p00', 'left'], ['p39', 'right']]);

    out = capture();
    assert.equal(await main(['--db', dir, 'classify', 'pts', '--label-field', 'side', '--evaluate', '--k', '3'], out), 0, out.text());
    assert.match(out.lines[0]!, /leave-one-out accuracy of knn \(k = 3\) over 40 labelled records of pts: 1\.0000 \(40 right\)/);

    out = capture();
    assert.equal(await main(['--db', dir, 'classify', 'sentences', '--labels', 'ship,bread,goal', '--json'], out), 0, out.text());
    const zs = out.parsed() as { predictions: { id: string; label: string }[] };
    assert.equal(zs.predictions.length, 30);
    const right = zs.predictions.filter((p) => p.label === ['ship', 'bread', 'goal'][Number(p.id.slice(1)) % 3]).length;
    assert.ok(right >= 27, `${right} of 30 sentences get their topic's word`);

    // Errors: exit codes of docs/cli.md.
    assert.equal(await main(['--db', dir, 'classify', 'sentences', '--labels', 'ship,zebra'], capture()), 2, 'a label outside the SIF vocabulary');
    assert.equal(await main(['--db', dir, 'classify', 'pts', '--label-field', 'colour'], capture()), 3);
    assert.equal(await main(['--db', dir, 'classify', 'pts', '--label-field', 'side', '--k', '99', '--id', 'p00'], capture()), 2);
    assert.equal(await main(['--db', dir, 'classify', 'pts'], capture()), 2);
    assert.equal(await main(['--db', dir, 'classify', '--labels', 'a,b', '--model', 'nowhere'], capture()), 2, 'the image form still wants --image');

    out = capture();
    assert.equal(await main(['--db', dir, 'recommend', 'items', '--item', 'a', '-k', '3'], out), 0, out.text());
    assert.deepEqual(out.lines.map((l) => l.split('\t')[0]), ['b', 'g', 'e']);
    out = capture();
    assert.equal(await main(['--db', dir, 'recommend', 'items', '--history', 'a', 'c', '--decay', '1', '--min-count', '10', '-k', '2', '--json'], out), 0, out.text());
    assert.deepEqual((out.parsed() as { id: string }[]).map((r) => r.id), ['e', 'b'], 'the mean of 0° and 90° is 45°; g (count 2) filtered');
    assert.equal(await main(['--db', dir, 'recommend', 'items', '--item', 'zz'], capture()), 3);
    assert.equal(await main(['--db', dir, 'recommend', 'items', '--vectors', 'x.txt', '--item', 'a'], capture()), 2);

    out = capture();
    const png = join(tmp, 'hist.png');
    assert.equal(await main(['--db', dir, 'diversity', 'pts', '--subset-where', '{"side": "left"}', '--bins', '10', '--out', png], out), 0, out.text());
    assert.match(out.text(), /pts: 42 records \(l2\), every pair \(861\)/);
    assert.match(out.text(), /coverage of the subset \(20 records\)/);
    assert.ok(readFileSync(png).subarray(1, 4).toString() === 'PNG');
    out = capture();
    const svg = join(tmp, 'hist.svg');
    assert.equal(await main(['--db', dir, 'diversity', 'pts', '--subset-ids', 'p00', 'p01', '--json', '--out', svg], out), 0, out.text());
    const d = out.parsed() as { n: number; coverage: { subset: number } };
    assert.equal(d.n, 42);
    assert.equal(d.coverage.subset, 2);
    assert.ok(existsSync(svg));
    assert.equal(await main(['--db', dir, 'diversity', 'pts', '--out', 'x.gif'], capture()), 2);
    assert.equal(await main(['--db', dir, 'diversity', 'nope'], capture()), 3);
  }
}, { timeout: 120_000 });

testEachLocation('POST /api/collections/:name/classify, /recommend, /diversity', async (dir) => {
  await setUp(dir);
  const enc = fakeEncoders({ dim: 32, kind: 'text' });
  const server = await createServer({ db: dir, encoderService: enc });
  try {
    const call = client(await server.listen(0));
    let r = await call('POST', '/api/collections/pts/classify', { labelField: 'side', k: 3 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual((r.body.predictions as { id: string; label: string }[]).map((p) => [p.id, p.label]), [['u1', 'left'], ['u2', 'right']]);
    const votes = (r.body.predictions as { votes: Record<string, number>; score: number }[])[0]!;
    assert.deepEqual(votes.votes, { left: 3 });
    assert.equal(votes.score, 1);

    r = await call('POST', '/api/collections/pts/classify', { labelField: 'side', method: 'centroid', vectors: [[9, 0, 0], [-12, 1, 1]] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual((r.body.predictions as { label: string }[]).map((p) => p.label), ['right', 'left']);

    r = await call('POST', '/api/collections/pts/classify', { labelField: 'side', evaluate: true, k: 1 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal((r.body.evaluation as { accuracy: number }).accuracy, 1);

    // Zero-shot through the served (fake) encoder.
    await call('POST', '/api/collections', { name: 'docs', encoder: 'hash' });
    const docs = ['the red apple and the green apple', 'a fast car on the road', 'apple pie with apple', 'the car and the truck'];
    const db = server.ctx.db;
    await (await db.getCollection('docs')).add({ ids: ['d1', 'd2', 'd3', 'd4'], vectors: docs.map((t) => hashText(t, 32)), documents: docs });
    r = await call('POST', '/api/collections/docs/classify', { labels: ['apple', 'car'] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual((r.body.predictions as { id: string; label: string }[]).map((p) => [p.id, p.label]), [['d1', 'apple'], ['d2', 'car'], ['d3', 'apple'], ['d4', 'car']]);
    assert.equal(enc.calls.modes.at(-1), 'query');
    r = await call('POST', '/api/collections/pts/classify', { labels: ['left'] });
    assert.equal(r.status, 400, 'no encoder bound to pts');

    r = await call('POST', '/api/collections/items/recommend', { item: 'a', k: 3 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual((r.body.items as { id: string }[]).map((x) => x.id), ['b', 'g', 'e']);
    r = await call('POST', '/api/collections/items/recommend', { history: ['a', 'c'], decay: 1, k: 2, where: { count: { $gte: 10 } } });
    assert.deepEqual((r.body.items as { id: string }[]).map((x) => x.id), ['e', 'b']);
    r = await call('POST', '/api/collections/items/recommend', { item: 'zz' });
    assert.equal(r.status, 404);
    assert.match(r.body.error!.message, /"zz"/);

    r = await call('POST', '/api/collections/pts/diversity', { bins: 4, subset: { where: { side: 'right' } } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.n, 42);
    assert.deepEqual((r.body.similarity as { histogram: { edges: number[] } }).histogram.edges, [-1, -0.5, 0, 0.5, 1]);
    assert.equal((r.body.coverage as { subset: number }).subset, 20);

    // The schemas: unknown fields, wrong types.
    for (const [path, body] of [
      ['classify', { labelField: 'side', k: 'three' }], ['classify', { labelField: 'side', colour: 1 }],
      ['recommend', { item: 'a', k: 0 }], ['diversity', { subset: { ids: ['p00'], where: {} } }], ['diversity', { bins: 0 }],
    ] as const) {
      r = await call('POST', `/api/collections/pts/${path}`, body);
      assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    }
    r = await call('POST', '/api/collections/pts/classify', { labelField: 'side', k: 99, ids: ['p00'] });
    assert.equal(r.status, 400);
    const empty = await call('POST', '/api/collections', { name: 'empty', dim: 3 });
    assert.equal(empty.status, 201);
    r = await call('POST', '/api/collections/empty/diversity', {});
    assert.ok(r.status >= 400 && r.body.error!.code !== undefined, JSON.stringify(r.body));
    assert.equal(FAKE_MODEL, 'hash-model');
  } finally {
    await server.close();
  }
}, { timeout: 120_000 });
