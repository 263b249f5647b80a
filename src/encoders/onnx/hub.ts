import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, rename, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { OmnivecError, invalidArgument, describe } from '../../errors.js';

/**
 * Hugging Face hub ids through a local cache, with the offline switch of docs/encoders.md: a model
 * `owner/name` lives in `$OMNIVEC_CACHE/models/owner--name`; missing files are downloaded from
 * `$HF_ENDPOINT/owner/name/resolve/<revision>/<file>` only when the network is allowed. Every file
 * is streamed to `<file>.part-<pid>`, fsync'd, then renamed into place, so the cache never holds a
 * half file. See docs/remote.md.
 */

export interface HubProgress {
  /** The file being downloaded, relative to the model folder. */
  file: string;
  /** Bytes received so far. */
  loaded: number;
  /** Bytes expected (Content-Length), when the server says. */
  total: number | undefined;
}

export interface ResolveHubOptions {
  /** Files the model cannot do without, e.g. ['config.json', 'tokenizer.json', 'onnx/model.onnx']. */
  files: readonly string[];
  /** Files used when present (a 404 is fine), e.g. tokenizer_config.json, 1_Pooling/config.json. */
  optionalFiles?: readonly string[];
  /** Default `$OMNIVEC_CACHE`, else ~/.cache/omnivec. Models go under `models/owner--name`. */
  cacheDir?: string;
  /** Default `$HF_ENDPOINT`, else https://huggingface.co. */
  endpoint?: string;
  /** Branch, tag or commit. Default 'main'. */
  revision?: string;
  /** Download missing files. Default: `OMNIVEC_ALLOW_NETWORK=1` in the environment. */
  allowNetwork?: boolean;
  /** Bearer token for gated and private models. Default `$HF_TOKEN`. */
  token?: string;
  onProgress?: (progress: HubProgress) => void;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

/** The folder's record of what a download pass found absent, so a later call need not ask again. */
const MANIFEST = '.omnivec-hub.json';

interface Manifest {
  id: string;
  revision: string;
  /** Optional files the server answered 404 for. */
  absent: string[];
}

function checkId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !isHubIdSyntax(id)) {
    throw invalidArgument(`id: expected a hub id "owner/name" (letters, digits, '-', '_', '.'; no "--" or ".."), got ${describe(id)}`);
  }
}

function isHubIdSyntax(s: string): boolean {
  return /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/.test(s) && !s.includes('--') && !s.includes('..') && !/[.-]$/.test(s) && s.length <= 200;
}

/**
 * True when `s` looks like `owner/name` and is not a path that exists (a local folder named like
 * a hub id wins over the hub).
 */
export function isHubId(s: string): boolean {
  return typeof s === 'string' && isHubIdSyntax(s) && !existsSync(s);
}

/** The cache folder of a hub id: `<cacheDir>/models/owner--name` (`…@<revision>` off 'main'). */
export function hubModelFolder(id: string, options: { cacheDir?: string; revision?: string } = {}): string {
  checkId(id);
  const cacheDir = options.cacheDir ?? (process.env.OMNIVEC_CACHE || join(homedir(), '.cache', 'omnivec'));
  const revision = options.revision ?? 'main';
  const name = id.replace('/', '--') + (revision === 'main' ? '' : `@${revision.replace(/[^\w.-]/g, '_')}`);
  return join(cacheDir, 'models', name);
}

function checkFiles(name: string, files: unknown, required: boolean): string[] {
  if (files === undefined && !required) return [];
  if (!Array.isArray(files) || (required && files.length === 0)) {
    throw invalidArgument(`${name}: expected ${required ? 'a non-empty' : 'an'} array of file paths relative to the model folder, got ${describe(files)}`);
  }
  for (const f of files) {
    if (typeof f !== 'string' || f === '' || f.startsWith('/') || f.includes('\\') || f.split('/').some((p) => p === '' || p === '.' || p === '..')) {
      throw invalidArgument(`${name}: expected relative paths such as "onnx/model.onnx" (no "..", no leading "/"), got ${describe(f)}`);
    }
  }
  return files as string[];
}

function readManifest(folder: string, id: string, revision: string): Manifest {
  try {
    const m = JSON.parse(readFileSync(join(folder, MANIFEST), 'utf8')) as Partial<Manifest>;
    if (m.id === id && m.revision === revision && Array.isArray(m.absent)) return { id, revision, absent: m.absent.filter((x) => typeof x === 'string') };
  } catch {
    // absent or unreadable: nothing is known to be absent
  }
  return { id, revision, absent: [] };
}

/**
 * The local folder of hub model `id`, with every file of `files` in it. Files already in the cache
 * are used as they are, without asking the network; missing ones are downloaded only when the
 * network is allowed, else `not_found` names them and how to allow the download.
 */
