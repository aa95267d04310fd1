/**
 * Web OAuth (网页授权) of verified service accounts, as WeChat answers it (reference/official-accounts.md
 * §5; client module: shared/wechat/oauth.ts):
 *
 * - `GET /connect/oauth2/authorize` (open.weixin.qq.com in production): WeChat's in-app browser for a
 *   simulated user — the `x-sandbox-user` header the sandbox's own browser sends (browser.ts), or the
 *   `wechat_sandbox_user` cookie a test gives Chromium. Outside WeChat (no MicroMessenger in the
 *   User-Agent) the page says to open it in WeChat, as WeChat's does. The parameters are checked in
 *   WeChat's order; an account without OAuth (10005), a redirect_uri host that is not its 网页授权域名
 *   (10003) or an unknown appid get WeChat's error page; otherwise 302 to `redirect_uri?code=&state=`
 *   (the fragment `#wechat_redirect` never reaches a server).
 * - `GET /sns/oauth2/access_token`: code single use (40163), 5 minutes, of that appid (40029), the
 *   account's secret (40125); `is_snapshotuser: 1` and a virtual openid for a snapshot-page user
 *   (`POST /__sandbox/users/snapshot`); `unionid` only for snsapi_userinfo on an Open Platform.
 * - `GET /sns/userinfo`: snsapi_userinfo tokens only (48001 otherwise); nickname "微信用户", no region.
 */
import { randomBytes } from 'node:crypto';
import { sandboxNowMs, type SandboxState } from '../state';
import { openidOf, unionidOf } from '../users';
import { WechatErrcode, wechatError } from '../wechat-errors';
import type { ApiRequest, ApiRoute, RawReply } from './router';

const CODE_TTL_MS = 5 * 60_000;
const USER_TOKEN_TTL_MS = 7_200_000;
/** WeChat's check of the authorize URL is a strict pattern: these keys, in this order (reference §5.1). */
const PARAMETER_ORDER = ['appid', 'redirect_uri', 'response_type', 'scope', 'state'];
export const SANDBOX_USER_HEADER = 'x-sandbox-user';
export const SANDBOX_USER_COOKIE = 'wechat_sandbox_user';
const USER_ID = /^[A-Za-z0-9_.-]{1,64}$/;

