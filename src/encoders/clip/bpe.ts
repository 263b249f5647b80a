import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { OmnivecError, describe, invalidArgument } from '../../errors.js';

/**
 * The original OpenAI CLIP tokenizer (openai/CLIP:clip/simple_tokenizer.py, Radford et al. 2021),
 * byte-level BPE after GPT-2 (Sennrich et al. 2016; Radford et al. 2019) with a `</w>` end-of-word
 * marker instead of GPT-2's leading-space marker.
 *
 * Pipeline, as `SimpleTokenizer.encode`: clean (a subset of ftfy, see {@link cleanClipText}; HTML
 * unescaped twice; whitespace runs → one space; strip) → lower case → the pre-split regex
 * (`'s 't 're 've 'm 'll 'd`, letter runs, single digits, runs of other non-space characters, and
 * the two special tokens written out) → each piece's UTF-8 bytes mapped to printable characters
 * (GPT-2's bytes_to_unicode) → BPE by merge rank → ids. `encode` adds `<|startoftext|>` and
 * `<|endoftext|>` and pads with 0 to the context length (77), as `clip.tokenize` does.
 *
 * Symbols are vocabulary ids throughout (a merge is a lookup of the id pair, no strings are built
 * in the loop), and each distinct pre-token's ids are cached, so running text costs one Map lookup
 * per word once the common words have been seen.
 */

/** CLIP's context length: 77 tokens, `<|startoftext|>` and `<|endoftext|>` included. */
export const CLIP_CONTEXT_LENGTH = 77;
/** The number of merges CLIP reads from its file (49152 − 256 − 2), as simple_tokenizer.py slices them. */
export const CLIP_MERGES = 49152 - 256 - 2;
export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';
/** The original file's name, as openai/CLIP ships it. */
export const BPE_GZ_FILE = 'bpe_simple_vocab_16e6.txt.gz';

const PRE_SPLIT = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/giu;
// `regex`'s \s is Unicode White_Space; JS's \s also takes U+FEFF and leaves out U+0085.
const WHITESPACE_RUN = /\p{White_Space}+/gu;
const CACHE_LIMIT = 200_000;

/** GPT-2's reversible byte → printable character map (the order is the vocabulary's first 256 ids). */
export function bytesToUnicode(): { bytes: number[]; chars: string[] } {
  const bytes: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bytes.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bytes.push(b);
  for (let b = 0xae; b <= 0xff; b++) bytes.push(b);
  const codes = [...bytes];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      codes.push(256 + n);
      n++;
    }
  }
  return { bytes, chars: codes.map((c) => String.fromCodePoint(c)) };
}

// ---------------------------------------------------------------------------------------------
// Cleaning: html.unescape twice, and the parts of ftfy.fix_text that are plain character maps.

// HTML entities that html.unescape accepts without a trailing ';' (HTML5's legacy names): the
// Latin-1 block U+00A0–U+00FF in order, then the ASCII ones.
const LATIN1_ENTITIES = ('nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3 ' +
  'acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave Aacute Acirc Atilde Auml Aring AElig Ccedil ' +
  'Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc ' +
  'Uuml Yacute THORN szlig agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc euml igrave iacute icirc iuml eth ' +
  'ntilde ograve oacute ocirc otilde ouml divide oslash ugrave uacute ucirc uuml yacute thorn yuml').split(' ');
