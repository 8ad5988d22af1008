// 综窗受理: the window clerk chooses the bundle, answers the situation questions, fills the one
// form, chooses the materials' files and starts the case: the chosen files are uploaded and
// the e-licenses fetched right after, and the case page opens ready for verification.
//
// Typing a valid credit code fills the company's registration (name, legal representative,
// address …) from the e-license library; filled fields are marked and stay editable.
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

// GB 32100: the 18th character of a unified social credit code checks the first 17.
function usccValid(code) {
  const chars = '0123456789ABCDEFGHJKLMNPQRTUWXY';
  if (!/^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/.test(code)) return false;
  const weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
  const sum = weights.reduce((s, w, i) => s + w * chars.indexOf(code[i]), 0);
  return chars[(31 - (sum % 31)) % 31] === code[17];
}

function checkValue(type, value) {
  if (value === '') return '';
  if (/^(int|decimal|money)/.test(type) && !/^-?\d+(\.\d+)?$/.test(value)) return t('invalid_number');
  if (type === 'idcard' && !idcardValid(value)) return t('invalid_idcard');
  if (type === 'phone' && !/^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$/.test(value)) return t('invalid_phone');
  if (type === 'date' && !/^\d{4}-\d{2}-\d{2}$/.test(value)) return t('invalid_date');
  if (type === 'uscc' && !usccValid(value.toUpperCase())) return t('invalid_uscc');
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
  // A credit code is written in capitals: typed in lower case, it is the same code.
  if (f.type === 'uscc') {
    input.addEventListener('input', () => {
      if (input.value === input.value.toUpperCase()) return;
      const at = input.selectionStart;
      input.value = input.value.toUpperCase();
      input.setSelectionRange(at, at);
    });
  }
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

    // The company's registration by credit code, from the e-license library: fills the
    // bundle's fields that are empty or were filled before (never what the clerk typed), marked.
    const prefilled = new Set();
    let askedCode = '';
    const prefillFrom = async (input, status) => {
      const code = input.get().toUpperCase();
      if (code === askedCode || checkValue('uscc', code)) return;
      askedCode = code;
      status.className = 'prefill-status';
      status.textContent = t('prefill_looking');
      const found = await api('POST', `/api/workflows/${encodeURIComponent(wf.bundle)}/registration`, { uscc: code });
      if (askedCode !== code) return;
      if (!found.ok) {
        status.className = 'prefill-status error';
        status.textContent = errorText(found);
        return;
      }
      const filled = [];
      for (const [name, value] of Object.entries(found.data.fields || {})) {
        const field = fields.get(name);
        if (!field || field.f.type === 'uscc') continue;
        if (field.input.get() !== '' && !prefilled.has(name)) continue;
        field.input.set(value);
        prefilled.add(name);
        const element = field.input.focus || field.input.element;
        element.classList.add('prefilled');
        element.title = t('prefilled');
        field.error.textContent = '';
        filled.push(field.f.title || t('field'));
      }
      status.className = 'prefill-status ok';
      status.textContent = `${t('prefill_done')}${filled.length ? filled.join('、') : t('prefill_none')}`;
      saveDraft();
      refresh();
    };
    for (const [name, { f, input, row }] of fields) {
      if (f.type === 'uscc') {
        const status = h('span', { class: 'prefill-status', id: `prefill-${name}`, role: 'status' });
        row.append(status);
        input.element.addEventListener('input', () => prefillFrom(input, status));
      } else {
        // Typing over a filled value makes it the clerk's own.
        input.element.addEventListener('input', () => {
          if (!prefilled.delete(name)) return;
          const element = input.focus || input.element;
          element.classList.remove('prefilled');
          element.removeAttribute('title');
        });
      }
    }

    // The material list (and the questions asked) for this situation, from the server as the
    // clerk types; each upload with its file chooser (files survive the list's updates, not a
    // reload: a browser does not keep chosen files).
    const materialList = h('ul', { id: 'intake-materials' });
    const chosenFiles = new Map();  // material -> file input
    const fileChooser = (m) => {
      const file = chosenFiles.get(m.material) || h('input', { type: 'file', class: 'file-input', id: `intake-file-${m.material}`,
        accept: m.accept || undefined, 'aria-label': `${t('choose_file')}：${m.title}` });
      chosenFiles.set(m.material, file);
      const chosen = h('span', { class: 'file-chosen' }, file.files.length ? file.files[0].name : t('no_file'));
      file.onchange = () => { chosen.textContent = file.files.length ? file.files[0].name : t('no_file'); };
      return h('span', { class: 'inline' }, file, h('label', { for: file.id, class: 'file-button' }, t('choose_file')), chosen);
    };
    let listed = [];
    let pending = null;
    const refresh = () => {
      clearTimeout(pending);
      pending = setTimeout(async () => {
        const preview = await api('POST', `/api/workflows/${encodeURIComponent(wf.bundle)}/materials`, { form: answers() });
        if (!preview.ok) return;
        asked = Array.isArray(preview.data.asked) ? preview.data.asked : null;
        for (const [name, { row }] of fields) row.hidden = !isAsked(name);
        listed = preview.data.materials;
        materialList.replaceChildren(...listed.map((m) => h('li', { 'data-material': m.material },
          h('span', {}, `${m.title}${m.source === 'elicense' ? ' · ' + t('from_elicense') : ''}${m.secondary ? ' · ' + t('secondary') : ''}`),
          m.source === 'upload' ? fileChooser(m) : null)));
      }, 200);
    };
    formArea.addEventListener('input', () => { saveDraft(); refresh(); });
    formArea.addEventListener('change', () => { saveDraft(); refresh(); });

    const message = h('div', { class: 'error-box', id: 'intake-error', role: 'alert' });
    const progress = h('div', { class: 'ok-box', id: 'intake-progress', role: 'status' });
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
        // The case is made: the chosen files go up and the e-licenses are fetched, each with a
        // key of its own (derived from the form's), so sending again never attaches twice.
        const caseId = result.data.case_id;
        const base = `/api/cases/${encodeURIComponent(caseId)}`;
        progress.textContent = t('intake_uploading');
        const failed = [];
        // The case's own material list (the preview may lag behind the last keystroke).
        const made = await api('GET', base);
        const materials = made.ok ? made.data.materials.filter((m) => m.status === 'missing') : listed;
        for (const m of materials) {
          const file = chosenFiles.get(m.material);
          let sent = null;
          if (m.source === 'upload' && file && file.files.length) {
            sent = await api('PUT', `${base}/materials/${encodeURIComponent(m.material)}`, file.files[0],
              { 'X-File-Name': encodeURIComponent(file.files[0].name), 'Idempotency-Key': `${key}-upload-${m.material}` });
          } else if (m.source === 'elicense') {
            sent = await api('POST', `${base}/materials/${encodeURIComponent(m.material)}/elicense`, {}, { 'Idempotency-Key': `${key}-elicense-${m.material}` });
          }
          if (sent && !sent.ok && !(sent.data && sent.data.code === 'wrong_state')) failed.push(m.title);
        }
        if (failed.length) sessionStorage.setItem('ov_case_notice', `${t('intake_upload_failed')}${failed.join('、')}`);
        location.hash = `#/case/${encodeURIComponent(caseId)}`;
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
      h('h2', {}, t('materials')), h('p', { class: 'muted' }, t('choose_files_note')), materialList,
      h('div', { class: 'form-actions' }, submitButton, clear, message, progress)));
    saveDraft();
    refresh();
  };

  select.addEventListener('change', () => {
    const draft = readDraft();
    open(draft && draft.bundle === select.value ? draft : null);
  });
  if (!page(h('section', {}, h('h1', {}, t('intake')), h('label', { class: 'inline' }, t('bundle'), select), formArea))) return;
  const draft = readDraft();
  if (draft && bundles.has(draft.bundle)) {
    select.value = draft.bundle;
    await open(draft);
  }
}
