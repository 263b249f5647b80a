/**
 * Imports flow one way (docs/architecture.md, "Layers"): a module imports only from its own folder,
 * from a lower layer, or from the few same-layer folders listed below. An upward import — a layer
 * reaching into one that builds on it — fails here, naming the file, the line and the rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';

const SRC = join(import.meta.dirname, '..', 'src');

/** Each top-level part of src/ (a folder, or a file at the root) and its layer: lower layers never import higher ones. */
export const LAYERS: Record<string, number> = {
  errors: 0,
  checks: 1,
  vector: 2, workers: 2, parallel: 2,
  storage: 3, io: 3, indexes: 3, encoders: 3,
  db: 4,
  tasks: 5, viz: 5,
  server: 6, cli: 6,
  index: 7,
};

/** Same-layer imports that are allowed (importer > imported). Everything else on one layer is kept apart: indexes and encoders never import each other. */
const SIDEWAYS = new Set(['parallel>workers', 'indexes>storage', 'io>storage', 'encoders>storage', 'encoders>io', 'viz>tasks']);

/** The only files of src/server/ the CLI may import: the server's entry point (for `serve` and `demo`). */
const SERVER_ENTRY = new Set(['server/index.ts']);

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'assembly') sources(p, out);
    } else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.generated.ts')) {
      out.push(p);
    }
  }
  return out;
}

/** `vector`, `db`, … for a path under src/ (`index` for src/index.ts, `errors` for src/errors.ts). */
function part(rel: string): string {
  const first = rel.split(sep)[0]!;
  return first.endsWith('.ts') ? first.slice(0, -3) : first;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

export function violations(): string[] {
  const out: string[] = [];
  for (const file of sources(SRC)) {
    const rel = relative(SRC, file);
    const from = part(rel);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2]!;
      const target = relative(SRC, normalize(join(dirname(file), spec))).replace(/\.js$/, '.ts');
      if (target.startsWith('..')) continue;
      const to = part(target);
      if (to === from) continue;
      const line = text.slice(0, m.index).split('\n').length + (m[0].startsWith('\n') ? 1 : 0);
      const where = `src/${rel}:${line} imports ${spec}`;
      if (!(from in LAYERS)) { out.push(`${where}: src/${from} has no layer in test/imports.test.ts (add it to LAYERS and docs/architecture.md)`); continue; }
      if (!(to in LAYERS)) { out.push(`${where}: src/${to} has no layer in test/imports.test.ts`); continue; }
      if (from === 'cli' && to === 'server' && !SERVER_ENTRY.has(target.split(sep).join('/'))) {
        out.push(`${where}: the CLI takes the server through its entry point only (src/server/index.ts)`);
        continue;
      }
      const a = LAYERS[from]!;
      const b = LAYERS[to]!;
      if (b < a || SIDEWAYS.has(`${from}>${to}`) || (from === 'cli' && to === 'server')) continue;
      out.push(`${where}: ${from} (layer ${a}) may not import ${to} (layer ${b})${a === b ? ', a folder of its own layer' : ', a layer above it'}`);
    }
  }
  return out;
}

test('imports flow one way: no module imports a higher layer or a same-layer folder it is kept apart from', () => {
  const found = violations();
  assert.deepEqual(found, [], `upward or sideways imports:\n${found.join('\n')}`);
});

test('the check sees an upward import (it can fail)', () => {
  // The rules applied to made-up edges: a store importing the server, an index importing an encoder.
  const up = (from: string, to: string): boolean => !(LAYERS[to]! < LAYERS[from]! || SIDEWAYS.has(`${from}>${to}`) || from === to);
  assert.equal(up('db', 'server'), true);
  assert.equal(up('indexes', 'encoders'), true);
  assert.equal(up('vector', 'db'), true);
  assert.equal(up('server', 'db'), false);
  assert.equal(up('viz', 'tasks'), false);
});
