/* global document */
// DOM pieces of the page: the results list, the hover tooltip, the legend. Text goes in through
// textContent only (records are user data).

function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k === 'style') node.style.cssText = v;
    else if (k.startsWith('data-')) node.setAttribute(k, v);
    else node[k] = v;
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function cut(text, n) {
  if (typeof text !== 'string') return '';
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

function value(v) {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Metadata as key: value chips. */
function metadataList(metadata, max = 12) {
  if (metadata === null || typeof metadata !== 'object') return null;
  const entries = Object.entries(metadata);
  if (entries.length === 0) return null;
  const list = h('dl', { class: 'meta' });
  for (const [k, v] of entries.slice(0, max)) list.append(h('div', {}, h('dt', { text: k }), h('dd', { text: cut(value(v), 80) })));
  if (entries.length > max) list.append(h('div', {}, h('dt', { text: '…' }), h('dd', { text: `${entries.length - max} more` })));
  return list;
}

function formatScore(s) {
  if (s === null || s === undefined) return '—';
  return Math.abs(s) >= 1000 ? s.toFixed(1) : s.toFixed(4);
}

/**
 * The hits of a query.
 * @param {{kind: string, query: string, mode: string}} results what was asked
 * @param {{ids: string[], scores: number[], documents?: (string|null)[], metadatas?: object[]}} answer the server's answer
 * @param {Map<string, number>} onMap the map's point index of each id
 */
export function renderResults(list, head, results, answer, onMap, { onEnter, onLeave, onPick }) {
  const n = answer.ids.length;
  const what = results.kind === 'neighbours'
    ? `${n} nearest neighbours of ${results.query}`
    : `${n} results for “${cut(results.query, 60)}”${results.mode === 'fullText' ? ' (full-text)' : ''}`;
  head.textContent = n === 0 ? (results.kind === 'neighbours' ? `no neighbours of ${results.query}` : 'no results') : what;
  list.replaceChildren(...answer.ids.map((id, i) => {
    const score = answer.scores[i];
    const missing = !onMap.has(id);
    const item = h('li', { class: 'result', 'data-testid': 'result', 'data-id': id, 'data-rank': String(i + 1), 'data-score': String(score), tabIndex: 0 },
      h('div', { class: 'result-head' },
        h('span', { class: 'rank', text: `${i + 1}` }),
        h('span', { class: 'id', text: id, 'data-testid': 'result-id' }),
        missing ? h('span', { class: 'badge', text: 'not on the map', title: 'outside the map’s sample' }) : null,
        h('span', { class: 'score', text: formatScore(score), title: 'score (higher is better; for L2 the distance)', 'data-testid': 'result-score' })),
      answer.documents?.[i] ? h('p', { class: 'doc', text: cut(answer.documents[i], 300) }) : null,
      metadataList(answer.metadatas?.[i]));
    item.addEventListener('mouseenter', () => onEnter(id));
    item.addEventListener('mouseleave', () => onLeave(id));
    item.addEventListener('click', () => onPick(id));
    item.addEventListener('keydown', (e) => { if (e.key === 'Enter') onPick(id); });
    item.title = 'click for its neighbours';
    return item;
  }));
}

export function renderTooltip(tip, id, document, metadata) {
  tip.replaceChildren(
    h('div', { class: 'tip-id', text: id, 'data-testid': 'tooltip-id' }),
    document ? h('p', { class: 'doc', text: cut(document, 200) }) : null,
    metadataList(metadata, 8));
}

/**
 * @param {{color: string, label: string, count?: number, note?: string, value?: number}[]} items
 * @param {'rank' | undefined} scale a numeric field's scale: said under the title
 */
export function renderLegend(legend, field, items, scale) {
  legend.hidden = items.length === 0;
  legend.replaceChildren(...[
    h('li', { class: 'legend-title', text: field }),
    scale === 'rank'
      ? h('li', {
        class: 'legend-scale', 'data-testid': 'legend-scale', text: 'by rank: each shade ≈ as many points',
        title: 'colours follow the values’ order (quantiles), not their distance, so a skewed field uses every shade; the values at the stops are shown',
      })
      : null,
    ...items.map((it) => h('li', { 'data-testid': 'legend-item', ...(it.value === undefined ? {} : { 'data-value': String(it.value) }) },
      h('span', { class: 'swatch', style: `background:${it.color}` }),
      h('span', { text: it.label }),
      it.count !== undefined ? h('span', { class: 'count', text: it.count.toLocaleString('en') })
        : it.note !== undefined ? h('span', { class: 'count', text: it.note }) : null)),
  ].filter((node) => node !== null));
}

/**
 * A search or neighbour query the API refused (a 4xx: e.g. text with no known word, 400): its
 * message in place of the results, so no stale or empty list stands for an answer.
 * @param {{code: string, message: string, status?: number}} error
 */
export function renderResultsError(list, head, results, error) {
  head.textContent = results.kind === 'neighbours' ? `no neighbours of ${results.query}` : `no results for “${cut(results.query, 60)}”`;
  list.replaceChildren(h('li', { class: 'results-error', role: 'alert', 'data-testid': 'results-error' },
    h('strong', { text: error.code }), ' ', h('span', { text: error.message, 'data-testid': 'results-error-message' })));
}
