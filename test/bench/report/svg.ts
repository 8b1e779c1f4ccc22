/**
 * Small hand-written SVG charts (no charting dependency): a line chart with linear or log y, reference
 * lines and a legend, and a grouped bar chart. Plain SVG 1.1 that browsers and rsvg render alike.
 */

export interface Series {
  label: string;
  color: string;
  dashed?: boolean;
  /** Points; a non-finite y is drawn as a marker on the top edge ("off the chart"). */
  points: { x: number; y: number }[];
  marker?: 'circle' | 'square' | 'none';
}

export interface RefLine {
  label: string;
  color: string;
  y: number;
  dashed?: boolean;
}

export interface LineChart {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  logY?: boolean;
  series: Series[];
  refLines?: RefLine[];
  /** A diagonal y = x (e.g. offered load on a goodput chart). */
  identity?: { label: string; color: string };
  yMax?: number;
  yMin?: number;
}

const W = 940;
const H = 540;
const M = { left: 80, right: 280, top: 64, bottom: 64 };
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceTicks(lo: number, hi: number, n = 6): number[] {
  const span = hi - lo || 1;
  const raw = span / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => span / s <= n) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 1000) return `${Number((v / 1000).toPrecision(3))}k`;
  if (Math.abs(v) >= 1) return String(Number(v.toPrecision(3)));
  return String(Number(v.toPrecision(2)));
}

function frame(title: string, subtitle: string | undefined, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="13">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${M.left}" y="26" font-size="17" font-weight="bold">${esc(title)}</text>`,
    subtitle ? `<text x="${M.left}" y="46" font-size="12" fill="#555">${esc(subtitle)}</text>` : '',
    ...body,
    '</svg>',
  ].join('\n');
}

/** Renders a line chart to an SVG string. */
export function lineChart(c: LineChart): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const xs = c.series.flatMap((s) => s.points.map((p) => p.x)).filter(Number.isFinite);
  const ys = [...c.series.flatMap((s) => s.points.map((p) => p.y)), ...(c.refLines ?? []).map((r) => r.y)].filter(
    (y) => Number.isFinite(y) && (!c.logY || y > 0),
  );
  const xMin = 0;
  const xMax = Math.max(1, ...xs) * 1.05;
  let yMin = c.yMin ?? (c.logY ? Math.max(1e-3, Math.min(...ys)) : 0);
  let yMax = c.yMax ?? Math.max(...ys, 1);
  if (c.logY) {
    yMin = 10 ** Math.floor(Math.log10(yMin));
    yMax = 10 ** Math.ceil(Math.log10(yMax));
  } else {
    yMax *= 1.08;
  }
  const X = (x: number) => M.left + ((x - xMin) / (xMax - xMin)) * pw;
  const Y = (y: number) => {
    const t = c.logY
      ? (Math.log10(Math.max(y, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))
      : (y - yMin) / (yMax - yMin);
    return M.top + ph - Math.max(0, Math.min(1, t)) * ph;
  };
  const body: string[] = [];
  // grid and axes
  const yTicks = c.logY ? Array.from({ length: Math.round(Math.log10(yMax / yMin)) + 1 }, (_, i) => yMin * 10 ** i) : niceTicks(yMin, yMax);
  for (const t of yTicks) {
    body.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${Y(t)}" y2="${Y(t)}" stroke="#e3e3e3"/>`);
    body.push(`<text x="${M.left - 8}" y="${Y(t) + 4}" text-anchor="end" fill="#333">${fmt(t)}</text>`);
  }
  for (const t of niceTicks(xMin, xMax)) {
    if (t > xMax) continue;
    body.push(`<line x1="${X(t)}" x2="${X(t)}" y1="${M.top}" y2="${M.top + ph}" stroke="#f0f0f0"/>`);
    body.push(`<text x="${X(t)}" y="${M.top + ph + 18}" text-anchor="middle" fill="#333">${fmt(t)}</text>`);
  }
  body.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  body.push(`<text x="${M.left + pw / 2}" y="${H - 18}" text-anchor="middle">${esc(c.xLabel)}</text>`);
  body.push(
    `<text transform="translate(20 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}${c.logY ? ' (log scale)' : ''}</text>`,
  );
  const legend: string[] = [];
  let ly = M.top + 8;
  const legendRow = (label: string, color: string, dashed: boolean | undefined, marker: string) => {
    const lx = M.left + pw + 18;
    legend.push(
      `<line x1="${lx}" x2="${lx + 28}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2.5"${dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    if (marker === 'circle') legend.push(`<circle cx="${lx + 14}" cy="${ly}" r="3.5" fill="${color}"/>`);
    if (marker === 'square') legend.push(`<rect x="${lx + 10.5}" y="${ly - 3.5}" width="7" height="7" fill="${color}"/>`);
    legend.push(`<text x="${lx + 36}" y="${ly + 4}">${esc(label)}</text>`);
    ly += 20;
  };
  if (c.identity) {
    body.push(
      `<line x1="${X(0)}" y1="${Y(0)}" x2="${X(Math.min(xMax, yMax))}" y2="${Y(Math.min(xMax, yMax))}" stroke="${c.identity.color}" stroke-dasharray="2 4" stroke-width="1.5"/>`,
    );
    legendRow(c.identity.label, c.identity.color, true, 'none');
  }
  for (const r of c.refLines ?? []) {
    body.push(
      `<line x1="${M.left}" x2="${M.left + pw}" y1="${Y(r.y)}" y2="${Y(r.y)}" stroke="${r.color}" stroke-width="1.5"${r.dashed === false ? '' : ' stroke-dasharray="8 5"'}/>`,
    );
    legendRow(r.label, r.color, r.dashed !== false, 'none');
  }
  for (const s of c.series) {
    const pts = s.points.filter((p) => Number.isFinite(p.x)).sort((a, b) => a.x - b.x);
    const finite = pts.map((p) => ({
      x: X(p.x),
      y: Number.isFinite(p.y) ? Y(p.y) : M.top,
      off: !Number.isFinite(p.y) || (c.logY ? p.y > yMax : p.y > yMax),
    }));
    if (finite.length > 1) {
      body.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2.2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${finite.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ')}"/>`,
      );
    }
    for (const p of finite) {
      if (p.off) body.push(`<path d="M${p.x - 5},${p.y + 8} L${p.x + 5},${p.y + 8} L${p.x},${p.y} Z" fill="${s.color}"/>`);
      else if (s.marker === 'square') body.push(`<rect x="${p.x - 3.5}" y="${p.y - 3.5}" width="7" height="7" fill="${s.color}"/>`);
      else if (s.marker !== 'none') body.push(`<circle cx="${p.x}" cy="${p.y}" r="3.5" fill="${s.color}"/>`);
    }
    legendRow(s.label, s.color, s.dashed, s.marker ?? 'circle');
  }
  if (c.series.some((s) => s.points.some((p) => !Number.isFinite(p.y) || p.y > yMax))) {
    ly += 6;
    legend.push(`<path d="M${M.left + pw + 27},${ly + 4} L${M.left + pw + 37},${ly + 4} L${M.left + pw + 32},${ly - 4} Z" fill="#555"/>`);
    legend.push(`<text x="${M.left + pw + 54}" y="${ly + 4}" fill="#555">off the chart / timed out</text>`);
  }
  return frame(c.title, c.subtitle, [...body, ...legend]);
}

