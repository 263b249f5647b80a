import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Tokenizer } from '@huggingface/tokenizers';
import { ClipTokenizer, bytesToUnicode, cleanClipText, htmlUnescape, loadClipTokenizer, CLIP_MERGES } from './bpe.js';
import { withTempDir, throwsCode, rejectsCode } from '../../../test/helpers/assertions.js';

const BPE_GZ = '/work/shared/data/tokenizer-clip-bpe/bpe_simple_vocab_16e6.txt.gz';
const tokenizer = await loadClipTokenizer(BPE_GZ);

/**
 * Token ids published by others, each produced by a CLIP tokenizer we do not share code with:
 *
 * - [bumblebee] elixir-nx/bumblebee:test/bumblebee/text/clip_tokenizer_test.exs@21832f34 — the
 *   Hugging Face tokenizer of openai/clip-vit-base-patch32.
 * - [clip.tokenize] nishio/external_brain_in_markdown:pages/CLIP.md@53ef4acf — the output of
 *   the original `clip.tokenize` (openai/CLIP), padding zeros included.
 * - [mlimgsynth] aagdev/mlimgsynth:src/test_text_tokenize_clip.c@d25e2af5 — a C reimplementation's
 *   test cases (without the special tokens). Its numbers ("2025" → 17 15 17 276) are left out:
 *   that implementation keeps a number as one word, while the original's regex (`[\p{N}]`) makes
 *   every digit its own word, so each digit ends in `</w>` ("2" → 273, as [zer0int] and HF show for
 *   "42" → 275 273).
 * - [zer0int] zer0int/CLIP-tokenizer:README.md — "a photo of a cat" → 320 1125 539 320 2368 from
 *   the original tokenizer.
 */
const PUBLISHED: [text: string, ids: number[], source: string][] = [
  ['a photo of a cat', [49406, 320, 1125, 539, 320, 2368, 49407], 'bumblebee, zer0int'],
  ['a photo of a dog', [49406, 320, 1125, 539, 320, 1929, 49407], 'bumblebee'],
  ['a painting of a cat', [49406, 320, 3086, 539, 320, 2368, 49407], 'clip.tokenize'],
  ['bozuman', [49406, 647, 4091, 786, 49407], 'clip.tokenize'],
];
const MLIMGSYNTH: [string, number[]][] = [
  ['a dog jumping', [320, 1929, 11476]],
  ['   a   dog\t\tjumping\r\n', [320, 1929, 11476]],
  ['an illustration', [550, 6052]],
  ['a sign saying "Here lies Cesar"', [320, 2292, 4455, 257, 763, 3205, 28603, 257]],
  ["a sign saying 'Here lies Cesar'", [320, 2292, 4455, 262, 763, 3205, 28603, 262]],
  ["A'veA'llA's", [320, 1200, 320, 1342, 320, 568]],
  ['', []],
  ['  \t  \n', []],
  ['a dog, a house.', [320, 1929, 267, 320, 1212, 269]],
  ['corazón', [851, 854, 13926]],
  ['cat---dog-—-rabbit', [2368, 11079, 1929, 12, 6718, 268, 10274]],
  ['まあ、お待ちなさい。', [4813, 122, 4813, 480, 45262, 4813, 232, 161, 122, 227, 4813, 94, 29104, 4813, 243, 38850, 38000]],
];

test('vocabulary as simple_tokenizer.py builds it: 49408 ids, <|startoftext|> 49406, <|endoftext|> 49407', () => {
  assert.equal(tokenizer.vocabSize, 49408);
  assert.equal(tokenizer.startId, 49406);
  assert.equal(tokenizer.endId, 49407);
  assert.equal(tokenizer.token(0), '!');
  assert.equal(tokenizer.token(256), '!</w>');
  assert.equal(tokenizer.token(512), 'in'); // the first merge, "i n"
  assert.equal(tokenizer.token(320), 'a</w>');
  const { bytes, chars } = bytesToUnicode();
  assert.equal(new Set(bytes).size, 256);
  assert.equal(chars[bytes.indexOf(0x20)], 'Ġ'); // GPT-2's space symbol
});

