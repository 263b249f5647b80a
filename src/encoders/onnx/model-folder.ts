import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { OmnivecError } from '../../errors.js';
import { isHubId, resolveHubModel } from './hub.js';

/**
 * A Hugging Face style model folder, read once: the JSON files that describe the model, the ONNX
 * graph to run, and omnivec.json (our spec) when present. See docs/encoders.md, "Model folders".
 */
export interface ModelFolder {
  dir: string;
  /** A short name for specs and messages: the folder's name (or the hub id). */
  name: string;
  onnxFile: string;
  config: Record<string, unknown> | undefined;
  tokenizerJson: Record<string, unknown> | undefined;
  tokenizerConfig: Record<string, unknown> | undefined;
  specialTokensMap: Record<string, unknown> | undefined;
  preprocessorConfig: Record<string, unknown> | undefined;
  /** sentence-transformers' 1_Pooling/config.json. */
  poolingConfig: Record<string, unknown> | undefined;
  /** sentence-transformers' modules.json (tells whether a Normalize module follows). */
  modules: unknown[] | undefined;
  omnivec: Record<string, unknown> | undefined;
}

export interface OpenFolderOptions {
  /** The graph to run, relative to the folder (default: onnx/model.onnx, model.onnx, or the only .onnx file). */
  file?: string;
  /** Files that must be there (beyond the graph), e.g. ['tokenizer.json'] for a text model. */
  require?: readonly string[];
  /** The name to report (a hub id), default the folder name. */
  name?: string;
}

function readJson(dir: string, file: string): Record<string, unknown> | undefined {
  const p = join(dir, file);
  if (!existsSync(p)) return undefined;
  let text: string;
  try {
    text = readFileSync(p, 'utf8');
  } catch (e) {
    throw new OmnivecError('corrupt_file', `${p}: cannot be read (${(e as Error).message})`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== 'object') throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new OmnivecError('corrupt_file', `${p}: expected a JSON object, ${(e as Error).message}`);
  }
}

/** The ONNX graph of a folder: the named file, else onnx/model.onnx, model.onnx, or the only .onnx file. */
export function findOnnxFile(dir: string, file?: string): string | undefined {
  if (file !== undefined) {
    const p = resolve(dir, file);
    return existsSync(p) ? p : undefined;
  }
  for (const f of ['onnx/model.onnx', 'model.onnx']) if (existsSync(join(dir, f))) return join(dir, f);
  for (const sub of ['onnx', '.']) {
    const d = join(dir, sub);
    if (!existsSync(d)) continue;
    const found = readdirSync(d).filter((f) => f.endsWith('.onnx'));
    if (found.length === 1) return join(d, found[0]!);
  }
  return undefined;
}

/** Reads a model folder (or a bare .onnx file). Missing files → not_found naming all of them. */
export function openModelFolder(model: string, options: OpenFolderOptions = {}): ModelFolder {
  const path = resolve(model);
  if (!existsSync(path)) {
    throw new OmnivecError('not_found', `model ${model} not found: expected a model folder (config.json, tokenizer.json, onnx/model.onnx …) or an .onnx file`);
  }
  if (statSync(path).isFile()) {
    if (!path.endsWith('.onnx')) throw new OmnivecError('invalid_argument', `model ${model}: expected a folder or an .onnx file, got a ${basename(path)} file`);
    return {
      dir: resolve(path, '..'), name: options.name ?? basename(path, '.onnx'), onnxFile: path, config: undefined, tokenizerJson: undefined,
      tokenizerConfig: undefined, specialTokensMap: undefined, preprocessorConfig: undefined, poolingConfig: undefined, modules: undefined, omnivec: undefined,
    };
  }
  const dir = path;
  const onnxFile = findOnnxFile(dir, options.file);
  const missing: string[] = [];
  if (onnxFile === undefined) missing.push(options.file ?? 'onnx/model.onnx (or model.onnx)');
  for (const f of options.require ?? []) if (!existsSync(join(dir, f))) missing.push(f);
  if (missing.length > 0) {
    throw new OmnivecError('not_found', `model folder ${dir} is missing ${missing.join(', ')}`, { missing });
  }
  const modules = readJsonArray(dir, 'modules.json');
  return {
    dir,
    name: options.name ?? basename(dir),
    onnxFile: onnxFile!,
    config: readJson(dir, 'config.json'),
    tokenizerJson: readJson(dir, 'tokenizer.json'),
    tokenizerConfig: readJson(dir, 'tokenizer_config.json'),
    specialTokensMap: readJson(dir, 'special_tokens_map.json'),
    preprocessorConfig: readJson(dir, 'preprocessor_config.json'),
    poolingConfig: readJson(dir, '1_Pooling/config.json'),
    modules,
    omnivec: readJson(dir, 'omnivec.json'),
  };
}

