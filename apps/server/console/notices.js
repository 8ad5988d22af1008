// Printable notices of a case (受理通知书, 一次性补正告知书, 不予受理通知书, 出件/办结通知), drawn from what
// the case view and its history give. The case page offers each only when it applies; a
// notice opens on its own page (#/case/<id>/notice/<kind>) whose print stylesheet (print.css)
// gives an A4 sheet, black on white, without the console around it.
//
// The history names each item, event and state (GET /api/cases/{id}/history): an item's
// initial state is the one it was activated in, and a refusal at intake is refuse_intake or
// a transition from it into a refused final state.
import { t as consoleText, zh as t } from './i18n.js';
import { api, errorText, h } from './ui.js';
import { departmentTitle, stateTitle, workflow as loadWorkflow } from './titles.js';

export const noticeKinds = ['acceptance', 'correction', 'refusal', 'completion'];
const centreKey = 'ov_centre_name';

/** The service centre's name printed on notices, set per window PC (本机设置). */
export function centreName() {
  return localStorage.getItem(centreKey) || t('centre_default');
}

export function setCentreName(name) {
  const value = String(name || '').trim();
  if (value) localStorage.setItem(centreKey, value);
  else localStorage.removeItem(centreKey);
}

const correcting = (item) => item.state === 'correcting' || /补正/.test(item.state_title || '');
const refusedState = (item) => /^(rejected|refused|refuse_intake|not_accepted)$/.test(item.state) || /不予/.test(item.state_title || '');
const ended = (item) => ['done', 'cancelled', 'not_applicable'].includes(item.phase);

/** A history time ("2026-12-07 14:57") as a notice writes dates: 2026年12月7日. */
export function chineseDate(at) {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(at || '');
  return m ? `${m[1]}年${Number(m[2])}月${Number(m[3])}日` : '';
}

/**
 * What the notices need from the case and its history: per item its transitions (with the
 * reason given and when), whether it was accepted, refused at intake or is in correction.
 */
export function caseFacts(c, events, wf) {
  const perItem = new Map(c.items.map((item) => [item.item, { item, initial: null, activatedAt: '', transitions: [] }]));
  let startedAt = '';
  let deliveredAt = '';
  let channel = '';
  let completedAt = '';
  for (const e of events) {
    if (e.type === 'CaseStarted') startedAt = e.at;
    if (e.type === 'CaseCompleted') completedAt = e.at;
    // The history's note of a delivery is its channel's title (窗口领取, 邮寄送达, 电子送达).
    if (e.type === 'CaseDelivered') { deliveredAt = e.at; channel = e.note || ''; }
    const facts = e.item ? perItem.get(e.item.id) : null;
    if (!facts) continue;
    if (e.type === 'ItemActivated') { facts.initial = e.to ? e.to.id : null; facts.activatedAt = e.at; }
    if (e.type === 'ItemTransitioned') {
      facts.transitions.push({ at: e.at, from: e.from ? e.from.id : null, to: e.to ? e.to.id : null, event: e.event || null,
        reason: e.reason || '' });
    }
  }
  for (const facts of perItem.values()) {
    const { item, transitions, initial } = facts;
    const last = transitions[transitions.length - 1];
    facts.correcting = item.phase === 'active' && correcting(item);
    facts.correction = facts.correcting && last ? last : null;
    // Refused at intake: refuse_intake, or any event from the initial state into a refused final state.
    facts.refused = Boolean(last) && (last.event === 'refuse_intake'
      || (last.from === initial && item.phase === 'done' && refusedState(item)));
    facts.refusal = facts.refused ? last : null;
    // Accepted: accept (or auto_accept), or it left its initial state other than into a
    // correction or a refusal, or it starts accepted (a department's lifecycle whose initial
    // state is 'accepted').
    const acceptance = transitions.find((x) => ['accept', 'auto_accept'].includes(x.event)
      || (x.from === initial && !(facts.correction && x.to === facts.correction.to) && !(facts.refusal && x === facts.refusal)));
    facts.accepted = !facts.refused && (Boolean(acceptance) || (item.state === 'accepted' && item.phase !== 'waiting'));
    facts.acceptedAt = acceptance ? acceptance.at : facts.accepted ? facts.activatedAt : '';
  }
  const items = [...perItem.values()];
  const accepted = items.filter((x) => x.accepted);
  return {
    items, startedAt, completedAt, deliveredAt, channel,
    acceptedAt: accepted.map((x) => x.acceptedAt).filter(Boolean).sort()[0] || '',
    accepted: accepted.length > 0,
    correcting: items.filter((x) => x.correcting),
    refused: items.filter((x) => x.refused),
    succeeded: items.filter((x) => x.item.phase === 'done' && !x.refused && !refusedState(x.item)),
  };
}

