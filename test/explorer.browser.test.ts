/**
 * The explorer page in a real browser (Debian's chromium through playwright-core), against a real
 * server on a temporary database: four topics of synthetic sentences embedded by a tiny ONNX model
 * served as encoder "tiny", and 1,200 records with a long-tailed numeric field. The test drives the
 * page as a user does (selects, typing, the mouse on the canvas) and checks what it shows against
 * what the API answers for the same questions. Skipped, saying why, when /usr/bin/chromium is
 * absent (.ci/run installs it).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, type OmnivecServer } from '../src/server/app.js';
import { PG_SKIP, createPgDatabase } from './helpers/postgres.js';
import type { StoreKind } from './helpers/stores.js';
import { openDatabase } from '../src/db/database.js';
import { createTopicCollection, topicRecords, writeTopicModel } from './helpers/topic-collection.js';
import { Random } from '../src/vector/random.js';

const CHROMIUM = '/usr/bin/chromium';
const SKIP = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does) to run the explorer's browser test`;
const SCREENSHOT = join('test-output', 'explorer.png');
const RECORDS = 400;
/** The "skewed" collection: more records than a t-SNE sample (1,000), so its maps are samples. */
const SKEWED = 1200;

interface Hit { id: string; score: number }
interface QueryAnswer { ids: string[]; scores: number[]; metadatas: { topic: string }[] }
/** The page's test hook (explorer/app.js). */
interface Hook {
  state: {
    collection: string; encoder: string | null; error: { code: string; message: string } | null;
    map: { status: string; count: number; total: number; replacing: boolean; ids: string[] };
    results: { kind: string; query: string; mode: string; ids: string[]; scores: number[]; error: { code: string; message: string; status: number } | null };
    pickedId: string | null;
  };
  pointScreenPosition(id: string): { x: number; y: number } | null;
  marks(): { picked: string | null; hovered: string | null; neighbours: string[]; results: string[] };
  frames(): { readyAt: number | null; frames: { start: number; end: number }[] };
}
declare const window: { omnivecExplorer: Hook };
declare const document: { querySelector(s: string): unknown };

function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

