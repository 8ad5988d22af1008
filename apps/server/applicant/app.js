// The applicant's pages (served under /m/): log in, find a bundle, answer the situation
// questions, fill the one form, follow the case, answer a correction notice, withdraw, rate.
// The same pages run on a self-service kiosk (kiosk.js): logged in by the ID card, full-screen,
// ended after a while without a touch, with a printed receipt.
// Plain JS as the clerk console is; every word on screen is Chinese.
import { kioskSettings, signedCardRead, watchInactivity, wipePerson } from './kiosk.js';

const main = document.getElementById('main');
const whoami = document.getElementById('whoami');
const kiosk = kioskSettings();

const ERRORS = {
  oidc_expired: '登录请求已失效，请重新登录',
  oidc_invalid: '统一身份认证平台的登录信息校验未通过，请重新登录',
  oidc_cancelled: '您已取消统一身份认证登录',
  oidc_unavailable: '统一身份认证平台暂时无法访问，请稍后再试或使用手机验证码登录',
};
const MATERIAL_STATUS = { missing: '未提交', submitted: '已提交，待核验', verified: '已核验', rejected: '需重新提交', tolerated: '容缺，待补交' };
const CHANNEL = { window: '窗口', online: '网上', mobile: '手机', kiosk: '自助终端' };
const LEVELS = [[5, '非常满意'], [4, '满意'], [3, '基本满意'], [2, '不满意'], [1, '非常不满意']];

function esc(text) {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}
function cookie(name) {
  const found = document.cookie.split('; ').find((c) => c.startsWith(`${name}=`));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : '';
}

// One call to the applicant API; 401 sends the person to the login page and back here.
async function api(method, path, body, headers = {}) {
  const init = { method, headers: { 'X-CSRF-Token': cookie('ov_applicant_csrf'), ...headers }, credentials: 'same-origin' };
  if (body instanceof Blob) init.body = body;
  else if (body !== undefined) { init.body = JSON.stringify(body); init.headers['Content-Type'] = 'application/json'; }
  const response = await fetch(`/api/applicant${path}`, init);
  const data = await response.json().catch(() => ({}));
  if (response.status === 401 && !path.startsWith('/session') && !path.startsWith('/sms-codes') && !path.startsWith('/kiosk/')) {
    go(kiosk ? '/m/kiosk' : `/m/login?next=${encodeURIComponent(location.pathname)}`);
    throw new Error('请先登录');
  }
  if (!response.ok) {
    const error = new Error(data.message || '出错了，请稍后再试');
    error.status = response.status;
    error.data = data;
    throw error;
  }
  return data;
}

function go(path) {
  history.pushState({}, '', path);
  // A new page starts at its top (the receipt, the case), not where the last one was scrolled.
  window.scrollTo(0, 0);
  render();
}
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-link]');
  if (a) { e.preventDefault(); go(a.getAttribute('href')); }
});
window.addEventListener('popstate', render);

// 适老化: large type and high contrast, remembered on this device.
const large = document.getElementById('large-type');
function applyLarge(on) {
  document.body.classList.toggle('large', on);
  large.setAttribute('aria-pressed', String(on));
  large.textContent = on ? '标准字号' : '大字模式';
}
applyLarge(localStorage.getItem('ov-large') === '1');
large.addEventListener('click', () => {
  const on = !document.body.classList.contains('large');
  localStorage.setItem('ov-large', on ? '1' : '0');
  applyLarge(on);
});

function showError(where, error) {
  where.innerHTML = `<p class="error" role="alert">${esc(error.message)}</p>`;
}

// Runs `work` with the button disabled: a double tap sends nothing twice.
async function busy(button, work) {
  if (button.disabled) return;
  button.disabled = true;
  try { await work(); } finally { button.disabled = false; }
}

// ---- the kiosk (kiosk.js): the start screen, the watch for a person who has left, the wipe

