// The clicks of a whole restaurant case (开办餐饮店一件事, workflows/bundles/restaurant_opening.flow),
// walked in headless Chromium as the people do it: the window clerk at intake, the market,
// housing and fire reviewers each at their own desk (browser context), a correction round,
// the industry permit, delivery and rating, and a supervisor urging a late item (督办) on a second case
// after the service restarts with a training clock 60 days ahead. Every click and every key that submits is counted
// (typing is not); the happy path must take at most 30, and the count is printed.
//
//   node console_walk_test.mjs <path to onevisit> <screenshot folder> <path to onevisit-deptsim>
//
// The department simulator plays the e-license library (licences, the company's registration)
// and every department's system over HTTP (it answers APPROVED with the documents asked for).
// A screenshot is saved at each step (1280 px; the intake and case pages also at 390 px) as
// walk-<n>-<step>.png. The steps are plain functions in order, so more (a special procedure,
// a supervisor's urging) slot in between.
//
// What counts: a click on a button, link, row, checkbox or select (choosing from a select is
// one), choosing a file (the chooser's 选择文件 and the pick: one), and Enter or Space that
// submits a form or fires an action. Typing text, Tab and scrolling do not count.
//
// Exit 0: passed; 1: failed; 77: skipped because no Chromium is installed (ctest SKIP).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdirSync } from 'node:fs';
import { apiSession, launchChromium, restartServer, skipWithoutChromium, startService, stopService, watchPage } from './harness.mjs';

const [binary, screenshots, simulatorBinary] = process.argv.slice(2);
skipWithoutChromium();
const { chromium } = await import('playwright-core');
mkdirSync(screenshots, { recursive: true });

const workflows = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../workflows');
const maxHappyClicks = 30;

let failed = false;
function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
  console.log(`ok - ${message}`);
}

// The counter: each counted interaction names its step and what it was, for the report.
const counted = [];
let phase = 'happy';  // 'happy', 'correction', 'special' or 'urge' (each counted on its own), or 'extra' (容缺 and the clock, not the walk's)
let stepName = '';
const count = (who, what) => counted.push({ phase, step: stepName, who, what });

/** One person at one desk: a browser context with a page, and their counted actions. */
async function desk(browser, who, width = 1280) {
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  const errors = [];
  watchPage(page, errors);
  return {
    who, page, errors, context,
    click: async (selector, what) => { await page.click(selector); count(who, what); },
    choose: async (selector, value, what) => { await page.selectOption(selector, value); count(who, what); },
    file: async (selector, file, what) => { await page.setInputFiles(selector, file); count(who, what); },
    enter: async (selector, what) => { await page.press(selector, 'Enter'); count(who, what); },
    key: async (key, what) => { await page.keyboard.press(key); count(who, what); },
  };
}

const pdf = (name, text) => ({ name, mimeType: 'application/pdf', buffer: Buffer.from(`%PDF-1.4\n% ${text}\n%%EOF\n`) });
// What the applicant brings for a 120 m² restaurant with an outdoor sign (the fire check by pledge).
const scans = {
  premises_proof: pdf('租赁合同.pdf', '经营场所租赁合同'),
  food_equipment_layout: pdf('平面图.pdf', '经营场所平面图及设备布局'),
  food_safety_rules: pdf('食品安全管理制度.pdf', '食品安全管理制度'),
  signboard_design: pdf('招牌效果图.pdf', '户外招牌设计效果图'),
  owner_consent: pdf('物业同意书.pdf', '物业同意设置证明'),
  fire_floor_plan: pdf('消防平面图.pdf', '消防设施平面图'),
  fire_safety_plan: pdf('消防预案.pdf', '灭火和应急疏散预案'),
  fire_pledge: pdf('消防承诺书.pdf', '消防安全告知承诺书'),
};

// What a clerk must never see on a screen.
const rawWords = /\bnull\b|undefined|NaN|Expected|restaurant_opening|license_check|food_license|integrated_permit|fire_check|\b(submitted|accepted|approved|correcting|running|completed)\b/;
async function readsWell(page, where) {
  const text = await page.$eval('#main', (e) => e.innerText);
  const raw = text.match(rawWords);
  check(!raw, `${where}: Chinese throughout, no raw ids, no "null"${raw ? ` (found ${JSON.stringify(text.slice(Math.max(0, raw.index - 40), raw.index + 40))})` : ''}`);
  const cut = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(cut <= 1, `${where}: nothing sticks out of the page sideways (${cut}px)`);
}