/** The notices that apply to the case now, in the order a case meets them. */
export function applicableNotices(c, facts) {
  if (c.status === 'withdrawn') return [];
  const finished = ['completed', 'delivered', 'rated'].includes(c.status);
  const kinds = [];
  if (facts.accepted) kinds.push('acceptance');
  if (c.status === 'running' && facts.correcting.length > 0) kinds.push('correction');
  if (facts.refused.length > 0) kinds.push('refusal');
  if (finished && facts.succeeded.length > 0) kinds.push('completion');
  return kinds;
}

/** The case page's 通知书 section: one link per notice that applies (null when none). */
export function noticesSection(c, events, wf) {
  const kinds = applicableNotices(c, caseFacts(c, events, wf));
  if (kinds.length === 0) return null;
  const base = `#/case/${encodeURIComponent(c.case_id)}/notice/`;
  return h('section', { id: 'notices' }, h('h2', {}, consoleText('notices')),
    h('div', { class: 'case-actions' }, kinds.map((kind) => h('a', { class: 'button-link', id: `notice-${kind}-link`, href: base + kind }, consoleText(`notice_${kind}`)))));
}

// ---------------------------------------------------------------------------------------
// The sheet

const cell = (text) => h('td', {}, text || t('none'));

/** Whom the notice addresses: the applicant's (or company's) name when the form has one. */
function salutation(c, wf) {
  const nameField = (wf.fields || []).find((f) => /^(申请人|企业|单位)?(名称|姓名)$|^(企业|单位|申请人)名称$|^申请人姓名$/.test(f.title || '') && c.form[f.name]);
  return `${nameField ? c.form[nameField.name] : t('notice_applicant')}：`;
}

/** A view's time ("2026-12-14 17:30") as a notice writes it: 2026年12月14日 17:30. */
function chineseDateTime(text) {
  const date = chineseDate(text);
  const time = /\d{2}:\d{2}$/.exec(text || '');
  return date ? `${date}${time ? ` ${time[0]}` : ''}` : text;
}

// The items with their departments and states, and either their promised deadlines or, on a
// completion notice, the day each ended.
function itemTable(c, facts, ended = false) {
  const rows = facts.items.filter(({ item }) => item.phase !== 'not_applicable').map(({ item, correcting: inCorrection, transitions }) => {
    const due = item.due && item.due !== '-' ? chineseDateTime(item.due) : inCorrection ? t('notice_paused')
      : item.phase === 'waiting' ? t('notice_after_previous') : t('none');
    const last = transitions[transitions.length - 1];
    return h('tr', {}, cell(item.title), cell(departmentTitle(item.department)), cell(stateTitle(item.state, item.state_title)),
      cell(ended ? (last ? chineseDate(last.at) : t('none')) : due));
  });
  const headings = [t('item'), t('notice_department'), t('state'), ended ? t('notice_ended') : t('notice_due')];
  return h('table', { class: 'notice-table' }, h('thead', {}, h('tr', {}, headings.map((x) => h('th', {}, x)))), h('tbody', {}, rows));
}

