/**
 * The tiny ONNX models of test/helpers/onnx-build.ts, run through the project's OnnxSession: every
 * expected number is worked out by hand in the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { buildModel, writeModel } from './helpers/onnx-build.js';
import { withTempDir } from './helpers/assertions.js';
import { OnnxSession } from '../src/encoders/onnx/session.js';

function close(actual: ArrayLike<number>, expected: readonly number[], tol = 1e-5): void {
  assert.equal(actual.length, expected.length, `length ${actual.length}, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `[${i}]: ${actual[i]}, expected ${expected[i]}`);
  }
}

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
      close(out.y.data as Float32Array, [5.5, 6, 9, -1.5, -2, 0]);
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
      close(out.y.data as Float32Array, [2, 12]);
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
