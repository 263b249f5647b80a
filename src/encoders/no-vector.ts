/**
 * Text that encodes to nothing (docs/hardening.md §6). A text encoder whose output for an input is
 * the zero vector refuses that input: a zero vector has no direction, so as a cosine query it ranks
 * arbitrarily and as a stored record it matches nothing. SIF and averaged word vectors give it to a
 * text with no word in the vocabulary; any other encoder is checked the same way by the server
 * (a remote API, an ONNX model). One message everywhere: the library, the CLI, HTTP `text`
 * queries and `/v1/embeddings`.
 */
import { OmnivecError } from '../errors.js';
import type { VectorBatch } from '../vector/batch.js';

/** The reason of a closed-vocabulary encoder (SIF, averaged word vectors). */
export const NO_KNOWN_WORD = "none of its words is in the model's vocabulary, so it has no vector";
/** The reason of any other encoder. */
export const ZERO_OUTPUT = 'the encoder gives it the zero vector, which has no direction to compare';

/** Characters of the text shown in the message. */
const SHOWN = 60;

/** The text as the messages quote it: JSON-quoted, cut to 60 characters with "…". */
export function quoteText(text: string): string {
  const chars = Array.from(text);
  return JSON.stringify(chars.length > SHOWN ? `${chars.slice(0, SHOWN - 1).join('')}…` : text);
}

/** True when every component is 0 (or the vector is empty). */
export function isZeroVector(v: ArrayLike<number>): boolean {
  for (let i = 0; i < v.length; i++) if (v[i] !== 0) return false;
  return true;
}

/**
 * `invalid_argument`: `text[3] "qwzx": none of its words is in the model's vocabulary, so it has no
 * vector`. `details` carry the position and the whole text.
 */
export function noVectorError(index: number, text: string, reason: string = NO_KNOWN_WORD): OmnivecError {
  return new OmnivecError('invalid_argument', `text[${index}] ${quoteText(text)}: ${reason}`, { index, text, noVector: true });
}

/** Returns `vectors`, or throws {@link noVectorError} for the first zero vector (its text and position). */
export function refuseZeroVectors<V extends ArrayLike<number>>(vectors: V[], texts: readonly string[], reason: string = ZERO_OUTPUT): V[] {
  for (let i = 0; i < vectors.length; i++) {
    if (isZeroVector(vectors[i]!)) throw noVectorError(i, texts[i] ?? '', reason);
  }
  return vectors;
}

/** {@link refuseZeroVectors} over the rows of a batch; returns the batch. */
export function refuseZeroRows<B extends VectorBatch>(batch: B, texts: readonly string[], reason: string = ZERO_OUTPUT): B {
  const { data, dim } = batch;
  for (let i = 0; i < batch.count; i++) {
    let zero = true;
    for (let j = i * dim, end = j + dim; j < end; j++) if (data[j] !== 0) { zero = false; break; }
    if (zero) throw noVectorError(i, texts[i] ?? '', reason);
  }
  return batch;
}