const LEGACY_ENTITIES = new Map<string, string>([
  ...LATIN1_ENTITIES.map((name, i) => [name, String.fromCharCode(0xa0 + i)] as [string, string]),
  ['amp', '&'], ['lt', '<'], ['gt', '>'], ['quot', '"'], ['AMP', '&'], ['LT', '<'], ['GT', '>'], ['QUOT', '"'], ['COPY', '©'], ['REG', '®'],
]);
// Common entities that need the ';' (the full HTML5 table has 2,231; others are left as written).
const NAMED_ENTITIES = new Map<string, string>([
  ...LEGACY_ENTITIES,
  ['apos', "'"], ['hellip', '…'], ['mdash', '—'], ['ndash', '–'], ['lsquo', '‘'], ['rsquo', '’'], ['sbquo', '‚'], ['ldquo', '“'],
  ['rdquo', '”'], ['bdquo', '„'], ['bull', '•'], ['euro', '€'], ['trade', '™'], ['dagger', '†'], ['Dagger', '‡'], ['permil', '‰'],
  ['lsaquo', '‹'], ['rsaquo', '›'], ['oelig', 'œ'], ['OElig', 'Œ'], ['scaron', 'š'], ['Scaron', 'Š'], ['Yuml', 'Ÿ'], ['fnof', 'ƒ'],
  ['circ', 'ˆ'], ['tilde', '˜'], ['ensp', '\u2002'], ['emsp', '\u2003'], ['thinsp', '\u2009'], ['zwnj', '\u200c'], ['zwj', '\u200d'],
  ['lrm', '\u200e'], ['rlm', '\u200f'], ['prime', '′'], ['Prime', '″'], ['larr', '←'], ['rarr', '→'], ['uarr', '↑'], ['darr', '↓'],
  ['harr', '↔'], ['le', '≤'], ['ge', '≥'], ['ne', '≠'], ['minus', '−'], ['infin', '∞'], ['hearts', '♥'], ['star', '☆'],
]);
// html.unescape's replacements for numeric references to C1 controls (Windows-1252) and NUL / CR.
const CP1252 = '€\x81‚ƒ„…†‡ˆ‰Š‹Œ\x8dŽ\x8f\x90‘’“”•–—˜™š›œ\x9džŸ';
const ENTITY = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;

function numericEntity(num: number): string {
  if (num === 0) return '\ufffd';
  if (num === 0x0d) return '\r';
  if (num >= 0x80 && num <= 0x9f) return CP1252[num - 0x80]!;
  if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd';
  if ((num >= 0x1 && num <= 0x8) || (num >= 0xe && num <= 0x1f) || num === 0xb || num === 0x7f || (num >= 0xfdd0 && num <= 0xfdef) || (num & 0xfffe) === 0xfffe) return '';
  return String.fromCodePoint(num);
}

/** Python's html.unescape: numeric references, and the named entities above (legacy ones also without ';'). */
export function htmlUnescape(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(ENTITY, (whole, body: string) => {
    if (body[0] === '#') {
      const hex = body[1] === 'x' || body[1] === 'X';
      const digits = body.slice(hex ? 2 : 1).replace(/;$/, '');
      return numericEntity(parseInt(digits, hex ? 16 : 10));
    }
    if (body.endsWith(';')) {
      const v = NAMED_ENTITIES.get(body.slice(0, -1));
      if (v !== undefined) return v;
    }
    // Without ';' (or unknown with it): the longest legacy name that starts the text, as Python does.
    for (let x = Math.min(body.length, 32); x > 1; x--) {
      const v = LEGACY_ENTITIES.get(body.slice(0, x));
      if (v !== undefined) return v + body.slice(x);
    }
    return whole;
  });
}

