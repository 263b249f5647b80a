/**
 * The model folders of bench:encode, built here because no real BERT checkpoint is on the machine:
 *
 * - a WordPiece tokenizer.json in BERT's layout (BertNormalizer lower-casing, BertPreTokenizer,
 *   WordPiece with "##" continuations, [CLS] … [SEP] by TemplateProcessing) whose vocabulary is
 *   derived from the STS-B train sentences — the most frequent words, every character alone and as
 *   "##c", and the most frequent word-initial and "##" pieces of the rarer words — so that real
 *   sentences are split into subwords much as bert-base's vocabulary splits them (it is not
 *   bert-base's vocabulary);
 * - two graphs over it, in Hugging Face folders (config.json, tokenizer.json, tokenizer_config.json,
 *   special_tokens_map.json, onnx/model.onnx) that our encoder and transformers.js both open:
 *   "lookup" (last_hidden_state = Gather(table, input_ids): next to no compute, so any overhead of
 *   the pipeline shows in full) and "ffn-384" (the same lookup at 384-d, then 4 residual
 *   feed-forward blocks X ← X + Relu(X·W1)·W2 with W1 384×1536 and W2 1536×384: about 9.4 MFLOP per
 *   token, half of all-MiniLM-L6-v2's ~21, without attention).
 *
 * Weights are seeded random numbers: the benchmark measures speed, not quality.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildModel, writeModel, type GraphSpec, type Initializer, type NodeSpec } from '../../test/helpers/onnx-build.js';

export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

export interface VocabularyOptions {
  /** Whole words kept, the most frequent first. Default 8,000. */
  words?: number;
  /** Word-initial pieces (2–6 characters) of the rarer words. Default 1,500. */
  prefixes?: number;
  /** "##" pieces (2–5 characters, not word-initial) of the rarer words. Default 2,500. */
  continuations?: number;
}

export interface Vocabulary {
  /** Tokens in id order: the special tokens (ids 0–4), then the rest. */
  tokens: string[];
  counts: { specials: number; words: number; characters: number; prefixes: number; continuations: number };
}

/** Roughly what BertNormalizer (lower-casing, accents stripped) and BertPreTokenizer do: words and single punctuation marks. */
export function bertWords(text: string): string[] {
  return text.normalize('NFD').replace(/\p{Mn}/gu, '').toLowerCase().match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu) ?? [];
}

function top(counts: Map<string, number>, n: number, skip: ReadonlySet<string>): string[] {
  return [...counts].filter(([t]) => !skip.has(t))
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, n).map(([t]) => t);
}

function bump(m: Map<string, number>, k: string, by: number): void {
  m.set(k, (m.get(k) ?? 0) + by);
}

/**
 * A WordPiece vocabulary from `train` (the sentences whose words are counted) and `all` (every
 * sentence the benchmark will tokenise, for the character inventory only, so that [UNK] stays as
 * rare as with a real vocabulary, which covers nearly every character).
 */
export function deriveVocabulary(train: readonly string[], all: readonly string[], options: VocabularyOptions = {}): Vocabulary {
  const wordCounts = new Map<string, number>();
  for (const s of train) for (const w of bertWords(s)) bump(wordCounts, w, 1);
  const chars = new Set<string>();
  for (const s of all) for (const w of bertWords(s)) for (const c of w) chars.add(c);
  const charList = [...chars].sort();
  const taken = new Set<string>(SPECIAL_TOKENS);
  const words = top(wordCounts, options.words ?? 8000, taken);
  for (const w of words) taken.add(w);
  const singles = charList.filter((c) => !taken.has(c));
  for (const c of singles) taken.add(c);
  // Pieces of the words left out, weighted by how often those words occur.
  const prefixCounts = new Map<string, number>();
  const pieceCounts = new Map<string, number>();
  for (const [w, n] of wordCounts) {
    if (taken.has(w)) continue;
    const cs = [...w];
    for (let len = 2; len <= Math.min(6, cs.length - 1); len++) bump(prefixCounts, cs.slice(0, len).join(''), n);
    for (let start = 1; start < cs.length; start++) {
      for (let len = 2; len <= 5 && start + len <= cs.length; len++) bump(pieceCounts, '##' + cs.slice(start, start + len).join(''), n);
    }
  }
  const prefixes = top(prefixCounts, options.prefixes ?? 1500, taken);
  for (const p of prefixes) taken.add(p);
  const continuations = top(pieceCounts, options.continuations ?? 2500, taken);
  const hashChars = charList.map((c) => '##' + c);
  const tokens = [...SPECIAL_TOKENS, ...words, ...singles, ...hashChars, ...prefixes, ...continuations];
  return {
    tokens,
    counts: { specials: SPECIAL_TOKENS.length, words: words.length, characters: singles.length + hashChars.length, prefixes: prefixes.length, continuations: continuations.length },
  };
}

