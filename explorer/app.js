/* global document, window, location, history, URL, URLSearchParams, Option, AbortController, DOMException, setTimeout, clearTimeout, performance */
// The explorer page: pick a collection, see its 2-D map coloured by a metadata field, search it,
// read a point by hovering it and its neighbours by clicking it (docs/server.md, "The explorer").
import { api, ApiError, onUnauthorized, storedKey, storeKey } from './api.js';
import { colorScheme, defaultField, metadataFields } from './colors.js';
import { MapView } from './map.js';
import { renderResults, renderResultsError, renderTooltip, renderLegend } from './views.js';

const $ = (id) => document.getElementById(id);
const el = {
  collection: $('collection'), collectionInfo: $('collection-info'), forgetKey: $('forget-key'),
  error: $('error'), errorCode: $('error-code'), errorMessage: $('error-message'), errorClose: $('error-close'),
  keyForm: $('key-form'), keyPrompt: $('key-prompt'), keyInput: $('key-input'),
  method: $('method'), sample: $('sample'), colorBy: $('color-by'), fit: $('fit'), mapStatus: $('map-status'),
  progress: $('progress'), progressFill: $('progress-fill'), progressText: $('progress-text'), replacing: $('replacing'),
  canvas: $('map'), mapWrap: $('map-wrap'), tooltip: $('tooltip'), legend: $('legend'),
  searchForm: $('search-form'), searchInput: $('search-input'), k: $('k'), searchMode: $('search-mode'),
  resultsHead: $('results-head'), results: $('results'),
};

/** What the page shows; `window.omnivecExplorer.state` hands out a copy. */
const state = {
  collection: '',
  /** The served encoder of the collection's text queries, or null (then search is full-text). */
  encoder: null,
  method: 'umap',
  sample: 5000,
  colorBy: '',
  /**
   * The map shown: `count` points of the collection's `total` records (a sample when fewer);
   * `replacing` while it stays drawn, dimmed, under a new map being computed.
   */
  map: { status: 'idle', phase: '', progress: 0, stale: false, replacing: false, count: 0, total: 0, ids: [] },
  /** kind: 'search' | 'neighbours'; `query` is the text searched or the picked id; `error` when the API refused it. */
  results: { kind: '', query: '', mode: '', ids: [], scores: [], error: null },
  pickedId: null,
  hoveredId: null,
  error: null,
};

/** The map's records, by point index. */
let points = { ids: [], index: new Map(), metadatas: [], documents: [] };
let mapAbort = null;
let queryAbort = null;
/** The point clicked last: its tooltip stays hidden (it would cover the neighbour lines) until the pointer leaves it. */
let tipHeld = -1;

const METHOD_NAMES = { pca: 'PCA', tsne: 't-SNE', umap: 'UMAP' };
const fmt = (n) => n.toLocaleString('en');

const map = new MapView(el.canvas, {
  onHover: (i, x, y) => {
    state.hoveredId = i >= 0 ? points.ids[i] : null;
    if (i !== tipHeld) tipHeld = -1;
    if (i < 0 || i === tipHeld) { el.tooltip.hidden = true; return; }
    renderTooltip(el.tooltip, points.ids[i], points.documents[i], points.metadatas[i]);
    placeTooltip(x, y);
  },
  onPick: (i) => {
    el.tooltip.hidden = true;
    tipHeld = i;
    if (i < 0) { clearPick(); return; }
    void showNeighbours(points.ids[i]);
  },
});

// --- errors and the API key -------------------------------------------------------------------

function showError(e) {
  if (e instanceof DOMException && e.name === 'AbortError') return;
  const code = e instanceof ApiError ? e.code : 'error';
  const message = e instanceof Error ? e.message : String(e);
  state.error = { code, message, status: e instanceof ApiError ? e.status : undefined };
  el.errorCode.textContent = code;
  el.errorMessage.textContent = message;
  el.error.hidden = false;
}

function clearError() {
  state.error = null;
  el.error.hidden = true;
}

