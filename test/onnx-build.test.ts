/**
 * The tiny ONNX models of test/helpers/onnx-build.ts, run through the project's OnnxSession: every
 * expected number is worked out by hand in the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import {
  buildModel, writeModel, writeTinyTextModel, writeWord2VecTextModel, writeConvImageModel, writeBgeM3ShapedModel,
  DEFAULT_SPECIAL_ROWS, IMAGENET_PREPROCESSOR, type TinyTextModel,
} from './helpers/onnx-build.js';
import { assertClose, withTempDir } from './helpers/assertions.js';
import { OnnxSession } from '../src/encoders/onnx/session.js';

test('buildModel: MatMul + Add gives the hand-computed product', async () => {
  await withTempDir('onnx-build-', async (dir) => {
    // y = x · W + b with W = [[1, 2, 3], [4, 5, 6]] (2 × 3), b = [0.5, -1, 0]
    const bytes = buildModel({
      inputs: [{ name: 'x', type: 'float32', shape: ['batch', 2] }],
      outputs: [{ name: 'y', type: 'float32', shape: ['batch', 3] }],
      initializers: [
        { name: 'W', dims: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
        { name: 'b', dims: [3], data: new Float32Array([0.5, -1, 0]) },
      ],
      nodes: [
        { op: 'MatMul', inputs: ['x', 'W'], outputs: ['xw'] },
        { op: 'Add', inputs: ['xw', 'b'], outputs: ['y'] },
      ],
    });
    const file = join(dir, 'm', 'model.onnx');
    await writeModel(file, bytes);
    const s = await OnnxSession.open(file, { threads: 1 });
    try {
      assert.deepEqual(s.inputNames, ['x']);
      assert.deepEqual(s.outputNames, ['y']);
      const out = await s.run({ x: { type: 'float32', data: new Float32Array([1, 1, 2, -1]), dims: [2, 2] } });
      // [1, 1] → [5, 7, 9] + b = [5.5, 6, 9]; [2, -1] → [-2, -1, 0] + b = [-1.5, -2, 0]
      assert.deepEqual(out.y.dims, [2, 3]);
      assertClose(out.y.data as Float32Array, [5.5, 6, 9, -1.5, -2, 0], 1e-5);
    } finally {
      await s.close();
    }
  });
});

test('buildModel: attributes (Gemm alpha / transB) and int64 initializers', async () => {
  await withTempDir('onnx-build-', async (dir) => {
    // y = 2 · x · Wᵀ with W = [[1, 0], [0, 3]]; then Reshape to [-1] via an int64 shape initializer
    const bytes = buildModel({
      inputs: [{ name: 'x', type: 'float32', shape: [1, 2] }],
      outputs: [{ name: 'y', type: 'float32', shape: [2] }],
      initializers: [
        { name: 'W', dims: [2, 2], data: new Float32Array([1, 0, 0, 3]) },
        { name: 'shape', dims: [1], data: new BigInt64Array([-1n]) },
      ],
      nodes: [
        { op: 'Gemm', inputs: ['x', 'W'], outputs: ['g'], attrs: { alpha: { float: 2 }, transB: 1 } },
        { op: 'Reshape', inputs: ['g', 'shape'], outputs: ['y'] },
      ],
    });
    const file = join(dir, 'gemm.onnx');
    await writeModel(file, bytes);
    const s = await OnnxSession.open(file, { threads: 1 });
    try {
      const out = await s.run({ x: { type: 'float32', data: new Float32Array([1, 2]), dims: [1, 2] } });
      assert.deepEqual(out.y.dims, [2]);
      assertClose(out.y.data as Float32Array, [2, 12], 1e-5);
    } finally {
      await s.close();
    }
  });
});

test('buildModel: an initializer of the wrong size is refused', () => {
  assert.throws(
    () => buildModel({ inputs: [], outputs: [], initializers: [{ name: 'W', dims: [2, 2], data: new Float32Array(3) }], nodes: [] }),
    /W: dims \[2, 2\] need 4 values, got 3/,
  );
});

function loadTokenizer(dir: string): Tokenizer {
  const json = (f: string): object => JSON.parse(readFileSync(join(dir, f), 'utf8')) as object;
  return new Tokenizer(json('tokenizer.json'), json('tokenizer_config.json'));
}

function ids64(ids: readonly number[]): BigInt64Array {
  return BigInt64Array.from(ids.map(BigInt));
}

/** Runs the folder's onnx/model.onnx on one tokenised text (no padding). */
async function runText(m: TinyTextModel, ids: readonly number[], extra: Record<string, readonly number[]> = {}): Promise<Awaited<ReturnType<OnnxSession['run']>>> {
  const s = await OnnxSession.open(join(m.dir, 'onnx', 'model.onnx'), { threads: 1 });
  try {
    const feeds: Parameters<OnnxSession['run']>[0] = {
      input_ids: { type: 'int64', data: ids64(ids), dims: [1, ids.length] },
      attention_mask: { type: 'int64', data: ids64(ids.map(() => 1)), dims: [1, ids.length] },
    };
    for (const [name, v] of Object.entries(extra)) feeds[name] = { type: 'int64', data: ids64(v), dims: [1, v.length] };
    return await s.run(feeds);
  } finally {
    await s.close();
  }
}

