import { OmnivecError, invalidArgument, describe } from '../../errors.js';
import { checkNonNegativeInt, checkNumber, checkPositiveInt } from '../../checks.js';
import { CheckpointWriter, base64ToFloat32, loadCheckpoint } from './checkpoint.js';
import { DEFAULT_BACKOFF, backoffDelay, isRetryableStatus, retryAfterMs, sleep, type BackoffOptions, type ResolvedBackoff } from './retry.js';
import { encodingFromRows } from '../common.js';
import { refuseZeroRows } from '../no-vector.js';
import type { EncodeOptions, Encoder, Encoding } from '../types.js';

/**
 * A client for OpenAI-compatible `POST /v1/embeddings` (OpenAI, Azure-style proxies, vLLM, TEI,
 * Ollama, LiteLLM …) behind the encoder contract of docs/encoders.md: batches under the API's
 * limits, bounded concurrency, retries with backoff, and an optional checkpoint file so that a
 * long paid job survives a crash. See docs/remote.md.
 */

export interface RemoteEncoderOptions {
  /** The API root, e.g. 'https://api.openai.com/v1' or 'http://127.0.0.1:8080/v1'. */
  baseURL: string;
  /** The model name the API knows, e.g. 'text-embedding-3-small'. */
  model: string;
  /** Bearer key. Default `process.env.OPENAI_API_KEY`; no Authorization header when neither. */
  apiKey?: string;
  /** Matryoshka truncation done by the server (text-embedding-3-*): the output dimension. */
  dimensions?: number;
  /** Wire format of the vectors. base64 (default) is 4 bytes a component instead of ~20 as JSON. */
  encodingFormat?: 'base64' | 'float';
  /** Inputs per request. Default 2048 (OpenAI's limit). */
  maxBatch?: number;
  /** Estimated tokens per request. Default 300 000 (OpenAI's limit). */
  maxBatchTokens?: number;
  /** Estimated tokens per input; longer inputs are refused up front. Default 8191. */
  maxInputTokens?: number;
  /**
   * Token count of a text. Default `ceil(chars / 3)`: an over-estimate for English (~4 chars a
   * token with cl100k) so that batches stay under the limits without the tokenizer.
   */
  countTokens?: (text: string) => number;
  /** Retries after the first attempt, for 429, 5xx, network errors and timeouts. Default 6. */
  retries?: number;
  backoff?: BackoffOptions;
  /** Per request (attempt), in ms. Default 60 000. */
  timeoutMs?: number;
  /** Requests in flight. Default 2: throughput without tripping rate limits at once. */
  concurrency?: number;
  /** Injectable fetch (tests, proxies). Default the global fetch. */
  fetch?: typeof fetch;
  /** A JSON Lines file that keeps every completed batch; a rerun requests only what is missing. */
  checkpoint?: string;
  /** The known output dimension; else learnt from the first response (or `dimensions`). */
  dim?: number;
  /** Extra request headers (e.g. `api-key` for Azure, `OpenAI-Organization`). */
  headers?: Record<string, string>;
  /** Non-fatal notices: checkpoint lines ignored, retries. Default: none. */
  onWarning?: (message: string) => void;
}

export interface RemoteEncoderSpec {
  /** `openai:<model>` plus `@<dimensions>` when the server truncates. */
  model: string;
  kind: 'remote';
  baseURL: string;
  dimensions?: number;
  dim?: number;
  [key: string]: unknown;
}

/**
 * The contract's options: `mode` is accepted but unused (remote models take no prefix from
 * omnivec); `onProgress` counts inputs found in the checkpoint as done.
 */
export type RemoteEncodeOptions = EncodeOptions;

/** Counters since the encoder was created. */
export interface RemoteUsage {
  /** HTTP requests sent, retries included. */
  requests: number;
  /** Of which retries. */
  retries: number;
  /** `usage.prompt_tokens` summed over the responses that report it. */
  promptTokens: number;
}

const OPENAI_MAX_BATCH = 2048;

/** The default token count: characters / 3, rounded up. */
export const estimateTokens = (text: string): number => Math.ceil(text.length / 3);