let shots = 0;
async function shot(d, name) {
  await d.page.screenshot({ path: path.join(screenshots, `walk-${String(++shots).padStart(2, '0')}-${name}.png`), fullPage: true });
}
async function narrowShot(d, name) {
  await d.page.setViewportSize({ width: 390, height: 844 });
  await d.page.waitForTimeout(100);
  await readsWell(d.page, `${name} at 390 px`);
  const header = await d.page.$eval('header', (e) => e.getBoundingClientRect().height);
  check(header <= 90, `${name} at 390 px: the header is two short rows (${Math.round(header)} px)`);
  const wrapped = await d.page.$$eval('.due', (es) => es.filter((e) => e.getClientRects().length > 1 || e.getBoundingClientRect().height > 30).map((e) => e.textContent));
  check(wrapped.length === 0, `${name} at 390 px: no deadline breaks inside${wrapped.length ? ` (${wrapped.join(', ')})` : ''}`);
  await shot(d, `${name}-390`);
  // The first screen as a phone shows it (the header, the top of the page).
  await d.page.evaluate(() => window.scrollTo(0, 0));
  await d.page.screenshot({ path: path.join(screenshots, `walk-${String(shots).padStart(2, '0')}-${name}-390-first-screen.png`) });
  await d.page.setViewportSize({ width: 1280, height: 900 });
}

