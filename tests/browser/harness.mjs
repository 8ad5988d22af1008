// What the browser tests share: a department simulator (the e-license library), `onevisit
// serve` on a fresh database with the given workflow, staff accounts made through the API,
// and headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core).
//
// ONEVISIT_CONSOLE_DIR, when set, serves the console from that folder (`--console`): run the
// tests against an older console to see them fail.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

/** The lifecycle, departments, materials and registration item the clerk-day and notices
 *  tests build their `startup` bundles on (each adds its own bundle). */
export const startupCatalog = `lifecycle standard {
  state submitted "已提交" initial; state accepted "已受理"; state correcting "补正中" pauses_clock
  state approved "已办结" final; state rejected "不予许可" final failed
  on accept: submitted -> accepted by clerk when materials.complete
  on request_correction: submitted, accepted -> correcting by clerk, reviewer requires reason
  on corrected: correcting -> accepted by applicant
  on approve: accepted -> approved by reviewer when materials.verified do call(dept.submit)
  on reject: accepted -> rejected by reviewer requires reason
  on refuse_intake: submitted -> rejected by clerk requires reason
  warn at 80%
}
department market "市场监管局" adapter market_registry
department police "公安局" adapter seal_system
material id_card "身份证" from elicense "居民身份证"
material articles "公司章程" upload pdf
material lease "租赁合同" upload pdf, jpg
material license "营业执照" produced_by registration
item registration "设立登记" by market { limit 5 workdays statutory 15 workdays; needs id_card, articles, lease; produces license }
`;

/**
 * Launches headless Chromium as every browser test does. `--disable-dev-shm-usage`: in a
 * container /dev/shm is often 64 MiB; two Chromiums taking full-page screenshots side by side
 * (ctest -j2) run out of it and a renderer dies, after which a page answers nothing and every
 * later step times out (seen on CI, reproduced here with /dev/shm remounted at 64 MiB).
 */
