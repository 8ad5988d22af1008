// The 7×24 self-service kiosk (自助终端): its settings, its card reader and the watch that ends a
// session nobody is using. A card read the browser sends cannot be trusted by itself: the
// kiosk's local card-reader agent signs each read with the device's key, together with a nonce
// the server handed out for it and the time, and the server checks the signature against the
// key registered for the kiosk (protocol: docs/applicant.md, "The kiosk").
//
// Nothing about the person is kept here: the only thing in storage is the kiosk's own setup.

const settingsKey = 'ov_kiosk';
const readTimeoutMs = 15000;

/**
 * The kiosk's setup, or null on an ordinary browser. The installer opens
 * /m/kiosk?device=<id>&reader=<agent address>&idle=<seconds>&warn=<seconds> once; it is kept.
 */
export function kioskSettings() {
  const params = new URLSearchParams(location.search);
  if (location.pathname.replace(/\/+$/, '') === '/m/kiosk' && params.get('device')) {
    const number = (name, fallback, min) => Math.max(min, Number.parseInt(params.get(name), 10) || fallback);
    const reader = (params.get('reader') || 'http://127.0.0.1:19196').replace(/\/+$/, '');
    localStorage.setItem(settingsKey, JSON.stringify({
      device: params.get('device'), reader, idle: number('idle', 120, 2), warn: number('warn', 30, 1),
    }));
    history.replaceState({}, '', '/m/kiosk');
  }
  try {
    const saved = JSON.parse(localStorage.getItem(settingsKey) || 'null');
    return saved && typeof saved.device === 'string' ? saved : null;
  } catch { return null; }
}

const readerMessages = {
  no_service: '读卡器未就绪，请联系现场工作人员',
  no_reader: '读卡器未连接，请联系现场工作人员',
  no_card: '没有读到身份证，请把身份证平放在读卡区',
  read_failed: '身份证读取失败，请重新放置身份证',
  timeout: '读卡超时，请重新放置身份证',
  bad_answer: '读卡器的应答无法识别，请联系现场工作人员',
};

/**
 * The reader adapter: asks the kiosk's card-reader agent to read the card and sign it with
 * `nonce`. Answers {ok: true, signed: {card_read, signature}} or {ok: false, message}.
 */
export async function signedCardRead(settings, nonce) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), readTimeoutMs);
  let response;
  try {
    response = await fetch(`${settings.reader}/signed-read?nonce=${encodeURIComponent(nonce)}`,
      { method: 'GET', mode: 'cors', credentials: 'omit', cache: 'no-store', signal: abort.signal });
  } catch {
    return { ok: false, message: readerMessages[abort.signal.aborted ? 'timeout' : 'no_service'] };
  } finally {
    clearTimeout(timer);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) return { ok: false, message: readerMessages[body?.error] || readerMessages.read_failed };
  if (!body || typeof body.card_read !== 'string') return { ok: false, message: readerMessages.bad_answer };
  return { ok: true, signed: { card_read: body.card_read, signature: typeof body.signature === 'string' ? body.signature : '' } };
}

/**
 * Watches for a person at the screen: after `idle` seconds without a touch or a key,
 * `warn(secondsLeft)` is called each second for `warn` seconds, then `wipe()`. A touch during
 * the warning calls `stay()` and starts again. Answers a function that stops the watch.
 */
export function watchInactivity(settings, { warn, stay, wipe }) {
  let idleTimer = 0;
  let countdown = 0;
  let warning = false;
  const stop = () => {
    clearTimeout(idleTimer);
    clearInterval(countdown);
    for (const type of ['pointerdown', 'keydown', 'input']) document.removeEventListener(type, touched, true);
  };
  const arm = () => {
    clearTimeout(idleTimer);
    clearInterval(countdown);
    idleTimer = setTimeout(() => {
      warning = true;
      let left = settings.warn;
      warn(left);
      countdown = setInterval(() => {
        left -= 1;
        if (left > 0) { warn(left); return; }
        stop();
        wipe();
      }, 1000);
    }, settings.idle * 1000);
  };
  function touched() {
    if (warning) { warning = false; stay(); }
    arm();
  }
  for (const type of ['pointerdown', 'keydown', 'input']) document.addEventListener(type, touched, true);
  arm();
  return stop;
}

/**
 * Ends the person's session and leaves nothing of theirs behind: the server session, the
 * drafts' ids and every setting they chose (large type) in storage. The kiosk's setup stays.
 */
export async function wipePerson(csrfToken) {
  try {
    await fetch('/api/applicant/session', { method: 'DELETE', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrfToken } });
  } catch { /* the session expires by itself on the server */ }
  sessionStorage.clear();
  for (const key of Object.keys(localStorage)) if (key !== settingsKey) localStorage.removeItem(key);
}
