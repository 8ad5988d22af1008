// The clerk console: a small single-page app over the REST API (docs/api.md, docs/console.md).
// Plain DOM, no framework; every text from the server goes in through textContent, never as
// HTML. This file holds the layout, the routes, the login, the dashboard, the case list and the
// users page; worklist.js, intake.js, case.js and graph.js the larger pages.
import { t, lang, setLang } from './i18n.js';
import { api, askReason, busy, errorSlot, errorText, h, parseDay, stackedTable } from './ui.js';
import { departmentList, departmentTitle, loadDepartments } from './titles.js';
import { intakePage } from './intake.js';
import { casePage } from './case.js';
import { noticePage } from './notices.js';
import { settingsPage } from './settings.js';
import { worklistPage } from './worklist.js';

let me = null;  // {name, display_name, role, department}
// Days a training service's clock runs ahead (serve --clock-offset-days); 0 for the real service.
let trainingDays = 0;

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
    if (role === 'window_clerk') links.push(['#/settings', t('settings')]);
    if (['supervisor', 'admin'].includes(role)) links.push(['#/dashboard', t('dashboard')]);
    if (['window_clerk', 'supervisor'].includes(role)) links.push(['#/cases', t('case_list')]);
    if (role === 'admin') links.push(['#/users', t('users')]);
  }
  const current = location.hash.split('?')[0].split('/').slice(0, 2).join('/');
  // Element.append writes a null as the text "null": leave out what a logged-out header lacks.
  top.append(...[
    h('span', { class: 'brand' }, t('app')),
    h('nav', {}, links.map(([href, label]) => h('a', { href, class: href === current ? 'active' : '' }, label))),
    me ? h('span', { id: 'whoami' }, [me.display_name, t(me.role), departmentTitle(me.department)].filter(Boolean).join(' · ')) : null,
    h('button', { id: 'language', onclick: () => { setLang(lang === 'zh' ? 'en' : 'zh'); route(); } }, t('language')),
    me ? h('button', { id: 'logout', onclick: logout }, t('logout')) : null,
  ].filter(Boolean));
  // Nobody may take a training room for the real service.
  document.getElementById('training-banner')?.remove();
  if (me && trainingDays) {
    top.after(h('div', { id: 'training-banner', class: 'training-banner', role: 'status' }, t('training_banner').replace('{days}', String(trainingDays))));
  }
}

async function logout() {
  // A half-filled intake form holds an applicant's numbers: it does not outlive the clerk's session
  // on a shared window PC.
  sessionStorage.clear();
  await api('DELETE', '/api/session');
  me = null;
  location.hash = '#/login';
}

// Each navigation paints through its own painter, and only while it is the latest: a page still
// loading when the user has moved on (a slow answer, the redirect after a login racing a
// bookmark or a click) must not paint over the page asked for since.
let navigation = 0;
// A painter answers whether it painted: what follows a paint (focus, scrolling) is skipped
// when it did not.
function painterFor(id) {
  return (...children) => {
    if (id !== navigation) return false;
    document.getElementById('main').replaceChildren(...children);
    return true;
  };
}

const homeOf = (user) => (user.role === 'window_clerk' || user.role === 'reviewer' ? '#/worklist' : user.role === 'admin' ? '#/users' : '#/dashboard');

// ---------------------------------------------------------------------------------------
// Pages

// The login keeps the page asked for: a bookmark, or the page whose session expired, opens
// once the user has logged in (only `#/login` itself goes to the user's home page).
function loginPage(page) {
  const name = h('input', { id: 'login-name', autocomplete: 'username' });
  const password = h('input', { id: 'login-password', type: 'password', autocomplete: 'current-password' });
  const error = h('div', { class: 'error-box', id: 'login-error', role: 'alert' });
  const button = h('button', { class: 'primary', type: 'submit', id: 'login-submit' }, t('login'));
  const submit = (event) => {
    event.preventDefault();
    if (button.disabled) return;
    return busy(button, async () => {
      const result = await api('POST', '/api/session', { name: name.value, password: password.value });
      if (!result.ok) {
        error.textContent = errorText(result, { name: t('user'), password: t('password') });
        return;
      }
      me = result.data.user;
      trainingDays = result.data.training_clock_days || 0;
      const [, asked] = location.hash.split('/');
      if (!asked || asked === 'login') location.hash = homeOf(me);
      else route();
    });
  };
  page(h('section', { class: 'login' }, h('h1', {}, t('login')),
    h('form', { onsubmit: submit },
      h('div', { class: 'field' }, h('label', { for: 'login-name' }, t('user')), name),
      h('div', { class: 'field' }, h('label', { for: 'login-password' }, t('password')), password),
      error, button)));
  name.focus();
}