function bodyOf(kind, c, wf, facts) {
  const bundle = `“${wf.title || t('bundle')}”`;
  const started = chineseDate(facts.startedAt);
  if (kind === 'acceptance') {
    const tolerated = c.materials.filter((m) => m.status === 'tolerated');
    return [
      h('p', { class: 'indent' }, t('notice_acceptance_text').replace('{date}', started).replace('{bundle}', bundle)),
      itemTable(c, facts),
      h('p', {}, `${t('notice_case_due')}${c.deadline_due && c.deadline_due !== '-' ? chineseDateTime(c.deadline_due) : t('notice_due_later')}`),
      tolerated.length ? h('p', { id: 'notice-tolerated' }, `${t('notice_tolerated')}${tolerated.map((m) => m.title).join('、')}`) : null,
      h('p', { class: 'indent' }, t('notice_acceptance_rules')),
    ];
  }
  if (kind === 'correction') {
    const model = new Map((wf.materials || []).map((m) => [m.material, m]));
    const toCorrect = c.materials.filter((m) => m.status === 'rejected' || (m.status === 'missing' && (m.source === 'upload' || !m.source) && !m.secondary));
    const rows = toCorrect.map((m, i) => {
      const formats = m.formats || (model.get(m.material) || {}).formats;
      const bring = [m.title, (model.get(m.material) || {}).original ? t('notice_original') : '',
        formats && formats.length ? `（${t('notice_formats')}${formats.map((f) => String(f).toUpperCase()).join('、')}）` : ''].join('');
      return h('tr', { 'data-material': m.material }, cell(String(i + 1)), cell(m.title),
        cell(m.status === 'rejected' ? (m.note || t('notice_not_conforming')) : t('notice_missing')), cell(bring));
    });
    const reasons = facts.correcting.filter((x) => x.correction && x.correction.reason)
      .map((x) => h('li', {}, `${x.item.title}（${departmentTitle(x.item.department)}）：${x.correction.reason}`));
    return [
      h('p', { class: 'indent' }, t('notice_correction_text').replace('{date}', started).replace('{bundle}', bundle)),
      reasons.length ? h('ol', { class: 'notice-reasons', id: 'notice-reasons' }, reasons) : null,
      rows.length ? h('table', { class: 'notice-table', id: 'notice-materials' },
        h('thead', {}, h('tr', {}, [t('notice_number'), t('material'), t('notice_why'), t('notice_bring')].map((x) => h('th', {}, x)))), h('tbody', {}, rows)) : null,
      h('p', { class: 'indent' }, t('notice_correction_rules')),
      itemTable(c, facts),
    ];
  }
  if (kind === 'refusal') {
    const reasons = facts.refused.map((x) => h('li', {}, `${x.item.title}（${departmentTitle(x.item.department)}）：${x.refusal.reason || t('none')}`));
    return [
      h('p', { class: 'indent' }, t('notice_refusal_text').replace('{date}', started).replace('{bundle}', bundle)),
      h('ol', { class: 'notice-reasons', id: 'notice-reasons' }, reasons),
      h('p', { class: 'indent' }, t('notice_refusal_rules')),
    ];
  }
  // completion
  const documents = c.materials.filter((m) => m.source === 'produced' && m.has_content);
  const delivery = facts.deliveredAt
    ? t('notice_delivered').replace('{date}', chineseDate(facts.deliveredAt)).replace('{channel}', facts.channel || t('notice_channel_other'))
    : t('notice_to_collect').replace('{centre}', centreName());
  return [
    h('p', { class: 'indent' }, t('notice_completion_text').replace('{date}', started).replace('{bundle}', bundle).replace('{done}', chineseDate(facts.completedAt))),
    itemTable(c, facts, true),
    h('h3', {}, t('notice_documents')),
    documents.length ? h('ol', { id: 'notice-documents' }, documents.map((m) => h('li', {}, m.title)))
      : h('p', { id: 'notice-documents' }, t('notice_no_documents')),
    h('p', { id: 'notice-delivery' }, `${t('notice_delivery')}${delivery}`),
  ];
}

