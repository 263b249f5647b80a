/* global fetch, localStorage, DOMException, URLSearchParams */
// The server's JSON endpoints (docs/server.md), with the API key: sent as a bearer token when one
// is kept, asked for when a call answers 401, then the call is sent again.

const KEY_STORAGE = 'omnivec.apiKey';

/** An error the server answered with (`{error: {code, message}}`), or a failed connection. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the server could not be reached
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export function storedKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

export function storeKey(key) {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // Private windows may refuse storage: the key then lasts as long as the page.
  }
  memoryKey = key;
}

let memoryKey = storedKey();

/** Called on a 401: resolves with a new key to try, or rejects to give up. Set by the page. */
let askForKey = null;
/** One prompt shared by every call that meets a 401 at the same time. */
let pendingKey = null;

/** @param {(refused: boolean) => Promise<string>} fn */
export function onUnauthorized(fn) {
  askForKey = fn;
}

async function readError(response) {
  let code = `http_${response.status}`;
  let message = response.statusText || 'request failed';
  try {
    const body = await response.json();
    if (body && typeof body.error === 'object' && body.error !== null) {
      if (typeof body.error.code === 'string') code = body.error.code;
      if (typeof body.error.message === 'string') message = body.error.message;
    }
  } catch {
    // Not JSON (a proxy's page): keep the status line.
  }
  return new ApiError(response.status, code, message);
}

/**
 * One call. Paths are relative (`api/collections`) so the page also works behind a proxy prefix.
 * Answers `{status, body}`; a non-2xx status throws ApiError.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @param {AbortSignal} [signal]
 */
export async function call(method, path, body, signal, binary = false) {
  for (let attempt = 0; ; attempt++) {
    const headers = { accept: binary ? 'application/octet-stream, application/json' : 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const keyUsed = memoryKey;
    if (keyUsed) headers.authorization = `Bearer ${keyUsed}`;
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
    } catch (e) {
      if (e instanceof DOMException && e.name === 'AbortError') throw e;
      throw new ApiError(0, 'network', `the server did not answer (${e instanceof Error ? e.message : String(e)})`);
    }
    if (response.status === 401 && askForKey !== null && attempt < 5) {
      const error = await readError(response);
      // Another call may have got a new key while this one was in flight: just retry with it.
      if (memoryKey === keyUsed) {
        pendingKey ??= askForKey(Boolean(keyUsed)).finally(() => { pendingKey = null; });
        try {
          storeKey(await pendingKey);
        } catch {
          throw error;
        }
      }
      continue;
    }
    if (!response.ok) throw await readError(response);
    if (binary && response.status === 200) return { status: response.status, body: await response.arrayBuffer() };
    return { status: response.status, body: await response.json() };
  }
}

const enc = encodeURIComponent;

export const api = {
  collections: (signal) => call('GET', 'api/collections', undefined, signal).then((r) => r.body.collections),
  collection: (name, signal) => call('GET', `api/collections/${enc(name)}`, undefined, signal).then((r) => r.body),
  query: (name, request, signal) => call('POST', `api/collections/${enc(name)}/query`, request, signal).then((r) => r.body),
  /** One poll: `{status: 202 | 200, body}`. */
  projection: (name, { method, sample, include }, signal) => {
    const q = new URLSearchParams({ method, sample: String(sample), include: include.join(','), points: 'binary' });
    return call('GET', `api/collections/${enc(name)}/projection?${q}`, undefined, signal);
  },
  /**
   * A map's points as float32 (docs/projections.md, "Binary points"): `{ seq, stale, xy }`, or null
   * while no map is ready (202).
   */
  projectionPoints: async (name, { method, sample }, signal) => {
    const q = new URLSearchParams({ method, sample: String(sample) });
    const r = await call('GET', `api/collections/${enc(name)}/projection/points?${q}`, undefined, signal, true);
    if (r.status !== 200) return null;
    const view = new DataView(r.body);
    const magic = String.fromCharCode(view.getUint8(0), view.getUint8(1), view.getUint8(2), view.getUint8(3));
    if (magic !== 'OVMP' || view.getUint32(4, true) !== 1) throw new ApiError(200, 'corrupt_file', `the map's points: expected an OVMP version 1 answer, got ${magic} ${view.getUint32(4, true)}`);
    const count = view.getUint32(8, true);
    return { count, stale: (view.getUint32(12, true) & 1) === 1, seq: view.getFloat64(16, true), xy: new Float32Array(r.body, 24, count * 2) };
  },
};
