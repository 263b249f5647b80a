/**
 * The Chroma face's catalogue (docs/chroma.md, "Ids, names and collection metadata"): what
 * Chroma has and omnivec's collections lack — a UUID, a Chroma name that a rename can change,
 * collection metadata, the configuration as the client sent it, and collections that exist in
 * Chroma's eyes before their first record fixes the dimension ("pending"). Kept in one small JSON
 * file beside the database (`<filesDir>/chroma/catalogue.json`), written atomically; the records
 * stay in the database's own collections.
 *
 * An omnivec collection without an entry gets an id derived from its storage name and creation
 * time, so it is stable without writing anything (read-only databases included); an entry made for
 * it later (rename, metadata) takes that same id.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OmnivecError } from '../../errors.js';
import { writeFileAtomic } from '../../storage/atomic.js';
import { Mutex } from '../../db/mutex.js';
import type { Database } from '../../db/database.js';
import type { Collection } from '../../db/collection.js';
import type { Metric } from '../../vector/metric.js';

export const DEFAULT_TENANT = 'default_tenant';
export const DEFAULT_DATABASE = 'default_database';

const KIND = 'omnivec-chroma-catalogue';
const VERSION = 1;

export type ChromaMetadata = Record<string, unknown>;

/** One catalogue entry (the file's `collections[]`). */
export interface CatalogueEntry {
  /** Chroma's collection id (a UUID). */
  id: string;
  /** Chroma's name (a rename changes this only). */
  name: string;
  /** The omnivec collection's name. */
  storage: string;
  /** The omnivec collection's creation time; null while pending (no record yet, so no dimension). */
  created: string | null;
  metadata: ChromaMetadata | null;
  /** The `configuration` as the client sent it (returned as `configuration_json`). */
  configuration: Record<string, unknown>;
  /** What the omnivec collection is created with when the first record comes. */
  metric: Metric;
  index: Record<string, unknown> | string;
  /** When the entry was made (the order of pending collections in a listing). */
  added: string;
}

interface CatalogueFile {
  kind: typeof KIND;
  version: number;
  collections: CatalogueEntry[];
}

/** A collection as the Chroma routes see it: its entry (real or derived) and its records, if any. */
export interface ChromaCollection {
  entry: CatalogueEntry;
  /** Absent while pending. */
  collection: Collection | undefined;
}