async function dashboardPage(page) {
  // Days are typed and shown the Chinese way (2026-12-01) whatever the browser's locale: the
  // browser's own date field would show mm/dd/yyyy on an English system.
  const dayInput = (id, label) => h('input', { id, inputmode: 'numeric', placeholder: t('hint_date'), 'aria-label': label, size: 12, autocomplete: 'off' });
  const from = dayInput('report-from', t('from'));
  const to = dayInput('report-to', t('to'));
  const dateError = h('span', { class: 'action-error', id: 'report-date-error', role: 'alert' });
  const area = h('div', { id: 'report' });
  // The dates as the report's query, or null (and the error beside them) when one is no day.
  const readDates = () => {
    const query = new URLSearchParams();
    dateError.textContent = '';
    for (const [input, key] of [[from, 'from'], [to, 'to']]) {
      const day = parseDay(input.value);
      input.classList.toggle('invalid', day === null);
      if (day === null) {
        dateError.textContent = t('invalid_date');
        input.focus();
        return null;
      }
      if (day) {
        input.value = day;
        query.set(key, day);
      }
    }
    return query;
  };
  // Only the latest request's answer is shown: an earlier one that arrives late is dropped.
  let latest = 0;
  const load = async (query) => {
    const mine = ++latest;
    const result = await api('GET', `/api/report?${query}`);
    if (mine !== latest) return;
    if (!result.ok) return area.replaceChildren(h('div', { class: 'error-box' }, errorText(result)));
    // Each bar and count leads to its cases: the report's `filters` are the case list's query.
    const casesLink = (filter, content, id) => h('a', { class: 'bar-link', id, href: `#/cases?${new URLSearchParams(filter || {})}` }, content);
    const figures = (f, title, prefix) => {
      const kpi = (key, value, filter) => {
        const body = [h('div', { class: 'muted' }, t(key)), h('div', { class: 'value' }, value)];
        return h('div', { class: 'kpi' }, filter ? casesLink(filter, body, `${prefix}-kpi-${key}`) : body);
      };
      const filters = f.filters || { cases: {}, channels: {}, overdue_departments: {} };
      const maxRating = Math.max(1, ...f.ratings);
      const overdue = Object.entries(f.overdue_cases_by_department);
      const maxOverdue = Math.max(1, ...overdue.map(([, n]) => n));
      const channels = Object.entries(f.cases_by_channel || {});
      const maxChannel = Math.max(1, ...channels.map(([, n]) => n));
      const bar = (label, n, max, filter, id) => {
        const content = [h('span', { class: 'label' }, label), h('span', { class: 'fill', style: `width:${(n / max) * 20}rem` }), String(n)];
        return h('div', { class: 'bar' }, filter ? casesLink(filter, content, id) : content);
      };
      const finishedOrLate = f.items_finished + (f.items_overdue_running || 0);
      return h('section', {}, h('h2', {}, title),
        h('div', { class: 'kpis' }, kpi('cases_started', f.cases_started, filters.cases), kpi('cases_completed', f.cases_completed),
          kpi('on_time_rate', finishedOrLate ? `${f.on_time_rate}%` : '—'), kpi('items_overdue_running', f.items_overdue_running || 0),
          kpi('average_workdays', f.average_workdays), kpi('immediate_rate', `${f.immediate_rate}%`),
          kpi('fully_online_rate', `${f.fully_online_rate}%`), kpi('elicense_reuse', `${f.materials_from_elicense} / ${f.materials_uploaded + f.materials_from_elicense}`),
          kpi('average_visits', f.average_visits), kpi('corrections_per_case', f.corrections_per_case), kpi('good_rating_rate', f.rated ? `${f.good_rating_rate}%` : '—')),
        channels.length ? h('h2', {}, t('cases_by_channel')) : null,
        channels.map(([c, n]) => bar(t(`channel_${c}`), n, maxChannel, filters.channels[c], `${prefix}-channel-${c}`)),
        h('h2', {}, t('ratings')),
        f.ratings.map((n, i) => bar('★'.repeat(i + 1), n, maxRating, null)),
        overdue.length ? h('h2', {}, t('overdue_by_department')) : null,
        overdue.map(([d, n]) => bar(departmentTitle(d), n, maxOverdue, filters.overdue_departments[d], `${prefix}-overdue-${d}`)));
    };
    area.replaceChildren(figures(result.data.overall, t('overall'), 'overall'),
      ...result.data.bundles.map((b, i) => figures(b, b.title || t('bundle'), `bundle${i}`)));
  };
  const refresh = h('button', { class: 'secondary', id: 'report-refresh', type: 'submit' }, t('refresh'));
  const submit = () => {
    const query = readDates();
    if (query) busy(refresh, () => load(query));
  };
  // Enter in a date field submits even while a report loads (a form whose button is busy, and
  // so disabled, would swallow it).
  for (const input of [from, to]) {
    input.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter') return;
      event.preventDefault();
      submit();
    });
  }
  page(h('section', {}, h('h1', {}, t('dashboard')),
    h('form', { class: 'inline', onsubmit: (event) => { event.preventDefault(); submit(); } },
      h('label', { for: 'report-from' }, t('from')), from, h('label', { for: 'report-to' }, t('to')), to, refresh), dateError), area);
  load(readDates());
}

