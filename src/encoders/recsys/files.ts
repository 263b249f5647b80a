/**
 * A deep recommender on disk: a folder with `recsys.json` (format, version, kind, shapes, items
 * and counts, feature schemas, the byte layout and a checksum of the weights) and `weights.f32`
 * (every parameter block, little-endian float32, one after the other). `omnivec train youtube-dnn
 * | two-tower --into C` writes it to `DIR/models/<spec name>/` (docs/recommenders.md#files).
 * Unknown versions and a weights file of the wrong size or checksum are refused.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OmnivecError } from '../../errors.js';
import { fmix32 } from '../../vector/random.js';
import type { Vocabulary } from './data.js';
import type { FeatureSchema, FeatureTable } from './features.js';
import { Mlp } from './mlp.js';
import type { RecsysKind, RecsysModel } from './model.js';
import { UserTower, type UserTowerShape } from './user-tower.js';
import { YoutubeDnnModel } from '../youtube-dnn/train.js';
import { TwoTowerModel } from '../two-tower/train.js';

export const RECSYS_FORMAT = 'omnivec-recsys';
export const RECSYS_VERSION = 1;

interface Block { name: string; offset: number; length: number }
interface FeaturesJson { schema: FeatureSchema; ids: string[] }

interface RecsysJson {
  format: string;
  version: number;
  kind: RecsysKind;
  dim: number;
  shape: UserTowerShape;
  /** Item tower layer widths (two-tower). */
  itemSizes?: number[];
  /** Two-tower: one item table for both towers, the id embedding added to the item vector. */
  tied?: boolean;
  items: string[];
  counts: number[];
  userFeatures: FeaturesJson | null;
  itemFeatures: FeaturesJson | null;
  blocks: Block[];
  bytes: number;
  checksum: number;
  fingerprint: string;
}

/** A 32-bit checksum of the bytes (fmix32 over little-endian words, then the length). */
export function checksum(bytes: Uint8Array): number {
  let h = 0x9747b28c;
  const n4 = bytes.length & ~3;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n4; i += 4) h = fmix32((h ^ dv.getUint32(i, true)) + i);
  for (let i = n4; i < bytes.length; i++) h = fmix32(h ^ bytes[i]!);
  return fmix32(h ^ bytes.length);
}

const featuresJson = (t: FeatureTable | null): FeaturesJson | null => (t === null ? null : { schema: t.schema, ids: [...t.rows.keys()] });

function blocksOf(m: RecsysModel): [string, Float32Array][] {
  const out: [string, Float32Array][] = [['userTower', m.tower.mlp.params]];
  if (m instanceof YoutubeDnnModel) {
    out.push(['output', m.output]);
    if (m.tower.embed !== m.output) out.push(['embed', m.tower.embed]);
  } else if (m instanceof TwoTowerModel) {
    if (!m.tied) out.push(['embed', m.tower.embed]);
    out.push(['idEmbed', m.idEmbed], ['itemTower', m.itemTower.params]);
    if (m.itemFeatures !== null) out.push(['itemFeatures', m.itemFeatures.data]);
  }
  if (m.userFeatures !== null) out.push(['userFeatures', m.userFeatures.data]);
  return out;
}

/** Writes the model folder (created if needed); the weights go through a temporary file and a rename. */
export async function saveRecsys(m: RecsysModel, dir: string): Promise<{ fingerprint: string }> {
  const blocks: Block[] = [];
  let offset = 0;
  const parts = blocksOf(m);
  for (const [name, a] of parts) { blocks.push({ name, offset, length: a.length }); offset += a.length; }
  const all = new Float32Array(offset);
  for (const [i, [, a]] of parts.entries()) all.set(a, blocks[i]!.offset);
  const bytes = new Uint8Array(all.buffer);
  const sum = checksum(bytes);
  const fingerprint = sum.toString(16).padStart(8, '0') + fmix32(m.vocab.items.length ^ sum).toString(16).padStart(8, '0');
  const json: RecsysJson = {
    format: RECSYS_FORMAT, version: RECSYS_VERSION, kind: m.kind, dim: m.dim, shape: m.tower.shape,
    ...(m instanceof TwoTowerModel ? { itemSizes: m.itemTower.sizes.slice(), tied: m.tied } : {}),
    items: m.vocab.items, counts: Array.from(m.vocab.counts),
    userFeatures: featuresJson(m.userFeatures), itemFeatures: m instanceof TwoTowerModel ? featuresJson(m.itemFeatures) : null,
    blocks, bytes: bytes.length, checksum: sum, fingerprint,
  };
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'weights.f32.tmp'), bytes);
  await rename(join(dir, 'weights.f32.tmp'), join(dir, 'weights.f32'));
  await writeFile(join(dir, 'recsys.json'), JSON.stringify(json));
  return { fingerprint };
}