/** A version-4-shaped UUID from SHA-256 of the storage name and creation time. */
export function derivedId(storage: string, created: string): string {
  const h = createHash('sha256').update(`omnivec-collection\0${storage}\0${created}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x40;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(s: string): boolean {
  return UUID.test(s);
}

export class ChromaCatalogue {
  readonly #db: Database;
  readonly #path: string;
  readonly #mutex = new Mutex();
  #entries: CatalogueEntry[] = [];
  /** mtime of the file last read (a read-only server follows the writer's file). */
  #mtime = -1;
  #loaded = false;

  constructor(db: Database) {
    this.#db = db;
    this.#path = join(db.filesDir, 'chroma', 'catalogue.json');
  }

  get path(): string {
    return this.#path;
  }

  async #load(): Promise<void> {
    // A writer's server is the only one that writes the file: once read, its copy is the truth.
    // A read-only server follows the writer's file (one stat per look-up).
    if (this.#loaded && !this.#db.readOnly) return;
    let mtime: number;
    try {
      mtime = (await stat(this.#path)).mtimeMs;
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') { this.#entries = []; this.#mtime = -1; this.#loaded = true; return; }
      throw e;
    }
    if (mtime === this.#mtime) return;
    const text = await readFile(this.#path, 'utf8');
    let file: CatalogueFile;
    try {
      file = JSON.parse(text) as CatalogueFile;
    } catch {
      throw new OmnivecError('corrupt_file', `${this.#path}: expected the Chroma catalogue as JSON, got text that does not parse`);
    }
    if (file === null || typeof file !== 'object' || file.kind !== KIND || !Array.isArray(file.collections)) {
      throw new OmnivecError('corrupt_file', `${this.#path}: expected { kind: "${KIND}", version, collections }, got another shape`);
    }
    if (file.version !== VERSION) {
      throw new OmnivecError('unsupported_version', `${this.#path}: Chroma catalogue version ${String(file.version)}; this omnivec reads version ${VERSION}`);
    }
    this.#entries = file.collections;
    this.#mtime = mtime;
    this.#loaded = true;
  }

  /** Writes the entries, less the stale ones (their collection dropped or re-created). */
  async #save(): Promise<void> {
    if (this.#db.readOnly) throw new OmnivecError('read_only', `database ${this.#db.dir}: open read-only; the Chroma catalogue cannot change`);
    const live: CatalogueEntry[] = [];
    for (const e of this.#entries) if (await this.#collectionOf(e) !== null) live.push(e);
    this.#entries = live;
    const file: CatalogueFile = { kind: KIND, version: VERSION, collections: live };
    await mkdir(join(this.#db.filesDir, 'chroma'), { recursive: true });
    await writeFileAtomic(this.#path, [Buffer.from(JSON.stringify(file, null, 1))]);
    this.#mtime = (await stat(this.#path)).mtimeMs;
  }

  /**
   * The omnivec collection of an entry: the Collection, undefined while pending, null when the
   * entry is stale (its collection dropped, or its storage name now another collection's).
   */
  async #collectionOf(e: CatalogueEntry): Promise<Collection | undefined | null> {
    if (e.created === null) return undefined;
    const c = await this.#find(e.storage);
    return c !== undefined && c.created === e.created ? c : null;
  }

  /** The omnivec collection of this name, if any (the database's cached handle: no store round trip for a writer). */
  async #find(name: string): Promise<Collection | undefined> {
    try {
      return await this.#db.getCollection(name);
    } catch (e) {
      if (e instanceof OmnivecError && e.code === 'not_found') return undefined;
      throw e;
    }
  }

  /** Every Chroma collection: the entries' and the omnivec collections without one, oldest first. */
  async list(): Promise<ChromaCollection[]> {
    await this.#load();
    const out: (ChromaCollection & { at: string })[] = [];
    const claimed = new Set<string>();
    for (const e of this.#entries) {
      const c = await this.#collectionOf(e);
      if (c === null) continue;
      if (c !== undefined) claimed.add(e.storage);
      out.push({ entry: e, collection: c, at: c?.created ?? e.added });
    }
    for (const info of await this.#db.listCollections()) {
      if (claimed.has(info.name)) continue;
      const c = await this.#db.getCollection(info.name);
      out.push({ entry: this.#derived(c), collection: c, at: c.created });
    }
    out.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.entry.name < b.entry.name ? -1 : 1));
    return out.map(({ entry, collection }) => ({ entry, collection }));
  }

  #derived(c: Collection): CatalogueEntry {
    const metric = c.metric;
    return {
      id: derivedId(c.name, c.created), name: c.name, storage: c.name, created: c.created, metadata: null,
      configuration: {}, metric, index: { ...c.indexSpec }, added: c.created,
    };
  }

  /** The Chroma collection with this id; undefined when there is none. */
  async byId(id: string): Promise<ChromaCollection | undefined> {
    await this.#load();
    for (const e of this.#entries) {
      if (e.id !== id) continue;
      const c = await this.#collectionOf(e);
      if (c !== null) return { entry: e, collection: c };
    }
    // An omnivec collection without an entry: its derived id (the last id-to-name answer is kept,
    // so the query path does not list the collections every time).
    const hit = this.#derivedCache.get(id);
    const c = hit === undefined ? undefined : await this.#find(hit);
    if (c !== undefined && derivedId(c.name, c.created) === id && !this.#claims(c)) return { entry: this.#derived(c), collection: c };
    for (const x of await this.list()) {
      if (x.collection !== undefined && x.entry.id === derivedId(x.collection.name, x.collection.created)) this.#derivedCache.set(x.entry.id, x.collection.name);
      if (x.entry.id === id) return x;
    }
    return undefined;
  }

  readonly #derivedCache = new Map<string, string>();

  /** True when a live entry stands for this omnivec collection. */
  #claims(c: Collection): boolean {
    return this.#entries.some((e) => e.storage === c.name && e.created === c.created);
  }

  /** The Chroma collection with this (Chroma) name: an entry's, else an omnivec collection's that no entry claims. */
  async byName(name: string): Promise<ChromaCollection | undefined> {
    await this.#load();
    for (const e of this.#entries) {
      if (e.name !== name) continue;
      const c = await this.#collectionOf(e);
      if (c !== null) return { entry: e, collection: c };
    }
    const c = await this.#find(name);
    return c === undefined || this.#claims(c) ? undefined : { entry: this.#derived(c), collection: c };
  }

  /** Runs a change of the catalogue alone (one at a time), with the file re-read first. */
  change<T>(fn: () => Promise<T>): Promise<T> {
    return this.#mutex.run(async () => {
      await this.#load();
      return fn();
    });
  }

  /** A new pending collection (inside `change`). */
  async addPending(e: Omit<CatalogueEntry, 'id' | 'created' | 'added' | 'storage'>): Promise<CatalogueEntry> {
    const entry: CatalogueEntry = { ...e, id: randomUUID(), storage: e.name, created: null, added: new Date().toISOString() };
    this.#entries.push(entry);
    await this.#save();
    return entry;
  }

  /**
   * The entry of a collection, made (with its derived id) when it had none (inside `change`), so
   * its name, metadata or configuration can change.
   */
  #own(x: ChromaCollection): CatalogueEntry {
    const have = this.#entries.find((e) => e.id === x.entry.id);
    if (have !== undefined) return have;
    const e = { ...x.entry };
    this.#entries.push(e);
    return e;
  }

  /** Sets name / metadata / configuration of a collection and saves (inside `change`). */
  async update(x: ChromaCollection, patch: Partial<Pick<CatalogueEntry, 'name' | 'metadata' | 'configuration'>>): Promise<CatalogueEntry> {
    const e = this.#own(x);
    Object.assign(e, patch);
    await this.#save();
    return e;
  }

  /** Records the omnivec collection a pending entry now has (inside `change`). */
  async materialized(x: ChromaCollection, c: Collection): Promise<void> {
    const e = this.#own(x);
    e.storage = c.name;
    e.created = c.created;
    await this.#save();
  }

  /** Forgets a collection's entry (inside `change`). */
  async remove(id: string): Promise<void> {
    const before = this.#entries.length;
    this.#entries = this.#entries.filter((e) => e.id !== id);
    if (this.#entries.length !== before) await this.#save();
  }
}
