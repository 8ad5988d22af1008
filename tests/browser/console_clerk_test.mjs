// The console as a window clerk and department reviewers use it all day (issue 14): one
// step per defect found in a real browser, each failing on the console before its fix.
// Screenshots of every page at 1280, 1024, 768 (tablet) and 390 px go to the folder given.
//
//   node console_clerk_test.mjs <path to onevisit> <screenshot folder> <path to onevisit-deptsim>
//
// Every step runs against the real server's answers: choices with titles, upload formats,
// the questions asked under the answers, event titles and whether an event is irreversible
// come from the API (docs/api.md), not from playwright routes.
//
// Exit 0: passed; 1: failed; 77: skipped because no Chromium is installed (ctest SKIP).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { apiSession, launchChromium, skipWithoutChromium, startService, startupCatalog, stopService, watchPage } from './harness.mjs';

const [binary, screenshots, simulatorBinary] = process.argv.slice(2);
skipWithoutChromium();
const { chromium } = await import('playwright-core');

const longSealTitle = '公章、财务专用章、发票专用章及合同专用章刻制备案';
const flow = `
${startupCatalog}bundle startup "企业开办" version 1 {
  promise 6 workdays; lifecycle standard
  situation {
    rents "是否租赁经营场所": bool default false
  }
  form {
    company_name "企业名称": text required
    legal_rep_id "法定代表人身份证": idcard required
    capital "注册资本": money required min 0
    company_type "企业类型": enum(limited "有限责任公司", joint_stock "股份有限公司")
    seal_types "刻制印章": list(enum(official "公章", finance "财务专用章"))
    landlord "出租人": text when rents
  }
  use registration
  item seal "${longSealTitle}" by police after registration { needs license, id_card; limit 1 workday }
}

# An item warned as soon as it starts (its warning point lies before its start): what a
# supervisor urges (督办) in step 15, on the real clock.
lifecycle urgent "加急流程" {
  state submitted "已提交" initial; state approved "已办结" final
  on approve: submitted -> approved by reviewer
  warn at 20 hours left
}
bundle rush "加急审查" version 1 {
  promise 1 workday; lifecycle urgent
  form { company_name "企业名称": text required }
  item rush_review "加急审查事项" by market { limit 1 workday }
}
`;
mkdirSync(screenshots, { recursive: true });
const failures = [];
const check = (condition, message) => {
  if (!condition) throw new Error(`check failed: ${message}`);
  console.log(`ok - ${message}`);
};
let stepPage = null;  // the main page, once open: what a failed step was looking at
async function step(name, body) {
  console.log(`# ${name}`);
  try {
    await body();
  } catch (error) {
    failures.push(name);
    console.error(`not ok - ${name}: ${error.message.split('\n')[0]}`);
    if (process.env.STEP_STACK) console.error(error.stack);
    if (stepPage) {
      // Whether the page still answers tells a hung page from a missing element.
      const answer = await Promise.race([stepPage.evaluate(() => `${location.hash} ${document.activeElement?.id || ''}`),
        new Promise((resolve) => setTimeout(() => resolve('no answer within 5 s'), 5000))]).catch((e) => String(e));
      console.error(`#   the page was at ${stepPage.url()}; it answers: ${answer}`);
      await stepPage.screenshot({ path: path.join(screenshots, `clerk-failed-${failures.length}.png`), timeout: 5000 }).catch(() => {});
    }
  }
}