let service;
let browser;
try {
  service = await startService({ binary, simulatorBinary, workflows,
    systems: ['market_registry', 'housing_approval', 'fire_supervision', 'tobacco_licensing'] });
  let { base } = service;
  const admin = await apiSession(base, 'admin', service.password);
  const staff = [
    { name: 'wang', display_name: '王窗口', role: 'window_clerk', password: 'window-clerk-1' },
    { name: 'li', display_name: '李市监', role: 'reviewer', department: 'market', password: 'market-reviewer-1' },
    { name: 'zhou', display_name: '周住建', role: 'reviewer', department: 'housing', password: 'housing-reviewer-1' },
    { name: 'sun', display_name: '孙消防', role: 'reviewer', department: 'fire', password: 'fire-reviewer-1' },
    { name: 'zhao', display_name: '赵督查', role: 'supervisor', password: 'supervisor-1' },
  ];
  for (const user of staff) check((await admin('POST', '/api/users', user)).status === 201, `the admin creates ${user.display_name}`);

  browser = await launchChromium(chromium);
  const clerk = await desk(browser, '王窗口');
  const market = await desk(browser, '李市监');
  const housing = await desk(browser, '周住建');
  const fire = await desk(browser, '孙消防');
  const desks = [clerk, market, housing, fire];
  const logIn = async (d, name) => {
    const user = staff.find((u) => u.name === name);
    await d.page.goto(`${base}/#/login`);
    await d.page.fill('#login-name', user.name);
    await d.page.fill('#login-password', user.password);
    await d.enter('#login-password', 'log in (Enter)');
    await d.page.waitForSelector(`#whoami >> text=${user.display_name}`);
  };
  let caseId = '';
  let secondCase = '';
  const openFromWorklist = async (d) => {
    const row = `#worklist tr[data-case="${caseId}"]`;
    await d.page.waitForSelector(row);
    await d.click(row, 'open the case from the worklist');
    await d.page.waitForSelector('#items');
  };
  // The state of an item on a desk's case page (the page follows others' changes by itself).
  const itemIn = (d, item, state) => d.page.waitForSelector(`#item-${item} .item-state[data-state="${state}"]`, { timeout: 20000 });

  const steps = [
    ['intake', 'the clerk takes the application at the window: the registration fills in by credit code, the scans go with it', async () => {
      await logIn(clerk, 'wang');
      await clerk.click('a[href="#/intake"]', '综窗受理');
      await clerk.choose('#intake-bundle', 'restaurant_opening', 'choose 开办餐饮店一件事');
      const p = clerk.page;
      await p.waitForSelector('#form-uscc');
      await p.fill('#form-area_m2', '120');
      await p.fill('#form-uscc', '91350100m000100y43');
      await p.waitForSelector('#prefill-uscc.ok');
      check((await p.inputValue('#form-company_name')) === '杭州小馆餐饮管理有限公司', 'the company name comes from the e-license library');
      check((await p.inputValue('#form-legal_rep_name')) === '张三', 'so does the legal representative');
      check(await p.$eval('#form-business_address', (e) => e.classList.contains('prefilled') && e.value.includes('文三路')),
        'the address is filled and marked as pre-filled');
      check((await p.textContent('#prefill-uscc')).includes('经营者名称'), 'the clerk is told which fields were filled');
      await p.fill('#form-business_address', '浙江省杭州市西湖区文三路1号一楼');
      check(!(await p.$eval('#form-business_address', (e) => e.classList.contains('prefilled'))), 'a pre-filled field stays editable and becomes the clerk\'s');
      await p.fill('#form-legal_rep_id', '11010519491231002X');
      await p.fill('#form-legal_rep_phone', '13812345678');
      await p.fill('#form-shop_name', '小馆');
      await p.fill('#form-sign_area_m2', '2');
      await p.fill('#intake-applicant', '11010519491231002X');
      for (const material of Object.keys(scans)) await p.waitForSelector(`#intake-file-${material}`, { state: 'attached' });
      check((await p.$$('#intake-materials input[type="file"]')).length === Object.keys(scans).length,
        `the material list offers a file for each of the ${Object.keys(scans).length} uploads (e-licenses are fetched)`);
      for (const [material, file] of Object.entries(scans)) await clerk.file(`#intake-file-${material}`, file, `choose the scan of ${material}`);
      await shot(clerk, 'intake');
      await narrowShot(clerk, 'intake');
      await readsWell(p, 'the intake page');
      await clerk.enter('#form-shop_name', 'Enter: 受理');
      await p.waitForSelector('#materials, #intake-error:not(:empty), .field .error:not(:empty)');
      const refused = await p.$$eval('#intake-error, .field .error', (es) => es.map((e) => e.textContent).filter(Boolean).join('; '));
      check(refused === '', `the intake is accepted${refused ? ` (refused: ${refused})` : ''}`);
      await p.waitForSelector('#materials');
      caseId = decodeURIComponent(p.url().split('#/case/')[1]);
      check(/^\d{8}-\d{4}$/.test(caseId), `the case ${caseId} is started`);
      await p.waitForSelector('#material-business_license >> text=已核验');
      check((await p.textContent('#material-legal_rep_id_card')).includes('已核验'), 'the e-licenses were fetched by themselves');
      for (const material of Object.keys(scans)) {
        check((await p.textContent(`#material-${material}`)).includes('待核验'), `${material} was uploaded with the intake`);
      }
      await shot(clerk, 'case-after-intake');
    }],
    ['verify-accept', 'the clerk, having checked the scans, verifies them and accepts every item in one click', async () => {
      const p = clerk.page;
      check((await p.textContent('#accept-all')).includes('核验并全部受理'), 'with scans waiting, 受理 verifies them first (核验并全部受理)');
      await clerk.click('#accept-all', '核验并全部受理');
      await itemIn(clerk, 'license_check', 'approved');
      for (const item of ['food_license', 'signboard', 'fire_check']) await itemIn(clerk, item, 'accepted');
      for (const material of Object.keys(scans)) {
        check((await p.textContent(`#material-${material}`)).includes('已核验'), `${material} is verified`);
      }
      check(!(await p.$('#accept-all')) && !(await p.$('#verify-all')), 'every item the window accepts is accepted (the licence check, done on the spot, is finished)');
      // An item's 撤回 for the applicant says it ends that item only (the case's 撤回申请 is apart).
      check((await p.textContent('#event-food_license-withdraw')).includes('仅本事项'), 'the item\'s withdrawal for the applicant says it is this item only');
      await shot(clerk, 'case-accepted');
      await narrowShot(clerk, 'case');
      await readsWell(p, 'the case page');
    }],
    ['market-opens', 'the market reviewer opens the case from the worklist', async () => {
      await logIn(market, 'li');
      await openFromWorklist(market);
      check(await market.page.$('#event-food_license-approve') !== null, 'the market reviewer may approve the food licence');
      await shot(market, 'market-case');
    }],
    ['correction', 'correction round: the plan is unclear, 补正; the window takes the new plan for the applicant', async () => {
      phase = 'correction';
      const p = market.page;
      await market.click('#refuse-food_equipment_layout', '退回 the floor plan');
      await p.fill('#dialog-reason', '平面图不清晰，请提供标明设备位置的清晰图纸');
      await market.click('#dialog-confirm', 'confirm 退回');
      await p.waitForSelector('#material-food_equipment_layout >> text=已退回');
      await market.click('#event-food_license-request_correction', '要求补正');
      await p.fill('#dialog-reason', '请补正经营场所平面图');
      await market.click('#dialog-confirm', 'confirm 要求补正');
      await itemIn(market, 'food_license', 'correcting');
      await shot(market, 'correction-requested');
      // The applicant is back at the window with a new plan: the clerk's page shows it by itself.
      const c = clerk.page;
      await itemIn(clerk, 'food_license', 'correcting');
      await clerk.file('#file-food_equipment_layout', pdf('平面图-补正.pdf', '清晰的平面图'), 'choose the corrected plan');
      await clerk.click('#upload-food_equipment_layout', '上传');
      await c.waitForSelector('#material-food_equipment_layout >> text=待核验');
      await clerk.click('#verify-all', '全部核验通过 (the new plan)');
      await c.waitForSelector('#material-food_equipment_layout >> text=已核验');
      // Keyboard: the next action has the focus, and Space fires it.
      await c.waitForFunction(() => document.activeElement && document.activeElement.id === 'event-food_license-corrected');
      check(true, 'after 全部核验通过 the focus is on the next action, 代申请人补正完成');
      await clerk.key('Space', '代申请人补正完成 (Space: it has the focus)');
      await itemIn(clerk, 'food_license', 'submitted');
      await clerk.click('#accept-all', '全部受理 (again, after the correction)');
      await itemIn(clerk, 'food_license', 'accepted');
      const timeline = await c.textContent('#timeline');
      check(timeline.includes('窗口代申请人办理') || timeline.includes('代申请人'), 'the timeline says the window acted for the applicant');
      await shot(clerk, 'correction-done');
      phase = 'happy';
    }],
    ['housing', 'the housing reviewer approves the signboard', async () => {
      await logIn(housing, 'zhou');
      await openFromWorklist(housing);
      await housing.click('#event-signboard-approve', '审批通过 the signboard');
      await itemIn(housing, 'signboard', 'approved');
      await shot(housing, 'housing-approved');
    }],
    ['fire-inspection', 'special procedure: the fire reviewer inspects the premises (现场检查, its clock apart), then ends it with the result', async () => {
      await logIn(fire, 'sun');
      await openFromWorklist(fire);
      phase = 'special';  // the reviewer's login and the row belong to the happy path
      const p = fire.page;
      await p.waitForSelector('#special-start-fire_check');
      check((await p.textContent('#special-choice-fire_check')).includes('现场检查'), 'the fire check offers its declared special procedure, 现场检查');
      await fire.click('#special-start-fire_check', '开始特别程序');
      await p.fill('#dialog-reason', '需现场核查疏散通道和灭火器配置');
      await fire.click('#dialog-confirm', 'confirm 开始特别程序');
      await p.waitForSelector('#special-end-fire_check');
      const running = await p.textContent('#special-fire_check');
      check(running.includes('现场检查'), `the item shows the running procedure and its working days: ${running.trim()}`);
      await shot(fire, 'fire-inspection-running');
      await fire.click('#special-end-fire_check', '结束特别程序');
      await p.fill('#dialog-reason', '现场检查合格');
      await fire.click('#dialog-confirm', 'confirm 结束特别程序');
      await p.waitForSelector('#special-end-fire_check', { state: 'detached' });
      const timeline = await p.textContent('#timeline');
      check(timeline.includes('开始特别程序「现场检查」') && timeline.includes('结束特别程序「现场检查」'), 'the timeline has the procedure\'s start and end');
      check(!timeline.includes('要求补正') || timeline.split('要求补正').length === 2, 'the procedure is not a correction (the only 补正 is the food licence\'s)');
      await readsWell(p, 'the case with a special procedure');
      phase = 'happy';
    }],
    ['fire', 'the fire reviewer approves the fire check', async () => {
      await fire.click('#event-fire_check-approve', '审批通过 the fire check');
      await itemIn(fire, 'fire_check', 'approved');
      await shot(fire, 'fire-approved');
    }],
    ['market-approves', 'the market reviewer, still on the case, approves the food licence (no dialog: nothing to give a reason for)', async () => {
      await itemIn(market, 'food_license', 'accepted');
      await market.click('#event-food_license-approve', '审批通过 the food licence');
      await itemIn(market, 'food_license', 'approved');
      await shot(market, 'food-license-approved');
    }],
    ['permit-accepted', 'the department issues the food permit; the clerk accepts the industry permit', async () => {
      const c = clerk.page;
      await c.waitForSelector('#material-food_business_permit', { timeout: 30000 });
      await c.waitForSelector('#accept-all', { timeout: 30000 });
      await clerk.click('#accept-all', '全部受理 (the industry permit)');
      await itemIn(clerk, 'integrated_permit', 'accepted');
      await shot(clerk, 'permit-accepted');
    }],
    ['permit-approved', 'the market reviewer approves the industry permit: the case is done', async () => {
      await itemIn(market, 'integrated_permit', 'accepted');
      await market.click('#event-integrated_permit-approve', '审批通过 the industry permit');
      await itemIn(market, 'integrated_permit', 'approved');
      await shot(market, 'permit-approved');
    }],
    ['deliver-rate', 'the clerk hands the results over at the window and records the rating', async () => {
      const c = clerk.page;
      await c.waitForSelector('#deliver', { timeout: 30000 });
      await clerk.click('#deliver', '出件 (at the window, the default)');
      await c.waitForSelector('#case-status >> text=已出件');
      await clerk.click('#rate', '记录评价 (5, the default)');
      await c.waitForSelector('#case-status >> text=已评价');
      check(!(await c.$('#main button.action')), 'a rated case offers no more actions');
      await readsWell(c, 'the finished case');
      await shot(clerk, 'rated');
    }],
    ['tolerant-pause', 'not counted: 容缺受理 with the applicant\'s pledge, and the clock paused and resumed with a reason, on a second case', async () => {
      phase = 'extra';
      const clerkApi = await apiSession(base, 'wang', 'window-clerk-1');
      const started = await (await clerkApi('POST', '/api/cases', { bundle: 'restaurant_opening', applicant: '11010519491231002X',
        form: { company_name: '杭州小馆餐饮管理有限公司', uscc: '91350100M000100Y43', legal_rep_name: '张三', legal_rep_id: '11010519491231002X',
          legal_rep_phone: '13812345678', business_address: '文三路1号', shop_name: '二店', sign_area_m2: '2', area_m2: '40' } },
      { 'Idempotency-Key': 'walk-second-case' })).json();
      const second = started.case_id;
      secondCase = second;
      check(Boolean(second), `a second case ${second} (40 m², no fire check) is started through the API`);
      for (const material of ['business_license', 'legal_rep_id_card']) await clerkApi('POST', `/api/cases/${second}/materials/${material}/elicense`, {});
      for (const material of ['premises_proof', 'food_equipment_layout', 'signboard_design', 'owner_consent']) {
        await clerkApi('PUT', `/api/cases/${second}/materials/${material}`, scans[material].buffer, { 'Content-Type': 'application/pdf', 'X-File-Name': encodeURIComponent(scans[material].name) });
        await clerkApi('POST', `/api/cases/${second}/materials/${material}/verify`, { accept: true });
      }
      check((await clerkApi('POST', `/api/cases/${second}/items/license_check/events/approve`, { fields: {} })).status === 200, 'the licence check is done');
      const c = clerk.page;
      await c.goto(`${base}/#/case/${second}`);
      await c.waitForSelector('#tolerant-food_license');
      await clerk.click('#tolerant-food_license', '容缺受理');
      await c.waitForSelector('dialog[open] #dialog-checks');
      check((await c.textContent('#dialog-checks')).includes('食品安全管理制度'), 'the dialog offers the missing secondary material, chosen');
      check(await c.$eval('#dialog-confirm', (b) => b.disabled), 'it needs the applicant\'s pledge first');
      await c.fill('#dialog-reason', '申请人承诺5个工作日内补交食品安全管理制度');
      await shot(clerk, 'tolerant-dialog');
      await clerk.click('#dialog-confirm', 'confirm 容缺受理');
      await itemIn(clerk, 'food_license', 'accepted');
      check((await c.textContent('#material-food_safety_rules')).includes('容缺'), 'the secondary material reads 容缺');
      check((await c.textContent('#timeline')).includes('申请人承诺5个工作日内补交'), 'the pledge is in the timeline');
      await clerk.click('#pause', '暂停计时');
      await c.waitForSelector('dialog[open] #dialog-select');
      await c.selectOption('#dialog-select', 'food_license');
      await c.fill('#dialog-reason', '申请人申请延期提交现场核查材料');
      await clerk.click('#dialog-confirm', 'confirm 暂停计时');
      await c.waitForSelector('#paused-food_license');
      const paused = await c.textContent('#item-food_license');
      check(/计时已暂停（自 \d{4}-\d{2}-\d{2} \d{2}:\d{2} 起）/.test(paused) && paused.includes('申请延期'), `the item says since when and why its clock stands still: ${paused}`);
      check((await c.textContent('#case-paused')).includes('食品经营许可'), 'the case says which clock is paused');
      await shot(clerk, 'paused');
      await narrowShot(clerk, 'paused');
      await clerk.click('a[href="#/worklist"]', '我的待办');
      const row = `#worklist tr[data-case="${second}"]:has-text("食品经营许可")`;
      await c.waitForSelector(row);
      check((await c.textContent(`${row} td.due`)).includes('计时已暂停'), 'the worklist row says the clock is paused');
      await shot(clerk, 'worklist-paused');
      await c.goto(`${base}/#/case/${second}`);
      await clerk.click('#resume-food_license', '恢复计时');
      await c.waitForSelector('#paused-food_license', { state: 'detached' });
      check(!(await c.$('#case-paused')), 'resumed: the deadline runs again');
      await readsWell(c, 'the tolerant, paused and resumed case');
    }],
    ['urge', '督办: two months on (the service restarted on the same database with a training clock 60 days ahead), the second case\'s food licence is overdue; the supervisor urges the market department, whose reviewer sees the mark', async () => {
      base = await restartServer(service, ['--clock-offset-days', '60']);
      phase = 'urge';
      const boss = await desk(browser, '赵督查');
      desks.push(boss);
      await logIn(boss, 'zhao');
      const b = boss.page;
      check((await b.textContent('#training-banner')).includes('60'), 'every page says it is a training service, 60 days ahead');
      await boss.click('a[href="#/worklist"]', '待办 (the supervisor starts at the dashboard)');
      await boss.click('#tab-overdue', '已超期');
      const urge = `#urge-${secondCase}-food_license`;
      await b.waitForSelector(urge, { timeout: 30000 });
      const late = await b.textContent(`#worklist tr[data-case="${secondCase}"][data-item="food_license"]`);
      check(late.includes('市场监督管理局') && late.includes('超时'), `the late item says it is late and names its department: ${late}`);
      await shot(boss, 'overdue');
      await boss.click(urge, '督办');
      await b.fill('#dialog-reason', '食品经营许可已超期，请今日办结');
      await boss.click('#dialog-confirm', 'confirm 督办');
      await b.waitForSelector(`#worklist tr[data-case="${secondCase}"][data-item="food_license"] .badge.urged`);
      await shot(boss, 'urged');
      await readsWell(b, 'the supervisor\'s overdue list');
      // The market reviewer (whose session ran out with the two months) finds the mark.
      phase = 'extra';
      await logIn(market, 'li');
      const m = market.page;
      const row = `#worklist tr[data-case="${secondCase}"][data-item="food_license"]`;
      await m.waitForSelector(`${row} .badge.urged`);
      await m.goto(`${base}/#/case/${secondCase}`);
      await m.waitForSelector('#urged-food_license');
      check((await m.getAttribute('#urged-food_license', 'title')).includes('请今日办结'), 'the case page shows the urging and its note');
      check((await m.textContent('#timeline')).includes('督办'), 'the urging is in the case history');
      await shot(market, 'urged-seen');
      await readsWell(m, 'the urged case');
    }],
  ];

  for (const [name, what, run] of steps) {
    stepName = name;
    console.log(`# step ${name}: ${what}`);
    await run();
  }

  for (const d of desks) check(d.errors.length === 0, `no script errors on ${d.who}'s desk ${d.errors.join('; ')}`);
  const happy = counted.filter((c) => c.phase === 'happy');
  const extra = counted.filter((c) => c.phase === 'extra');
  const correction = counted.filter((c) => c.phase === 'correction');
  const special = counted.filter((c) => c.phase === 'special');
  const urging = counted.filter((c) => c.phase === 'urge');
  console.log('# the clicks, step by step:');
  for (const c of counted) console.log(`#   [${c.phase}] ${c.step} · ${c.who}: ${c.what}`);
  console.log(`# clicks: happy path ${happy.length} (at most ${maxHappyClicks}), correction round ${correction.length}, special procedure ${special.length}, 督办 ${urging.length}, the whole walk ${happy.length + correction.length + special.length + urging.length} (and ${extra.length} for 容缺 and the clock on a second case)`);
  check(happy.length <= maxHappyClicks, `the happy path takes ${happy.length} clicks and submits, at most ${maxHappyClicks}`);
} catch (error) {
  failed = true;
  console.error(`not ok - ${error.stack || error}`);
} finally {
  if (browser) await browser.close();
  if (service) {
    const code = await stopService(service);
    if (code !== 0) {
      failed = true;
      console.error(`not ok - the server exited with ${code} after SIGTERM`);
    }
  }
}
process.exit(failed ? 1 : 0);
