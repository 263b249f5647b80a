/**
 * Tiny ONNX models built in TypeScript (with `onnx-proto`), for tests whose expected outputs can be
 * worked out by hand. Nothing here is shipped; the graphs use only standard ONNX ops (opset 17,
 * IR version 8), so onnxruntime-node runs them like any export.
 *
 * API
 *
 *   buildModel(spec: GraphSpec): Uint8Array
 *     A serialised ModelProto. `spec` = { inputs, outputs: TensorSpec[] ({ name, type: 'float32' |
 *     'int64', shape: (number | string)[] }, strings are symbolic axes), initializers:
 *     Initializer[] ({ name, dims, data: Float32Array | BigInt64Array }), nodes: NodeSpec[]
 *     ({ op, inputs, outputs, attrs? }), opset? (default 17) }. Attribute values: an integer
 *     number → INT, a non-integer number → FLOAT, `{ float: x }` → FLOAT (for integral floats such
 *     as Gemm's alpha = 1), number[] → INTS, Float32Array → FLOATS, string → STRING,
 *     `{ tensor: Initializer }` → TENSOR (Constant's `value`).
 *
 *   writeModel(file: string, bytes: Uint8Array): Promise<void>
 *     Writes the bytes, creating the parent folder.
 *
 *   writeTinyTextModel(dir: string, options: TinyTextOptions): Promise<TinyTextModel>
 *     A Hugging Face style text folder: config.json, tokenizer.json, tokenizer_config.json,
 *     special_tokens_map.json, (1_Pooling/config.json with `pooling`), onnx/model.onnx. Options:
 *     { vocab: string[] (ids 4, 5, … in order), dim, vectors: Float32Array (vocab.length × dim),
 *     lowercase? (false), tokenTypeIds? (false: adds an unused token_type_ids input), style?
 *     ('bert': [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 | 'xlmr': <s>=0 <pad>=1 </s>=2 <unk>=3), maxLength?
 *     (512), extraOutputs? ('pooler_output' = states[:, 0], 'sentence_embedding' = masked mean,
 *     'token_embeddings' = the states), specialRows? (the constant of each special row, default
 *     DEFAULT_SPECIAL_ROWS: cls 0.5, sep −0.25, pad 0, unk 0.125), pooling? ('cls' | 'mean' |
 *     'last') }. The tokenizer is WordPiece over whole words (the vocab has no "##" pieces), the
 *     BERT normalizer (xlmr: Lowercase or none), the BERT pre-tokenizer (whitespace, punctuation)
 *     and a TemplateProcessing post-processor adding CLS/SEP. The graph: inputs input_ids,
 *     attention_mask (and token_type_ids), int64 [batch, sequence]; output last_hidden_state
 *     float32 [batch, sequence, dim] = Gather(table, input_ids). Returns { dir, vocabIds (every
 *     token → id), specialIds { cls, sep, pad, unk }, dim, table ((4 + vocab.length) × dim),
 *     state(id) (the row last_hidden_state holds for that id) }.
 *
 *   writeWord2VecTextModel(dir: string, options?: { pooling?, maxLength?, extraOutputs? }): Promise<TinyTextModel>
 *     The same with the 1,000 × 300 GoogleNews vectors of WORD2VEC_1K (read in place), bert
 *     style, lower-casing, special rows all 0 (mean pooling of one word = its vector / 3).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export type ElemType = 'float32' | 'int64';

export interface TensorSpec {
  name: string;
  type: ElemType;
  /** Fixed sizes as numbers, symbolic axes ('batch', 'sequence') as strings. */
  shape: readonly (number | string)[];
}

export interface Initializer {
  name: string;
  dims: readonly number[];
  data: Float32Array | BigInt64Array;
}

export type AttrValue = number | readonly number[] | string | Float32Array | { float: number } | { tensor: Initializer };

export interface NodeSpec {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attrs?: Record<string, AttrValue>;
}

export interface GraphSpec {
  inputs: readonly TensorSpec[];
  outputs: readonly TensorSpec[];
  initializers?: readonly Initializer[];
  nodes: readonly NodeSpec[];
  /** Default opset 17. */
  opset?: number;
}

const DataType = onnx.TensorProto.DataType;
const AttrType = onnx.AttributeProto.AttributeType;