/** The date a notice is dated: when what it tells happened. */
function dateOf(kind, facts) {
  if (kind === 'acceptance') return facts.acceptedAt;
  if (kind === 'correction') return facts.correcting.map((x) => (x.correction || {}).at).filter(Boolean).sort().pop();
  if (kind === 'refusal') return facts.refused.map((x) => x.refusal.at).sort().pop();
  return facts.deliveredAt || facts.completedAt;
}

/** The box that tells the applicant how to follow the case: the QR code of the case's page in the
 * applicant channel (`follow`: {url, svg} from /follow-code), or the case number alone without it. */
function followBox(c, follow) {
  if (!follow) return h('div', { class: 'notice-follow', id: 'notice-follow', 'data-case': c.case_id }, t('notice_follow').replace('{case}', c.case_id));
  // An <img> of the server's SVG: the drawing never becomes markup of the page.
  return h('div', { class: 'notice-follow with-code', id: 'notice-follow', 'data-case': c.case_id, 'data-url': follow.url },
    h('img', { id: 'notice-follow-code', alt: follow.url, src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(follow.svg)}` }),
    h('div', {}, t('notice_follow_scan').replace('{case}', c.case_id)));
}

/** One notice as an A4 sheet. */
export function noticeSheet(kind, c, wf, facts, follow = null) {
  return h('article', { class: 'notice', id: `notice-${kind}` },
    h('div', { class: 'notice-centre' }, centreName()),
    h('h1', {}, t(`notice_${kind}`)),
    h('p', { class: 'notice-number' }, `${t('case')}：${c.case_id}`),
    h('p', { class: 'notice-applicant' }, `${t('notice_applicant_id')}${c.applicant || t('none')}`),
    h('p', {}, salutation(c, wf)),
    bodyOf(kind, c, wf, facts),
    h('div', { class: 'notice-foot' },
      followBox(c, follow),
      h('div', { class: 'notice-seal' }, h('div', {}, centreName()), h('div', {}, t('notice_seal')), h('div', {}, chineseDate(dateOf(kind, facts))))),
    h('p', { class: 'notice-copy' }, t('notice_copy')));
}

/** The notice page: the sheet, a 打印 button and the way back; nothing around it in print. */
export async function noticePage(page, caseId, kind) {
  const base = `/api/cases/${encodeURIComponent(caseId)}`;
  const [caseResult, historyResult, followResult] = await Promise.all([api('GET', base), api('GET', `${base}/history`), api('GET', `${base}/follow-code`)]);
  const back = h('a', { href: `#/case/${encodeURIComponent(caseId)}`, id: 'notice-back', class: 'button-link secondary' }, consoleText('notice_back'));
  if (!caseResult.ok || !historyResult.ok) return page(h('section', {}, h('div', { class: 'error-box' }, errorText(caseResult.ok ? historyResult : caseResult)), back));
  const c = caseResult.data;
  const wf = (await loadWorkflow(c.bundle)) || { fields: [], items: [], materials: [] };
  const facts = caseFacts(c, historyResult.data.events, wf);
  if (!noticeKinds.includes(kind) || !applicableNotices(c, facts).includes(kind)) {
    return page(h('section', {}, h('div', { class: 'error-box', id: 'notice-not-applicable' }, consoleText('notice_not_applicable')), back));
  }
  const print = h('button', { class: 'primary', id: 'notice-print', type: 'button', onclick: () => window.print() }, consoleText('print'));
  page(h('div', { class: 'notice-toolbar' }, print, back, h('span', { class: 'muted' }, consoleText('notice_print_hint'))), noticeSheet(kind, c, wf, facts, followResult.ok ? followResult.data : null));
}