// 办件查询: the cases a filter lists (GET /api/cases with the query after `#/cases?`), as the
// dashboard's bars lead to them.
async function casesPage(page, queryText) {
  const query = new URLSearchParams(queryText || '');
  const offset = Number(query.get('offset') || 0);
  const result = await api('GET', `/api/cases?${query}`);
  if (!result.ok) return page(h('section', {}, h('h1', {}, t('case_list')), h('div', { class: 'error-box' }, errorText(result))));
  const day = (ms) => {
    const d = new Date(Number(ms) + 8 * 3600 * 1000);  // the offices' time, UTC+8, as the API's times
    return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}-${String(d.getUTCDate()).padStart(2, '0')}`;
  };
  const described = [];
  if (query.get('channel')) described.push(`${t('intake_channel')}：${t(`channel_${query.get('channel')}`)}`);
  if (query.get('status')) described.push(`${t('status')}：${t(query.get('status'))}`);
  if (query.get('department')) described.push(`${t('department')}：${departmentTitle(query.get('department'))}`);
  if (query.get('due_before')) described.push(t('filter_overdue'));
  if (query.get('started_from')) described.push(`${t('filter_started_from')}：${day(query.get('started_from'))}`);
  if (query.get('started_before')) described.push(`${t('filter_started_before')}：${day(Number(query.get('started_before')) - 1)}`);
  const rows = result.data.cases.map((c) => h('tr', { id: `case-row-${c.case_id}` },
    h('td', {}, h('a', { href: `#/case/${encodeURIComponent(c.case_id)}` }, c.case_id)), h('td', {}, c.started_at),
    h('td', {}, t(`channel_${c.channel}`)), h('td', {}, h('span', { class: 'badge' }, t(c.status))), h('td', {}, c.applicant || t('none'))));
  const next = new URLSearchParams(query);
  next.set('offset', String(offset + result.data.limit));
  page(h('section', {}, h('h1', {}, t('case_list')),
    h('p', { class: 'muted', id: 'case-list-filter' }, described.length ? `${t('case_list_filtered')}：${described.join('；')}` : t('case_list_all')),
    rows.length === 0 ? h('p', { class: 'muted' }, t('no_cases')) :
      stackedTable('case-list', [t('case'), t('started_at'), t('intake_channel'), t('status'), t('applicant')], rows),
    rows.length === result.data.limit ? h('a', { class: 'button-link', href: `#/cases?${next}` }, t('more')) : null));
}

const roles = ['window_clerk', 'reviewer', 'supervisor', 'designer', 'admin', 'department_system'];

/** A department chosen from the deployed workflows' departments (a typo gives a reviewer nothing). */
function departmentSelect(id, value = '') {
  const known = departmentList();
  const select = h('select', { id, 'aria-label': t('department') }, h('option', { value: '' }, t('no_department')),
    known.map(([dept, title]) => h('option', { value: dept }, title)));
  if (value && !known.some(([dept]) => dept === value)) select.append(h('option', { value }, t('department_unknown')));
  select.value = value;
  return select;
}

