/**
 * A small collection for the explorer's tests: synthetic sentences on four topics, embedded by a
 * tiny ONNX text model (writeTinyTextModel: mean of word rows) whose words cluster by topic, so the
 * map shows four groups and a text query finds its topic. Everything is built offline, seeded.
 *
 *   writeTopicModel(dir): the model folder (lower-casing, mean pooling, dim 16).
 *   topicRecords(count, seed): { ids, documents, metadatas } with metadatas { topic, words, n }.
 *   createTopicCollection(dbDir, modelDir, options): opens the model as encoder `name` (default
 *     'tiny'), creates the collection bound to it and adds the records' vectors; closes both.
 */
import { openEncoder } from '../../src/encoders/registry.js';
import { openDatabase } from '../../src/db/database.js';
import { Random } from '../../src/vector/random.js';
import { writeTinyTextModel } from './onnx-build.js';

export const TOPICS: Readonly<Record<string, readonly string[]>> = {
  space: ['planet', 'orbit', 'rocket', 'star', 'galaxy', 'moon', 'comet', 'telescope', 'astronaut', 'nebula', 'launch', 'satellite'],
  cooking: ['recipe', 'oven', 'garlic', 'butter', 'simmer', 'onion', 'flour', 'pasta', 'sauce', 'bake', 'pepper', 'kitchen'],
  football: ['goal', 'striker', 'referee', 'penalty', 'league', 'keeper', 'match', 'stadium', 'defender', 'corner', 'coach', 'season'],
  music: ['guitar', 'chord', 'melody', 'drummer', 'concert', 'album', 'piano', 'rhythm', 'singer', 'violin', 'tempo', 'band'],
};
const FILLERS = ['the', 'a', 'with', 'and', 'of', 'in', 'on', 'about', 'new', 'old', 'great', 'small', 'every', 'night'];
export const TOPIC_NAMES = Object.keys(TOPICS);
export const MODEL_DIM = 16;

/** The model folder: a topic's words near its own random direction, fillers near the origin. */
export async function writeTopicModel(dir: string, seed = 7): Promise<string> {
  const rng = new Random(seed);
  const gauss = (): number => rng.gaussian();
  const vocab: string[] = [];
  const rows: number[] = [];
  for (const words of Object.values(TOPICS)) {
    const centre = Array.from({ length: MODEL_DIM }, gauss);
    for (const w of words) {
      vocab.push(w);
      for (let j = 0; j < MODEL_DIM; j++) rows.push(centre[j]! + 0.45 * gauss());
    }
  }
  for (const w of FILLERS) {
    vocab.push(w);
    for (let j = 0; j < MODEL_DIM; j++) rows.push(0.2 * gauss());
  }
  await writeTinyTextModel(dir, { vocab, dim: MODEL_DIM, vectors: Float32Array.from(rows), lowercase: true, pooling: 'mean' });
  return dir;
}

export interface TopicRecords {
  ids: string[];
  documents: string[];
  metadatas: { topic: string; words: number; n: number }[];
}

/** `count` sentences, topics in turn: 4–6 topic words and 2–3 fillers in a seeded order. */
export function topicRecords(count: number, seed = 11): TopicRecords {
  const rng = new Random(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rng.next() * a.length)]!;
  const out: TopicRecords = { ids: [], documents: [], metadatas: [] };
  for (let i = 0; i < count; i++) {
    const topic = TOPIC_NAMES[i % TOPIC_NAMES.length]!;
    const words: string[] = [];
    const nTopic = 4 + Math.floor(rng.next() * 3), nFill = 2 + Math.floor(rng.next() * 2);
    for (let j = 0; j < nTopic; j++) words.push(pick(TOPICS[topic]!));
    for (let j = 0; j < nFill; j++) words.splice(Math.floor(rng.next() * (words.length + 1)), 0, pick(FILLERS));
    const text = `${words.join(' ')}.`;
    out.ids.push(`doc-${String(i).padStart(4, '0')}`);
    out.documents.push(text[0]!.toUpperCase() + text.slice(1));
    out.metadatas.push({ topic, words: words.length, n: i });
  }
  return out;
}

export async function createTopicCollection(dbDir: string, modelDir: string, options: { name?: string; collection?: string; count?: number } = {}): Promise<TopicRecords> {
  const name = options.name ?? 'tiny';
  const records = topicRecords(options.count ?? 400);
  const text = await openEncoder(modelDir, { threads: 1, modality: 'text' }, { name });
  const db = await openDatabase(dbDir);
  try {
    const c = await db.createCollection({ name: options.collection ?? 'topics', dim: text.dim, encoder: text.spec });
    const vectors = await text.encode(records.documents, { mode: 'passage' });
    await c.add({ ids: records.ids, vectors, documents: records.documents, metadatas: records.metadatas });
  } finally {
    await db.close();
    await text.close();
  }
  return records;
}
