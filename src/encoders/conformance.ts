/**
 * The suite every encoder runs (each implementation's test calls `runEncoderConformance` with a
 * tiny model: test/helpers/onnx-build.ts, tiny-clip.ts, a SIF model fitted on a few sentences, a
 * fake OpenAI-compatible API). It checks the contract of types.ts: `modality`, `dim`, a plain-JSON
 * `spec` that the registry reopens to the same encoder, the batch `encode` returns, empty input,
 * refused inputs, the zero-vector refusal of docs/hardening.md §6, and `close`. An encoder that
 * cannot pass a case lists it in `skip` with the reason.
 */
import { describe as suite, test } from 'node:test';
import assert from 'node:assert/strict';
import { OmnivecError } from '../errors.js';
import { openEncoder, type EncoderContext } from './registry.js';
import type { Encoder, EncoderInput, Encoding, Modality } from './types.js';

export type ConformanceCase = 'shape' | 'empty input' | 'spec round trip' | 'zero vector' | 'refused input' | 'close';

export interface EncoderConformanceOptions<M extends Modality> {
  modality: M;
  /** Opens a fresh encoder under test (through the registry, so that its spec says where it is). */
  open(): Promise<Encoder<M>>;
  /** How the registry reopens the encoder's spec (a database folder for stored models, the network for remote APIs). */
  context: EncoderContext;
  /** At least two distinct inputs the encoder takes. */
  inputs: readonly EncoderInput<M>[];
  /** Texts: one whose vector is the zero vector, which the encoder must refuse. */
  zeroText?: string;
  /** Largest |difference| between the vectors of one input encoded twice (default 1e-5: batching changes float sums a little). */
  tolerance?: number;
  /** Cases to skip, each with the reason. */
  skip?: Partial<Record<ConformanceCase, string>>;
}

function near(a: Float32Array, b: Float32Array, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol, `${what}: component ${i}: ${a[i]} vs ${b[i]}`);
}

const row = (e: Encoding, i: number): Float32Array => e.data.subarray(i * e.dim, (i + 1) * e.dim);

/** Checks that `e` is a well-formed batch of `count` rows of `dim` finite floats with its token count. */
export function assertEncoding(e: Encoding, count: number, dim: number, modality: Modality): void {
  assert.ok(e.data instanceof Float32Array, 'data: a Float32Array');
  assert.equal(e.count, count, 'count: one row per input');
  assert.equal(e.dim, dim, 'dim: the encoder\'s');
  assert.equal(e.data.length, count * dim, 'data: count × dim floats');
  for (let i = 0; i < e.data.length; i++) assert.ok(Number.isFinite(e.data[i]!), `data[${i}]: finite`);
  assert.ok(Number.isInteger(e.tokens) && e.tokens >= 0, `tokens: a non-negative integer, got ${e.tokens}`);
  if (modality === 'image') assert.equal(e.tokens, 0, 'tokens: 0 for images');
  else if (count > 0) assert.ok(e.tokens > 0, 'tokens: texts run tokens');
}

export function runEncoderConformance<M extends Modality>(name: string, o: EncoderConformanceOptions<M>): void {
  const skip = (c: ConformanceCase): string | undefined => o.skip?.[c];
  const tol = o.tolerance ?? 1e-5;
  /** Runs `fn` with a fresh encoder, closed after. */
  const withEncoder = async (fn: (enc: Encoder<M>) => Promise<void>): Promise<void> => {
    const enc = await o.open();
    try {
      await fn(enc);
    } finally {
      await enc.close();
    }
  };

  suite(`encoder conformance: ${name}`, () => {
    test('shape: modality, dim, a JSON spec, one batch of count × dim with tokens; row i is input i', { skip: skip('shape') }, () => withEncoder(async (enc) => {
      assert.equal(enc.modality, o.modality);
      const all = await enc.encode(o.inputs);
      assert.ok(Number.isInteger(enc.dim) && enc.dim >= 1, `dim: a positive integer, got ${enc.dim}`);
      assertEncoding(all, o.inputs.length, enc.dim, o.modality);
      assert.equal(typeof enc.spec.model, 'string');
      assert.notEqual(enc.spec.model, '');
      if (enc.spec.dim !== undefined) assert.equal(enc.spec.dim, enc.dim, 'spec.dim');
      assert.deepEqual(JSON.parse(JSON.stringify(enc.spec)), enc.spec, 'the spec is plain JSON');
      // Each input alone gives its row of the batch (results in input order, batching invisible).
      for (let i = 0; i < o.inputs.length; i++) {
        const one = await enc.encode([o.inputs[i]!]);
        assertEncoding(one, 1, enc.dim, o.modality);
        near(one.data, row(all, i), tol, `input ${i} alone vs in the batch`);
      }
    }));

    test('empty input: an empty batch, no tokens', { skip: skip('empty input') }, () => withEncoder(async (enc) => {
      await enc.encode(o.inputs.slice(0, 1));
      const e = await enc.encode([]);
      assertEncoding(e, 0, enc.dim, o.modality);
      assert.equal(e.tokens, 0);
    }));

    test('spec round trip: the registry reopens the spec to the same encoder', { skip: skip('spec round trip') }, () => withEncoder(async (enc) => {
      const want = await enc.encode(o.inputs);
      const again = await openEncoder(enc.spec, { ...o.context, modality: o.modality });
      try {
        assert.equal(again.modality, o.modality);
        assert.equal(again.dim, enc.dim);
        assert.deepEqual(again.spec, enc.spec);
        const got = await (again as Encoder<M>).encode(o.inputs);
        assertEncoding(got, o.inputs.length, enc.dim, o.modality);
        near(got.data, want.data, tol, 'reopened vs original');
        assert.equal(got.tokens, want.tokens, 'tokens');
      } finally {
        await again.close();
      }
    }));

    test('zero vector: a text that encodes to nothing is refused, naming its position (docs/hardening.md §6)', { skip: skip('zero vector') ?? (o.zeroText === undefined ? 'no zeroText given' : undefined) }, () => withEncoder(async (enc) => {
      const texts = [o.inputs[0]!, o.zeroText!] as unknown as EncoderInput<M>[];
      await assert.rejects(enc.encode(texts), (e: unknown) => {
        assert.ok(e instanceof OmnivecError, `expected an OmnivecError, got ${String(e)}`);
        assert.equal(e.code, 'invalid_argument');
        assert.match(e.message, /^text\[1\] "/);
        assert.equal(e.details?.index, 1);
        return true;
      });
    }));

    test('refused input: not an array is invalid_argument', { skip: skip('refused input') }, () => withEncoder(async (enc) => {
      await assert.rejects(enc.encode('x' as never), (e: unknown) => e instanceof OmnivecError && e.code === 'invalid_argument');
    }));

    test('close: resolves (twice too); encoding after it is refused', { skip: skip('close') }, async () => {
      const enc = await o.open();
      await enc.encode(o.inputs.slice(0, 1));
      await enc.close();
      await enc.close();
      await assert.rejects(enc.encode(o.inputs.slice(0, 1)), (e: unknown) => e instanceof OmnivecError && e.code === 'invalid_argument');
    });
  });
}