test('writeTinyTextModel (bert): "Hello world" → [CLS] hello world [SEP], states are the table rows', async () => {
  await withTempDir('onnx-build-', async (dir) => {
    const m = await writeTinyTextModel(dir, {
      vocab: ['hello', 'world', 'cat'], dim: 2, vectors: new Float32Array([1, 2, 3, 4, 5, 6]),
      lowercase: true, tokenTypeIds: true, extraOutputs: ['pooler_output', 'sentence_embedding'], pooling: 'mean',
    });
    assert.deepEqual([...m.vocabIds], [['[PAD]', 0], ['[UNK]', 1], ['[CLS]', 2], ['[SEP]', 3], ['hello', 4], ['world', 5], ['cat', 6]]);
    const tok = loadTokenizer(dir);
    const enc = tok.encode('Hello world');
    assert.deepEqual(enc.tokens, ['[CLS]', 'hello', 'world', '[SEP]']);
    assert.deepEqual(enc.ids, [2, 4, 5, 3]);
    assert.deepEqual(tok.encode('hello, dog').tokens, ['[CLS]', 'hello', '[UNK]', '[UNK]', '[SEP]']);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(cfg.model_type, 'bert');
    assert.equal(cfg.hidden_size, 2);
    assert.equal(cfg.max_position_embeddings, 512);
    assert.equal((JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>).model_max_length, 512);
    assert.equal((JSON.parse(readFileSync(join(dir, '1_Pooling', 'config.json'), 'utf8')) as Record<string, unknown>).pooling_mode_mean_tokens, true);

    const out = await runText(m, enc.ids, { token_type_ids: [0, 0, 0, 0] });
    assert.deepEqual(out.last_hidden_state.dims, [1, 4, 2]);
    // CLS row 0.5s, hello [1, 2], world [3, 4], SEP row −0.25s
    assertClose(out.last_hidden_state.data as Float32Array, [0.5, 0.5, 1, 2, 3, 4, -0.25, -0.25], 1e-5);
    assert.equal(DEFAULT_SPECIAL_ROWS.cls, 0.5);
    assertClose(m.state(4), [1, 2], 1e-5);
    assertClose(out.pooler_output.data as Float32Array, [0.5, 0.5], 1e-5);
    // mean: ([0.5 + 1 + 3 − 0.25], [0.5 + 2 + 4 − 0.25]) / 4
    assertClose(out.sentence_embedding.data as Float32Array, [4.25 / 4, 6.25 / 4], 1e-5);
  });
});

