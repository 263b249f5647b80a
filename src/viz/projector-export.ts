/**
 * A map for TensorFlow's Embedding Projector (projector.tensorflow.org, TensorBoard's projector
 * plugin) with our coordinates, so the Projector shows the same map instead of computing its own:
 *
 * - `vectors.tsv`, `metadata.tsv`: as `omnivec export --format projector` (`src/io/projector.ts`),
 *   plus the coordinates as the columns `<method>-0`, `<method>-1` (other tools read them there);
 * - `bookmarks.json`: one Projector "State" (the bookmark format the Projector saves and loads)
 *   holding each point's coordinates under the same keys, the selected projection (`pca`, `tsne`,
 *   `umap`, 2-D) and the colour-by column;
 * - `projector_config.json` (the standalone Projector's config: `tensorPath`, `metadataPath`,
 *   `bookmarksPath`, `tensorShape`) and `projector_config.pbtxt` (the same for TensorBoard).
 *
 * Field names follow the Projector's `ProjectorConfig` (projector_config.proto, camelCase in its
 * JSON form) and its `State` class (vz_projector/data.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidArgument } from '../errors.js';
import { formatFloat32, type ImportRecord } from '../io/common.js';
import { writeProjector } from '../io/projector.js';
import type { ProjectionMethod } from './projection.js';

export interface ProjectorMapOptions {
  ids: readonly string[];
  vectors: readonly Float32Array[];
  /** [x0, y0, x1, y1, …] */
  points: Float32Array | readonly number[];
  method: ProjectionMethod;
  documents?: readonly (string | null)[];
  metadatas?: readonly (Record<string, unknown> | null)[];
  /** The metadata column the bookmark colours by. */
  colorBy?: string;
  /** The bookmark's label and the tensor's name. */
  name?: string;
}

export const PROJECTOR_FILES = {
  vectors: 'vectors.tsv', metadata: 'metadata.tsv', bookmarks: 'bookmarks.json', config: 'projector_config.json', pbtxt: 'projector_config.pbtxt',
} as const;

/** Column names our projector writer keeps for itself. */
const RESERVED = new Set(['id', 'document', 'text']);

export function coordinateColumns(method: ProjectionMethod): [string, string] {
  return [`${method}-0`, `${method}-1`];
}

/** Writes the five files into `dir` (created); returns their paths. */
export async function writeProjectorMap(dir: string, o: ProjectorMapOptions): Promise<string[]> {
  const n = o.ids.length;
  if (n === 0) throw invalidArgument('ids: expected at least one record');
  if (o.vectors.length !== n || o.points.length !== 2 * n) {
    throw invalidArgument(`vectors and points: expected ${n} vectors and ${2 * n} coordinates (one pair per id), got ${o.vectors.length} and ${o.points.length}`);
  }
  const dim = o.vectors[0]!.length;
  const [c0, c1] = coordinateColumns(o.method);
  const coord = (i: number): number => Number(formatFloat32(o.points[i]!));
  // Every metadata field any record has (first seen first), then the coordinates.
  const fields: string[] = [];
  const seen = new Set<string>([c0, c1]);
  for (const m of o.metadatas ?? []) {
    for (const k of Object.keys(m ?? {})) {
      if (!seen.has(k) && !RESERVED.has(k.toLowerCase()) && k !== '') { seen.add(k); fields.push(k); }
    }
  }
  fields.push(c0, c1);
  const records: ImportRecord[] = o.ids.map((id, i) => {
    const rec: ImportRecord = { id, vector: o.vectors[i]!, metadata: { ...(o.metadatas?.[i] ?? {}), [c0]: coord(2 * i), [c1]: coord(2 * i + 1) } };
    const d = o.documents?.[i];
    if (d !== null && d !== undefined) rec.document = d;
    return rec;
  });
  await mkdir(dir, { recursive: true });
  const path = (f: string): string => join(dir, f);
  await writeProjector(path(PROJECTOR_FILES.vectors), path(PROJECTOR_FILES.metadata), records,
    { fields, document: o.documents?.some((d) => d !== null && d !== undefined) ?? false });

  const name = o.name ?? 'omnivec';
  const state = {
    label: `${name}: ${o.method} (omnivec)`,
    isSelected: true,
    selectedProjection: o.method,
    dataSetDimensions: [n, dim],
    tSNEIteration: o.method === 'tsne' ? 500 : 0,
    tSNEPerplexity: 30,
    tSNELearningRate: 10,
    tSNEis3d: false,
    umapIs3d: false,
    umapNeighbors: 15,
    umapMinDist: 0.1,
    pcaComponentDimensions: [0, 1],
    projections: o.ids.map((_, i) => ({ [c0]: coord(2 * i), [c1]: coord(2 * i + 1) })),
    selectedPoints: [],
    // null: the Projector places its camera to fit the points.
    cameraDef: null,
    ...(o.colorBy !== undefined ? { selectedColorOptionName: o.colorBy, forceCategoricalColoring: false } : {}),
    selectedLabelOption: 'id',
  };
  await writeFile(path(PROJECTOR_FILES.bookmarks), JSON.stringify([state]));
  const embedding = {
    tensorName: name, tensorShape: [n, dim], tensorPath: PROJECTOR_FILES.vectors,
    metadataPath: PROJECTOR_FILES.metadata, bookmarksPath: PROJECTOR_FILES.bookmarks,
  };
  await writeFile(path(PROJECTOR_FILES.config), JSON.stringify({ embeddings: [embedding] }, null, 2) + '\n');
  const q = (s: string): string => JSON.stringify(s);
  await writeFile(path(PROJECTOR_FILES.pbtxt), [
    'embeddings {',
    `  tensor_name: ${q(name)}`,
    `  tensor_path: ${q(PROJECTOR_FILES.vectors)}`,
    `  metadata_path: ${q(PROJECTOR_FILES.metadata)}`,
    `  bookmarks_path: ${q(PROJECTOR_FILES.bookmarks)}`,
    `  tensor_shape: ${n}`,
    `  tensor_shape: ${dim}`,
    '}', '',
  ].join('\n'));
  return Object.values(PROJECTOR_FILES).map(path);
}
