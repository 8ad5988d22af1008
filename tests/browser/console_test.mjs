// The web console in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
// a window clerk logs in, starts a case and prepares it; a market reviewer logs in, approves,
// and sees the item's state and the timeline change; on a joint item (联办) each department's
// reviewer decides their own part only. Screenshots go to the folder given.
//
//   node console_test.mjs <path to onevisit> <screenshot folder> <path to onevisit-deptsim>
//
// The department simulator plays the e-license library the clerk fetches the ID card from.
//
// Exit 0: passed; 1: failed; 77: skipped because no Chromium is installed (ctest SKIP).
import path from 'node:path';
import { apiSession, launchChromium, skipWithoutChromium, startService, stopService, watchPage } from './harness.mjs';

const [binary, screenshots, simulatorBinary] = process.argv.slice(2);
skipWithoutChromium();
const { chromium } = await import('playwright-core');

const flow = `
lifecycle standard {
  state submitted initial; state accepted; state correcting pauses_clock
  state approved final; state rejected final failed
  on accept: submitted -> accepted by clerk when materials.complete
  on request_correction: submitted, accepted -> correcting by clerk, reviewer requires reason
  on corrected: correcting -> accepted by applicant
  on approve: accepted -> approved by reviewer when materials.verified do call(dept.submit)
  on reject: accepted -> rejected by reviewer requires reason
  warn at 80%
}
department market "市场监管局" adapter market_registry
department police "公安局" adapter seal_system
material id_card "身份证" from elicense "居民身份证"
material articles "公司章程" upload pdf
material license "营业执照" produced_by registration
item registration "设立登记" by market { limit 5 workdays statutory 15 workdays; needs id_card, articles; produces license
  special site_inspection "现场踏勘" max 3 workdays pauses_clock }
bundle startup "企业开办" version 1 {
  promise 6 workdays; lifecycle standard
  form {
    company_name "企业名称": text required
    legal_rep_id "法定代表人身份证": idcard required
    capital "注册资本": money required min 0
  }
  use registration
  item seal "刻章" by police after registration { needs license, id_card; limit 1 workday }
}
department urban "城管局" adapter urban_system
material plan "施工方案" upload pdf
bundle roadworks "涉路施工" version 1 {
  promise 6 workdays; lifecycle standard
  form { project "工程名称": text required }
  item excavation "道路挖掘许可" by urban { limit 5 workdays; needs plan; joint all with market }
}
`;

let service;
let browser;
let failed = false;
function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
  console.log(`ok - ${message}`);
}