export async function resolveHubModel(id: string, options: ResolveHubOptions): Promise<string> {
  checkId(id);
  if (options === null || typeof options !== 'object') throw invalidArgument(`options: expected an object with files, got ${describe(options)}`);
  const files = checkFiles('files', options.files, true);
  const optional = checkFiles('optionalFiles', options.optionalFiles, false);
  const revision = options.revision ?? 'main';
  if (typeof revision !== 'string' || revision === '') throw invalidArgument(`revision: expected a branch, tag or commit, got ${describe(revision)}`);
  const folder = hubModelFolder(id, { cacheDir: options.cacheDir, revision });
  const endpoint = (options.endpoint ?? (process.env.HF_ENDPOINT || 'https://huggingface.co')).replace(/\/+$/, '');
  const allowNetwork = options.allowNetwork ?? process.env.OMNIVEC_ALLOW_NETWORK === '1';

  const manifest = readManifest(folder, id, revision);
  const missing = files.filter((f) => !existsSync(join(folder, f)));
  const missingOptional = optional.filter((f) => !existsSync(join(folder, f)) && !manifest.absent.includes(f));
  if (missing.length === 0 && (missingOptional.length === 0 || !allowNetwork)) return folder;
  if (!allowNetwork) {
    throw new OmnivecError(
      'not_found',
      `model ${id}: not in the cache and the network is not allowed: ${folder} lacks ${missing.join(', ')}. ` +
        `To download it from ${endpoint}, pass allowNetwork: true (CLI: --allow-network) or set OMNIVEC_ALLOW_NETWORK=1; ` +
        `or pass the path of a local model folder instead of the hub id`,
      { id, folder, missing },
    );
  }

  const d: DownloadContext = {
    id,
    fetch: options.fetch ?? globalThis.fetch,
    token: options.token ?? (process.env.HF_TOKEN || process.env.HUGGING_FACE_HUB_TOKEN || undefined),
    onProgress: options.onProgress,
    signal: options.signal,
  };
  const url = (f: string): string => `${endpoint}/${id}/resolve/${encodeURIComponent(revision)}/${f.split('/').map(encodeURIComponent).join('/')}`;
  for (const f of missing) {
    if (!(await download(url(f), join(folder, f), f, d))) {
      throw new OmnivecError('not_found', `model ${id}: ${url(f)} answered 404: the repository has no ${f} at revision ${revision} (is this an ONNX export? some keep the graph as model.onnx or onnx/model.onnx)`, { id, url: url(f) });
    }
  }
  let absentChanged = false;
  for (const f of missingOptional) {
    if (!(await download(url(f), join(folder, f), f, d))) {
      manifest.absent.push(f);
      absentChanged = true;
    }
  }
  if (absentChanged) {
    const tmp = join(folder, `${MANIFEST}.part-${process.pid}`);
    await writeFile(tmp, JSON.stringify(manifest, null, 2) + '\n');
    await rename(tmp, join(folder, MANIFEST));
  }
  return folder;
}

interface DownloadContext {
  id: string;
  fetch: typeof fetch;
  token: string | undefined;
  onProgress: ((p: HubProgress) => void) | undefined;
  signal: AbortSignal | undefined;
}

/** Streams URL into DEST through a `.part-<pid>` file; false on 404, throws on other failures. */
async function download(url: string, dest: string, file: string, d: DownloadContext): Promise<boolean> {
  const headers: Record<string, string> = { 'user-agent': 'omnivec' };
  if (d.token !== undefined) headers.authorization = `Bearer ${d.token}`;
  let res: Response;
  try {
    res = await d.fetch(url, { headers, redirect: 'follow', signal: d.signal });
  } catch (e) {
    if (d.signal?.aborted) throw d.signal.reason;
    throw new OmnivecError('encoder_error', `model ${d.id}: downloading ${url} failed: ${errorText(e)}`, { id: d.id, url });
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return false;
  }
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    throw new OmnivecError(
      'not_found',
      `model ${d.id}: ${url} answered ${res.status}: the model is gated or private, or does not exist. ` +
        (d.token === undefined
          ? 'For a gated model, accept its terms on the model page and set HF_TOKEN to an access token'
          : 'The token in HF_TOKEN was refused: check that it is valid and that its account accepted the model\'s terms'),
      { id: d.id, url, status: res.status },
    );
  }
  if (!res.ok || res.body === null) {
    await res.body?.cancel();
    throw new OmnivecError('encoder_error', `model ${d.id}: downloading ${url}: expected 200, got ${res.status} ${res.statusText}`, { id: d.id, url, status: res.status });
  }
  const length = res.headers.get('content-length');
  // With a content-encoding the length counts the compressed bytes, not the ones we write.
  const total = length !== null && res.headers.get('content-encoding') === null ? Number(length) : undefined;
  await mkdir(dirname(dest), { recursive: true });
  const part = `${dest}.part-${process.pid}`;
  const fh = await open(part, 'w');
  let loaded = 0;
  try {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        await fh.write(chunk);
        loaded += chunk.length;
        d.onProgress?.({ file, loaded, total });
      }
      if (total !== undefined && loaded !== total) throw new Error(`the body ended after ${loaded} of ${total} bytes`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(part, dest);
  } catch (e) {
    await unlink(part).catch(() => undefined);
    if (d.signal?.aborted) throw d.signal.reason;
    throw new OmnivecError('encoder_error', `model ${d.id}: downloading ${url} was interrupted after ${loaded}${total !== undefined ? ` of ${total}` : ''} bytes (${errorText(e)}); nothing was kept, run again to retry`, { id: d.id, url });
  }
  return true;
}

function errorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as { cause?: unknown }).cause;
  return cause instanceof Error ? `${e.message}: ${cause.message}` : e.message;
}