el.errorClose.addEventListener('click', clearError);

onUnauthorized((refused) => new Promise((resolve) => {
  el.keyPrompt.textContent = refused ? 'The server refused this API key: enter the right one.' : 'This server needs an API key.';
  el.keyForm.hidden = false;
  el.keyInput.value = '';
  el.keyInput.focus();
  el.keyForm.onsubmit = (e) => {
    e.preventDefault();
    const key = el.keyInput.value.trim();
    if (!key) return;
    el.keyForm.hidden = true;
    el.forgetKey.hidden = false;
    resolve(key);
  };
}));

el.forgetKey.hidden = storedKey() === '';
el.forgetKey.addEventListener('click', () => {
  storeKey('');
  location.reload();
});

// --- collections ------------------------------------------------------------------------------

function setUrl() {
  const url = new URL(location.href);
  url.searchParams.set('collection', state.collection);
  url.searchParams.set('method', state.method);
  url.searchParams.set('sample', String(state.sample));
  history.replaceState(null, '', url);
}

async function loadCollections() {
  const list = await api.collections();
  el.collection.replaceChildren(...list.map((c) => new Option(`${c.name} (${c.count.toLocaleString('en')})`, c.name)));
  if (list.length === 0) {
    el.collection.append(new Option('(no collections)', ''));
    el.mapStatus.textContent = 'This database has no collections yet.';
    return;
  }
  const params = new URLSearchParams(location.search);
  const method = params.get('method');
  if (method && [...el.method.options].some((o) => o.value === method)) el.method.value = method;
  const sample = params.get('sample');
  if (sample && [...el.sample.options].some((o) => o.value === sample)) el.sample.value = sample;
  limitSample();
  const wanted = params.get('collection');
  const name = wanted && list.some((c) => c.name === wanted) ? wanted : list[0].name;
  if (wanted && name !== wanted) showError(new ApiError(404, 'not_found', `no collection named ${JSON.stringify(wanted)}: showing ${name}`));
  el.collection.value = name;
  await selectCollection(name);
}

async function selectCollection(name) {
  state.collection = name;
  document.title = `${name} · omnivec explorer`;
  state.method = el.method.value;
  state.sample = Number(el.sample.value);
  state.encoder = null;
  setUrl();
  // The previous collection's map must not land on this one, nor stay shown: other records.
  mapAbort?.abort();
  Object.assign(state.map, { status: 'loading', phase: '', progress: 0, stale: false, count: 0, total: 0, ids: [] });
  clearResults();
  points = { ids: [], index: new Map(), metadatas: [], documents: [] };
  map.setPoints(new Float32Array(0), 0);
  setReplacing(false);
  el.tooltip.hidden = true;
  el.mapStatus.textContent = '';
  el.legend.hidden = true;
  const info = await api.collection(name);
  if (state.collection !== name) return;
  const c = info.collection;
  state.encoder = info.encoder ?? null;
  el.collectionInfo.textContent = `${c.count.toLocaleString('en')} records · dim ${c.dim} · ${c.metric}${state.encoder ? ` · encoder ${state.encoder}` : ''}`;
  el.searchMode.textContent = state.encoder
    ? `Search encodes your text with “${state.encoder}” and finds the nearest records.`
    : 'Full-text search (BM25) over the documents: this collection has no served encoder.';
  el.searchInput.placeholder = state.encoder ? 'search by meaning…' : 'search the documents…';
  await loadMap();
}

// --- the map ----------------------------------------------------------------------------------

const sleep = (ms, signal) => new Promise((resolve, reject) => {
  const t = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason); }, { once: true });
});

function showProgress(phase, progress) {
  el.progress.hidden = false;
  const p = Math.max(0, Math.min(1, Number(progress) || 0));
  el.progressFill.style.width = `${(p * 100).toFixed(1)}%`;
  el.progressText.textContent = `${phase || 'computing'} · ${Math.round(p * 100)}%`;
  el.progress.dataset.progress = String(p);
}

