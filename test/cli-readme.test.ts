import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { writeFvecs, readIvecs } from '../src/io/index.js';
import { FlatIndex } from '../src/indexes/flat/flat-index.js';
import { Random } from '../src/vector/random.js';
import { PG_SKIP, withPgDatabase } from './helpers/postgres.js';
import { ROOT, assertCloneUnchanged, cloneState, omnivec, omnivecLines, readmeBlock, runBlock } from './helpers/readme.js';

/** What the walkthrough writes into its folder: none of it may appear in the clone. */
const WRITES = ['films.jsonl', 'omnivec-data', 'result.ivecs', 'films-backup.jsonl', 'films-map', 'bad.jsonl'];

/**
 * The walkthrough on the embedded store (./omnivec-data), or with OMNIVEC_DB set to `db` in the
 * block's shell (a PostgreSQL database: the same lines, the same answers).
 */
async function walkthrough(t: TestContext, db?: string): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'omnivec-cli-readme-'));
  try {
    // $SIFT: a TEXMEX-format dataset (base, queries) and its exact ground truth.
    const sift = join(tmp, 'siftsmall');
    mkdirSync(sift);
    const rng = new Random(5);
    const n = 3000;
    const nq = 50;
    const dim = 128;
    const centres = Array.from({ length: 20 }, () => Float32Array.from({ length: dim }, () => rng.gaussian() * 3));
    const make = (count: number): Float32Array => {
      const d = new Float32Array(count * dim);
      for (let i = 0; i < count; i++) { const c = centres[rng.int(20)]!; for (let j = 0; j < dim; j++) d[i * dim + j] = c[j]! + rng.gaussian(); }
      return d;
    };
    const base = { data: make(n), dim, count: n };
    const queries = { data: make(nq), dim, count: nq };
    await writeFvecs(join(sift, 'siftsmall_base.fvecs'), base);
    await writeFvecs(join(sift, 'siftsmall_query.fvecs'), queries);
    const flat = new FlatIndex({ dim, metric: 'l2' });
    flat.add(Uint32Array.from({ length: n }, (_, i) => i), base);
    const truth = flat.searchBatch(queries, 10);

    const before = cloneState(WRITES);
    t.after(() => assertCloneUnchanged(before, 'the database walkthrough'));
    const block = readmeBlock('cli-walkthrough');
    assert.match(block.split('\n')[0]!, /^cd "\$\(mktemp -d\)"/, 'the walkthrough starts in a scratch folder');
    const lines = omnivecLines(block);
    assert.ok(lines.length >= 15);
    // Started in the clone, as a reader would: the block's first line moves to a scratch folder.
    const run = await runBlock(block, { cwd: ROOT, tmp, env: { SIFT: sift, ...(db === undefined ? {} : { OMNIVEC_DB: db }) } });
    assert.equal(run.status, 0, run.explain);
    assert.equal(run.calls.length, lines.length, `one call per omnivec line\n${run.explain}`);
    assert.ok(run.calls.every((c) => c.code === 0), run.explain);
    const dir = run.calls[0]!.cwd;
    assert.ok(!relative(join(tmp, 'tmp'), dir).startsWith('..'), `the walkthrough ran in a folder made by mktemp (${dir})`);
    const out = (prefix: string): string => {
      const i = lines.findIndex((l) => l.startsWith(prefix));
      assert.ok(i >= 0, `the walkthrough has a line starting with ${prefix}`);
      return run.calls[i]!.out.trimEnd();
    };

    // The round trip: neighbour ids in .ivecs against the exact ground truth.
    const res = await readIvecs(join(dir, 'result.ivecs'));
    assert.equal(res.count, nq);
    assert.equal(res.k, 10);
    let hits = 0;
    for (let q = 0; q < nq; q++) {
      const t = new Set(truth.ids.subarray(q * 10, q * 10 + 10));
      for (let j = 0; j < 10; j++) if (t.has(res.ids[q * 10 + j]!)) hits++;
    }
    assert.ok(hits / (nq * 10) >= 0.95, `recall of query --vectors ${hits / (nq * 10)}`);
    const info = JSON.parse(out('omnivec info sift')) as Record<string, unknown>;
    assert.deepEqual([info.name, info.dim, info.metric, info.index, info.count], ['sift', 128, 'l2', 'hnsw', n]);
    assert.match(out('omnivec evaluate sift'), /recall@10 = (0\.9[5-9]|1\.0)/);
    assert.match(out('omnivec list'), /films\t4\tcosine\tauto\t6/);
    assert.match(out('omnivec query films --vector 0.9,0.1,0,0 -k 3'), /^alien\t/);
    const byId = JSON.parse(out('omnivec query films --id alien')) as { id: string }[];
    assert.deepEqual(byId.map((h) => h.id), ['aliens', 'gravity']);
    const filtered = out(`omnivec query films --vector 0.9,0.1,0,0 --where`).split('\n').map((l) => l.split('\t')[0]);
    assert.deepEqual(filtered, ['gravity', 'arrival', 'up', 'heat']);
    assert.match(out('omnivec get films alien'), /"document":"a space crew meets a monster"/);
    assert.match(out('omnivec delete films'), /deleted 1 records/);
    assert.equal(readFileSync(join(dir, 'films-backup.jsonl'), 'utf8').trim().split('\n').length, 5);
    assert.ok(existsSync(join(dir, 'films-map', 'vectors.tsv')) && existsSync(join(dir, 'films-map', 'metadata.tsv')));
    assert.match(out('omnivec verify'), /films: ok/);

    // Errors map to exit codes (the same command, in the walkthrough's folder).
    const code = async (...args: string[]): Promise<number> => (await omnivec(args, dir, undefined, undefined, db)).code;
    assert.equal(await code('info', 'nope'), 3);
    assert.equal(await code('create', 'films', '--dim', '4'), 4);
    assert.equal(await code('query', 'films', '--vector', '1,2'), 2);
    assert.equal(await code('query', 'films', '--vector', '1,2,3,4', '--where', '{"year": {"$bad": 1}}'), 2);
    writeFileSync(join(dir, 'bad.jsonl'), '{"id": "x", "vector": [1, 2, 3, 4]}\n{"id": "y", "vector": [1, 2, "three", 4]}\n');
    assert.equal(await code('import', 'films', 'bad.jsonl'), 5);
    const listed = await omnivec(['list'], dir, undefined, undefined, db);
    assert.deepEqual([listed.code, listed.out], [0, 'films\t4\tcosine\tauto\t5\n'], 'the refused import changed nothing (x was not stored)');

    if (db !== undefined) assert.ok(!existsSync(join(dir, 'omnivec-data')), 'with OMNIVEC_DB=postgres://… nothing is written to ./omnivec-data');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

test('the README database walkthrough runs as written in a fresh folder (nothing written into the clone); import + query --vectors --out round-trips a TEXMEX set', async (t) => {
  await walkthrough(t);
});

test('the README database walkthrough, line for line, with OMNIVEC_DB=postgres://… (PostgreSQL + pgvector)', { skip: PG_SKIP }, async (t) => {
  const files = mkdtempSync(join(tmpdir(), 'omnivec-cli-readme-files-'));
  const prev = process.env.OMNIVEC_FILES;
  process.env.OMNIVEC_FILES = files;
  try {
    await withPgDatabase('cli_readme', (url) => walkthrough(t, url));
  } finally {
    if (prev === undefined) delete process.env.OMNIVEC_FILES; else process.env.OMNIVEC_FILES = prev;
    rmSync(files, { recursive: true, force: true });
  }
});
