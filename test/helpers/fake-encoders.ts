/**
 * A small deterministic EncoderService for the server's tests: one served encoder, "hash", that
 * hashes words (texts) or bytes (images) into a normalised vector, so similar texts share
 * components. Optional delay per call (shutdown tests) and counters of what ran.
 */
import { OmnivecError } from '../../src/errors.js';
import type { Collection } from '../../src/db/collection.js';
import type { EmbedResult, EncoderService, ServedEncoderInfo, ServedKind } from '../../src/server/context.js';

export const FAKE_MODEL = 'hash-model';

export interface FakeEncoders extends EncoderService {
  calls: { texts: number; images: number; modes: string[] };
  closed: boolean;
}

function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
  return h;
}

/** Words hashed into `dim` buckets with a sign, then L2-normalised; the empty text is the first axis. */
export function hashText(text: string, dim: number): Float32Array {
  const v = new Float32Array(dim);
  for (const w of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    const h = fnv(w);
    v[h % dim] += (h & 0x80000000) !== 0 ? -1 : 1;
  }
  let n = 0;
  for (const x of v) n += x * x;
  if (n === 0) { v[0] = 1; return v; }
  const s = 1 / Math.sqrt(n);
  for (let i = 0; i < dim; i++) v[i] *= s;
  return v;
}

export function fakeEncoders(options: { dim: number; delayMs?: number; kind?: ServedKind }): FakeEncoders {
  const { dim } = options;
  const kind = options.kind ?? 'clip';
  const created = Math.floor(Date.now() / 1000);
  const info: ServedEncoderInfo & { kind: ServedKind; dim: number } = { name: 'hash', source: 'flag', kind, dim, created };
  const wait = (): Promise<void> => new Promise((r) => setTimeout(r, options.delayMs ?? 0));
  const check = (name: string): void => {
    if (name !== 'hash') throw new OmnivecError('not_found', `model: no served encoder is named ${JSON.stringify(name)}`);
  };
  const svc: FakeEncoders = {
    calls: { texts: 0, images: 0, modes: [] },
    closed: false,
    list: () => Promise.resolve([info]),
    info: async (name) => { check(name); return { ...info, spec: { model: FAKE_MODEL, dim } }; },
    embedTexts: async (name, texts, o): Promise<EmbedResult> => {
      check(name);
      await wait();
      svc.calls.texts += texts.length;
      svc.calls.modes.push(o?.mode ?? 'passage');
      return { vectors: texts.map((t) => hashText(t, dim)), tokens: texts.reduce((n, t) => n + t.split(/\s+/).length, 0) };
    },
    embedImages: async (name, images): Promise<EmbedResult> => {
      check(name);
      await wait();
      svc.calls.images += images.length;
      return { vectors: images.map((b) => hashText(Array.from(b, (x) => `b${x}`).join(' '), dim)), tokens: 0 };
    },
    forCollection: async (c: Collection) => (c.encoder?.model === FAKE_MODEL ? { name: 'hash', kind } : { name: undefined, reason: c.encoder === null ? 'it has no bound encoder' : `no served encoder makes "${c.encoder.model}"` }),
    close: async () => { svc.closed = true; },
  };
  return svc;
}
