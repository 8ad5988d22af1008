// 综窗受理: the window clerk chooses the bundle, answers the situation questions, fills the one
// form and starts the case.
//
// One form is one case: its Idempotency-Key is made when the form is opened (or cleared) and
// kept, with the half-filled answers, in sessionStorage until the case is made, so a double
// click, a retry after a lost answer or a reload never starts a second case.
import { t } from './i18n.js';
import { api, busy, errorText, fieldProblem, h } from './ui.js';
import { choices } from './titles.js';
import { readerControl } from './reader.js';

const draftKey = 'ov_intake_draft';
const newKey = () => `intake-${Date.now().toString(36)}-${crypto.getRandomValues(new Uint32Array(2)).join('')}`;

function readDraft() {
  try { return JSON.parse(sessionStorage.getItem(draftKey)) || null; } catch { return null; }
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
  if (type === 'phone' && !/^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$/.test(value)) return t('invalid_phone');
  if (type === 'date' && !/^\d{4}-\d{2}-\d{2}$/.test(value)) return t('invalid_date');
  if (type === 'uscc' && !/^[0-9A-Z]{18}$/.test(value)) return t('invalid_uscc');
  return '';
}

/** A list default as the API prints it (`["a", "b"]` or `a,b`) as its members. */
const listMembers = (text) => String(text || '').replace(/^\[|\]$/g, '').split(',').map((v) => v.trim().replace(/^"|"$/g, '')).filter(Boolean);

/** One field's input: a select for yes/no and enums, checkboxes for a list of enum members. */
function fieldInput(f) {
  const id = `form-${f.name}`;
  if (f.type === 'bool') {
    const input = h('select', { id }, h('option', { value: '' }, t('not_answered')), h('option', { value: 'true' }, t('yes')), h('option', { value: 'false' }, t('no')));
    return { element: input, focus: input, get: () => input.value, set: (v) => { input.value = v; } };
  }
  if (f.type.startsWith('list') && (f.values || f.options)) {
    const boxes = choices(f).map(([value, title]) => h('input', { type: 'checkbox', value, id: `${id}-${value}` }));
    const element = h('fieldset', { id, class: 'choices', 'aria-label': f.title || '' },
      boxes.map((box, i) => h('label', { for: box.id }, box, choices(f)[i][1])));
    return { element, focus: boxes[0], get: () => boxes.filter((b) => b.checked).map((b) => b.value).join(','),
      set: (v) => { const on = listMembers(v); boxes.forEach((b) => { b.checked = on.includes(b.value); }); } };
  }
  if (f.values || f.options) {
    const input = h('select', { id }, h('option', { value: '' }, t('not_answered')), choices(f).map(([value, title]) => h('option', { value }, title)));
    return { element: input, focus: input, get: () => input.value, set: (v) => { input.value = v; } };
  }
  const numeric = /^(int|decimal|money)/.test(f.type);
  const input = h('input', { id, size: 30, inputmode: numeric ? 'decimal' : undefined, placeholder: t(`hint_${f.type}`) === `hint_${f.type}` ? '' : t(`hint_${f.type}`),
    autocomplete: 'off' });
  return { element: input, focus: input, get: () => input.value.trim(), set: (v) => { input.value = v; } };
}

