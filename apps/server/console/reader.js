// The second-generation ID-card reader (二代身份证读卡器) at the window: its vendor software serves
// a local HTTP endpoint the page calls (protocol: docs/adapters.md, "The ID-card reader at the
// window"). The reader's address is set per window PC and kept in localStorage.
//
// A card's numbers go into the form's inputs only: they are never logged or shown elsewhere.
import { t } from './i18n.js';
import { h } from './ui.js';

export const defaultReaderAddress = 'http://127.0.0.1:19196';
const addressKey = 'ov_reader_address';
const readTimeoutMs = 10000;

/** This window PC's reader address (no trailing slash). */
export function readerAddress() {
  return (localStorage.getItem(addressKey) || defaultReaderAddress).replace(/\/+$/, '');
}

/** Keeps `address` for this PC; an empty one goes back to the default. Answers false for a non-http address. */
export function setReaderAddress(address) {
  const value = String(address || '').trim();
  if (value === '') {
    localStorage.removeItem(addressKey);
    return true;
  }
  if (!/^https?:\/\/[^\s/]+(\/\S*)?$/.test(value)) return false;
  localStorage.setItem(addressKey, value.replace(/\/+$/, ''));
  return true;
}

const cardFields = ['name', 'sex', 'nation', 'birth_date', 'address', 'id_number', 'issuer', 'valid_from', 'valid_to'];

/**
 * Reads the card on the reader. Answers {ok: true, card} or {ok: false, code} with code
 * `no_service` (nothing answers at the address: the reader's software is not running, the
 * address is wrong, or it does not allow this console's origin), `blocked` (the server's
 * Content-Security-Policy does not let the page call that address), `no_reader`, `no_card`,
 * `read_failed`, `timeout` or `bad_answer`; `readerMessage(code)` says it in Chinese.
 */
export async function readIdCard() {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), readTimeoutMs);
  // The server's Content-Security-Policy decides which addresses the page may call: a reader
  // it does not allow fails like a missing one, but needs the administrator, not the clerk.
  let blocked = false;
  const address = readerAddress();
  const onViolation = (event) => { if (event.blockedURI && event.blockedURI.startsWith(new URL(address).origin)) blocked = true; };
  document.addEventListener('securitypolicyviolation', onViolation);
  let response;
  try {
    response = await fetch(`${address}/read`, { method: 'GET', mode: 'cors', credentials: 'omit', cache: 'no-store', signal: abort.signal });
  } catch {
    // The violation event is queued as a task: let it arrive before deciding.
    await new Promise((resolve) => setTimeout(resolve, 0));
    return { ok: false, code: abort.signal.aborted ? 'timeout' : blocked ? 'blocked' : 'no_service' };
  } finally {
    clearTimeout(timer);
    document.removeEventListener('securitypolicyviolation', onViolation);
  }
  let body = null;
  try { body = await response.json(); } catch { body = null; }
  if (!response.ok) {
    const code = body && ['no_reader', 'no_card', 'read_failed'].includes(body.error) ? body.error : 'read_failed';
    return { ok: false, code };
  }
  if (!body || typeof body !== 'object' || typeof body.id_number !== 'string' || typeof body.name !== 'string') return { ok: false, code: 'bad_answer' };
  const card = {};
  for (const key of cardFields) card[key] = typeof body[key] === 'string' ? body[key].trim() : '';
  card.id_number = card.id_number.toUpperCase();
  // A number that is not one (a garbled read, another protocol's answer) is never put in a form.
  if (!/^\d{17}[\dX]$/.test(card.id_number) || card.name === '') return { ok: false, code: 'bad_answer' };
  return { ok: true, card };
}

/** What a clerk reads for a reader problem: what happened and what to do. */
export function readerMessage(code) {
  return ['no_service', 'blocked'].includes(code) ? `${t(`reader_${code}`)}（${readerAddress()}）` : t(`reader_${code}`);
}

/** A card date (YYYY-MM-DD or YYYYMMDD) as YYYY-MM-DD; '' when it is not one. */
function isoDate(text) {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(text || '');
  return m ? `${m[1]}-${m[2]}-${m[3]}` : '';
}

