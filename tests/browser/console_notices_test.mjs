// Printable notices and the ID-card reader at the window (issue 14, "What clerks expect"), in
// headless Chromium: the department simulator plays the window PC's card reader over real HTTP
// (CORS for the console's origin), the reader fills the intake form, each reader failure shows
// its message; each notice is offered only when it applies, opens, prints (print media
// screenshot and a PDF) and says what it must. Screenshots go to the folder given.
//
//   node console_notices_test.mjs <path to onevisit> <screenshot folder> <path to onevisit-deptsim>
//
// Exit 0: passed; 1: failed; 77: skipped because no Chromium is installed (ctest SKIP).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { apiSession, launchChromium, skipWithoutChromium, startService, startupCatalog, stopService, watchPage } from './harness.mjs';

const [binary, screenshots, simulatorBinary] = process.argv.slice(2);
skipWithoutChromium();
const { chromium } = await import('playwright-core');

const flow = `
${startupCatalog}bundle startup "企业开办" version 1 {
  promise 6 workdays; lifecycle standard
  form {
    company_name "企业名称": text required
    legal_rep_name "法定代表人姓名": text required
    legal_rep_id "法定代表人身份证": idcard required
    legal_rep_address "法定代表人住址": text
    contact_name "联系人姓名": text
    capital "注册资本": money required min 0
  }
  use registration
  item seal "刻章" by police after registration { needs license, id_card; limit 1 workday }
}
`;
const centre = '杭州市西湖区政务服务中心';
const readerCard = { name: '王小明', id_number: '330106199003070014', address: '浙江省杭州市西湖区文三路100号' };

mkdirSync(screenshots, { recursive: true });
const failures = [];
const check = (condition, message) => {
  if (!condition) throw new Error(`check failed: ${message}`);
  console.log(`ok - ${message}`);
};
async function step(name, body) {
  console.log(`# ${name}`);
  try {
    await body();
  } catch (error) {
    failures.push(name);
    console.error(`not ok - ${name}: ${error.message.split('\n')[0]}`);
    if (page) await page.screenshot({ path: path.join(screenshots, `notices-failed-${failures.length}.png`), fullPage: true }).catch(() => {});
  }
}