// ftfy's uncurl_quotes: U+02BC and U+2018–U+201B → ', U+201C–U+201F → ".
const CURLY = /[\u02bc\u2018-\u201b\u201c-\u201f]/g;
// ftfy's fix_latin_ligatures.
const LIGATURES = /[\u0132\u0133\u0149\u01c4-\u01cc\u01f1-\u01f3\ufb00-\ufb06]/g;
// ftfy's fix_character_width: U+3000 and U+FF01–U+FFEF (full-width ASCII, half-width kana and
// hangul, full-width symbols) → their NFKC forms; characters whose NFKC form is themselves stay.
const WIDE = /[\u3000\uff01-\uffef]/g;

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const TERMINAL_ESCAPE = /\x1b\[[\d;]*[a-zA-Z]/g;
const C1 = /[\x80-\x9f]/g;
// ftfy's remove_control_chars: C0 controls but \t \n \f \r, DEL, deprecated format characters, BOM, interlinear annotation.
// eslint-disable-next-line no-control-regex -- as above
const CONTROL = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;

/**
 * The cleaning CLIP applies before lower-casing: ftfy.fix_text's character-level fixes (terminal
 * escapes removed; C1 controls read as Windows-1252; Latin ligatures such as ﬁ → fi; full-width
 * and half-width forms → their NFKC forms; curly quotes → straight; control characters removed;
 * NFC), html.unescape twice, whitespace runs → one space, stripped. ftfy's mojibake repair (UTF-8
 * decoded with the wrong codec, "Ã©" for "é") is not done: such text tokenizes as it is written.
 */
export function cleanClipText(text: string): string {
  let t = text.replace(TERMINAL_ESCAPE, '');
  t = t.replace(C1, (c) => CP1252[c.charCodeAt(0) - 0x80]!);
  t = t.replace(LIGATURES, (c) => c.normalize('NFKC'));
  t = t.replace(WIDE, (c) => c.normalize('NFKC'));
  t = t.replace(CURLY, (c) => (c < '\u201c' ? "'" : '"'));
  t = t.replace(CONTROL, '').normalize('NFC');
  t = htmlUnescape(htmlUnescape(t));
  return t.replace(WHITESPACE_RUN, ' ').replace(/^ | $/g, '');
}

// ---------------------------------------------------------------------------------------------

/** One text as the text tower takes it. */
export interface ClipEncoding {
  /** `contextLength` ids: `<|startoftext|>`, the text's tokens, `<|endoftext|>`, then 0s. */
  ids: Int32Array;
  /** 1 for the real tokens (both special tokens included), 0 for the padding. */
  attentionMask: Uint8Array;
  /** Real tokens, special tokens included; `<|endoftext|>` sits at `length − 1`. */
  length: number;
  /** Whether text tokens were dropped to fit (only with `truncate: true`). */
  truncated: boolean;
}

/** A batch laid out for an ONNX text tower: int64 [n, length]. */
export interface ClipBatch {
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  dims: [number, number];
  /** Per text: the index of its `<|endoftext|>` (where CLIP pools). */
  eotIndex: Int32Array;
  /** Indices of the texts that were cut to fit. */
  truncated: number[];
}

export interface ClipEncodeOptions {
  /** Ids per text, special tokens included. Default 77. */
  contextLength?: number;
  /**
   * A text longer than the context: `false` (default, as `clip.tokenize`) refuses it with
   * `invalid_argument`; `true` keeps the first `contextLength − 1` ids and ends with `<|endoftext|>`.
   */
  truncate?: boolean;
}

export interface ClipBatchOptions extends ClipEncodeOptions {
  /** Pad to the longest text of the batch instead of `contextLength` (exact for CLIP, whose causal mask never lets a token see the padding after it). */
  padToLongest?: boolean;
}

/** Where the vocabulary came from, for messages and docs. */
export type ClipVocabSource = 'bpe-gz' | 'vocab-merges' | 'tokenizer-json';

export class ClipTokenizer {
  /** Vocabulary size (49408 for CLIP). */
  readonly vocabSize: number;
  readonly startId: number;
  readonly endId: number;
  readonly source: ClipVocabSource;
  readonly #byteId = new Int32Array(256);
  readonly #byteEndId = new Int32Array(256);
  /** (left id · 2^16 + right id) → merge rank. */
  readonly #ranks: PairTable;
  /** rank → id of the merged symbol. */
  readonly #merged: Int32Array;
  readonly #tokens: string[];
  readonly #cache = new Map<string, Int32Array>();
  readonly #utf8 = new TextEncoder();
  readonly #bytes = new Uint8Array(1024);

  private constructor(vocab: Map<string, number>, merges: readonly [string, string][], source: ClipVocabSource, file: string) {
    this.source = source;
    const need = (tok: string, what: string): number => {
      const id = vocab.get(tok);
      if (id === undefined) throw new OmnivecError('corrupt_file', `${file}: ${what} ${JSON.stringify(tok)} is not in the vocabulary`);
      return id;
    };
    let max = -1;
    for (const id of vocab.values()) if (id > max) max = id;
    if (max >= 65536) throw new OmnivecError('corrupt_file', `${file}: ids up to ${max}; a CLIP vocabulary has fewer than 65,536`);
    this.vocabSize = max + 1;
    this.#tokens = new Array<string>(this.vocabSize).fill('');
    for (const [tok, id] of vocab) this.#tokens[id] = tok;
    const { bytes, chars } = bytesToUnicode();
    bytes.forEach((b, i) => {
      this.#byteId[b] = need(chars[i]!, 'byte symbol');
      this.#byteEndId[b] = need(chars[i]! + '</w>', 'byte symbol');
    });
    this.startId = need(START_OF_TEXT, 'special token');
    this.endId = need(END_OF_TEXT, 'special token');
    this.#ranks = new PairTable(merges.length);
    this.#merged = new Int32Array(merges.length);
    merges.forEach(([a, b], rank) => {
      // A repeated merge keeps its last rank, as dict(zip(merges, range(...))) does.
      this.#ranks.set(need(a, 'merge symbol'), need(b, 'merge symbol'), rank);
      this.#merged[rank] = need(a + b, 'merge result');
    });
  }

  /** The original file: a header line, then merges; the vocabulary is built as simple_tokenizer.py builds it. */
  static fromBpeText(text: string, file = BPE_GZ_FILE): ClipTokenizer {
    // Only the first CLIP_MERGES of the file's 262,144 merges are read: split just that prefix.
    let end = 0;
    for (let i = 0; i <= CLIP_MERGES && end !== -1; i++) end = text.indexOf('\n', end + (i > 0 ? 1 : 0));
    const lines = (end === -1 ? text : text.slice(0, end)).split('\n').slice(1, CLIP_MERGES + 1);
    if (lines.length < CLIP_MERGES) throw new OmnivecError('corrupt_file', `${file}: expected ${CLIP_MERGES} merges after the header, got ${lines.length}`);
    const merges = lines.map((l, i) => parseMerge(l, i + 2, file));
    const { chars } = bytesToUnicode();
    const vocabList = [...chars, ...chars.map((c) => c + '</w>'), ...merges.map(([a, b]) => a + b), START_OF_TEXT, END_OF_TEXT];
    // dict(zip(vocab, range(len(vocab)))): a repeated string keeps its last id.
    const vocab = new Map<string, number>();
    vocabList.forEach((t, i) => vocab.set(t, i));
    return new ClipTokenizer(vocab, merges, 'bpe-gz', file);
  }

  /** Hugging Face's `vocab.json` (token → id) and `merges.txt` (`#version` header, then merges), sliced as CLIPTokenizer slices them. */
  static fromVocabMerges(vocabJson: string, mergesText: string, files: { vocab: string; merges: string } = { vocab: 'vocab.json', merges: 'merges.txt' }): ClipTokenizer {
    const vocab = vocabFromJson(parseJson(vocabJson, files.vocab), files.vocab);
    const lines = mergesText.split('\n');
    const body = (lines[0]?.startsWith('#') ? lines.slice(1) : lines).filter((l) => l.trim() !== '').slice(0, CLIP_MERGES);
    return new ClipTokenizer(vocab, body.map((l, i) => parseMerge(l, i + 2, files.merges)), 'vocab-merges', files.vocab);
  }

  /** A Hugging Face `tokenizer.json` of a CLIP model (model.type BPE, `</w>` suffix). */
  static fromTokenizerJson(json: string, file = 'tokenizer.json'): ClipTokenizer {
    const j = parseJson(json, file) as { model?: { type?: string; vocab?: unknown; merges?: unknown; end_of_word_suffix?: unknown } };
    const m = j.model;
    if (m === undefined || m.type !== 'BPE' || !Array.isArray(m.merges)) throw new OmnivecError('corrupt_file', `${file}: expected a BPE model with merges (model.type "BPE")`);
    if (m.end_of_word_suffix !== '</w>') throw new OmnivecError('corrupt_file', `${file}: not a CLIP tokenizer (model.end_of_word_suffix is ${describe(m.end_of_word_suffix)}, CLIP's is "</w>")`);
    const vocab = vocabFromJson(m.vocab, `${file} model.vocab`);
    const merges = (m.merges as unknown[]).slice(0, CLIP_MERGES).map((x, i): [string, string] => {
      if (typeof x === 'string') return parseMerge(x, i + 1, file);
      if (Array.isArray(x) && x.length === 2 && typeof x[0] === 'string' && typeof x[1] === 'string') return [x[0], x[1]];
      throw new OmnivecError('corrupt_file', `${file}: model.merges[${i}]: expected "a b" or ["a", "b"], got ${describe(x)}`);
    });
    return new ClipTokenizer(vocab, merges, 'tokenizer-json', file);
  }

  /** The text's BPE ids without the special tokens (SimpleTokenizer.encode). */
  tokenize(text: string): number[] {
    if (typeof text !== 'string') throw invalidArgument(`text: expected a string, got ${describe(text)}`);
    const out: number[] = [];
    const clean = cleanClipText(text).toLowerCase();
    for (const m of clean.matchAll(PRE_SPLIT)) {
      const ids = this.#word(m[0]);
      for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
    }
    return out;
  }

  /** One text with `<|startoftext|>` / `<|endoftext|>`, padded with 0 to the context length (clip.tokenize). */
  encode(text: string, options: ClipEncodeOptions = {}): ClipEncoding {
    const { contextLength, truncate } = checkEncodeOptions(options);
    const body = this.tokenize(text);
    const { ids, length, truncated } = this.#frame(body, contextLength, truncate, text);
    const attentionMask = new Uint8Array(contextLength);
    attentionMask.fill(1, 0, length);
    return { ids, attentionMask, length, truncated };
  }

  /** Many texts as one int64 batch for the text tower. `truncate` as in {@link encode}; refusals name the text's index. */
  encodeBatch(texts: readonly string[], options: ClipBatchOptions = {}): ClipBatch {
    if (!Array.isArray(texts)) throw invalidArgument(`texts: expected an array of strings, got ${describe(texts)}`);
    const { contextLength, truncate } = checkEncodeOptions(options);
    const framed = texts.map((t, i) => {
      if (typeof t !== 'string') throw invalidArgument(`texts[${i}]: expected a string, got ${describe(t)}`);
      return this.#frame(this.tokenize(t), contextLength, truncate, t, i);
    });
    const width = options.padToLongest === true ? framed.reduce((m, f) => Math.max(m, f.length), 1) : contextLength;
    const inputIds = new BigInt64Array(texts.length * width);
    const attentionMask = new BigInt64Array(texts.length * width);
    const eotIndex = new Int32Array(texts.length);
    const truncated: number[] = [];
    framed.forEach((f, r) => {
      for (let i = 0; i < f.length; i++) {
        inputIds[r * width + i] = BigInt(f.ids[i]!);
        attentionMask[r * width + i] = 1n;
      }
      eotIndex[r] = f.length - 1;
      if (f.truncated) truncated.push(r);
    });
    return { inputIds, attentionMask, dims: [texts.length, width], eotIndex, truncated };
  }

  /** Ids back to text (`</w>` → a space), as SimpleTokenizer.decode; unknown ids are skipped. */
  decode(ids: ArrayLike<number>): string {
    const { bytes, chars } = bytesToUnicode();
    const byteOf = new Map(chars.map((c, i) => [c, bytes[i]!]));
    let s = '';
    for (let i = 0; i < ids.length; i++) s += this.#tokens[ids[i]!] ?? '';
    const out: number[] = [];
    for (const ch of s) {
      const b = byteOf.get(ch);
      if (b !== undefined) out.push(b);
    }
    return Buffer.from(out).toString('utf8').replaceAll('</w>', ' ');
  }

  /** The vocabulary string of an id ('' when unused). */
  token(id: number): string {
    return this.#tokens[id] ?? '';
  }

  #frame(body: number[], contextLength: number, truncate: boolean, text: string, index?: number): { ids: Int32Array; length: number; truncated: boolean } {
    let n = body.length + 2;
    let truncated = false;
    if (n > contextLength) {
      if (!truncate) {
        const where = index === undefined ? 'text' : `texts[${index}]`;
        throw invalidArgument(`${where}: ${n} tokens (special tokens included) do not fit the context length ${contextLength} (${describe(text)}); pass truncate: true to cut it`);
      }
      n = contextLength;
      truncated = true;
    }
    const ids = new Int32Array(contextLength);
    ids[0] = this.startId;
    for (let i = 1; i < n - 1; i++) ids[i] = body[i - 1]!;
    ids[n - 1] = this.endId;
    return { ids, length: n, truncated };
  }

  /** The BPE ids of one pre-token, cached. */
  #word(token: string): Int32Array {
    const hit = this.#cache.get(token);
    if (hit !== undefined) return hit;
    let ids: Int32Array;
    if (token === START_OF_TEXT) ids = Int32Array.of(this.startId);
    else if (token === END_OF_TEXT) ids = Int32Array.of(this.endId);
    else ids = this.#bpe(this.#toBytes(token));
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(token, ids);
    return ids;
  }

  #toBytes(token: string): Uint8Array {
    if (token.length * 3 <= this.#bytes.length) {
      const { written } = this.#utf8.encodeInto(token, this.#bytes);
      return this.#bytes.subarray(0, written);
    }
    return this.#utf8.encode(token);
  }

  /** Byte-level BPE: merge the lowest-ranked adjacent pair everywhere, until no pair is a merge. */
  #bpe(bytes: Uint8Array): Int32Array {
    const n = bytes.length;
    let word = new Int32Array(n);
    for (let i = 0; i < n - 1; i++) word[i] = this.#byteId[bytes[i]!]!;
    word[n - 1] = this.#byteEndId[bytes[n - 1]!]!;
    let len = n;
    const ranks = this.#ranks;
    while (len > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < len - 1; i++) {
        const r = ranks.get(word[i]!, word[i + 1]!);
        if (r >= 0 && r < bestRank) { bestRank = r; best = i; }
      }
      if (best < 0) break;
      const first = word[best]!;
      const second = word[best + 1]!;
      const merged = this.#merged[bestRank]!;
      const next = new Int32Array(len);
      let k = 0;
      for (let i = 0; i < len;) {
        if (i < len - 1 && word[i] === first && word[i + 1] === second) {
          next[k++] = merged;
          i += 2;
        } else {
          next[k++] = word[i++]!;
        }
      }
      word = next;
      len = k;
    }
    return word.slice(0, len);
  }
}

