/**
 * `POST /v1/embeddings` and `GET /v1/models` (docs/server.md), shaped as OpenAI's API so its
 * clients (the `openai` package, LangChain, …) work against a served encoder by changing the base
 * URL. Texts are encoded in passage mode: OpenAI's API has no query / passage switch. Vectors are
 * returned at unit length, as OpenAI's are (its clients take the dot product as the cosine);
 * `"normalize": false` (an omnivec extension) returns the encoder's raw output.
 */
import { checkPositiveInt } from '../checks.js';
import { endianness } from 'node:os';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { OmnivecError, describe, invalidArgument } from '../errors.js';
import type { ServerContext } from './context.js';
import { normalizeInPlace } from '../vector/normalize.js';

/** OpenAI's limit on inputs per request. */
export const MAX_INPUTS = 2048;

interface EmbeddingsBody {
  input: string | string[];
  model: string;
  dimensions?: number;
  encoding_format?: 'float' | 'base64';
  user?: string;
  normalize?: boolean;
}

const EMBEDDINGS_BODY = {
  type: 'object',
  required: ['input', 'model'],
  properties: {
    input: {
      description: `a text, or up to ${MAX_INPUTS} texts; each non-empty. Token-id arrays are refused (the encoders take text)`,
      anyOf: [
        { type: 'string', minLength: 1 },
        { type: 'array', minItems: 1, maxItems: MAX_INPUTS, items: { type: 'string', minLength: 1 } },
      ],
    },
    model: { type: 'string', minLength: 1, description: 'a served encoder\'s name (GET /v1/models)' },
    dimensions: { type: 'integer', minimum: 1, description: 'Matryoshka: the first components, renormalised; refused unless the model declares Matryoshka training' },
    encoding_format: { type: 'string', enum: ['float', 'base64'], description: 'float (default): arrays of numbers; base64: little-endian float32 bytes' },
    user: { type: 'string', description: 'accepted and ignored' },
    normalize: { type: 'boolean', description: 'omnivec extension: true (default) returns unit-length vectors, as OpenAI does; false the encoder\'s raw output (after any dimensions cut)' },
  },
} as const;

const EMBEDDINGS_ANSWER = {
  type: 'object',
  properties: {
    object: { const: 'list' },
    model: { type: 'string' },
    data: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          object: { const: 'embedding' },
          index: { type: 'integer' },
          embedding: { anyOf: [{ type: 'array', items: { type: 'number' } }, { type: 'string', contentEncoding: 'base64' }] },
        },
      },
    },
    usage: { type: 'object', properties: { prompt_tokens: { type: 'integer' }, total_tokens: { type: 'integer' } } },
  },
} as const;

const MODELS_ANSWER = {
  type: 'object',
  properties: {
    object: { const: 'list' },
    data: {
      type: 'array',
      items: {
        type: 'object',
        properties: { id: { type: 'string' }, object: { const: 'model' }, created: { type: 'integer' }, owned_by: { const: 'omnivec' } },
      },
    },
  },
} as const;

const LITTLE_ENDIAN = endianness() === 'LE';

/** base64 of the vector's little-endian float32 bytes, as OpenAI sends `encoding_format: base64`. */
export function float32Base64(v: Float32Array): string {
  if (LITTLE_ENDIAN) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  const b = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) b.writeFloatLE(v[i]!, i * 4);
  return b.toString('base64');
}

/**
 * The checks that give OpenAI-like messages before the schema runs: token arrays named as such,
 * the input count, empty strings (OpenAI refuses those too).
 */