export interface BarChart {
  title: string;
  subtitle?: string;
  yLabel: string;
  groups: string[];
  bars: { label: string; color: string; values: (number | null)[] }[];
  yMax?: number;
}

/** Renders a grouped bar chart (one group per scenario, one bar per peer) to an SVG string. */
export function barChart(c: BarChart): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom - 30;
  const all = c.bars.flatMap((b) => b.values).filter((v): v is number => v !== null && Number.isFinite(v));
  const yMax = (c.yMax ?? Math.max(1e-9, ...all)) * 1.1;
  const Y = (v: number) => M.top + ph - (Math.max(0, v) / yMax) * ph;
  const body: string[] = [];
  for (const t of niceTicks(0, yMax)) {
    if (t > yMax) continue;
    body.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${Y(t)}" y2="${Y(t)}" stroke="#e3e3e3"/>`);
    body.push(`<text x="${M.left - 8}" y="${Y(t) + 4}" text-anchor="end" fill="#333">${fmt(t)}</text>`);
  }
  const gw = pw / c.groups.length;
  const bw = (gw * 0.8) / c.bars.length;
  c.groups.forEach((g, gi) => {
    const gx = M.left + gi * gw + gw * 0.1;
    c.bars.forEach((b, bi) => {
      const v = b.values[gi];
      if (v === null || !Number.isFinite(v)) return;
      body.push(
        `<rect x="${(gx + bi * bw).toFixed(1)}" y="${Y(v).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(M.top + ph - Y(v)).toFixed(1)}" fill="${b.color}"/>`,
      );
    });
    const lines = g.split('\n');
    lines.forEach((line, li) =>
      body.push(`<text x="${gx + gw * 0.4}" y="${M.top + ph + 18 + li * 15}" text-anchor="middle" font-size="12">${esc(line)}</text>`),
    );
  });
  body.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  body.push(`<text transform="translate(20 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`);
  let ly = M.top + 8;
  for (const b of c.bars) {
    const lx = M.left + pw + 18;
    body.push(`<rect x="${lx}" y="${ly - 6}" width="14" height="12" fill="${b.color}"/>`);
    body.push(`<text x="${lx + 22}" y="${ly + 4}">${esc(b.label)}</text>`);
    ly += 20;
  }
  return frame(c.title, c.subtitle, body);
}
