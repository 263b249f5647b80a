/** A tiny JSON client for the server tests: real fetch, the answer's status, JSON body and headers. */
export interface Answer {
  status: number;
  body: Record<string, unknown> & { error?: { code: string; message: string; type: string; param: null } };
  headers: Headers;
}

export type Call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<Answer>;

/** `body` is sent as JSON unless it is a string (sent as is, content-type application/json unless given). */
export function client(base: string, key?: string): Call {
  return async (method, path, body, headers = {}) => {
    const h: Record<string, string> = { ...(key !== undefined ? { authorization: `Bearer ${key}` } : {}) };
    if (body !== undefined) h['content-type'] = 'application/json';
    Object.assign(h, headers);
    const r = await fetch(base + path, { method, headers: h, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await r.text();
    let parsed: Answer['body'];
    try { parsed = JSON.parse(text) as Answer['body']; } catch { parsed = { text } as Answer['body']; }
    return { status: r.status, body: parsed, headers: r.headers };
  };
}

/** Base64 of little-endian float32, as the API takes vectors. */
export function f32base64(v: ArrayLike<number>): string {
  const b = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) b.writeFloatLE(v[i]!, i * 4);
  return b.toString('base64');
}