function corrupt(path: string, what: string): OmnivecError {
  return new OmnivecError('corrupt_file', `${path}: ${what}`, { path });
}

/** Reads a model folder written by `saveRecsys`. */
export async function loadRecsys(dir: string): Promise<YoutubeDnnModel | TwoTowerModel> {
  const jp = join(dir, 'recsys.json');
  let j: RecsysJson;
  try {
    j = JSON.parse(await readFile(jp, 'utf8')) as RecsysJson;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new OmnivecError('not_found', `${jp}: no such file (expected a model folder written by omnivec train youtube-dnn | two-tower)`, { path: jp });
    if (e instanceof SyntaxError) throw corrupt(jp, `expected JSON, got ${e.message}`);
    throw e;
  }
  if (j.format !== RECSYS_FORMAT) throw corrupt(jp, `expected format ${JSON.stringify(RECSYS_FORMAT)}, got ${JSON.stringify(j.format)}`);
  if (j.version !== RECSYS_VERSION) throw new OmnivecError('unsupported_version', `${jp}: version ${String(j.version)}; this omnivec reads version ${RECSYS_VERSION}`, { path: jp });
  const wp = join(dir, 'weights.f32');
  const buf = await readFile(wp);
  if (buf.length !== j.bytes) throw corrupt(wp, `expected ${j.bytes} bytes, got ${buf.length}`);
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  if (checksum(bytes) !== j.checksum) throw corrupt(wp, 'checksum mismatch (the file was changed or cut short)');
  const all = new Float32Array(bytes.slice().buffer);
  const block = (name: string): Float32Array | undefined => {
    const b = j.blocks.find((x) => x.name === name);
    return b === undefined ? undefined : all.subarray(b.offset, b.offset + b.length);
  };
  const vocab: Vocabulary = { items: j.items, index: new Map(j.items.map((it, i) => [it, i])), counts: Float64Array.from(j.counts) };
  const table = (f: FeaturesJson | null, name: string): FeatureTable | null => {
    if (f === null) return null;
    const data = block(name);
    if (data === undefined) throw corrupt(jp, `the ${name} block is missing`);
    return { schema: f.schema, rows: new Map(f.ids.map((id, i) => [id, i])), data, skipped: [] };
  };
  const userFeatures = table(j.userFeatures, 'userFeatures');
  const output = block('output');
  const idEmbed = block('idEmbed');
  const shared = j.tied === true ? idEmbed?.subarray(0, j.items.length * j.shape.embeddingDim) : output;
  const tower = new UserTower(j.shape, 1, block('embed') ?? shared, block('userTower'));
  if (j.kind === 'youtube-dnn') {
    if (output === undefined) throw corrupt(jp, 'the output block is missing');
    return new YoutubeDnnModel(vocab, tower, userFeatures, output);
  }
  if (j.kind === 'two-tower') {
    if (idEmbed === undefined || j.itemSizes === undefined) throw corrupt(jp, 'the item tower is missing');
    return new TwoTowerModel(vocab, tower, userFeatures, idEmbed, new Mlp(j.itemSizes, 1, block('itemTower')), table(j.itemFeatures, 'itemFeatures'), j.tied === true);
  }
  throw corrupt(jp, `expected kind youtube-dnn or two-tower, got ${JSON.stringify(j.kind)}`);
}