/**
 * The map drawn stays while a new one computes (another method or sample of this collection, or
 * the collection changed): dimmed, with the progress over it and a line saying it is being replaced.
 */
function setReplacing(on) {
  state.map.replacing = on;
  map.setReplacing(on);
  el.replacing.hidden = !on;
  if (!on) return;
  const shown = METHOD_NAMES[points.method] ?? points.method;
  const wanted = METHOD_NAMES[state.method] ?? state.method;
  el.replacing.textContent = points.stale
    ? `showing the ${shown} map from before the collection changed until the new one is ready`
    : shown === wanted
      ? `showing the previous ${shown} map until the new one is ready`
      : `showing the ${shown} map until the ${wanted} map is ready`;
}

/** Asks for the map and polls while the server answers 202 (computing), showing its progress. */
async function loadMap() {
  mapAbort?.abort();
  const abort = new AbortController();
  mapAbort = abort;
  const { collection, method, sample } = state;
  Object.assign(state.map, { status: 'running', phase: 'starting', progress: 0 });
  showProgress('starting', 0);
  // Until the answer says otherwise, what is drawn is on its way out (a cached map replaces it at once).
  setReplacing(points.ids.length > 0);
  let delay = 200;
  try {
    for (;;) {
      // The metadata colours the map; the documents (only the tooltip reads them) follow after the first frame.
      const { status, body } = await api.projection(collection, { method, sample, include: ['metadatas'] }, abort.signal);
      if (abort.signal.aborted) return;
      // A done map, or the previous one (`stale`) while a changed collection is mapped again; its
      // points come as float32 from …/projection/points, matched to this answer by seq and count.
      if (Array.isArray(body.ids) && !sameMap(body)) {
        const bin = await api.projectionPoints(collection, { method, sample }, abort.signal);
        if (abort.signal.aborted) return;
        if (bin !== null && bin.seq === body.seq && bin.count === body.ids.length && bin.stale === (body.stale === true)) {
          state.map.readyAt = performance.now();
          showPoints(body, bin.xy);
          void loadDocuments(collection, { method, sample }, body, abort.signal);
        } else {
          await sleep(100, abort.signal); // the map changed between the two answers: ask again
          continue;
        }
      }
      if (status === 202 || body.status === 'running') {
        Object.assign(state.map, { status: 'running', phase: body.phase ?? '', progress: body.progress ?? 0 });
        setReplacing(points.ids.length > 0);
        showProgress(body.phase, body.progress);
        await sleep(delay, abort.signal);
        delay = Math.min(1000, delay * 1.5);
        continue;
      }
      state.map.status = 'done';
      setReplacing(false);
      el.progress.hidden = true;
      return;
    }
  } catch (e) {
    if (abort.signal.aborted) return;
    state.map.status = 'error';
    setReplacing(false);
    el.progress.hidden = true;
    const wanted = METHOD_NAMES[method] ?? method;
    el.mapStatus.textContent = points.ids.length > 0
      ? `no ${wanted} map (the error is above); the ${METHOD_NAMES[points.method] ?? points.method} map stays`
      : 'no map';
    showError(e);
  }
}

/** The documents of the map shown, for the tooltip: fetched once the points are drawn. */
async function loadDocuments(collection, { method, sample }, shown, signal) {
  try {
    const { body } = await api.projection(collection, { method, sample, include: ['documents'] }, signal);
    if (signal.aborted || !Array.isArray(body.documents) || points.seq !== body.seq || points.ids.length !== body.ids.length) return;
    if (points.ids !== shown.ids || !body.ids.every((id, i) => id === points.ids[i])) return;
    points.documents = body.documents;
  } catch {
    // The map stays; its tooltips show no text (the next map asks again).
  }
}

function sameMap(body) {
  return points.seq === body.seq && points.method === body.method && points.stale === (body.stale === true) && points.ids.length === body.ids.length
    && points.ids.every((id, i) => id === body.ids[i]);
}