/**
 * Merge ranks by id pair in an open-addressing table (linear probing) of typed arrays: the pair
 * keys (up to 2^32) are not small integers, so a Map would box every one of them.
 */
class PairTable {
  readonly #keys: Uint32Array;
  readonly #values: Int32Array;
  readonly #shift: number;

  constructor(n: number) {
    let bits = 4;
    while (1 << bits < 2 * n) bits++;
    this.#keys = new Uint32Array(1 << bits);
    this.#values = new Int32Array(1 << bits);
    this.#shift = 32 - bits;
  }

  set(a: number, b: number, value: number): void {
    const key = (a * 65536 + b + 1) >>> 0; // + 1: 0 marks an empty slot
    const mask = this.#keys.length - 1;
    let i = Math.imul(key, 0x9e3779b1) >>> this.#shift;
    while (this.#keys[i] !== 0 && this.#keys[i] !== key) i = (i + 1) & mask;
    this.#keys[i] = key;
    this.#values[i] = value;
  }

  /** The rank, or −1 when the pair is not a merge. */
  get(a: number, b: number): number {
    const key = (a * 65536 + b + 1) >>> 0;
    const mask = this.#keys.length - 1;
    let i = Math.imul(key, 0x9e3779b1) >>> this.#shift;
    for (;;) {
      const k = this.#keys[i]!;
      if (k === key) return this.#values[i]!;
      if (k === 0) return -1;
      i = (i + 1) & mask;
    }
  }
}

function parseMerge(line: string, lineNo: number, file: string): [string, string] {
  const parts = line.split(' ');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
    throw new OmnivecError('corrupt_file', `${file}: line ${lineNo}: expected a merge "a b", got ${describe(line)}`);
  }
  return [parts[0]!, parts[1]!.replace(/\r$/, '')];
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new OmnivecError('corrupt_file', `${file}: not JSON (${(e as Error).message})`);
  }
}