/**
 * Cuts `indices` (in order) into batches of at most `maxBatch` inputs and `maxBatchTokens`
 * estimated tokens (an input over the token limit alone still gets a batch of its own).
 */
export function planBatches(indices: readonly number[], tokens: readonly number[], maxBatch: number, maxBatchTokens: number): number[][] {
  const batches: number[][] = [];
  let cur: number[] = [];
  let sum = 0;
  for (const i of indices) {
    const t = tokens[i];
    if (cur.length > 0 && (cur.length >= maxBatch || sum + t > maxBatchTokens)) {
      batches.push(cur);
      cur = [];
      sum = 0;
    }
    cur.push(i);
    sum += t;
  }
  if (cur.length > 0) batches.push(cur);
  return batches;
}

export class RemoteEncoder implements Encoder<'text'> {
  readonly modality = 'text' as const;
  readonly #o: Required<Pick<RemoteEncoderOptions, 'model' | 'encodingFormat' | 'maxBatch' | 'maxBatchTokens' | 'maxInputTokens' | 'countTokens' | 'retries' | 'timeoutMs' | 'concurrency' | 'fetch' | 'headers'>>;
  readonly #url: string;
  readonly #baseURL: string;
  readonly #apiKey: string | undefined;
  readonly #dimensions: number | undefined;
  readonly #backoff: ResolvedBackoff;
  readonly #checkpoint: string | undefined;
  readonly #onWarning: ((message: string) => void) | undefined;
  #dim: number | undefined;
  #closed = false;
  readonly #usage: RemoteUsage = { requests: 0, retries: 0, promptTokens: 0 };

