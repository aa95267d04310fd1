/**
 * The sandbox plays WeChat's in-app browser (for tests that do not need a real one) and WeChat's
 * JS-SDK (for the real one):
 *
 * - `POST /__sandbox/browser/open {user, url, method?, form?, clientIp?}`: a simulated user opens a
 *   URL in WeChat — a WeChat User-Agent, that user's cookies (kept per user, per origin and path),
 *   redirects followed (OAuth's authorize included: the sandbox knows who the user is), the
 *   `#fragment` never sent. `form` POSTs `application/x-www-form-urlencoded` from the page's own
 *   origin. `clientIp` is the address the local host reports to the function (`x-local-client-ip`,
 *   honoured by the local stack only). Answers `{status, url, headers, body}` of the last response.
 * - `GET /__sandbox/jweixin-1.6.0.js`: a stand-in for res.wx.qq.com's JS-SDK. `wx.config` is checked
 *   as WeChat's client checks it (`POST /__sandbox/browser/jsapi/verify`): the signature over a live
 *   jsapi ticket of the appId and the page URL without its fragment, the nonce and timestamp as
 *   given, the page's host among the account's JS接口安全域名; then `wx.ready` or `wx.error`
 *   callbacks run. `GET /__sandbox/browser/jsapi/verifications` lists what it checked.
 * - `POST /__sandbox/users/snapshot {user, on}`: WeChat shows that user the snapshot page (快照页):
 *   their OAuth ids are virtual (`is_snapshotuser: 1`).
 * - `POST /__sandbox/tickets/invalidate {appid, type}`: the account's tickets stop working (a
 *   ticket WeChat replaced), so wx.config fails with `invalid signature` until a new one is fetched.
 */
import { createHash } from 'node:crypto';
import { LOCAL_CLIENT_IP_HEADER } from '../host/http-access';
import { markStateChanged } from '../persist';
import { SANDBOX_USER_HEADER } from './api/oauth';
import { liveTickets, MAX_PUSH_RECORDS, sandboxNowMs, type SandboxState } from './state';
import { expectUserId } from './users';
import { SandboxInputError, expectOptionalBoolean, expectRecord, expectString } from './validate';

/** WeChat's in-app browser on Android, as pages see it. */
export const WECHAT_USER_AGENT = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160117 MMWEBSDK/20240404 MicroMessenger/8.0.50.2701(0x28003253) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64';
const MAX_REDIRECTS = 10;

export interface BrowserPage {
  status: number;
  url: string;
  headers: Record<string, string>;
  body: string;
}

function cookieKey(origin: string, path: string, name: string): string {
  return `${origin} ${path} ${name}`;
}

function jarOf(state: SandboxState, user: string): Map<string, string> {
  let jar = state.browserCookies.get(user);
  if (jar === undefined) {
    jar = new Map();
    state.browserCookies.set(user, jar);
  }
  return jar;
}

function cookieHeader(jar: Map<string, string>, url: URL): string {
  const pairs: string[] = [];
  for (const [key, value] of jar) {
    const [origin, path, name] = key.split(' ') as [string, string, string];
    if (origin === url.origin && (url.pathname === path || url.pathname.startsWith(path.endsWith('/') ? path : `${path}/`) || path === '/')) pairs.push(`${name}=${value}`);
  }
  return pairs.join('; ');
}

function storeCookies(jar: Map<string, string>, url: URL, setCookies: string[]): void {
  for (const line of setCookies) {
    const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    const path = attributes.find((attribute) => /^path=/i.test(attribute))?.slice(5) || '/';
    const maxAge = attributes.find((attribute) => /^max-age=/i.test(attribute));
    const key = cookieKey(url.origin, path, name);
    if (maxAge !== undefined && Number(maxAge.slice(8)) <= 0) jar.delete(key);
    else jar.set(key, value);
  }
}