test('writeTinyTextModel (xlmr, case kept): <s> … </s>, masked mean ignores padding', async () => {
  await withTempDir('onnx-build-', async (dir) => {
    const m = await writeTinyTextModel(dir, {
      vocab: ['Hello', 'world'], dim: 1, vectors: new Float32Array([2, 4]), style: 'xlmr', maxLength: 64, extraOutputs: ['sentence_embedding'],
    });
    assert.deepEqual(m.specialIds, { cls: 0, pad: 1, sep: 2, unk: 3 });
    const tok = loadTokenizer(dir);
    assert.deepEqual(tok.encode('Hello world').ids, [0, 4, 5, 2]);
    assert.deepEqual(tok.encode('hello world').ids, [0, 3, 5, 2]);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(cfg.model_type, 'xlm-roberta');
    assert.equal(cfg.max_position_embeddings, 66);
    // batch of 2: [<s> Hello world </s>] and [<s> world </s> <pad>]
    const s = await OnnxSession.open(join(dir, 'onnx', 'model.onnx'), { threads: 1 });
    try {
      assert.deepEqual(s.inputNames, ['input_ids', 'attention_mask']);
      const out = await s.run({
        input_ids: { type: 'int64', data: ids64([0, 4, 5, 2, 0, 5, 2, 1]), dims: [2, 4] },
        attention_mask: { type: 'int64', data: ids64([1, 1, 1, 1, 1, 1, 1, 0]), dims: [2, 4] },
      });
      assertClose(out.last_hidden_state.data as Float32Array, [0.5, 2, 4, -0.25, 0.5, 4, -0.25, 0], 1e-5);
      assertClose(out.sentence_embedding.data as Float32Array, [6.25 / 4, 4.25 / 3], 1e-5);
    } finally {
      await s.close();
    }
  });
});

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

test('writeWord2VecTextModel: mean pooling of "King" is nearer "queen" than "food"', async () => {
  await withTempDir('onnx-build-', async (dir) => {
    const m = await writeWord2VecTextModel(dir);
    assert.equal(m.dim, 300);
    assert.equal(m.vocabIds.size, 1004);
    const tok = loadTokenizer(dir);
    const s = await OnnxSession.open(join(dir, 'onnx', 'model.onnx'), { threads: 1 });
    try {
      const meanOf = async (text: string): Promise<Float32Array> => {
        const { ids } = tok.encode(text);
        assert.equal(ids.length, 3, `${text}: ${ids.join(' ')}`);
        const out = await s.run({
          input_ids: { type: 'int64', data: ids64(ids), dims: [1, 3] },
          attention_mask: { type: 'int64', data: ids64([1, 1, 1]), dims: [1, 3] },
        });
        const h = out.last_hidden_state.data as Float32Array;
        const mean = new Float32Array(300);
        for (let t = 0; t < 3; t++) for (let j = 0; j < 300; j++) mean[j] += h[t * 300 + j] / 3;
        return mean;
      };
      const king = await meanOf('King');
      const queen = await meanOf('queen');
      const food = await meanOf('food');
      assert.ok(cosine(king, queen) > cosine(king, food) + 0.2, `king·queen ${cosine(king, queen)}, king·food ${cosine(king, food)}`);
      assertClose(king.map((x) => x * 3), [...m.state(m.vocabIds.get('king')!)], 1e-6);
    } finally {
      await s.close();
    }
  });
});

/** A [1, 3, h, w] tensor of one colour, normalised as the preprocessor says. */
function constantPixels(rgb: readonly [number, number, number], h: number, w: number): Float32Array {
  const x = new Float32Array(3 * h * w);
  for (let k = 0; k < 3; k++) x.fill((rgb[k] / 255 - IMAGENET_PREPROCESSOR.image_mean[k]) / IMAGENET_PREPROCESSOR.image_std[k], k * h * w, (k + 1) * h * w);
  return x;
}

