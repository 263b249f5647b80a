/**
 * Interoperability with the tools that write these files: numpy writes .npy files and gensim
 * word2vec text and binary files that we read; numpy and gensim load the files we write. Skips
 * when /usr/bin/python3 lacks numpy or gensim (Debian: apt-get install python3-numpy python3-gensim).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '../vector/random.js';
import { OmnivecError } from '../errors.js';
import { openRecords, writeNpy, writeWord2vec, detectFormat, type ImportRecord } from './index.js';

const PYTHON = '/usr/bin/python3';

// One run of Python both writes its files and loads ours (importing gensim takes seconds).
const SCRIPT = String.raw`
import json, sys
try:
    import numpy as np
    from gensim.models import KeyedVectors
except ImportError as e:
    print(str(e)); sys.exit(3)
d = sys.argv[1]
out = {}
def dump(kv):
    return {'keys': list(kv.index_to_key), 'vectors': kv.vectors.astype(np.float64).tolist()}
out['ours_bin'] = dump(KeyedVectors.load_word2vec_format(d + '/ours.bin', binary=True))
out['ours_txt'] = dump(KeyedVectors.load_word2vec_format(d + '/ours.txt', binary=False))
a = np.load(d + '/ours.npy')
out['ours_npy'] = {'dtype': str(a.dtype), 'shape': list(a.shape), 'values': a.astype(np.float64).tolist()}

rng = np.random.default_rng(7)
m = rng.standard_normal((40, 12)).astype(np.float32)
np.save(d + '/py_f4.npy', m)
np.save(d + '/py_f8.npy', m.astype(np.float64))
np.save(d + '/py_f2.npy', m.astype(np.float16))
np.save(d + '/py_i8.npy', (m * 100).astype(np.int64))
np.save(d + '/py_fortran.npy', np.asfortranarray(m))
with open(d + '/py_v2.npy', 'wb') as f:
    np.lib.format.write_array(f, m, version=(2, 0))
out['f4'] = m.astype(np.float64).tolist()
out['f2'] = m.astype(np.float16).astype(np.float64).tolist()
out['i8'] = (m * 100).astype(np.int64).tolist()
kv = KeyedVectors(vector_size=12)
words = ['word%d' % i for i in range(40)]
words[0] = 'straße'
words[1] = '日本語'
kv.add_vectors(words, m)
kv.save_word2vec_format(d + '/py.bin', binary=True)
kv.save_word2vec_format(d + '/py.txt', binary=False)
out['words'] = words
print(json.dumps(out))
`;

async function readAll(path: string, options?: Parameters<typeof openRecords>[1]): Promise<ImportRecord[]> {
  const out: ImportRecord[] = [];
  for await (const r of (await openRecords(path, options)).records) out.push(r);
  return out;
}

test('numpy and gensim read what we write, and we read what they write', { skip: !existsSync(PYTHON) && `no ${PYTHON}` }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-io-py-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const rng = new Random(21);
  const recs: ImportRecord[] = Array.from({ length: 30 }, (_, i) => ({
    id: i === 0 ? 'größe' : i === 1 ? 'ключ' : `w${i}`,
    vector: Float32Array.from({ length: 10 }, (_, j) => rng.gaussian() * (j === 0 ? 1e-6 : 1)),
  }));
  await writeWord2vec(join(dir, 'ours.bin'), recs, { binary: true, count: 30, dim: 10 });
  await writeWord2vec(join(dir, 'ours.txt'), recs, { binary: false, count: 30, dim: 10 });
  await writeNpy(join(dir, 'ours.npy'), recs);

  const run = spawnSync(PYTHON, ['-c', SCRIPT, dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.status === 3) {
    t.skip(`${PYTHON} lacks numpy or gensim: ${run.stdout.trim()}`);
    return;
  }
  assert.equal(run.status, 0, run.stderr);
  const py = JSON.parse(run.stdout) as Record<string, { keys: string[]; vectors: number[][] } & Record<string, unknown>> & {
    f4: number[][]; f2: number[][]; i8: number[][]; words: string[];
  };
  const ids = recs.map((r) => r.id);
  const vectors = recs.map((r) => Array.from(r.vector));
  for (const k of ['ours_bin', 'ours_txt'] as const) {
    assert.deepStrictEqual(py[k]!.keys, ids, k);
    assert.deepStrictEqual(py[k]!.vectors, vectors, `${k}: gensim loads the same float32 values`);
  }
  assert.deepStrictEqual(py.ours_npy, { dtype: 'float32', shape: [30, 10], values: vectors });

  const rows = (rs: ImportRecord[]): number[][] => rs.map((r) => Array.from(r.vector));
  const f4 = await openRecords(join(dir, 'py_f4.npy'));
  assert.deepStrictEqual([f4.dim, f4.count], [12, 40]);
  assert.deepStrictEqual(rows(await readAll(join(dir, 'py_f4.npy'))), py.f4);
  assert.deepStrictEqual(rows(await readAll(join(dir, 'py_v2.npy'))), py.f4);
  assert.deepStrictEqual(rows(await readAll(join(dir, 'py_f8.npy'))), py.f4, 'float64 of float32 values reads back exactly');
  assert.deepStrictEqual(rows(await readAll(join(dir, 'py_f2.npy'))), py.f2);
  assert.deepStrictEqual(rows(await readAll(join(dir, 'py_i8.npy'))), py.i8);
  await assert.rejects(readAll(join(dir, 'py_fortran.npy')),
    (e: unknown) => e instanceof OmnivecError && e.code === 'invalid_argument' && /fortran_order True/.test(e.message));

  for (const name of ['py.bin', 'py.txt']) {
    assert.equal(detectFormat(join(dir, name)), name.endsWith('.bin') ? 'word2vec-binary' : 'word2vec');
    const back = await readAll(join(dir, name));
    assert.deepStrictEqual(back.map((r) => r.id), py.words, name);
    assert.deepStrictEqual(rows(back), py.f4, `${name}: gensim's values read back exactly`);
  }
});