function showPoints(body, xy) {
  const ids = body.ids;
  points = {
    ids,
    seq: body.seq,
    method: body.method,
    stale: body.stale === true,
    index: new Map(ids.map((id, i) => [id, i])),
    metadatas: body.metadatas ?? [],
    documents: body.documents ?? [],
  };
  state.map.ids = ids;
  state.map.count = ids.length;
  state.map.total = body.total ?? body.count ?? ids.length;
  state.map.stale = body.stale === true;
  // Fitted anew: another method or a recomputed map puts the same records elsewhere.
  map.setPoints(xy, ids.length);
  el.tooltip.hidden = true;
  tipHeld = -1;
  const fields = metadataFields(points.metadatas);
  el.colorBy.replaceChildren(new Option('(none)', ''), ...fields.map((f) => new Option(f, f)));
  if (!fields.includes(state.colorBy)) state.colorBy = defaultField(points.metadatas, fields);
  el.colorBy.value = state.colorBy;
  applyColors();
  applyMarks();
  // The sample is spread over the whole collection (the server's rule: docs/projections.md).
  const total = state.map.total;
  const name = METHOD_NAMES[body.method] ?? body.method;
  el.mapStatus.textContent = (total > ids.length ? `${name} of ${fmt(ids.length)} of ${fmt(total)} records, sampled evenly` : `${name} of ${fmt(ids.length)} records`)
    + (state.map.stale ? ' · the collection changed: an updated map is being computed' : '');
  el.mapStatus.title = total > ids.length
    ? `a seeded sample spread over the whole collection (every record equally likely), not its first ${fmt(ids.length)}; a larger sample maps more`
    : '';
}

function applyColors() {
  const scheme = colorScheme(points.metadatas, points.ids.length, state.colorBy);
  map.setColors(scheme.colorIndex, scheme.colors);
  renderLegend(el.legend, state.colorBy, scheme.legend, scheme.scale);
}

/** The map's marks from the results shown and the picked point. */
function applyMarks() {
  const onMap = (ids) => ids.map((id) => points.index.get(id)).filter((i) => i !== undefined);
  const picked = state.pickedId === null ? -1 : points.index.get(state.pickedId) ?? -1;
  const r = state.results;
  map.setMarks({
    picked,
    neighbours: r.kind === 'neighbours' ? onMap(r.ids) : [],
    results: r.kind === 'search' ? onMap(r.ids) : [],
  });
}

function placeTooltip(clientX, clientY) {
  const wrap = el.mapWrap.getBoundingClientRect();
  el.tooltip.hidden = false;
  const w = el.tooltip.offsetWidth, h = el.tooltip.offsetHeight;
  let x = clientX - wrap.left + 14, y = clientY - wrap.top + 14;
  if (x + w > wrap.width - 4) x = Math.max(4, clientX - wrap.left - w - 14);
  if (y + h > wrap.height - 4) y = Math.max(4, clientY - wrap.top - h - 14);
  el.tooltip.style.transform = `translate(${x}px, ${y}px)`;
}

// --- search and neighbours --------------------------------------------------------------------

function clearResults() {
  state.results = { kind: '', query: '', mode: '', ids: [], scores: [], error: null };
  state.pickedId = null;
  el.results.replaceChildren();
  el.resultsHead.textContent = '';
  applyMarks();
}

function clearPick() {
  if (state.pickedId === null) return;
  state.pickedId = null;
  if (state.results.kind === 'neighbours') clearResults();
  else applyMarks();
}