async function api(base: string, path: string, body?: unknown, key?: string): Promise<unknown> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  const r = await fetch(new URL(path, base), { method: body === undefined ? 'GET' : 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await r.json();
  assert.equal(r.status, 200, `${path}: ${JSON.stringify(json)}`);
  return json;
}

const hook = (page: Page): Promise<Hook['state']> => page.evaluate(() => window.omnivecExplorer.state);

/** The results list as shown: ids and the full-precision scores the items carry. */
async function shownResults(page: Page): Promise<Hit[]> {
  return page.$$eval('[data-testid=result]', (items) => items.map((li) => ({ id: li.getAttribute('data-id')!, score: Number(li.getAttribute('data-score')) })));
}

/** Pixels of the map that are not the white background, and how many distinct colours they have. */
function canvasInk(page: Page): Promise<{ inked: number; colours: number; width: number; cssWidth: number }> {
  return page.evaluate(() => {
    const canvas = document.querySelector('[data-testid=map-canvas]') as {
      width: number; height: number; clientWidth: number;
      getContext(k: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
    };
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let inked = 0;
    const colours = new Set<number>();
    for (let i = 0; i < data.length; i += 4) {
      if (data[i] === 255 && data[i + 1] === 255 && data[i + 2] === 255) continue;
      inked++;
      // Quantised, so anti-aliased edges do not count as colours of their own.
      colours.add(((data[i]! >> 5) << 6) | ((data[i + 1]! >> 5) << 3) | (data[i + 2]! >> 5));
    }
    return { inked, colours: colours.size, width: canvas.width, cssWidth: canvas.clientWidth };
  });
}

/**
 * The colour drawn at the centre of each mapped point (the fill, not an anti-aliased edge), and
 * how the points divide among those colours: the largest share first, as fractions of the points.
 */
function pointColours(page: Page): Promise<{ points: number; shares: number[] }> {
  return page.evaluate(() => {
    const canvas = document.querySelector('[data-testid=map-canvas]') as {
      width: number; clientWidth: number; getBoundingClientRect(): { left: number; top: number };
      getContext(k: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
    };
    const dpr = canvas.width / canvas.clientWidth;
    const rect = canvas.getBoundingClientRect();
    const ctx = canvas.getContext('2d');
    const counts = new Map<string, number>();
    let points = 0;
    for (const id of window.omnivecExplorer.state.map.ids) {
      const p = window.omnivecExplorer.pointScreenPosition(id);
      if (p === null) continue;
      const { data } = ctx.getImageData(Math.floor((p.x - rect.left) * dpr), Math.floor((p.y - rect.top) * dpr), 1, 1);
      const key = `${data[0]},${data[1]},${data[2]}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      points++;
    }
    return { points, shares: [...counts.values()].sort((a, b) => b - a).map((c) => c / Math.max(1, points)) };
  });
}

/** A mapped point with no other point within `clearance` CSS px, so the pointer lands on it alone. */
async function isolatedPoint(page: Page, ids: readonly string[], clearance: number, skip: ReadonlySet<string> = new Set()): Promise<{ id: string; x: number; y: number }> {
  const pos = await page.evaluate((all) => all.map((id) => window.omnivecExplorer.pointScreenPosition(id)), [...ids]);
  let best: { id: string; x: number; y: number; gap: number } | undefined;
  for (let i = 0; i < ids.length; i++) {
    const p = pos[i];
    if (p === null || skip.has(ids[i]!)) continue;
    let gap = Infinity;
    for (let j = 0; j < ids.length; j++) {
      const q = pos[j];
      if (j !== i && q !== null) gap = Math.min(gap, Math.hypot(p!.x - q.x, p!.y - q.y));
    }
    if (best === undefined || gap > best.gap) best = { id: ids[i]!, x: p!.x, y: p!.y, gap };
  }
  assert.ok(best !== undefined && best.gap >= clearance, `no point stands ${clearance} px clear of the others (best ${best?.gap.toFixed(1)} px)`);
  return best;
}


interface Fixture { dir: string; dbDir: string; modelDir: string; drop: () => Promise<void> }
const built = new Map<StoreKind, Promise<Fixture>>();

/**
 * The database the tests serve (one server at a time: the writer lock): "topics", bound to the
 * tiny model, and a smaller collection listed before it, so choosing "topics" is a real choice.
 * `dbDir` is a directory, or for PostgreSQL a fresh database's URL (its map caches in OMNIVEC_FILES).
 */
function fixture(kind: StoreKind = 'embedded'): Promise<Fixture> {
  let f = built.get(kind);
  if (f !== undefined) return f;
  f = (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'omnivec-explorer-'));
    const modelDir = join(dir, 'model');
    let dbDir = join(dir, 'db');
    let drop = async (): Promise<void> => undefined;
    if (kind === 'postgres') {
      const pgdb = await createPgDatabase('explorer');
      dbDir = pgdb.url;
      drop = pgdb.drop;
      process.env.OMNIVEC_FILES = join(dir, 'pg-files');
    }
    await writeTopicModel(modelDir);
    await createTopicCollection(dbDir, modelDir, { count: RECORDS });
    const db = await openDatabase(dbDir);
    try {
      const a = await db.createCollection({ name: 'aaa-small', dim: 3 });
      await a.add({ ids: ['p', 'q', 'r', 's'], vectors: [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]] });
      const skewed = await db.createCollection({ name: 'skewed', dim: 8 });
      await skewed.add(skewedRecords());
    } finally {
      await db.close();
    }
    return { dir, dbDir, modelDir, drop };
  })();
  built.set(kind, f);
  return f;
}

/**
 * SKEWED records in four groups (numbered in turn: group = number mod 4) with a long-tailed
 * `views` (1 / u², u uniform: median about 4, maximum in the hundreds of thousands), so a linear
 * colour scale would draw nearly every point in its first shade.
 */
function skewedRecords(): { id: string; vector: number[]; document: string; metadata: { group: string; views: number } }[] {
  const rng = new Random(17);
  const centres = Array.from({ length: 4 }, () => Array.from({ length: 8 }, () => rng.gaussian() * 3));
  return Array.from({ length: SKEWED }, (_, i) => {
    const views = Math.floor(1 / Math.max(1e-3, rng.next()) ** 2);
    return {
      id: `s-${String(i).padStart(4, '0')}`, vector: centres[i % 4]!.map((c) => c + rng.gaussian()),
      document: `item ${i} of group g${i % 4}, seen ${views} times`, metadata: { group: `g${i % 4}`, views },
    };
  });
}

after(async () => {
  for (const f of built.values()) {
    const { dir, drop } = await f;
    await drop();
    rmSync(dir, { recursive: true, force: true });
  }
  delete process.env.OMNIVEC_FILES;
});

/** The first explorer walk: on the embedded store (its screenshot is the README's picture), and on PostgreSQL. */
async function pickMapSearchHoverClick(kind: StoreKind): Promise<void> {
  let server: OmnivecServer | undefined;
  let browser: Browser | undefined;
  try {
    const { dbDir, modelDir } = await fixture(kind);
    server = await createServer({ db: dbDir, encoders: { tiny: modelDir } });
    const base = await server.listen(0);
    browser = await launch();
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 2 });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const projectionAnswers: number[] = [];
    page.on('response', (r) => { if (r.url().includes('/projection?')) projectionAnswers.push(r.status()); });

    // 1. Load, pick the collection (the page opened the first one listed), UMAP.
    await page.goto(base);
    await page.waitForFunction(() => window.omnivecExplorer?.state.collection === 'aaa-small');
    await page.selectOption('[data-testid=method-select]', 'umap');
    await page.selectOption('[data-testid=collection-select]', 'topics');
    // The map: the progress bar with a phase while the server answers 202, then the points.
    await page.locator('[data-testid=progress]').waitFor({ state: 'visible', timeout: 10_000 });
    assert.match(await page.locator('[data-testid=progress-phase]').innerText(), /\S+ · \d+%/);
    await page.waitForFunction(() => window.omnivecExplorer.state.map.status === 'done' && window.omnivecExplorer.state.map.count > 0, null, { timeout: 30_000 });
    await page.locator('[data-testid=progress]').waitFor({ state: 'hidden' });
    assert.ok(projectionAnswers.includes(202), `projection answers: ${projectionAnswers.join(', ')}`);
    assert.equal(projectionAnswers.at(-1), 200);
    let state = await hook(page);
    assert.equal(state.collection, 'topics');
    assert.equal(state.map.count, RECORDS);
    assert.ok(new URL(page.url()).searchParams.get('collection') === 'topics', page.url());
    // Drawn at the device pixel ratio, coloured by topic (the field the page picks), with a legend.
    await page.waitForTimeout(100);
    const ink = await canvasInk(page);
    assert.equal(ink.width, ink.cssWidth * 2, 'canvas backing store at devicePixelRatio 2');
    assert.ok(ink.inked > RECORDS * 20, `only ${ink.inked} inked pixels`);
    assert.ok(ink.colours >= 4, `${ink.colours} colours on the map`);
    assert.equal(await page.locator('[data-testid=color-select]').inputValue(), 'topic');
    assert.deepEqual((await page.locator('[data-testid=legend-item]').allInnerTexts()).map((t) => t.split(/\s+/)[0]).sort(), ['cooking', 'football', 'music', 'space']);

    // 2. Search: text through the collection's encoder; the list equals the API's answer.
    assert.equal(state.encoder, 'tiny', 'the collection is bound to the served encoder "tiny"');
    const question = 'rocket orbit galaxy';
    await page.fill('[data-testid=search-input]', question);
    await page.press('[data-testid=search-input]', 'Enter');
    await page.waitForFunction((q) => window.omnivecExplorer.state.results.kind === 'search' && window.omnivecExplorer.state.results.query === q, question);
    const expected = await api(base, 'api/collections/topics/query', { text: question, k: 10, include: ['metadatas'] }) as QueryAnswer;
    const shown = await shownResults(page);
    assert.deepEqual(shown.map((h) => h.id), expected.ids);
    assert.deepEqual(shown.map((h) => h.score), expected.scores);
    assert.ok(expected.metadatas.every((m) => m.topic === 'space'), 'a space question finds space sentences');
    assert.deepEqual((await page.evaluate(() => window.omnivecExplorer.marks())).results.sort(), [...expected.ids].sort(), 'search hits ringed on the map');

    // 3. Hover a point standing clear of the others: the tooltip shows its record.
    const records = topicRecords(RECORDS);
    const target = await isolatedPoint(page, state.map.ids, 8);
    await page.mouse.move(target.x, target.y);
    await page.locator('[data-testid=tooltip]').waitFor({ state: 'visible' });
    assert.equal(await page.locator('[data-testid=tooltip-id]').innerText(), target.id);
    const doc = records.documents[records.ids.indexOf(target.id)]!;
    assert.ok((await page.locator('[data-testid=tooltip]').innerText()).includes(doc.slice(0, 30)), 'tooltip shows the document');

    // 4. Click it: its neighbours from the API, listed and marked (rings and lines to it).
    await page.mouse.click(target.x, target.y);
    await page.waitForFunction((id) => window.omnivecExplorer.state.results.kind === 'neighbours' && window.omnivecExplorer.state.results.query === id
      && document.querySelector('[data-testid=result]') !== null, target.id);
    const neighbours = await api(base, 'api/collections/topics/query', { id: target.id, k: 10, include: ['metadatas'] }) as QueryAnswer;
    const listed = await shownResults(page);
    assert.deepEqual(listed.map((h) => h.id), neighbours.ids);
    assert.deepEqual(listed.map((h) => h.score), neighbours.scores);
    assert.ok(!neighbours.ids.includes(target.id));
    const marks = await page.evaluate(() => window.omnivecExplorer.marks());
    assert.equal(marks.picked, target.id);
    assert.deepEqual([...marks.neighbours].sort(), [...neighbours.ids].sort());
    assert.deepEqual(marks.results, [], 'the search rings gave way to the neighbours');
    state = await hook(page);
    assert.equal(state.error, null);
    // The click hid the tooltip (it would cover the lines to the neighbours); off the point and back, it shows again.
    assert.ok(await page.locator('[data-testid=tooltip]').isHidden(), 'the tooltip is hidden after the click');
    await page.mouse.move(target.x + 40, target.y + 40);
    await page.mouse.move(target.x, target.y);
    await page.locator('[data-testid=tooltip]').waitFor({ state: 'visible' });
    assert.equal(await page.locator('[data-testid=tooltip-id]').innerText(), target.id);
    // Leaving the canvas (here onto the legend, which lies over it) hides it.
    const legendBox = (await page.locator('[data-testid=legend]').boundingBox())!;
    await page.mouse.move(legendBox.x + legendBox.width / 2, legendBox.y + legendBox.height / 2, { steps: 4 });
    await page.locator('[data-testid=tooltip]').waitFor({ state: 'hidden' });

    // 5. Zoom with the wheel about the pointer (the point under it stays put, its neighbours spread
    // out), then drag to pan: the map moves with the pointer and the drag picks nothing.
    const at = (id: string): Promise<{ x: number; y: number } | null> => page.evaluate((i) => window.omnivecExplorer.pointScreenPosition(i), id);
    const far = neighbours.ids[neighbours.ids.length - 1]!;
    const before = (await at(far))!;
    await page.mouse.move(target.x, target.y);
    // Two wheel turns (chromium scales deltaY by 1 / devicePixelRatio): the spread more than doubles.
    await page.mouse.wheel(0, -800);
    await page.mouse.wheel(0, -800);
    const spread = Math.hypot(before.x - target.x, before.y - target.y);
    await page.waitForFunction(([a, b, d]) => {
      const p = window.omnivecExplorer.pointScreenPosition(a as string), q = window.omnivecExplorer.pointScreenPosition(b as string);
      return p !== null && q !== null && Math.hypot(p.x - q.x, p.y - q.y) > 2 * (d as number);
    }, [target.id, far, spread]);
    await page.waitForTimeout(100);
    // Zoom keeps the data point under the pointer fixed: every point moves away from the pointer
    // by the zoom factor (chromium reports whole CSS pixels, so the pointer is at the moved-to pixel).
    const mouse = { x: Math.floor(target.x), y: Math.floor(target.y) };
    const zoomed = (await at(target.id))!;
    const after = (await at(far))!;
    const k = Math.hypot(after.x - zoomed.x, after.y - zoomed.y) / spread;
    for (const [p0, p1] of [[target, zoomed], [before, after]] as const) {
      const expect = { x: mouse.x + (p0.x - mouse.x) * k, y: mouse.y + (p0.y - mouse.y) * k };
      assert.ok(Math.hypot(p1.x - expect.x, p1.y - expect.y) < 0.5, `zoom ×${k.toFixed(2)} about the pointer: ${JSON.stringify({ p0, p1, expect })}`);
    }
    await page.mouse.move(zoomed.x, zoomed.y);
    await page.mouse.down();
    await page.mouse.move(zoomed.x + 60, zoomed.y + 30, { steps: 6 });
    await page.mouse.move(zoomed.x + 120, zoomed.y + 60, { steps: 6 });
    await page.mouse.up();
    const panned = (await at(target.id))!;
    assert.ok(Math.abs(panned.x - zoomed.x - 120) < 1 && Math.abs(panned.y - zoomed.y - 60) < 1, `panned to ${JSON.stringify(panned)}`);
    assert.equal((await hook(page)).pickedId, target.id, 'a drag is not a click');

    // For the picture: the whole map (every topic), the picked point's neighbours still marked.
    await page.locator('#fit').click();
    assert.equal((await hook(page)).pickedId, target.id, 'fit keeps the picked point');

    mkdirSync('test-output', { recursive: true });
    await page.mouse.move(5, 5);
    await page.locator('[data-testid=tooltip]').waitFor({ state: 'hidden' });
    await page.waitForTimeout(100);
    if (kind === 'embedded') await page.screenshot({ path: SCREENSHOT });
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser?.close();
    await server?.close();
  }
}

test('explorer: pick a collection, map with progress, search, hover, click for neighbours (chromium)', { skip: SKIP, timeout: 90_000 }, () => pickMapSearchHoverClick('embedded'));

test('explorer on PostgreSQL: the same walk over a postgres:// database (chromium)', { skip: SKIP || PG_SKIP, timeout: 90_000 }, () => pickMapSearchHoverClick('postgres'));

test('explorer with an API key: asks for it on 401, says when it is refused, keeps it; API errors shown as sent (chromium)', { skip: SKIP, timeout: 60_000 }, async () => {
  const KEY = 'open-sesame';
  let server: OmnivecServer | undefined;
  let browser: Browser | undefined;
  try {
    const { dbDir, modelDir } = await fixture();
    server = await createServer({ db: dbDir, apiKey: KEY, encoders: { tiny: modelDir } });
    const base = await server.listen(0);
    browser = await launch();
    const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const sent: (string | undefined)[] = [];
    page.on('request', (r) => { if (new URL(r.url()).pathname.startsWith('/api/')) sent.push(r.headers().authorization); });
    const mapDone = (): Promise<unknown> => page.waitForFunction((n) => window.omnivecExplorer?.state.map.status === 'done' && window.omnivecExplorer.state.map.count === n, RECORDS, { timeout: 30_000 });

    await page.goto(`${base}?collection=topics&method=pca`);
    const form = page.locator('[data-testid=api-key-form]');
    await form.waitFor({ state: 'visible' });
    assert.equal(sent[0], undefined, 'the first call goes without a key');
    await page.fill('[data-testid=api-key-input]', 'wrong-key');
    await page.press('[data-testid=api-key-input]', 'Enter');
    await page.waitForFunction(() => (document.querySelector('#key-prompt') as { textContent: string }).textContent.includes('refused'));
    await form.waitFor({ state: 'visible' });
    assert.ok(sent.includes('Bearer wrong-key'));
    await page.fill('[data-testid=api-key-input]', KEY);
    await page.press('[data-testid=api-key-input]', 'Enter');
    await mapDone();
    assert.ok(await form.isHidden());
    assert.equal((await hook(page)).collection, 'topics');
    assert.equal(await page.evaluate(() => (globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem('omnivec.apiKey')), KEY);

    // A reload uses the kept key from the first call on.
    sent.length = 0;
    await page.reload();
    await mapDone();
    assert.ok(await form.isHidden());
    assert.ok(sent.length >= 3 && sent.every((h) => h === `Bearer ${KEY}`), sent.join(', '));

    // An error from the API, shown as it came: the collection is dropped behind the page's back,
    // then a search (full-text: this collection has no encoder) meets 404.
    const auth = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
    const post = (path: string, body: unknown): Promise<Response> => fetch(new URL(path, base), { method: 'POST', headers: auth, body: JSON.stringify(body) });
    assert.equal((await post('api/collections', { name: 'doomed', dim: 3 })).status, 201);
    assert.equal((await post('api/collections/doomed/add', { ids: ['a', 'b', 'c', 'd'], vectors: [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]], documents: ['one', 'two', 'three', 'four'] })).status, 200);
    await page.goto(`${base}?collection=doomed&method=pca`);
    await page.waitForFunction(() => window.omnivecExplorer?.state.map.status === 'done' && window.omnivecExplorer.state.map.count === 4, null, { timeout: 30_000 });
    assert.equal((await hook(page)).encoder, null);
    assert.match(await page.locator('[data-testid=search-mode]').innerText(), /full-text/i);
    assert.equal((await fetch(new URL('api/collections/doomed', base), { method: 'DELETE', headers: { authorization: auth.authorization } })).status, 200);
    await page.fill('[data-testid=search-input]', 'two');
    await page.press('[data-testid=search-input]', 'Enter');
    await page.locator('[data-testid=error]').waitFor({ state: 'visible' });
    const refused = await post('api/collections/doomed/query', { fullText: 'two', k: 10, include: ['documents', 'metadatas'] });
    assert.equal(refused.status, 404);
    const { error } = await refused.json() as { error: { code: string; message: string } };
    assert.equal(await page.locator('#error-code').innerText(), error.code);
    assert.equal(await page.locator('#error-message').innerText(), error.message);
    // … and where the results go, in place of a list.
    assert.equal(await page.locator('[data-testid=results-error-message]').innerText(), error.message);
    assert.equal(await page.locator('[data-testid=result]').count(), 0);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser?.close();
    await server?.close();
  }
});

test('explorer: a skewed numeric field coloured by rank, values in the legend; the map stays while another computes; the sample spread and said; a refused search shows its message (chromium)', { skip: SKIP, timeout: 180_000 }, async () => {
  let server: OmnivecServer | undefined;
  let browser: Browser | undefined;
  try {
    const { dbDir, modelDir } = await fixture();
    server = await createServer({ db: dbDir, encoders: { tiny: modelDir } });
    const base = await server.listen(0);
    browser = await launch();
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const records = skewedRecords();
    const views = records.map((r) => r.metadata.views).sort((a, b) => a - b);

    // 1. PCA of all 1,200 records (the sample offered, 5,000, is larger): no sampling said.
    await page.goto(`${base}?collection=skewed&method=pca`);
    await page.waitForFunction((n) => window.omnivecExplorer?.state.map.status === 'done' && window.omnivecExplorer.state.map.count === n, SKEWED, { timeout: 30_000 });
    assert.equal(await page.locator('[data-testid=map-status]').innerText(), 'PCA of 1,200 records');

    // 2. Coloured by the long-tailed field: the points spread over many shades, not one.
    await page.selectOption('[data-testid=color-select]', 'views');
    await page.waitForTimeout(150);
    mkdirSync('test-output', { recursive: true });
    await page.screenshot({ path: join('test-output', 'explorer-numeric.png') });
    const drawn = await pointColours(page);
    assert.equal(drawn.points, SKEWED);
    const shades = drawn.shares.filter((f) => f >= 0.02).length;
    const shares = drawn.shares.slice(0, 12).map((f) => f.toFixed(3)).join(', ');
    assert.ok(shades >= 8, `${shades} colours are each drawn for ≥ 2 % of the points (shares ${shares})`);
    // The commonest colour is the tie at the minimum (views = 1: about 29 % of the records), not the whole map.
    assert.ok(drawn.shares[0]! < 0.4, `the commonest colour is drawn for ${(drawn.shares[0]! * 100).toFixed(0)} % of the points (shares ${shares})`);
    // The legend says the scale and shows real values at its stops: the minimum, the median, the maximum.
    assert.match(await page.locator('[data-testid=legend-scale]').innerText(), /rank/);
    const stops = await page.locator('[data-testid=legend-item]').evaluateAll((items) => items.map((li) => ({ value: li.getAttribute('data-value'), text: (li as unknown as { innerText: string }).innerText })));
    const values = stops.map((x) => Number(x.value));
    assert.ok(stops.length >= 4, JSON.stringify(stops));
    assert.equal(values[0], views[0]);
    assert.equal(values.at(-1), views.at(-1));
    assert.ok(values.includes(views[Math.round(0.5 * (views.length - 1))]!), `the median ${views[Math.round(0.5 * (views.length - 1))]} is a stop: ${values.join(', ')}`);
    assert.ok(stops.at(-1)!.text.includes(views.at(-1)!.toLocaleString('en')), `the maximum as written: ${stops.at(-1)!.text}`);
    assert.match(stops.find((x) => Number(x.value) === views[Math.round(0.5 * (views.length - 1))])!.text, /median/);

    // 3. Switch to t-SNE (its sample drops to 1,000; seconds to compute): the PCA map stays drawn,
    // dimmed, marked as being replaced, under the progress; recolouring meanwhile recolours it.
    await page.selectOption('[data-testid=method-select]', 'tsne');
    await page.locator('[data-testid=progress]').waitFor({ state: 'visible' });
    await page.locator('[data-testid=map-replacing]').waitFor({ state: 'visible' });
    assert.match(await page.locator('[data-testid=map-replacing]').innerText(), /PCA map until the t-SNE map is ready/);
    let seen = 0;
    for (let i = 0; i < 3; i++) {
      await page.waitForTimeout(300);
      const during = await canvasInk(page);
      const st = await hook(page);
      assert.equal(st.map.status, 'running', 'still computing while the canvas is looked at');
      assert.ok(st.map.replacing);
      assert.ok(during.inked > SKEWED * 10, `the canvas is not blank while t-SNE computes (${during.inked} inked pixels)`);
      seen++;
    }
    await page.selectOption('[data-testid=color-select]', 'group');
    await page.waitForTimeout(150);
    const recoloured = await canvasInk(page);
    assert.equal((await hook(page)).map.status, 'running');
    assert.ok(recoloured.inked > SKEWED * 10 && recoloured.colours >= 4, `recoloured while computing: ${JSON.stringify(recoloured)}`);
    assert.deepEqual((await page.locator('[data-testid=legend-item]').allInnerTexts()).map((t) => t.split(/\s+/)[0]), ['g0', 'g1', 'g2', 'g3']);
    const rows = await page.locator('[data-testid=legend] > li').allInnerTexts();
    assert.deepEqual([rows.length, rows[0], rows[1]!.split(/\s+/)[0]], [5, 'group', 'g0'], `the title, then the categories, nothing else: ${JSON.stringify(rows)}`);
    await page.screenshot({ path: join('test-output', 'explorer-replacing.png') });
    assert.equal(seen, 3);

    // 4. The t-SNE map: 1,000 of the 1,200 records, spread over the whole collection, and said so.
    await page.waitForFunction(() => window.omnivecExplorer.state.map.status === 'done', null, { timeout: 150_000 });
    assert.ok(await page.locator('[data-testid=map-replacing]').isHidden());
    assert.ok(await page.locator('[data-testid=progress]').isHidden());
    const state = await hook(page);
    assert.equal(state.map.replacing, false);
    assert.equal(state.map.count, 1000);
    assert.equal(state.map.total, SKEWED);
    assert.equal(await page.locator('[data-testid=map-status]').innerText(), 't-SNE of 1,000 of 1,200 records, sampled evenly');
    const answer = await api(base, 'api/collections/skewed/projection?method=tsne&sample=1000') as { ids: string[]; sampled: number; total: number };
    assert.deepEqual(state.map.ids, answer.ids);
    assert.equal(answer.sampled, 1000);
    assert.equal(answer.total, SKEWED);
    const numbers = state.map.ids.map((id) => Number(id.slice(2)));
    assert.ok(numbers.filter((k) => k >= 1100).length >= 50, 'records from the end of the id range (the old rule took s-0000 … s-0999)');
    const perGroup = [0, 1, 2, 3].map((g) => numbers.filter((k) => k % 4 === g).length);
    assert.ok(perGroup.every((k) => k >= 200), `every group in the sample: ${perGroup.join(', ')}`);

    // 5. Search. A list first (full-text: no encoder), then the API refusing the text: its message
    // in the results area instead of a list, for a 400 (text with no known word) and any other 4xx.
    await page.fill('[data-testid=search-input]', 'group g2');
    await page.press('[data-testid=search-input]', 'Enter');
    await page.waitForFunction(() => window.omnivecExplorer.state.results.query === 'group g2' && window.omnivecExplorer.state.results.ids.length > 0);
    assert.ok(await page.locator('[data-testid=result]').count() > 0);
    const refusals = [
      { status: 400, code: 'invalid_argument', message: 'text[0] "qwzx": none of its words is in the model\'s vocabulary, so it has no vector', text: 'qwzx' },
      { status: 413, code: 'payload_too_large', message: 'the body is larger than the limit (16 MiB)', text: 'zzzz' },
    ];
    for (const r of refusals) {
      await page.route('**/api/collections/skewed/query', (route) => route.fulfill({
        status: r.status, contentType: 'application/json', body: JSON.stringify({ error: { code: r.code, message: r.message } }),
      }));
      await page.fill('[data-testid=search-input]', r.text);
      await page.press('[data-testid=search-input]', 'Enter');
      await page.waitForFunction((q) => window.omnivecExplorer.state.results.query === q && window.omnivecExplorer.state.results.error !== null, r.text);
      assert.equal(await page.locator('[data-testid=results-error-message]').innerText(), r.message);
      assert.match(await page.locator('[data-testid=results-error]').innerText(), new RegExp(`^${r.code}`));
      assert.equal(await page.locator('[data-testid=result]').count(), 0, 'no list of results beside the refusal');
      const st = await hook(page);
      assert.deepEqual(st.results.ids, []);
      assert.equal(st.results.error!.status, r.status);
      assert.deepEqual((await page.evaluate(() => window.omnivecExplorer.marks())).results, [], 'no rings left from the earlier list');
      if (r.status === 400) await page.screenshot({ path: join('test-output', 'explorer-tsne-refused.png') });
      await page.unroute('**/api/collections/skewed/query');
    }
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser?.close();
    await server?.close();
  }
});

/** The 100,000-point map: a collection of 8 clusters in 8-d, PCA over all of it. */
const BIG = 100_000;

test('explorer at 100,000 points: drawn from binary points, hover answers the nearest point, click lists neighbours, search rings hits, wheel-zoom and pan (chromium)', { skip: SKIP, timeout: 120_000 }, async () => {
  let server: OmnivecServer | undefined;
  let browser: Browser | undefined;
  const tmp = mkdtempSync(join(tmpdir(), 'omnivec-explorer-big-'));
  try {
    const db = await openDatabase(join(tmp, 'db'));
    const c = await db.createCollection({ name: 'big', dim: 8, metric: 'l2', index: 'flat' });
    const rng = new Random(20);
    const vectors = new Float32Array(BIG * 8);
    for (let i = 0; i < BIG; i++) for (let j = 0; j < 8; j++) vectors[i * 8 + j] = (j === i % 8 ? 6 : 0) + rng.gaussian();
    await c.add({
      ids: Array.from({ length: BIG }, (_, i) => `b-${String(i).padStart(6, '0')}`), vectors,
      metadatas: Array.from({ length: BIG }, (_, i) => ({ cluster: `c${i % 8}` })),
      documents: Array.from({ length: BIG }, (_, i) => `point ${i} of cluster c${i % 8}`),
    });
    await db.close();
    server = await createServer({ db: join(tmp, 'db') });
    const base = await server.listen(0);
    browser = await launch();
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const answers: { url: string; status: number; type: string }[] = [];
    page.on('response', (r) => { if (r.url().includes('/projection')) answers.push({ url: r.url(), status: r.status(), type: r.headers()['content-type'] ?? '' }); });

    // 1. The whole collection mapped (PCA, sample 100,000), its points fetched as float32.
    await page.goto(`${base}?collection=big&method=pca&sample=100000`);
    await page.waitForFunction(() => window.omnivecExplorer?.state.map.status === 'done', null, { timeout: 60_000 });
    let state = await hook(page);
    assert.equal(state.map.count, BIG);
    assert.ok(answers.some((a) => a.url.includes('/projection/points?') && a.status === 200 && a.type === 'application/octet-stream'), JSON.stringify(answers.slice(-4)));
    assert.ok(answers.every((a) => !a.url.includes('/projection?') || a.url.includes('points=binary')), 'the JSON answers leave the points out');
    await page.waitForFunction(() => window.omnivecExplorer.frames().frames.length > 0);
    const ink = await canvasInk(page);
    assert.ok(ink.inked > 50_000, `the map is drawn: ${ink.inked} inked pixels`);
    assert.ok(ink.colours >= 8, `coloured by cluster: ${ink.colours} colours`);
    await page.screenshot({ path: join('test-output', 'explorer-100k.png') });

    // 2. Zoom in with the wheel at the centre: the point under the pointer stays put, others spread.
    const box = (await page.locator('[data-testid=map-canvas]').boundingBox())!;
    const cx = box.x + box.width / 2, cy = box.y + box.height / 2;
    const at = (id: string): Promise<{ x: number; y: number } | null> => page.evaluate((i) => window.omnivecExplorer.pointScreenPosition(i), id);
    const someId = 'b-000003';
    const before = (await at(someId))!;
    await page.mouse.move(cx, cy);
    const framesBefore = (await page.evaluate(() => window.omnivecExplorer.frames())).frames.at(-1)!.end;
    for (let i = 0; i < 4; i++) await page.mouse.wheel(0, -400);
    await page.waitForFunction((t) => window.omnivecExplorer.frames().frames.at(-1)!.end > t, framesBefore);
    await page.waitForTimeout(100);
    const after = await at(someId);
    if (after !== null) {
      const k = Math.hypot(after.x - cx, after.y - cy) / Math.max(1e-6, Math.hypot(before.x - cx, before.y - cy));
      assert.ok(k > 2, `zoomed about the pointer: ${someId} is ${k.toFixed(2)}× as far from it`);
    }

    // 3. Hover near the centre: the point the page names is the nearest one to the pointer (an
    // oracle over all 100,000 positions), with its tooltip.
    const hx = cx + 13, hy = cy - 7;
    await page.mouse.move(hx, hy);
    await page.waitForTimeout(100);
    const nearest = await page.evaluate(([x, y]) => {
      let best = null as string | null, bd = Infinity;
      for (const id of window.omnivecExplorer.state.map.ids) {
        const p = window.omnivecExplorer.pointScreenPosition(id);
        if (p === null) continue;
        const d = Math.hypot(p.x - x!, p.y - y!);
        if (d < bd) { bd = d; best = id; }
      }
      return { id: best, d: bd };
    }, [hx, hy]);
    assert.ok(nearest.d <= 7, `a point within 7 px of the pointer (nearest ${nearest.d.toFixed(2)} px)`);
    const hovered = (await page.evaluate(() => window.omnivecExplorer.marks())).hovered;
    const hp = (await at(hovered!))!;
    assert.ok(Math.abs(Math.hypot(hp.x - hx, hp.y - hy) - nearest.d) < 1e-6, `hovered ${hovered} is a nearest point (${nearest.id})`);
    await page.locator('[data-testid=tooltip]').waitFor({ state: 'visible' });
    assert.equal(await page.locator('[data-testid=tooltip-id]').innerText(), hovered);

    // 4. Click: its neighbours from the API, marked on the map.
    await page.mouse.click(hx, hy);
    await page.waitForFunction((id) => window.omnivecExplorer.state.results.kind === 'neighbours' && window.omnivecExplorer.state.results.query === id
      && document.querySelector('[data-testid=result]') !== null, hovered);
    const nb = await api(base, 'api/collections/big/query', { id: hovered, k: 10 }) as QueryAnswer;
    const marks = await page.evaluate(() => window.omnivecExplorer.marks());
    assert.equal(marks.picked, hovered);
    assert.deepEqual([...marks.neighbours].sort(), [...nb.ids].sort());

    // 5. Pan: a drag moves every point by the drag, picks nothing.
    const p0 = (await at(hovered!))!;
    await page.mouse.move(cx - 200, cy + 100);
    await page.mouse.down();
    await page.mouse.move(cx - 120, cy + 60, { steps: 8 });
    await page.mouse.up();
    await page.waitForTimeout(100);
    const p1 = (await at(hovered!))!;
    assert.ok(Math.abs(p1.x - p0.x - 80) < 0.5 && Math.abs(p1.y - p0.y + 40) < 0.5, `panned by (80, −40): moved by (${(p1.x - p0.x).toFixed(1)}, ${(p1.y - p0.y).toFixed(1)})`);
    assert.equal((await page.evaluate(() => window.omnivecExplorer.marks())).picked, hovered, 'the drag picked nothing');

    // 6. Search (full text): the hits listed are the ones ringed.
    await page.fill('[data-testid=search-input]', 'cluster c3');
    await page.press('[data-testid=search-input]', 'Enter');
    await page.waitForFunction(() => window.omnivecExplorer.state.results.kind === 'search' && window.omnivecExplorer.state.results.ids.length > 0);
    state = await hook(page);
    assert.deepEqual([...(await page.evaluate(() => window.omnivecExplorer.marks())).results].sort(), [...state.results.ids].sort());
    await page.screenshot({ path: join('test-output', 'explorer-100k-search.png') });
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser?.close();
    await server?.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});
