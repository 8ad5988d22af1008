// The worklist (#/worklist): a search box above tabs — 我的待办, 我办过的, 全部办件, 已超期,
// 待送达, 待评价 — each with its count, served page by page by the API (docs/console.md,
// docs/api.md). Item tabs list open items (a supervisor urges, 督办, the late ones from here);
// case tabs list cases, finished ones too. Keyboard: Tab reaches the search box, the tabs and
// the rows; Enter searches; ← → move between tabs; ↑ ↓ between rows; Enter opens a row.
import { t } from './i18n.js';
import { api, askReason, busy, errorSlot, errorText, h, stackedTable } from './ui.js';
import { deliveryText, departmentTitle } from './titles.js';

const PAGE = 50;

// Each tab: what it lists, and from which API query.
const TABS = [
  { id: 'mine', kind: 'items', query: () => '/api/worklist' },
  { id: 'done', kind: 'cases', query: () => '/api/cases?done_by=me' },
  { id: 'all', kind: 'cases', query: () => '/api/cases' },
  { id: 'overdue', kind: 'items', query: () => '/api/worklist?overdue=1' },
  { id: 'delivery', kind: 'cases', query: () => '/api/cases?status=completed' },
  { id: 'rating', kind: 'cases', query: () => '/api/cases?status=delivered' },
];

const caseHref = (caseId) => `#/case/${encodeURIComponent(caseId)}`;

// ↑ ↓ move between rows, Enter (or Space) opens the row's case.
function rowKeys(event, href) {
  if (event.target.closest('a, button')) return;
  if (event.key === 'Enter' || event.key === ' ') {
    event.preventDefault();  // Space would scroll the page
    location.hash = href;
  } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
    event.preventDefault();
    const row = event.currentTarget;
    const next = event.key === 'ArrowDown' ? row.nextElementSibling : row.previousElementSibling;
    if (next) next.focus();
  }
}

function itemRows(entries, me, reload) {
  return entries.map((e) => {
    const href = caseHref(e.case_id);
    const late = e.light === 'yellow' || e.light === 'red';
    let urgeCell = null;
    if (me.role === 'supervisor' && late && !e.urged) {
      const slot = errorSlot(`urge-error-${e.case_id}-${e.item}`);
      const button = h('button', { class: 'action urge', id: `urge-${e.case_id}-${e.item}`, type: 'button' }, t('urge'));
      button.addEventListener('click', async () => {
        const note = await askReason({ title: t('urge_title').replace('{item}', e.item_title || t('item')), note: t('urge_note'),
          label: t('urge_label'), confirm: t('urge') });
        if (note === null) return;
        await busy(button, async () => {
          slot.textContent = '';
          const answer = await api('POST', `/api/cases/${encodeURIComponent(e.case_id)}/items/${encodeURIComponent(e.item)}/urge`, { note });
          if (!answer.ok) slot.textContent = errorText(answer, { note: t('urge_label') });
          else reload();
        });
      });
      urgeCell = [button, slot];
    }
    // 会签: a department's part of another department's joint item, decided on the case page.
    const itemText = e.part ? t('countersign_row').replace('{item}', e.item_title || t('item'))
      .replace('{department}', e.part_title || departmentTitle(e.part)) : e.item_title || t('item');
    return h('tr', { class: `worklist-row${e.urged ? ' urged' : ''}${e.part ? ' part' : ''}`, tabindex: 0, 'data-case': e.case_id, 'data-item': e.item,
      'data-part': e.part || null,
      onclick: (event) => { if (!event.target.closest('a, button')) location.hash = href; },
      onkeydown: (event) => rowKeys(event, href) },
    // A paused clock has no running deadline: the row says since when it stands still. A
    // deadline past the calendar's declared years is provisional.
    h('td', { class: 'due' }, e.paused_since ? h('span', { class: 'paused' }, `${t('clock_paused')}（${t('since').replace('{time}', e.paused_since)}）`)
      : e.due && e.due !== '-' ? [e.due, e.due_provisional ? h('span', { class: 'provisional', title: t('provisional_hint') }, t('provisional')) : null]
        : t('none')),
    h('td', {}, e.light ? h('span', { class: `badge ${e.light}` }, t(e.light)) : h('span', { class: 'muted' }, t('none')),
      e.urged ? h('span', { class: 'badge urged', title: t('urged') }, t('urged')) : null),
    h('td', {}, h('a', { href, tabindex: -1 }, e.case_id)),
    h('td', {}, e.bundle_title || t('bundle')), h('td', {}, itemText),
    h('td', {}, e.state_title && e.state_title !== e.state ? e.state_title : t(`state_${e.state}`)), h('td', {}, departmentTitle(e.department)),
    me.role === 'supervisor' ? h('td', {}, urgeCell) : null);
  });
}

function caseRows(cases, withDelivery) {
  return cases.map((c) => {
    const href = caseHref(c.case_id);
    return h('tr', { class: 'worklist-row', tabindex: 0, 'data-case': c.case_id, id: `case-row-${c.case_id}`,
      onclick: (event) => { if (!event.target.closest('a')) location.hash = href; },
      onkeydown: (event) => rowKeys(event, href) },
    h('td', {}, h('a', { href, tabindex: -1 }, c.case_id)), h('td', {}, c.bundle_title || t('bundle')),
    h('td', {}, c.started_at), h('td', {}, c.updated_at), h('td', {}, t(`channel_${c.channel}`)),
    h('td', {}, h('span', { class: 'badge' }, t(c.status))), h('td', {}, c.applicant || t('none')),
    withDelivery ? h('td', { class: 'delivery-choice', id: `delivery-${c.case_id}` }, deliveryText(c.delivery_choice)) : null);
  });
}

