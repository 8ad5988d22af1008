// What every page of the console uses: building DOM, calling the API, showing its errors in
// Chinese, keeping a button busy while its request runs, and the in-page reason dialog.
import { t } from './i18n.js';

/** An element; attributes `on…` add listeners; children are nodes or text (never HTML). */
export function h(tag, attributes = {}, ...children) {
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

/**
 * Calls the API: answers {ok, status, data}, never throws. A lost connection is status 0 with
 * code `network`. A 401 outside the login itself tells the app (event `ov:unauthenticated`),
 * which shows the login and comes back to the same page afterwards.
 */
export async function api(method, path, body, headers = {}) {
  const options = { method, credentials: 'same-origin', headers: { ...headers } };
  if (method !== 'GET') options.headers['X-CSRF-Token'] = cookie('ov_csrf');
  if (body !== undefined) {
    if (body instanceof Blob || body instanceof ArrayBuffer) options.body = body;
    else {
      options.headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body);
    }
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch {
    return { ok: false, status: 0, data: { code: 'network' } };
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { message: text }; }
  if (response.status === 401 && path !== '/api/session') window.dispatchEvent(new CustomEvent('ov:unauthenticated'));
  return { ok: response.ok, status: response.status, data };
}

const hasChinese = (text) => /[\u3400-\u9fff]/.test(text || '');

/**
 * The error of an API answer as a clerk reads it: the API's own message when it is Chinese,
 * otherwise the Chinese text for its code; each field problem under the field's title.
 */
export function errorText(result, fieldTitles = {}) {
  const d = result.data || {};
  let main = hasChinese(d.message) ? d.message : t(`error_${d.code}`);
  if (main === `error_${d.code}`) main = `${t('error_unknown')}${result.status ? `（${result.status}）` : ''}`;
  if (d.code === 'too_many_attempts' && d.details && d.details.retry_after_seconds) main += `（${d.details.retry_after_seconds} ${t('seconds')}）`;
  const fields = ((d.details && d.details.fields) || []).map((f) =>
    `${fieldTitles[f.field] || (t(`field_${f.field}`) === `field_${f.field}` ? t('field') : t(`field_${f.field}`))}：${fieldProblem(f.message)}`);
  return [main, ...fields].join('\n');
}

/** A field problem from the API in Chinese: its own message when Chinese, else what kind it is. */
export function fieldProblem(message) {
  if (hasChinese(message)) return message;
  if (/required|missing/i.test(message || '')) return t('problem_required');
  if (/one of/i.test(message || '')) return t('problem_choice');
  return t('problem_invalid');
}

/**
 * Runs `work` with `button` disabled (and marked busy) until it settles, so a double click
 * cannot send twice; answers what `work` answers.
 */
export async function busy(button, work) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

/**
 * A table whose rows become stacked cards on a phone: each cell carries its column's heading
 * (`data-label`, shown by the narrow-width style).
 */
export function stackedTable(id, headings, rows) {
  for (const row of rows) [...row.children].forEach((cell, i) => { if (headings[i]) cell.setAttribute('data-label', headings[i]); });
  return h('div', { class: 'table-scroll' }, h('table', { id, class: 'stack' },
    h('thead', {}, h('tr', {}, headings.map((x) => h('th', {}, x)))), h('tbody', {}, rows)));
}

/** The place next to an action where its error shows. */
export const errorSlot = (id) => h('span', { class: 'action-error', role: 'alert', id });

/**
 * Asks for a reason (and, for an irreversible action, says so) in an in-page dialog.
 * Answers the reason (or, with `secret`, a password), or null when the clerk cancels.
 *
 * With `select` ({label, options: [[value, title]]}: one choice, e.g. which item) or `checks`
 * ({label, options: [[value, title, checked]]}: at least one, e.g. the materials left pending)
 * it answers {reason, select, checks} instead, the chosen value(s) with the reason.
 */
export function askReason({ title, note = '', irreversible = false, confirm = t('confirm'), label = t('reason'), secret = false,
  placeholder = t('reason_placeholder'), select = null, checks = null }) {
  return new Promise((resolve) => {
    // `secret`: a password, typed unseen.
    const reason = secret ? h('input', { id: 'dialog-reason', type: 'password', required: true, autocomplete: 'new-password' })
      : h('textarea', { id: 'dialog-reason', rows: 3, required: true, placeholder });
    const ok = h('button', { class: 'action', id: 'dialog-confirm', type: 'submit', disabled: true }, confirm);
    const cancel = h('button', { class: 'secondary', id: 'dialog-cancel', type: 'button' }, t('cancel'));
    const chooser = select ? h('select', { id: 'dialog-select' }, select.options.map(([value, text]) => h('option', { value }, text))) : null;
    const boxes = checks ? checks.options.map(([value, text, checked], i) =>
      h('input', { type: 'checkbox', id: `dialog-check-${i}`, value, checked: checked || undefined })) : [];
    const ready = () => reason.value.trim() !== '' && (!checks || boxes.some((b) => b.checked));
    const dialog = h('dialog', { class: 'reason-dialog', 'aria-labelledby': 'dialog-title' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'dialog-title' }, title),
        note ? h('p', {}, note) : null,
        irreversible ? h('p', { class: 'warning' }, t('irreversible')) : null,
        chooser ? [h('label', { for: 'dialog-select' }, select.label), chooser] : null,
        checks ? h('fieldset', { class: 'choices dialog-checks', id: 'dialog-checks' }, h('legend', {}, `${checks.label} *`),
          boxes.map((box, i) => h('label', { for: box.id }, box, checks.options[i][1]))) : null,
        h('label', { for: 'dialog-reason' }, `${label} *`), reason,
        h('div', { class: 'dialog-buttons' }, cancel, ok)));
    let answer = null;
    const changed = () => { ok.disabled = !ready(); };
    reason.addEventListener('input', changed);
    boxes.forEach((box) => box.addEventListener('change', changed));
    ok.addEventListener('click', (event) => {
      event.preventDefault();
      if (!ready()) return;
      answer = select || checks
        ? { reason: reason.value.trim(), select: chooser ? chooser.value : undefined, checks: boxes.filter((b) => b.checked).map((b) => b.value) }
        : reason.value.trim();
      dialog.close();
    });
    cancel.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    (chooser || reason).focus();
  });
}

/** A day typed the Chinese way, YYYY-MM-DD (GB/T 7408), whatever the browser's locale: '' when empty, null when not a day. */
export function parseDay(text) {
  const value = String(text || '').trim().replace(/[年月/.]/g, '-').replace(/日$/, '');
  if (value === '') return '';
  const m = value.match(/^(\d{4})-(\d{1,2})-(\d{1,2})$/);
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null;
  return `${m[1]}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}
