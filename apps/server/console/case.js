// The case page: the form, the materials checklist, the items with the events this user may
// fire now, the departments' calls and the timeline.
//
// Actions update the page in place: the page is rebuilt from the API's new answer and swapped
// in with the scroll position, the focus, what was typed and the files chosen in other rows
// kept; when the action's button is gone, the next action gets the focus. The page also
// follows what others do (a reviewer's approval, the window's acceptance): it asks for the
// case's version every few seconds and updates in place when it changed. An action's error
// shows next to its button. Irreversible actions ask for a reason in an in-page dialog; a
// finished case offers no actions on its materials and items.
//
// Fewer clicks for the common path: 全部核验通过 verifies every material waiting for it,
// 全部受理 fires each item's plain intake event (受理; an immediate item's 办结) and those of
// the items that then start (核验并全部受理: the waiting materials verified first); an event
// that needs no reason and cannot be undone fires at once.
import { t } from './i18n.js';
import { api, askReason, busy, errorSlot, errorText, h, stackedTable } from './ui.js';
import { deliveryText, departmentTitle, displayValue, eventTitle, irreversibleEvent, stateTitle, workflow as loadWorkflow } from './titles.js';
import { processGraph } from './graph.js';
import { noticesSection } from './notices.js';

const newActionKey = () => `action-${Date.now().toString(36)}-${crypto.getRandomValues(new Uint32Array(2)).join('')}`;

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
  if (note === "issued by the department's system") return ` ${t('note_issued_by_department')}`;
  if (/^pending \(容缺\)/.test(note)) return ` ${t('note_pending')}`;
  // A clerk's reason as written; an engine note with English words only in the tooltip.
  if (/[\u3400-\u9fff]/.test(note) && !englishNote(note)) return ` ${note}`;
  return '';
}

const englishNote = (note) => /[A-Za-z]{3,}/.test(note || '') && !/[\u3400-\u9fff]{4,}/.test(note || '');

/** How often an open case page asks whether the case changed (seconds). */
const followSeconds = 3;
let followingPage = null;  // the case page now shown, whose timer follows the case

/** Renders the case into `page`; answers once it is shown. */
// A deadline past the calendar's declared years: counted Monday to Friday, it may move once
// the State Council publishes that year's holidays (docs/runtime.md).
function provisionalMark(provisional, c) {
  if (!provisional) return null;
  const until = c.calendar_declared_until || '';
  return h('span', { class: 'provisional', title: t('provisional_note').replace('{until}', until) }, t('provisional'));
}

