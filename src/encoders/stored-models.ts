import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { findOnnxFile } from './onnx/model-folder.js';

/**
 * Models kept inside a database folder, `DIR/models/<folder>/` (docs/server.md, "Served
 * encoders"): a SIF model written by `omnivec train sif --into`, or a model folder copied there.
 * The folder's name is the model's spec name made file-safe, so a collection bound to the spec
 * finds its model by name alone.
 */

export const MODELS_DIR = 'models';

/** `sif:ab12…` → `sif--ab12…`, `BAAI/bge-small-en` → `BAAI--bge-small-en`; other unsafe characters → `_`. */
export function safeModelName(model: string): string {
  const s = model.replace(/[/\\:]/g, '--').replace(/[^A-Za-z0-9._@+=-]/g, '_');
  // '.' and '..' are not folder names one can own.
  return /^\.+$/.test(s) ? s.replace(/\./g, '_') : s;
}

/** The folder a model named `model` is stored in, inside the database folder `dbDir`. */
export function storedModelDir(dbDir: string, model: string): string {
  return join(dbDir, MODELS_DIR, safeModelName(model));
}

export interface StoredModel {
  /** The name it is served under: a SIF model's spec name (`sif:<fingerprint>`), else the folder's name. */
  name: string;
  kind: 'sif' | 'folder';
  dir: string;
  /** Unix seconds: the folder's modification time. */
  created: number;
}

/**
 * The models under `DIR/models/`, sorted by folder name. A folder that holds neither sif.json nor
 * an ONNX graph is skipped; a sif.json that does not parse is skipped too (opening it reports why).
 */
export function listStoredModels(dbDir: string): StoredModel[] {
  const root = join(dbDir, MODELS_DIR);
  if (!existsSync(root)) return [];
  const out: StoredModel[] = [];
  for (const e of readdirSync(root, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const dir = join(root, e.name);
    const created = Math.floor(statSync(dir).mtimeMs / 1000);
    const sif = join(dir, 'sif.json');
    if (existsSync(sif)) {
      try {
        const j = JSON.parse(readFileSync(sif, 'utf8')) as { kind?: unknown; fingerprint?: unknown };
        if ((j.kind === 'sif' || j.kind === 'average') && typeof j.fingerprint === 'string') {
          out.push({ name: `${j.kind}:${j.fingerprint}`, kind: 'sif', dir, created });
        }
      } catch {
        // unreadable: not listed; `omnivec train sif --into` rewrites it
      }
      continue;
    }
    if (findOnnxFile(dir) !== undefined || existsSync(join(dir, 'onnx', 'text_model.onnx')) || existsSync(join(dir, 'text_model.onnx'))) {
      out.push({ name: e.name, kind: 'folder', dir, created });
    }
  }
  return out;
}
