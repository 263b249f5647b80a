/**
 * One tokenizer interface for every text model (Word2Vec, SIF, the feature encoder's text fields).
 * Specs are plain JSON so that a trained model can record the tokenizer it was trained with.
 * Design: docs/word2vec.md#tokenizing; the rules and measured speeds: docs/word-vectors.md.
 */
import { OmnivecError, describe } from '../../errors.js';

export interface Tokenizer {
  /** The spec this tokenizer was built from (stored with models). */
  readonly spec: TokenizerSpec;
  /** Tokens of one text (a line, a sentence, a document). */
  tokenize(text: string): string[];
}

export type TokenizerSpec =
  /** Split on whitespace only, nothing else changed (gensim's LineSentence; item id sequences). */
  | { kind: 'whitespace' }
  /**
   * Words: Unicode-aware. `lowercase` (default true); `punctuation`: 'drop' (default) removes it,
   * 'keep' keeps punctuation marks as tokens; `segment` (default 'auto'): runs of scripts written
   * without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar) are cut into words with
   * `Intl.Segmenter` (locale from `locale`, default detected per run), 'never' keeps them whole,
   * 'chars' cuts them into single characters.
   */
  | { kind: 'words'; lowercase?: boolean; punctuation?: 'drop' | 'keep'; segment?: 'auto' | 'never' | 'chars'; locale?: string };

/** The spec used when none is given: Unicode words, lower-cased, punctuation dropped. */
export const DEFAULT_TOKENIZER_SPEC: TokenizerSpec = { kind: 'words' };

// ---------------------------------------------------------------------------------------------
// Character classes

/**
 * Exactly the characters Python's `str.split()` splits on (so 'whitespace' tokenizes as gensim's
 * LineSentence does): ASCII whitespace, the information separators U+001C–U+001F, U+0085 and the
 * Unicode spaces. JavaScript's `\s` differs (it has U+FEFF, lacks U+001C–U+001F and U+0085).
 */
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_FIELDS = new RegExp(`[^${PY_SPACE}]+`, 'g');

/** Word characters: letters, combining marks, digits, connector punctuation (`_`), ZWNJ/ZWJ. */
const WORD = '\\p{L}\\p{M}\\p{N}\\p{Pc}\\u200c\\u200d';
const WORDS = new RegExp(`[${WORD}]+`, 'gu');
/** Words, and every other visible character on its own (punctuation and symbols kept as tokens). */
const WORDS_AND_MARKS = new RegExp(`[${WORD}]+|[^\\s${WORD}\\p{C}]`, 'gu');

/**
 * Letters of the scripts written without spaces between words, by Script (not Script_Extensions,
 * which would take in the CJK punctuation 、。), plus the kana marks of script Common that occur
 * inside words: ー (U+30FC), ｰ (U+FF70), ﾞﾟ (U+FF9E–F), ゛゜ (U+309B–C), 々〆〇 (U+3005–7).
 */
const SPACELESS = '\\p{sc=Han}\\p{sc=Hiragana}\\p{sc=Katakana}\\p{sc=Thai}\\p{sc=Lao}\\p{sc=Khmer}\\p{sc=Myanmar}' +
  '\\u3005-\\u3007\\u309b\\u309c\\u30fc\\uff70\\uff9e\\uff9f';
const HAS_SPACELESS = new RegExp(`[${SPACELESS}]`, 'u');
const SPACELESS_SPLIT = new RegExp(`[${SPACELESS}]+|[^${SPACELESS}]+`, 'gu');
/** One character with the combining marks that follow it ('chars' mode). */
const CHARACTER = /\P{M}\p{M}*|\p{M}+/gu;

const KANA = /[\p{sc=Hiragana}\p{sc=Katakana}]/u;
const SCRIPT_LOCALES: [RegExp, string][] = [
  [/\p{sc=Thai}/u, 'th'], [/\p{sc=Lao}/u, 'lo'], [/\p{sc=Khmer}/u, 'km'], [/\p{sc=Myanmar}/u, 'my'],
];

