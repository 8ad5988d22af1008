// Walks of real bundles (workflows/) through the applicant channel, in headless Chromium, as
// issue 15's "Done when" asks:
//   1. on a phone (390×844) a mother logs in at the identity platform *in the browser* (the
//      simulator's OpenID Connect provider) and applies for 新生儿出生一件事; the window clerk and
//      the hospital's reviewer act in the clerk console; she chooses pick-up, downloads the
//      birth certificate and rates;
//   2. on a phone, an agent logs in by SMS code, then by real name, acts for 杭州小馆餐饮管理有限公司
//      and applies for 开办餐饮店一件事 (a typed situation answer: the floor area); the market
//      reviewer asks for a correction in the console, the agent answers it on the phone, the
//      reviewer approves, the agent downloads the food permit and rates;
//   3. at a kiosk (1080×1920) a person logs in with the card reader simulator (a read signed by
//      the registered device key), applies, prints the receipt; the kiosk warns after a while
//      without a touch, then wipes back to the start screen; a forged read is refused.
// Each page, the clerk console's too, is photographed (<screenshot folder>/walk-NN-*.png) and
// audited with axe-core (no serious or critical violation); the applicant's pages are also
// read as an applicant would: Chinese only, no raw ids or "null", nothing cut off at 390 px.
//
//   node applicant_walk_test.mjs <path to onevisit> <screenshot folder> <path to onevisit-deptsim>
//
// Exit 0: passed; 1: failed; 77: skipped because no Chromium is installed (ctest SKIP).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { accessibilityViolations, apiSession, freePort, launchChromium, skipWithoutChromium, startService, stopService, watchPage } from './harness.mjs';

const [binary, screenshots, simulatorBinary] = process.argv.slice(2);
skipWithoutChromium();
const { chromium } = await import('playwright-core');
mkdirSync(screenshots, { recursive: true });
const workflows = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../workflows');
const started = Date.now();

let failed = false;
function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
  console.log(`ok - ${message}`);
}
const pdf = (name, text) => ({ name, mimeType: 'application/pdf', buffer: Buffer.from(`%PDF-1.4\n% ${text}\n%%EOF\n`) });

// The people: the identity platform's persons and the card on the kiosk's reader.
const mother = { subject: 'zj-000002', name: '李芳', id_number: '330106199208150026' };
const agent = { subject: 'zj-000001', name: '王小明', id_number: '330106199003070014' };  // agent of the restaurant company
const kioskCard = { name: '赵敏', id_number: '330106198812031520', sex: '女' };
const agentPhone = '13812345678';
const company = '91350100M000100Y43';

// What an applicant must never read: developer words, ids of the workflow, whole numbers.
// Any Latin word but the file formats a material names (PDF、JPG) is one.
const rawWords = /(?<![.\w])(?!(?:PDF|JPG|JPEG|PNG|OFD)\b)[A-Za-z][A-Za-z_-]+\b/;