function vocabFromJson(v: unknown, what: string): Map<string, number> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new OmnivecError('corrupt_file', `${what}: expected an object token → id, got ${describe(v)}`);
  const vocab = new Map<string, number>();
  for (const [tok, id] of Object.entries(v as Record<string, unknown>)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw new OmnivecError('corrupt_file', `${what}: ${JSON.stringify(tok)}: expected a non-negative integer id, got ${describe(id)}`);
    vocab.set(tok, id);
  }
  return vocab;
}

function checkEncodeOptions(o: ClipEncodeOptions): { contextLength: number; truncate: boolean } {
  if (o === null || typeof o !== 'object') throw invalidArgument(`options: expected an object, got ${describe(o)}`);
  const contextLength = o.contextLength ?? CLIP_CONTEXT_LENGTH;
  if (!Number.isInteger(contextLength) || contextLength < 2) throw invalidArgument(`contextLength: expected an integer ≥ 2, got ${describe(o.contextLength)}`);
  if (o.truncate !== undefined && typeof o.truncate !== 'boolean') throw invalidArgument(`truncate: expected a boolean, got ${describe(o.truncate)}`);
  return { contextLength, truncate: o.truncate ?? false };
}

/** The tokenizer files a folder may hold, in the order they are looked for. */
export const CLIP_TOKENIZER_FILES = ['vocab.json + merges.txt', 'tokenizer.json', BPE_GZ_FILE] as const;