/** The locale for a piece of space-less text: Japanese when it has kana, else by its script, else Chinese. */
function detectLocale(text: string): string {
  if (KANA.test(text)) return 'ja';
  for (const [re, locale] of SCRIPT_LOCALES) if (re.test(text)) return locale;
  return 'zh';
}

// ---------------------------------------------------------------------------------------------
// Tokenizers

class WhitespaceTokenizer implements Tokenizer {
  readonly spec: TokenizerSpec = { kind: 'whitespace' };

  tokenize(text: string): string[] {
    return text.match(PY_FIELDS) ?? [];
  }
}

type Segment = 'auto' | 'never' | 'chars';

class WordTokenizer implements Tokenizer {
  readonly spec: TokenizerSpec;
  readonly #lowercase: boolean;
  readonly #keep: boolean;
  readonly #segment: Segment;
  readonly #locale: string | undefined;
  readonly #segmenters = new Map<string, Intl.Segmenter>();

  constructor(lowercase: boolean, punctuation: 'drop' | 'keep', segment: Segment, locale: string | undefined) {
    this.#lowercase = lowercase;
    this.#keep = punctuation === 'keep';
    this.#segment = segment;
    this.#locale = locale;
    this.spec = locale === undefined
      ? { kind: 'words', lowercase, punctuation, segment }
      : { kind: 'words', lowercase, punctuation, segment, locale };
  }

