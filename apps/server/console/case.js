// The case page: the form, the materials checklist, the items with the events this user may
// fire now, the departments' calls and the timeline.
//
// Actions update the page in place: the page is rebuilt from the API's new answer and swapped
// in with the scroll position, the focus and the files chosen in other rows kept. An action's
// error shows next to its button. Irreversible actions ask for a reason in an in-page dialog;
// a finished case offers no actions on its materials and items.
import { t } from './i18n.js';
import { api, askReason, busy, errorSlot, errorText, h, stackedTable } from './ui.js';
import { departmentTitle, displayValue, eventTitle, irreversibleEvent, stateTitle, workflow as loadWorkflow } from './titles.js';
import { processGraph } from './graph.js';
import { noticesSection } from './notices.js';

const engineRole = { window_clerk: 'clerk', reviewer: 'reviewer', supervisor: 'supervisor' };

function lightBadge(light) {
  if (!light) return h('span', { class: 'muted' }, t('none'));
  return h('span', { class: `badge ${light}` }, t(light));
}

/**
 * A material's note as a clerk reads it: a clerk's reason (Chinese) as written; the engine's
 * English notes by their Chinese names ("e-license" needs none: the source says it); any
 * other English note only in the cell's tooltip.
 */
function materialNote(note) {
  if (!note || note === 'e-license') return '';
  if (/[\u3400-\u9fff]/.test(note)) return ` ${note}`;
  if (note === "issued by the department's system") return ` ${t('note_issued_by_department')}`;
  return '';
}