test('writeConvImageModel: image_embeds of a constant image, by hand', async () => {
  await withTempDir('onnx-build-', async (dir) => {
    const m = await writeConvImageModel(dir, { channels: 4 });
    // default weight: channel c = (1 + ⌊c / 3⌋) × colour c mod 3 → R, G, B, 2R
    assertClose(m.weight, [1, 0, 0, 0, 1, 0, 0, 0, 1, 2, 0, 0], 1e-5);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'preprocessor_config.json'), 'utf8')), IMAGENET_PREPROCESSOR);
    const s = await OnnxSession.open(join(dir, 'onnx', 'model.onnx'), { threads: 1 });
    try {
      const out = await s.run({ pixel_values: { type: 'float32', data: constantPixels([255, 0, 102], 224, 224), dims: [1, 3, 224, 224] } });
      assert.deepEqual(out.image_embeds.dims, [1, 4]);
      const r = (1 - 0.485) / 0.229, g = (0 - 0.456) / 0.224, b = (0.4 - 0.406) / 0.225;
      // GlobalAveragePool sums 50,176 float32 values: about 1e-4 relative error
      assertClose(out.image_embeds.data as Float32Array, [r, g, b, 2 * r], 1e-3);
      assertClose(m.expectedForColour([255, 0, 102]), [r, g, b, 2 * r], 1e-5);
    } finally {
      await s.close();
    }
  });
});

