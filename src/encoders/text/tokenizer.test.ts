import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { OmnivecError } from '../../errors.js';
import { createTokenizer, DEFAULT_TOKENIZER_SPEC, type TokenizerSpec } from './tokenizer.js';

const DATA = '/work/shared/data';
const GLOSSES = `${DATA}/text-en-wordnet-glosses/wordnet-glosses.txt.gz`;
const SANGUO = `${DATA}/text-zh-sanguo/sanguo_yanyi.txt`;

const has = (path: string): boolean => existsSync(path);

test('default spec is words: lower-cased Unicode words, punctuation dropped', () => {
  const t = createTokenizer();
  assert.deepEqual(t.spec, { kind: 'words', lowercase: true, punctuation: 'drop', segment: 'auto' });
  assert.deepEqual(DEFAULT_TOKENIZER_SPEC, { kind: 'words' });
  assert.deepEqual(t.tokenize("Hello, World! Don't stop: 3.14 café NAÏVE new_york"),
    ['hello', 'world', 'don', 't', 'stop', '3', '14', 'café', 'naïve', 'new_york']);
  assert.deepEqual(t.tokenize('Москва — столица России.'), ['москва', 'столица', 'россии']);
  assert.deepEqual(t.tokenize(''), []);
  assert.deepEqual(t.tokenize(' \t ,.;! '), []);
  // Decomposed accents stay inside the word (combining marks are word characters).
  assert.deepEqual(t.tokenize('cafe\u0301 ok'), ['cafe\u0301', 'ok']);
  // ZWNJ inside Persian words is kept.
  assert.deepEqual(t.tokenize('می\u200cخواهم'), ['می\u200cخواهم']);
});

test('words: lowercase false, punctuation keep, locale lower-casing', () => {
  assert.deepEqual(createTokenizer({ kind: 'words', lowercase: false }).tokenize('Hello, World'), ['Hello', 'World']);
  assert.deepEqual(createTokenizer({ kind: 'words', punctuation: 'keep' }).tokenize('Hello, world! a+b=c… 😀 你好，世界。'),
    ['hello', ',', 'world', '!', 'a', '+', 'b', '=', 'c', '…', '😀', '你好', '，', '世界', '。']);
  // Turkish: dotted capital I lowers to i, capital I to dotless ı with the locale.
  assert.deepEqual(createTokenizer({ kind: 'words', locale: 'tr' }).tokenize('İSTANBUL IRMAK'), ['istanbul', 'ırmak']);
  assert.deepEqual(createTokenizer({ kind: 'words' }).tokenize('IRMAK'), ['irmak']);
});

test('words: space-less scripts are segmented with Intl.Segmenter, other words left alone', () => {
  const t = createTokenizer();
  assert.deepEqual(t.tokenize('滚滚长江东逝水，浪花淘尽英雄。'), ['滚', '滚', '长江', '东', '逝水', '浪花', '淘', '尽', '英雄']);
  assert.deepEqual(t.tokenize('iPhone手机很好用'), ['iphone', '手机', '很好', '用']);
  assert.deepEqual(t.tokenize('第1回'), ['第', '1', '回']);
  assert.deepEqual(t.tokenize('コーヒーを飲む'), ['コーヒー', 'を', '飲む']);
  assert.deepEqual(t.tokenize('ภาษาไทยง่ายนิดเดียว'), ['ภาษา', 'ไทย', 'ง่าย', 'นิด', 'เดียว']);
  // An English word tokenizes the same on a line with Chinese as on a line without.
  assert.deepEqual(t.tokenize("don't 你好"), ['don', 't', '你好']);
  // Several runs on one line are segmented in one call and put back in their places.
  assert.deepEqual(t.tokenize('A 长江 b 英雄 c'), ['a', '长江', 'b', '英雄', 'c']);
  const zh = createTokenizer({ kind: 'words', locale: 'zh' });
  assert.deepEqual(zh.tokenize('长江 英雄'), ['长江', '英雄']);
});

test("words: segment 'chars' and 'never'", () => {
  assert.deepEqual(createTokenizer({ kind: 'words', segment: 'chars' }).tokenize('Hi 你好世界 ก้า'), ['hi', '你', '好', '世', '界', 'ก้', 'า']);
  assert.deepEqual(createTokenizer({ kind: 'words', segment: 'never' }).tokenize('Hi 你好世界，ภาษาไทย'), ['hi', '你好世界', 'ภาษาไทย']);
});