async function runQuery(request, results) {
  queryAbort?.abort();
  const abort = new AbortController();
  queryAbort = abort;
  const k = Number(el.k.value);
  el.resultsHead.textContent = 'searching…';
  try {
    const answer = await api.query(state.collection, { ...request, k, include: ['documents', 'metadatas'] }, abort.signal);
    if (abort.signal.aborted) return;
    clearError();
    state.results = { ...results, ids: answer.ids, scores: answer.scores, error: null };
    applyMarks();
    renderResults(el.results, el.resultsHead, state.results, answer, points.index, {
      onEnter: (id) => map.setMarks({ hovered: points.index.get(id) ?? -1 }),
      onLeave: () => map.setMarks({ hovered: -1 }),
      onPick: (id) => void showNeighbours(id),
    });
  } catch (e) {
    if (abort.signal.aborted) return;
    // Whatever the API refused (a 4xx such as 400 for text with no known word, or 404) or could not
    // answer: its message where the results go, so no earlier list stands for the answer.
    const error = {
      code: e instanceof ApiError ? e.code : 'error',
      message: e instanceof Error ? e.message : String(e),
      status: e instanceof ApiError ? e.status : undefined,
    };
    state.results = { ...results, ids: [], scores: [], error };
    applyMarks();
    renderResultsError(el.results, el.resultsHead, results, error);
    showError(e);
  }
}

async function search(text) {
  if (text.trim() === '') { clearResults(); return; }
  state.pickedId = null;
  const request = state.encoder ? { text } : { fullText: text };
  await runQuery(request, { kind: 'search', query: text, mode: state.encoder ? 'text' : 'fullText' });
}

async function showNeighbours(id) {
  state.pickedId = id;
  applyMarks();
  await runQuery({ id }, { kind: 'neighbours', query: id, mode: 'id' });
}

// --- controls ---------------------------------------------------------------------------------

el.collection.addEventListener('change', () => void selectCollection(el.collection.value).catch(showError));
/** The server's largest sample per method (docs/server.md). */
const MAX_SAMPLE = { pca: 100_000, umap: 50_000, tsne: 100_000 };

/** Called when the method is set: the sample offered and picked for it. */
function limitSample() {
  // t-SNE (Barnes–Hut) takes about 4 s per 1,000 points on one core: start at 1,000, the larger samples stay on offer.
  if (el.method.value === 'tsne' && Number(el.sample.value) > 1000) el.sample.value = '1000';
  const max = MAX_SAMPLE[el.method.value] ?? Infinity;
  for (const o of el.sample.options) o.disabled = Number(o.value) > max;
  if (Number(el.sample.value) > max) el.sample.value = String(max);
  state.sample = Number(el.sample.value);
}

el.method.addEventListener('change', () => {
  limitSample();
  state.method = el.method.value;
  setUrl();
  void loadMap();
});
el.sample.addEventListener('change', () => {
  state.sample = Number(el.sample.value);
  void loadMap();
});
el.colorBy.addEventListener('change', () => {
  state.colorBy = el.colorBy.value;
  applyColors();
});
el.fit.addEventListener('click', () => map.fit());
el.searchForm.addEventListener('submit', (e) => {
  e.preventDefault();
  void search(el.searchInput.value);
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') clearPick();
});

/** Read-only hooks for tests and the console: a copy of the state, and where a record is drawn. */
window.omnivecExplorer = Object.freeze({
  get state() {
    return JSON.parse(JSON.stringify(state));
  },
  /** Client (page) coordinates of a record's point, or null when it is not on the visible map. */
  pointScreenPosition(id) {
    const i = points.index.get(id);
    return i === undefined ? null : map.clientPosition(i);
  },
  /**
   * The last frames the map drew (`{ start, end }`, performance.now() ms) and when the last map's
   * points arrived (`readyAt`): bench:projection's frame times come from here.
   */
  frames() {
    return { readyAt: state.map.readyAt ?? null, frames: map.frames };
  },
  /** The ids the map marks: the picked point, its neighbours (lines), search results (rings), the hovered point. */
  marks() {
    const m = map.marks;
    const id = (i) => (i >= 0 ? points.ids[i] : null);
    return { picked: id(m.picked), hovered: id(m.hovered), neighbours: m.neighbours.map(id), results: m.results.map(id) };
  },
});

loadCollections().catch(showError);