function readJsonArray(dir: string, file: string): unknown[] | undefined {
  const p = join(dir, file);
  if (!existsSync(p)) return undefined;
  try {
    const v = JSON.parse(readFileSync(p, 'utf8')) as unknown;
    return Array.isArray(v) ? v : undefined;
  } catch (e) {
    throw new OmnivecError('corrupt_file', `${p}: expected a JSON array, ${(e as Error).message}`);
  }
}

/** Files fetched for a hub model when present (a 404 is fine). */
export const HUB_OPTIONAL_FILES: readonly string[] = [
  'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'preprocessor_config.json', '1_Pooling/config.json',
  'modules.json', 'omnivec.json', 'onnx/model.onnx', 'onnx/model.onnx_data', 'onnx/text_model.onnx', 'onnx/vision_model.onnx', 'vocab.json', 'merges.txt',
  'sparse_linear.safetensors', 'colbert_linear.safetensors',
];

export interface LocateOptions {
  /** Download a hub model's missing files into the cache (default: OMNIVEC_ALLOW_NETWORK=1). */
  allowNetwork?: boolean;
  /** Files a hub model must have (default config.json). */
  files?: readonly string[];
  cacheDir?: string;
  endpoint?: string;
  revision?: string;
}

/**
 * A model argument → a local path: an existing folder or file as it is; an `owner/name` hub id →
 * its cache folder, filled from the hub only when the network is allowed (docs/encoders.md).
 */
export async function locateModel(model: string, options: LocateOptions = {}): Promise<{ path: string; name: string }> {
  if (typeof model !== 'string' || model === '') throw new OmnivecError('invalid_argument', `model: expected a folder path or a hub id, got ${JSON.stringify(model)}`);
  const path = resolve(model);
  if (existsSync(path)) return { path, name: basename(path).replace(/\.onnx$/, '') };
  // Clearly a path (./x, ../x, /x, ~/x, C:\x, a/b/c): say it does not exist, not that a hub id is not cached.
  if (/^[.~/\\]/.test(model) || isAbsolute(model) || model.split(/[/\\]/).length > 2) {
    throw new OmnivecError('not_found', `model ${model.endsWith('.onnx') ? 'file' : 'folder'} ${model} does not exist${isAbsolute(model) ? '' : ` (${path})`}`, { path });
  }
  if (isHubId(model)) {
    try {
      const dir = await resolveHubModel(model, {
        files: options.files ?? ['config.json'], optionalFiles: HUB_OPTIONAL_FILES, allowNetwork: options.allowNetwork,
        cacheDir: options.cacheDir, endpoint: options.endpoint, revision: options.revision,
      });
      return { path: dir, name: model };
    } catch (e) {
      // owner/name is also a relative path: say that no such folder exists either.
      if (e instanceof OmnivecError && e.code === 'not_found' && e.details?.missing !== undefined) {
        throw new OmnivecError('not_found', `model ${model}: no folder ${path}, and as a hub id: ${e.message.replace(/^model [^:]*: /, '')}`, e.details);
      }
      throw e;
    }
  }
  throw new OmnivecError('not_found', `model ${model} not found: expected a model folder (config.json, tokenizer.json or preprocessor_config.json, onnx/model.onnx), an .onnx file, or a hub id owner/name`);
}
