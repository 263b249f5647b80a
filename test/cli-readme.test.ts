import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';
import { writeFvecs, readIvecs } from '../src/io/index.js';
import { FlatIndex } from '../src/indexes/flat/flat-index.js';
import { Random } from '../src/vector/random.js';

/** Splits a shell line into words: single and double quotes, no expansion. */
function words(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  let any = false;
  for (const ch of line) {
    if (quote !== undefined) {
      if (ch === quote) quote = undefined;
      else cur += ch;
    } else if (ch === '"' || ch === "'") { quote = ch; any = true; }
    else if (/\s/.test(ch)) { if (cur.length > 0 || any) out.push(cur); cur = ''; any = false; }
    else cur += ch;
  }
  if (cur.length > 0 || any) out.push(cur);
  return out;
}

function walkthrough(): string[] {
  const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
  const at = readme.indexOf('<!-- cli-walkthrough');
  assert.ok(at >= 0, 'README has the cli-walkthrough block');
  const block = readme.slice(readme.indexOf('```sh', at) + 5, readme.indexOf('```', readme.indexOf('```sh', at) + 5));
  return block.split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith('#'));
}

test('the README walkthrough runs as written; import + query --vectors --out round-trips a TEXMEX set', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-cli-'));
  const cwd = process.cwd();
  const env = process.env.OMNIVEC_DB;
  try {
    // A TEXMEX-format dataset: base, queries, exact ground truth.
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
    await writeFvecs(join(dir, 'siftsmall_base.fvecs'), base);
    await writeFvecs(join(dir, 'siftsmall_query.fvecs'), queries);
    const flat = new FlatIndex({ dim, metric: 'l2' });
    flat.add(Uint32Array.from({ length: n }, (_, i) => i), base);
    const truth = flat.searchBatch(queries, 10);
    const films = [
      { id: 'alien', vector: [0.9, 0.1, 0, 0], document: 'a space crew meets a monster', metadata: { year: 1979, genre: 'horror' } },
      { id: 'aliens', vector: [0.85, 0.15, 0.05, 0], document: 'the space marines return', metadata: { year: 1986, genre: 'action' } },
      { id: 'arrival', vector: [0.6, 0.5, 0.2, 0], document: 'linguists meet visitors from space', metadata: { year: 2016, genre: 'drama' } },
      { id: 'gravity', vector: [0.7, 0.2, 0.3, 0.1], document: 'a space crew stranded in orbit', metadata: { year: 2013, genre: 'drama' } },
      { id: 'heat', vector: [0, 0.1, 0.9, 0.4], document: 'a crew of thieves in los angeles', metadata: { year: 1995, genre: 'crime' } },
      { id: 'up', vector: [0.1, 0.9, 0.1, 0.3], document: 'a house flies with balloons', metadata: { year: 2009, genre: 'animation' } },
    ];
    writeFileSync(join(dir, 'films.jsonl'), films.map((f) => JSON.stringify(f)).join('\n') + '\n');
    process.chdir(dir);
    process.env.OMNIVEC_DB = join(dir, 'omnivec-data');
    const lines = walkthrough();
    assert.ok(lines.length >= 15);
    const outputs: string[][] = [];
    for (const line of lines) {
      const argv = words(line);
      assert.equal(argv[0], 'omnivec', line);
      const printed: string[] = [];
      const code = await main(argv.slice(1), { line: (s) => printed.push(s), json: (v) => printed.push(JSON.stringify(v)) });
      assert.equal(code, 0, `exit code of: ${line}\n${printed.join('\n')}`);
      outputs.push(printed);
    }
    const out = (prefix: string): string => outputs[lines.findIndex((l) => l.startsWith(prefix))]!.join('\n');
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
    // Errors map to exit codes.
    const quiet = { line: () => undefined, json: () => undefined };
    assert.equal(await main(['info', 'nope'], quiet), 3);
    assert.equal(await main(['create', 'films', '--dim', '4'], quiet), 4);
    assert.equal(await main(['query', 'films', '--vector', '1,2'], quiet), 2);
    assert.equal(await main(['query', 'films', '--vector', '1,2,3,4', '--where', '{"year": {"$bad": 1}}'], quiet), 2);
    writeFileSync(join(dir, 'bad.jsonl'), '{"id": "x", "vector": [1, 2, 3, 4]}\n{"id": "y", "vector": [1, 2, "three", 4]}\n');
    assert.equal(await main(['import', 'films', 'bad.jsonl'], quiet), 5);
    const listed: string[] = [];
    assert.equal(await main(['list'], { line: (l) => listed.push(l), json: () => undefined }), 0);
    assert.deepEqual(listed, ['films\t4\tcosine\tauto\t5'], 'the refused import changed nothing (x was not stored)');
  } finally {
    process.chdir(cwd);
    if (env === undefined) delete process.env.OMNIVEC_DB; else process.env.OMNIVEC_DB = env;
    rmSync(dir, { recursive: true, force: true });
  }
});