function checkBody(body: unknown): void {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidArgument(`body: expected a JSON object {input, model, …}, got ${describe(body)}`);
  const b = body as Record<string, unknown>;
  const input = b.input;
  if (input === undefined) throw invalidArgument('input: required (a string or an array of strings), got nothing');
  if (typeof input === 'string') {
    if (input === '') throw invalidArgument('input: expected a non-empty string, got the string ""');
  } else if (Array.isArray(input)) {
    if (input.length === 0) throw invalidArgument('input: expected at least one text, got an empty array');
    if (input.length > MAX_INPUTS) throw invalidArgument(`input: expected at most ${MAX_INPUTS} texts per request, got ${input.length}; split them over several requests`);
    input.forEach((t, i) => {
      if (typeof t === 'number' || Array.isArray(t)) {
        throw invalidArgument(`input${typeof t === 'number' ? '' : `[${i}]`}: token ids are not accepted: the served encoders tokenise text themselves; send the text as a string`);
      }
      if (typeof t !== 'string') throw invalidArgument(`input[${i}]: expected a string, got ${describe(t)}`);
      if (t === '') throw invalidArgument(`input[${i}]: expected a non-empty string, got the string ""`);
    });
  } else {
    throw invalidArgument(`input: expected a string or an array of strings, got ${describe(input)}`);
  }
  if (typeof b.model !== 'string' || b.model === '') throw invalidArgument(`model: expected the name of a served encoder (GET /v1/models), got ${describe(b.model)}`);
  if (b.dimensions !== undefined) checkPositiveInt(b.dimensions, 'dimensions');
  if (b.encoding_format !== undefined && b.encoding_format !== 'float' && b.encoding_format !== 'base64') {
    throw invalidArgument(`encoding_format: expected "float" or "base64", got ${describe(b.encoding_format)}`);
  }
  if (b.normalize !== undefined && typeof b.normalize !== 'boolean') {
    throw invalidArgument(`normalize: expected true (unit-length vectors, the default) or false (the encoder's raw output), got ${describe(b.normalize)}`);
  }
}

/** A unit-length copy of each vector (the encoders refuse zero vectors, so every norm is positive). */
function unitVectors(vectors: readonly Float32Array[]): Float32Array[] {
  return vectors.map((v) => {
    const out = Float32Array.from(v);
    normalizeInPlace(out);
    return out;
  });
}

export function registerOpenAIRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const tags = ['openai'];

  app.post('/v1/embeddings', {
    schema: { summary: 'OpenAI-compatible embeddings of texts through a served encoder', tags, body: EMBEDDINGS_BODY, response: { 200: EMBEDDINGS_ANSWER } },
    preValidation: async (req: FastifyRequest) => { checkBody(req.body); },
    // Up to 2,048 vectors: plain JSON.stringify, not a schema serializer checking every number.
    serializerCompiler: () => (data) => JSON.stringify(data),
  }, async (req) => {
    const b = req.body as EmbeddingsBody;
    const texts = typeof b.input === 'string' ? [b.input] : b.input;
    let r;
    try {
      r = await ctx.encoders.embedTexts(b.model, texts, { dimensions: b.dimensions, mode: 'passage' });
    } catch (e) {
      // The service names its argument `texts`; this API calls it `input`.
      if (e instanceof OmnivecError && /^texts\b/.test(e.message)) throw new OmnivecError(e.code, e.message.replace(/^texts/, 'input'), e.details as Record<string, unknown>);
      throw e;
    }
    const base64 = b.encoding_format === 'base64';
    // After the service's Matryoshka cut: unit length unless the client asked for the raw vectors.
    const vectors = b.normalize === false ? r.vectors : unitVectors(r.vectors);
    return {
      object: 'list',
      model: b.model,
      data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: base64 ? float32Base64(v) : Array.from(v) })),
      usage: { prompt_tokens: r.tokens, total_tokens: r.tokens },
    };
  });

  app.get('/v1/models', { schema: { summary: 'the served encoders, as OpenAI lists models', tags, response: { 200: MODELS_ANSWER } } }, async () => {
    const list = await ctx.encoders.list();
    return { object: 'list', data: list.map((e) => ({ id: e.name, object: 'model', created: e.created, owned_by: 'omnivec' })) };
  });
}