test('published ids: clip.tokenize frames (SOT … EOT, zero padding to 77, mask)', () => {
  for (const [text, ids, source] of PUBLISHED) {
    const e = tokenizer.encode(text);
    assert.deepEqual([...e.ids.subarray(0, ids.length)], ids, `${text} (${source})`);
    assert.ok(e.ids.subarray(ids.length).every((x) => x === 0), `${text}: zero padding`);
    assert.equal(e.ids.length, 77);
    assert.equal(e.length, ids.length);
    assert.deepEqual([...e.attentionMask.subarray(0, ids.length + 1)], [...ids.map(() => 1), 0]);
    assert.equal(e.truncated, false);
  }
});

test('published ids: mlimgsynth cases (cleaning, quotes, contractions, UTF-8, punctuation runs, Japanese)', () => {
  for (const [text, ids] of MLIMGSYNTH) assert.deepEqual(tokenizer.tokenize(text), ids, JSON.stringify(text));
});

test('digits are words of their own; case and spacing do not matter; decode inverts', () => {
  assert.deepEqual(tokenizer.tokenize('42'), [275, 273]);
  assert.deepEqual(tokenizer.tokenize('A PHOTO of  a Cat!'), [...tokenizer.tokenize('a photo of a cat'), 256]);
  assert.equal(tokenizer.decode(tokenizer.tokenize('A photo of a café, 2025!')), 'a photo of a café , 2 0 2 5 ! ');
  // The special tokens written in the text are the special ids, as in the original.
  assert.deepEqual(tokenizer.tokenize('x <|endoftext|>'), [343, 49407]);
});

test('cleaning: html unescaped twice, ftfy character maps (curly quotes, ligatures, full width)', () => {
  assert.equal(htmlUnescape('&amp;lt; &#39;x&#x27; &copy &euro; &bogus; &#150;'), "&lt; 'x' © € &bogus; –");
  // Python's html.unescape on the odd cases: legacy names as prefixes, invalid code points.
  assert.equal(htmlUnescape('&ampx &notit; &#0; &#x110000; &#127;&#1;|'), '&x ¬it; \ufffd \ufffd |');
  assert.equal(cleanClipText('Tom &amp;amp; Jerry'), 'Tom & Jerry');
  assert.deepEqual(tokenizer.tokenize('don’t'), tokenizer.tokenize("don't"));
  assert.deepEqual(tokenizer.tokenize('“ﬁne”'), tokenizer.tokenize('"fine"'));
  assert.deepEqual(tokenizer.tokenize('ＣＬＩＰ\u3000model'), tokenizer.tokenize('clip model'));
  assert.equal(cleanClipText('\u00a0 a\u2003b \n'), 'a b');
  assert.equal(cleanClipText('\x1b[1mbold\x1b[0m \x93quoted\x94 \ufeffx\x00y ｶﾞ'), 'bold "quoted" xy ガ');
  assert.equal(cleanClipText('′ prime stays'), '′ prime stays');
});

test('long texts: refused by default (as clip.tokenize), cut with truncate keeping <|endoftext|> last', () => {
  const long = Array.from({ length: 100 }, () => 'cat').join(' ');
  throwsCode(() => tokenizer.encode(long), 'invalid_argument', /102 tokens .* context length 77.*truncate: true/);
  const e = tokenizer.encode(long, { truncate: true });
  assert.equal(e.length, 77);
  assert.equal(e.truncated, true);
  assert.equal(e.ids[0], 49406);
  assert.equal(e.ids[76], 49407);
  assert.ok(e.ids.subarray(1, 76).every((x) => x === 2368));
  // Exactly 75 text tokens still fit.
  assert.equal(tokenizer.encode(Array.from({ length: 75 }, () => 'cat').join(' ')).truncated, false);
  throwsCode(() => tokenizer.encodeBatch(['a', long]), 'invalid_argument', /texts\[1\]/);
  throwsCode(() => tokenizer.encode('a', { contextLength: 1 }), 'invalid_argument', /contextLength/);
});

