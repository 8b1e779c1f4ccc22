// The live dashboard: one `state` event a second from /dashboard/events (see runtime/server/dashboard/
// snapshot.ts for its fields). The page keeps the last two minutes of each model's figures for the charts.
import { bars, lines, pointsAndLine } from './charts.js';

const historySeconds = 120;
/** Per model: [{ atMs, meanBatch, boundMs, measuredMs }], oldest first. */
const history = new Map();

const num = (v, digits = 1) => (v === null || v === undefined ? '–' : Number(v).toFixed(digits));
const pct = (v) => (v === null || v === undefined ? '–' : `${(100 * v).toFixed(1)}%`);

function el(tag, props = {}, ...children) {
  const n = Object.assign(document.createElement(tag), props);
  n.append(...children);
  return n;
}

/** An element whose field name tests and scripts can find: `[data-field=rate]`. */
function field(tag, name, text, className = '') {
  const n = el(tag, { textContent: text, className });
  n.dataset.field = name;
  return n;
}

function functionRow(f) {
  const row = el('tr');
  row.dataset.function = f.name;
  const fields = [
    ['name', f.name],
    ['model', f.model],
    ['status', f.status, f.status === 'ready' ? '' : 'bad'],
    ['rate', num(f.ratePerSec)],
    ['p50', num(f.p50Ms)],
    ['p99', num(f.p99Ms), f.p99Ms !== null && f.p99Ms > f.sloMs ? 'warn' : ''],
    ['slo', num(f.sloMs, 0)],
    ['attainment', pct(f.attainment)],
    ['shed', String(f.shed), f.shed > 0 ? 'warn' : ''],
    ['batch', num(f.meanBatch)],
    ['version', f.version],
    ['origin', f.origin],
  ];
  row.append(...fields.map(([name, text, className]) => field('td', name, text, className)));
  if (f.warning) row.title = f.warning;
  return row;
}

function renderProblems(state) {
  const items = [
    ...state.problems.map((p) => el('li', {}, el('code', { textContent: p.file }), `: ${p.message}`)),
    ...state.models
      .filter((m) => m.state === 'failed')
      .map((m) => el('li', {}, 'model ', el('code', { textContent: m.name }), ` failed to load: ${m.error}`)),
  ];
  document.getElementById('problems').replaceChildren(...(items.length ? items : [el('li', { className: 'muted', textContent: 'none' })]));
}

/** The card of one model, made once and then updated in place. */
function modelCard(name) {
  let card = document.querySelector(`.model[data-model="${CSS.escape(name)}"]`);
  if (card) return card;
  card = el('div', { className: 'model' });
  card.dataset.model = name;
  const chart = (id, caption) =>
    el(
      'figure',
      {},
      el('figcaption', { textContent: caption }),
      Object.assign(document.createElementNS('http://www.w3.org/2000/svg', 'svg'), { id: `${name}-${id}` }),
    );
  card.append(
    el('h3', { textContent: name }),
    el('div', { className: 'figures' }),
    el(
      'div',
      { className: 'charts' },
      chart('batch', 'Mean batch size, each second'),
      chart('histogram', 'Batch sizes since start'),
      chart('fit', 'Device time per batch: fitted line and the points it was fitted on'),
      chart('bound', 'Bound against the measured mean (queue + device)'),
    ),
  );
  document.getElementById('models').append(card);
  return card;
}

function renderModel(m) {
  const card = modelCard(m.name);
  const h = history.get(m.name) ?? [];
  h.push({ atMs: Date.now(), meanBatch: m.interval?.meanBatch ?? null, boundMs: m.boundMs, measuredMs: m.interval?.measuredMs ?? null });
  while (h.length > historySeconds) h.shift();
  history.set(m.name, h);

  const share = m.hostMs !== null && m.deviceMs !== null && m.hostMs + m.deviceMs > 0 ? m.hostMs / (m.hostMs + m.deviceMs) : null;
  // The bound of a stage is unbounded (null) when that stage is saturated at the live rate.
  const shareText =
    m.boundMs === null && m.fit === null
      ? '–'
      : m.deviceMs === null
        ? 'device stage saturated'
        : m.hostMs === null
          ? 'host stage saturated'
          : `host ${pct(share)} / device ${pct(1 - share)}`;
  const figures = [
    ['state', m.state, m.state === 'failed' ? 'bad' : ''],
    ['policy', m.policy],
    ['rate', `${num(m.ratePerSec)} /s`],
    ['batch-now', num(m.interval?.meanBatch)],
    ['batches', String(m.batches)],
    ['hold', `${num(m.holdMs, 2)} ms`],
    ['bound', `${num(m.boundMs, 2)} ms`],
    ['measured', `${num(m.interval?.measuredMs, 2)} ms`],
    ['host-share', shareText],
    ['joules', `${num(m.joulesPerInference, 4)} J/inference`],
    [
      'fit',
      m.fit ? `τ(b) = ${num(m.fit.alphaMs, 3)}·b + ${num(m.fit.tau0Ms, 3)} ms (r² ${num(m.fit.r2, 2)}, ${m.fit.quality})` : 'no fit yet',
    ],
  ];
  const labels = { 'batch-now': 'batch now', 'host-share': 'latency share', joules: 'energy' };
  card
    .querySelector('.figures')
    .replaceChildren(
      ...figures.map(([name, text, className]) => el('span', {}, `${labels[name] ?? name} `, field('b', name, text, className))),
      ...(m.warning ? [el('span', { className: 'warn', textContent: m.warning })] : []),
    );

  const t0 = h[0].atMs;
  const at = (p) => (p.atMs - t0) / 1000;
  const svg = (id) => document.getElementById(`${m.name}-${id}`);
  const span = [0, Math.max(at(h[h.length - 1]), 1)];
  lines(svg('batch'), [{ label: 'mean batch', color: '#4e79a7', points: h.map((p) => [at(p), p.meanBatch]) }], span, 'seconds', 'items');
  bars(svg('histogram'), m.histogram, 'batch size', 'batches');
  pointsAndLine(
    svg('fit'),
    [
      { label: 'warm-up probe', color: '#e15759', points: m.points.anchors },
      { label: 'recent batches', color: '#4e79a7', points: m.points.recent },
    ],
    m.fit && { label: 'fit', color: '#1d2330', slope: m.fit.alphaMs, intercept: m.fit.tau0Ms },
    'batch size',
    'ms',
  );
  lines(
    svg('bound'),
    [
      { label: 'bound U_h', color: '#e15759', points: h.map((p) => [at(p), p.boundMs]) },
      { label: 'measured', color: '#4e79a7', points: h.map((p) => [at(p), p.measuredMs]) },
    ],
    span,
    'seconds',
    'ms',
  );
}

function render(state) {
  renderProblems(state);
  document.getElementById('functions').replaceChildren(...state.functions.map(functionRow));
  for (const m of state.models) renderModel(m);
  document.getElementById('connection').textContent = `live · ${new Date(state.atMs).toLocaleTimeString()}`;
}

const events = new EventSource('/dashboard/events');
events.addEventListener('state', (e) => render(JSON.parse(e.data)));
// EventSource reconnects by itself; say so while it does.
events.addEventListener('error', () => (document.getElementById('connection').textContent = 'reconnecting…'));
