// The clerk console: a small single-page app over the REST API (docs/api.md). Plain DOM,
// no framework; every text from the server goes in through textContent, never as HTML.
import { t, lang, setLang } from './i18n.js';

let me = null;  // {name, display_name, role, department}

// ---------------------------------------------------------------------------------------
// Helpers

function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else if (key === 'class') element.className = value;
    else element.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function cookie(name) {
  const match = document.cookie.split('; ').find((c) => c.startsWith(name + '='));
  return match ? decodeURIComponent(match.slice(name.length + 1)) : '';
}

async function api(method, path, body, headers = {}) {
  const options = { method, credentials: 'same-origin', headers: { ...headers } };
  if (method !== 'GET') options.headers['X-CSRF-Token'] = cookie('ov_csrf');
  if (body !== undefined) {
    if (body instanceof Blob || body instanceof ArrayBuffer) options.body = body;
    else {
      options.headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body);
    }
  }
  const response = await fetch(path, options);
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { message: text }; }
  if (response.status === 401 && path !== '/api/session') {
    me = null;
    location.hash = '#/login';
  }
  return { ok: response.ok, status: response.status, data };
}

function errorText(result) {
  const d = result.data || {};
  const fields = (d.details && d.details.fields) || [];
  return [d.message || String(result.status), ...fields.map((f) => `${f.field}: ${f.message}`)].join('\n');
}

function lightBadge(light) {
  if (!light) return h('span', { class: 'muted' }, t('none'));
  return h('span', { class: `badge ${light}` }, t(light));
}

const engineRole = { window_clerk: 'clerk', reviewer: 'reviewer', supervisor: 'supervisor' };

// ---------------------------------------------------------------------------------------
// Layout

function renderHeader() {
  const top = document.getElementById('top');
  top.replaceChildren();
  const links = [];
  if (me) {
    const role = me.role;
    if (['window_clerk', 'reviewer', 'supervisor'].includes(role)) links.push(['#/worklist', t('worklist')]);
    if (role === 'window_clerk') links.push(['#/intake', t('intake')]);
    if (['supervisor', 'admin'].includes(role)) links.push(['#/dashboard', t('dashboard')]);
    if (role === 'admin') links.push(['#/users', t('users')]);
  }
  const current = location.hash.split('/').slice(0, 2).join('/');
  top.append(
    h('span', { class: 'brand' }, t('app')),
    h('nav', {}, links.map(([href, label]) => h('a', { href, class: href === current ? 'active' : '' }, label))),
    me ? h('span', { id: 'whoami' }, `${me.display_name} · ${t(me.role)}${me.department ? ' · ' + me.department : ''}`) : null,
    h('button', { id: 'language', onclick: () => { setLang(lang === 'zh' ? 'en' : 'zh'); route(); } }, t('language')),
    me ? h('button', { id: 'logout', onclick: logout }, t('logout')) : null,
  );
}

async function logout() {
  await api('DELETE', '/api/session');
  me = null;
  location.hash = '#/login';
}

function page(...children) {
  document.getElementById('main').replaceChildren(...children);
}

// ---------------------------------------------------------------------------------------
// Pages

function loginPage() {
  const name = h('input', { id: 'login-name', autocomplete: 'username' });
  const password = h('input', { id: 'login-password', type: 'password', autocomplete: 'current-password' });
  const error = h('div', { class: 'error-box', id: 'login-error' });
  const submit = async (event) => {
    event.preventDefault();
    const result = await api('POST', '/api/session', { name: name.value, password: password.value });
    if (!result.ok) {
      error.textContent = errorText(result);
      return;
    }
    me = result.data.user;
    location.hash = me.role === 'window_clerk' || me.role === 'reviewer' ? '#/worklist' : me.role === 'admin' ? '#/users' : '#/dashboard';
  };
  page(h('section', { class: 'login' }, h('h1', {}, t('login')),
    h('form', { onsubmit: submit },
      h('div', { class: 'field' }, h('label', {}, t('user')), name),
      h('div', { class: 'field' }, h('label', {}, t('password')), password),
      error,
      h('button', { class: 'primary', type: 'submit', id: 'login-submit' }, t('login')))));
}