/**
 * A CLIP tokenizer from a file (`bpe_simple_vocab_16e6.txt.gz`, a `.txt` merges file in that
 * format, or `tokenizer.json`) or a folder holding `vocab.json` + `merges.txt`, `tokenizer.json` or
 * the original `.txt.gz` (looked for in that order).
 */
export async function loadClipTokenizer(path: string): Promise<ClipTokenizer> {
  if (typeof path !== 'string' || path === '') throw invalidArgument(`path: expected a file or folder path, got ${describe(path)}`);
  if (!existsSync(path)) throw new OmnivecError('not_found', `CLIP tokenizer ${path} not found`);
  const read = async (f: string): Promise<string> => {
    try {
      return await readFile(f, 'utf8');
    } catch (e) {
      throw new OmnivecError('corrupt_file', `${f}: cannot be read (${(e as Error).message})`);
    }
  };
  const fromFile = async (f: string): Promise<ClipTokenizer> => {
    if (f.endsWith('.json')) return ClipTokenizer.fromTokenizerJson(await read(f), f);
    if (f.endsWith('.gz')) {
      let text: string;
      try {
        text = (await promisify(gunzip)(await readFile(f))).toString('utf8');
      } catch (e) {
        throw new OmnivecError('corrupt_file', `${f}: not a gzip file (${(e as Error).message})`);
      }
      return ClipTokenizer.fromBpeText(text, f);
    }
    return ClipTokenizer.fromBpeText(await read(f), f);
  };
  if (statSync(path).isFile()) return fromFile(path);
  const vocab = join(path, 'vocab.json');
  const merges = join(path, 'merges.txt');
  if (existsSync(vocab) && existsSync(merges)) return ClipTokenizer.fromVocabMerges(await read(vocab), await read(merges), { vocab, merges });
  for (const f of ['tokenizer.json', BPE_GZ_FILE]) if (existsSync(join(path, f))) return fromFile(join(path, f));
  throw new OmnivecError('not_found', `${path}: no CLIP tokenizer files: expected ${CLIP_TOKENIZER_FILES.join(', or ')}`);
}