/** The worklist page; `queryText` is what follows `#/worklist?` (tab, q, offset). */
export async function worklistPage(page, me, queryText) {
  const query = new URLSearchParams(queryText || '');
  const searching = (query.get('q') || '').trim();
  const tab = TABS.find((x) => x.id === query.get('tab')) || (searching ? TABS[2] : TABS[0]);
  const offset = Number(query.get('offset') || 0);
  const go = (changes) => {
    const next = new URLSearchParams(query);
    for (const [key, value] of Object.entries(changes)) {
      if (value === null || value === '') next.delete(key);
      else next.set(key, value);
    }
    const target = `#/worklist?${next}`;
    if (location.hash === target) worklistPage(page, me, next.toString());
    else location.hash = target;
  };
  const reload = () => worklistPage(page, me, query.toString());

  // The search box: Enter searches (a form), over every case the clerk may see.
  const input = h('input', { id: 'search-input', type: 'search', value: searching, placeholder: t('search_placeholder'),
    'aria-label': t('search_label'), autocomplete: 'off', size: 40 });
  const searchButton = h('button', { class: 'primary', id: 'search-submit', type: 'submit' }, t('search_button'));
  const search = h('form', { class: 'search', role: 'search', onsubmit: (event) => {
    event.preventDefault();
    go({ q: input.value.trim(), tab: input.value.trim() ? 'all' : query.get('tab'), offset: null });
  } }, h('label', { for: 'search-input' }, t('search_label')), input, searchButton,
  searching ? h('button', { class: 'secondary', id: 'search-clear', type: 'button', onclick: () => go({ q: null, offset: null }) }, t('search_clear')) : null);

  const listQuery = new URLSearchParams();
  listQuery.set('limit', String(PAGE));
  if (offset) listQuery.set('offset', String(offset));
  if (searching && tab.kind === 'cases') listQuery.set('q', searching);
  const path = tab.query();
  const [listed, counted] = await Promise.all([
    api('GET', `${path}${path.includes('?') ? '&' : '?'}${listQuery}`),
    api('GET', '/api/worklist/counts'),
  ]);
  const counts = counted.ok ? counted.data.counts : {};
  const cap = counted.ok ? counted.data.cap : Infinity;
  const countText = (n) => (n >= cap ? `${cap}+` : String(n));

  // Tabs: a tablist, ← → move between them (and open the tab).
  const tabs = TABS.map((x) => h('button', { role: 'tab', type: 'button', id: `tab-${x.id}`, class: `tab${x === tab ? ' active' : ''}`,
    'aria-selected': x === tab ? 'true' : 'false', tabindex: x === tab ? 0 : -1, 'aria-controls': 'worklist-panel',
    onclick: () => go({ tab: x.id, offset: null, q: x.kind === 'cases' ? query.get('q') : null }),
    onkeydown: (event) => {
      if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return;
      event.preventDefault();
      const i = TABS.indexOf(x) + (event.key === 'ArrowRight' ? 1 : TABS.length - 1);
      go({ tab: TABS[i % TABS.length].id, offset: null, q: TABS[i % TABS.length].kind === 'cases' ? query.get('q') : null });
    } },
  t(`tab_${x.id}`), counts[x.id] !== undefined ? h('span', { class: 'count', id: `count-${x.id}` }, countText(counts[x.id])) : null));

  let body;
  if (!listed.ok) {
    body = h('div', { class: 'error-box', role: 'alert', id: 'worklist-error' }, errorText(listed));
  } else {
    const withDelivery = tab.id === 'delivery';
    const rows = tab.kind === 'items' ? itemRows(listed.data.entries, me, reload) : caseRows(listed.data.cases, withDelivery);
    const headings = tab.kind === 'items'
      ? [t('due'), t('light'), t('case'), t('bundle'), t('item'), t('state'), t('department'), me.role === 'supervisor' ? t('urge') : null].filter(Boolean)
      : [t('case'), t('bundle'), t('started_at'), t('updated_at'), t('intake_channel'), t('status'), t('applicant_masked'), withDelivery ? t('delivery_method') : null].filter(Boolean);
    body = rows.length === 0 ? h('p', { class: 'muted', id: 'worklist-empty' }, searching ? t('search_none') : t('empty'))
      : stackedTable(tab.kind === 'items' ? 'worklist' : 'case-list', headings, rows);
    const more = rows.length === PAGE ? h('button', { class: 'secondary', id: 'worklist-more', type: 'button', onclick: () => go({ offset: String(offset + PAGE) }) }, t('more')) : null;
    body = h('div', {}, body, more);
  }
  const painted = page(h('section', {}, h('h1', {}, searching ? t('search_results') : t('worklist')), search,
    h('div', { role: 'tablist', class: 'tabs', 'aria-label': t('worklist_tabs') }, tabs),
    h('div', { role: 'tabpanel', id: 'worklist-panel', 'aria-labelledby': `tab-${tab.id}` }, body)));
  if (!painted) return;  // the user has moved on to another page
  // Keyboard: after a tab switch the focus stays on the tab; after a search, in the box.
  const focused = searching && !query.get('focus') ? input : document.getElementById(`tab-${tab.id}`);
  if (document.activeElement === document.body || document.activeElement === null) focused.focus();
}
