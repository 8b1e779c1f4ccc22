// Three small SVG charts, drawn by hand: lines over time, a histogram, and points with a fitted line.
// Each call redraws its <svg> from scratch; the data are a few hundred numbers at most.

const NS = 'http://www.w3.org/2000/svg';
const W = 360;
const H = 150;
const pad = { left: 44, right: 8, top: 8, bottom: 26 };

function node(tag, attrs = {}, text) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text !== undefined) n.textContent = text;
  return n;
}

/** A short label for an axis end: 1234 -> "1.2k", 0.0123 -> "0.012". */
function short(v) {
  if (v >= 1000) return `${(v / 1000).toFixed(1)}k`;
  return v >= 10 ? v.toFixed(0) : Number(v.toPrecision(2)).toString();
}

/** Clears `svg` and draws axes for [x0, x1] x [0, yMax]; returns the two scales. */
function frame(svg, [x0, x1], yMax, xLabel, yLabel) {
  svg.replaceChildren();
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const x = (v) => pad.left + ((v - x0) / (x1 - x0 || 1)) * (W - pad.left - pad.right);
  const y = (v) => H - pad.bottom - (v / (yMax || 1)) * (H - pad.top - pad.bottom);
  const axis = { stroke: '#98a2b3', 'stroke-width': 1 };
  svg.append(
    node('line', { x1: pad.left, y1: y(0), x2: W - pad.right, y2: y(0), ...axis }),
    node('line', { x1: pad.left, y1: y(0), x2: pad.left, y2: pad.top, ...axis }),
    node('text', { x: pad.left - 4, y: pad.top + 8, 'text-anchor': 'end', class: 'tick' }, short(yMax)),
    node('text', { x: pad.left - 4, y: y(0), 'text-anchor': 'end', class: 'tick' }, '0'),
    node('text', { x: pad.left, y: H - 12, class: 'tick' }, short(x0)),
    node('text', { x: W - pad.right, y: H - 12, 'text-anchor': 'end', class: 'tick' }, short(x1)),
    node('text', { x: (W + pad.left) / 2, y: H - 2, 'text-anchor': 'middle', class: 'label' }, xLabel),
    node(
      'text',
      { x: 10, y: (H - pad.bottom) / 2, transform: `rotate(-90 10 ${(H - pad.bottom) / 2})`, 'text-anchor': 'middle', class: 'label' },
      yLabel,
    ),
  );
  return { x, y };
}

function legend(svg, items) {
  items.forEach(({ label, color }, i) =>
    svg.append(node('text', { x: W - pad.right - 4, y: pad.top + 10 + 12 * i, 'text-anchor': 'end', fill: color, class: 'label' }, label)),
  );
}

/** Lines over x; a null y breaks the line (no batch in that second). */
export function lines(svg, series, xRange, xLabel, yLabel) {
  const ys = series.flatMap((s) => s.points.map((p) => p[1]).filter((v) => v !== null));
  const { x, y } = frame(svg, xRange, ys.length ? Math.max(...ys) * 1.1 : 1, xLabel, yLabel);
  for (const s of series) {
    let d = '';
    let pen = 'M';
    for (const [px, py] of s.points) {
      if (py === null) pen = 'M';
      else ((d += `${pen}${x(px).toFixed(1)},${y(py).toFixed(1)}`), (pen = 'L'));
    }
    if (d) svg.append(node('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 1.5 }));
  }
  legend(svg, series);
}

/** One bar per bucket, labelled by its upper bound. */
export function bars(svg, buckets, xLabel, yLabel) {
  const { y } = frame(svg, [0, 0], Math.max(...buckets.map((b) => b.count), 1), '', yLabel);
  const slot = (W - pad.left - pad.right) / buckets.length;
  buckets.forEach((b, i) => {
    const left = pad.left + i * slot;
    svg.append(
      node('rect', { x: left + 2, y: y(b.count), width: slot - 4, height: y(0) - y(b.count), fill: '#4e79a7' }),
      node('text', { x: left + slot / 2, y: H - 14, 'text-anchor': 'middle', class: 'tick' }, `≤${b.le}`),
    );
  });
  svg.append(node('text', { x: (W + pad.left) / 2, y: H - 2, 'text-anchor': 'middle', class: 'label' }, xLabel));
}

/** Point groups ([x, y] pairs) and the line y = slope * x + intercept over them. */
export function pointsAndLine(svg, groups, line, xLabel, yLabel) {
  const all = groups.flatMap((g) => g.points);
  const xMax = Math.max(...all.map((p) => p[0]), 1);
  const lineAt = (v) => (line ? line.slope * v + line.intercept : 0);
  const { x, y } = frame(svg, [0, xMax], Math.max(...all.map((p) => p[1]), lineAt(xMax), 1e-9) * 1.1, xLabel, yLabel);
  for (const g of groups)
    for (const [px, py] of g.points) svg.append(node('circle', { cx: x(px), cy: y(py), r: 2.5, fill: g.color, 'fill-opacity': 0.7 }));
  if (line)
    svg.append(node('line', { x1: x(0), y1: y(lineAt(0)), x2: x(xMax), y2: y(lineAt(xMax)), stroke: line.color, 'stroke-width': 1.5 }));
  legend(svg, [...groups, ...(line ? [line] : [])]);
}
