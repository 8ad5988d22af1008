// The applicant's pages (/m/) in headless Chromium on a phone-sized viewport (390×844): an
// applicant logs in with an SMS code (read from the simulated gateway), applies for a bundle
// through the situation questions and the one form, uploads, answers a correction notice, and
// rates; a printed notice's QR address (/m/cases/{case}) asks for the login first and returns
// to the case. Clerks act through the API. Screenshots go to the folder given; every page
// photographed is audited with axe-core (no serious or critical violation).
//
//   node applicant_test.mjs <path to onevisit> <screenshot folder> <path to onevisit-deptsim>
//
// Exit 0: passed; 1: failed; 77: skipped because no Chromium is installed (ctest SKIP).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { accessibilityViolations, apiSession, launchChromium, skipWithoutChromium, startService, stopService, watchPage } from './harness.mjs';

const [binary, screenshots, simulatorBinary] = process.argv.slice(2);
skipWithoutChromium();
const { chromium } = await import('playwright-core');

const flow = `
lifecycle standard {
  state submitted "已提交" initial; state accepted "已受理"; state correcting "补正中" pauses_clock
  state approved "已办结" final; state rejected "不予许可" final failed
  on accept: submitted -> accepted by clerk when materials.complete do notify(applicant, "您的申请已受理")
  on request_correction: submitted, accepted -> correcting by clerk, reviewer requires reason do notify(applicant, "请按一次性补正告知书补正材料")
  on corrected: correcting -> accepted by applicant
  on approve: accepted -> approved by reviewer do notify(applicant, "您的申请已办结")
}
department health "卫生健康局" adapter health_system
material birth_proof "出生医学证明" upload pdf
bundle newborn "新生儿出生一件事" version 1 {
  promise 5 workdays; lifecycle standard
  material marriage "结婚证" upload pdf when married
  form {
    mother_name "母亲姓名": text required
    mother_id "母亲身份证号码": idcard required
    mother_phone "母亲手机号码": phone required
  }
  situation {
    married "父母已登记结婚": bool required default true
  }
  item birth "出生登记" by health { limit 5 workdays; needs birth_proof, marriage }
}
`;
const phone = '13800138000';
const pdf = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');

let service;
let browser;
let failed = false;
function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
  console.log(`ok - ${message}`);
}