test('writeConvImageModel: a feature map of a non-square input, with a given weight and bias', async () => {
  await withTempDir('onnx-build-', async (dir) => {
    const m = await writeConvImageModel(dir, {
      channels: 2, featureMap: true, size: [8, 4], weight: new Float32Array([1, 1, 1, 0, 0, -1]), bias: new Float32Array([0.5, 0]),
    });
    assert.deepEqual((m.preprocessor as { size: unknown }).size, { height: 8, width: 4 });
    const s = await OnnxSession.open(join(dir, 'onnx', 'model.onnx'), { threads: 1 });
    try {
      const out = await s.run({ pixel_values: { type: 'float32', data: constantPixels([0, 255, 255], 8, 4), dims: [1, 3, 8, 4] } });
      assert.deepEqual(out.last_hidden_state.dims, [1, 2, 8, 4]);
      const [c0, c1] = m.expectedForColour([0, 255, 255]);
      const x = [(0 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225];
      assertClose([c0, c1], [x[0] + x[1] + x[2] + 0.5, -x[2]], 1e-5);
      const fm = out.last_hidden_state.data as Float32Array;
      assertClose(fm, [...new Array<number>(32).fill(c0), ...new Array<number>(32).fill(c1)], 1e-4);
    } finally {
      await s.close();
    }
  });
});

const BGE = {
  vocab: ['alpha', 'beta'], dim: 2, vectors: new Float32Array([3, 4, -1, 2]),
  sparseWeight: new Float32Array([1, -1]), sparseBias: 0.25,
  // dim × cdim = 2 × 3: input 0 → [1, 0, 2], input 1 → [0, 1, 0]
  colbertWeight: new Float32Array([1, 0, 2, 0, 1, 0]), colbertBias: new Float32Array([0, 0, 1]),
};

test('writeBgeM3ShapedModel: dense, sparse and colbert outputs in the graph, by hand', async () => {
  await withTempDir('onnx-build-', async (dir) => {
    const m = await writeBgeM3ShapedModel(dir, { ...BGE, headsInGraph: true });
    const tok = loadTokenizer(dir);
    const ids = tok.encode('alpha beta').ids;
    assert.deepEqual(ids, [0, 4, 5, 2]); // <s> alpha beta </s>
    assert.equal((JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>).model_type, 'xlm-roberta');
    const s = await OnnxSession.open(join(dir, 'onnx', 'model.onnx'), { threads: 1 });
    try {
      // batch: [<s> alpha beta </s>] and [<s> beta </s> <pad>]
      const out = await s.run({
        input_ids: { type: 'int64', data: ids64([0, 4, 5, 2, 0, 5, 2, 1]), dims: [2, 4] },
        attention_mask: { type: 'int64', data: ids64([1, 1, 1, 1, 1, 1, 1, 0]), dims: [2, 4] },
      });
      const states = [[0.5, 0.5], [3, 4], [-1, 2], [-0.25, -0.25], [0.5, 0.5], [-1, 2], [-0.25, -0.25], [0, 0]];
      assertClose(out.last_hidden_state.data as Float32Array, states.flat(), 1e-5);
      // dense: normalize([0.5, 0.5]) for both
      const h = Math.SQRT1_2;
      assert.deepEqual(out.dense_vecs.dims, [2, 2]);
      assertClose(out.dense_vecs.data as Float32Array, [h, h, h, h], 1e-5);
      // sparse: relu(x0 − x1 + 0.25)
      assert.deepEqual(out.sparse_vecs.dims, [2, 4, 1]);
      assertClose(out.sparse_vecs.data as Float32Array, [0.25, 0, 0, 0.25, 0.25, 0, 0.25, 0.25], 1e-5);
      // colbert: [x0, x1, 2·x0 + 1] for positions 1.., normalised; padding → 0
      const col = (x: number[]): number[] => {
        const v = [x[0], x[1], 2 * x[0] + 1];
        const n = Math.hypot(...v);
        return v.map((a) => a / n);
      };
      assert.deepEqual(out.colbert_vecs.dims, [2, 3, 3]);
      assertClose(out.colbert_vecs.data as Float32Array, [
        ...col([3, 4]), ...col([-1, 2]), ...col([-0.25, -0.25]),
        ...col([-1, 2]), ...col([-0.25, -0.25]), 0, 0, 0,
      ], 1e-5);
      assertClose(m.state(5), [-1, 2], 1e-5);
    } finally {
      await s.close();
    }
  });
});

function readSafetensorsByHand(file: string): Record<string, { shape: number[]; values: number[] }> {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  assert.equal(n % 8, 0);
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out: Record<string, { shape: number[]; values: number[] }> = {};
  for (const [name, t] of Object.entries(header)) {
    assert.equal(t.dtype, 'F32');
    const values: number[] = [];
    for (let at = 8 + n + t.data_offsets[0]; at < 8 + n + t.data_offsets[1]; at += 4) values.push(buf.readFloatLE(at));
    out[name] = { shape: t.shape, values };
  }
  return out;
}

test('writeBgeM3ShapedModel: heads as safetensors beside a tanh graph', async () => {
  await withTempDir('onnx-build-', async (dir) => {
    const m = await writeBgeM3ShapedModel(dir, { ...BGE, headsInGraph: false, tanh: true });
    const s = await OnnxSession.open(join(dir, 'onnx', 'model.onnx'), { threads: 1 });
    try {
      assert.deepEqual(s.outputNames, ['last_hidden_state']);
      const out = await s.run({
        input_ids: { type: 'int64', data: ids64([0, 4, 2]), dims: [1, 3] },
        attention_mask: { type: 'int64', data: ids64([1, 1, 1]), dims: [1, 3] },
      });
      assertClose(out.last_hidden_state.data as Float32Array, [0.5, 0.5, 3, 4, -0.25, -0.25].map(Math.tanh), 1e-5);
      assertClose(m.state(4), [Math.tanh(3), Math.tanh(4)], 1e-5);
    } finally {
      await s.close();
    }
    assert.deepEqual(readSafetensorsByHand(join(dir, 'sparse_linear.safetensors')), {
      weight: { shape: [1, 2], values: [1, -1] }, bias: { shape: [1], values: [0.25] },
    });
    // PyTorch layout [out, in]: the transpose of the graph's dim × cdim
    assert.deepEqual(readSafetensorsByHand(join(dir, 'colbert_linear.safetensors')), {
      weight: { shape: [3, 2], values: [1, 0, 0, 1, 2, 0] }, bias: { shape: [3], values: [0, 0, 1] },
    });
  });
});