let service;
let browser;
let page;  // for a screenshot of a failed step
try {
  service = await startService({ binary, simulatorBinary, flow, simulatorArgs: ['--id-reader'] });
  const { base } = service;
  const simulator = `http://127.0.0.1:${service.simulatorPort}`;
  const reader = async (control) => {
    const answer = await fetch(`${simulator}/idreader/control`, { method: 'POST', body: JSON.stringify(control) });
    check(answer.status === 200, `the reader simulator takes ${JSON.stringify(control)}`);
  };
  // The reader serves the console's origin only, as the vendor's software is set up per window PC.
  await reader({ origins: [base], failure: '' });

  const admin = await apiSession(base, 'admin', service.password);
  for (const user of [{ name: 'wang', display_name: '王窗口', role: 'window_clerk', password: 'window-clerk-1' },
                      { name: 'li', display_name: '李审核', role: 'reviewer', department: 'market', password: 'market-reviewer-1' },
                      { name: 'zhao', display_name: '赵警官', role: 'reviewer', department: 'police', password: 'police-reviewer-1' },
                      { name: 'market_gateway', role: 'department_system', department: 'market' }]) {
    check((await admin('POST', '/api/users', user)).status === 201, `the admin creates ${user.name} (${user.role})`);
  }
  const tokenAnswer = await admin('POST', '/api/tokens', { name: 'market registry', scope: 'write', user: 'market_gateway' });
  check(tokenAnswer.status === 201, 'the market registry gets an API token');
  const marketToken = (await tokenAnswer.json()).token;
  const clerk = await apiSession(base, 'wang', 'window-clerk-1');
  const market = await apiSession(base, 'li', 'market-reviewer-1');
  const police = await apiSession(base, 'zhao', 'police-reviewer-1');
  let keys = 0;
  const act = async (session, method, route, body, expected = 200) => {
    const answer = await session(method, route, body, { 'Idempotency-Key': `notices-test-${++keys}` });
    const text = await answer.text();
    if (answer.status !== expected) throw new Error(`${method} ${route}: ${answer.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const form = { company_name: '杭州一件事科技有限公司', legal_rep_name: '王小明', legal_rep_id: readerCard.id_number, capital: '100000' };
  const startCase = async () => (await act(clerk, 'POST', '/api/cases', { bundle: 'startup', form, applicant: readerCard.id_number }, 201)).case_id;
  const upload = async (caseId, material, name) => {
    const answer = await clerk('PUT', `/api/cases/${encodeURIComponent(caseId)}/materials/${material}`, Buffer.from(`%PDF-1.4 ${name}`),
      { 'Idempotency-Key': `notices-test-${++keys}`, 'X-File-Name': encodeURIComponent(name), 'Content-Type': 'application/pdf' });
    if (answer.status !== 200) throw new Error(`upload ${material}: ${answer.status} ${await answer.text()}`);
  };

  browser = await launchChromium(chromium);
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
  // The print dialog cannot be driven headless: count the calls of window.print instead.
  await context.addInitScript(() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; });
  page = await context.newPage();
  page.setDefaultTimeout(8000);
  const pageErrors = [];
  watchPage(page, pageErrors);
  const shot = (name) => page.screenshot({ path: path.join(screenshots, `notices-${name}.png`), fullPage: true });

  await page.goto(`${base}/#/login`);
  await page.fill('#login-name', 'wang');
  await page.fill('#login-password', 'window-clerk-1');
  await page.click('#login-submit');
  await page.waitForSelector('#whoami >> text=王窗口');

  await step('本机设置: the reader address and the centre name are kept on this PC', async () => {
    await page.click('a[href="#/settings"]');
    await page.fill('#settings-reader', 'ftp://reader');
    await page.click('#settings-save');
    check((await page.textContent('#settings-message')).includes('http://'), 'an address that is not http is refused with what to type');
    await page.fill('#settings-reader', `${simulator}/idreader/`);
    await page.fill('#settings-centre', centre);
    await page.click('#settings-save');
    await page.waitForSelector('#settings-message >> text=已保存');
    await page.reload();
    await page.waitForSelector('#settings-reader');
    check((await page.inputValue('#settings-reader')) === `${simulator}/idreader`, 'the reader address survives a reload (without the trailing slash)');
    check((await page.inputValue('#settings-centre')) === centre, 'the centre name survives a reload');
    await shot('1-settings');
  });

  const openIntake = async () => {
    await page.goto(`${base}/#/intake`);
    await page.waitForSelector('#intake-bundle');
    await page.selectOption('#intake-bundle', 'startup');
    await page.waitForSelector('#reader-read');
  };

  await step('the server\'s Content-Security-Policy lets the page call the reader on this PC, and nothing else outside', async () => {
    const response = await page.goto(`${base}/`);
    const policy = response.headers()['content-security-policy'] || '';
    check(/connect-src 'self' http:\/\/127\.0\.0\.1:\* http:\/\/localhost:\*/.test(policy), `connect-src allows the loopback reader: ${policy}`);
    check(/default-src 'self'/.test(policy), 'everything else stays on the server');
  });

  // Chromium asks before a page calls a loopback address (Local Network Access): on a window
  // PC the clerk allows it once, or the administrator's browser policy does (docs/adapters.md).
  await context.grantPermissions(['local-network-access'], { origin: base });
  await page.reload();  // the document again

  await step('读取身份证 fills the name, the ID number and the address of the ID\'s person, and nothing else', async () => {
    await openIntake();
    await page.click('#intake-clear');
    await page.waitForSelector('#reader-read');
    await page.fill('#form-company_name', '杭州一件事科技有限公司');
    await page.click('#reader-read');
    await page.waitForSelector('#reader-status.ok');
    check((await page.inputValue('#form-legal_rep_name')) === readerCard.name, 'the legal representative\'s name is the card\'s');
    check((await page.inputValue('#form-legal_rep_id')) === readerCard.id_number, 'the ID field (type idcard) has the card\'s number');
    check((await page.inputValue('#form-legal_rep_address')) === readerCard.address, 'the address of the same person is filled');
    check((await page.inputValue('#intake-applicant')) === readerCard.id_number, 'the applicant\'s ID number is filled');
    check((await page.inputValue('#form-contact_name')) === '', 'another person\'s name field (联系人姓名) is left alone');
    check((await page.inputValue('#form-company_name')) === '杭州一件事科技有限公司', 'what the clerk typed stays');
    check(!(await page.$eval('#form-legal_rep_id', (e) => e.classList.contains('invalid'))), 'the filled ID number passes the page\'s check');
    const status = await page.textContent('#reader-status');
    check(status.includes('法定代表人姓名') && status.includes('法定代表人身份证') && !status.includes(readerCard.id_number),
      `the message says which fields were filled, without the number ("${status}")`);
    await shot('2-intake-reader');
    await page.reload();
    await page.waitForSelector('#form-legal_rep_name');
    check((await page.inputValue('#form-legal_rep_name')) === readerCard.name, 'the filled fields are in the half-filled form that survives a reload');
  });

  await step('a configured card: the simulator\'s card is what is read', async () => {
    await reader({ card: { name: '李晓红', sex: '女', id_number: '110105198506150022', address: '北京市朝阳区建国路1号' } });
    await openIntake();
    await page.click('#reader-read');
    await page.waitForSelector('#reader-status.ok');
    check((await page.inputValue('#form-legal_rep_name')) === '李晓红', 'the name of the configured card');
    check((await page.inputValue('#form-legal_rep_id')) === '110105198506150022', 'the number of the configured card');
    await reader({ card: { name: readerCard.name, sex: '男', id_number: readerCard.id_number, address: readerCard.address } });
  });

  await step('each reader failure shows its own Chinese message and changes nothing', async () => {
    await openIntake();
    await page.click('#intake-clear');
    await page.waitForSelector('#reader-read');
    await page.fill('#form-legal_rep_name', '手工录入');
    const failuresAndTexts = [
      ['no_reader', '未检测到身份证读卡器'], ['no_card', '读卡器上没有身份证'], ['read_failed', '读卡失败'], ['offline', '未连接读卡服务']];
    for (const [failure, text] of failuresAndTexts) {
      await reader({ failure });
      await page.click('#reader-read');
      await page.waitForSelector(`#reader-status.error >> text=${text}`);
      check(true, `${failure}: "${text}…"`);
      check((await page.inputValue('#form-legal_rep_name')) === '手工录入' && (await page.inputValue('#form-legal_rep_id')) === '',
        `${failure}: the form is unchanged`);
      if (failure === 'no_card') await shot('3-reader-no-card');
    }
    check((await page.textContent('#reader-status')).includes(`${simulator}/idreader`), 'no service: the message shows the address tried');
    // A garbled answer (not an ID number) fills nothing.
    await reader({ failure: '', card: { id_number: '33010619900307' } });
    await page.click('#reader-read');
    await page.waitForSelector('#reader-status.error >> text=读卡器返回的信息无法识别');
    check((await page.inputValue('#form-legal_rep_name')) === '手工录入' && (await page.inputValue('#form-legal_rep_id')) === '',
      'an answer without a valid ID number says so and fills nothing');
    await reader({ card: { id_number: readerCard.id_number } });
    // The reader's software does not know this console: the browser refuses its answer.
    await reader({ failure: '', origins: ['http://another-console.example'] });
    await page.click('#reader-read');
    await page.waitForSelector('#reader-status.error >> text=未连接读卡服务');
    check(true, 'a reader that does not allow the console\'s origin shows "未连接读卡服务"');
    await reader({ origins: [base] });
    await page.click('#reader-read');
    await page.waitForSelector('#reader-status.ok');
    check(true, 'the reader works again once it allows the console');
  });

  // Three cases: one in correction, one refused at intake, one accepted and carried to delivery.
  const correctionCase = await startCase();
  await act(clerk, 'POST', `/api/cases/${correctionCase}/materials/id_card/elicense`, {});
  await upload(correctionCase, 'articles', '章程.pdf');
  await act(clerk, 'POST', `/api/cases/${correctionCase}/materials/articles/verify`, { accept: false, reason: '章程未经全体股东签字' });
  await act(clerk, 'POST', `/api/cases/${correctionCase}/items/registration/events/request_correction`, { fields: { reason: '请补齐股东签字的章程和租赁合同' } });
  const refusedCase = await startCase();
  await act(clerk, 'POST', `/api/cases/${refusedCase}/items/registration/events/refuse_intake`, { fields: { reason: '经营范围涉及前置审批，请先向省药监局申请' } });
  const acceptedCase = await startCase();
  await act(clerk, 'POST', `/api/cases/${acceptedCase}/materials/id_card/elicense`, {});
  await upload(acceptedCase, 'articles', '章程.pdf');
  await upload(acceptedCase, 'lease', '租赁合同.pdf');
  for (const m of ['articles', 'lease']) await act(clerk, 'POST', `/api/cases/${acceptedCase}/materials/${m}/verify`, { accept: true });

  const caseUrl = (id) => `${base}/#/case/${encodeURIComponent(id)}`;
  // Going from one case's page to another's only changes the hash: wait for the new case.
  const openCase = async (id) => {
    await page.goto(caseUrl(id));
    await page.waitForFunction((caseId) => document.getElementById('case-status') && (document.querySelector('h1') || {}).textContent.startsWith(caseId), id);
  };
  const offered = async (id) => {
    await openCase(id);
    return page.$$eval('#notices a', (links) => links.map((a) => a.id.replace(/^notice-|-link$/g, '')));
  };
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

  // Opens a notice from the case page, prints it (print media, a PDF) and answers its text.
  const printNotice = async (id, kind, name) => {
    await openCase(id);
    await page.click(`#notice-${kind}-link`);
    await page.waitForSelector(`#notice-${kind}`);
    await shot(`${name}-screen`);
    const before = await page.evaluate(() => window.__printed);
    await page.click('#notice-print');
    check((await page.evaluate(() => window.__printed)) === before + 1, `打印 opens the browser's printing of the ${kind} notice`);
    await page.emulateMedia({ media: 'print' });
    check(!(await page.isVisible('#top')) && !(await page.isVisible('.notice-toolbar')), 'printed: no navigation, no buttons');
    const colours = await page.$eval(`#notice-${kind}`, (e) => [getComputedStyle(e).color, getComputedStyle(document.body).backgroundColor]);
    check(colours[0] === 'rgb(0, 0, 0)' && ['rgb(255, 255, 255)', 'rgba(0, 0, 0, 0)'].includes(colours[1]), `printed: black on white (${colours.join(', ')})`);
    await page.setViewportSize({ width: 794, height: 1123 });  // A4 at 96 dpi
    await shot(`${name}-print`);
    try {
      const pdf = await page.pdf({ format: 'A4', printBackground: false, preferCSSPageSize: true });
      writeFileSync(path.join(screenshots, `notices-${name}.pdf`), pdf);
      const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) || []).length;
      check(pdf.subarray(0, 5).toString() === '%PDF-' && pages === 1, `the ${kind} notice prints as a one-page A4 PDF (${pdf.length} bytes, ${pages} page)`);
    } catch (error) {
      console.log(`# page.pdf() is not available with this Chromium (${error.message.split('\n')[0]}); the print screenshot stands`);
    }
    await page.emulateMedia({ media: 'screen' });
    if (kind === 'correction') {
      for (const width of [768, 390]) {
        await page.setViewportSize({ width, height: 900 });
        await shot(`${name}-${width}`);
        check(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), `at ${width} px the notice fits the screen`);
      }
    }
    await page.setViewportSize({ width: 1280, height: 900 });
    return page.textContent(`#notice-${kind}`);
  };
  const common = (text, id, kind) => {
    check(text.includes(id) && text.includes('企业开办') && text.includes(centre), `${kind}: the case number, the bundle's title and the centre's name`);
    check(text.includes('330*') || /3\d\d\*+\d{2,4}/.test(text), `${kind}: the applicant, masked as the API gives it`);
    check(!text.includes(readerCard.id_number), `${kind}: never the full ID number`);
    check(text.includes('设立登记') && text.includes('市场监管局'), `${kind}: the items with their departments`);
    check(/\d{4}年\d{1,2}月\d{1,2}日/.test(text), `${kind}: dated`);
    check(!/null|undefined|notice_/.test(text), `${kind}: no null, no text keys`);
  };

  await step('a new case: no notice yet', async () => {
    const id = await startCase();
    check(same(await offered(id), []), 'nothing is offered before acceptance, correction or refusal');
    check(!(await page.$('#notices')), 'no notices section');
  });

  await step('一次性补正告知书: offered while an item is in correction, lists every material with its reason', async () => {
    check(same(await offered(correctionCase), ['correction']), 'only the correction notice is offered (the case was never accepted)');
    const text = await printNotice(correctionCase, 'correction', '4-correction');
    common(text, correctionCase, 'correction');
    check(text.includes('一次性补正告知书') && text.includes('请补齐股东签字的章程和租赁合同'), 'the reason given with the correction');
    const rows = await page.$$eval('#notice-materials tbody tr', (trs) => trs.map((tr) => [tr.dataset.material, tr.textContent]));
    check(same(rows.map(([m]) => m), ['articles', 'lease']), `every material to correct: ${rows.map(([m]) => m).join(', ')} (not the fetched e-license, not the license the department issues)`);
    check(rows[0][1].includes('章程未经全体股东签字') && rows[1][1].includes('未提交'), 'each with its reason: the refusal\'s note, or not submitted');
    check(rows[1][1].includes('PDF、JPG'), 'what to bring: the accepted file formats');
    check(text.includes('暂停计时') && text.includes('第三十二条'), 'the deadline rules: the clock pauses, told once (行政许可法第三十二条)');
    check(text.includes('补正期间暂停计时'), 'the item in correction shows its paused deadline');
  });

  await step('不予受理通知书: offered when intake was refused, with the reason; no completion notice', async () => {
    check(same(await offered(refusedCase), ['refusal']), 'only the refusal notice is offered (the case ended without a result)');
    const text = await printNotice(refusedCase, 'refusal', '5-refusal');
    common(text, refusedCase, 'refusal');
    check(text.includes('不予受理通知书') && text.includes('经营范围涉及前置审批，请先向省药监局申请'), 'the reason given');
    check(text.includes('行政复议'), 'how to appeal');
  });

  await step('受理通知书: offered once accepted, with each item\'s department and promised deadline', async () => {
    await act(clerk, 'POST', `/api/cases/${acceptedCase}/items/registration/events/accept`, {});
    check(same(await offered(acceptedCase), ['acceptance']), 'only the acceptance notice is offered while the case runs');
    const text = await printNotice(acceptedCase, 'acceptance', '6-acceptance');
    common(text, acceptedCase, 'acceptance');
    const view = await (await clerk('GET', `/api/cases/${acceptedCase}`)).json();
    const registration = view.items.find((i) => i.item === 'registration');
    const written = (at) => at.replace(/^(\d{4})-(\d{2})-(\d{2})/, (_, y, m, d) => `${y}年${Number(m)}月${Number(d)}日`);
    check(text.includes(written(registration.due)) && text.includes(written(view.deadline_due)),
      `the promised deadlines: the item's ${written(registration.due)}, the case's ${written(view.deadline_due)}`);
    check(text.includes('刻章') && text.includes('公安局') && text.includes('前置事项办结后开始计时'), 'the item that waits for another says when its clock starts');
    check(text.includes('予以受理'), 'it says the application is accepted');
    check((await page.textContent('#notice-follow')).includes(acceptedCase), 'the follow box names the case number too (for asking at the window)');
    // The QR code takes the applicant to the case's page in the applicant channel: read it back
    // from the rendered notice as a phone would (zbarimg, from Debian's zbar-tools).
    const followUrl = await page.getAttribute('#notice-follow', 'data-url');
    check(followUrl === `${base}/m/cases/${acceptedCase}`, `the follow address is the applicant channel's case page: ${followUrl}`);
    const codeShot = path.join(screenshots, 'notices-6-follow-code.png');
    await page.locator('#notice-follow-code').screenshot({ path: codeShot });
    const scanned = execFileSync('zbarimg', ['--raw', '-q', codeShot], { encoding: 'utf8' }).trim();
    check(scanned === followUrl, `the printed QR code scans as ${scanned}`);
    await page.click('#language');
    await page.waitForSelector('#notice-print >> text=Print');
    const toolbar = await page.textContent('.notice-toolbar');
    check(!/notice_|print_hint/.test(toolbar) && (await page.textContent('#notice-acceptance')).includes('予以受理'),
      `in English the toolbar speaks English ("${toolbar}") and the notice stays an official Chinese document`);
    await page.click('#language');
    await page.waitForSelector('#notice-print >> text=打印');
    await page.goto(`${caseUrl(acceptedCase)}/notice/completion`);
    await page.waitForSelector('#notice-not-applicable');
    check(!(await page.$('#notice-print')), 'a notice that does not apply (completion of a running case) cannot be printed by its address');
  });

  await step('出件/办结通知: offered once complete, with the documents issued and how they are delivered', async () => {
    await act(market, 'POST', `/api/cases/${acceptedCase}/items/registration/events/approve`, {});
    const calls = await (await clerk('GET', `/api/cases/${acceptedCase}/calls`)).json();
    const call = calls.calls.find((c) => c.department === 'market');
    const receipt = await fetch(`${base}/api/receipts`, { method: 'POST', headers: { Authorization: `Bearer ${marketToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ request_id: call.idempotency_key, case: acceptedCase, item: 'registration', status: 'APPROVED',
        documents: [{ material: 'license', file: '营业执照.ofd', content_base64: Buffer.from('营业执照').toString('base64') }] }) });
    check(receipt.status === 200, 'the market registry issues the business licence');
    await act(clerk, 'POST', `/api/cases/${acceptedCase}/items/seal/events/accept`, {});
    await act(police, 'POST', `/api/cases/${acceptedCase}/items/seal/events/approve`, {});
    check(same(await offered(acceptedCase), ['acceptance', 'completion']), 'complete: the acceptance and the completion notices');
    const licenseStatus = await page.textContent('#material-license td:nth-child(2)');
    check(!/[A-Za-z]/.test(licenseStatus), `the issued licence's status is Chinese ("${licenseStatus.trim()}"), not the server's English note`);
    await page.$eval('#notices', (e) => e.scrollIntoView());
    await page.screenshot({ path: path.join(screenshots, 'notices-7-case-page.png') });
    let text = await printNotice(acceptedCase, 'completion', '7-completion');
    common(text, acceptedCase, 'completion');
    check((await page.textContent('#notice-documents')).includes('营业执照'), 'the document issued: 营业执照');
    check((await page.textContent('#notice-delivery')).includes('窗口领取'), 'not delivered yet: where to collect it');
    await act(clerk, 'POST', `/api/cases/${acceptedCase}/deliver`, { channel: 'mail' });
    check(same(await offered(acceptedCase), ['acceptance', 'completion']), 'delivered: still both');
    text = await printNotice(acceptedCase, 'completion', '8-delivered');
    check((await page.textContent('#notice-delivery')).includes('邮寄'), 'delivered: how (邮寄) and when');
  });

  await step('a withdrawn case offers no notice', async () => {
    const id = await startCase();
    await act(clerk, 'POST', `/api/cases/${id}/withdraw`, { reason: '申请人撤回' });
    check(same(await offered(id), []), 'nothing offered');
  });

  await step('no script errors', async () => {
    check(pageErrors.length === 0, `no script errors in the page ${pageErrors.join('; ')}`);
  });
} catch (error) {
  failures.push('set-up');
  console.error(`not ok - ${error.stack || error}`);
} finally {
  if (browser) await browser.close();
  if (service) {
    const code = await stopService(service);
    if (code !== 0) failures.push(`the server exited with ${code} after SIGTERM`);
  }
}
if (failures.length) console.error(`FAILED: ${failures.join('; ')}`);
process.exit(failures.length ? 1 : 0);