try {
  service = await startService({ binary, simulatorBinary, flow });
  const { base } = service;
  check(true, `the department simulator (the e-license library) listens on port ${service.simulatorPort}`);

  // Accounts, through the API as the admin.
  const admin = await apiSession(base, 'admin', service.password);
  check(true, 'the admin logs in with the printed password');
  for (const user of [{ name: 'wang', display_name: '王窗口', role: 'window_clerk', password: 'window-clerk-1' },
                      { name: 'li', display_name: '李审核', role: 'reviewer', department: 'market', password: 'market-reviewer-1' }]) {
    check((await admin('POST', '/api/users', user)).status === 201, `the admin creates ${user.name} (${user.role})`);
  }

  browser = await launchChromium(chromium);
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const pageErrors = [];
  watchPage(page, pageErrors);

  const logIn = async (name, password) => {
    await page.goto(`${base}/#/login`);
    await page.fill('#login-name', name);
    await page.fill('#login-password', password);
    await page.click('#login-submit');
    await page.waitForSelector(`#whoami >> text=${name === 'wang' ? '王窗口' : '李审核'}`);
  };

  // The window clerk: intake with validation as you type, then the materials and acceptance.
  await logIn('wang', 'window-clerk-1');
  check((await page.textContent('#logout')) === '退出', 'the console speaks Chinese first');
  await page.screenshot({ path: path.join(screenshots, '1-worklist-clerk.png'), fullPage: true });
  await page.click('a[href="#/intake"]');
  await page.selectOption('#intake-bundle', 'startup');
  await page.waitForSelector('#form-company_name');
  await page.fill('#form-company_name', '杭州一件事科技有限公司');
  await page.fill('#form-legal_rep_id', '110105194912310021');
  check(await page.$eval('#form-legal_rep_id', (e) => e.classList.contains('invalid')), 'a wrong ID number checksum is flagged while typing');
  await page.fill('#form-legal_rep_id', '11010519491231002X');
  check(!(await page.$eval('#form-legal_rep_id', (e) => e.classList.contains('invalid'))), 'the corrected ID number is accepted');
  await page.fill('#form-capital', '100000');
  await page.screenshot({ path: path.join(screenshots, '2-intake.png'), fullPage: true });
  await page.click('#intake-submit');
  await page.waitForSelector('#materials');
  const caseId = decodeURIComponent(page.url().split('#/case/')[1]);
  check(caseId.length > 0, `the case ${caseId} is started and shown`);
  check((await page.textContent('#case-status')) === '办理中', 'the case is running');

  // The intake fetched the e-license by itself.
  await page.waitForSelector('#material-id_card >> text=已核验');
  check(!(await page.$('#elicense-id_card')), 'the e-license was fetched with the intake: nothing to click');
  await page.setInputFiles('#file-articles', { name: '章程.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4 公司章程') });
  await page.click('#upload-articles');
  await page.click('#verify-articles');
  await page.waitForSelector('#material-articles >> text=已核验');
  check(true, 'materials: e-license fetched, upload verified');
  await page.click('#event-registration-accept');
  await page.waitForSelector('#item-registration .item-state[data-state="accepted"] >> text=已受理');
  check(!(await page.$('#event-registration-approve')), 'the clerk gets no approve button (the reviewer approves)');
  await page.screenshot({ path: path.join(screenshots, '3-case-clerk.png'), fullPage: true });
  check((await page.getAttribute('#process-graph rect[data-item="registration"]', 'stroke-width')) === '2.5',
    "the clerk's process graph highlights the active registration");
  await page.click('#logout');
  await page.waitForSelector('#login-name');

  // The market reviewer: the item is in the worklist; approve it.
  await logIn('li', 'market-reviewer-1');
  await page.waitForSelector(`#worklist a[href="#/case/${encodeURIComponent(caseId)}"]`);
  await page.screenshot({ path: path.join(screenshots, '4-worklist-reviewer.png'), fullPage: true });
  await page.click(`#worklist a[href="#/case/${encodeURIComponent(caseId)}"]`);
  await page.waitForSelector('#event-registration-approve');
  // 特别程序: the reviewer starts 现场踏勘 with a reason (its clock stands still), then ends it.
  await page.selectOption('#special-choice-registration', 'site_inspection');
  await page.click('#special-start-registration');
  await page.fill('#dialog-reason', '需现场核实经营场所');
  await page.click('#dialog-confirm');
  await page.waitForSelector('#special-run-registration-site_inspection >> text=进行中：现场踏勘');
  check((await page.textContent('#special-registration')).includes('期间暂停计时'), 'the running 现场踏勘 shows its days used and the stopped clock');
  await page.screenshot({ path: path.join(screenshots, '4b-special-procedure.png'), fullPage: true });
  await page.click('#special-end-registration');
  await page.fill('#dialog-reason', '场所与申报一致');
  await page.click('#dialog-confirm');
  await page.waitForSelector('#special-run-registration-site_inspection >> text=已完成：现场踏勘');
  const specialTimeline = await page.textContent('#timeline');
  check(specialTimeline.includes('开始特别程序「现场踏勘」') && specialTimeline.includes('结束特别程序「现场踏勘」') && specialTimeline.includes('场所与申报一致'),
    'the timeline shows the special procedure started and ended, with its result');
  const before = await page.$$eval('#timeline li', (items) => items.length);
  check(!(await page.$('#event-seal-accept')), 'the market reviewer gets no buttons for the police item');
  await page.click('#event-registration-approve');
  await page.waitForSelector('#item-registration .item-state[data-state="approved"] >> text=已办结');
  const after = await page.$$eval('#timeline li', (items) => items.length);
  check((await page.getAttribute('#process-graph rect[data-item="registration"]', 'fill')) === '#c8e6c9',
    'the process graph shows registration done (green)');
  check((await page.$$eval('#process-graph rect', (boxes) => boxes.length)) === 1, "the market reviewer's graph holds only the market's item");
  check(after > before, `the timeline grows (${before} -> ${after} entries)`);
  check((await page.textContent('#timeline')).includes('事项流转 设立登记'), 'the timeline names the approval of 设立登记');
  await page.screenshot({ path: path.join(screenshots, '5-case-approved.png'), fullPage: true });

  // The market's submit call is parked (no adapter configured): the reviewer resolves it.
  let parked = null;
  for (let i = 0; i < 50 && !parked; ++i) {
    await page.reload();
    await page.waitForSelector('#timeline');
    parked = await page.$('#calls button[id^="resolve-"]');
    if (!parked) await page.waitForTimeout(200);
  }
  check(parked !== null, 'the parked call shows with retry and resolve buttons');
  const callId = (await parked.getAttribute('id')).slice('resolve-'.length);
  await page.click(`#resolve-${callId}`);
  await page.fill('#dialog-reason', '已电话确认，部门线下办理');
  await page.click('#dialog-confirm');
  await page.waitForSelector(`#call-${callId} >> text=已送达`);
  check(true, 'resolving the call by hand marks it delivered');
  await page.screenshot({ path: path.join(screenshots, '6-call-resolved.png'), fullPage: true });

  // 联办会签: 城管 and 市场监管 decide the excavation permit together (all must agree). The
  // market reviewer sees the parts and decides the market's part only; 城管's refusal refuses it.
  check((await admin('POST', '/api/users', { name: 'zhao', display_name: '赵城管', role: 'reviewer', department: 'urban',
    password: 'urban-reviewer-1' })).status === 201, 'the admin creates zhao (an urban reviewer)');
  const clerkApi = await apiSession(base, 'wang', 'window-clerk-1');
  const started = await clerkApi('POST', '/api/cases', { bundle: 'roadworks', form: { project: '文一路管线改造' } });
  check(started.status === 201, 'a road-works case is started');
  const jointId = (await started.json()).case_id;
  await clerkApi('PUT', `/api/cases/${jointId}/materials/plan`, Buffer.from('%PDF-1.4 施工方案'), { 'Content-Type': 'application/pdf' });
  await clerkApi('POST', `/api/cases/${jointId}/materials/plan/verify`, { accept: true });
  check((await clerkApi('POST', `/api/cases/${jointId}/items/excavation/events/accept`, {})).status === 200, 'the excavation permit is accepted');
  // The market reviewer finds 城管's permit in 我的待办 as the market's part (会签), and opens
  // the case from there.
  const partRow = `#worklist tr.worklist-row.part[data-case="${jointId}"][data-item="excavation"]`;
  await page.goto(`${base}/#/worklist`);
  await page.waitForSelector(partRow);
  check((await page.textContent(partRow)).includes('会签：道路挖掘许可（市场监管局）'),
    "the market's part of the joint permit is in the market reviewer's worklist, in Chinese");
  await page.screenshot({ path: path.join(screenshots, '7a-worklist-joint-part.png'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForSelector(partRow);
  check(await page.isVisible(partRow), 'the part row shows at 390 px');
  await page.screenshot({ path: path.join(screenshots, '7a-worklist-joint-part-390.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.click(partRow);
  await page.waitForSelector('#part-excavation-market[data-decision="pending"]');
  check((await page.textContent('#parts-excavation')).includes('联办会签（须各部门均同意）') &&
        (await page.textContent('#part-excavation-urban')).includes('城管局：待会签'), 'the parts show by department title, pending');
  check(!(await page.$('#event-excavation-approve')) && !(await page.$('#part-approve-excavation-urban')),
    'the market reviewer gets no approval of the whole item, nor of the urban part');
  await page.click('#part-approve-excavation-market');
  await page.waitForSelector('#part-excavation-market[data-decision="approved"]');
  check((await page.textContent('#part-excavation-market')).includes('市场监管局：同意'), 'the market part reads 同意');
  check((await page.getAttribute('#item-excavation .item-state', 'data-state')) === 'accepted', 'the item waits for the urban part');
  await page.screenshot({ path: path.join(screenshots, '7-joint-parts.png'), fullPage: true });
  await page.goto(`${base}/#/worklist`);
  await page.waitForSelector('#worklist-panel');
  check(!(await page.$(partRow)), 'once decided, the part leaves the market reviewer\'s worklist');
  await page.click('#logout');
  await page.waitForSelector('#login-name');
  await page.fill('#login-name', 'zhao');
  await page.fill('#login-password', 'urban-reviewer-1');
  await page.click('#login-submit');
  await page.waitForSelector('#whoami >> text=赵城管');
  await page.goto(`${base}/#/case/${encodeURIComponent(jointId)}`);
  await page.click('#part-refuse-excavation-urban');
  await page.fill('#dialog-reason', '该路段五年内不得挖掘');
  await page.click('#dialog-confirm');
  await page.waitForSelector('#item-excavation .item-state[data-state="rejected"]');
  const jointTimeline = await page.textContent('#timeline');
  check(jointTimeline.includes('联办会签') && jointTimeline.includes('城管局不同意') && jointTimeline.includes('市场监管局同意'),
    "the timeline records each department's decision with its title");

  // 待送达: the applicant's choice of delivery (recorded at the window for them) shows on the
  // list row and on the case, the mobile masked; a bad rating's 整改 button for the reviewer.
  check((await page.textContent('#case-status')) === '已办结', 'the refused road-works case is done (已办结)');
  const chosen = await clerkApi('POST', `/api/cases/${jointId}/delivery-choice`,
    { method: 'mail', recipient: '张三', mobile: '13900139000', address: '浙江省杭州市西湖区文三路1号3幢201室' });
  check(chosen.status === 200, 'the applicant chooses delivery by post (recorded by the window clerk)');
  const byPost = '邮寄：张三，139******00，浙江省杭州市西湖区文三路1号3幢201室';
  await page.click('#logout');
  await page.waitForSelector('#login-name');
  await logIn('wang', 'window-clerk-1');
  await page.goto(`${base}/#/worklist?tab=delivery`);
  await page.waitForSelector(`#delivery-${jointId}`);
  check((await page.textContent(`#delivery-${jointId}`)) === byPost, `the 待送达 row reads "${byPost}"`);
  check(!(await page.textContent('#worklist-panel')).includes('13900139000'), 'the 待送达 list never shows the whole mobile number');
  check((await page.textContent('#case-list thead')).includes('送达方式'), 'the 待送达 list has a 送达方式 column');
  await page.screenshot({ path: path.join(screenshots, '8-tab-delivery.png'), fullPage: true });
  await page.click(`#case-list tr[data-case="${jointId}"] a`);
  await page.waitForSelector('#case-delivery');
  check((await page.textContent('#case-delivery')) === `送达方式：${byPost}`, 'the case page says the delivery choice, the mobile masked');
  check((await page.$eval('#deliver-channel', (e) => e.value)) === 'mail', 'the 出件 channel is preselected to the choice (邮寄)');
  await page.screenshot({ path: path.join(screenshots, '9-case-delivery.png'), fullPage: true });
  await page.click('#deliver');
  await page.waitForSelector('#case-status >> text=已出件');
  check((await page.textContent('#case-delivery')) === `送达方式：${byPost}`, 'the delivered case still says how it went out');
  await page.selectOption('#rate-level', '1');
  await page.fill('#rate-comment', '等待时间太长');
  await page.click('#rate');
  await page.waitForSelector('#case-status >> text=已评价');
  check(!(await page.$('#answer-rectification')), 'the window clerk gets no rectification button');
  await page.click('#logout');
  await page.waitForSelector('#login-name');
  await page.fill('#login-name', 'zhao');
  await page.fill('#login-password', 'urban-reviewer-1');
  await page.click('#login-submit');
  await page.waitForSelector('#whoami >> text=赵城管');
  await page.goto(`${base}/#/case/${encodeURIComponent(jointId)}`);
  await page.waitForSelector('#answer-rectification');
  check((await page.textContent('#answer-rectification')) === '答复差评整改', "the department's reviewer gets the 答复差评整改 button of the bad rating");
  await page.screenshot({ path: path.join(screenshots, '10-rectification-button.png'), fullPage: true });
  await page.click('#answer-rectification');
  await page.fill('#dialog-reason', '经核查，当日窗口人手不足；已在高峰时段增开窗口。');
  await page.click('#dialog-confirm');
  await page.waitForSelector('#timeline >> text=差评整改答复');
  check(!(await page.$('#answer-rectification')), 'answered once, the button is gone and the timeline records the answer');
  await page.screenshot({ path: path.join(screenshots, '11-rectification-answered.png'), fullPage: true });

  await page.click('#language');
  await page.waitForSelector('#logout >> text=Log out');
  check(true, 'English is available');
  check(pageErrors.length === 0, `no script errors in the page ${pageErrors.join('; ')}`);
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
    } else {
      console.log('ok - the server stops on SIGTERM with exit code 0');
    }
  }
}
process.exit(failed ? 1 : 0);