  tokenize(text: string): string[] {
    let s = text;
    if (this.#lowercase) s = this.#locale === undefined ? s.toLowerCase() : s.toLocaleLowerCase(this.#locale);
    const words = s.match(this.#keep ? WORDS_AND_MARKS : WORDS);
    if (words === null) return [];
    // Fast path: nothing of a space-less script on the line (every English, Latin, Cyrillic … line).
    if (this.#segment === 'never' || !HAS_SPACELESS.test(s)) return words;
    return this.#cut(words);
  }

  /** Replaces the space-less runs inside `words` by their words (or characters). */
  #cut(words: string[]): string[] {
    const out: string[] = [];
    // Runs to segment, gathered over the whole line and segmented in one Intl.Segmenter call
    // (a call per run costs about twice as much on Chinese text); `slots` marks where they go.
    const runs: string[] = [];
    const slots: number[] = [];
    for (const w of words) {
      if (!HAS_SPACELESS.test(w)) { out.push(w); continue; }
      for (const part of w.match(SPACELESS_SPLIT)!) {
        if (!HAS_SPACELESS.test(part)) out.push(part);
        else if (this.#segment === 'chars') for (const c of part.match(CHARACTER)!) out.push(c);
        else { slots.push(out.length); out.push(''); runs.push(part); }
      }
    }
    if (runs.length === 0) return out;
    const pieces = this.#segmentRuns(runs);
    const result: string[] = [];
    let k = 0;
    let next = slots[0]!;
    for (let i = 0; i < out.length; i++) {
      if (i === next) {
        for (const p of pieces[k]!) result.push(p);
        k++;
        next = k < slots.length ? slots[k]! : -1;
      } else {
        result.push(out[i]!);
      }
    }
    return result;
  }

  /** The word-like segments of each run: the runs joined by spaces (a hard boundary), segmented once. */
  #segmentRuns(runs: string[]): string[][] {
    const joined = runs.length === 1 ? runs[0]! : runs.join(' ');
    const locale = this.#locale ?? detectLocale(joined);
    let seg = this.#segmenters.get(locale);
    if (seg === undefined) {
      seg = new Intl.Segmenter(locale, { granularity: 'word' });
      this.#segmenters.set(locale, seg);
    }
    const pieces: string[][] = runs.map(() => []);
    let r = 0;
    let end = runs[0]!.length;
    for (const s of seg.segment(joined)) {
      while (s.index >= end && r + 1 < runs.length) { r++; end += 1 + runs[r]!.length; }
      // Only letters were passed, so every segment but the joining spaces is a word (ICU marks
      // them word-like); a run that starts with a combining mark has it glued to the space before.
      let t = s.segment;
      if (t.charCodeAt(0) === 0x20) t = t.slice(1);
      if (t !== '') pieces[r]!.push(t);
    }
    return pieces;
  }
}

// ---------------------------------------------------------------------------------------------

const WORD_KEYS = new Set(['kind', 'lowercase', 'punctuation', 'segment', 'locale']);

/**
 * Builds a tokenizer from its spec (default `{kind: 'words'}`). Refuses an unknown kind, an unknown
 * option or a bad option value with `invalid_argument` naming it; a `locale` that `Intl` does not
 * accept is refused too.
 *
 * - `whitespace`: the fields between whitespace, as Python's `str.split()` (gensim's LineSentence).
 * - `words`: maximal runs of letters, marks, digits and `_` (so "don't" gives "don", "t" and "3.14"
 *   gives "3", "14"); lower-cased (with `locale`, `toLocaleLowerCase`); punctuation and symbols
 *   dropped, or with `punctuation: 'keep'` each one a token of its own; runs of space-less scripts
 *   cut by `Intl.Segmenter` (`segment: 'auto'`), into characters (`'chars'`) or kept (`'never'`).
 */
export function createTokenizer(spec: TokenizerSpec = DEFAULT_TOKENIZER_SPEC): Tokenizer {
  if (spec === null || typeof spec !== 'object') {
    throw new OmnivecError('invalid_argument', `tokenizer: expected a spec such as {"kind": "words"}, got ${describe(spec)}`);
  }
  const s = spec as Record<string, unknown>;
  if (s.kind === 'whitespace') {
    for (const k of Object.keys(s)) {
      if (k !== 'kind') throw new OmnivecError('invalid_argument', `tokenizer: the whitespace tokenizer takes no options, got ${JSON.stringify(k)}`);
    }
    return new WhitespaceTokenizer();
  }
  if (s.kind !== 'words') {
    throw new OmnivecError('invalid_argument', `tokenizer.kind: expected "words" or "whitespace", got ${describe(s.kind)}`);
  }
  for (const k of Object.keys(s)) {
    if (!WORD_KEYS.has(k)) {
      throw new OmnivecError('invalid_argument', `tokenizer: unknown option ${JSON.stringify(k)}; expected one of lowercase, punctuation, segment, locale`);
    }
  }
  const lowercase = s.lowercase ?? true;
  if (typeof lowercase !== 'boolean') throw new OmnivecError('invalid_argument', `tokenizer.lowercase: expected a boolean, got ${describe(lowercase)}`);
  const punctuation = s.punctuation ?? 'drop';
  if (punctuation !== 'drop' && punctuation !== 'keep') {
    throw new OmnivecError('invalid_argument', `tokenizer.punctuation: expected "drop" or "keep", got ${describe(punctuation)}`);
  }
  const segment = s.segment ?? 'auto';
  if (segment !== 'auto' && segment !== 'never' && segment !== 'chars') {
    throw new OmnivecError('invalid_argument', `tokenizer.segment: expected "auto", "never" or "chars", got ${describe(segment)}`);
  }
  const locale = s.locale;
  if (locale !== undefined) {
    if (typeof locale !== 'string' || locale === '') {
      throw new OmnivecError('invalid_argument', `tokenizer.locale: expected a BCP 47 language tag such as "zh" or "ja", got ${describe(locale)}`);
    }
    try {
      Intl.getCanonicalLocales(locale);
    } catch {
      throw new OmnivecError('invalid_argument', `tokenizer.locale: expected a BCP 47 language tag such as "zh" or "ja", got ${JSON.stringify(locale)}`);
    }
  }
  return new WordTokenizer(lowercase, punctuation, segment, locale as string | undefined);
}
