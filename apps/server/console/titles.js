// Titles instead of identifiers: what a clerk reads for a department, an event, a state, a
// form value. The deployed workflows give the titles; the i18n table covers what the API does
// not title yet (docs/console.md).
import { api } from './ui.js';
import { t } from './i18n.js';

const workflows = new Map();  // bundle -> the API's workflow (fields, materials, items)
const departments = new Map();  // department id -> title
let loaded = null;

/** The newest deployed version of a bundle (cached for the page's life); null when none. */
export async function workflow(bundle) {
  if (!workflows.has(bundle)) {
    const result = await api('GET', `/api/workflows/${encodeURIComponent(bundle)}`);
    workflows.set(bundle, result.ok ? result.data : null);
    for (const item of (result.ok && result.data.items) || []) {
      if (item.department_title) departments.set(item.department, item.department_title);
    }
  }
  return workflows.get(bundle);
}

/** Loads every deployed bundle once, for the department titles of lists and the admin page. */
export function loadDepartments() {
  loaded ||= (async () => {
    const list = await api('GET', '/api/workflows');
    if (!list.ok) { loaded = null; return; }
    await Promise.all(list.data.workflows.map((w) => workflow(w.bundle)));
  })();
  return loaded;
}

/** Every known department as [id, title], by title. */
export function departmentList() {
  return [...departments.entries()].sort((a, b) => a[1].localeCompare(b[1], 'zh-CN'));
}

export function departmentTitle(id) {
  if (!id) return '';
  return departments.get(id) || t('department_unknown');
}

/** An event's button text: the API's title, else the common lifecycles' names. */
export function eventTitle(event) {
  if (event.title) return event.title;
  const known = t(`event_${event.event}`);
  return known === `event_${event.event}` ? t('event_other') : known;
}

/** Events that cannot be undone ask for a reason and a confirmation: the API says which
 * (`final_failed`: the event ends the item in a failed final state). */
export function irreversibleEvent(event) {
  return event.final_failed === true;
}

export function stateTitle(state, title) {
  if (title && title !== state) return title;
  const known = t(`state_${state}`);
  return known === `state_${state}` ? t('state_other') : known;
}

/** A form value as shown: choices by their titles, yes/no, nothing for an empty answer. */
export function displayValue(field, value) {
  if (value === null || value === undefined || value === '' || value === 'null') return '—';
  if (!field) return String(value);
  if (field.type === 'bool') return value === 'true' || value === true ? t('yes') : t('no');
  const title = (v) => ((field.options || []).find((o) => o.value === v) || {}).title || v;
  if (field.type.startsWith('list')) {
    return String(value).replace(/^\[|\]$/g, '').split(',').map((v) => v.trim().replace(/^"|"$/g, '')).filter(Boolean).map(title).join('、') || '—';
  }
  return title(String(value));
}

/** The choices of an enum field as [value, title]. */
export function choices(field) {
  if (field.options) return field.options.map((o) => [o.value, o.title || o.value]);
  return (field.values || []).map((v) => [v, v]);
}

/** How the applicant chose to receive the results (a case's or a 待送达 row's `delivery_choice`):
 *  邮寄：recipient，mobile (masked by the API)，address — or 窗口领取, or not chosen yet. */
export function deliveryText(choice) {
  if (!choice) return t('delivery_not_chosen');
  if (choice.method !== 'mail') return t('window');
  return `${t('mail')}：${[choice.recipient, choice.mobile, choice.address].filter(Boolean).join('，')}`;
}