test('encodeBatch: int64 rows, EOT index per text, padding to 77 or to the longest', () => {
  const b = tokenizer.encodeBatch(['a photo of a cat', 'bozuman', '']);
  assert.deepEqual(b.dims, [3, 77]);
  assert.deepEqual([...b.eotIndex], [6, 4, 1]);
  assert.equal(b.inputIds[77 + 4], 49407n);
  assert.equal(b.attentionMask[77 + 4], 1n);
  assert.equal(b.attentionMask[77 + 5], 0n);
  const short = tokenizer.encodeBatch(['a photo of a cat', 'bozuman'], { padToLongest: true });
  assert.deepEqual(short.dims, [2, 7]);
  assert.deepEqual([...short.inputIds.subarray(7)].map(Number), [49406, 647, 4091, 786, 49407, 0, 0]);
});

test('Hugging Face vocab.json + merges.txt and tokenizer.json give the same ids', () => withTempDir('omnivec-clipbpe-', async (dir) => {
  // Written from the original file here (HF's files hold the same vocabulary and merges).
  const text = gunzipSync(readFileSync(BPE_GZ)).toString('utf8');
  const merges = text.split('\n').slice(1, CLIP_MERGES + 1);
  const vocab: Record<string, number> = {};
  for (let id = 0; id < tokenizer.vocabSize; id++) vocab[tokenizer.token(id)] = id;
  await writeFile(join(dir, 'vocab.json'), JSON.stringify(vocab));
  await writeFile(join(dir, 'merges.txt'), ['#version: 0.2', ...merges].join('\n') + '\n');
  const hf = await loadClipTokenizer(dir);
  assert.equal(hf.source, 'vocab-merges');
  const tj = join(dir, 'tj', 'tokenizer.json');
  await import('node:fs/promises').then((fs) => fs.mkdir(join(dir, 'tj')));
  await writeFile(tj, JSON.stringify({ model: { type: 'BPE', vocab, merges, end_of_word_suffix: '</w>' } }));
  const fast = await loadClipTokenizer(join(dir, 'tj'));
  assert.equal(fast.source, 'tokenizer-json');
  for (const [t] of [...PUBLISHED, ...MLIMGSYNTH]) {
    assert.deepEqual(hf.tokenize(t), tokenizer.tokenize(t));
    assert.deepEqual(fast.tokenize(t), tokenizer.tokenize(t));
  }
  await writeFile(join(dir, 'tj', 'tokenizer.json'), JSON.stringify({ model: { type: 'BPE', vocab, merges: [], end_of_word_suffix: '' } }));
  await rejectsCode(loadClipTokenizer(tj), 'corrupt_file', /not a CLIP tokenizer/);
  await rejectsCode(loadClipTokenizer(join(dir, 'nope')), 'not_found', /nope/);
  await import('node:fs/promises').then((fs) => fs.mkdir(join(dir, 'empty')));
  await rejectsCode(loadClipTokenizer(join(dir, 'empty')), 'not_found', /vocab\.json \+ merges\.txt/);
  throwsCode(() => ClipTokenizer.fromBpeText('header\ni n\n'), 'corrupt_file', /expected 48894 merges/);
}));

/**
 * Hugging Face's CLIP tokenizer.json (as shipped with openai/clip-vit-base-patch32: NFC, whitespace
 * runs → ' ', lower case; the same split regex; byte-level; BPE with `</w>`; SOT / EOT added),
 * built here from the original file, run by `@huggingface/tokenizers`.
 */