export async function intakePage(page) {
  const list = await api('GET', '/api/workflows');
  const bundles = new Map();
  for (const w of (list.data && list.data.workflows) || []) bundles.set(w.bundle, w);
  const select = h('select', { id: 'intake-bundle', 'aria-label': t('choose_bundle') }, h('option', { value: '' }, t('choose_bundle')),
    [...bundles.values()].map((w) => h('option', { value: w.bundle }, w.title || t('bundle'))));
  const formArea = h('div', { id: 'intake-form' });

  const open = async (draft) => {
    formArea.replaceChildren();
    if (!select.value) return;
    const result = await api('GET', `/api/workflows/${encodeURIComponent(select.value)}`);
    if (!result.ok) return formArea.replaceChildren(h('div', { class: 'error-box' }, errorText(result)));
    const wf = result.data;
    const key = draft && draft.bundle === wf.bundle && draft.key ? draft.key : newKey();
    const fields = new Map();  // name -> {f, input, error, row}
    let asked = null;  // the fields asked under the answers so far (the API's `asked`), or all
    for (const f of wf.fields) {
      const input = fieldInput(f);
      const error = h('span', { class: 'error', id: `error-${f.name}`, role: 'alert' });
      const row = h('div', { class: 'field', 'data-field': f.name },
        h('label', { for: input.focus ? input.focus.id : undefined }, `${f.title || t('field')}${f.required ? ' *' : ''}`), input.element, error);
      if (f.default !== undefined) input.set(f.default);
      fields.set(f.name, { f, input, error, row });
      input.element.addEventListener('input', () => {
        const problem = checkValue(f.type, input.get());
        error.textContent = problem;
        (input.focus || input.element).classList.toggle('invalid', problem !== '');
      });
    }
    if (draft && draft.bundle === wf.bundle) {
      for (const [name, value] of Object.entries(draft.values || {})) if (fields.has(name)) fields.get(name).input.set(value);
    }
    const applicant = h('input', { id: 'intake-applicant', size: 30, autocomplete: 'off' });
    if (draft && draft.bundle === wf.bundle) applicant.value = draft.applicant || '';
    const isAsked = (name) => !asked || asked.includes(name);
    const answers = () => {
      const form = {};
      for (const [name, { f, input }] of fields) {
        const value = input.get();
        if (value !== '' && isAsked(name) && !checkValue(f.type, value)) form[name] = value;
      }
      return form;
    };
    const saveDraft = () => {
      const values = {};
      for (const [name, { input }] of fields) values[name] = input.get();
      sessionStorage.setItem(draftKey, JSON.stringify({ bundle: wf.bundle, key, values, applicant: applicant.value }));
    };

    // The material list (and the questions asked) for this situation, from the server as the
    // clerk types.
    const materialList = h('ul', { id: 'intake-materials' });
    let pending = null;
    const refresh = () => {
      clearTimeout(pending);
      pending = setTimeout(async () => {
        const preview = await api('POST', `/api/workflows/${encodeURIComponent(wf.bundle)}/materials`, { form: answers() });
        if (!preview.ok) return;
        asked = Array.isArray(preview.data.asked) ? preview.data.asked : null;
        for (const [name, { row }] of fields) row.hidden = !isAsked(name);
        materialList.replaceChildren(...preview.data.materials.map((m) => h('li', { 'data-material': m.material },
          `${m.title}${m.source === 'elicense' ? ' · ' + t('from_elicense') : ''}${m.secondary ? ' · ' + t('secondary') : ''}`)));
      }, 200);
    };
    formArea.addEventListener('input', () => { saveDraft(); refresh(); });
    formArea.addEventListener('change', () => { saveDraft(); refresh(); });

    const message = h('div', { class: 'error-box', id: 'intake-error', role: 'alert' });
    const submitButton = h('button', { class: 'primary', type: 'submit', id: 'intake-submit' }, t('start_case'));
    const submit = async (event) => {
      event.preventDefault();
      if (submitButton.disabled) return;
      message.textContent = '';
      let firstBad = null;
      for (const [name, { f, input, error }] of fields) {
        if (!isAsked(name)) continue;
        const value = input.get();
        // Required only counts where the API says the field is asked: a field's `when` may
        // leave it out, and only the server knows (without `asked` the server alone checks).
        const problem = value === '' ? (asked && f.required && f.default === undefined ? t('problem_required') : '') : checkValue(f.type, value);
        error.textContent = problem;
        (input.focus || input.element).classList.toggle('invalid', problem !== '');
        if (problem && !firstBad) firstBad = input.focus || input.element;
      }
      if (firstBad) {
        firstBad.focus();
        return;
      }
      const form = answers();
      await busy(submitButton, async () => {
        const result = await api('POST', '/api/cases', { bundle: wf.bundle, form, applicant: applicant.value.trim() }, { 'Idempotency-Key': key });
        if (!result.ok) {
          message.textContent = result.status === 0 ? t('error_network_intake') : errorText(result, Object.fromEntries(wf.fields.map((f) => [f.name, f.title])));
          for (const problem of (result.data.details && result.data.details.fields) || []) {
            const field = fields.get(problem.field);
            if (!field) continue;
            field.error.textContent = fieldProblem(problem.message);
            (field.input.focus || field.input.element).classList.add('invalid');
          }
          return;
        }
        sessionStorage.removeItem(draftKey);
        location.hash = `#/case/${encodeURIComponent(result.data.case_id)}`;
      });
    };
    const clear = h('button', { class: 'secondary', type: 'button', id: 'intake-clear', onclick: () => {
      sessionStorage.removeItem(draftKey);
      open(null);  // a new form, with a new key
    } }, t('clear_form'));
    const rows = (situation) => wf.fields.filter((f) => f.situation === situation).map((f) => fields.get(f.name).row);
    formArea.append(h('form', { onsubmit: submit, novalidate: true },
      readerControl(fields, applicant),
      h('h2', {}, t('situation')), rows(true),
      h('h2', {}, t('form')), rows(false),
      h('div', { class: 'field' }, h('label', { for: 'intake-applicant' }, t('applicant')), applicant),
      h('h2', {}, t('materials')), materialList,
      h('div', { class: 'form-actions' }, submitButton, clear, message)));
    saveDraft();
    refresh();
  };

  select.addEventListener('change', () => {
    const draft = readDraft();
    open(draft && draft.bundle === select.value ? draft : null);
  });
  page(h('section', {}, h('h1', {}, t('intake')), h('label', { class: 'inline' }, t('bundle'), select), formArea));
  const draft = readDraft();
  if (draft && bundles.has(draft.bundle)) {
    select.value = draft.bundle;
    await open(draft);
  }
}