/** Renders the case into `page`; answers once it is shown. */
export async function casePage(page, caseId, me) {
  const fileInputs = new Map();  // material -> the file input, kept across updates while it holds a file
  const base = `/api/cases/${encodeURIComponent(caseId)}`;

  const render = async () => {
    const [caseResult, historyResult, callsResult] = await Promise.all([
      api('GET', base), api('GET', `${base}/history`), api('GET', `${base}/calls`)]);
    if (!caseResult.ok) return page(h('section', {}, h('div', { class: 'error-box' }, errorText(caseResult))));
    const c = caseResult.data;
    const wf = (await loadWorkflow(c.bundle)) || { fields: [], items: [], materials: [] };
    const fieldByName = new Map((wf.fields || []).map((f) => [f.name, f]));
    const fieldTitles = Object.fromEntries((wf.fields || []).map((f) => [f.name, f.title]));
    const running = c.status === 'running';

    // Runs an action with its button busy; on failure the error shows in `slot`, on success
    // the page updates in place. Each button sends one Idempotency-Key for as long as it is
    // shown, so sending again after a lost answer does not act twice.
    const run = (button, slot, method, path, body, headers = {}) => busy(button, async () => {
      slot.textContent = '';
      button.dataset.key ||= `action-${Date.now().toString(36)}-${crypto.getRandomValues(new Uint32Array(2)).join('')}`;
      const result = await api(method, base + path, body, { ...headers, 'Idempotency-Key': button.dataset.key });
      if (!result.ok) {
        slot.textContent = errorText(result, fieldTitles);
        return false;
      }
      await update();
      return true;
    });
    const withReason = async (options, send) => {
      const reason = await askReason(options);
      if (reason === null) return;
      await send(reason);
    };

    // Materials checklist
    const mayVerify = me.role === 'window_clerk' || me.role === 'reviewer';
    const materialRows = c.materials.map((m) => {
      const actions = [];
      const slot = errorSlot(`material-error-${m.material}`);
      const title = m.title || t('material');
      if (m.has_content) actions.push(h('a', { href: `${base}/materials/${encodeURIComponent(m.material)}`, download: m.file_name || title }, t('download')));
      if (running && mayVerify && m.status === 'submitted') {
        const verify = h('button', { class: 'action', id: `verify-${m.material}` }, t('verify'));
        verify.addEventListener('click', () => run(verify, slot, 'POST', `/materials/${encodeURIComponent(m.material)}/verify`, { accept: true }));
        const refuse = h('button', { class: 'secondary', id: `refuse-${m.material}` }, t('refuse'));
        refuse.addEventListener('click', () => withReason({ title: `${t('refuse')}：${title}`, note: t('refuse_note') },
          (reason) => run(refuse, slot, 'POST', `/materials/${encodeURIComponent(m.material)}/verify`, { accept: false, reason })));
        actions.push(verify, refuse);
      }
      if (running && me.role === 'window_clerk' && ['missing', 'rejected', 'tolerated'].includes(m.status)) {
        if (m.source === 'elicense') {
          const fetchButton = h('button', { class: 'action', id: `elicense-${m.material}` }, t('elicense'));
          fetchButton.addEventListener('click', () => run(fetchButton, slot, 'POST', `/materials/${encodeURIComponent(m.material)}/elicense`, {}));
          actions.push(fetchButton);
        }
        // An e-license the library does not hold (or no library) is uploaded like any other.
        if (m.source === 'elicense' || m.source === 'upload') {
          const kept = fileInputs.get(m.material);
          const file = kept && kept.files.length ? kept
            : h('input', { type: 'file', class: 'file-input', id: `file-${m.material}`, accept: m.accept || undefined,
              'aria-label': `${t('choose_file')}：${title}` });
          fileInputs.set(m.material, file);
          // The browser's own file button speaks the browser's language: ours says 选择文件.
          const chosen = h('span', { class: 'file-chosen' }, file.files.length ? file.files[0].name : t('no_file'));
          file.onchange = () => { chosen.textContent = file.files.length ? file.files[0].name : t('no_file'); };
          const upload = h('button', { class: 'action', id: `upload-${m.material}` }, t('upload'));
          upload.addEventListener('click', async () => {
            if (!file.files[0]) {
              slot.textContent = t('choose_file_first');
              return;
            }
            const done = await run(upload, slot, 'PUT', `/materials/${encodeURIComponent(m.material)}`, file.files[0],
              { 'X-File-Name': encodeURIComponent(file.files[0].name) });
            if (done) fileInputs.delete(m.material);
          });
          actions.push(h('span', { class: 'inline' }, file, h('label', { for: file.id, class: 'file-button' }, t('choose_file')), chosen, upload));
        }
      }
      return h('tr', { id: `material-${m.material}` }, h('td', {}, title),
        h('td', { title: m.note && !/[\u3400-\u9fff]/.test(m.note) ? m.note : undefined },
          h('span', { class: `badge ${m.status === 'verified' ? 'ok' : m.status === 'rejected' ? 'bad' : ''}` }, t(`material_${m.status}`)),
          materialNote(m.note)),
        h('td', { class: 'file-name' }, m.file_name || ''), h('td', {}, actions, slot));
    });

    // Items with their states, deadlines and the events this user may fire now
    const myRole = engineRole[me.role];
    const itemRows = c.items.map((item) => {
      const mine = me.role !== 'reviewer' || item.department === me.department;
      const mayFire = (e) => e.roles.length === 0 || e.roles.includes(myRole);
      // At the window the clerk records the applicant's own events for them (已补正 once the
      // corrected materials are taken in): docs/runtime.md, Acting for the applicant.
      const forApplicant = (e) => me.role === 'window_clerk' && !mayFire(e) && e.roles.includes('applicant');
      const events = running ? (item.events || []).filter((e) => mine && myRole && (mayFire(e) || forApplicant(e))) : [];
      const slot = errorSlot(`item-error-${item.item}`);
      const buttons = events.map((e) => {
        const onBehalf = forApplicant(e);
        // A reason is asked in the dialog; other required fields are typed next to the button.
        const others = e.required_fields.filter((f) => f !== 'reason');
        const inputs = others.map((f) => h('input', { id: `field-${item.item}-${e.event}-${f}`, placeholder: t(`field_${f}`), 'aria-label': t(`field_${f}`), size: 16 }));
        const label = onBehalf ? t('for_applicant').replace('{event}', eventTitle(e)) : eventTitle(e);
        const button = h('button', { class: irreversibleEvent(e) ? 'secondary danger' : 'action', id: `event-${item.item}-${e.event}` }, label);
        const fire = (reason) => {
          const fields = {};
          others.forEach((f, i) => { fields[f] = inputs[i].value; });
          if (reason !== undefined) fields.reason = reason;
          const body = onBehalf ? { fields, for_applicant: true } : { fields };
          return run(button, slot, 'POST', `/items/${encodeURIComponent(item.item)}/events/${encodeURIComponent(e.event)}`, body);
        };
        button.addEventListener('click', () => {
          if (e.required_fields.includes('reason') || irreversibleEvent(e)) {
            return withReason({ title: `${eventTitle(e)}：${item.title}`, irreversible: irreversibleEvent(e), confirm: eventTitle(e) }, fire);
          }
          return fire();
        });
        return h('span', { class: 'inline' }, inputs, button);
      });
      return h('tr', { id: `item-${item.item}` }, h('td', {}, item.title), h('td', {}, departmentTitle(item.department)),
        h('td', {}, t(item.phase)), h('td', { class: 'item-state', 'data-state': item.state }, stateTitle(item.state, item.state_title)),
        h('td', {}, item.due && item.due !== '-' ? item.due : t('none')), h('td', {}, lightBadge(item.light),
          // 督办 stays on the item until it moves on, with the supervisor's note.
          item.urged ? h('span', { class: 'badge urged', id: `urged-${item.item}`, title: item.urge_note || '' }, `${t('urged')}${item.urged_at ? ` ${item.urged_at}` : ''}`) : null),
        h('td', {}, buttons, slot));
    });

    // Case-level actions for the window
    const caseActions = [];
    const caseSlot = errorSlot('action-error');
    if (me.role === 'window_clerk') {
      if (running) {
        const withdraw = h('button', { class: 'secondary danger', id: 'withdraw' }, t('withdraw'));
        withdraw.addEventListener('click', () => withReason({ title: `${t('withdraw')}：${c.case_id}`, note: t('withdraw_note'), irreversible: true, confirm: t('withdraw') },
          (reason) => run(withdraw, caseSlot, 'POST', '/withdraw', { reason })));
        caseActions.push(withdraw);
      }
      if (c.status === 'completed') {
        const channel = h('select', { id: 'deliver-channel', 'aria-label': t('channel') }, ['window', 'mail', 'electronic'].map((x) => h('option', { value: x }, t(x))));
        const deliver = h('button', { class: 'action', id: 'deliver' }, t('deliver'));
        deliver.addEventListener('click', () => run(deliver, caseSlot, 'POST', '/deliver', { channel: channel.value }));
        caseActions.push(h('span', { class: 'inline' }, channel, deliver));
      }
      if (c.status === 'delivered') {
        const level = h('select', { id: 'rate-level', 'aria-label': t('level') }, [5, 4, 3, 2, 1].map((x) => h('option', { value: x }, t(`level_${x}`))));
        const comment = h('input', { id: 'rate-comment', placeholder: t('comment'), 'aria-label': t('comment') });
        const rate = h('button', { class: 'action', id: 'rate' }, t('rate'));
        rate.addEventListener('click', () => run(rate, caseSlot, 'POST', '/rate', { level: Number(level.value), comment: comment.value }));
        caseActions.push(h('span', { class: 'inline' }, level, comment, rate));
      }
    }

    // The departments' calls; parked ones wait for a clerk to retry or resolve them
    const calls = callsResult.ok ? callsResult.data.calls : [];
    const callRows = calls.map((call) => {
      const actions = [];
      const slot = errorSlot(`call-error-${call.id}`);
      if (call.status === 'parked' && c.status !== 'withdrawn') {
        const retry = h('button', { class: 'action', id: `retry-${call.id}` }, t('retry'));
        retry.addEventListener('click', () => run(retry, slot, 'POST', `/calls/${call.id}/retry`, {}));
        const resolve = h('button', { class: 'secondary', id: `resolve-${call.id}` }, t('resolve'));
        resolve.addEventListener('click', () => withReason({ title: t('resolve'), note: t('resolve_note'), label: t('note'), confirm: t('resolve') },
          (note) => run(resolve, slot, 'POST', `/calls/${call.id}/resolve`, { note })));
        actions.push(retry, resolve);
      }
      const problem = call.last_error ? (/[\u3400-\u9fff]/.test(call.last_error) ? call.last_error : t('call_error_generic')) : '';
      return h('tr', { id: `call-${call.id}` }, h('td', {}, departmentTitle(call.department)), h('td', {}, t(`operation_${call.operation}`) === `operation_${call.operation}` ? t('operation_other') : t(`operation_${call.operation}`)),
        h('td', {}, h('span', { class: `badge ${call.status === 'parked' ? 'bad' : call.status === 'delivered' ? 'ok' : ''}` }, t(`call_${call.status}`))),
        h('td', {}, String(call.attempts)), h('td', { title: call.last_error || undefined }, problem), h('td', {}, actions, slot));
    });

    // Timeline from the history
    const events = historyResult.ok ? historyResult.data.events : [];
    // Each entry: when, who (display name), what (its title), which item or material, the
    // event and the states before and after by title, and the reason or note.
    const timeline = events.map((e) => {
      const what = [e.title || t(e.type)];
      if (e.item) what.push(e.item.title);
      if (e.material) what.push(`「${e.material.title}」`);
      let text = what.join(' ');
      if (e.event_title) text += `：${e.event_title}`;
      if (e.from && e.to) text += `（${e.from.title} → ${e.to.title}）`;
      else if (e.to) text += `（${e.to.title}）`;
      if (e.reason) text += ` ${t('reason')}：${e.reason}`;
      if (e.note) text += ` · ${e.note}`;
      const who = e.actor && e.actor.display_name ? e.actor.display_name : '';
      return h('li', {}, h('time', {}, e.at), who ? h('span', { class: 'actor' }, who) : null, text);
    });

    const table = (id, headings, rows) => stackedTable(id, headings.map((x) => t(x)), rows);
    const formRows = Object.entries(c.form).filter(([, v]) => v !== null && v !== 'null' && v !== '')
      .map(([k, v]) => h('tr', {}, h('th', {}, fieldTitles[k] || t('field')), h('td', {}, displayValue(fieldByName.get(k), v))));
    return [
      h('section', {}, h('h1', {}, `${c.case_id} · ${wf.title || t('bundle')}`),
        h('p', {}, h('span', { class: 'badge', id: 'case-status' }, t(c.status)),
          ` ${t('applicant')}：${c.applicant || t('none')} · ${t('deadline')}：${c.deadline_due && c.deadline_due !== '-' ? c.deadline_due : t('none')}`),
        caseActions.length ? h('div', { class: 'case-actions' }, caseActions, caseSlot) : caseSlot),
      // The notices are printed at the window; a reviewer's history holds only their department's part.
      historyResult.ok && me.role !== 'reviewer' ? noticesSection(c, events, wf) : null,
      h('section', {}, h('h2', {}, t('form')), formRows.length ? h('div', { class: 'table-scroll' }, h('table', { id: 'case-form' }, h('tbody', {}, formRows)))
        : h('p', { class: 'muted' }, t('form_none'))),
      h('section', {}, h('h2', {}, t('materials')), table('materials', ['material', 'status', 'file', 'actions'], materialRows)),
      h('section', {}, h('h2', {}, t('process')), h('div', { class: 'graph-scroll' }, processGraph(c.items))),
      h('section', {}, h('h2', {}, t('items')), table('items', ['item', 'department', 'phase', 'state', 'deadline', 'light', 'actions'], itemRows)),
      calls.length ? h('section', {}, h('h2', {}, t('calls')), table('calls', ['department', 'operation', 'status', 'attempts', 'last_error', 'actions'], callRows)) : null,
      h('section', {}, h('h2', {}, t('timeline')), h('ol', { class: 'timeline', id: 'timeline' }, timeline)),
    ].filter(Boolean);
  };

  // Swaps the new sections in where the old ones were: same scroll position, same focus.
  const update = async () => {
    const y = window.scrollY;
    const focused = document.activeElement && document.activeElement.id;
    const sections = await render();
    if (!sections) return;
    page(...sections);
    window.scrollTo(0, y);
    const again = focused && document.getElementById(focused);
    if (again) again.focus({ preventScroll: true });
  };
  const sections = await render();
  if (sections) page(...sections);
}