let service;
let browser;
try {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // The identity platform's client secret, as the service reads it from its environment.
  process.env.ONEVISIT_WALK_OIDC_SECRET = 'onevisit-simulated-oidc-client-secret';
  service = await startService({
    binary, simulatorBinary, workflows, listen: `127.0.0.1:${port}`,
    simulatorArgs: ['--id-reader-origin', base],
    systems: ['market_registry', 'hospital_his'],
    config: (sim) => `[systems.notify]\nkind = "sms"\nurl = "http://127.0.0.1:${sim}/sms"\n` +
      `[sms]\nurl = "http://127.0.0.1:${sim}/sms"\nsign = "政务服务中心"\n` +
      `[oidc]\nissuer = "https://id.example.gov.cn"\nauthorize_url = "http://127.0.0.1:${sim}/oidc/authorize"\n` +
      `token_url = "http://127.0.0.1:${sim}/oidc/token"\njwks_url = "http://127.0.0.1:${sim}/oidc/jwks"\n` +
      `client_id = "onevisit"\nclient_secret_env = "ONEVISIT_WALK_OIDC_SECRET"\n` +
      `redirect_uri = "${base}/api/applicant/oidc/callback"\n`,
  });
  const simulator = `http://127.0.0.1:${service.simulatorPort}`;
  const simulate = async (route, body) => {
    const r = await fetch(`${simulator}${route}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (r.status !== 200) throw new Error(`the simulator refused ${route}: ${r.status}`);
  };
  const admin = await apiSession(base, 'admin', service.password);
  const staff = [
    { name: 'wang', display_name: '王窗口', role: 'window_clerk', password: 'window-clerk-1' },
    { name: 'li', display_name: '李市监', role: 'reviewer', department: 'market', password: 'market-reviewer-1' },
    { name: 'chen', display_name: '陈医院', role: 'reviewer', department: 'hospital', password: 'hospital-reviewer-1' },
  ];
  for (const user of staff) check((await admin('POST', '/api/users', user)).status === 201, `the admin creates ${user.display_name}`);
  // The kiosk: its agent shows the device's public key at installation; the admin registers it.
  const device = await (await fetch(`${simulator}/idreader/device`)).json();
  check((await admin('POST', '/api/kiosks', { kiosk: device.kiosk, title: '西湖区政务服务中心一楼大厅', public_key: device.public_key })).status === 201,
    'the admin registers the kiosk with its device key');

  browser = await launchChromium(chromium);
  const pageErrors = [];
  let shots = 0;
  const snap = async (page, name) => {
    await page.screenshot({ path: path.join(screenshots, `walk-${String(++shots).padStart(2, '0')}-${name}.png`), fullPage: true });
    const violations = await accessibilityViolations(page);
    check(violations.length === 0, `axe: “${name}” has no serious or critical violation${violations.length ? `:\n  ${violations.join('\n  ')}` : ''}`);
  };
  // Read as the applicant reads it: Chinese, no raw ids, no whole ID numbers, nothing cut off.
  const readsWell = async (page, where, width) => {
    const text = await page.evaluate(() => document.body.innerText);
    const raw = text.match(rawWords);
    check(!raw, `${where}: no raw ids or developer words${raw ? ` (found ${JSON.stringify(text.slice(Math.max(0, raw.index - 30), raw.index + 30))})` : ''}`);
    check(!/\d{17}[\dX]/.test(text), `${where}: no whole ID number on the screen`);
    const overflow = await page.evaluate((w) => {
      const wide = document.documentElement.scrollWidth;
      const cut = [...document.querySelectorAll('main *')].filter((e) => e.getBoundingClientRect().right > w + 1 && getComputedStyle(e).position !== 'absolute').map((e) => e.id || e.className || e.tagName);
      return { wide, cut: cut.slice(0, 3) };
    }, width);
    check(overflow.wide <= width && overflow.cut.length === 0, `${where}: fits ${width} px (${overflow.wide}${overflow.cut.length ? `; sticking out: ${overflow.cut.join(', ')}` : ''})`);
  };
  const phoneContext = () => browser.newContext({ locale: 'zh-CN', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const newPage = async (context) => {
    const page = await context.newPage();
    page.setDefaultTimeout(20000);
    watchPage(page, pageErrors);
    return page;
  };

  // The clerk console: one desk per person.
  const desk = async (name) => {
    const user = staff.find((u) => u.name === name);
    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
    const page = await newPage(context);
    await page.goto(`${base}/#/login`);
    await page.fill('#login-name', user.name);
    await page.fill('#login-password', user.password);
    await page.press('#login-password', 'Enter');
    await page.waitForSelector(`#whoami >> text=${user.display_name}`);
    return page;
  };
  const clerk = await desk('wang');
  const itemIn = (page, item, state) => page.waitForSelector(`#item-${item} .item-state[data-state="${state}"]`, { timeout: 30000 });
  const openCase = async (page, id) => {
    await page.goto(`${base}/#/case/${id}`);
    await page.waitForSelector('#items');
  };

  // Answers the situation questions by their titles, one at a time, until the form shows.
  const answerQuestions = async (page, answers) => {
    for (let i = 0; i < 12; ++i) {
      await page.waitForSelector('#question-title, #field-mother_name, #field-company_name');
      if (!(await page.$('#question-title'))) return;
      const title = (await page.textContent('#question-title')).trim();
      const answer = Object.entries(answers).find(([t]) => title.includes(t));
      if (!answer) throw new Error(`no answer for the question “${title}”`);
      if (await page.$('#answer-input')) {
        await page.fill('#answer-input', answer[1]);
        await page.click('#answer-next');
      } else {
        await page.click(`.answer[data-value="${answer[1]}"]`);
      }
      await page.waitForFunction((t) => document.querySelector('#question-title')?.textContent.trim() !== t, title);
    }
  };
  // The results the departments issued: each download link answers a document.
  const downloads = async (page, where) => {
    const links = await page.$$eval('main a[href*="/materials/"]', (as) => as.map((a) => a.getAttribute('href')));
    check(links.length > 0, `${where}: the results can be downloaded (${links.length})`);
    for (const link of links) {
      const r = await page.request.get(`${base}${link}`);
      check(r.status() === 200 && (await r.body()).length > 0, `${where}: ${decodeURIComponent(link.split('/').pop())} downloads`);
    }
  };
  const waitForCaseText = async (page, id, text, timeout = 30000) => {
    for (const until = Date.now() + timeout; Date.now() < until;) {
      await page.goto(`${base}/m/cases/${id}`);
      await page.waitForSelector('#case-status');
      if ((await page.textContent('main')).includes(text)) return;
      await page.waitForTimeout(400);
    }
    throw new Error(`case ${id} never showed “${text}”`);
  };
  const rate = async (page, where) => {
    await page.check('.rate-level[value="5"]');
    await page.fill('#rating-comment', '网上办理很方便');
    await page.click('#submit-rating');
    await page.waitForSelector('text=您的评价');
    await snap(page, `${where}-rated`);
    await readsWell(page, `${where}: the rated case`, 390);
  };

  // ---- 1. The mother, on her phone, logged in at the identity platform in the browser.
  console.log('# walk 1: 新生儿出生一件事 on a phone, real-name login at the identity platform');
  await simulate('/oidc/control', { person: mother });
  const motherContext = await phoneContext();
  const phone = await newPage(motherContext);
  await phone.goto(`${base}/m/`);
  await phone.waitForSelector('#oidc-login');
  await snap(phone, 'phone-login');
  await readsWell(phone, 'the login page', 390);
  await phone.click('#oidc-login');
  await phone.waitForSelector('.apply');
  check((await phone.textContent('#whoami')).includes('李芳'), 'back from the identity platform, the page greets her by her verified name');
  await phone.fill('#search', '出生');
  await phone.waitForSelector('.apply[data-bundle="newborn"]');
  await snap(phone, 'phone-bundles');
  await readsWell(phone, 'the bundle list', 390);
  await phone.click('.apply[data-bundle="newborn"]');
  await phone.waitForSelector('#question-title');
  await snap(phone, 'phone-question');
  await readsWell(phone, 'a situation question', 390);
  await answerQuestions(phone, { 父母已登记结婚: 'true', 父亲为本市户籍: 'false', 母亲为本市户籍: 'false', 参加本市: 'true', 分娩费用: 'true', 科学育儿: 'false' });
  await phone.waitForSelector('#field-baby_name');
  check((await phone.inputValue('#field-mother_name')) === '李芳', 'her verified name fills the mother\'s name');
  check((await phone.inputValue('#field-mother_id')).includes('*'), 'her ID number is pre-filled, shown masked');
  const birthDay = new Date(Date.now() - 10 * 86400000).toISOString().slice(0, 10);
  await phone.fill('#field-baby_name', '王小宝');
  await phone.selectOption('#field-baby_gender', 'female');
  await phone.fill('#field-baby_birth_date', birthDay);
  await phone.fill('#field-mother_phone', '13900139000');
  await phone.fill('#field-father_name', '王大明');
  await phone.fill('#field-father_id', '330106199003070014');
  await phone.selectOption('#field-hukou_with', 'mother');
  await phone.fill('#field-home_address', '浙江省杭州市西湖区文三路100号');
  await phone.dispatchEvent('#field-home_address', 'change');
  await snap(phone, 'phone-form');
  await readsWell(phone, 'the one form', 390);
  await phone.click('#submit-application');
  await phone.waitForURL(/\/m\/cases\/\d{8}-\d{4}$/);
  const newbornCase = phone.url().split('/').pop();
  await phone.waitForSelector('#case-status');
  check((await phone.textContent('main')).includes('已自动获取（电子证照）'), 'the parents\' ID cards were fetched from the e-license library');
  // The library's copies (the father's card among them) are listed, not offered for download.
  check((await phone.$$eval('main a[href*="/materials/"]', (as) => as.map((a) => a.getAttribute('href'))))
    .every((href) => !/id_card/.test(href)), 'the fetched ID cards are not offered for download');
  await snap(phone, 'phone-submitted');
  await readsWell(phone, 'the new case', 390);

  // The window clerk accepts in the console; the hospital's reviewer approves.
  await openCase(clerk, newbornCase);
  await clerk.click('#accept-all');
  await itemIn(clerk, 'birth_cert', 'accepted');
  await snap(clerk, 'console-newborn-accepted');
  const hospital = await desk('chen');
  await openCase(hospital, newbornCase);
  await hospital.click('#event-birth_cert-approve');
  await itemIn(hospital, 'birth_cert', 'approved');
  await snap(hospital, 'console-newborn-approved');
  await hospital.context().close();
  // The results: the department's documents arrive; she chooses pick-up and downloads them.
  await waitForCaseText(phone, newbornCase, '领取结果');
  await snap(phone, 'phone-results');
  await readsWell(phone, 'the results', 390);
  await downloads(phone, 'the newborn case');
  await phone.click('#submit-delivery');
  await phone.waitForSelector('#delivery-chosen');
  await openCase(clerk, newbornCase);
  await clerk.click('#deliver');
  await clerk.waitForSelector('#case-status >> text=已出件');
  await waitForCaseText(phone, newbornCase, '服务评价');
  await rate(phone, 'phone-newborn');
  await motherContext.close();

  // ---- 2. The company's agent: SMS code, then real name, then the company.
  console.log('# walk 2: 开办餐饮店一件事 for a company, SMS login, a correction round');
  await simulate('/oidc/control', { person: agent });
  const agentContext = await phoneContext();
  const shop = await newPage(agentContext);
  await shop.goto(`${base}/m/`);
  await shop.waitForSelector('#phone');
  await shop.fill('#phone', agentPhone);
  await shop.click('#send-code');
  await shop.waitForSelector('#login-message >> text=验证码已发送');
  const { messages } = await (await fetch(`${simulator}/sms/messages?phone=${agentPhone}`)).json();
  const code = messages.map((m) => m.text.match(/验证码是 (\d{6})/)).filter(Boolean).pop()[1];
  await shop.fill('#code', code);
  await shop.click('#login-submit');
  await shop.waitForSelector('.apply');
  await shop.click('#tab-company');
  await shop.waitForSelector('#company-box >> text=实名登录');
  await shop.click('#company-box #oidc-login');
  await shop.waitForSelector('#company-uscc');
  await shop.fill('#company-uscc', company);
  await shop.click('#company-choose');
  await shop.waitForSelector('#company-box >> text=正在代表');
  check((await shop.textContent('#company-box')).includes('授权代理人'), 'the agent acts for the company as its authorised agent');
  await shop.fill('#search', '餐饮');
  await shop.waitForSelector('.apply[data-bundle="restaurant_opening"]');
  await snap(shop, 'company-bundles');
  await readsWell(shop, 'the company\'s bundles', 390);
  await shop.click('.apply[data-bundle="restaurant_opening"]');
  await shop.waitForSelector('#question-title');
  // The floor area is typed, not chosen: a wrong answer is explained, a number goes on.
  await shop.fill('#answer-input', '四十');
  await shop.click('#answer-next');
  await shop.waitForSelector('#answer-message >> text=数字');
  await snap(shop, 'company-question-typed');
  await readsWell(shop, 'a typed situation answer', 390);
  await answerQuestions(shop, { 建筑面积: '40', 户外招牌: 'false', 卷烟零售: 'false' });
  await shop.waitForSelector('#field-shop_name');
  check((await shop.inputValue('#field-company_name')) === '杭州小馆餐饮管理有限公司', 'the company\'s registered name fills the form');
  check(await shop.$eval('#field-legal_rep_id', (e) => e.readOnly), 'the registered legal representative is filled and cannot be changed');
  await shop.fill('#field-shop_name', '小馆');
  await shop.fill('#field-business_address', '浙江省杭州市西湖区文三路1号一楼');
  await shop.dispatchEvent('#field-business_address', 'change');
  await snap(shop, 'company-form');
  await readsWell(shop, 'the company\'s form', 390);
  await shop.click('#submit-application');
  const refusal = await Promise.race([shop.waitForURL(/\/m\/cases\/\d{8}-\d{4}$/).then(() => ''),
    shop.waitForSelector('#submit-message .error').then(async () => shop.textContent('#submit-message'))]);
  check(refusal === '', `the company's application is taken${refusal ? ` (refused: ${refusal})` : ''}`);
  const shopCase = shop.url().split('/').pop();
  await shop.waitForSelector('#case-status');
  for (const [material, name] of [['premises_proof', '租赁合同'], ['food_equipment_layout', '平面图'], ['food_safety_rules', '食品安全管理制度']]) {
    await shop.setInputFiles(`#upload-${material}`, pdf(`${name}.pdf`, name));
    await shop.waitForSelector(`#upload-message >> text=${name}.pdf 已上传`);
  }
  await snap(shop, 'company-uploaded');
  await readsWell(shop, 'the uploads', 390);

  // The window accepts; the market reviewer refuses the plan and asks for a correction.
  await openCase(clerk, shopCase);
  await clerk.click('#accept-all');
  await itemIn(clerk, 'food_license', 'accepted');
  const market = await desk('li');
  await openCase(market, shopCase);
  await market.click('#refuse-food_equipment_layout');
  await market.fill('#dialog-reason', '平面图不清晰，请提供标明设备位置的清晰图纸');
  await market.click('#dialog-confirm');
  await market.waitForSelector('#material-food_equipment_layout >> text=已退回');
  await market.click('#event-food_license-request_correction');
  await market.fill('#dialog-reason', '请补正经营场所平面图');
  await market.click('#dialog-confirm');
  await itemIn(market, 'food_license', 'correcting');
  // The agent answers the correction notice on the phone.
  await waitForCaseText(shop, shopCase, '需要您办理');
  check((await shop.textContent('main')).includes('平面图不清晰'), 'the notice says what to correct and why');
  await snap(shop, 'company-correction');
  await readsWell(shop, 'the correction notice', 390);
  await shop.setInputFiles('#upload-food_equipment_layout', pdf('平面图-补正.pdf', '清晰的平面图'));
  await shop.waitForSelector('#upload-message >> text=已上传');
  await shop.click('#submit-correction');
  const correctionRefused = await Promise.race([shop.waitForSelector('text=需要您办理', { state: 'detached' }).then(() => ''),
    shop.waitForSelector('#correction-message .error').then(async () => shop.textContent('#correction-message'))]);
  check(correctionRefused === '', `the correction is taken${correctionRefused ? ` (refused: ${correctionRefused})` : ''}`);
  await snap(shop, 'company-corrected');
  // The window accepts it again, the market approves the food licence, then the industry permit.
  await itemIn(clerk, 'food_license', 'submitted');
  await clerk.click('#accept-all');
  await itemIn(clerk, 'food_license', 'accepted');
  await itemIn(market, 'food_license', 'accepted');
  await market.click('#event-food_license-approve');
  await itemIn(market, 'food_license', 'approved');
  await clerk.waitForSelector('#accept-all', { timeout: 30000 });
  await clerk.click('#accept-all');
  await itemIn(clerk, 'integrated_permit', 'accepted');
  await itemIn(market, 'integrated_permit', 'accepted');
  await market.click('#event-integrated_permit-approve');
  await itemIn(market, 'integrated_permit', 'approved');
  await snap(market, 'console-restaurant-approved');
  await market.context().close();
  await waitForCaseText(shop, shopCase, '领取结果');
  await snap(shop, 'company-results');
  await readsWell(shop, 'the company\'s results', 390);
  await downloads(shop, 'the restaurant case');
  await shop.click('#submit-delivery');
  await shop.waitForSelector('#delivery-chosen');
  await openCase(clerk, shopCase);
  await clerk.click('#deliver');
  await clerk.waitForSelector('#case-status >> text=已出件');
  await waitForCaseText(shop, shopCase, '服务评价');
  await rate(shop, 'company-restaurant');
  await agentContext.close();

  // ---- 3. The kiosk: the card reader signs, the kiosk applies, prints, and forgets.
  console.log('# walk 3: at a kiosk, the ID card read and signed by the device');
  await simulate('/idreader/control', { card: kioskCard });
  const kioskContext = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1080, height: 1920 }, hasTouch: true });
  const kiosk = await newPage(kioskContext);
  await kiosk.clock.install();
  await kiosk.goto(`${base}/m/kiosk?device=${device.kiosk}&reader=${encodeURIComponent(`${simulator}/idreader`)}&idle=120&warn=30`);
  await kiosk.waitForSelector('#kiosk-read');
  await snap(kiosk, 'kiosk-start');
  await readsWell(kiosk, 'the kiosk\'s start screen', 1080);
  const target = await kiosk.$eval('#kiosk-read', (b) => b.getBoundingClientRect());
  check(target.height >= 88 && target.width >= 300, `the read button is a large touch target (${Math.round(target.width)}×${Math.round(target.height)})`);
  // A reader that signs with a key nobody registered opens nothing.
  await simulate('/idreader/control', { signing: 'forged' });
  await kiosk.tap('#kiosk-read');
  await kiosk.waitForSelector('#kiosk-message .error');
  check((await kiosk.textContent('#kiosk-message')).includes('校验未通过'), 'a forged card read is refused with a Chinese message');
  await snap(kiosk, 'kiosk-forged-read');
  await simulate('/idreader/control', { signing: '' });
  await kiosk.tap('#kiosk-read');
  await kiosk.waitForSelector('.apply');
  check((await kiosk.textContent('#whoami')).includes('赵敏'), 'the signed card read logs her in by name');
  await snap(kiosk, 'kiosk-bundles');
  await readsWell(kiosk, 'the kiosk\'s bundle list', 1080);
  await kiosk.tap('.apply[data-bundle="newborn"]');
  await answerQuestions(kiosk, { 父母已登记结婚: 'true', 父亲为本市户籍: 'false', 母亲为本市户籍: 'false', 参加本市: 'true', 分娩费用: 'true', 科学育儿: 'false' });
  await kiosk.waitForSelector('#field-baby_name');
  await kiosk.fill('#field-baby_name', '赵小宝');
  await kiosk.selectOption('#field-baby_gender', 'male');
  await kiosk.fill('#field-baby_birth_date', birthDay);
  await kiosk.fill('#field-mother_phone', '13700137000');
  await kiosk.fill('#field-father_name', '钱大明');
  await kiosk.fill('#field-father_id', '11010519491231002X');
  await kiosk.selectOption('#field-hukou_with', 'mother');
  await kiosk.fill('#field-home_address', '浙江省杭州市西湖区文三路200号');
  await kiosk.dispatchEvent('#field-home_address', 'change');
  await snap(kiosk, 'kiosk-form');
  await readsWell(kiosk, 'the kiosk\'s form', 1080);
  await kiosk.tap('#submit-application');
  await kiosk.waitForSelector('#receipt-qr svg');
  const kioskCase = (await kiosk.textContent('#receipt-case')).trim();
  check(/^\d{8}-\d{4}$/.test(kioskCase), `the receipt names the case ${kioskCase}`);
  check((await kiosk.textContent('#receipt-materials')).includes('母亲身份证'), 'the receipt lists the materials received');
  // Before acceptance the certificate's clock does not run yet: the receipt gives the bundle's
  // promise, not the day of the one item that is due already (it read 今天's date).
  const promise = (await kiosk.textContent('#receipt-promise')).trim();
  check(promise === '受理后 5 个工作日内', `the receipt says by when: ${promise}`);
  await snap(kiosk, 'kiosk-receipt');
  await readsWell(kiosk, 'the kiosk\'s receipt', 1080);
  // On paper: the receipt alone.
  await kiosk.emulateMedia({ media: 'print' });
  check(!(await kiosk.isVisible('header')) && !(await kiosk.isVisible('h1')) && (await kiosk.isVisible('#receipt')), 'printed, the page is the receipt alone');
  await snap(kiosk, 'kiosk-receipt-printed');
  await kiosk.emulateMedia({ media: 'screen' });
  const clerkApi = await apiSession(base, 'wang', 'window-clerk-1');
  const recorded = await (await clerkApi('GET', `/api/cases/${kioskCase}`)).json();
  check(recorded.channel === 'kiosk', 'the case is recorded on the kiosk channel');
  const figures = await (await admin('GET', '/api/report')).json();
  check(figures.overall.cases_by_channel.kiosk === 1, 'the supervisor\'s figures count the kiosk case');
  // Nobody touches the screen: a warning, which a touch dismisses; then the wipe.
  await kiosk.clock.fastForward(121000);
  await kiosk.waitForSelector('#kiosk-warning:not([hidden])');
  await snap(kiosk, 'kiosk-inactivity-warning');
  await kiosk.tap('#kiosk-stay');
  await kiosk.waitForSelector('#kiosk-warning', { state: 'hidden' });
  check(await kiosk.isVisible('#receipt'), 'a touch keeps her where she was');
  await kiosk.clock.fastForward(121000);
  await kiosk.waitForSelector('#kiosk-warning:not([hidden])');
  // The countdown ticks each second: run them all (fastForward fires a timer at most once).
  await kiosk.clock.runFor(31000);
  await kiosk.waitForSelector('#kiosk-read');
  const left = await kiosk.evaluate(async () => ({
    text: document.body.innerText,
    local: Object.keys(localStorage),
    session: sessionStorage.length,
    cookie: document.cookie,
    status: (await fetch('/api/applicant/session')).status,
  }));
  check(!left.text.includes('赵敏') && !left.text.includes(kioskCase), 'wiped: nothing of hers is on the screen');
  check(left.local.every((k) => k === 'ov_kiosk') && left.session === 0, `wiped: nothing of hers in storage (${left.local.join(', ')})`);
  check(left.status === 401 && !left.cookie.includes('ov_applicant_csrf='), 'wiped: her session has ended');
  await kiosk.goBack();
  await kiosk.waitForSelector('#kiosk-read');
  check(!(await kiosk.textContent('body')).includes(kioskCase), 'going back shows the start screen, not her case');
  await snap(kiosk, 'kiosk-wiped');
  await kioskContext.close();

  check(pageErrors.length === 0, `no script errors (${pageErrors.join('; ')})`);
  console.log(`# the walks took ${Math.round((Date.now() - started) / 1000)} s`);
} catch (error) {
  failed = true;
  console.error(`not ok - ${error.stack || error}`);
} finally {
  if (browser) await browser.close();
  if (service) await stopService(service);
}
process.exit(failed ? 1 : 0);
