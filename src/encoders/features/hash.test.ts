import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashSlot, murmurHash3, murmurHash3String } from './hash.js';

test('MurmurHash3_x86_32 matches the reference test vectors', () => {
  // Appleby's SMHasher verification values and the widely published ones.
  assert.equal(murmurHash3(new Uint8Array(0), 0), 0);
  assert.equal(murmurHash3(new Uint8Array(0), 1), 0x514e28b7);
  assert.equal(murmurHash3(new Uint8Array(0), 0xffffffff), 0x81f16f39);
  assert.equal(murmurHash3(Uint8Array.of(0, 0, 0, 0), 0), 0x2362f9de);
  assert.equal(murmurHash3String('hello', 0), 0x248bfa47);
  assert.equal(murmurHash3String('The quick brown fox jumps over the lazy dog', 0), 0x2e4ff723);
  // scikit-learn's murmurhash3_32 test values (signed).
  assert.equal(murmurHash3String('foo', 0) | 0, -156908512);
  assert.equal(murmurHash3String('foo', 42) | 0, -1322301282);
  assert.equal(murmurHash3String('foo', 42), 2972666014);
});

test('strings hash as their UTF-8 bytes, every tail length, long and non-ASCII ones too', () => {
  const texts = ['', 'a', 'ab', 'abc', 'abcd', 'abcde', 'Ünïcödé', '電影', '🎬 film', 'x'.repeat(1000)];
  for (const t of texts) {
    for (const seed of [0, 1, 123456789]) {
      assert.equal(murmurHash3String(t, seed), murmurHash3(Buffer.from(t, 'utf8'), seed), `${t} / ${seed}`);
    }
  }
  // The scratch buffer grows for long texts and stays correct for short ones after.
  assert.equal(murmurHash3String('hello', 0), 0x248bfa47);
});

test('hashSlot: column |h| mod dims and sign from the signed hash (scikit-learn FeatureHasher rule)', () => {
  const h = murmurHash3String('foo', 0) | 0; // -156908512
  assert.deepEqual(hashSlot('foo', 1 << 20, 0), { index: 156908512 % (1 << 20), sign: -1 });
  assert.equal(h < 0, true);
  const hello = hashSlot('hello', 64, 0);
  assert.deepEqual(hello, { index: 0x248bfa47 % 64, sign: 1 });
  // Roughly uniform over columns and signs.
  const dims = 16;
  const counts = new Array<number>(dims).fill(0);
  let negative = 0;
  for (let i = 0; i < 16000; i++) {
    const s = hashSlot(`token-${i}`, dims, 7);
    counts[s.index]!++;
    if (s.sign < 0) negative++;
  }
  for (const c of counts) assert.ok(c > 850 && c < 1150, `column count ${c}`);
  assert.ok(negative > 7600 && negative < 8400, `negative ${negative}`);
});