let hfTokenizer: Tokenizer | undefined;
function hfClipTokenizer(): Tokenizer {
  if (hfTokenizer !== undefined) return hfTokenizer;
  const merges = gunzipSync(readFileSync(BPE_GZ)).toString('utf8').split('\n').slice(1, CLIP_MERGES + 1);
  const vocab: Record<string, number> = {};
  for (let id = 0; id < tokenizer.vocabSize; id++) vocab[tokenizer.token(id)] = id;
  const special = (id: number, content: string): object => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true });
  hfTokenizer = new Tokenizer({
    version: '1.0', truncation: null, padding: null,
    added_tokens: [special(49406, '<|startoftext|>'), special(49407, '<|endoftext|>')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }] },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [
      { type: 'Split', pattern: { Regex: "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" }, behavior: 'Removed', invert: true },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] },
    post_processor: { type: 'RobertaProcessing', sep: ['<|endoftext|>', 49407], cls: ['<|startoftext|>', 49406], trim_offsets: false, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: '<|endoftext|>', continuing_subword_prefix: '', end_of_word_suffix: '</w>', fuse_unk: false, byte_fallback: false, vocab, merges },
  } as unknown as ConstructorParameters<typeof Tokenizer>[0], {});
  return hfTokenizer;
}

const STS = readFileSync('/work/shared/data/sts-benchmark/sts-test.csv', 'utf8').split('\n').flatMap((l) => l.split('\t').slice(5, 7)).filter((x) => x.trim() !== '');
const SANGUO = readFileSync('/work/shared/data/text-zh-sanguo/sanguo_yanyi.txt', 'utf8').split('\n').filter((x) => x.trim() !== '').slice(0, 200);

test('the same ids as @huggingface/tokenizers running HF\'s CLIP tokenizer.json, once both see ftfy-cleaned text', () => {
  // HF's fast CLIP tokenizer has no ftfy step (curly quotes, full-width punctuation stay), so it is
  // given cleanClipText's output; everything after the cleaning must agree id for id.
  const hf = hfClipTokenizer();
  let compared = 0;
  for (const s of [...STS, ...SANGUO]) {
    const want = hf.encode(cleanClipText(s)).ids;
    assert.deepEqual([49406, ...tokenizer.tokenize(s), 49407], want, s);
    compared += want.length;
  }
  assert.ok(compared > 40_000);
  // Where the cleaning matters: "，" is "," to the original (ftfy's character width), not to HF's.
  assert.notDeepEqual(hf.encode('一，二').ids, [49406, ...tokenizer.tokenize('一，二'), 49407]);
});

test('throughput: a real corpus through tokenize (cached per word), @huggingface/tokenizers in the same run', (t) => {
  // The STS Benchmark test sentences: short captions and news lines, as CLIP texts are.
  const corpus = STS;
  const fresh = ClipTokenizer.fromBpeText(gunzipSync(readFileSync(BPE_GZ)).toString('utf8'));
  let tokens = 0;
  const t0 = performance.now();
  for (const s of corpus) tokens += fresh.tokenize(s).length;
  const cold = performance.now() - t0;
  const t1 = performance.now();
  for (const s of corpus) fresh.tokenize(s);
  const warm = performance.now() - t1;
  const hf = hfClipTokenizer();
  for (const s of corpus.slice(0, 100)) hf.encode(s); // past its first-call costs
  const t2 = performance.now();
  for (const s of corpus) hf.encode(s);
  const peer = performance.now() - t2;
  const rate = (ms: number): string => Math.round(tokens / ms * 1000).toLocaleString('en-US');
  t.diagnostic(`${corpus.length} sentences, ${tokens} tokens: ${rate(cold)} tokens/s cold cache, ${rate(warm)} tokens/s warm; ` +
    `@huggingface/tokenizers ${rate(peer)} tokens/s (${(peer / cold).toFixed(1)}× our cold time)`);
  assert.ok(tokens > 10_000);
});