function elemType(t: ElemType): number {
  return t === 'float32' ? DataType.FLOAT : DataType.INT64;
}

function valueInfo(t: TensorSpec): onnxProto.onnx.IValueInfoProto {
  return {
    name: t.name,
    type: {
      tensorType: {
        elemType: elemType(t.type),
        shape: { dim: t.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function tensor(init: Initializer): onnxProto.onnx.ITensorProto {
  const count = init.dims.reduce((a, b) => a * b, 1);
  if (init.data.length !== count) {
    throw new Error(`initializer ${init.name}: dims [${init.dims.join(', ')}] need ${count} values, got ${init.data.length}`);
  }
  // raw_data is little-endian; so are the typed arrays on every machine we run on (x86, arm64).
  const raw = new Uint8Array(init.data.buffer.slice(init.data.byteOffset, init.data.byteOffset + init.data.byteLength));
  return {
    name: init.name,
    dims: [...init.dims],
    dataType: init.data instanceof Float32Array ? DataType.FLOAT : DataType.INT64,
    rawData: raw,
  };
}

function attribute(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  if (typeof v === 'number') {
    return Number.isInteger(v) ? { name, type: AttrType.INT, i: v } : { name, type: AttrType.FLOAT, f: v };
  }
  if (typeof v === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(v) };
  if (v instanceof Float32Array) return { name, type: AttrType.FLOATS, floats: [...v] };
  if (Array.isArray(v)) return { name, type: AttrType.INTS, ints: [...(v as readonly number[])] };
  if ('float' in v) return { name, type: AttrType.FLOAT, f: v.float };
  if ('tensor' in v) return { name, type: AttrType.TENSOR, t: tensor(v.tensor) };
  throw new Error(`attribute ${name}: unsupported value`);
}

/** A serialised ModelProto (IR version 8) for the graph. */
export function buildModel(spec: GraphSpec): Uint8Array {
  const model: onnxProto.onnx.IModelProto = {
    irVersion: 8,
    producerName: 'omnivec-test',
    opsetImport: [{ domain: '', version: spec.opset ?? 17 }],
    graph: {
      name: 'tiny',
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
      initializer: (spec.initializers ?? []).map(tensor),
      node: spec.nodes.map((n, i) => ({
        name: `${n.op.toLowerCase()}_${i}`,
        opType: n.op,
        input: [...n.inputs],
        output: [...n.outputs],
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      })),
    },
  };
  const err = onnx.ModelProto.verify(model);
  if (err !== null) throw new Error(`ModelProto: ${err}`);
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** Writes a model's bytes to `file`, creating the folder. */
export async function writeModel(file: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, bytes);
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(value, null, 2)}\n`);
}

// ---------------------------------------------------------------------------------------------
// Graph pieces shared by the text models. Opset 17: ReduceSum and Unsqueeze take their axes as an
// input, ReduceL2 still as an attribute.

function ints(name: string, values: readonly bigint[], dims: readonly number[] = [values.length]): Initializer {
  return { name, dims, data: BigInt64Array.from(values) };
}

/** out = states[:, 0] ([B, T, D] → [B, D]). */
function firstToken(states: string, out: string): { nodes: NodeSpec[]; initializers: Initializer[] } {
  return {
    initializers: [ints(`${out}__zero`, [0n], [])],
    nodes: [{ op: 'Gather', inputs: [states, `${out}__zero`], outputs: [out], attrs: { axis: 1 } }],
  };
}

// ---------------------------------------------------------------------------------------------
// Text model folders.

export type TextStyle = 'bert' | 'xlmr';
export type SpecialRole = 'cls' | 'sep' | 'pad' | 'unk';

/** Special tokens in id order (ids 0–3) per style, as BERT and XLM-R number them; words follow from id 4. */
const SPECIALS: Record<TextStyle, readonly (readonly [SpecialRole, string])[]> = {
  bert: [['pad', '[PAD]'], ['unk', '[UNK]'], ['cls', '[CLS]'], ['sep', '[SEP]']],
  xlmr: [['cls', '<s>'], ['pad', '<pad>'], ['sep', '</s>'], ['unk', '<unk>']],
};

/**
 * The value of every component of the special tokens' rows, distinct so that a pooling that picks
 * the wrong position shows: CLS pooling gives 0.5s, last-token pooling the SEP row (−0.25s), an
 * unmasked padding position adds 0s (and shrinks a mean), an unknown word 0.125s.
 */
export const DEFAULT_SPECIAL_ROWS: Readonly<Record<SpecialRole, number>> = { cls: 0.5, sep: -0.25, pad: 0, unk: 0.125 };

/** Extra graph outputs: pooler_output = states[:, 0] (no dense + tanh), sentence_embedding = masked mean, token_embeddings = the states. */
export type TextExtraOutput = 'pooler_output' | 'sentence_embedding' | 'token_embeddings';

export interface TinyTextOptions {
  /** The words, ids 4, 5, … in this order. */
  vocab: readonly string[];
  dim: number;
  /** vocab.length × dim, the row of each word. */
  vectors: Float32Array;
  /** Lower-case the text before lookup. Default false. */
  lowercase?: boolean;
  /** Add a token_type_ids input (unused by the graph, as BERT's is for a single segment). Default false. */
  tokenTypeIds?: boolean;
  /** Default 'bert'. */
  style?: TextStyle;
  /** tokenizer_config.model_max_length and max_position_embeddings (+ 2 for xlmr). Default 512. */
  maxLength?: number;
  extraOutputs?: readonly TextExtraOutput[];
  /** Overrides DEFAULT_SPECIAL_ROWS. */
  specialRows?: Partial<Record<SpecialRole, number>>;
  /** Writes sentence-transformers' 1_Pooling/config.json with this mode. Default: no file. */
  pooling?: 'cls' | 'mean' | 'last';
}

export interface TinyTextModel {
  dir: string;
  /** Every token (specials included) → id. */
  vocabIds: Map<string, number>;
  specialIds: Record<SpecialRole, number>;
  dim: number;
  /** The embedding table, (4 + vocab.length) × dim, row per id. */
  table: Float32Array;
  /** What last_hidden_state holds at a position with this token id. */
  state(id: number): Float32Array;
}

interface TextVocabulary {
  vocabIds: Map<string, number>;
  specialIds: Record<SpecialRole, number>;
  table: Float32Array;
}

function textVocabulary(o: TinyTextOptions): TextVocabulary {
  const style = o.style ?? 'bert';
  if (o.vectors.length !== o.vocab.length * o.dim) {
    throw new Error(`vectors: expected vocab.length × dim = ${o.vocab.length * o.dim} values, got ${o.vectors.length}`);
  }
  const rows = { ...DEFAULT_SPECIAL_ROWS, ...o.specialRows };
  const specials = SPECIALS[style];
  const vocabIds = new Map<string, number>();
  const specialIds = {} as Record<SpecialRole, number>;
  const table = new Float32Array((specials.length + o.vocab.length) * o.dim);
  specials.forEach(([role, token], id) => {
    vocabIds.set(token, id);
    specialIds[role] = id;
    table.fill(rows[role], id * o.dim, (id + 1) * o.dim);
  });
  o.vocab.forEach((word, i) => {
    if (vocabIds.has(word)) throw new Error(`vocab: "${word}" appears twice (or is a special token)`);
    vocabIds.set(word, specials.length + i);
  });
  table.set(o.vectors, specials.length * o.dim);
  return { vocabIds, specialIds, table };
}

function tokenizerJson(style: TextStyle, v: TextVocabulary, lowercase: boolean): unknown {
  const token = (role: SpecialRole): string => SPECIALS[style].find(([r]) => r === role)![1];
  const cls = token('cls');
  const sep = token('sep');
  const sp = (id: string, typeId = 0) => ({ SpecialToken: { id, type_id: typeId } });
  const seq = (id: 'A' | 'B', typeId: number) => ({ Sequence: { id, type_id: typeId } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS[style].map(([, content], id) => ({
      id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
    })),
    normalizer: style === 'bert'
      ? { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase }
      : lowercase ? { type: 'Lowercase' } : null,
    // Splits on whitespace and punctuation (each punctuation mark its own word), as BERT does.
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [sp(cls), seq('A', 0), sp(sep)],
      pair: style === 'bert'
        ? [sp(cls), seq('A', 0), sp(sep), seq('B', 1), sp(sep, 1)]
        : [sp(cls), seq('A', 0), sp(sep), sp(sep), seq('B', 0), sp(sep)],
      special_tokens: {
        [cls]: { id: cls, ids: [v.specialIds.cls], tokens: [cls] },
        [sep]: { id: sep, ids: [v.specialIds.sep], tokens: [sep] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    // WordPiece over whole words: @huggingface/tokenizers has no WordLevel model, and with no "##"
    // pieces in the vocabulary a word is either itself or the unknown token.
    model: {
      type: 'WordPiece',
      unk_token: token('unk'),
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(v.vocabIds),
    },
  };
}

/** tokenizer.json, tokenizer_config.json, special_tokens_map.json, config.json (and 1_Pooling). */
async function writeTextFiles(dir: string, o: TinyTextOptions, v: TextVocabulary): Promise<void> {
  const style = o.style ?? 'bert';
  const maxLength = o.maxLength ?? 512;
  const lowercase = o.lowercase ?? false;
  const tokens = Object.fromEntries(SPECIALS[style].map(([role, t]) => [`${role}_token`, t]));
  if (style === 'xlmr') Object.assign(tokens, { bos_token: '<s>', eos_token: '</s>' });
  await writeJson(join(dir, 'tokenizer.json'), tokenizerJson(style, v, lowercase));
  await writeJson(join(dir, 'tokenizer_config.json'), {
    tokenizer_class: style === 'bert' ? 'BertTokenizer' : 'XLMRobertaTokenizer',
    model_max_length: maxLength,
    do_lower_case: lowercase,
    clean_up_tokenization_spaces: true,
    ...tokens,
  });
  await writeJson(join(dir, 'special_tokens_map.json'), tokens);
  await writeJson(join(dir, 'config.json'), style === 'bert'
    ? {
      architectures: ['BertModel'], model_type: 'bert', hidden_size: o.dim, max_position_embeddings: maxLength,
      vocab_size: v.vocabIds.size, pad_token_id: v.specialIds.pad, type_vocab_size: 2,
    }
    : {
      // RoBERTa counts positions from pad_token_id + 1, so 2 more than the longest input.
      architectures: ['XLMRobertaModel'], model_type: 'xlm-roberta', hidden_size: o.dim, max_position_embeddings: maxLength + 2,
      vocab_size: v.vocabIds.size, pad_token_id: v.specialIds.pad, bos_token_id: v.specialIds.cls, eos_token_id: v.specialIds.sep, type_vocab_size: 1,
    });
  if (o.pooling !== undefined) {
    await writeJson(join(dir, '1_Pooling', 'config.json'), {
      word_embedding_dimension: o.dim,
      pooling_mode_cls_token: o.pooling === 'cls',
      pooling_mode_mean_tokens: o.pooling === 'mean',
      pooling_mode_max_tokens: false,
      pooling_mode_mean_sqrt_len_tokens: false,
      pooling_mode_lasttoken: o.pooling === 'last',
    });
  }
}

function textInputs(tokenTypeIds: boolean): TensorSpec[] {
  const names = ['input_ids', 'attention_mask', ...(tokenTypeIds ? ['token_type_ids'] : [])];
  return names.map((name) => ({ name, type: 'int64', shape: ['batch', 'sequence'] }));
}

/** Builds the graph of writeTinyTextModel: last_hidden_state = Gather(table, input_ids), plus the extras. */
function textGraph(o: TinyTextOptions, table: Float32Array): GraphSpec {
  const dim = o.dim;
  const outputs: TensorSpec[] = [{ name: 'last_hidden_state', type: 'float32', shape: ['batch', 'sequence', dim] }];
  const initializers: Initializer[] = [{ name: 'embeddings', dims: [table.length / dim, dim], data: table }];
  const nodes: NodeSpec[] = [{ op: 'Gather', inputs: ['embeddings', 'input_ids'], outputs: ['last_hidden_state'], attrs: { axis: 0 } }];
  for (const extra of o.extraOutputs ?? []) {
    if (extra === 'token_embeddings') {
      outputs.push({ name: extra, type: 'float32', shape: ['batch', 'sequence', dim] });
      nodes.push({ op: 'Identity', inputs: ['last_hidden_state'], outputs: [extra] });
    } else if (extra === 'pooler_output') {
      outputs.push({ name: extra, type: 'float32', shape: ['batch', dim] });
      const p = firstToken('last_hidden_state', extra);
      nodes.push(...p.nodes);
      initializers.push(...p.initializers);
    } else {
      // Σ_t mask_t · h_t / Σ_t mask_t
      outputs.push({ name: extra, type: 'float32', shape: ['batch', dim] });
      initializers.push(ints('se__last', [-1n]), ints('se__seq', [1n]));
      nodes.push(
        { op: 'Cast', inputs: ['attention_mask'], outputs: ['se__maskf'], attrs: { to: DataType.FLOAT } },
        { op: 'Unsqueeze', inputs: ['se__maskf', 'se__last'], outputs: ['se__mask3'] },
        { op: 'Mul', inputs: ['last_hidden_state', 'se__mask3'], outputs: ['se__masked'] },
        { op: 'ReduceSum', inputs: ['se__masked', 'se__seq'], outputs: ['se__sum'], attrs: { keepdims: 0 } },
        { op: 'ReduceSum', inputs: ['se__mask3', 'se__seq'], outputs: ['se__count'], attrs: { keepdims: 0 } },
        { op: 'Div', inputs: ['se__sum', 'se__count'], outputs: [extra] },
      );
    }
  }
  return { inputs: textInputs(o.tokenTypeIds ?? false), outputs, initializers, nodes };
}

function rowReader(table: Float32Array, dim: number, f?: (x: number) => number): (id: number) => Float32Array {
  return (id) => {
    if (!Number.isInteger(id) || id < 0 || (id + 1) * dim > table.length) throw new Error(`token id ${id} out of range`);
    const row = table.slice(id * dim, (id + 1) * dim);
    return f === undefined ? row : row.map(f);
  };
}

/**
 * A Hugging Face style text model folder whose "transformer" is an embedding lookup:
 * last_hidden_state[b, t] = table[input_ids[b, t]].
 */
export async function writeTinyTextModel(dir: string, options: TinyTextOptions): Promise<TinyTextModel> {
  const v = textVocabulary(options);
  await writeTextFiles(dir, options, v);
  await writeModel(join(dir, 'onnx', 'model.onnx'), buildModel(textGraph(options, v.table)));
  return { dir, vocabIds: v.vocabIds, specialIds: v.specialIds, dim: options.dim, table: v.table, state: rowReader(v.table, options.dim) };
}

/** The shared GoogleNews word2vec vectors: 1,000 lower-case words × 300, unit length (see its README). */
export const WORD2VEC_1K = '/work/shared/data/word-vectors-word2vec-1k/wordvecs1000.vec';

/**
 * writeTinyTextModel with real weights: the 1,000 words of WORD2VEC_1K (read in place), bert style,
 * lower-casing (the file's words are all lower case), special rows all zero so that mean pooling
 * of one word is that word's vector / 3 (CLS and SEP add nothing) and cosines are word2vec's.
 */
export async function writeWord2VecTextModel(dir: string, options: Pick<TinyTextOptions, 'pooling' | 'maxLength' | 'extraOutputs'> = {}): Promise<TinyTextModel> {
  const lines = (await readFile(WORD2VEC_1K, 'utf8')).split('\n').filter((l) => l.length > 0);
  const [count, dim] = lines[0].split(' ').map(Number);
  if (lines.length !== count + 1) throw new Error(`${WORD2VEC_1K}: header says ${count} words, found ${lines.length - 1}`);
  const vocab: string[] = [];
  const vectors = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) {
    const parts = lines[i + 1].split(' ');
    if (parts.length !== dim + 1) throw new Error(`${WORD2VEC_1K}:${i + 2}: expected ${dim} values, got ${parts.length - 1}`);
    vocab.push(parts[0]);
    for (let j = 0; j < dim; j++) vectors[i * dim + j] = Number(parts[j + 1]);
  }
  const lowercase = vocab.every((w) => w === w.toLowerCase());
  return writeTinyTextModel(dir, {
    ...options, vocab, dim, vectors, lowercase, specialRows: { cls: 0, sep: 0, pad: 0, unk: 0 },
  });
}