export async function launchChromium(chromium) {
  return chromium.launch({ executablePath: chromiumPath, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

/** Collects a page's script errors into `errors`, and says loudly when its renderer dies. */
export function watchPage(page, errors) {
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('crash', () => {
    errors.push('the page crashed');
    console.error('# the page crashed (its renderer died): the steps after this fail for that reason');
  });
}

/** Exits with 77 (ctest SKIP) when no Chromium is installed. */
export function skipWithoutChromium() {
  if (!existsSync(chromiumPath)) {
    console.log(`SKIP: no Chromium at ${chromiumPath} (bash scripts/setup.sh installs Debian's chromium)`);
    process.exit(77);
  }
}

/**
 * Starts the simulator and the server; `stop()` ends both and removes the folder.
 * `simulatorArgs` are added to the simulator's (e.g. `--id-reader` to play a card reader).
 * `workflows`: a folder to deploy instead of `flow` (e.g. the repository's workflows/);
 * `systems`: department systems the simulator plays over HTTP (it answers APPROVED with the
 * documents a call asks for), instead of leaving their calls parked. `config(simulatorPort)`:
 * more of the deployment configuration, given the simulator's port (e.g. [sms]). `listen`: the
 * server's address (default any free port; freePort() gives one to know it beforehand, as the
 * identity platform's redirect_uri must).
 */
export async function startService({ binary, simulatorBinary, flow, simulatorArgs = [], workflows = null, systems = [], config = '', listen = '127.0.0.1:0' }) {
  const work = mkdtempSync(path.join(tmpdir(), 'onevisit-console-'));
  mkdirSync(path.join(work, 'workflows'));
  if (!workflows) writeFileSync(path.join(work, 'workflows', 'startup.flow'), flow);
  const service = { work, simulator: null, server: null, base: '', password: '' };
  service.simulator = spawn(simulatorBinary, ['--listen', '127.0.0.1:0', '--port-file', path.join(work, 'simulator.port'), ...simulatorArgs], { stdio: 'ignore' });
  let simulatorPort = '';
  for (let i = 0; i < 200 && !simulatorPort; ++i) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (existsSync(path.join(work, 'simulator.port'))) simulatorPort = readFileSync(path.join(work, 'simulator.port'), 'utf8').trim();
  }
  if (!simulatorPort) throw new Error('the department simulator did not start');
  service.simulatorPort = simulatorPort;
  // Only notices are configured: a department's submit call finds no adapter and is parked.
  const played = systems.map((s) => `[systems.${s}]\nkind = "http"\nurl = "http://127.0.0.1:${simulatorPort}/dept/${s}"\ntimeout_ms = 2000\n`).join('');
  writeFileSync(path.join(work, 'deploy.toml'),
    config ? `${played}[elicense]\nurl = "http://127.0.0.1:${simulatorPort}/elicense"\n${config(simulatorPort)}`
           : `${played}[systems.notify]\nkind = "log"\n[elicense]\nurl = "http://127.0.0.1:${simulatorPort}/elicense"\n`);
  const args = ['serve', '--db', path.join(work, 'cases.db'), '--workflows', workflows || path.join(work, 'workflows'), '--listen', listen,
    '--config', path.join(work, 'deploy.toml')];
  if (process.env.ONEVISIT_CONSOLE_DIR) args.push('--console', process.env.ONEVISIT_CONSOLE_DIR);
  service.binary = binary;
  service.args = args;
  const started = await launchServer(service, args, true);
  service.base = started.base;
  service.password = started.password;
  return service;
}

// Starts `onevisit serve` with `args`; answers its address (and the admin's password, which only
// a first start prints: `first`).
async function launchServer(service, args, first) {
  service.server = spawn(service.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  service.server.stderr.on('data', () => {});
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start:\n${output}`)), 20000);
    service.server.stdout.on('data', (chunk) => {
      output += chunk;
      const listening = output.match(/listening on (http:\/\/[\d.]+:\d+)\//);
      const password = output.match(/with the password (\w+)/);
      if (listening && (password || !first)) {
        clearTimeout(timer);
        resolve({ base: listening[1], password: password ? password[1] : '' });
      }
    });
    service.server.on('exit', (code) => reject(new Error(`the server exited with ${code}:\n${output}`)));
  });
}

/**
 * Stops the server (SIGTERM) and starts it again on the same database with `extraArgs` (e.g.
 * a training clock some days ahead); the simulator keeps running. Answers the new address.
 */
export async function restartServer(service, extraArgs = []) {
  const exited = new Promise((resolve) => service.server.on('exit', (c) => resolve(c)));
  service.server.kill('SIGTERM');
  const code = await exited;
  if (code !== 0) throw new Error(`the server exited with ${code} after SIGTERM`);
  const started = await launchServer(service, [...service.args, ...extraArgs], false);
  service.base = started.base;
  return service.base;
}

/** A loopback port free now (for a server whose address must be known before it starts). */
export async function freePort() {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Logs in through the API; answers a fetch that carries the session and CSRF token. */
export async function apiSession(base, name, password) {
  const login = await fetch(`${base}/api/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name, password }) });
  if (login.status !== 200) throw new Error(`${name} cannot log in: ${login.status}`);
  const cookies = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const csrf = (await login.json()).csrf_token;
  // A Buffer is sent as it is (an upload); anything else as JSON.
  return (method, route, body, headers = {}) => fetch(`${base}${route}`, { method,
    body: body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', Cookie: cookies, 'X-CSRF-Token': csrf, ...headers } });
}

/** Stops the server (answers its exit code after SIGTERM) and the simulator. */
export async function stopService(service) {
  let code = 0;
  if (service.server && service.server.exitCode === null) {
    const exited = new Promise((resolve) => service.server.on('exit', (c) => resolve(c)));
    service.server.kill('SIGTERM');
    code = await exited;
  }
  if (service.simulator && service.simulator.exitCode === null) service.simulator.kill('SIGTERM');
  rmSync(service.work, { recursive: true, force: true });
  return code;
}

// axe-core from tests/browser/node_modules (npm ci), evaluated in the page through the
// DevTools protocol (a <script> tag would be refused by the pages' Content-Security-Policy,
// which the test keeps on): nothing is fetched while the test runs.
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs the axe-core audit (WCAG 2.x A and AA rules and best practices) on the page as it is
 * now; answers the serious and critical violations as readable lines, empty when none.
 */
export async function accessibilityViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(axeSource);
  const result = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
}
