// The bundle's items as a graph: columns by dependency depth, arrows from each item to the
// items that come after it, colours by phase, the current state written in each box.
// A reviewer sees only their department's items: an item that waits for items they cannot see
// gets a dashed arrow from the left edge ("前置事项由其他部门办理") instead of an edge to nothing.
import { t } from './i18n.js';
import { departmentTitle, stateTitle } from './titles.js';

const ns = 'http://www.w3.org/2000/svg';
const svg = (tag, attributes, text) => {
  const element = document.createElementNS(ns, tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text !== undefined) element.textContent = text;
  return element;
};

const boxWidth = 180, padding = 8, titleSize = 13, lineHeight = 17, columnGap = 60, rowGap = 16, stubLength = 34;

// Text width by character class: CJK and full-width characters take the font size, others
// a little over half. Good enough to wrap before the box's edge (the test measures it).
const widthOf = (text, size) => [...text].reduce((w, c) => w + (/[\u2e80-\uffef]/.test(c) ? size : size * 0.6), 0);

/** The title in at most two lines that fit the box; the second ends in … when cut. */
function wrap(title, size, width) {
  const lines = [''];
  for (const c of title) {
    if (widthOf(lines[lines.length - 1] + c, size) > width) {
      if (lines.length === 2) {
        let last = lines[1];
        while (last && widthOf(last + '…', size) > width) last = last.slice(0, -1);
        lines[1] = last + '…';
        return lines;
      }
      lines.push('');
    }
    lines[lines.length - 1] += c;
  }
  return lines;
}

/** An SVG of the items (the case view's `items`, with `after`). */
export function processGraph(items) {
  const byId = new Map(items.map((item) => [item.item, item]));
  const visibleBefore = (item) => item.after.filter((a) => byId.has(a));
  const depth = new Map();
  const depthOf = (id, seen = new Set()) => {
    if (depth.has(id)) return depth.get(id);
    if (seen.has(id)) return 0;  // a cycle cannot be deployed; never loop
    seen.add(id);
    const before = visibleBefore(byId.get(id));
    const d = before.length ? 1 + Math.max(...before.map((a) => depthOf(a, seen))) : 0;
    depth.set(id, d);
    return d;
  };
  items.forEach((item) => depthOf(item.item));
  const columns = [];
  for (const item of items) (columns[depth.get(item.item)] ||= []).push(item);
  const hiddenBefore = items.some((item) => item.after.length > visibleBefore(item).length);
  const left = 10 + (hiddenBefore ? stubLength : 0);
  const titles = new Map(items.map((item) => [item.item, wrap(item.title || '', titleSize, boxWidth - 2 * padding)]));
  const boxHeight = 2 * padding + Math.max(...[...titles.values()].map((lines) => lines.length), 1) * lineHeight + 18;
  const position = new Map();
  columns.forEach((column, c) => column.forEach((item, r) =>
    position.set(item.item, { x: left + c * (boxWidth + columnGap), y: 10 + r * (boxHeight + rowGap) })));
  const rows = Math.max(1, ...columns.map((column) => (column ? column.length : 0)));
  const width = left + 10 + columns.length * (boxWidth + columnGap) - columnGap;
  const height = 20 + rows * (boxHeight + rowGap) - rowGap;
  const root = svg('svg', { id: 'process-graph', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': t('process') });
  const marker = svg('marker', { id: 'arrow', markerWidth: 8, markerHeight: 8, refX: 7, refY: 4, orient: 'auto' });
  marker.append(svg('path', { d: 'M0,0 L8,4 L0,8 z', fill: '#6b7785' }));
  const defs = svg('defs', {});
  defs.append(marker);
  root.append(defs);
  for (const item of items) {
    const to = position.get(item.item);
    for (const a of visibleBefore(item)) {
      const from = position.get(a);
      root.append(svg('line', { x1: from.x + boxWidth, y1: from.y + boxHeight / 2, x2: to.x - 2, y2: to.y + boxHeight / 2, stroke: '#6b7785', 'marker-end': 'url(#arrow)' }));
    }
    if (item.after.length > visibleBefore(item).length) {
      const stub = svg('line', { x1: to.x - stubLength, y1: to.y + boxHeight / 2, x2: to.x - 2, y2: to.y + boxHeight / 2, stroke: '#9aa5b1',
        'stroke-dasharray': '3 3', 'marker-end': 'url(#arrow)', class: 'hidden-before' });
      stub.append(svg('title', {}, t('before_other_department')));
      root.append(stub);
    }
  }
  const fill = { done: '#c8e6c9', active: '#ffebee', waiting: '#eceff1', not_applicable: '#ffffff', cancelled: '#f5f5f5' };
  for (const item of items) {
    const { x, y } = position.get(item.item);
    const group = svg('g', { class: 'graph-item' });
    group.append(svg('title', {}, `${item.title} · ${departmentTitle(item.department)}`));
    const stroke = item.light === 'red' ? '#c62828' : item.light === 'yellow' ? '#f9a825' : item.phase === 'active' ? '#b71c1c' : '#9aa5b1';
    group.append(svg('rect', { x, y, width: boxWidth, height: boxHeight, rx: 6, fill: fill[item.phase] || '#fff', stroke,
      'stroke-width': item.phase === 'active' ? 2.5 : 1, 'stroke-dasharray': item.phase === 'not_applicable' ? '4 3' : 'none', 'data-item': item.item }));
    titles.get(item.item).forEach((line, i) =>
      group.append(svg('text', { x: x + padding, y: y + padding + (i + 1) * lineHeight - 4, 'font-size': titleSize, 'font-weight': 600 }, line)));
    group.append(svg('text', { x: x + padding, y: y + boxHeight - padding - 2, 'font-size': 12, fill: '#52606d' },
      `${t(item.phase)} · ${stateTitle(item.state, item.state_title)}`));
    root.append(group);
  }
  return root;
}