/** tokenizer.json in the layout of bert-base-uncased's. */
export function wordPieceTokenizerJson(vocab: Vocabulary): unknown {
  const id = (t: string): number => vocab.tokens.indexOf(t);
  const sp = (t: string) => ({ SpecialToken: { id: t, type_id: 0 } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content) => ({
      id: id(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
    })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [sp('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, sp('[SEP]')],
      pair: [sp('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, sp('[SEP]'), { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [id('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [id('[SEP]')], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.tokens.map((t, i) => [t, i])),
    },
  };
}

export type BenchModelKind = 'lookup' | 'ffn-384';
export const BENCH_MODELS: readonly BenchModelKind[] = ['lookup', 'ffn-384'];

export interface BenchModel {
  kind: BenchModelKind;
  dir: string;
  dim: number;
  /** Multiply-adds × 2 per token of the graph. */
  flopsPerToken: number;
  onnxBytes: number;
}

const DIM = 384;
const FFN = 1536;
const BLOCKS = 4;

/** Seeded uniform numbers in [-scale, scale) (mulberry32). */
function randomArray(n: number, scale: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

function graph(kind: BenchModelKind, vocabSize: number): GraphSpec {
  const initializers: Initializer[] = [{ name: 'embeddings', dims: [vocabSize, DIM], data: randomArray(vocabSize * DIM, 0.5, 1) }];
  const nodes: NodeSpec[] = [{ op: 'Gather', inputs: ['embeddings', 'input_ids'], outputs: [kind === 'lookup' ? 'last_hidden_state' : 'x0'], attrs: { axis: 0 } }];
  if (kind === 'ffn-384') {
    for (let b = 0; b < BLOCKS; b++) {
      // Scales keep the residual stream of order 1 through the blocks (Glorot for W1, a tenth of it for W2).
      initializers.push(
        { name: `w1_${b}`, dims: [DIM, FFN], data: randomArray(DIM * FFN, Math.sqrt(6 / (DIM + FFN)), 100 + b) },
        { name: `w2_${b}`, dims: [FFN, DIM], data: randomArray(FFN * DIM, 0.1 * Math.sqrt(6 / (DIM + FFN)), 200 + b) },
      );
      const out = b === BLOCKS - 1 ? 'last_hidden_state' : `x${b + 1}`;
      nodes.push(
        { op: 'MatMul', inputs: [`x${b}`, `w1_${b}`], outputs: [`h${b}`] },
        { op: 'Relu', inputs: [`h${b}`], outputs: [`r${b}`] },
        { op: 'MatMul', inputs: [`r${b}`, `w2_${b}`], outputs: [`f${b}`] },
        { op: 'Add', inputs: [`x${b}`, `f${b}`], outputs: [out] },
      );
    }
  }
  return {
    // BERT's three inputs; attention_mask and token_type_ids are fed (as a BERT export's are) but unused.
    inputs: ['input_ids', 'attention_mask', 'token_type_ids'].map((name) => ({ name, type: 'int64' as const, shape: ['batch', 'sequence'] })),
    outputs: [{ name: 'last_hidden_state', type: 'float32', shape: ['batch', 'sequence', DIM] }],
    initializers,
    nodes,
  };
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await writeFile(file, JSON.stringify(value, null, 2) + '\n');
}

/** Writes the folder of one benchmark model under `root` (root/NAME) and returns where it is. */
export async function writeBenchModel(root: string, kind: BenchModelKind, vocab: Vocabulary, tokenizerJson: unknown): Promise<BenchModel> {
  const dir = join(root, kind);
  await mkdir(dir, { recursive: true });
  const maxLength = 512;
  await writeJson(join(dir, 'tokenizer.json'), tokenizerJson);
  const specials = { pad_token: '[PAD]', unk_token: '[UNK]', cls_token: '[CLS]', sep_token: '[SEP]', mask_token: '[MASK]' };
  await writeJson(join(dir, 'tokenizer_config.json'), {
    tokenizer_class: 'BertTokenizer', do_lower_case: true, model_max_length: maxLength, clean_up_tokenization_spaces: true, ...specials,
  });
  await writeJson(join(dir, 'special_tokens_map.json'), specials);
  await writeJson(join(dir, 'config.json'), {
    architectures: ['BertModel'], model_type: 'bert', hidden_size: DIM, max_position_embeddings: maxLength,
    vocab_size: vocab.tokens.length, pad_token_id: 0, type_vocab_size: 2,
  });
  const bytes = buildModel(graph(kind, vocab.tokens.length));
  await writeModel(join(dir, 'onnx', 'model.onnx'), bytes);
  return { kind, dir, dim: DIM, flopsPerToken: kind === 'lookup' ? 0 : BLOCKS * 2 * 2 * DIM * FFN, onnxBytes: bytes.byteLength };
}