/** The browser and JS-SDK operations. */
export function createBrowserControl(state: SandboxState) {
  return {
    async open(input: unknown): Promise<BrowserPage> {
      const record = expectRecord(input, 'browser open body', ['user', 'url', 'method', 'form', 'clientIp']);
      const user = expectUserId(record.user);
      let url = new URL(expectString(record.url, 'url'));
      let method = record.method === undefined ? 'GET' : expectString(record.method, 'method').toUpperCase();
      if (method !== 'GET' && method !== 'POST') throw new SandboxInputError('method must be GET or POST');
      let body: string | undefined;
      if (record.form !== undefined) {
        const form = expectRecord(record.form, 'form', Object.keys((record.form ?? {}) as object));
        body = new URLSearchParams(Object.entries(form).map(([key, value]): [string, string] => [key, String(value)])).toString();
      }
      const clientIp = record.clientIp === undefined ? undefined : expectString(record.clientIp, 'clientIp');
      const jar = jarOf(state, user);
      for (let hop = 0; ; hop += 1) {
        // Browsers never send the fragment (#wechat_redirect stays on the client).
        url.hash = '';
        const headers: Record<string, string> = { 'user-agent': WECHAT_USER_AGENT, [SANDBOX_USER_HEADER]: user, 'accept-language': 'zh-CN' };
        const cookies = cookieHeader(jar, url);
        if (cookies !== '') headers.cookie = cookies;
        if (clientIp !== undefined) headers[LOCAL_CLIENT_IP_HEADER] = clientIp;
        if (method === 'POST') {
          headers['content-type'] = 'application/x-www-form-urlencoded';
          headers.origin = url.origin;
          headers['sec-fetch-site'] = 'same-origin';
        }
        const response = await fetch(url, { method, headers, redirect: 'manual', ...(method === 'POST' ? { body: body ?? '' } : {}) });
        storeCookies(jar, url, response.headers.getSetCookie());
        const location = response.headers.get('location');
        if (response.status >= 300 && response.status < 400 && location !== null && hop < MAX_REDIRECTS) {
          await response.arrayBuffer();
          url = new URL(location, url);
          if (response.status !== 307 && response.status !== 308) {
            method = 'GET';
            body = undefined;
          }
          continue;
        }
        markStateChanged(state);
        return { status: response.status, url: url.href, headers: Object.fromEntries(response.headers), body: await response.text() };
      }
    },

    /** What WeChat's client does with wx.config: the answer `wx.ready`/`wx.error` get. */
    verifyJsapi(input: unknown): { errMsg: string } {
      const record = expectRecord(input, 'jsapi verify body', ['appId', 'timestamp', 'nonceStr', 'signature', 'url', 'jsApiList']);
      const appId = expectString(record.appId, 'appId');
      const url = expectString(record.url, 'url').split('#', 1)[0] ?? '';
      const nonceStr = String(record.nonceStr ?? '');
      const timestamp = String(record.timestamp ?? '');
      const signature = String(record.signature ?? '');
      const jsApiList = Array.isArray(record.jsApiList) ? record.jsApiList.map(String) : [];
      const account = state.accounts.get(appId);
      let errMsg = 'config:ok';
      if (account === undefined || account.kind === 'miniprogram') errMsg = 'config:invalid appId';
      else {
        let host = '';
        try {
          host = new URL(url).host.toLowerCase();
        } catch {
          host = '';
        }
        const domains = account.webDomains ?? null;
        if (host === '' || (domains !== null && !domains.includes(host))) errMsg = 'config:invalid url domain';
        else {
          const signs = liveTickets(state, appId, 'jsapi').map((ticket) => createHash('sha1').update(`jsapi_ticket=${ticket.ticket}&noncestr=${nonceStr}&timestamp=${timestamp}&url=${url}`).digest('hex'));
          if (!signs.includes(signature)) errMsg = 'config:invalid signature';
        }
      }
      state.jsapiVerifications.push({ appId, url, jsApiList, ok: errMsg === 'config:ok', errMsg, atMs: sandboxNowMs(state) });
      if (state.jsapiVerifications.length > MAX_PUSH_RECORDS) state.jsapiVerifications.splice(0, state.jsapiVerifications.length - MAX_PUSH_RECORDS);
      return { errMsg };
    },

    verifications() {
      return { verifications: state.jsapiVerifications };
    },

    setSnapshot(input: unknown): { user: string; snapshot: boolean } {
      const record = expectRecord(input, 'snapshot body', ['user', 'on']);
      const user = expectUserId(record.user);
      const on = expectOptionalBoolean(record.on, 'on') ?? true;
      if (on) state.snapshotUsers.add(user);
      else state.snapshotUsers.delete(user);
      return { user, snapshot: on };
    },

    invalidateTickets(input: unknown): { invalidated: number } {
      const record = expectRecord(input, 'tickets invalidate body', ['appid', 'type']);
      const appid = expectString(record.appid, 'appid');
      const type = record.type === undefined ? 'jsapi' : expectString(record.type, 'type');
      let invalidated = 0;
      for (const [ticket, entry] of state.tickets) {
        if (entry.appid === appid && entry.type === type) {
          state.tickets.delete(ticket);
          invalidated += 1;
        }
      }
      return { invalidated };
    },
  };
}

export type BrowserControl = ReturnType<typeof createBrowserControl>;

/**
 * The JS-SDK stand-in: `wx.config` asks the sandbox what WeChat's client would answer, then runs
 * the `wx.ready` or `wx.error` callbacks; `wx.hideOptionMenu`, `wx.closeWindow` and
 * `wx.miniProgram.getEnv` are recorded on `window.__sandboxWx` for tests.
 */
export const JSSDK_STAND_IN = `(function () {
  var ready = [], errors = [], state = { configured: 0, result: null, calls: [] };
  window.__sandboxWx = state;
  function settle(result) {
    state.result = result;
    var list = result.errMsg === 'config:ok' ? ready : errors;
    for (var i = 0; i < list.length; i += 1) list[i](result);
  }
  window.wx = {
    config: function (options) {
      state.configured += 1;
      var body = JSON.stringify({ appId: options.appId, timestamp: options.timestamp, nonceStr: options.nonceStr, signature: options.signature, jsApiList: options.jsApiList, url: location.href.split('#')[0] });
      fetch('/__sandbox/browser/jsapi/verify', { method: 'POST', headers: { 'content-type': 'application/json' }, body: body })
        .then(function (response) { return response.json(); })
        .then(settle, function () { settle({ errMsg: 'config:fail' }); });
    },
    ready: function (callback) { ready.push(callback); if (state.result && state.result.errMsg === 'config:ok') callback(); },
    error: function (callback) { errors.push(callback); },
    hideOptionMenu: function () { state.calls.push('hideOptionMenu'); },
    closeWindow: function () { state.calls.push('closeWindow'); },
    miniProgram: { getEnv: function (callback) { callback({ miniprogram: /miniProgram/i.test(navigator.userAgent) }); }, navigateBack: function () { state.calls.push('navigateBack'); } }
  };
})();
`;