// Which form field takes which part of the card, by the field's type and title. A title
// names the person before the part ("法定代表人身份证" and "法定代表人姓名"): a name field of the
// same person as the ID field it fills is preferred.
const personOf = (title) => String(title || '').replace(/(公民身份号码|身份证件号码|身份证号码|身份证号|身份证|证件号码|姓名|性别|民族|出生日期|住址|户籍地址|地址)$/, '');
const parts = [
  ['name', (f) => /姓名$/.test(f.title || '') && !/企业|公司|单位/.test(f.title)],
  ['sex', (f) => /性别$/.test(f.title || '')],
  ['nation', (f) => /民族$/.test(f.title || '')],
  ['birth_date', (f) => /出生日期$/.test(f.title || '')],
  ['address', (f) => /(住址|户籍地址)$/.test(f.title || '')],
];

/**
 * Chooses the form fields the card fills: the ID field (type idcard; one titled 申请人 or 本人
 * first, else the first empty one) and that person's name, sex, nation, birth date and address
 * fields where the form has them. `fields` is [{f, value}]; answers [[field name, part]].
 */
export function matchCardFields(fields) {
  const ids = fields.filter(({ f }) => f.type === 'idcard');
  const id = ids.find(({ f }) => /申请人|本人/.test(f.title || '')) || ids.find(({ value }) => !value) || ids[0];
  const person = id ? personOf(id.f.title) : null;
  const chosen = id ? [[id.f.name, 'id_number']] : [];
  for (const [part, fits] of parts) {
    const candidates = fields.filter(({ f }) => f.type !== 'idcard' && fits(f));
    const pick = (person !== null && candidates.find(({ f }) => personOf(f.title) === person))
      || candidates.find(({ f }) => /^(申请人)?(姓名|性别|民族|出生日期|住址|户籍地址)$/.test(f.title || ''))
      || (candidates.length === 1 ? candidates[0] : null);
    if (pick) chosen.push([pick.f.name, part]);
  }
  return chosen;
}

/** A card value as the field takes it: dates as YYYY-MM-DD, a choice by its title. */
function valueFor(f, part, card) {
  const value = part === 'birth_date' ? isoDate(card.birth_date) : card[part];
  if (!value) return '';
  const options = f.options || (f.values || []).map((v) => ({ value: v, title: v }));
  if (options.length === 0) return value;
  const found = options.find((o) => o.title === value || o.value === value || (part === 'nation' && o.title === `${value}族`));
  return found ? found.value : '';
}

/**
 * The 读取身份证 button of the intake form and its message line. `fields` is the intake
 * form's Map name -> {f, input}; `applicant` the applicant's ID input. Filled inputs get an
 * `input` event, so the page checks and keeps them as if typed.
 */
export function readerControl(fields, applicant) {
  const status = h('span', { class: 'reader-status', id: 'reader-status', role: 'status' });
  const button = h('button', { class: 'secondary', type: 'button', id: 'reader-read' }, t('reader_read'));
  button.addEventListener('click', async () => {
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    status.className = 'reader-status';
    status.textContent = t('reader_reading');
    try {
      const result = await readIdCard();
      if (!result.ok) {
        status.className = 'reader-status error';
        status.textContent = readerMessage(result.code);
        return;
      }
      const { card } = result;
      const filled = [];
      const set = (input, value) => {
        input.set(value);
        input.element.dispatchEvent(new Event('input', { bubbles: true }));
      };
      const visible = [...fields.values()].filter(({ row }) => !row || !row.hidden).map(({ f, input }) => ({ f, value: input.get() }));
      for (const [name, part] of matchCardFields(visible)) {
        const { f, input } = fields.get(name);
        const value = valueFor(f, part, card);
        if (!value) continue;
        set(input, value);
        filled.push(f.title || t('field'));
      }
      if (applicant) {
        applicant.value = card.id_number;
        applicant.dispatchEvent(new Event('input', { bubbles: true }));
        filled.push(t('applicant'));
      }
      const expired = isoDate(card.valid_to) && isoDate(card.valid_to) < new Date().toISOString().slice(0, 10);
      status.className = expired ? 'reader-status error' : 'reader-status ok';
      status.textContent = `${t('reader_filled')}${filled.join('、')}${expired ? `。${t('reader_expired')}${isoDate(card.valid_to)}` : ''}`;
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  });
  return h('div', { class: 'reader', id: 'reader' }, button, status);
}