export async function casePage(page, caseId, me) {
  const fileInputs = new Map();  // material -> the file input, kept across updates while it holds a file
  // What the intake could not upload or fetch, said once on the case page it opens.
  const intakeNotice = sessionStorage.getItem('ov_case_notice');
  sessionStorage.removeItem('ov_case_notice');
  const base = `/api/cases/${encodeURIComponent(caseId)}`;

  const render = async () => {
    const [caseResult, historyResult, callsResult] = await Promise.all([
      api('GET', base), api('GET', `${base}/history`), api('GET', `${base}/calls`)]);
    if (!caseResult.ok) return page(h('section', {}, h('div', { class: 'error-box' }, errorText(caseResult))));
    const c = caseResult.data;
    shownVersion = c.version;
    const wf = (await loadWorkflow(c.bundle)) || { fields: [], items: [], materials: [] };
    const fieldByName = new Map((wf.fields || []).map((f) => [f.name, f]));
    const fieldTitles = Object.fromEntries((wf.fields || []).map((f) => [f.name, f.title]));
    const running = c.status === 'running';

    // Runs an action with its button busy; on failure the error shows in `slot`, on success
    // the page updates in place. Each button sends one Idempotency-Key for as long as it is
    // shown, so sending again after a lost answer does not act twice.
    const run = (button, slot, method, path, body, headers = {}) => busy(button, async () => {
      slot.textContent = '';
      button.dataset.key ||= newActionKey();
      const result = await api(method, base + path, body, { ...headers, 'Idempotency-Key': button.dataset.key });
      if (!result.ok) {
        slot.textContent = errorText(result, fieldTitles);
        return false;
      }
      await update(button.id);
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
      } else if (running && mayVerify && m.status === 'verified' && m.source === 'upload') {
        // A verified scan found unusable later (at review) is refused too, so that the window
        // can take the corrected one (补正).
        const refuse = h('button', { class: 'secondary', id: `refuse-${m.material}` }, t('refuse'));
        refuse.addEventListener('click', () => withReason({ title: `${t('refuse')}：${title}`, note: t('refuse_note') },
          (reason) => run(refuse, slot, 'POST', `/materials/${encodeURIComponent(m.material)}/verify`, { accept: false, reason })));
        actions.push(refuse);
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
        h('td', { title: m.note && (!/[\u3400-\u9fff]/.test(m.note) || englishNote(m.note)) ? m.note : undefined },
          h('span', { class: `badge ${m.status === 'verified' ? 'ok' : m.status === 'rejected' ? 'bad' : ''}` }, t(`material_${m.status}`)),
          materialNote(m.note)),
        h('td', { class: 'file-name' }, m.file_name || ''), h('td', {}, actions, slot));
    });

    // 全部核验通过: every material waiting for verification, one request each (each with its own
    // Idempotency-Key, derived from the button's), stopping at the first refusal.
    const toVerify = running && mayVerify ? c.materials.filter((m) => m.status === 'submitted') : [];
    const materialsSlot = errorSlot('materials-error');
    const verifyAll = toVerify.length > 0 ? h('button', { class: 'action', id: 'verify-all' }, `${t('verify_all')}（${toVerify.length}）`) : null;
    if (verifyAll) {
      verifyAll.addEventListener('click', () => busy(verifyAll, async () => {
        materialsSlot.textContent = '';
        verifyAll.dataset.key ||= newActionKey();
        let problem = '';
        for (const m of toVerify) {
          const result = await api('POST', `${base}/materials/${encodeURIComponent(m.material)}/verify`, { accept: true },
            { 'Idempotency-Key': `${verifyAll.dataset.key}-${m.material}` });
          if (!result.ok) {
            problem = `${m.title}：${errorText(result, fieldTitles)}`;
            break;
          }
        }
        await update(verifyAll.id);
        // Said after the update, in the new page's place for it.
        const slotNow = document.getElementById('materials-error');
        if (slotNow) slotNow.textContent = problem;
      }));
    }
    // The special-procedure panel (特别程序) of an item that declares any: each run with its
    // working days used of its max and its light; for those who control the item's clock (the
    // window clerk, the item's own department's reviewer), start one (choose, reason, confirm)
    // or end the running one (result). The engine decides again (docs/runtime.md).
    const enc = encodeURIComponent;
    const mayControlClock = (item) => running && item.phase === 'active'
      && (me.role === 'window_clerk' || (me.role === 'reviewer' && item.department === me.department));
    // 联办/会签: each department's part with its decision; a reviewer of a pending part's
    // department decides it here (the server checks the department again).
    const partsPanel = (item) => {
      if (!item.parts || !item.parts.length) return null;
      const slot = errorSlot(`parts-error-${item.item}`);
      const lines = item.parts.map((p) => {
        const mayDecide = running && item.phase === 'active' && me.role === 'reviewer' && p.department === me.department && p.decision === 'pending';
        const controls = [];
        if (mayDecide) {
          const path = `/items/${enc(item.item)}/parts/${enc(p.department)}`;
          const approve = h('button', { class: 'action', id: `part-approve-${item.item}-${p.department}` }, t('part_approve'));
          approve.addEventListener('click', () => run(approve, slot, 'POST', path, { approve: true }));
          const refuse = h('button', { class: 'secondary danger', id: `part-refuse-${item.item}-${p.department}` }, t('part_refuse'));
          refuse.addEventListener('click', () => withReason({ title: `${t('part_refuse')}：${item.title}`, note: t(`joint_${item.joint_rule}_note`), confirm: t('part_refuse') },
            (note) => run(refuse, slot, 'POST', path, { approve: false, note })));
          controls.push(approve, refuse);
        }
        return h('div', { class: 'joint-part', id: `part-${item.item}-${p.department}`, 'data-decision': p.decision },
          `${p.department_title}：${t(`part_${p.decision}`)}`, p.at ? `（${p.at}）` : '', p.note ? h('span', { class: 'muted' }, ` ${p.note}`) : null, controls);
      });
      return h('div', { class: 'joint-parts', id: `parts-${item.item}` }, h('strong', {}, `${t(`joint_${item.joint_rule}`)}：`), lines, slot);
    };
    const specialPanel = (item) => {
      const declared = item.special_procedures || [];
      if (!declared.length) return null;
      const runs = item.special_procedure_runs || [];
      const current = item.running_special_procedure;
      const slot = errorSlot(`special-error-${item.item}`);
      const lines = runs.map((r) => h('div', { class: 'special-run', id: `special-run-${item.item}-${r.procedure}` },
        r.running
          ? t('special_running').replace('{title}', r.title).replace('{used}', r.workdays_used).replace('{max}', r.max)
            + t(r.pauses_clock ? 'special_pauses_clock' : 'special_in_limit')
          : t('special_done').replace('{title}', r.title).replace('{used}', r.workdays_used),
        r.light ? [' ', lightBadge(r.light)] : null));
      const controls = [];
      if (mayControlClock(item) && current) {
        const end = h('button', { class: 'action', id: `special-end-${item.item}` }, t('special_end'));
        end.addEventListener('click', () => withReason({ title: `${t('special_end')}：${current.title}`, label: t('special_result'), confirm: t('special_end') },
          (result) => run(end, slot, 'POST', `/items/${enc(item.item)}/special-procedures/${enc(current.procedure)}/end`, { result })));
        controls.push(end);
      } else if (mayControlClock(item)) {
        // Each procedure runs once: those not run yet.
        const left = declared.filter((d) => !runs.some((r) => r.procedure === d.procedure));
        if (left.length) {
          const choice = h('select', { id: `special-choice-${item.item}`, 'aria-label': t('special_choose') },
            left.map((d) => h('option', { value: d.procedure }, `${d.title}（${t('special_max')}${d.max}）`)));
          const start = h('button', { class: 'action', id: `special-start-${item.item}` }, t('special_start'));
          start.addEventListener('click', () => {
            const chosen = left.find((d) => d.procedure === choice.value) || left[0];
            return withReason({ title: `${t('special_start')}：${chosen.title}`, note: t('special_note'), confirm: t('special_start') },
              (reason) => run(start, slot, 'POST', `/items/${enc(item.item)}/special-procedures/${enc(chosen.procedure)}/start`, { reason }));
          });
          controls.push(h('span', { class: 'inline' }, choice, start));
        }
      }
      if (!runs.length && !controls.length) return null;
      return h('div', { class: 'special-procedures', id: `special-${item.item}` },
        h('strong', {}, `${t('special_procedures')}：`), lines, controls, slot);
    };

    // Items with their states, deadlines and the events this user may fire now
    const myRole = engineRole[me.role];
    // The reason given with the latest pause of each item (the timeline's ClockPaused entries).
    const pauseReasons = new Map();
    for (const e of (historyResult.ok ? historyResult.data.events : [])) {
      if (e.type === 'ClockPaused' && e.item) pauseReasons.set(e.item.id, e.reason || '');
    }
    const mayPause = running && (me.role === 'window_clerk' || me.role === 'supervisor');
    const itemRows = c.items.map((item) => {
      const mine = me.role !== 'reviewer' || item.department === me.department || (item.parts || []).some((p) => p.department === me.department);
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
        // An irreversible event for the applicant (撤回) ends this item only; the case's own
        // 撤回申请 sits in the header, so the button says which it is.
        const label = onBehalf ? t(irreversibleEvent(e) ? 'for_applicant_item' : 'for_applicant').replace('{event}', eventTitle(e)) : eventTitle(e);
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
      // 容缺受理: accept with secondary materials pending, on the applicant's pledge to bring them.
      const pendable = c.materials.filter((m) => m.secondary && ['missing', 'rejected'].includes(m.status) && (item.needs || []).includes(m.material));
      if (running && me.role === 'window_clerk' && item.tolerant && pendable.length > 0 && events.some((e) => e.event === 'accept' && mayFire(e))) {
        const tolerant = h('button', { class: 'secondary', id: `tolerant-${item.item}` }, t('tolerant_intake'));
        tolerant.addEventListener('click', async () => {
          const answer = await askReason({ title: `${t('tolerant_intake')}：${item.title}`, note: t('tolerant_note'), confirm: t('tolerant_intake'),
            label: t('pledge'), placeholder: t('pledge_placeholder'),
            checks: { label: t('pending_materials'), options: pendable.map((m) => [m.material, m.title, true]) } });
          if (answer === null) return;
          await run(tolerant, slot, 'POST', `/items/${encodeURIComponent(item.item)}/tolerant-intake`,
            { pending: answer.checks, event: 'accept', fields: { reason: answer.reason } });
        });
        buttons.push(tolerant);
      }
      if (mayPause && item.paused_by_clerk) {
        const resume = h('button', { class: 'action', id: `resume-${item.item}` }, t('resume_clock'));
        resume.addEventListener('click', () => run(resume, slot, 'POST', '/resume', { item: item.item }));
        buttons.push(resume);
      }
      // A paused clock has no running deadline: since when it stands still, and why.
      const due = item.paused_since
        ? h('span', { class: 'paused', id: `paused-${item.item}` }, `${t('clock_paused')}（${item.clock_stop ? `${t(`clock_stop_${item.clock_stop}`)}，` : ''}${t('since').replace('{time}', item.paused_since)}）`,
          pauseReasons.get(item.item) && item.paused_by_clerk ? h('span', { class: 'muted' }, ` ${t('reason')}：${pauseReasons.get(item.item)}`) : null)
        : h('span', { class: 'due' }, item.due && item.due !== '-' ? item.due : t('none'), provisionalMark(item.due_provisional, c));
      return h('tr', { id: `item-${item.item}` }, h('td', {}, item.title), h('td', {}, departmentTitle(item.department)),
        h('td', {}, t(item.phase)), h('td', { class: 'item-state', 'data-state': item.state }, stateTitle(item.state, item.state_title)),
        h('td', {}, due), h('td', {}, lightBadge(item.light),
          // 督办 stays on the item until it moves on, with the supervisor's note.
          item.urged ? h('span', { class: 'badge urged', id: `urged-${item.item}`, title: item.urge_note || '' }, `${t('urged')}${item.urged_at ? ` ${item.urged_at}` : ''}`) : null),
        h('td', {}, buttons, slot, partsPanel(item), specialPanel(item)));
    });

    // 全部受理: each item's plain intake event (no reason needed, not a failure: 受理, an
    // immediate item's 办结), round after round, as items that come after the done ones start.
    const plainClerkEvent = (item) => (item.events || []).find((e) => e.roles.includes('clerk') && e.required_fields.length === 0 && !irreversibleEvent(e));
    const itemsSlot = errorSlot('items-error');
    // 受理 at the window means the materials were checked: with materials waiting for it, the
    // button verifies them first (核验并全部受理) and accepts nothing when one is refused.
    const acceptAll = running && me.role === 'window_clerk' && c.items.some(plainClerkEvent)
      ? h('button', { class: 'action', id: 'accept-all' }, toVerify.length ? t('verify_and_accept_all') : t('accept_all')) : null;
    if (acceptAll) {
      acceptAll.addEventListener('click', () => busy(acceptAll, async () => {
        itemsSlot.textContent = '';
        acceptAll.dataset.key ||= newActionKey();
        const problems = [];
        for (const m of toVerify) {
          const result = await api('POST', `${base}/materials/${encodeURIComponent(m.material)}/verify`, { accept: true },
            { 'Idempotency-Key': `${acceptAll.dataset.key}-verify-${m.material}` });
          if (!result.ok) {
            problems.push(`${m.title}：${errorText(result, fieldTitles)}`);
            break;
          }
        }
        const tried = new Set();
        for (let round = 0; round < 8 && problems.length === 0; ++round) {
          const now = await api('GET', base);
          if (!now.ok) { problems.push(errorText(now)); break; }
          const ready = now.data.items.filter((item) => plainClerkEvent(item) && !tried.has(item.item));
          if (ready.length === 0) break;
          for (const item of ready) {
            tried.add(item.item);
            const e = plainClerkEvent(item);
            const result = await api('POST', `${base}/items/${encodeURIComponent(item.item)}/events/${encodeURIComponent(e.event)}`, { fields: {} },
              { 'Idempotency-Key': `${acceptAll.dataset.key}-${item.item}-${e.event}` });
            if (!result.ok) problems.push(`${item.title}：${errorText(result, fieldTitles)}`);
          }
        }
        await update(acceptAll.id);
        const slotNow = document.getElementById('items-error');
        if (slotNow) slotNow.textContent = problems.join('\n');
      }));
    }

    // Case-level actions for the window
    const caseActions = [];
    const caseSlot = errorSlot('action-error');
    // 暂停计时 (the whole case or one item, with a reason) and 恢复计时: window clerks and supervisors.
    const pausable = mayPause ? c.items.filter((item) => item.phase === 'active' && !item.paused_by_clerk) : [];
    if (pausable.length > 0) {
      const pause = h('button', { class: 'secondary', id: 'pause' }, t('pause_clock'));
      pause.addEventListener('click', async () => {
        const answer = await askReason({ title: t('pause_clock'), note: t('pause_note'), confirm: t('pause_clock'), placeholder: t('pause_placeholder'),
          select: { label: t('pause_which'), options: [['', t('pause_all')], ...pausable.map((item) => [item.item, item.title])] } });
        if (answer === null) return;
        await run(pause, caseSlot, 'POST', '/pause', answer.select ? { item: answer.select, reason: answer.reason } : { reason: answer.reason });
      });
      caseActions.push(pause);
    }
    if (mayPause && c.items.filter((item) => item.paused_by_clerk).length > 1) {
      const resumeAll = h('button', { class: 'action', id: 'resume-all' }, t('resume_all'));
      resumeAll.addEventListener('click', () => run(resumeAll, caseSlot, 'POST', '/resume', {}));
      caseActions.push(resumeAll);
    }
    // 差评整改: the open rectification of a bad rating, answered once by a supervisor or reviewer.
    if (c.rectification && !c.rectification.answer && (me.role === 'supervisor' || me.role === 'reviewer')) {
      const answer = h('button', { class: 'action', id: 'answer-rectification' }, t('answer_rectification'));
      answer.addEventListener('click', () => withReason({ title: `${t('answer_rectification')}：${c.case_id}`, note: t('answer_rectification_note').replace('{due}', c.rectification.due), confirm: t('answer_rectification') },
        (text) => run(answer, caseSlot, 'POST', '/rectification', { answer: text })));
      caseActions.push(answer);
    }
    if (me.role === 'window_clerk') {
      if (running) {
        const withdraw = h('button', { class: 'secondary danger', id: 'withdraw' }, t('withdraw'));
        withdraw.addEventListener('click', () => withReason({ title: `${t('withdraw')}：${c.case_id}`, note: t('withdraw_note'), irreversible: true, confirm: t('withdraw') },
          (reason) => run(withdraw, caseSlot, 'POST', '/withdraw', { reason })));
        caseActions.push(withdraw);
      }
      if (c.status === 'completed') {
        const channel = h('select', { id: 'deliver-channel', 'aria-label': t('channel') }, ['window', 'mail', 'electronic'].map((x) => h('option', { value: x }, t(x))));
        // The applicant's own choice (the applicant pages' 领取方式) comes first: shown, and preselected.
        const chosen = c.delivery_choice;
        if (chosen) channel.value = chosen.method;
        const deliver = h('button', { class: 'action', id: 'deliver' }, t('deliver'));
        deliver.addEventListener('click', () => run(deliver, caseSlot, 'POST', '/deliver', { channel: channel.value }));
        if (chosen) {
          caseActions.push(h('span', { class: 'inline', id: 'delivery-choice' }, `${t('delivery_chosen')}${chosen.method_title}${chosen.method === 'mail'
            ? `（${chosen.recipient}，${chosen.mobile}，${chosen.address}）` : ''}`));
        }
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
          ` ${t('applicant')}：${c.applicant || t('none')} · ${t('deadline')}：`, h('span', { class: 'due' }, c.deadline_due && c.deadline_due !== '-' ? c.deadline_due : t('none'), provisionalMark(c.deadline_provisional, c))),
        // How the results reach the applicant, for every role: chosen, or still to choose while
        // the results wait (a case delivered without a choice has nothing to say here).
        c.delivery_choice || c.status === 'completed' ? h('p', { id: 'case-delivery' }, `${t('delivery_method')}：${deliveryText(c.delivery_choice)}`) : null,
        c.items.some((item) => item.paused_by_clerk) ? h('p', { class: 'paused', id: 'case-paused' },
          `${t('clock_paused')}：${c.items.filter((item) => item.paused_by_clerk).map((item) => `${item.title}（${t('since').replace('{time}', item.paused_since || '')}）`).join('、')}`) : null,
        intakeNotice ? h('div', { class: 'error-box', id: 'intake-notice' }, intakeNotice) : null,
        caseActions.length ? h('div', { class: 'case-actions' }, caseActions, caseSlot) : caseSlot),
      // The notices are printed at the window; a reviewer's history holds only their department's part.
      historyResult.ok && me.role !== 'reviewer' ? noticesSection(c, events, wf) : null,
      h('section', {}, h('h2', {}, t('form')), formRows.length ? h('div', { class: 'table-scroll' }, h('table', { id: 'case-form' }, h('tbody', {}, formRows)))
        : h('p', { class: 'muted' }, t('form_none'))),
      h('section', {}, h('div', { class: 'section-head' }, h('h2', {}, t('materials')), verifyAll), materialsSlot,
        table('materials', ['material', 'status', 'file', 'actions'], materialRows)),
      h('section', {}, h('h2', {}, t('process')), h('div', { class: 'graph-scroll' }, processGraph(c.items))),
      h('section', {}, h('div', { class: 'section-head' }, h('h2', {}, t('items')), acceptAll), itemsSlot,
        table('items', ['item', 'department', 'phase', 'state', 'deadline', 'light', 'actions'], itemRows)),
      calls.length ? h('section', {}, h('h2', {}, t('calls')), table('calls', ['department', 'operation', 'status', 'attempts', 'last_error', 'actions'], callRows)) : null,
      h('section', {}, h('h2', {}, t('timeline')), h('ol', { class: 'timeline', id: 'timeline' }, timeline)),
    ].filter(Boolean);
  };

  // Swaps the new sections in where the old ones were: same scroll position, same focus, what
  // was typed kept. When the focused button is gone (its action is done), the next action
  // gets the focus, so the clerk goes on with Enter or Space.
  let shownVersion = null;
  // `from`: the id of the action's button (a busy button is disabled, which takes its focus away).
  const update = async (from = '') => {
    const y = window.scrollY;
    const focused = from || (document.activeElement && document.activeElement.id);
    const sectionOf = (element) => [...document.querySelectorAll('#main > section')].indexOf(element && element.closest('#main > section'));
    const focusedSection = sectionOf(focused ? document.getElementById(focused) : null);
    const typed = new Map();
    for (const input of document.querySelectorAll('#main input[id]:not([type="file"]), #main select[id], #main textarea[id]')) {
      typed.set(input.id, input.type === 'checkbox' ? input.checked : input.value);
    }
    const sections = await render();
    if (!sections || !page(...sections)) return;  // nothing new, or the user has moved on
    for (const [id, value] of typed) {
      const input = document.getElementById(id);
      if (!input) continue;
      if (input.type === 'checkbox') input.checked = value;
      else if ([...(input.options || [])].some((o) => o.value === value) || input.tagName !== 'SELECT') input.value = value;
    }
    window.scrollTo(0, y);
    const again = focused && document.getElementById(focused);
    // The next action: in the same section first (全部核验通过 → 全部受理 is in the next one).
    const shown = [...document.querySelectorAll('#main > section')];
    const nextIn = (from) => shown.slice(Math.max(0, from)).map((x) => x.querySelector('button.action:not([disabled])')).find(Boolean);
    const next = again && !again.disabled ? again : nextIn(focusedSection) || document.querySelector('#main button.action:not([disabled])');
    if (next && (again || focused)) next.focus({ preventScroll: !!again });
  };
  const sections = await render();
  if (sections) page(...sections);
  // Follows what others do while the page is open: the version is asked for every few
  // seconds (not while a dialog is open or the page is hidden, and never past leaving it).
  // Only the page shown now follows: a newer rendering (the language switched, the login
  // shown after a session ended) ends this one's.
  const shownHash = location.hash;
  const token = {};
  followingPage = token;
  const follow = setInterval(async () => {
    if (location.hash !== shownHash || followingPage !== token || !document.getElementById('case-status')) return clearInterval(follow);
    if (document.hidden || document.querySelector('dialog[open]') || document.querySelector('#main button[aria-busy="true"]')) return;
    const now = await api('GET', base);
    if (location.hash !== shownHash) return clearInterval(follow);
    if (now.ok && shownVersion !== null && now.data.version !== shownVersion) await update();
  }, followSeconds * 1000);
}