let stopWatch = null;
function kioskWatch() {
  if (!kiosk || stopWatch) return;
  const warning = document.getElementById('kiosk-warning');
  stopWatch = watchInactivity(kiosk, {
    warn: (left) => {
      warning.hidden = false;
      document.getElementById('kiosk-countdown').textContent = String(left);
      document.getElementById('kiosk-stay').focus();
    },
    stay: () => { warning.hidden = true; },
    wipe: () => endKioskSession(),
  });
}
async function endKioskSession() {
  if (stopWatch) { stopWatch(); stopWatch = null; }
  document.getElementById('kiosk-warning').hidden = true;
  // What was on screen goes first, then the session and storage.
  main.innerHTML = '';
  whoami.textContent = '';
  await wipePerson(cookie('ov_applicant_csrf'));
  applyLarge(false);
  history.replaceState({}, '', '/m/kiosk');
  render();
}
if (kiosk) {
  document.body.classList.add('kiosk');
  document.querySelector('.brand').textContent = '一件事一次办 · 自助终端';
  const exit = document.getElementById('kiosk-exit');
  exit.hidden = false;
  exit.addEventListener('click', () => endKioskSession());
  document.getElementById('kiosk-stay').addEventListener('click', () => { document.getElementById('kiosk-warning').hidden = true; });
}

function kioskStartPage() {
  if (stopWatch) { stopWatch(); stopWatch = null; }
  document.getElementById('kiosk-exit').hidden = true;
  if (!kiosk) {
    main.innerHTML = '<h1>本机不是自助终端</h1><p class="hint">请在手机或电脑上登录办理。</p><div class="card"><a href="/m/login" data-link>去登录</a></div>';
    return;
  }
  main.innerHTML = `<div class="kiosk-start"><h1>自助办理</h1>
    <p class="kiosk-lead">请将第二代居民身份证平放在读卡区，然后点“读取身份证”</p>
    <button id="kiosk-read" class="primary" type="button">读取身份证</button>
    <div id="kiosk-message" aria-live="polite"></div>
    <p class="hint">办理结束后请点“退出”；无人操作一段时间后将自动退出，并清除本次办理的信息。</p></div>`;
  document.getElementById('kiosk-read').addEventListener('click', (e) => busy(e.target, async () => {
    const message = document.getElementById('kiosk-message');
    message.innerHTML = '<p class="hint">正在读取身份证…</p>';
    try {
      const { nonce } = await api('POST', '/kiosk/nonce', { kiosk: kiosk.device });
      const read = await signedCardRead(kiosk, nonce);
      if (!read.ok) { message.innerHTML = `<p class="error" role="alert">${esc(read.message)}</p>`; return; }
      await api('POST', '/kiosk/session', read.signed);
      go('/m/');
    } catch (error) { showError(message, error); }
  }));
}

// 退出 on a phone or a shared computer: the session ends on the server, then the login page.
// (A kiosk has its own 退出, which also wipes the screen and the storage.)
const signOut = document.getElementById('sign-out');
signOut.addEventListener('click', () => busy(signOut, async () => {
  const ended = await fetch('/api/applicant/session', { method: 'DELETE', credentials: 'same-origin', headers: { 'X-CSRF-Token': cookie('ov_applicant_csrf') } })
    .then((r) => r.ok || r.status === 401, () => false);
  if (!ended) {
    // Still signed in on the server: say so where the eye is rather than pretend.
    const note = document.createElement('p');
    note.className = 'error';
    note.setAttribute('role', 'alert');
    note.textContent = '退出没有成功，请检查网络后再点“退出”。';
    main.prepend(note);
    return;
  }
  whoami.textContent = '';
  signOut.hidden = true;
  go('/m/login');
}));

async function me() {
  try {
    const r = await fetch('/api/applicant/session', { credentials: 'same-origin' });
    if (r.status !== 200) { whoami.textContent = ''; signOut.hidden = true; return null; }
    const { applicant } = await r.json();
    const name = applicant.name || applicant.phone;
    whoami.textContent = applicant.company ? `${name}（代表${applicant.company.name}）` : name;
    signOut.hidden = Boolean(kiosk);
    return applicant;
  } catch { return null; }
}

// ---- pages