let service;
let browser;
try {
  service = await startService({ binary, simulatorBinary, flow });
  const { base } = service;
  const admin = await apiSession(base, 'admin', service.password);
  for (const user of [{ name: 'wang', display_name: '王窗口', role: 'window_clerk', password: 'window-clerk-1' },
                      { name: 'li', display_name: '李审核', role: 'reviewer', department: 'market', password: 'market-reviewer-1' },
                      { name: 'zhao', display_name: '赵警官', role: 'reviewer', department: 'police', password: 'police-reviewer-1' },
                      { name: 'sun', display_name: '孙督办', role: 'supervisor', password: 'supervisor-1' }]) {
    check((await admin('POST', '/api/users', user)).status === 201, `the admin creates ${user.name} (${user.role})`);
  }
  const clerkApi = await apiSession(base, 'wang', 'window-clerk-1');

  browser = await launchChromium(chromium);
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  stepPage = page;
  page.setDefaultTimeout(20000);
  const pageErrors = [];
  watchPage(page, pageErrors);
  const nativeDialogs = [];
  page.on('dialog', async (dialog) => { nativeDialogs.push(dialog.message()); await dialog.dismiss(); });

  const displayNames = { wang: '王窗口', li: '李审核', zhao: '赵警官', sun: '孙督办' };
  const logIn = async (name, password) => {
    await page.goto(`${base}/#/login`);
    await page.fill('#login-name', name);
    await page.fill('#login-password', password);
    await page.click('#login-submit');
    await page.waitForSelector(`#whoami >> text=${displayNames[name]}`);
  };
  const shot = (name) => page.screenshot({ path: path.join(screenshots, `clerk-${name}.png`), fullPage: true });
  const visibleText = () => page.evaluate(() => document.getElementById('main').innerText);
  const rawWords = /\b(null|undefined|NaN|market|police|startup|registration|seal|accepted|submitted|accept|approve|reject|request_correction)\b/;
  let caseId = '';
  // Each step stands alone: when the intake step did not make the case, the API makes one.
  const ensureCase = async () => {
    if (caseId) return;
    const started = await clerkApi('POST', '/api/cases', { bundle: 'startup', applicant: '11010519491231002X',
      form: { company_name: '杭州一件事科技有限公司', legal_rep_id: '11010519491231002X', capital: '100000' } }, { 'Idempotency-Key': 'fallback' });
    caseId = (await started.json()).case_id;
    await page.goto(`${base}/#/case/${encodeURIComponent(caseId)}`);
  };

  await step('10. a Chinese font is installed, so pages show characters, not boxes', async () => {
    const fonts = execFileSync('fc-list', [':lang=zh', 'family'], { encoding: 'utf8' }).trim();
    check(fonts !== '', `fontconfig knows a Chinese font (${fonts.split('\n')[0]})`);
  });

  await logIn('wang', 'window-clerk-1');

  await step('6, 7. intake: enum choices, questions that do not apply hidden, a half-filled form survives a reload', async () => {
    await page.click('a[href="#/intake"]');
    await page.selectOption('#intake-bundle', 'startup');
    await page.waitForSelector('#form-company_name');
    check(!(await page.textContent('#intake-bundle')).includes('(startup)'), 'the bundle is chosen by its title, without its id');
    check((await page.$eval('#form-company_type', (e) => e.tagName)) === 'SELECT', 'an enum field is a select');
    check((await page.textContent('#form-company_type')).includes('有限责任公司'), 'its choices show their titles');
    check((await page.$$('#form-seal_types input[type="checkbox"]')).length === 2, 'a list(enum) field is a set of checkboxes');
    await page.waitForSelector('#form-landlord', { state: 'hidden' });
    check(true, 'the landlord question is hidden while the premises are not rented');
    await page.fill('#form-company_name', '杭州一件事科技有限公司');
    await page.fill('#form-legal_rep_id', '11010519491231002X');
    await page.waitForTimeout(400);
    await page.reload();
    await page.waitForSelector('#form-company_name');
    check((await page.inputValue('#form-company_name')) === '杭州一件事科技有限公司', 'the company name survives a reload');
    check((await page.inputValue('#form-legal_rep_id')) === '11010519491231002X', 'the ID number survives a reload');
    await page.press('#form-legal_rep_id', 'Enter');
    await page.waitForTimeout(300);
    check(page.url().includes('#/intake'), 'Enter with a required field empty does not submit');
    check(await page.$eval('#form-capital', (e) => e.classList.contains('invalid')), 'the empty required capital is marked');
    await page.focus('#form-company_name');
    await page.keyboard.press('Tab');
    check((await page.evaluate(() => document.activeElement.id)) === 'form-legal_rep_id', 'Tab goes from field to field in order');
    await page.fill('#form-capital', '100000');
    await page.check('#form-seal_types input[value="official"]');
    await page.selectOption('#form-rents', 'true');
    await page.waitForSelector('#form-landlord', { state: 'visible' });
    await page.fill('#form-landlord', '王房东');
    await page.selectOption('#form-rents', 'false');
    await page.waitForSelector('#form-landlord', { state: 'hidden' });
    check(true, 'the landlord question shows and hides with the answer');
    await page.fill('#form-capital', '-1');
    await page.press('#form-capital', 'Enter');
    await page.waitForSelector('#error-capital:not(:empty)');
    const problem = await page.textContent('#error-capital');
    check(/[\u4e00-\u9fff]/.test(problem), `the server's refusal of a field shows under it, in Chinese (${problem})`);
    check(page.url().includes('#/intake'), 'a refused form stays open');
    await page.fill('#form-capital', '100000');
    await shot('1280-intake');
  });

  await step('1. one intake form = one Idempotency-Key, however often it is sent', async () => {
    const keys = [];
    const bodies = [];
    let attempt = 0;
    // The first send reaches the server but its answer is lost (a slow network that drops);
    // later ones are slow.
    await page.route(/\/api\/cases$/, async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      keys.push(route.request().headers()['idempotency-key']);
      bodies.push(JSON.parse(route.request().postData()));
      attempt += 1;
      if (attempt === 1) {
        await route.fetch();
        await new Promise((resolve) => setTimeout(resolve, 800));
        return route.abort('failed');
      }
      await new Promise((resolve) => setTimeout(resolve, 800));
      return route.continue();
    });
    await page.$eval('#intake-submit', (button) => { button.click(); button.click(); button.click(); });
    check(await page.$eval('#intake-submit', (button) => button.disabled), 'the 受理 button is disabled while its request runs');
    await page.click('#intake-submit', { clickCount: 2, force: true });
    await page.waitForSelector('#intake-error:not(:empty)');
    const errorBox = await page.$eval('#intake-error', (e) => e.getBoundingClientRect().top);
    const button = await page.$eval('#intake-submit', (e) => e.getBoundingClientRect().top);
    check(Math.abs(errorBox - button) < 120, 'the lost answer is reported next to the button');
    await page.press('#form-company_name', 'Enter');
    await page.waitForSelector('#materials', { timeout: 10000 });
    await page.unroute(/\/api\/cases$/);
    caseId = decodeURIComponent(page.url().split('#/case/')[1]);
    check(new Set(keys).size === 1, `every send carried the same Idempotency-Key (${keys.length} sends, ${new Set(keys).size} keys)`);
    const listed = await (await clerkApi('GET', '/api/cases')).json();
    check(listed.cases.length === 1, `one case is started (${listed.cases.length})`);
    check(bodies[0].form.seal_types === 'official', 'the chosen seals are sent as a list');
    check(!('landlord' in bodies[0].form), 'the answer to a question that does not apply is not sent');
    check(await page.evaluate(() => Object.keys(sessionStorage).every((k) => !k.startsWith('ov_intake'))), 'the draft is cleared once the case is made');
  });

  await step('3, 8. errors where the action was, in Chinese; in-place updates keep files and the scroll position', async () => {
    await ensureCase();
    await page.setViewportSize({ width: 1280, height: 600 });
    await page.click('#event-registration-accept');
    const error = page.locator('#item-registration .action-error');
    await error.waitFor();
    await page.waitForFunction(() => (document.querySelector('#item-registration .action-error') || {}).textContent);
    const text = await error.textContent();
    check(/[\u4e00-\u9fff]/.test(text) && !/Expected|materials\.complete/.test(text), `the refusal is in Chinese: ${text}`);
    check(await error.isVisible() && (await error.boundingBox()).y < 600, 'the error is next to the 受理 button, in view');
    check(!(await page.$eval('#main', (e) => e.innerText)).includes('Expected'), 'no English developer text on the page');
    check((await page.getAttribute('#file-lease', 'accept') || '').includes('.jpg'), 'the lease upload accepts its declared formats');
    await page.setInputFiles('#file-lease', { name: '租赁合同.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4 租赁合同') });
    await page.$eval('#material-articles', (row) => row.scrollIntoView({ block: 'center' }));
    const scrolled = await page.evaluate(() => window.scrollY);
    // The intake fetched the e-license by itself; the action in another row is the articles' upload.
    check((await page.textContent('#material-id_card')).includes('已核验'), 'the intake fetched the e-license by itself');
    await page.setInputFiles('#file-articles', { name: '章程.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4 公司章程') });
    await page.click('#upload-articles');
    await page.waitForSelector('#material-articles >> text=待核验');
    check(Math.abs((await page.evaluate(() => window.scrollY)) - scrolled) < 4, 'the page does not jump after an action');
    check((await page.$eval('#file-lease', (input) => input.files.length)) === 1, 'the file chosen in another row is kept');
    await page.click('#upload-lease');
    await page.waitForSelector('#material-lease >> text=待核验');
    let verifyKey = '';
    await page.route(/\/verify$/, async (route) => {
      verifyKey = route.request().headers()['idempotency-key'] || '';
      await new Promise((r) => setTimeout(r, 600));
      await route.continue();
    });
    await page.click('#verify-articles');
    check(await page.$eval('#verify-articles', (b) => b.disabled), 'an action button is disabled while its request runs');
    check(verifyKey !== '', 'an action carries an Idempotency-Key, so sending it again does not act twice');
    await page.waitForSelector('#material-articles >> text=已核验');
    await page.click('#refuse-lease');
    await page.waitForSelector('dialog[open] #dialog-reason');
    check(await page.$eval('#dialog-confirm', (b) => b.disabled), 'refusing a material asks for a reason first');
    await page.click('#dialog-cancel');
    await page.click('#verify-lease');
    await page.waitForSelector('#material-lease >> text=已核验');
    await page.unroute(/\/verify$/);
    await page.click('#event-registration-accept');
    await page.waitForSelector('#item-registration .item-state[data-state="accepted"]');
    await page.setViewportSize({ width: 1280, height: 900 });
    const text2 = await visibleText();
    const raw = text2.match(rawWords);
    check(!raw, `no raw identifiers, "null" or English on the case page${raw ? ` (found ${JSON.stringify(text2.slice(Math.max(0, raw.index - 30), raw.index + 30))})` : ''}`);
    check((await page.textContent('#item-registration')).includes('市场监管局'), 'the department is shown by its title');
    await shot('1280-case');
  });

  await step('2. irreversible actions ask for a reason and a confirmation in the page; a finished case shows no actions', async () => {
    const started = await clerkApi('POST', '/api/cases', { bundle: 'startup', applicant: '11010519491231002X',
      form: { company_name: '撤回测试有限公司', legal_rep_id: '11010519491231002X', capital: '1000' } }, { 'Idempotency-Key': 'withdraw-test' });
    check(started.status === 201, 'a second case is started');
    const second = (await started.json()).case_id;
    await page.goto(`${base}/#/case/${encodeURIComponent(second)}`);
    await page.waitForSelector(`h1 >> text=${second}`);
    await page.click('#withdraw');
    await page.waitForSelector('dialog[open] #dialog-reason');
    check(nativeDialogs.length === 0, 'no window.confirm');
    check(await page.$eval('#dialog-confirm', (b) => b.disabled), 'the dialog needs a reason before it confirms');
    await shot('1280-withdraw-dialog');
    await page.click('#dialog-cancel');
    await page.waitForSelector('dialog[open]', { state: 'detached' });
    check((await page.textContent('#case-status')) === '办理中', 'cancelling changes nothing');
    await page.click('#withdraw');
    await page.waitForSelector('dialog[open]');
    await page.evaluate(() => { location.hash = '#/worklist'; });
    await page.waitForSelector('dialog', { state: 'detached' });
    check(true, 'leaving the page cancels its dialog (it never acts on another case)');
    await page.goto(`${base}/#/case/${encodeURIComponent(second)}`);
    await page.waitForSelector(`h1 >> text=${second}`);
    check((await page.textContent('#case-status')) === '办理中', 'the case is still running');
    await page.click('#withdraw');
    await page.fill('#dialog-reason', '申请人当面撤回');
    await page.click('#dialog-confirm');
    await page.waitForSelector('#case-status >> text=已撤回');
    check((await page.$$('#main button')).length === 0, 'a withdrawn case shows no action buttons');
  });

  await step('4. login from a bookmark or after the session expired goes to the page asked for', async () => {
    await ensureCase();
    const fresh = await browser.newContext({ locale: 'zh-CN' });
    const other = await fresh.newPage();
    other.setDefaultTimeout(20000);
    watchPage(other, pageErrors);
    await other.goto(`${base}/#/case/${encodeURIComponent(caseId)}`);
    await other.fill('#login-name', 'li');
    await other.fill('#login-password', 'market-reviewer-1');
    await other.click('#login-submit');
    await other.waitForSelector('#materials');
    check(other.url().endsWith(`#/case/${encodeURIComponent(caseId)}`), 'a bookmarked case opens after the login');
    await fresh.clearCookies();
    await other.click('#event-registration-approve');
    await other.waitForSelector('#login-name');
    await other.fill('#login-name', 'li');
    await other.fill('#login-password', 'market-reviewer-1');
    await other.click('#login-submit');
    await other.waitForSelector('#materials');
    check(other.url().endsWith(`#/case/${encodeURIComponent(caseId)}`), 'after the session expired, the login returns to the case');
    await fresh.close();
  });

  await step('2. a reviewer\'s 不予许可 asks for a reason in the page', async () => {
    await ensureCase();
    await logIn('li', 'market-reviewer-1');
    await page.goto(`${base}/#/case/${encodeURIComponent(caseId)}`);
    await page.click('#event-registration-reject');
    await page.waitForSelector('dialog[open] #dialog-reason');
    check((await page.textContent('dialog[open]')).includes('不可撤销'), 'the dialog says the action cannot be undone');
    await page.click('#dialog-cancel');
    check((await page.getAttribute('#item-registration .item-state', 'data-state')) === 'accepted', 'cancelled: the item is still accepted');
  });

  await step('9. keyboard: Enter opens a worklist row, focus is visible', async () => {
    await page.goto(`${base}/#/worklist`);
    await page.waitForSelector('#worklist .worklist-row');
    await page.focus('#worklist .worklist-row');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    check(await page.evaluate(() => document.activeElement.classList.contains('worklist-row')), 'a worklist row takes the focus');
    check(outline !== 'none', `the focused row is outlined (${outline})`);
    const worklistText = await visibleText();
    check(!rawWords.test(worklistText), 'the worklist shows titles, not identifiers');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#materials');
    check(page.url().includes('#/case/'), 'Enter opens the case');
  });

  await step('5. process graph: a reviewer whose item depends on an item they cannot see; long titles', async () => {
    await ensureCase();
    await logIn('zhao', 'police-reviewer-1');
    await page.goto(`${base}/#/case/${encodeURIComponent(caseId)}`);
    await page.waitForSelector('#process-graph');
    const size = await page.$eval('#process-graph', (svg) => [svg.getAttribute('width'), svg.getAttribute('height')]);
    check(size.every((v) => /^\d+(\.\d+)?$/.test(v)), `the graph has a size (${size.join(' × ')})`);
    const fits = await page.$eval('#process-graph', (svg) => {
      const box = svg.querySelector('rect[data-item="seal"]').getBBox();
      return [...svg.querySelectorAll('text')].every((t) => {
        const b = t.getBBox();
        return b.x + b.width <= box.x + box.width + 0.5 || !(b.y >= box.y && b.y <= box.y + box.height);
      });
    });
    check(fits, 'the long title stays inside its box');
    check((await page.$eval('#process-graph', (svg) => [...svg.querySelectorAll('title')].map((t) => t.textContent).join('|'))).includes(longSealTitle),
      'the full title shows on hover');
    await shot('1280-graph-police');
  });

  await step('9. widths: 1024, 768 (tablet) and 390 px without horizontal scrolling', async () => {
    await logIn('wang', 'window-clerk-1');
    for (const width of [1024, 768, 390]) {
      await page.setViewportSize({ width, height: 900 });
      for (const [name, hash, ready] of [['worklist', '#/worklist', '#main h1'], ['intake', '#/intake', '#intake-materials li'],
                                         ['case', `#/case/${encodeURIComponent(caseId)}`, '#materials']]) {
        await page.goto(`${base}/${hash}`);
        if (name === 'intake') await page.selectOption('#intake-bundle', 'startup');
        await page.waitForSelector(ready);
        const [scrollWidth, innerWidth] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
        check(scrollWidth <= innerWidth, `${name} at ${width} px fits (${scrollWidth} ≤ ${innerWidth})`);
        await shot(`${width}-${name}`);
      }
    }
  });

  await step('11. admin: the department chosen from the deployed workflows; edit, disable and a new password in the page', async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${base}/#/login`);
    await page.fill('#login-name', 'admin');
    await page.fill('#login-password', service.password);
    await page.click('#login-submit');
    await page.waitForSelector('#users');
    const departments = await page.$$eval('#user-department option', (options) => options.map((o) => o.textContent));
    check(departments.includes('市场监管局') && departments.includes('公安局'), `the departments are the deployed ones (${departments.join('、')})`);
    await page.fill('#user-name', 'qian');
    await page.fill('#user-display', '钱审核');
    await page.selectOption('#user-role', 'reviewer');
    await page.selectOption('#user-department', 'police');
    await page.fill('#user-password', 'police-reviewer-2');
    await page.click('#users-create');
    await page.waitForSelector('#user-qian');
    check((await page.inputValue('#edit-department-qian')) === 'police', 'the new reviewer belongs to 公安局');
    await page.selectOption('#edit-department-qian', 'market');
    await page.click('#save-qian');
    await page.waitForFunction(async () => {
      const users = await (await fetch('/api/users')).json();
      return users.users.some((u) => u.name === 'qian' && u.department === 'market');
    });
    check(true, 'the department is changed in the page');
    await page.click('#disable-qian');
    await page.waitForSelector('#user-qian .user-status >> text=已停用');
    check((await admin('GET', '/api/users').then((r) => r.json())).users.find((u) => u.name === 'qian').disabled, 'the reviewer is disabled');
    await page.click('#disable-qian');
    await page.waitForSelector('#user-qian .user-status >> text=正常');
    await page.click('#reset-qian');
    await page.fill('#dialog-reason', 'a-new-password-9');
    // The dialog closes before the page's request is answered: log in once that answer is in.
    const answered = page.waitForResponse((r) => r.url().endsWith('/api/users/qian') && r.request().method() === 'PATCH');
    await page.click('#dialog-confirm');
    check((await answered).status() === 200, 'the page sets the new password');
    await page.waitForSelector('#user-qian');
    const relogin = await fetch(`${base}/api/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'qian', password: 'a-new-password-9' }) });
    check(relogin.status === 200, `the new password set in the page works (${relogin.status})`);
    await shot('1280-users');
  });

  await step('8. English, when chosen, shows no text keys either', async () => {
    await ensureCase();
    await logIn('wang', 'window-clerk-1');
    await page.goto(`${base}/#/case/${encodeURIComponent(caseId)}`);
    await page.waitForSelector('#materials');
    await page.click('#language');
    await page.waitForSelector('#logout >> text=Log out');
    await page.waitForSelector('#materials');
    const english = await visibleText();
    const key = english.match(/\b(state|event|error|level|field|operation|material|call|hint)_[a-z_]+/);
    check(!key, `no text keys on the English case page${key ? ` (found ${key[0]})` : ''}`);
    await page.click('#language');
    await page.waitForSelector('#logout >> text=退出');
  });

  await step('12. the timeline says which material, who acted (display name) and from which state to which', async () => {
    await ensureCase();
    await logIn('wang', 'window-clerk-1');
    await page.goto(`${base}/#/case/${encodeURIComponent(caseId)}`);
    await page.waitForSelector('#timeline li');
    const entries = await page.$$eval('#timeline li', (items) => items.map((li) => li.textContent));
    const uploads = entries.filter((text) => text.includes('提交材料'));
    check(uploads.length > 0 && uploads.every((text) => /「[^」]+」/.test(text)), `each upload names its material: ${uploads.join(' | ')}`);
    check(new Set(uploads).size === uploads.length, 'no two upload entries read the same');
    check(entries.some((text) => text.includes('王窗口')), 'the clerk is named by display name');
    const moves = entries.filter((text) => text.includes('事项流转'));
    check(moves.length > 0 && moves.every((text) => /（[^（）]+ → [^（）]+）/.test(text)), `each transition says from which state to which: ${moves.join(' | ')}`);
    check(!rawWords.test(entries.join(' ')), 'no identifiers in the timeline');
    await shot('1280-timeline');
  });

  await step('13. each dashboard bar leads to its cases: the case list filtered as the figure counts', async () => {
    await logIn('sun', 'supervisor-1');
    await page.goto(`${base}/#/dashboard`);
    await page.waitForSelector('#overall-channel-window');
    const counted = Number((await page.textContent('#overall-channel-window')).match(/(\d+)\s*$/)[1]);
    await shot('1280-dashboard');
    await page.click('#overall-channel-window');
    await page.waitForSelector('#case-list-filter');
    check(page.url().includes('#/cases?') && page.url().includes('channel=window'), `the bar links to the filtered case list (${page.url()})`);
    check((await page.textContent('#case-list-filter')).includes('窗口'), 'the list says what it is filtered by, in Chinese');
    const rows = await page.$$('#case-list tbody tr');
    check(rows.length === counted, `the list holds the bar's ${counted} cases (${rows.length})`);
    check(!rawWords.test(await visibleText()), 'no identifiers on the case list');
    await shot('1280-case-list');
    await page.click(`#case-list tbody tr a`);
    await page.waitForSelector('#materials');
    check(page.url().includes('#/case/'), 'a listed case opens');
  });

  await step('14. after 补正 the clerk takes in the corrected materials and records 已补正 for the applicant; the item goes on', async () => {
    const started = await clerkApi('POST', '/api/cases', { bundle: 'startup', applicant: '11010519491231002X',
      form: { company_name: '补正测试有限公司', legal_rep_id: '11010519491231002X', capital: '1000' } }, { 'Idempotency-Key': 'correction-test' });
    check(started.status === 201, 'a case for the correction round is started');
    const corrected = (await started.json()).case_id;
    await logIn('wang', 'window-clerk-1');
    await page.goto(`${base}/#/case/${encodeURIComponent(corrected)}`);
    await page.waitForSelector(`h1 >> text=${corrected}`);
    await page.click('#event-registration-request_correction');
    await page.fill('#dialog-reason', '公司章程缺少全体股东签字');
    await page.click('#dialog-confirm');
    await page.waitForSelector('#item-registration .item-state[data-state="correcting"]');
    const onBehalf = await page.textContent('#event-registration-corrected');
    check(onBehalf === '代申请人补正完成', `the clerk is offered the applicant's 已补正, for the applicant: ${onBehalf}`);
    await page.click('#event-registration-corrected');
    await page.waitForSelector('#item-registration .item-state[data-state="accepted"]');
    check(true, 'the correction loop ends: the item is accepted again');
    await page.waitForSelector('#timeline li >> text=窗口代申请人办理');
    check(true, 'the timeline says the clerk acted for the applicant at the window');
    await shot('1280-correction-at-window');
  });

  await step('15. the dashboard\'s dates read the Chinese way, even in a browser with an English locale', async () => {
    const english = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
    const other = await english.newPage();
    other.setDefaultTimeout(20000);
    watchPage(other, pageErrors);
    await other.goto(`${base}/#/login`);
    await other.fill('#login-name', 'sun');
    await other.fill('#login-password', 'supervisor-1');
    await other.click('#login-submit');
    await other.waitForSelector('#whoami');
    await other.goto(`${base}/#/dashboard`);
    await other.waitForSelector('#report-from');
    check((await other.getAttribute('#report-from', 'type')) !== 'date', 'not the browser\'s date field (mm/dd/yyyy in an English browser)');
    check((await other.getAttribute('#report-from', 'placeholder')).includes('2026-12-07'), 'the field shows the Chinese form, 2026-12-07');
    await other.fill('#report-from', '2026/12/1');
    await other.press('#report-from', 'Enter');
    await other.waitForFunction(() => document.getElementById('report-from').value === '2026-12-01');
    check(true, '2026/12/1 is read and written back as 2026-12-01');
    // While a slow report loads (its button busy), Enter in the other field is still heard.
    await other.route('**/api/report?*', async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await route.continue();
    });
    await other.fill('#report-from', '2026-12-02');
    await other.press('#report-from', 'Enter');
    await other.waitForSelector('#report-refresh[disabled]');
    await other.fill('#report-to', '2026-02-30');
    await other.press('#report-to', 'Enter');
    await other.waitForSelector('#report-date-error:not(:empty)', { timeout: 2000 });
    check(await other.$eval('#report-refresh', (b) => b.disabled), 'the wrong day is said while the report is still loading');
    await other.unroute('**/api/report?*');
    check(/[\u4e00-\u9fff]/.test(await other.textContent('#report-date-error')), 'a day that does not exist is said next to the fields, in Chinese');
    await other.screenshot({ path: path.join(screenshots, 'clerk-1280-dashboard-dates.png') });
    await english.close();
  });

  await step('16. search above the worklist tabs: a finished case is found by name and ID digits; tabs with counts; 督办', async () => {
    // A case that ends: accepted, approved by both departments, so it leaves every worklist.
    const started = await clerkApi('POST', '/api/cases', { bundle: 'startup', applicant: '110105194912310046',
      form: { company_name: '宁波四海贸易有限公司', legal_rep_id: '110105194912310046', capital: '5000' } }, { 'Idempotency-Key': 'search-test' });
    check(started.status === 201, 'a case to find is started');
    const found = (await started.json()).case_id;
    const marketApi = await apiSession(base, 'li', 'market-reviewer-1');
    const policeApi = await apiSession(base, 'zhao', 'police-reviewer-1');
    await clerkApi('POST', `/api/cases/${found}/materials/id_card/elicense`, {});
    for (const material of ['articles', 'lease']) {
      await clerkApi('PUT', `/api/cases/${found}/materials/${material}`, Buffer.from('%PDF-1.4 test'), { 'Content-Type': 'application/pdf' });
      await clerkApi('POST', `/api/cases/${found}/materials/${material}/verify`, { accept: true });
    }
    check((await clerkApi('POST', `/api/cases/${found}/items/registration/events/accept`, {})).status === 200, 'registration accepted');
    check((await marketApi('POST', `/api/cases/${found}/items/registration/events/approve`, {})).status === 200, 'registration approved');
    check((await clerkApi('POST', `/api/cases/${found}/items/seal/events/accept`, {})).status === 200, 'seal accepted');
    check((await policeApi('POST', `/api/cases/${found}/items/seal/events/approve`, {})).status === 200, 'the case is completed');

    await logIn('wang', 'window-clerk-1');
    await page.goto(`${base}/#/worklist`);
    await page.waitForSelector('#tab-mine[aria-selected="true"]');
    check(!(await page.$(`#worklist tr[data-case="${found}"]`)), 'the completed case is in no one\'s work any more');
    for (const tab of ['mine', 'done', 'all', 'overdue', 'delivery', 'rating']) {
      check(/^\d+\+?$/.test((await page.textContent(`#count-${tab}`)) || ''), `tab ${await page.textContent(`#tab-${tab}`)} shows its count`);
    }
    check(Number(await page.textContent('#count-delivery')) >= 1, 'the completed case counts under 待送达');
    // Keyboard: Tab reaches the search box; Enter searches.
    await page.focus('#search-input');
    await page.keyboard.type('宁波四海');
    await page.keyboard.press('Enter');
    await page.waitForSelector(`#case-list tr[data-case="${found}"]`);
    check(page.url().includes('q='), 'Enter searches; the query is in the address (a bookmark, Back)');
    check((await page.$$('#case-list tbody tr')).length === 1, 'the name finds exactly that case');
    check((await page.textContent(`#case-list tr[data-case="${found}"]`)).includes('已办结'), 'it shows as 已办结');
    check(!rawWords.test(await visibleText()), 'no identifiers in the results');
    await shot('1280-search');
    await page.fill('#search-input', '0046');
    await page.press('#search-input', 'Enter');
    await page.waitForSelector('#search-input[value="0046"]');
    await page.waitForSelector(`#case-list tr[data-case="${found}"]`);
    check(true, 'the last four digits of the ID number find it');
    await page.fill('#search-input', '李');
    await page.press('#search-input', 'Enter');
    await page.waitForSelector('#search-input[value="李"]');
    await page.waitForSelector('#worklist-error');
    check(/[\u4e00-\u9fff]/.test(await page.textContent('#worklist-error')), `a query too short is refused in Chinese: ${await page.textContent('#worklist-error')}`);
    // Arrow keys move between tabs; ↓ and Enter open a row.
    await page.click('#search-clear');
    await page.waitForSelector('#search-input[value=""]');
    await page.click('#tab-mine');
    await page.waitForSelector('#tab-mine[aria-selected="true"]');
    await page.focus('#tab-mine');
    await page.keyboard.press('ArrowRight');
    await page.waitForSelector('#tab-done[aria-selected="true"]');
    check(true, '→ moves to 我办过的');
    await page.click('#tab-delivery');
    await page.waitForSelector(`#case-list tr[data-case="${found}"]`);
    check(true, '待送达 lists the completed case');
    await shot('1280-tab-delivery');
    await page.focus(`#case-list tr[data-case="${found}"]`);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#materials');
    check(page.url().includes(encodeURIComponent(found)), 'Enter opens the case from a tab');

    // 督办: a supervisor urges the department on a warned item, with a note.
    const rush = await clerkApi('POST', '/api/cases', { bundle: 'rush', form: { company_name: '加急测试有限公司' } }, { 'Idempotency-Key': 'rush-test' });
    check(rush.status === 201, 'a case with an item warned at once is started');
    const rushId = (await rush.json()).case_id;
    await logIn('sun', 'supervisor-1');
    const urgeButton = `#urge-${rushId}-rush_review`;
    for (let i = 0; i < 20 && !(await page.$(urgeButton)); ++i) {
      await page.goto(`${base}/#/worklist?tab=mine&t=${i}`);
      await page.waitForSelector('#tab-mine[aria-selected="true"]');
      await page.waitForTimeout(500);
    }
    await page.click(urgeButton);
    await page.waitForSelector('dialog[open] #dialog-reason');
    await page.fill('#dialog-reason', '请今日内办结并回复');
    await shot('1280-urge-dialog');
    await page.click('#dialog-confirm');
    await page.waitForSelector(`tr[data-case="${rushId}"] .badge.urged`);
    check(!(await page.$(urgeButton)), 'urged: the row carries the 督办 mark instead of the button');
    await logIn('li', 'market-reviewer-1');
    await page.goto(`${base}/#/worklist`);
    await page.waitForSelector(`tr[data-case="${rushId}"] .badge.urged`);
    check(true, 'the department\'s reviewer sees the 督办 mark in their worklist');
    await page.goto(`${base}/#/case/${encodeURIComponent(rushId)}`);
    await page.waitForSelector('#urged-rush_review');
    await page.waitForSelector('#timeline li >> text=请今日内办结并回复');
    check(true, 'the case page marks the item and the timeline has the urging with its note');
    await shot('1280-urged-case');
  });

  await step('17. a page still loading does not paint over the page asked for since (seen on CI: the worklist after a login over a case)', async () => {
    await ensureCase();
    await logIn('wang', 'window-clerk-1');
    // The worklist answers slowly; the clerk opens a case before it has.
    await page.route('**/api/worklist*', async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await route.continue().catch(() => {});
    });
    await page.goto(`${base}/#/worklist`);
    await page.goto(`${base}/#/case/${encodeURIComponent(caseId)}`);
    await page.waitForSelector('#materials');
    await page.waitForTimeout(2500);  // the worklist's answers have come in by now
    await page.unroute('**/api/worklist*');
    check(!(await page.$('#tab-mine')), 'the late worklist did not replace the case page');
    check(await page.isVisible('#materials'), 'the case asked for is still on the screen');
    await page.goto(`${base}/#/login`);
    await page.waitForSelector('#login-name');
    const header = await page.textContent('#top');
    check(!/null|undefined/.test(header), `the logged-out header shows no "null" (${header})`);
  });

  await step('no script errors in the page', async () => check(pageErrors.length === 0, `no script errors ${pageErrors.join('; ')}`));
} catch (error) {
  failures.push('setup');
  console.error(`not ok - ${error.stack || error}`);
} finally {
  if (browser) await browser.close();
  if (service && (await stopService(service)) !== 0) failures.push('the server stops on SIGTERM with exit code 0');
}
if (failures.length) console.error(`FAILED: ${failures.join('; ')}`);
process.exit(failures.length ? 1 : 0);