test("whitespace: exactly Python's str.split() (gensim's LineSentence), nothing else changed", () => {
  const t = createTokenizer({ kind: 'whitespace' });
  assert.deepEqual(t.spec, { kind: 'whitespace' });
  assert.deepEqual(t.tokenize('  The cat,  sat\tON\u3000the\u00a0mat.\r\n'), ['The', 'cat,', 'sat', 'ON', 'the', 'mat.']);
  // U+001C…U+001F and U+0085 split (as in Python); U+FEFF does not (it does in JavaScript's \s).
  assert.deepEqual(t.tokenize('a\u001cb\u0085c\ufeffd'), ['a', 'b', 'c\ufeffd']);
  assert.deepEqual(t.tokenize(''), []);
  assert.deepEqual(t.tokenize('item_1 item_2'), ['item_1', 'item_2']);
});

test('bad specs are refused with invalid_argument naming the option', () => {
  const bad: [unknown, RegExp][] = [
    [null, /tokenizer: expected a spec/],
    [{ kind: 'bpe' }, /tokenizer\.kind: expected "words" or "whitespace", got the string "bpe"/],
    [{ kind: 'whitespace', lowercase: true }, /takes no options, got "lowercase"/],
    [{ kind: 'words', lowercas: true }, /unknown option "lowercas"/],
    [{ kind: 'words', lowercase: 'yes' }, /tokenizer\.lowercase: expected a boolean/],
    [{ kind: 'words', punctuation: 'strip' }, /tokenizer\.punctuation: expected "drop" or "keep"/],
    [{ kind: 'words', segment: 'jieba' }, /tokenizer\.segment: expected "auto", "never" or "chars"/],
    [{ kind: 'words', locale: 'not a locale!' }, /tokenizer\.locale: expected a BCP 47 language tag/],
  ];
  for (const [spec, re] of bad) {
    assert.throws(() => createTokenizer(spec as TokenizerSpec), (e: unknown) => e instanceof OmnivecError && e.code === 'invalid_argument' && re.test(e.message));
  }
});

test('speed: the WordNet glosses (4M tokens) and the Sanguo Yanyi (Chinese)', { skip: !has(GLOSSES) || !has(SANGUO) ? 'shared data missing' : false }, (t) => {
  const en = gunzipSync(readFileSync(GLOSSES)).toString('utf8').split('\n');
  for (const spec of [{ kind: 'words' }, { kind: 'whitespace' }] as TokenizerSpec[]) {
    const tok = createTokenizer(spec);
    let n = 0;
    const t0 = performance.now();
    for (const line of en) n += tok.tokenize(line).length;
    const ms = performance.now() - t0;
    t.diagnostic(`${spec.kind} on wordnet-glosses: ${n} tokens in ${ms.toFixed(0)} ms = ${(n / ms / 1000).toFixed(1)} M tokens/s`);
    assert.ok(n > 3_500_000);
  }
  // The first ~40 chapters (a third of the book) keep the test short.
  const zh = readFileSync(SANGUO, 'utf8').split(/\r?\n/).slice(0, 1200);
  const tok = createTokenizer();
  const counts = new Map<string, number>();
  let n = 0;
  let chars = 0;
  const t0 = performance.now();
  for (const line of zh) {
    chars += line.length;
    for (const w of tok.tokenize(line)) { counts.set(w, (counts.get(w) ?? 0) + 1); n++; }
  }
  const ms = performance.now() - t0;
  t.diagnostic(`words on sanguo_yanyi: ${n} tokens (${chars} chars) in ${ms.toFixed(0)} ms = ${(n / ms / 1000).toFixed(2)} M tokens/s`);
  // Names the dictionary knows come out whole; ICU's dictionary cuts 诸葛亮 into 诸葛 + 亮.
  assert.ok((counts.get('曹操') ?? 0) > 100, `曹操 ${counts.get('曹操')}`);
  assert.ok((counts.get('刘备') ?? 0) > 50, `刘备 ${counts.get('刘备')}`);
  assert.ok((counts.get('张飞') ?? 0) > 50, `张飞 ${counts.get('张飞')}`);
  assert.ok((counts.get('吕布') ?? 0) > 100, `吕布 ${counts.get('吕布')}`);
  assert.deepEqual(tok.tokenize('诸葛亮'), ['诸葛', '亮']);
  assert.ok(!counts.has('，') && !counts.has('。'), 'punctuation dropped');
});