function loginPage(params) {
  const next = params.get('next') || '/m/';
  const error = ERRORS[params.get('error')];
  main.innerHTML = `<h1>登录</h1>
    ${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}
    <div class="card">
      <label for="phone">手机号码</label>
      <div class="row"><input id="phone" type="tel" inputmode="numeric" autocomplete="tel" maxlength="13" placeholder="11 位手机号码">
      <button id="send-code" type="button">获取验证码</button></div>
      <label for="code">短信验证码</label>
      <input id="code" inputmode="numeric" autocomplete="one-time-code" maxlength="6" placeholder="6 位数字">
      <div id="login-message"></div>
      <button id="login-submit" class="primary" type="button">登录</button>
    </div>
    <div class="card"><p>已在省统一身份认证平台注册的，可实名登录（代表企业办事须实名登录）。</p>
      <a id="oidc-login" href="/api/applicant/oidc/start?return_to=${encodeURIComponent(next)}">统一身份认证登录</a></div>`;
  const message = document.getElementById('login-message');
  document.getElementById('send-code').addEventListener('click', (e) => busy(e.target, async () => {
    try {
      const r = await api('POST', '/sms-codes', { phone: document.getElementById('phone').value });
      message.innerHTML = `<p class="ok">验证码已发送，${Math.round(r.expires_in_seconds / 60)} 分钟内有效</p>`;
    } catch (error) { showError(message, error); }
  }));
  document.getElementById('login-submit').addEventListener('click', (e) => busy(e.target, async () => {
    try {
      await api('POST', '/session', { phone: document.getElementById('phone').value, code: document.getElementById('code').value });
      go(next);
    } catch (error) { showError(message, error); }
  }));
}

// Who a company applicant acts for: chosen by credit code once logged in by real name.
function companyBox(applicant) {
  if (applicant.company) {
    return `<div class="card" id="company-box"><p>正在代表 <strong>${esc(applicant.company.name)}</strong>（${esc(applicant.company.role_title)}）办事</p>
      <button id="company-clear" type="button">改为办理个人事项</button><div id="company-message"></div></div>`;
  }
  if (!applicant.real_name_verified) {
    return `<div class="card" id="company-box"><p>代表企业办事，须先通过统一身份认证实名登录。</p>
      <a id="oidc-login" href="/api/applicant/oidc/start?return_to=${encodeURIComponent('/m/?for=company')}">统一身份认证登录</a></div>`;
  }
  return `<div class="card" id="company-box"><label for="company-uscc">企业统一社会信用代码</label>
    <div class="row"><input id="company-uscc" maxlength="18" autocapitalize="characters">
    <button id="company-choose" type="button">代表该企业</button></div><div id="company-message"></div>
    <p class="hint">须为该企业登记的法定代表人或授权代理人。</p></div>`;
}

async function homePage(params, applicant) {
  const audience = params.get('for') || 'individual';
  const q = params.get('q') || '';
  main.innerHTML = `<h1>我要办</h1>
    <div class="tabs" role="tablist">
      <button id="tab-individual" role="tab" aria-selected="${audience === 'individual'}">个人办事</button>
      <button id="tab-company" role="tab" aria-selected="${audience === 'company'}">企业办事</button>
    </div>
    ${audience === 'company' ? companyBox(applicant) : ''}
    <label for="search">搜索一件事</label>
    <input id="search" type="search" value="${esc(q)}" placeholder="如：出生、开办餐饮店">
    <div id="bundles"></div>
    <h2>我的</h2>
    <div class="card"><a id="my-cases" href="/m/cases" data-link>我的办件</a></div>`;
  const list = async (query) => {
    const where = document.getElementById('bundles');
    try {
      const r = await api('GET', `/bundles?for=${audience}&q=${encodeURIComponent(query)}`);
      where.innerHTML = r.bundles.length ? r.bundles.map((b) => `<div class="card"><h3>${esc(b.title)}</h3>
        <p class="hint">包括：${b.items.map(esc).join('、')}</p>
        <button class="apply" type="button" data-bundle="${esc(b.bundle)}">我要申请</button></div>`).join('')
        : '<p class="hint">没有找到，请换个词试试</p>';
      where.querySelectorAll('.apply').forEach((b) => b.addEventListener('click', () => go(`/m/apply/${b.dataset.bundle}`)));
    } catch (error) { showError(where, error); }
  };
  document.getElementById('tab-individual').addEventListener('click', () => go('/m/?for=individual'));
  document.getElementById('tab-company').addEventListener('click', () => go('/m/?for=company'));
  document.getElementById('search').addEventListener('input', (e) => list(e.target.value));
  const choose = async (uscc) => {
    try {
      await api('POST', '/company', { uscc });
      await me();
      const session = await api('GET', '/session');
      await homePage(params, session.applicant);
    } catch (error) { showError(document.getElementById('company-message'), error); }
  };
  document.getElementById('company-choose')?.addEventListener('click', (e) => busy(e.target, () => choose(document.getElementById('company-uscc').value.trim())));
  document.getElementById('company-clear')?.addEventListener('click', (e) => busy(e.target, () => choose(null)));
  await list(q);
}