async function worklistPage() {
  const result = await api('GET', '/api/worklist');
  if (!result.ok) return page(h('section', {}, h('div', { class: 'error-box' }, errorText(result))));
  const entries = result.data.entries;
  const rows = entries.map((e) => h('tr', { class: 'worklist-row' },
    h('td', {}, e.due), h('td', {}, lightBadge(e.light)),
    h('td', {}, h('a', { href: `#/case/${encodeURIComponent(e.case_id)}` }, e.case_id)),
    h('td', {}, e.bundle_title || e.bundle), h('td', {}, e.item_title || e.item), h('td', {}, e.state_title || e.state), h('td', {}, e.department)));
  page(h('section', {}, h('h1', {}, t('worklist')),
    entries.length === 0 ? h('p', { class: 'muted' }, t('empty')) :
      h('table', { id: 'worklist' },
        h('thead', {}, h('tr', {}, [t('due'), t('light'), t('case'), t('bundle'), t('item'), t('state'), t('department')].map((x) => h('th', {}, x)))),
        h('tbody', {}, rows))));
}

async function casePage(caseId) {
  const [caseResult, historyResult, callsResult] = await Promise.all([
    api('GET', `/api/cases/${encodeURIComponent(caseId)}`), api('GET', `/api/cases/${encodeURIComponent(caseId)}/history`),
    api('GET', `/api/cases/${encodeURIComponent(caseId)}/calls`)]);
  if (!caseResult.ok) return page(h('section', {}, h('div', { class: 'error-box' }, errorText(caseResult))));
  const c = caseResult.data;
  const workflow = (await api('GET', `/api/workflows/${encodeURIComponent(c.bundle)}`)).data || { fields: [], items: [] };
  const fieldTitle = Object.fromEntries((workflow.fields || []).map((f) => [f.name, f.title || f.name]));
  const itemTitles = (workflow.items || []).map((i) => i.title);
  const message = h('div', { class: 'error-box', id: 'action-error' });
  const base = `/api/cases/${encodeURIComponent(caseId)}`;
  const run = async (method, path, body, headers) => {
    const result = await api(method, base + path, body, headers);
    if (!result.ok) {
      message.textContent = errorText(result);
      return;
    }
    casePage(caseId);
  };
  const myRole = engineRole[me.role];
  const reasonInput = (id) => h('input', { id, placeholder: t('reason'), size: 18 });

  // Materials checklist
  const mayVerify = me.role === 'window_clerk' || me.role === 'reviewer';
  const materialRows = c.materials.map((m) => {
    const actions = [];
    if (m.has_content) actions.push(h('a', { href: `${base}/materials/${encodeURIComponent(m.material)}`, download: m.file_name || m.material }, t('download')));
    if (mayVerify && m.status === 'submitted') {
      const reason = reasonInput(`refuse-reason-${m.material}`);
      actions.push(
        h('button', { class: 'action', id: `verify-${m.material}`, onclick: () => run('POST', `/materials/${m.material}/verify`, { accept: true }) }, t('verify')),
        h('span', { class: 'inline' }, reason, h('button', { class: 'secondary', id: `refuse-${m.material}`,
          onclick: () => run('POST', `/materials/${m.material}/verify`, { accept: false, reason: reason.value }) }, t('refuse'))));
    }
    if (me.role === 'window_clerk' && c.status === 'running' && (m.status === 'missing' || m.status === 'rejected' || m.status === 'tolerated')) {
      if (m.source === 'elicense') {
        actions.push(h('button', { class: 'action', id: `elicense-${m.material}`, onclick: () => run('POST', `/materials/${m.material}/elicense`, {}) }, t('elicense')));
      }
      // An e-license the library does not hold (or no library) is uploaded like any other.
      if (m.source === 'elicense' || m.source === 'upload') {
        const file = h('input', { type: 'file', id: `file-${m.material}` });
        actions.push(h('span', { class: 'inline' }, file, h('button', { class: 'action', id: `upload-${m.material}`, onclick: async () => {
          if (!file.files[0]) return;
          await run('PUT', `/materials/${m.material}`, file.files[0], { 'X-File-Name': encodeURIComponent(file.files[0].name) });
        } }, t('upload'))));
      }
    }
    return h('tr', { id: `material-${m.material}` }, h('td', {}, m.title || m.material),
      h('td', {}, h('span', { class: `badge ${m.status === 'verified' ? 'ok' : m.status === 'rejected' ? 'bad' : ''}` }, t(`material_${m.status}`)), m.note ? ` ${m.note}` : ''),
      h('td', {}, m.file_name || ''), h('td', {}, actions));
  });

  // Items with their states, deadlines and the events this user may fire now
  const itemRows = c.items.map((item) => {
    const mine = me.role !== 'reviewer' || item.department === me.department;
    const events = (item.events || []).filter((e) => mine && myRole && (e.roles.length === 0 || e.roles.includes(myRole)));
    const buttons = events.map((e) => {
      const inputs = e.required_fields.map((f) => h('input', { id: `field-${item.item}-${e.event}-${f}`, placeholder: t(f), size: 16 }));
      return h('span', { class: 'inline' }, inputs, h('button', { class: 'action', id: `event-${item.item}-${e.event}`, onclick: () => {
        const fields = {};
        e.required_fields.forEach((f, i) => { fields[f] = inputs[i].value; });
        run('POST', `/items/${item.item}/events/${e.event}`, { fields });
      } }, e.event));
    });
    return h('tr', { id: `item-${item.item}` }, h('td', {}, item.title), h('td', {}, item.department),
      h('td', {}, t(item.phase)), h('td', { class: 'item-state', 'data-state': item.state }, item.state_title && item.state_title !== item.state ? `${item.state_title} (${item.state})` : item.state), h('td', {}, item.due), h('td', {}, lightBadge(item.light)),
      h('td', {}, buttons));
  });

  // Case-level actions for the window
  const caseActions = [];
  if (me.role === 'window_clerk') {
    if (c.status === 'running') {
      const reason = reasonInput('withdraw-reason');
      caseActions.push(h('span', { class: 'inline' }, reason, h('button', { class: 'secondary', id: 'withdraw', onclick: () => run('POST', '/withdraw', { reason: reason.value }) }, t('withdraw'))));
    }
    if (c.status === 'completed') {
      const channel = h('select', { id: 'deliver-channel' }, ['window', 'mail', 'electronic'].map((x) => h('option', { value: x }, t(x))));
      caseActions.push(h('span', { class: 'inline' }, channel, h('button', { class: 'action', id: 'deliver', onclick: () => run('POST', '/deliver', { channel: channel.value }) }, t('deliver'))));
    }
    if (c.status === 'delivered') {
      const level = h('select', { id: 'rate-level' }, [5, 4, 3, 2, 1].map((x) => h('option', { value: x }, String(x))));
      const comment = h('input', { id: 'rate-comment', placeholder: t('comment') });
      caseActions.push(h('span', { class: 'inline' }, level, comment, h('button', { class: 'action', id: 'rate', onclick: () => run('POST', '/rate', { level: Number(level.value), comment: comment.value }) }, t('rate'))));
    }
  }

  // The departments' calls; parked ones wait for a clerk to retry or resolve them
  const calls = callsResult.ok ? callsResult.data.calls : [];
  const callRows = calls.map((call) => {
    const actions = [];
    if (call.status === 'parked') {
      const note = h('input', { id: `resolve-note-${call.id}`, placeholder: t('note'), size: 18 });
      actions.push(h('button', { class: 'action', id: `retry-${call.id}`, onclick: () => run('POST', `/calls/${call.id}/retry`, {}) }, t('retry')),
        h('span', { class: 'inline' }, note, h('button', { class: 'secondary', id: `resolve-${call.id}`,
          onclick: () => run('POST', `/calls/${call.id}/resolve`, { note: note.value }) }, t('resolve'))));
    }
    return h('tr', { id: `call-${call.id}` }, h('td', {}, call.department), h('td', {}, `${call.system} / ${call.operation}`),
      h('td', {}, h('span', { class: `badge ${call.status === 'parked' ? 'bad' : call.status === 'delivered' ? 'ok' : ''}` }, t(`call_${call.status}`))),
      h('td', {}, String(call.attempts)), h('td', {}, call.last_error), h('td', {}, actions));
  });

  // Timeline from the history
  const events = historyResult.ok ? historyResult.data.events : [];
  const timeline = events.map((e) => {
    const payload = e.payload || {};
    const what = [t(e.type)];
    if (payload.item !== undefined && itemTitles[payload.item]) what.push(itemTitles[payload.item]);
    if (payload.fields && payload.fields.reason) what.push(`(${payload.fields.reason})`);
    if (payload.reason) what.push(`(${payload.reason})`);
    return h('li', {}, h('time', {}, e.at), what.join(' '));
  });

  page(
    h('section', {}, h('h1', {}, `${c.case_id} · ${workflow.title || c.bundle}`),
      h('p', {}, h('span', { class: 'badge', id: 'case-status' }, t(c.status)), ` ${t('applicant')}: ${c.applicant || '—'} · ${t('deadline')}: ${c.deadline_due}`),
      caseActions, message),
    h('section', {}, h('h2', {}, t('form')),
      h('table', {}, h('tbody', {}, Object.entries(c.form).map(([k, v]) => h('tr', {}, h('th', {}, fieldTitle[k] || k), h('td', {}, v)))))),
    h('section', {}, h('h2', {}, t('materials')),
      h('table', { id: 'materials' }, h('thead', {}, h('tr', {}, [t('material'), t('status'), t('file'), t('actions')].map((x) => h('th', {}, x)))),
        h('tbody', {}, materialRows))),
    h('section', {}, h('h2', {}, t('process')), h('div', { style: 'overflow-x:auto' }, processGraph(c.items))),
    h('section', {}, h('h2', {}, t('items')),
      h('table', { id: 'items' }, h('thead', {}, h('tr', {}, [t('item'), t('department'), t('phase'), t('state'), t('deadline'), t('light'), t('actions')].map((x) => h('th', {}, x)))),
        h('tbody', {}, itemRows))),
    calls.length ? h('section', {}, h('h2', {}, t('calls')),
      h('table', { id: 'calls' }, h('thead', {}, h('tr', {}, [t('department'), t('system'), t('status'), t('attempts'), t('last_error'), t('actions')].map((x) => h('th', {}, x)))),
        h('tbody', {}, callRows))) : null,
    h('section', {}, h('h2', {}, t('timeline')), h('ol', { class: 'timeline', id: 'timeline' }, timeline)));
}