function page(status: number, text: string): RawReply {
  const body = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>微信</title></head><body><p data-wechat-error>${text}</p></body></html>`;
  return { status, contentType: 'text/html; charset=utf-8', body: Buffer.from(body) };
}

/** The simulated user the browser is: the sandbox browser's header, else the test's cookie. */
export function browserUser(request: Pick<ApiRequest, 'headers'>): string | null {
  const header = request.headers[SANDBOX_USER_HEADER];
  if (typeof header === 'string' && USER_ID.test(header)) return header;
  const cookie = request.headers.cookie ?? '';
  const match = new RegExp(`(?:^|;\\s*)${SANDBOX_USER_COOKIE}=([A-Za-z0-9_.-]{1,64})`).exec(cookie);
  return match?.[1] ?? null;
}

function authorize(state: SandboxState, request: ApiRequest): RawReply {
  if (!/MicroMessenger/i.test(String(request.headers['user-agent'] ?? ''))) return page(200, '请在微信客户端打开链接');
  const keys = [...request.url.searchParams.keys()].filter((key) => key !== 'forcePopup' && key !== 'connect_redirect');
  const expected = PARAMETER_ORDER.slice(0, keys.length);
  if (keys.length < 4 || keys.some((key, index) => key !== expected[index])) return page(200, '参数错误：请按 appid、redirect_uri、response_type、scope、state 的顺序传参');
  const params = request.url.searchParams;
  const account = state.accounts.get(params.get('appid') ?? '');
  if (account === undefined) return page(200, '10016 appid 无效');
  if (account.kind !== 'service' || !account.verified) return page(200, '10005 此公众号并没有这些scope的权限');
  const scope = params.get('scope') ?? '';
  if (scope !== 'snsapi_base' && scope !== 'snsapi_userinfo') return page(200, '10005 scope 参数错误或没有 scope 权限');
  if (params.get('response_type') !== 'code') return page(200, '参数错误：response_type 必须是 code');
  let redirect: URL;
  try {
    redirect = new URL(params.get('redirect_uri') ?? '');
  } catch {
    return page(200, '10003 redirect_uri 参数错误');
  }
  const domains = account.webDomains ?? null;
  if (domains !== null && !domains.includes(redirect.host.toLowerCase())) return page(200, '10003 redirect_uri 域名与后台配置不一致');
  const stateParam = params.get('state') ?? '';
  if (!/^[A-Za-z0-9]{0,128}$/.test(stateParam)) return page(200, '参数错误：state 只能是字母和数字，最多 128 字节');
  const user = browserUser(request);
  if (user === null) return page(200, '请在微信客户端打开链接（沙箱：没有模拟的微信用户，设置 wechat_sandbox_user cookie）');
  const code = randomBytes(24).toString('base64url');
  state.oauthCodes.set(code, { appid: account.appid, user, scope, issuedAtMs: sandboxNowMs(state), used: false, snapshot: state.snapshotUsers.has(user) });
  redirect.searchParams.set('code', code);
  redirect.searchParams.set('state', stateParam);
  return { status: 302, contentType: 'text/html; charset=utf-8', body: Buffer.alloc(0), headers: { location: redirect.href } };
}

function exchange(state: SandboxState, request: ApiRequest): Record<string, unknown> {
  const params = request.url.searchParams;
  const account = state.accounts.get(params.get('appid') ?? '');
  if (account === undefined || account.kind === 'miniprogram') return wechatError(WechatErrcode.INVALID_APPID);
  if (params.get('secret') !== account.secret) return wechatError(WechatErrcode.INVALID_APPSECRET);
  if (params.get('grant_type') !== 'authorization_code') return wechatError(WechatErrcode.INVALID_GRANT_TYPE);
  const code = params.get('code');
  if (code === null || code === '') return wechatError(WechatErrcode.CODE_MISSING);
  const record = state.oauthCodes.get(code);
  const nowMs = sandboxNowMs(state);
  if (record === undefined || record.appid !== account.appid || nowMs - record.issuedAtMs > CODE_TTL_MS) return wechatError(WechatErrcode.INVALID_OAUTH_CODE);
  if (record.used) return wechatError(WechatErrcode.OAUTH_CODE_USED);
  record.used = true;
  // A snapshot-page user is a stand-in: WeChat gives a virtual openid (and unionid), never the person's.
  const openid = record.snapshot ? `oSnap${randomBytes(12).toString('base64url')}` : openidOf(state, account.appid, record.user);
  const unionid = record.scope === 'snsapi_userinfo' && !record.snapshot ? unionidOf(account.openPlatformId, record.user) : null;
  const accessToken = randomBytes(60).toString('base64url');
  state.oauthTokens.set(accessToken, { appid: account.appid, openid, scope: record.scope, expiresAtMs: nowMs + USER_TOKEN_TTL_MS });
  return {
    access_token: accessToken,
    expires_in: USER_TOKEN_TTL_MS / 1000,
    refresh_token: randomBytes(60).toString('base64url'),
    openid,
    scope: record.scope,
    ...(record.snapshot ? { is_snapshotuser: 1 } : {}),
    ...(unionid === null ? {} : { unionid }),
  };
}

function userInfo(state: SandboxState, request: ApiRequest): Record<string, unknown> {
  const token = state.oauthTokens.get(request.url.searchParams.get('access_token') ?? '');
  if (token === undefined || token.expiresAtMs <= sandboxNowMs(state)) return wechatError(WechatErrcode.INVALID_CREDENTIAL);
  if (token.scope !== 'snsapi_userinfo') return wechatError(WechatErrcode.API_UNAUTHORIZED);
  if (request.url.searchParams.get('openid') !== token.openid) return wechatError(WechatErrcode.INVALID_OPENID);
  const account = state.accounts.get(token.appid);
  const user = [...state.userIds.entries()].find(([openid]) => openid === token.openid)?.[1].user ?? null;
  const unionid = account === undefined || user === null ? null : unionidOf(account.openPlatformId, user);
  return { openid: token.openid, nickname: '微信用户', sex: 0, province: '', city: '', country: '', headimgurl: '', privilege: [], ...(unionid === null ? {} : { unionid }) };
}

/** The OAuth endpoints, for the route table. */
export const oauthRoutes: readonly ApiRoute[] = [
  { path: '/connect/oauth2/authorize', appidOf: (request) => request.url.searchParams.get('appid'), handle: () => ({}), handleRaw: async (state, request) => authorize(state, request) },
  { path: '/sns/oauth2/access_token', appidOf: (request) => request.url.searchParams.get('appid'), handle: exchange },
  { path: '/sns/userinfo', handle: userInfo },
];