  constructor(options: RemoteEncoderOptions) {
    const o = options as Partial<RemoteEncoderOptions> | undefined;
    if (o === null || typeof o !== 'object') throw invalidArgument(`options: expected an object with baseURL and model, got ${describe(o)}`);
    if (typeof o.baseURL !== 'string' || !/^https?:\/\//i.test(o.baseURL) || !URL.canParse(o.baseURL)) {
      throw invalidArgument(`baseURL: expected an http(s) URL such as "https://api.openai.com/v1", got ${describe(o.baseURL)}`);
    }
    if (typeof o.model !== 'string' || o.model === '') throw invalidArgument(`model: expected a model name such as "text-embedding-3-small", got ${describe(o.model)}`);
    if (o.encodingFormat !== undefined && o.encodingFormat !== 'base64' && o.encodingFormat !== 'float') {
      throw invalidArgument(`encodingFormat: expected 'base64' or 'float', got ${describe(o.encodingFormat)}`);
    }
    if (o.countTokens !== undefined && typeof o.countTokens !== 'function') throw invalidArgument(`countTokens: expected a function (text) => number, got ${describe(o.countTokens)}`);
    if (o.fetch !== undefined && typeof o.fetch !== 'function') throw invalidArgument(`fetch: expected a fetch function, got ${describe(o.fetch)}`);
    if (o.checkpoint !== undefined && (typeof o.checkpoint !== 'string' || o.checkpoint === '')) throw invalidArgument(`checkpoint: expected a file path, got ${describe(o.checkpoint)}`);
    this.#dimensions = o.dimensions === undefined ? undefined : checkPositiveInt(o.dimensions, 'dimensions', { fallback: 0 });
    const dim = o.dim === undefined ? undefined : checkPositiveInt(o.dim, 'dim', { fallback: 0 });
    if (dim !== undefined && this.#dimensions !== undefined && dim !== this.#dimensions) {
      throw invalidArgument(`dim: expected ${this.#dimensions} (the dimensions requested from the server), got ${dim}`);
    }
    this.#dim = dim ?? this.#dimensions;
    const b = o.backoff ?? {};
    this.#backoff = {
      initialMs: checkNumber(b.initialMs, 'backoff.initialMs', { min: 0, fallback: DEFAULT_BACKOFF.initialMs }),
      maxMs: checkNumber(b.maxMs, 'backoff.maxMs', { min: 0, fallback: DEFAULT_BACKOFF.maxMs }),
      factor: checkNumber(b.factor, 'backoff.factor', { min: 0, fallback: DEFAULT_BACKOFF.factor }),
      jitter: Math.min(1, checkNumber(b.jitter, 'backoff.jitter', { min: 0, fallback: DEFAULT_BACKOFF.jitter })),
    };
    this.#o = {
      model: o.model,
      encodingFormat: o.encodingFormat ?? 'base64',
      maxBatch: checkPositiveInt(o.maxBatch, 'maxBatch', { fallback: OPENAI_MAX_BATCH }),
      maxBatchTokens: checkPositiveInt(o.maxBatchTokens, 'maxBatchTokens', { fallback: 300_000 }),
      maxInputTokens: checkPositiveInt(o.maxInputTokens, 'maxInputTokens', { fallback: 8191 }),
      countTokens: o.countTokens ?? estimateTokens,
      retries: checkNonNegativeInt(o.retries, 'retries', { fallback: 6 }),
      timeoutMs: checkPositiveInt(o.timeoutMs, 'timeoutMs', { fallback: 60_000 }),
      concurrency: checkPositiveInt(o.concurrency, 'concurrency', { fallback: 2 }),
      fetch: o.fetch ?? globalThis.fetch,
      headers: { ...o.headers },
    };
    this.#baseURL = o.baseURL.replace(/\/+$/, '');
    this.#url = `${this.#baseURL}/embeddings`;
    this.#apiKey = o.apiKey ?? (process.env.OPENAI_API_KEY || undefined);
    this.#checkpoint = o.checkpoint;
    this.#onWarning = o.onWarning;
  }

  /** The output dimension: known from `dim` / `dimensions`, else learnt from the first response. */
  get dim(): number {
    if (this.#dim === undefined) {
      throw new OmnivecError('invalid_argument', `dim: not known yet for ${this.#specModel()}: it is learnt from the first response; call encode first, or pass dim (or dimensions)`);
    }
    return this.#dim;
  }

  get spec(): RemoteEncoderSpec {
    const s: RemoteEncoderSpec = { model: this.#specModel(), kind: 'remote', baseURL: this.#baseURL };
    if (this.#dimensions !== undefined) s.dimensions = this.#dimensions;
    if (this.#dim !== undefined) s.dim = this.#dim;
    return s;
  }

  get usage(): RemoteUsage {
    return { ...this.#usage };
  }

  #specModel(): string {
    return `openai:${this.#o.model}${this.#dimensions !== undefined ? `@${this.#dimensions}` : ''}`;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  /**
   * One vector per text, row i for text i; `tokens` is the API's `usage.prompt_tokens` summed over
   * this call's requests (0 for texts found in the checkpoint). A zero vector is refused
   * (docs/hardening.md §6).
   */
  async encode(texts: readonly string[], options: RemoteEncodeOptions = {}): Promise<Encoding> {
    if (this.#closed) throw invalidArgument(`encode: the remote encoder for ${this.#specModel()} is closed`);
    if (!Array.isArray(texts)) throw invalidArgument(`texts: expected an array of strings, got ${describe(texts)}`);
    const tokens = this.#checkInputs(texts);
    const signal = options.signal;
    signal?.throwIfAborted();
    const n = texts.length;
    // No input, nothing asked: the dimension is known, or 0 until a first response tells it.
    if (n === 0) return { data: new Float32Array(0), dim: this.#dim ?? 0, count: 0, tokens: 0 };

    let results: (Float32Array | undefined)[] = new Array(n).fill(undefined);
    let done = 0;
    let writer: CheckpointWriter | undefined;
    if (this.#checkpoint !== undefined) {
      const loaded = await loadCheckpoint(this.#checkpoint, texts, { model: this.#specModel(), dim: this.#dim, onWarning: this.#onWarning });
      results = loaded.vectors;
      done = loaded.found;
      this.#dim ??= loaded.dim;
      writer = await CheckpointWriter.open(this.#checkpoint, this.#specModel()).catch((e: NodeJS.ErrnoException) => {
        throw invalidArgument(`checkpoint: expected a file that can be appended to, got ${this.#checkpoint} (${e.code ?? e.message})`);
      });
    }
    if (done > 0) options.onProgress?.(done, n);

    const missing: number[] = [];
    for (let i = 0; i < n; i++) if (results[i] === undefined) missing.push(i);
    const batches = planBatches(missing, tokens, this.#o.maxBatch, this.#o.maxBatchTokens);

    // A pool of `concurrency` workers over the batches. On the first permanent failure no new batch
    // starts, but those in flight finish and are checkpointed: they are paid for.
    let next = 0;
    let tokensUsed = 0;
    let failure: { error: unknown } | undefined;
    const worker = async (): Promise<void> => {
      while (failure === undefined && next < batches.length) {
        const batch = batches[next++];
        try {
          const { vectors, tokens: used } = await this.#request(batch.map((i) => texts[i]), signal);
          tokensUsed += used;
          if (writer !== undefined) await writer.append(batch.map((i, k) => ({ i, text: texts[i], vector: vectors[k] })));
          batch.forEach((i, k) => (results[i] = vectors[k]));
          done += batch.length;
          options.onProgress?.(done, n);
        } catch (error) {
          failure ??= { error };
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(this.#o.concurrency, batches.length) }, worker));
    } finally {
      await writer?.close();
    }
    if (failure !== undefined) throw failure.error;
    return refuseZeroRows(encodingFromRows(results as Float32Array[], this.#dim!, tokensUsed), texts);
  }

  /** Token estimates per input; refuses non-strings, empty strings and over-long inputs. */
  #checkInputs(texts: readonly string[]): number[] {
    const tokens = new Array<number>(texts.length);
    for (let i = 0; i < texts.length; i++) {
      const t = texts[i];
      if (typeof t !== 'string') throw invalidArgument(`texts[${i}]: expected a string, got ${describe(t)}`);
      if (t === '') throw invalidArgument(`texts[${i}]: expected a non-empty string (the embeddings API refuses empty input), got the string ""`);
      const k = this.#o.countTokens(t);
      if (!(k <= this.#o.maxInputTokens)) {
        throw invalidArgument(`texts[${i}]: expected at most maxInputTokens = ${this.#o.maxInputTokens} tokens, got ${k} (${t.length} characters); cut it into chunks first`);
      }
      tokens[i] = k;
    }
    return tokens;
  }

  /** One batch through the API with the retry policy; the vectors in input order and the tokens it reports. */
  async #request(input: string[], signal: AbortSignal | undefined): Promise<{ vectors: Float32Array[]; tokens: number }> {
    const body = JSON.stringify({
      input,
      model: this.#o.model,
      ...(this.#dimensions !== undefined ? { dimensions: this.#dimensions } : {}),
      encoding_format: this.#o.encodingFormat,
    });
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', ...this.#o.headers };
    if (this.#apiKey !== undefined) headers.authorization = `Bearer ${this.#apiKey}`;
    const attempts = this.#o.retries + 1;
    for (let attempt = 1; ; attempt++) {
      let why: string;
      let wait: number | undefined;
      const timeout = AbortSignal.timeout(this.#o.timeoutMs);
      const s = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
      this.#usage.requests++;
      if (attempt > 1) this.#usage.retries++;
      try {
        const res = await this.#o.fetch(this.#url, { method: 'POST', headers, body, signal: s });
        const text = await res.text();
        if (res.ok) return this.#parse(text, input.length);
        const message = `POST ${this.#url}: ${res.status} ${res.statusText}${serverMessage(text)}`;
        if (!isRetryableStatus(res.status)) {
          throw new OmnivecError('encoder_error', message, { status: res.status, model: this.#o.model });
        }
        why = message;
        wait = retryAfterMs(res.headers);
      } catch (e) {
        if (e instanceof OmnivecError) throw e;
        if (signal?.aborted) throw signal.reason;
        why = timeout.aborted
          ? `POST ${this.#url}: no response within timeoutMs = ${this.#o.timeoutMs}`
          : `POST ${this.#url}: ${errorText(e)}`;
      }
      if (attempt >= attempts) {
        throw new OmnivecError('encoder_error', `${why} (gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}; raise retries or try later)`, { attempts });
      }
      const delay = wait ?? backoffDelay(attempt, this.#backoff);
      this.#onWarning?.(`${why}; retry ${attempt} of ${this.#o.retries} in ${Math.round(delay)} ms`);
      await sleep(delay, signal);
    }
  }

  #parse(text: string, count: number): { vectors: Float32Array[]; tokens: number } {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new OmnivecError('encoder_error', `POST ${this.#url}: expected a JSON body, got ${describe(text)}`);
    }
    const data = (json as { data?: unknown } | null)?.data;
    if (!Array.isArray(data)) throw new OmnivecError('encoder_error', `POST ${this.#url}: expected a "data" array in the response, got ${describe(data)}`);
    if (data.length !== count) {
      throw new OmnivecError('encoder_error', `POST ${this.#url}: expected ${count} embeddings (one per input), got ${data.length}`);
    }
    const out: (Float32Array | undefined)[] = new Array(count).fill(undefined);
    for (let k = 0; k < data.length; k++) {
      const item = data[k] as { index?: unknown; embedding?: unknown } | null;
      // `index` says which input an item answers; servers may omit it (then: array order).
      const i = item?.index === undefined ? k : item.index;
      if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= count || out[i] !== undefined) {
        throw new OmnivecError('encoder_error', `POST ${this.#url}: data[${k}].index: expected a distinct integer in [0, ${count}), got ${describe(i)}`);
      }
      const v = toVector(item?.embedding);
      if (v === undefined) {
        throw new OmnivecError('encoder_error', `POST ${this.#url}: data[${k}].embedding: expected base64 float32 or an array of finite numbers, got ${describe(item?.embedding)}`);
      }
      const dim = this.#dim ?? v.length;
      if (v.length !== dim) {
        throw new OmnivecError('encoder_error', `POST ${this.#url}: data[${k}].embedding: expected dimension ${dim}${this.#dimensions !== undefined ? ' (dimensions requested)' : ''}, got ${v.length}`);
      }
      this.#dim = dim;
      out[i] = v;
    }
    const usage = (json as { usage?: { prompt_tokens?: unknown } }).usage;
    const tokens = typeof usage?.prompt_tokens === 'number' ? usage.prompt_tokens : 0;
    this.#usage.promptTokens += tokens;
    return { vectors: out as Float32Array[], tokens };
  }
}

/** Either wire form, whatever was asked for: some compatible servers ignore `encoding_format`. */
function toVector(e: unknown): Float32Array | undefined {
  if (typeof e === 'string') {
    const v = base64ToFloat32(e);
    return v !== undefined && v.length > 0 && v.every(Number.isFinite) ? v : undefined;
  }
  if (Array.isArray(e) && e.length > 0 && e.every((x) => typeof x === 'number' && Number.isFinite(x))) return Float32Array.from(e as number[]);
  return undefined;
}

/** The API's own error message (`{"error": {"message"}}`), else the start of the body. */
function serverMessage(text: string): string {
  try {
    const e = (JSON.parse(text) as { error?: { message?: unknown } | string } | null)?.error;
    const m = typeof e === 'string' ? e : e?.message;
    if (typeof m === 'string' && m !== '') return `: ${m}`;
  } catch {
    // not JSON: fall through to the raw text
  }
  const t = text.trim();
  return t === '' ? '' : `: ${t.length > 300 ? t.slice(0, 300) + '…' : t}`;
}

function errorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as { cause?: unknown }).cause;
  return cause instanceof Error ? `${e.message} (${cause.message})` : e.message;
}

/** An OpenAI-compatible embeddings encoder. See RemoteEncoderOptions and docs/remote.md. */
export function createRemoteEncoder(options: RemoteEncoderOptions): RemoteEncoder {
  return new RemoteEncoder(options);
}