try {
  mkdirSync(screenshots, { recursive: true });
  service = await startService({ binary, simulatorBinary, flow,
    config: (port) => `[systems.health_system]\nkind = "log"\n[systems.post]\nkind = "http"\nurl = "http://127.0.0.1:${port}/dept/post"\n[systems.notify]\nkind = "sms"\nurl = "http://127.0.0.1:${port}/sms"\n` +
                      `[sms]\nurl = "http://127.0.0.1:${port}/sms"\nsign = "政务服务中心"\n` });
  const { base } = service;
  const simulator = `http://127.0.0.1:${service.simulatorPort}`;
  const admin = await apiSession(base, 'admin', service.password);
  for (const user of [{ name: 'wang', display_name: '王窗口', role: 'window_clerk', password: 'window-clerk-1' },
                      { name: 'liu', display_name: '刘审核', role: 'reviewer', department: 'health', password: 'health-reviewer-1' }]) {
    check((await admin('POST', '/api/users', user)).status === 201, `the admin creates ${user.name}`);
  }
  const lastCode = async (number = phone) => {
    const { messages } = await (await fetch(`${simulator}/sms/messages?phone=${number}`)).json();
    const codes = messages.map((m) => m.text.match(/验证码是 (\d{6})/)).filter(Boolean);
    return codes.length ? codes[codes.length - 1][1] : '';
  };

  browser = await launchChromium(chromium);
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  const pageErrors = [];
  watchPage(page, pageErrors);
  let shot = 0;
  // Every page state the test photographs is audited by axe-core as well: no serious or
  // critical violation.
  const audit = async (on, name) => {
    const violations = await accessibilityViolations(on);
    check(violations.length === 0, `the axe audit of “${name}” finds no serious or critical violation${violations.length ? `:\n  ${violations.join('\n  ')}` : ''}`);
  };
  const snap = async (name, on = page) => {
    await on.screenshot({ path: path.join(screenshots, `applicant-${String(++shot).padStart(2, '0')}-${name}.png`), fullPage: true });
    await audit(on, name);
  };
  const fitsPhone = async (what) => {
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    check(width <= 390, `${what} fits 390 px (scroll width ${width})`);
    const text = await page.evaluate(() => document.body.innerText);
    check(!/\b(null|undefined|NaN)\b/.test(text), `${what} shows no null, undefined or NaN`);
  };
  const logIn = async (on = page, number = phone) => {
    await on.waitForSelector('#phone');
    await on.fill('#phone', number);
    await on.click('#send-code');
    await on.waitForSelector('#login-message >> text=验证码已发送');
    const code = await lastCode(number);
    check(/^\d{6}$/.test(code), 'the login code arrives by text message');
    await on.fill('#code', code);
    await on.click('#login-submit');
  };

  // 1. The portal asks for the login, then shows the bundles.
  await page.goto(`${base}/m/`);
  await page.waitForURL(/\/m\/login\?next=/);
  await snap('login');
  await fitsPhone('the login page');
  await logIn();
  await page.waitForSelector('.apply');
  check((await page.textContent('#whoami')).includes('138******00'), 'the header shows the masked number, never the whole one');
  await snap('bundles');
  await fitsPhone('the bundle list');
  // 适老化: large type and high contrast pass the audit too.
  await page.click('#large-type');
  await page.waitForSelector('body.large');
  await snap('bundles-large-type');
  await fitsPhone('the bundle list in large type');
  await page.click('#large-type');
  // Acting for a company needs the real-name login first: the page says so and links to it.
  await page.click('#tab-company');
  await page.waitForSelector('#company-box >> text=实名登录');
  check((await page.getAttribute('#oidc-login', 'href')).startsWith('/api/applicant/oidc/start?return_to='),
    'a company applicant logged in by SMS is sent to the identity platform first');
  await snap('company-needs-real-name');
  await page.click('#tab-individual');
  await page.waitForSelector('.apply[data-bundle="newborn"]');

  // 2. 情形引导, one question at a time, with the material list; then the one form.
  await page.click('.apply[data-bundle="newborn"]');
  await page.waitForSelector('#question-title >> text=父母已登记结婚');
  check((await page.textContent('#materials')).includes('结婚证'), 'the material list follows the answers (married by default: 结婚证)');
  await snap('question');
  await page.click('.answer[data-value="false"]');
  await page.waitForSelector('#field-mother_name');
  check(!(await page.textContent('#materials')).includes('结婚证'), 'answered “not married”, the 结婚证 leaves the list');
  await page.fill('#field-mother_name', '王小明');
  await page.fill('#field-mother_id', '330106199003070015');
  await page.waitForSelector('#check-mother_id >> text=校验不通过');
  check(true, 'a wrong ID number is caught as it is typed');
  await page.fill('#field-mother_id', '330106199003070014');
  // The mobile number proved by the SMS login fills the form's first mobile, masked, saying so.
  check(await page.inputValue('#field-mother_phone') === '138******00', 'the verified mobile number is pre-filled, masked');
  check((await page.textContent('#source-mother_phone')).includes('来自登录时验证的手机号码'), 'a pre-filled field says where it came from');
  await snap('form');
  await fitsPhone('the form');
  await page.click('#submit-application');
  await page.waitForURL(/\/m\/cases\/\d{8}-\d{4}$/);
  const caseId = page.url().split('/').pop();
  check(true, `the application is case ${caseId}`);
  await page.waitForSelector('#case-status');
  await page.setInputFiles('#upload-birth_proof', { name: '出生医学证明.pdf', mimeType: 'application/pdf', buffer: pdf });
  await page.waitForSelector('#upload-message >> text=已上传');
  await snap('case-uploaded');

  // 3. The clerk refuses the proof and asks for a correction; the applicant answers it.
  const clerk = await apiSession(base, 'wang', 'window-clerk-1');
  check((await clerk('POST', `/api/cases/${caseId}/materials/birth_proof/verify`, { accept: false, reason: '盖章不清晰' })).status === 200, 'the clerk refuses the blurred proof');
  check((await clerk('POST', `/api/cases/${caseId}/items/birth/events/request_correction`, { fields: { reason: '出生医学证明盖章不清晰' } })).status === 200,
    'the clerk sends the one-time correction notice');
  await page.reload();
  await page.waitForSelector('text=需要您办理');
  check((await page.textContent('main')).includes('盖章不清晰'), 'the case page says what to correct and why');
  await snap('correction-notice');
  await fitsPhone('the correction notice');
  await page.setInputFiles('#upload-birth_proof', { name: '出生医学证明（重新扫描）.pdf', mimeType: 'application/pdf', buffer: Buffer.concat([pdf, Buffer.from('% 2\n')]) });
  await page.waitForSelector('#upload-message >> text=已上传');
  await page.click('#submit-correction');
  // The case was 办理中 all along: wait for the page to drop what it asked for.
  await page.waitForSelector('text=需要您办理', { state: 'detached' });
  await page.waitForSelector('#case-status >> text=办理中');
  check(!(await page.textContent('main')).includes('需要您办理'), 'after the correction nothing more is asked of the applicant');
  await snap('corrected');

  // 4. The reviewer approves, the clerk delivers; the applicant rates (a bad rating needs a reason).
  check((await clerk('POST', `/api/cases/${caseId}/materials/birth_proof/verify`, { accept: true })).status === 200, 'the clerk accepts the new proof');
  const reviewer = await apiSession(base, 'liu', 'health-reviewer-1');
  check((await reviewer('POST', `/api/cases/${caseId}/items/birth/events/approve`, {})).status === 200, 'the reviewer approves');
  // The result: the applicant chooses delivery by post, with an address checked where it is typed.
  await page.reload();
  await page.waitForSelector('#delivery-box');
  await snap('delivery-choice');
  await page.check('.delivery-method[value="mail"]');
  await page.fill('#mail-recipient', '王小明');
  await page.fill('#mail-mobile', '1390013900');
  await page.fill('#mail-address', '浙江省杭州市西湖区文三路1号3幢201室');
  await page.click('#submit-delivery');
  await page.waitForSelector('#delivery-message >> text=11 位手机号码');
  check(true, 'a wrong mobile number for the post is caught under the fields');
  await page.fill('#mail-mobile', '13900139000');
  check((await page.textContent('#delivery-message')) === '', 'the message about the number goes once it is corrected');
  await snap('delivery-by-post');
  await page.click('#submit-delivery');
  await page.waitForSelector('#delivery-chosen >> text=邮寄送达');
  check((await page.textContent('#delivery-chosen')).includes('139******00'), 'the chosen delivery shows the mobile masked');
  await snap('delivery-chosen');
  await fitsPhone('the chosen delivery');
  let posted = null;
  for (let i = 0; i < 100 && !posted; ++i) {
    const stats = await (await fetch(`${simulator}/stats`)).json();
    posted = Object.entries(stats.payloads).find(([key]) => key.startsWith(`${caseId}/delivery/`));
    if (!posted) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  check(posted && posted[1].address === '浙江省杭州市西湖区文三路1号3幢201室', 'the post office received the order with the address, through the outbox');
  check((await clerk('POST', `/api/cases/${caseId}/deliver`, { channel: 'mail' })).status === 200, 'the clerk hands the parcel to the post');
  await page.reload();
  await page.waitForSelector('#submit-rating');
  await page.check('.rate-level[value="2"]');
  await page.click('#submit-rating');
  await page.waitForSelector('#rating-message >> text=差评请写明');
  check(true, 'a bad rating without a reason is refused with a Chinese message');
  await page.fill('#rating-comment', '排队时间太长');
  await snap('rating');
  await page.click('#submit-rating');
  await page.waitForSelector('text=您的评价');
  check((await page.textContent('main')).includes('整改'), 'a bad rating says a rectification follows');
  await snap('rated');
  await fitsPhone('the rated case');
  // The department answers the rectification; the applicant reads it on the case and by text.
  const rectified = '经核查，当日窗口人手不足；已在高峰时段增开窗口。';
  check((await reviewer('POST', `/api/cases/${caseId}/rectification`, { answer: rectified })).status === 200, 'the department answers the rectification');
  await page.reload();
  await page.waitForSelector('#rectification-answer');
  check((await page.textContent('#rectification-answer')).includes(rectified), 'the applicant reads the answer on the case');
  await snap('rectification-answered');
  await fitsPhone('the answered rectification');
  let answeredText = false;
  for (let i = 0; i < 50 && !answeredText; ++i) {
    const sent = await (await fetch(`${simulator}/sms/messages?phone=${phone}`)).json();
    answeredText = sent.messages.some((m) => m.text.includes('整改答复'));
    if (!answeredText) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  check(answeredText, 'the answer went out by text message');
  // Texts go out through the outbox, after the command's commit: on a busy machine the
  // dispatcher may not have delivered it yet, so look for it for a while.
  let texted = false;
  for (const started = Date.now(); !texted && Date.now() - started < 15000; await new Promise((r) => setTimeout(r, 200))) {
    const { messages } = await (await fetch(`${simulator}/sms/messages?phone=${phone}`)).json();
    texted = messages.some((m) => m.text.includes('补正'));
  }
  check(texted, 'the correction notice went out by text message');

  // 5. The QR code of a printed notice, scanned by someone else: log in first, back to the
  // case's address, which answers as if the case did not exist.
  const qr = await browser.newContext({ locale: 'zh-CN', viewport: { width: 390, height: 844 }, isMobile: true });
  const qrPage = await qr.newPage();
  qrPage.setDefaultTimeout(15000);
  watchPage(qrPage, pageErrors);
  await qrPage.goto(`${base}/m/cases/${caseId}`);
  await qrPage.waitForURL(new RegExp(`/m/login\\?next=%2Fm%2Fcases%2F${caseId}`));
  check(true, 'a QR address asks for the login first');
  await logIn(qrPage, '13900139000');
  await qrPage.waitForURL(new RegExp(`/m/cases/${caseId}$`));
  await qrPage.waitForSelector('text=没有找到这个办件');
  check((await qrPage.getAttribute('#back-to-cases', 'href')) === '/m/cases', 'the page not found leads back to 我的办件');
  check(true, 'after the login the QR address opens again; another applicant\'s case is not found');
  await snap('qr-other-applicant', qrPage);
  await qr.close();

  // 6. A case that answers slowly, left for 我的办件 before it has: the late case does not
  // cover the list asked for since (the console's navigation race, in the applicant pages).
  const navigate = (to) => page.evaluate((target) => {
    history.pushState({}, '', target);
    dispatchEvent(new PopStateEvent('popstate'));
  }, to);
  await page.route('**/api/applicant/cases/*', async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await route.continue().catch(() => {});
  });
  await navigate(`/m/cases/${caseId}`);
  await navigate('/m/cases');
  await page.waitForSelector('.case-card');
  await page.waitForTimeout(2500);  // the case's answer has come in by now
  await page.unroute('**/api/applicant/cases/*');
  check(!(await page.$('#case-status')), 'the late case did not cover 我的办件');
  check(await page.isVisible('.case-card'), 'my cases are still on the screen');

  // 7. 退出 on a phone (a shared computer too): the header offers it, the session ends on the
  // server, and what was the applicant's asks for a login again.
  check(await page.isVisible('#sign-out'), 'a signed-in applicant sees 退出 at 390 px');
  const header = await page.$eval('.top', (top) => ({ width: top.scrollWidth, shown: top.clientWidth }));
  check(header.width <= header.shown, `the header fits the phone's width (${header.width} of ${header.shown} px)`);
  // The network fails the first time: the page says so and the applicant stays signed in.
  await page.route('**/api/applicant/session', (route) => (route.request().method() === 'DELETE' ? route.abort() : route.continue()));
  await page.click('#sign-out');
  await page.waitForSelector('main p.error[role=alert]');
  check((await page.textContent('main p.error[role=alert]')).includes('退出没有成功'), 'a failed 退出 says so');
  check(await page.isVisible('#sign-out'), 'after a failed 退出 the applicant is still signed in');
  await page.unroute('**/api/applicant/session');
  await page.click('#sign-out');
  await page.waitForURL(/\/m\/login$/);
  const after = await page.evaluate(async () => (await fetch('/api/applicant/session', { credentials: 'same-origin' })).status);
  check(after === 401, `the session ended on the server (answered ${after})`);
  check(!(await page.isVisible('#sign-out')) && (await page.textContent('#whoami')) === '', 'the header no longer names anyone');
  await page.goto(`${base}/m/cases`);
  await page.waitForURL(/\/m\/login\?next=%2Fm%2Fcases$/);
  check(true, 'my cases ask for the login again');
  check(pageErrors.length === 0, `no script errors (${pageErrors.join('; ')})`);
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  if (browser) await browser.close();
  if (service) await stopService(service);
}
process.exit(failed ? 1 : 0);
