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
 *
 *   writeConvImageModel(dir: string, options: ConvImageOptions): Promise<ConvImageModel>
 *     { channels: C, featureMap? (false), size? ([224, 224]), weight? (C × 3; default channel c =
 *     (1 + ⌊c / 3⌋) × colour c mod 3: R, G, B, 2R, …), bias? (C; zeros) }. Graph: pixel_values
 *     float32 [batch, 3, h, w] → 1 × 1 Conv → GlobalAveragePool → Flatten → image_embeds [batch, C];
 *     with featureMap the Conv's output is last_hidden_state [batch, C, h, w]. Also config.json and
 *     preprocessor_config.json (IMAGENET_PREPROCESSOR at 224 × 224; otherwise size = crop_size =
 *     { height: h, width: w }, no centre crop). Returns { dir, weight, bias, preprocessor,
 *     expectedForColour([r, g, b] 0–255) → the output for a one-colour image }.
 *
 *   writeBgeM3ShapedModel(dir: string, options: BgeM3ShapedOptions): Promise<TinyTextModel>
 *     { vocab, dim, vectors, sparseWeight (dim), sparseBias, colbertWeight (dim × cdim, row =
 *     input), colbertBias (cdim), headsInGraph, tanh? (false), lowercase?, maxLength? (8192),
 *     specialRows? }. An xlmr-style folder; last_hidden_state = table[input_ids] (tanh'd with
 *     `tanh`); with headsInGraph also dense_vecs [B, dim] = normalize(states[:, 0]), sparse_vecs
 *     [B, T, 1] = relu(states · w + b), colbert_vecs [B, T − 1, cdim] = normalize((states[:, 1:] ·
 *     Wc + bc) · mask[:, 1:]); else sparse_linear.safetensors and colbert_linear.safetensors at the
 *     folder's root (PyTorch Linear layout, weight [out, in]). state(id) is the tanh'd row.
 *
 *   encodeSafetensors(tensors: Record<string, { shape, data: Float32Array }>): Uint8Array
 *     F32 tensors in the safetensors format (header padded to 8 bytes).
 *
 * Numbers to remember: special rows cls 0.5, sep −0.25, pad 0, unk 0.125 (DEFAULT_SPECIAL_ROWS);
 * words start at id 4 in both styles.
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

const BIG = 9223372036854775807n; // Slice's "to the end"

