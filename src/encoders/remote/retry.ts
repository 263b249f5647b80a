/**
 * The retry policy of the remote encoder: which failures are worth another attempt, how long to
 * wait before it (exponential backoff with jitter, or the server's own `Retry-After`), and a sleep
 * that an abort signal cuts short.
 */

export interface BackoffOptions {
  /** Wait before the first retry, in ms. Default 500. */
  initialMs?: number;
  /** Ceiling of the computed wait, in ms. Default 20 000. */
  maxMs?: number;
  /** Growth of the wait per attempt. Default 2. */
  factor?: number;
  /**
   * Fraction of each wait drawn at random, in [0, 1]: the wait is `d × (1 − jitter × U)` with U
   * uniform in [0, 1). Default 0.25. Jitter spreads clients that failed together (one 429 burst)
   * so that they do not come back together.
   */
  jitter?: number;
}

export type ResolvedBackoff = Required<BackoffOptions>;

export const DEFAULT_BACKOFF: ResolvedBackoff = { initialMs: 500, maxMs: 20_000, factor: 2, jitter: 0.25 };

/**
 * A `Retry-After` longer than this is not waited for as such (the computed backoff is used
 * instead): OpenAI's own client does the same, so that one odd header cannot stall a job for hours.
 */
export const MAX_RETRY_AFTER_MS = 60_000;

/** Statuses worth a retry: rate limit and the transient server errors. Other 4xx never are. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

/** The wait before retry number `attempt` (1 for the first retry), in ms. */
export function backoffDelay(attempt: number, b: ResolvedBackoff, random: () => number = Math.random): number {
  const d = Math.min(b.maxMs, b.initialMs * b.factor ** (attempt - 1));
  return Math.max(0, d * (1 - b.jitter * random()));
}

/**
 * The server's requested wait in ms, from `retry-after-ms` (OpenAI, milliseconds) or
 * `Retry-After` (RFC 9110: delay-seconds or an HTTP date); undefined when absent, unparsable, or
 * outside (0, MAX_RETRY_AFTER_MS].
 */
export function retryAfterMs(headers: Headers, now: number = Date.now()): number | undefined {
  let ms: number | undefined;
  const msHeader = headers.get('retry-after-ms');
  if (msHeader !== null && msHeader.trim() !== '' && Number.isFinite(Number(msHeader))) ms = Number(msHeader);
  if (ms === undefined) {
    const h = headers.get('retry-after');
    if (h !== null && h.trim() !== '') {
      if (/^\s*\d+(\.\d+)?\s*$/.test(h)) ms = Number(h) * 1000;
      else {
        const at = Date.parse(h);
        if (Number.isFinite(at)) ms = at - now;
      }
    }
  }
  if (ms === undefined || !(ms >= 0) || ms > MAX_RETRY_AFTER_MS) return undefined;
  return ms;
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