async function usersPage(page) {
  await loadDepartments();
  const result = await api('GET', '/api/users');
  if (!result.ok) return page(h('section', {}, h('div', { class: 'error-box' }, errorText(result))));
  const name = h('input', { id: 'user-name', autocomplete: 'off' });
  const display = h('input', { id: 'user-display', autocomplete: 'off' });
  const role = h('select', { id: 'user-role' }, roles.map((r) => h('option', { value: r }, t(r))));
  const department = departmentSelect('user-department');
  const password = h('input', { id: 'user-password', type: 'password', autocomplete: 'new-password' });
  const message = h('div', { class: 'error-box', role: 'alert' });
  const createButton = h('button', { class: 'primary', type: 'submit', id: 'users-create' }, t('create'));
  const titles = { name: t('name'), display_name: t('display_name'), role: t('role'), department: t('department'), password: t('password') };
  const create = (event) => {
    event.preventDefault();
    return busy(createButton, async () => {
      const created = await api('POST', '/api/users', { name: name.value, display_name: display.value, role: role.value, department: department.value,
        // A department system needs no password (it gets an unusable random one).
        password: password.value || undefined });
      if (!created.ok) message.textContent = errorText(created, titles);
      else usersPage(page);
    });
  };
  // Each user: edit the name, role and department, disable or enable, set a new password.
  const userRow = (u) => {
    const slot = errorSlot(`user-error-${u.name}`);
    const displayInput = h('input', { value: u.display_name, id: `edit-display-${u.name}`, 'aria-label': t('display_name'), size: 10 });
    const roleSelect = h('select', { id: `edit-role-${u.name}`, 'aria-label': t('role') }, roles.map((r) => h('option', { value: r }, t(r))));
    roleSelect.value = u.role;
    const deptSelect = departmentSelect(`edit-department-${u.name}`, u.department);
    const save = h('button', { class: 'action', id: `save-${u.name}` }, t('save'));
    const patch = (button, body) => busy(button, async () => {
      slot.textContent = '';
      const answer = await api('PATCH', `/api/users/${encodeURIComponent(u.name)}`, body);
      if (!answer.ok) slot.textContent = errorText(answer, titles);
      else usersPage(page);
    });
    save.addEventListener('click', () => patch(save, { display_name: displayInput.value, role: roleSelect.value, department: deptSelect.value }));
    const toggle = h('button', { class: 'secondary', id: `disable-${u.name}` }, u.disabled ? t('enable') : t('disable'));
    toggle.addEventListener('click', () => patch(toggle, { disabled: !u.disabled }));
    const reset = h('button', { class: 'secondary', id: `reset-${u.name}` }, t('reset_password'));
    reset.addEventListener('click', async () => {
      const newPassword = await askReason({ title: `${t('reset_password')}：${u.display_name || u.name}`, note: t('reset_password_note'), label: t('new_password'), confirm: t('save'), secret: true });
      if (newPassword !== null) await patch(reset, { password: newPassword });
    });
    return h('tr', { id: `user-${u.name}` }, h('td', {}, u.name), h('td', {}, displayInput), h('td', {}, roleSelect), h('td', {}, deptSelect),
      h('td', { class: 'user-status' }, u.disabled ? t('user_disabled') : t('enabled')), h('td', {}, save, toggle, u.role === 'department_system' ? null : reset, slot));
  };
  page(h('section', {}, h('h1', {}, t('users')),
    h('div', { class: 'table-scroll' }, h('table', { id: 'users' },
      h('thead', {}, h('tr', {}, [t('name'), t('display_name'), t('role'), t('department'), t('status'), t('actions')].map((x) => h('th', {}, x)))),
      h('tbody', {}, result.data.users.map(userRow))))),
  h('section', {}, h('h2', {}, t('create')), h('form', { onsubmit: create },
    h('div', { class: 'field' }, h('label', { for: 'user-name' }, t('name')), name), h('div', { class: 'field' }, h('label', { for: 'user-display' }, t('display_name')), display),
    h('div', { class: 'field' }, h('label', { for: 'user-role' }, t('role')), role), h('div', { class: 'field' }, h('label', { for: 'user-department' }, t('department')), department),
    h('div', { class: 'field' }, h('label', { for: 'user-password' }, t('password')), password), message, createButton)));
}

// ---------------------------------------------------------------------------------------
// Routing

async function route() {
  const current = ++navigation;
  const page = painterFor(current);
  // A reason dialog belongs to the page it was opened on: leaving the page cancels it.
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
  // Going to the login page is logging in anew: the header no longer shows the old user.
  if (location.hash === '#/login') me = null;
  if (!me && location.hash !== '#/login') {
    const session = await api('GET', '/api/session');
    if (session.ok) {
      me = session.data.user;
      trainingDays = session.data.training_clock_days || 0;
    }
  }
  if (me && me.role !== 'department_system') await loadDepartments();
  if (current !== navigation) return;  // moved on while the session was asked for
  renderHeader();
  const [, path, argument, part, kind] = location.hash.split('/');
  const [name, queryText] = (path || '').split('?');
  if (!me || name === 'login') return loginPage(page);
  if (name === 'case' && argument && part === 'notice') return noticePage(page, decodeURIComponent(argument), kind);
  if (name === 'case' && argument) return casePage(page, decodeURIComponent(argument), me);
  if (name === 'intake') return intakePage(page);
  if (name === 'dashboard') return dashboardPage(page);
  if (name === 'cases') return casesPage(page, queryText);
  if (name === 'users') return usersPage(page);
  if (name === 'settings') return settingsPage(page);
  return worklistPage(page, me, name === 'worklist' ? queryText : '');
}

// A session that ended (expired, logged out elsewhere): log in again, on the same page.
window.addEventListener('ov:unauthenticated', () => {
  if (!me) return;
  me = null;
  renderHeader();
  loginPage(painterFor(++navigation));
});

setLang(lang);
window.addEventListener('hashchange', route);
route();