// The bundle's items as a graph: columns by dependency depth, arrows from each item to
// the items that come after it, colours by phase (the current states written in the boxes).
function processGraph(items) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = (tag, attributes, text) => {
    const element = document.createElementNS(ns, tag);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
    if (text !== undefined) element.textContent = text;
    return element;
  };
  const byId = new Map(items.map((item) => [item.item, item]));
  const depth = new Map();
  const depthOf = (id, seen = new Set()) => {
    if (depth.has(id)) return depth.get(id);
    if (seen.has(id)) return 0;  // a cycle cannot be deployed; never loop
    seen.add(id);
    const item = byId.get(id);
    const d = item && item.after.length ? 1 + Math.max(...item.after.map((a) => depthOf(a, seen))) : 0;
    depth.set(id, d);
    return d;
  };
  items.forEach((item) => depthOf(item.item));
  const columns = [];
  for (const item of items) (columns[depth.get(item.item)] ||= []).push(item);
  const boxWidth = 170, boxHeight = 48, columnGap = 60, rowGap = 16;
  const position = new Map();
  columns.forEach((column, c) => column.forEach((item, r) => position.set(item.item, { x: 10 + c * (boxWidth + columnGap), y: 10 + r * (boxHeight + rowGap) })));
  const width = 20 + columns.length * (boxWidth + columnGap) - columnGap;
  const height = 20 + Math.max(...columns.map((column) => column.length)) * (boxHeight + rowGap) - rowGap;
  const root = svg('svg', { id: 'process-graph', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' });
  const marker = svg('marker', { id: 'arrow', markerWidth: 8, markerHeight: 8, refX: 7, refY: 4, orient: 'auto' });
  marker.append(svg('path', { d: 'M0,0 L8,4 L0,8 z', fill: '#6b7785' }));
  const defs = svg('defs', {});
  defs.append(marker);
  root.append(defs);
  for (const item of items) {
    for (const a of item.after) {
      const from = position.get(a), to = position.get(item.item);
      if (!from || !to) continue;
      root.append(svg('line', { x1: from.x + boxWidth, y1: from.y + boxHeight / 2, x2: to.x - 2, y2: to.y + boxHeight / 2, stroke: '#6b7785', 'marker-end': 'url(#arrow)' }));
    }
  }
  const fill = { done: '#c8e6c9', active: '#ffebee', waiting: '#eceff1', not_applicable: '#ffffff', cancelled: '#f5f5f5' };
  for (const item of items) {
    const { x, y } = position.get(item.item);
    const stroke = item.light === 'red' ? '#c62828' : item.light === 'yellow' ? '#f9a825' : item.phase === 'active' ? '#b71c1c' : '#9aa5b1';
    root.append(svg('rect', { x, y, width: boxWidth, height: boxHeight, rx: 6, fill: fill[item.phase] || '#fff', stroke,
      'stroke-width': item.phase === 'active' ? 2.5 : 1, 'stroke-dasharray': item.phase === 'not_applicable' ? '4 3' : 'none', 'data-item': item.item }));
    root.append(svg('text', { x: x + 8, y: y + 19, 'font-size': 13, 'font-weight': 600 }, item.title));
    root.append(svg('text', { x: x + 8, y: y + 37, 'font-size': 12, fill: '#52606d' },
      `${t(item.phase)} · ${item.state_title && item.state_title !== item.state ? item.state_title : item.state}`));
  }
  return root;
}

// Client-side checks as the clerk types; the server checks everything again.
function idcardValid(id) {
  if (!/^\d{17}[\dXx]$/.test(id)) return false;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = weights.reduce((s, w, i) => s + w * Number(id[i]), 0);
  return '10X98765432'[sum % 11] === id[17].toUpperCase();
}

function checkValue(type, value) {
  if (value === '') return '';
  if (/^(int|decimal|money)/.test(type) && !/^-?\d+(\.\d+)?$/.test(value)) return t('invalid_number');
  if (type === 'idcard' && !idcardValid(value)) return t('invalid_idcard');
  if (type === 'phone' && !/^1[3-9]\d{9}$/.test(value)) return t('invalid_phone');
  if (type === 'date' && !/^\d{4}-\d{2}-\d{2}$/.test(value)) return t('invalid_date');
  if (type === 'uscc' && !/^[0-9A-Z]{18}$/.test(value)) return t('invalid_uscc');
  return '';
}

async function intakePage() {
  const list = await api('GET', '/api/workflows');
  const bundles = new Map();
  for (const w of (list.data && list.data.workflows) || []) bundles.set(w.bundle, w);
  const select = h('select', { id: 'intake-bundle' }, h('option', { value: '' }, t('choose_bundle')),
    [...bundles.values()].map((w) => h('option', { value: w.bundle }, `${w.title} (${w.bundle})`)));
  const formArea = h('div', { id: 'intake-form' });
  select.addEventListener('change', async () => {
    formArea.replaceChildren();
    if (!select.value) return;
    const wf = (await api('GET', `/api/workflows/${encodeURIComponent(select.value)}`)).data;
    const inputs = new Map();
    const errors = new Map();
    const fieldRow = (f) => {
      let input;
      if (f.type === 'bool') {
        input = h('select', { id: `form-${f.name}` }, h('option', { value: '' }, '—'), h('option', { value: 'true' }, '是 / yes'), h('option', { value: 'false' }, '否 / no'));
        if (f.default) input.value = f.default;
      } else if (f.values && !f.type.startsWith('list')) {
        input = h('select', { id: `form-${f.name}` }, h('option', { value: '' }, '—'), f.values.map((v) => h('option', { value: v }, v)));
      } else {
        input = h('input', { id: `form-${f.name}`, placeholder: f.values ? f.values.join(',') : f.type, size: 30 });
      }
      const error = h('span', { class: 'error' });
      input.addEventListener('input', () => {
        const problem = checkValue(f.type, input.value.trim());
        error.textContent = problem;
        input.classList.toggle('invalid', problem !== '');
      });
      inputs.set(f.name, input);
      errors.set(f.name, error);
      return h('div', { class: 'field' }, h('label', { for: `form-${f.name}` }, `${f.title || f.name}${f.required ? ' *' : ''}`), input, error);
    };
    // The one material list for this situation, recomputed by the server as answers change.
    const materialList = h('ul', { id: 'intake-materials' });
    let pending = null;
    const refreshMaterials = () => {
      clearTimeout(pending);
      pending = setTimeout(async () => {
        const form = {};
        for (const f of wf.fields) {
          const value = inputs.get(f.name).value.trim();
          if (value !== '' && !checkValue(f.type, value)) form[f.name] = value;
        }
        const result = await api('POST', `/api/workflows/${encodeURIComponent(wf.bundle)}/materials`, { form });
        if (!result.ok) return;
        materialList.replaceChildren(...result.data.materials.map((m) => h('li', { 'data-material': m.material },
          `${m.title}${m.source === 'elicense' ? ' · ' + t('from_elicense') : ''}${m.secondary ? ' · ' + t('secondary') : ''}`)));
      }, 250);
    };
    formArea.addEventListener('input', refreshMaterials);
    formArea.addEventListener('change', refreshMaterials);
    const applicant = h('input', { id: 'intake-applicant', size: 30 });
    const message = h('div', { class: 'error-box', id: 'intake-error' });
    const submit = async (event) => {
      event.preventDefault();
      message.textContent = '';
      const form = {};
      let bad = false;
      for (const f of wf.fields) {
        const value = inputs.get(f.name).value.trim();
        if (value === '') continue;
        if (checkValue(f.type, value)) bad = true;
        form[f.name] = value;
      }
      if (bad) return;
      const result = await api('POST', '/api/cases', { bundle: wf.bundle, form, applicant: applicant.value.trim() }, { 'Idempotency-Key': `intake-${Date.now()}-${Math.random().toString(36).slice(2)}` });
      if (!result.ok) {
        message.textContent = errorText(result);
        for (const f of (result.data.details && result.data.details.fields) || []) {
          if (errors.has(f.field)) {
            errors.get(f.field).textContent = f.message;
            inputs.get(f.field).classList.add('invalid');
          }
        }
        return;
      }
      location.hash = `#/case/${encodeURIComponent(result.data.case_id)}`;
    };
    formArea.append(h('form', { onsubmit: submit },
      h('h2', {}, t('situation')), wf.fields.filter((f) => f.situation).map(fieldRow),
      h('h2', {}, t('form')), wf.fields.filter((f) => !f.situation).map(fieldRow),
      h('div', { class: 'field' }, h('label', {}, t('applicant')), applicant),
      h('h2', {}, t('materials')), materialList,
      message, h('button', { class: 'primary', type: 'submit', id: 'intake-submit' }, t('start_case'))));
    refreshMaterials();
  });
  page(h('section', {}, h('h1', {}, t('intake')), select, formArea));
}

async function dashboardPage() {
  const from = h('input', { id: 'report-from', type: 'date' });
  const to = h('input', { id: 'report-to', type: 'date' });
  const area = h('div', { id: 'report' });
  const load = async () => {
    const query = new URLSearchParams();
    if (from.value) query.set('from', from.value);
    if (to.value) query.set('to', to.value);
    const result = await api('GET', `/api/report?${query}`);
    if (!result.ok) return area.replaceChildren(h('div', { class: 'error-box' }, errorText(result)));
    const figures = (f, title) => {
      const kpi = (key, value) => h('div', { class: 'kpi' }, h('div', { class: 'muted' }, t(key)), h('div', { class: 'value' }, value));
      const maxRating = Math.max(1, ...f.ratings);
      const overdue = Object.entries(f.overdue_cases_by_department);
      const maxOverdue = Math.max(1, ...overdue.map(([, n]) => n));
      return h('section', {}, h('h2', {}, title),
        h('div', { class: 'kpis' }, kpi('cases_started', f.cases_started), kpi('cases_completed', f.cases_completed),
          kpi('on_time_rate', f.items_finished ? `${f.on_time_rate}%` : '—'), kpi('average_workdays', f.average_workdays), kpi('immediate_rate', `${f.immediate_rate}%`),
          kpi('fully_online_rate', `${f.fully_online_rate}%`), kpi('elicense_reuse', `${f.materials_from_elicense} / ${f.materials_uploaded + f.materials_from_elicense}`),
          kpi('average_visits', f.average_visits), kpi('corrections_per_case', f.corrections_per_case), kpi('good_rating_rate', f.rated ? `${f.good_rating_rate}%` : '—')),
        h('h2', {}, t('ratings')),
        f.ratings.map((n, i) => h('div', { class: 'bar' }, h('span', { class: 'label' }, '★'.repeat(i + 1)), h('span', { class: 'fill', style: `width:${(n / maxRating) * 20}rem` }), String(n))),
        overdue.length ? h('h2', {}, t('overdue_by_department')) : null,
        overdue.map(([d, n]) => h('div', { class: 'bar' }, h('span', { class: 'label' }, d), h('span', { class: 'fill', style: `width:${(n / maxOverdue) * 20}rem` }), String(n))));
    };
    area.replaceChildren(figures(result.data.overall, t('overall')), ...result.data.bundles.map((b) => figures(b, `${b.title} (${b.bundle})`)));
  };
  page(h('section', {}, h('h1', {}, t('dashboard')), h('span', { class: 'inline' }, t('from'), from, t('to'), to,
    h('button', { class: 'secondary', onclick: load }, t('refresh')))), area);
  load();
}

async function usersPage() {
  const result = await api('GET', '/api/users');
  if (!result.ok) return page(h('section', {}, h('div', { class: 'error-box' }, errorText(result))));
  const name = h('input', { id: 'user-name' });
  const display = h('input', { id: 'user-display' });
  const role = h('select', { id: 'user-role' }, ['window_clerk', 'reviewer', 'supervisor', 'designer', 'admin', 'department_system'].map((r) => h('option', { value: r }, t(r))));
  const department = h('input', { id: 'user-department' });
  const password = h('input', { id: 'user-password', type: 'password' });
  const message = h('div', { class: 'error-box' });
  const create = async (event) => {
    event.preventDefault();
    const created = await api('POST', '/api/users', { name: name.value, display_name: display.value, role: role.value, department: department.value,
      // A department system needs no password (it gets an unusable random one).
      password: password.value || undefined });
    if (!created.ok) message.textContent = errorText(created);
    else usersPage();
  };
  page(h('section', {}, h('h1', {}, t('users')),
    h('table', {}, h('thead', {}, h('tr', {}, [t('name'), t('display_name'), t('role'), t('department'), t('disabled')].map((x) => h('th', {}, x)))),
      h('tbody', {}, result.data.users.map((u) => h('tr', {}, h('td', {}, u.name), h('td', {}, u.display_name), h('td', {}, t(u.role)), h('td', {}, u.department), h('td', {}, u.disabled ? '✓' : '')))))),
  h('section', {}, h('h2', {}, t('create')), h('form', { onsubmit: create },
    h('div', { class: 'field' }, h('label', {}, t('name')), name), h('div', { class: 'field' }, h('label', {}, t('display_name')), display),
    h('div', { class: 'field' }, h('label', {}, t('role')), role), h('div', { class: 'field' }, h('label', {}, t('department')), department),
    h('div', { class: 'field' }, h('label', {}, t('password')), password), message, h('button', { class: 'primary', type: 'submit' }, t('create')))));
}

// ---------------------------------------------------------------------------------------
// Routing

async function route() {
  if (!me && location.hash !== '#/login') {
    const session = await api('GET', '/api/session');
    if (session.ok) me = session.data.user;
  }
  renderHeader();
  const [, name, argument] = location.hash.split('/');
  if (!me || name === 'login') return loginPage();
  if (name === 'case' && argument) return casePage(decodeURIComponent(argument));
  if (name === 'intake') return intakePage();
  if (name === 'dashboard') return dashboardPage();
  if (name === 'users') return usersPage();
  return worklistPage();
}

setLang(lang);
window.addEventListener('hashchange', route);
route();