// The bundle: the situation questions one at a time, then the one form.
async function applyPage(bundle) {
  const draft = sessionStorage.getItem(`ov-draft-${bundle}`) || `d-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  sessionStorage.setItem(`ov-draft-${bundle}`, draft);
  let workflow;
  const current = navigation;
  try { workflow = await api('GET', `/bundles/${encodeURIComponent(bundle)}`); } catch (error) { if (!movedOn(current)) showError(main, error); return; }
  if (movedOn(current)) return;
  const answers = {};
  const form = {};
  const save = () => api('PUT', `/drafts/${draft}`, { bundle, answers, form }).catch(() => {});
  const materialsHtml = (materials) => `<h2>需要准备的材料</h2><ul id="materials" class="plain">${materials.map((m) =>
    `<li>${esc(m.title)}${m.source === 'elicense' ? '（电子证照，自动调取）' : ''}</li>`).join('')}</ul>`;
  const askNext = async () => {
    const g = await api('POST', `/bundles/${encodeURIComponent(bundle)}/guide`, { answers });
    if (g.done) return showForm(g.materials);
    const q = g.question;
    const choices = q.type === 'bool' ? [['true', '是'], ['false', '否']] : (q.options || []).map((o) => [o.value, o.title]);
    // A question without choices (an area, a number of staff) is typed, then 下一题.
    const typed = choices.length === 0;
    const numeric = ['int', 'decimal', 'money'].includes(q.type);
    main.innerHTML = `<h1>${esc(workflow.title)}</h1>
      <p class="hint">情形引导：第 ${g.answered.length + 1} 题</p>
      <div class="card">${typed
        ? `<label id="question-title" for="answer-input">${esc(q.title)}</label>
           <input id="answer-input" ${numeric ? `inputmode="${q.type === 'int' ? 'numeric' : 'decimal'}"` : ''} autocomplete="off">
           <div id="answer-message"></div><button id="answer-next" class="primary" type="button">下一题</button>`
        : `<h3 id="question-title">${esc(q.title)}</h3>
           <div class="answers">${choices.map(([v, t]) => `<button class="answer" type="button" data-value="${esc(v)}">${esc(t)}</button>`).join('')}</div>
           <div id="answer-message"></div>`}</div>
      ${materialsHtml(g.materials)}`;
    const answer = async (value) => {
      answers[q.name] = value;
      save();
      try {
        await askNext();
      } catch (error) {
        // Refused (not a number, out of range): the same question again, with the reason.
        delete answers[q.name];
        save();
        const problem = error.data?.details?.fields?.[0]?.message || error.message;
        document.getElementById('answer-message').innerHTML = `<p class="error" role="alert">${esc(problem)}</p>`;
      }
    };
    main.querySelectorAll('.answer').forEach((b) => b.addEventListener('click', () => busy(b, () => answer(b.dataset.value))));
    document.getElementById('answer-next')?.addEventListener('click', (e) => busy(e.target, async () => {
      const value = document.getElementById('answer-input').value.trim();
      if (!value) { document.getElementById('answer-message').innerHTML = '<p class="error" role="alert">请先回答这个问题</p>'; return; }
      if (numeric && !/^\d+(\.\d+)?$/.test(value)) { document.getElementById('answer-message').innerHTML = '<p class="error" role="alert">请填写数字</p>'; return; }
      await answer(value);
    }));
  };
  const showForm = async (materials) => {
    const fields = workflow.fields.filter((f) => !f.situation);
    // What is already proved fills the form (the server keeps the whole numbers in the draft
    // and answers them masked; saved back unchanged, they stay whole).
    let prefilled = {};
    try {
      const filled = await api('POST', `/drafts/${draft}/prefill`, { bundle });
      Object.assign(form, filled.content?.form || {});
      prefilled = filled.prefilled || {};
    } catch { /* nothing proved to fill: the applicant types it all */ }
    main.innerHTML = `<h1>${esc(workflow.title)}</h1>${materialsHtml(materials)}
      <h2>填写申请表</h2><div class="card">${fields.map((f) => {
        const from = prefilled[f.name];
        const locked = from && !from.editable ? ' readonly aria-readonly="true"' : '';
        const described = from ? ` aria-describedby="source-${esc(f.name)}"` : '';
        const input = f.options ? `<select id="field-${esc(f.name)}" data-name="${esc(f.name)}"${described}><option value="">请选择</option>${f.options.map((o) =>
          `<option value="${esc(o.value)}">${esc(o.title)}</option>`).join('')}</select>`
          : `<input id="field-${esc(f.name)}" data-name="${esc(f.name)}" type="${f.type === 'date' ? 'date' : 'text'}"${locked}${described}
              ${f.type === 'idcard' ? 'maxlength="18"' : f.type === 'phone' ? 'inputmode="tel" maxlength="13"' : ''}>`;
        const source = from ? `<p class="source" id="source-${esc(f.name)}">${esc(from.source_title)}${from.editable ? '，如有不同可修改' : '，不能修改；登记信息有变化的，请先办理变更登记'}</p>` : '';
        return `<label for="field-${esc(f.name)}">${esc(f.title)}${f.required ? '（必填）' : ''}</label>${input}${source}<div class="field-check" id="check-${esc(f.name)}"></div>`;
      }).join('')}</div>
      <div id="submit-message"></div>
      <button id="submit-application" class="primary" type="button">提交申请</button>`;
    for (const f of fields) {
      const input = document.getElementById(`field-${f.name}`);
      if (form[f.name] !== undefined) input.value = form[f.name];
      const filledValue = input.value;
      input.addEventListener('input', () => {
        form[f.name] = input.value.trim();
        const check = document.getElementById(`check-${f.name}`);
        // A pre-filled number is shown masked: it is checked where it came from, not here.
        const problem = input.value === filledValue ? '' : fieldProblem(f, input.value.trim());
        check.innerHTML = problem ? `<p class="error">${esc(problem)}</p>` : '';
      });
      input.addEventListener('change', save);
    }
    document.getElementById('submit-application').addEventListener('click', (e) => busy(e.target, async () => {
      const message = document.getElementById('submit-message');
      try {
        await api('PUT', `/drafts/${draft}`, { bundle, answers, form });
        // At a kiosk the server records the channel from the signed card read.
        const channel = kiosk ? 'kiosk' : window.matchMedia('(max-width: 700px)').matches ? 'mobile' : 'online';
        const started = await api('POST', '/cases', { draft, channel });
        sessionStorage.removeItem(`ov-draft-${bundle}`);
        go(`/m/cases/${started.case_id}${kiosk ? '?receipt=1' : ''}`);
      } catch (error) {
        const fields = error.data?.details?.fields || [];
        message.innerHTML = `<p class="error" role="alert">${esc(error.message)}</p>${fields.map((f) => `<p class="error">${esc(f.message)}</p>`).join('')}`;
      }
    }));
  };
  try { await askNext(); } catch (error) { showError(main, error); }
}

// Checks as the applicant types: ID number checksum (GB 11643), mobile number, credit code length.
function fieldProblem(field, value) {
  if (!value) return '';
  if (field.type === 'idcard') {
    if (!/^\d{17}[\dXx]$/.test(value)) return '身份证号码应为 18 位';
    const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const sum = weights.reduce((s, w, i) => s + w * Number(value[i]), 0);
    if ('10X98765432'[sum % 11] !== value[17].toUpperCase()) return '身份证号码校验不通过，请核对';
  }
  if (field.type === 'phone' && !/^1[3-9]\d{9}$/.test(value.replace(/[\s-]/g, ''))) return '请输入 11 位手机号码';
  if (field.type === 'uscc' && !/^[0-9A-Z]{18}$/i.test(value)) return '统一社会信用代码应为 18 位';
  return '';
}

async function casesPage() {
  main.innerHTML = '<h1>我的办件</h1><div id="cases"><p class="hint">正在加载…</p></div>';
  const where = document.getElementById('cases');
  try {
    const r = await api('GET', '/cases');
    where.innerHTML = r.cases.length ? r.cases.map((c) => `<div class="card case-card"><h3>${esc(c.bundle_title)}</h3>
      <p>办件编号 ${esc(c.case_id)} · <span class="status">${esc(c.status_title)}</span> · ${esc(CHANNEL[c.channel] || '')}</p>
      ${c.needs_from_me.length ? `<p class="error">${esc(c.needs_from_me[0].message)}</p>` : ''}
      <a href="/m/cases/${esc(c.case_id)}" data-link>查看详情</a></div>`).join('') : '<p class="hint">您还没有办件</p>';
  } catch (error) { showError(where, error); }
}

async function casePage(id) {
  let c;
  const current = navigation;
  try { c = await api('GET', `/cases/${encodeURIComponent(id)}`); } catch (error) {
    if (movedOn(current)) return;
    if (error.status === 404) main.innerHTML = '<h1>没有找到这个办件</h1><p class="hint">请核对办件编号；只能查看您本人（或您代表的企业）的办件。</p><div class="card"><a id="back-to-cases" href="/m/cases" data-link>查看我的办件</a></div>';
    else showError(main, error);
    return;
  }
  if (movedOn(current)) return;
  const uploadable = c.materials.filter((m) => m.source === 'upload' && (m.status === 'missing' || m.status === 'rejected'));
  const correction = c.needs_from_me.find((n) => n.kind === 'correction');
  const rating = c.needs_from_me.find((n) => n.kind === 'rating');
  const delivery = c.needs_from_me.find((n) => n.kind === 'delivery');
  const chosen = c.delivery_choice;
  main.innerHTML = `${kiosk ? receiptHtml(c) : ''}<h1>${esc(c.bundle_title)}</h1>
    <p>办件编号 ${esc(c.case_id)} · <span class="status" id="case-status">${esc(c.status_title)}</span></p>
    ${c.needs_from_me.map((n) => `<div class="card need"><strong>需要您办理：</strong>${esc(n.message)}</div>`).join('')}
    <h2>办理进度</h2>
    ${c.items.filter((i) => i.phase !== 'not_applicable').map((i) => `<div class="card item"><h3>${esc(i.title)}</h3>
      <p class="hint">${esc(i.department_title)} · ${esc(i.state_title || '')}</p><p>${esc(i.progress)}</p></div>`).join('')}
    <h2>材料</h2>
    <ul class="plain">${c.materials.map((m) => `<li id="material-${esc(m.material)}">${esc(m.title)}：${m.fetched_from_library ? '已自动获取（电子证照）' : `${esc(MATERIAL_STATUS[m.status] || '')}${materialNote(m)}`}
      ${m.downloadable ? ` <a id="download-${esc(m.material)}" href="/api/applicant/cases/${esc(c.case_id)}/materials/${esc(m.material)}">下载</a>` : ''}</li>`).join('')}</ul>
    ${uploadable.length ? `<div class="card"><h3>${correction ? '补正材料' : '上传材料'}</h3>${uploadable.map((m) => `
      <p class="file-title">${esc(m.title)}${m.formats?.length ? `（${esc(m.formats.join('、').toUpperCase())}）` : ''}</p>
      <input id="upload-${esc(m.material)}" class="file" type="file" accept="${esc(m.accept || '')}" data-material="${esc(m.material)}">
      <label for="upload-${esc(m.material)}" class="file-button">拍照或选择文件：${esc(m.title)}</label>`).join('')}
      <div id="upload-message"></div></div>` : ''}
    ${correction ? '<button id="submit-correction" class="primary" type="button">提交补正</button><div id="correction-message"></div>' : ''}
    ${delivery ? `<div class="card" id="delivery-box"><h3>领取结果</h3>
      <div class="levels" role="radiogroup" aria-label="领取方式">
        <label><input type="radio" name="delivery" value="window" class="delivery-method" checked>到窗口领取</label>
        <label><input type="radio" name="delivery" value="mail" class="delivery-method">邮寄送达（免费寄递）</label></div>
      <div id="mail-fields" hidden>
        <label for="mail-recipient">收件人</label><input id="mail-recipient" autocomplete="name" maxlength="20">
        <label for="mail-mobile">收件人手机号码</label><input id="mail-mobile" type="tel" inputmode="numeric" autocomplete="tel" maxlength="13">
        <label for="mail-address">邮寄地址</label><textarea id="mail-address" rows="2" autocomplete="street-address" placeholder="省、市、区县、街道和门牌号"></textarea></div>
      <div id="delivery-message"></div><button id="submit-delivery" class="primary" type="button">确认领取方式</button></div>` : ''}
    ${chosen ? `<div class="card" id="delivery-chosen"><h3>领取方式</h3><p>${esc(chosen.method_title)}${chosen.method === 'mail'
      ? `：${esc(chosen.recipient)}，${esc(chosen.mobile)}，${esc(chosen.address)}` : '：请带身份证到办事窗口领取'}</p></div>` : ''}
    ${rating ? `<div class="card"><h3>服务评价（好差评）</h3><div class="levels" role="radiogroup">${LEVELS.map(([v, t]) =>
      `<label><input type="radio" name="level" value="${v}" class="rate-level">${t}</label>`).join('')}</div>
      <label for="rating-comment">评价意见</label><textarea id="rating-comment" rows="3"></textarea>
      <div id="rating-message"></div><button id="submit-rating" class="primary" type="button">提交评价</button></div>` : ''}
    ${c.rating ? `<div class="card"><h3>您的评价</h3><p>${esc((LEVELS.find(([v]) => v === c.rating.level) || [0, ''])[1])}${c.rating.comment ? `：${esc(c.rating.comment)}` : ''}</p>
      ${c.rating.rectification?.answer ? `<div id="rectification-answer"><h3>整改答复</h3><p>${esc(c.rating.rectification.answer)}</p></div>`
        : c.rating.rectification ? '<p class="hint">我们已启动整改，整改结果将告知您。</p>' : ''}</div>` : ''}
    ${c.can_withdraw ? `<div class="card"><h3>撤回申请</h3><label for="withdraw-reason">撤回原因</label><input id="withdraw-reason">
      <div id="withdraw-message"></div><button id="withdraw" class="danger" type="button">撤回申请</button></div>` : ''}`;
  if (kiosk) {
    document.getElementById('print-receipt').addEventListener('click', () => window.print());
    try {
      const code = await api('GET', `/cases/${encodeURIComponent(id)}/follow-code`);
      if (!movedOn(current)) document.getElementById('receipt-qr').innerHTML = code.svg;
    } catch { document.getElementById('receipt-qr').textContent = '二维码暂不能生成，请凭办件编号查询'; }
  }
  main.querySelectorAll('input[type=file]').forEach((input) => input.addEventListener('change', async () => {
    const where = document.getElementById('upload-message');
    const file = input.files[0];
    if (!file) return;
    if (file.size > 8 * 1024 * 1024) { where.innerHTML = '<p class="error">文件太大，请选择 8MB 以内的文件</p>'; return; }
    try {
      await api('PUT', `/cases/${encodeURIComponent(id)}/materials/${input.dataset.material}`, file,
        { 'Content-Type': file.type || 'application/octet-stream', 'X-File-Name': encodeURIComponent(file.name) });
      where.innerHTML = `<p class="ok">${esc(file.name)} 已上传</p>`;
    } catch (error) { showError(where, error); }
  }));
  document.getElementById('submit-correction')?.addEventListener('click', (e) => busy(e.target, async () => {
    try {
      for (const event of correction.events) await api('POST', `/cases/${encodeURIComponent(id)}/items/${correction.item}/events/${event.event}`, {});
      await casePage(id);
    } catch (error) { showError(document.getElementById('correction-message'), error); }
  }));
  // A message about a field goes once the field is being put right.
  for (const field of ['mail-recipient', 'mail-mobile', 'mail-address']) {
    document.getElementById(field)?.addEventListener('input', () => { document.getElementById('delivery-message').textContent = ''; });
  }
  main.querySelectorAll('.delivery-method').forEach((r) => r.addEventListener('change', () => {
    document.getElementById('mail-fields').hidden = main.querySelector('.delivery-method:checked').value !== 'mail';
  }));
  document.getElementById('submit-delivery')?.addEventListener('click', (e) => busy(e.target, async () => {
    const method = main.querySelector('.delivery-method:checked').value;
    const where = document.getElementById('delivery-message');
    const choice = { method };
    if (method === 'mail') {
      choice.recipient = document.getElementById('mail-recipient').value.trim();
      choice.mobile = document.getElementById('mail-mobile').value.trim();
      choice.address = document.getElementById('mail-address').value.trim();
      // Checked before it is sent too, where the eye is: under the fields.
      if (!choice.recipient) { where.innerHTML = '<p class="error" role="alert">请填写收件人姓名</p>'; return; }
      if (!/^1[3-9]\d{9}$/.test(choice.mobile.replace(/[\s-]/g, ''))) { where.innerHTML = '<p class="error" role="alert">请填写收件人的 11 位手机号码</p>'; return; }
    }
    try {
      await api('POST', `/cases/${encodeURIComponent(id)}/delivery`, choice);
      await casePage(id);
    } catch (error) { showError(where, error); }
  }));
  document.getElementById('submit-rating')?.addEventListener('click', (e) => busy(e.target, async () => {
    const level = main.querySelector('.rate-level:checked');
    const where = document.getElementById('rating-message');
    if (!level) { where.innerHTML = '<p class="error">请选择评价等级</p>'; return; }
    try {
      await api('POST', `/cases/${encodeURIComponent(id)}/rate`, { level: Number(level.value), comment: document.getElementById('rating-comment').value });
      await casePage(id);
    } catch (error) { showError(where, error); }
  }));
  const withdraw = document.getElementById('withdraw');
  withdraw?.addEventListener('click', () => busy(withdraw, async () => {
    const where = document.getElementById('withdraw-message');
    const reason = document.getElementById('withdraw-reason').value.trim();
    if (!reason) { where.innerHTML = '<p class="error">请写明撤回的原因</p>'; return; }
    // Irreversible: a second tap confirms.
    if (withdraw.dataset.confirm !== '1') {
      withdraw.dataset.confirm = '1';
      withdraw.textContent = '确认撤回（撤回后不能恢复）';
      return;
    }
    try {
      await api('POST', `/cases/${encodeURIComponent(id)}/withdraw`, { reason });
      await casePage(id);
    } catch (error) { showError(where, error); }
  }));
}

// What to add after a material's status: why it was refused (the clerk's words), or where it
// came from. The engine's own notes on a material are for staff, not the applicant.
function materialNote(m) {
  if (m.status === 'rejected' && m.note) return `（${esc(m.note)}）`;
  if (m.status === 'missing') return '';
  if (m.source === 'elicense') return '（电子证照）';
  if (m.source === 'produced') return '（部门出具）';
  return '';
}

// The kiosk's receipt (办理回执), on screen and alone on paper (the print stylesheet): what
// was applied for, what was handed in, by when, and the QR code to follow the case.
function receiptHtml(c) {
  const received = c.materials.filter((m) => ['submitted', 'verified', 'tolerated'].includes(m.status) || m.has_content);
  return `<section id="receipt" class="card receipt" aria-labelledby="receipt-title">
    <h2 id="receipt-title">办理回执</h2>
    <dl>
      <dt>办件编号</dt><dd id="receipt-case">${esc(c.case_id)}</dd>
      <dt>办理事项</dt><dd>${esc(c.bundle_title)}</dd>
      <dt>办理渠道</dt><dd>${esc(CHANNEL[c.channel] || '')}</dd>
      <dt>已收材料</dt><dd id="receipt-materials">${received.length ? received.map((m) => esc(m.title)).join('、') : '暂无，请按页面提示上传'}</dd>
      <dt>承诺办结</dt><dd id="receipt-promise">${c.promised_by ? `${esc(c.promised_by)}前` : c.promise_workdays ? `受理后 ${esc(c.promise_workdays)} 个工作日内` : '受理后按承诺时限办结'}</dd>
    </dl>
    <div class="receipt-follow"><div id="receipt-qr" class="qr" role="img" aria-label="查询办件进度的二维码"></div>
      <p>用手机扫码，登录后可查询进度、补正材料、领取结果和评价。</p></div>
    <button id="print-receipt" class="primary no-print" type="button">打印回执</button>
  </section>`;
}

// Each navigation counts; a page whose answer comes after the applicant has moved on paints
// nothing (as in the clerk console: a late page must not cover the one asked for since).
let navigation = 0;
const movedOn = (since) => since !== navigation;

async function render() {
  const current = ++navigation;
  const path = location.pathname.replace(/^\/m/, '') || '/';
  const params = new URLSearchParams(location.search);
  if (path === '/kiosk' || (kiosk && path === '/login')) {
    if (path !== '/kiosk') history.replaceState({}, '', '/m/kiosk');
    return kioskStartPage();
  }
  if (path === '/login') { await me(); return movedOn(current) ? undefined : loginPage(params); }
  const applicant = await me();
  if (movedOn(current)) return;
  if (!applicant) return go(kiosk ? '/m/kiosk' : `/m/login?next=${encodeURIComponent(location.pathname + location.search)}`);
  if (kiosk) {
    document.getElementById('kiosk-exit').hidden = false;
    kioskWatch();
  }
  let m;
  if ((m = path.match(/^\/apply\/([\w.-]+)$/))) return applyPage(m[1]);
  if (path === '/cases' || path === '/cases/') return casesPage();
  if ((m = path.match(/^\/cases\/([^/]+)$/))) return casePage(decodeURIComponent(m[1]));
  return homePage(params, applicant);
}

render();