/** out = x / max(‖x‖₂ over the last axis, 1e-12), as torch.nn.functional.normalize. */
function l2Normalize(x: string, out: string): { nodes: NodeSpec[]; initializers: Initializer[] } {
  return {
    initializers: [{ name: `${out}__eps`, dims: [], data: new Float32Array([1e-12]) }],
    nodes: [
      { op: 'ReduceL2', inputs: [x], outputs: [`${out}__norm`], attrs: { axes: [-1], keepdims: 1 } },
      { op: 'Max', inputs: [`${out}__norm`, `${out}__eps`], outputs: [`${out}__safe`] },
      { op: 'Div', inputs: [x, `${out}__safe`], outputs: [out] },
    ],
  };
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

// ---------------------------------------------------------------------------------------------
// Image model folders.

/** The preprocessor_config.json of the 224 × 224 models (torchvision's ImageNet recipe). */
export const IMAGENET_PREPROCESSOR = {
  do_resize: true,
  size: { shortest_edge: 256 },
  crop_size: { height: 224, width: 224 },
  do_center_crop: true,
  do_normalize: true,
  image_mean: [0.485, 0.456, 0.406],
  image_std: [0.229, 0.224, 0.225],
  resample: 2,
} as const;

export interface ConvImageOptions {
  /** Output channels C. */
  channels: number;
  /** Output the conv's feature map last_hidden_state [B, C, h, w] instead of image_embeds [B, C]. */
  featureMap?: boolean;
  /** The input's [h, w]. Default [224, 224]. */
  size?: readonly [number, number];
  /** C × 3, row c = the RGB coefficients of channel c. Default: channel c = (1 + ⌊c / 3⌋) × colour c mod 3. */
  weight?: Float32Array;
  /** C. Default zeros. */
  bias?: Float32Array;
}

export interface ConvImageModel {
  dir: string;
  weight: Float32Array;
  bias: Float32Array;
  /** The preprocessor_config.json written. */
  preprocessor: Record<string, unknown>;
  /**
   * The output for an image of one colour (0–255 per channel): x_k = (rgb_k / 255 − mean_k) / std_k,
   * out_c = Σ_k weight[c, k] x_k + bias[c] — image_embeds, or every position of the feature map.
   * (onnxruntime's GlobalAveragePool sums in float32: at 224 × 224 expect ~1e-4 relative error.)
   */
  expectedForColour(rgb: readonly [number, number, number]): Float32Array;
}

/**
 * An image model folder: pixel_values float32 [batch, 3, h, w] → 1 × 1 Conv (C channels) →
 * GlobalAveragePool + Flatten → image_embeds [batch, C] (or, with featureMap, the conv's output as
 * last_hidden_state [batch, C, h, w]). Writes onnx/model.onnx, config.json and
 * preprocessor_config.json (IMAGENET_PREPROCESSOR for 224 × 224; else resize straight to h × w).
 */
export async function writeConvImageModel(dir: string, options: ConvImageOptions): Promise<ConvImageModel> {
  const c = options.channels;
  const [h, w] = options.size ?? [224, 224];
  const weight = options.weight ?? Float32Array.from({ length: c * 3 }, (_, i) => (i % 3 === Math.floor(i / 3) % 3 ? 1 + Math.floor(i / 9) : 0));
  const bias = options.bias ?? new Float32Array(c);
  if (weight.length !== c * 3) throw new Error(`weight: expected channels × 3 = ${c * 3} values, got ${weight.length}`);
  if (bias.length !== c) throw new Error(`bias: expected ${c} values, got ${bias.length}`);
  const nodes: NodeSpec[] = [{ op: 'Conv', inputs: ['pixel_values', 'conv_w', 'conv_b'], outputs: [options.featureMap ? 'last_hidden_state' : 'features'], attrs: { kernel_shape: [1, 1] } }];
  if (!options.featureMap) {
    nodes.push(
      { op: 'GlobalAveragePool', inputs: ['features'], outputs: ['pooled'] },
      { op: 'Flatten', inputs: ['pooled'], outputs: ['image_embeds'], attrs: { axis: 1 } },
    );
  }
  await writeModel(join(dir, 'onnx', 'model.onnx'), buildModel({
    inputs: [{ name: 'pixel_values', type: 'float32', shape: ['batch', 3, h, w] }],
    outputs: [options.featureMap
      ? { name: 'last_hidden_state', type: 'float32', shape: ['batch', c, h, w] }
      : { name: 'image_embeds', type: 'float32', shape: ['batch', c] }],
    initializers: [{ name: 'conv_w', dims: [c, 3, 1, 1], data: weight }, { name: 'conv_b', dims: [c], data: bias }],
    nodes,
  }));
  const preprocessor: Record<string, unknown> = h === 224 && w === 224
    ? { ...IMAGENET_PREPROCESSOR }
    : { ...IMAGENET_PREPROCESSOR, size: { height: h, width: w }, crop_size: { height: h, width: w }, do_center_crop: false };
  await writeJson(join(dir, 'preprocessor_config.json'), preprocessor);
  await writeJson(join(dir, 'config.json'), options.featureMap
    ? { architectures: ['ResNetModel'], model_type: 'resnet', num_channels: 3, hidden_sizes: [c], image_size: [h, w] }
    : { architectures: ['ViTModel'], model_type: 'vit', num_channels: 3, hidden_size: c, image_size: h === w ? h : [h, w] });
  const { image_mean: mean, image_std: std } = IMAGENET_PREPROCESSOR;
  return {
    dir, weight, bias, preprocessor,
    expectedForColour(rgb) {
      const x = rgb.map((v, k) => (v / 255 - mean[k]) / std[k]);
      return Float32Array.from({ length: c }, (_, ch) => weight[ch * 3] * x[0] + weight[ch * 3 + 1] * x[1] + weight[ch * 3 + 2] * x[2] + bias[ch]);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// BGE-M3 shaped folders.

export interface BgeM3ShapedOptions {
  vocab: readonly string[];
  dim: number;
  vectors: Float32Array;
  /** The sparse head's weight, dim values (PyTorch Linear(dim, 1)). */
  sparseWeight: Float32Array;
  sparseBias: number;
  /** The ColBERT head as the graph multiplies it: dim × cdim, row i = input i's weights to the cdim outputs. */
  colbertWeight: Float32Array;
  /** cdim. */
  colbertBias: Float32Array;
  /** Outputs dense_vecs, sparse_vecs, colbert_vecs from the graph; else the heads go to safetensors files beside it. */
  headsInGraph: boolean;
  /** States = tanh(table row) instead of the row itself, so states differ from the table. Default false. */
  tanh?: boolean;
  lowercase?: boolean;
  /** Default 8192 (BGE-M3's). */
  maxLength?: number;
  specialRows?: Partial<Record<SpecialRole, number>>;
}

export interface SafetensorsTensor {
  shape: readonly number[];
  data: Float32Array;
}

/**
 * The safetensors format (huggingface/safetensors): u64 little-endian header length, the JSON
 * header { name: { dtype: "F32", shape, data_offsets: [begin, end] } } padded with spaces to 8
 * bytes, then the little-endian data, offsets relative to its start.
 */
export function encodeSafetensors(tensors: Record<string, SafetensorsTensor>): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (t.shape.reduce((a, b) => a * b, 1) !== t.data.length) throw new Error(`${name}: shape [${t.shape.join(', ')}] does not match ${t.data.length} values`);
    header[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const t of Object.values(tensors)) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

/** The graph of writeBgeM3ShapedModel (see there). */
function bgeM3Graph(o: BgeM3ShapedOptions, table: Float32Array, cdim: number): GraphSpec {
  const dim = o.dim;
  const states = 'last_hidden_state';
  const initializers: Initializer[] = [{ name: 'embeddings', dims: [table.length / dim, dim], data: table }];
  const nodes: NodeSpec[] = o.tanh
    ? [
      { op: 'Gather', inputs: ['embeddings', 'input_ids'], outputs: ['rows'], attrs: { axis: 0 } },
      { op: 'Tanh', inputs: ['rows'], outputs: [states] },
    ]
    : [{ op: 'Gather', inputs: ['embeddings', 'input_ids'], outputs: [states], attrs: { axis: 0 } }];
  const outputs: TensorSpec[] = [{ name: states, type: 'float32', shape: ['batch', 'sequence', dim] }];
  if (o.headsInGraph) {
    const cls = firstToken(states, 'cls_state');
    const dense = l2Normalize('cls_state', 'dense_vecs');
    const colbert = l2Normalize('colbert_masked', 'colbert_vecs');
    initializers.push(
      ...cls.initializers, ...dense.initializers, ...colbert.initializers,
      { name: 'sparse_w', dims: [dim, 1], data: o.sparseWeight },
      { name: 'sparse_b', dims: [1], data: new Float32Array([o.sparseBias]) },
      { name: 'colbert_w', dims: [dim, cdim], data: o.colbertWeight },
      { name: 'colbert_b', dims: [cdim], data: o.colbertBias },
      ints('from1', [1n]), ints('toEnd', [BIG]), ints('axis1', [1n]), ints('lastAxis', [-1n]),
    );
    nodes.push(
      ...cls.nodes, ...dense.nodes,
      // sparse: relu(H · w + b), every position (FlagEmbedding drops special tokens afterwards)
      { op: 'MatMul', inputs: [states, 'sparse_w'], outputs: ['sparse_xw'] },
      { op: 'Add', inputs: ['sparse_xw', 'sparse_b'], outputs: ['sparse_lin'] },
      { op: 'Relu', inputs: ['sparse_lin'], outputs: ['sparse_vecs'] },
      // colbert: normalize((H[:, 1:] · Wc + bc) · mask[:, 1:]), padding → zero vectors
      { op: 'Slice', inputs: [states, 'from1', 'toEnd', 'axis1'], outputs: ['tail'] },
      { op: 'MatMul', inputs: ['tail', 'colbert_w'], outputs: ['colbert_xw'] },
      { op: 'Add', inputs: ['colbert_xw', 'colbert_b'], outputs: ['colbert_lin'] },
      { op: 'Slice', inputs: ['attention_mask', 'from1', 'toEnd', 'axis1'], outputs: ['mask_tail'] },
      { op: 'Cast', inputs: ['mask_tail'], outputs: ['mask_tail_f'], attrs: { to: DataType.FLOAT } },
      { op: 'Unsqueeze', inputs: ['mask_tail_f', 'lastAxis'], outputs: ['mask_tail_3'] },
      { op: 'Mul', inputs: ['colbert_lin', 'mask_tail_3'], outputs: ['colbert_masked'] },
      ...colbert.nodes,
    );
    outputs.push(
      { name: 'dense_vecs', type: 'float32', shape: ['batch', dim] },
      { name: 'sparse_vecs', type: 'float32', shape: ['batch', 'sequence', 1] },
      { name: 'colbert_vecs', type: 'float32', shape: ['batch', 'colbert_sequence', cdim] },
    );
  }
  return { inputs: textInputs(false), outputs, initializers, nodes };
}

/**
 * An xlmr-style text folder shaped like a BGE-M3 export: last_hidden_state [B, T, dim] =
 * table[input_ids] (tanh'd with `tanh`), and with headsInGraph also dense_vecs [B, dim] =
 * normalize(states[:, 0]), sparse_vecs [B, T, 1] = relu(states · sparseWeight + sparseBias),
 * colbert_vecs [B, T − 1, cdim] = normalize((states[:, 1:] · colbertWeight + colbertBias) ·
 * mask[:, 1:]) (normalize = x / max(‖x‖, 1e-12), as FlagEmbedding). Without headsInGraph the heads
 * are written at the folder's root, where BAAI/bge-m3 keeps its .pt heads, as
 * sparse_linear.safetensors (weight [1, dim], bias [1]) and colbert_linear.safetensors (weight
 * [cdim, dim], bias [cdim]), PyTorch Linear layout.
 */
export async function writeBgeM3ShapedModel(dir: string, options: BgeM3ShapedOptions): Promise<TinyTextModel> {
  const dim = options.dim;
  const cdim = options.colbertBias.length;
  if (options.sparseWeight.length !== dim) throw new Error(`sparseWeight: expected ${dim} values, got ${options.sparseWeight.length}`);
  if (options.colbertWeight.length !== dim * cdim) throw new Error(`colbertWeight: expected dim × cdim = ${dim * cdim} values, got ${options.colbertWeight.length}`);
  const text: TinyTextOptions = {
    vocab: options.vocab, dim, vectors: options.vectors, style: 'xlmr', lowercase: options.lowercase,
    maxLength: options.maxLength ?? 8192, specialRows: options.specialRows,
  };
  const v = textVocabulary(text);
  await writeTextFiles(dir, text, v);
  const graphFile = join(dir, 'onnx', 'model.onnx');
  await writeModel(graphFile, buildModel(bgeM3Graph(options, v.table, cdim)));
  if (!options.headsInGraph) {
    const colbertT = new Float32Array(cdim * dim);
    for (let i = 0; i < dim; i++) for (let j = 0; j < cdim; j++) colbertT[j * dim + i] = options.colbertWeight[i * cdim + j];
    await writeFile(join(dir, 'sparse_linear.safetensors'), encodeSafetensors({
      weight: { shape: [1, dim], data: options.sparseWeight },
      bias: { shape: [1], data: new Float32Array([options.sparseBias]) },
    }));
    await writeFile(join(dir, 'colbert_linear.safetensors'), encodeSafetensors({
      weight: { shape: [cdim, dim], data: colbertT },
      bias: { shape: [cdim], data: options.colbertBias },
    }));
  }
  return {
    dir, vocabIds: v.vocabIds, specialIds: v.specialIds, dim, table: v.table,
    state: rowReader(v.table, dim, options.tanh ? Math.tanh : undefined),
  };
}
