/**
 * One tokenizer interface for every text model (Word2Vec, SIF, the feature encoder's text fields).
 * Specs are plain JSON so that a trained model can record the tokenizer it was trained with.
 * Design: docs/word2vec.md#tokenizing.
 */
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
