import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserializeIndex, serializeIndex, saveIndex, loadIndex } from '../src/indexes/registry.js';
import { concat } from '../src/indexes/conformance.js';
import { decodeFile, FORMAT_VERSION } from '../src/storage/header.js';
import { OmnivecError } from '../src/errors.js';
import { fixtureData, fixtureIndexes } from './fixtures/fixture-data.js';

const fresh = fixtureIndexes();

for (const version of readdirSync(new URL('./fixtures/', import.meta.url)).filter((d) => /^v\d+$/.test(d))) {
  for (const name of Object.keys(fresh)) {
    test(`format ${version}: the committed ${name} file loads and answers like a fresh build`, () => {
      const bytes = new Uint8Array(readFileSync(new URL(`./fixtures/${version}/${name}.idx`, import.meta.url)));
      const { header } = decodeFile(bytes);
      assert.equal(header.version, Number(version.slice(1)));
      const loaded = deserializeIndex(bytes);
      const built = fresh[name]!;
      assert.equal(loaded.kind, built.kind);
      assert.equal(loaded.size, built.size);
      assert.deepEqual(loaded.params, built.params);
      assert.deepEqual(loaded.searchBatch(fixtureData.queries, 5), built.searchBatch(fixtureData.queries, 5));
    });
  }
}

test(`the writer still produces the version-${FORMAT_VERSION} fixture bytes (a layout change needs a new version)`, () => {
  for (const [name, index] of Object.entries(fresh)) {
    const want = readFileSync(new URL(`./fixtures/v${FORMAT_VERSION}/${name}.idx`, import.meta.url));
    assert.ok(Buffer.from(concat(serializeIndex(index))).equals(want), `${name}.idx differs from what this version writes`);
    // The database writes snapshots without copying the index's memory first: same bytes.
    assert.ok(Buffer.from(concat(serializeIndex(index, { copy: false }))).equals(want), `${name}.idx differs when written without a copy`);
  }
});

test('saveIndex replaces the file atomically and loadIndex names the file in errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-'));
  try {
    const path = join(dir, 'a.idx');
    await saveIndex(fresh.flat!, path);
    await saveIndex(fresh.hnsw!, path); // overwrite
    assert.deepEqual(readdirSync(dir), ['a.idx'], 'no temporary file left behind');
    const again = await loadIndex(path);
    assert.equal(again.kind, 'hnsw');
    writeFileSync(path, readFileSync(path).subarray(0, 100));
    await assert.rejects(loadIndex(path), (e: unknown) => e instanceof OmnivecError && e.code === 'corrupt_file' && e.message.startsWith(path));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('large files are read section by section (vectors straight into the index): same index, same checks', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-stream-'));
  try {
    for (const [name, index] of Object.entries(fresh)) {
      const path = join(dir, `${name}.idx`);
      await saveIndex(index, path);
      const loaded = await loadIndex(path, { streamAbove: 0 });
      assert.deepEqual(loaded.searchBatch(fixtureData.queries, 5), index.searchBatch(fixtureData.queries, 5), name);
      assert.deepEqual(Buffer.from(concat(serializeIndex(loaded))), Buffer.from(concat(serializeIndex(index))), `${name}: re-serialised bytes`);
      // One flipped byte anywhere in the payload (here near the end, inside the vectors / records or after) is caught by the CRC.
      const bytes = readFileSync(path);
      for (const at of [64 + 40, bytes.length - 3, Math.floor(bytes.length * 0.6)]) {
        const bad = Buffer.from(bytes);
        bad[at] = bad[at]! ^ 0x10;
        writeFileSync(path, bad);
        await assert.rejects(loadIndex(path, { streamAbove: 0 }), (e: OmnivecError) => e.code === 'corrupt_file', `${name}: byte ${at} flipped`);
      }
      writeFileSync(path, bytes.subarray(0, bytes.length - 8));
      await assert.rejects(loadIndex(path, { streamAbove: 0 }), (e: OmnivecError) => e.code === 'corrupt_file' && /truncated/.test(e.message), `${name}: truncated`);
    }
    await assert.rejects(loadIndex(join(dir, 'missing.idx')), (e: OmnivecError) => e.code === 'not_found');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
