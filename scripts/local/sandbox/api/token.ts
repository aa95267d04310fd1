/**
 * access_token APIs: classic `GET /cgi-bin/token` and `POST /cgi-bin/stable_token`
 * (reference/wechat-api.md §1). Both check grant_type, appid, secret and the IP whitelist;
 * their tokens are fully independent of each other.
 */
import { parseJsonBody } from '../http';
import {
  CREDENTIAL_TTL_MS, FORCE_REFRESH_DAILY_LIMIT, FORCE_REFRESH_SPACING_MS, TOKEN_OVERLAP_MS,
  expiresInSeconds, issueClassicToken, issueStableToken, liveTokens, revokeLiveTokens, sandboxNowMs, takeDailyQuota, whitelistOf,
  type SandboxState, type TokenRecord,
} from '../state';
import { WechatErrcode, ipNotWhitelistedError, wechatError, type WechatErrorBody } from '../wechat-errors';
import type { ApiRequest, ApiRoute } from './router';

const FORCE_REFRESH_DETAIL = '/cgi-bin/stable_token?force_refresh=true';

/** `GET /cgi-bin/token?grant_type=client_credential&appid=&secret=`. */
export const classicTokenRoute: ApiRoute = {
  path: '/cgi-bin/token',
  appidOf: (request) => request.url.searchParams.get('appid'),
  handle(state, request) {
    const query = request.url.searchParams;
    const refused = checkCredentials(state, request, {
      grantType: query.get('grant_type'),
      appid: query.get('appid'),
      secret: query.get('secret'),
    });
    if (refused !== undefined) return refused;
    const appid = query.get('appid') ?? '';
    if (!takeDailyQuota(state, appid, 'token', state.config.tokenDailyQuota)) return wechatError(WechatErrcode.DAILY_QUOTA);
    const record = issueClassicToken(state, appid);
    return { access_token: record.accessToken, expires_in: CREDENTIAL_TTL_MS / 1000 };
  },
};

/** `POST /cgi-bin/stable_token` with JSON `{grant_type, appid, secret, force_refresh?}`. */
export const stableTokenRoute: ApiRoute = {
  path: '/cgi-bin/stable_token',
  appidOf(request) {
    const body = parseJsonBody(request.body);
    return isRecord(body) && typeof body.appid === 'string' ? body.appid : null;
  },
  detailKey(request) {
    const body = parseJsonBody(request.body);
    return isRecord(body) && body.force_refresh === true ? FORCE_REFRESH_DETAIL : '/cgi-bin/stable_token';
  },
  handle(state, request) {
    if (request.method !== 'POST') return wechatError(WechatErrcode.REQUIRE_POST);
    const body = parseJsonBody(request.body);
    if (!isRecord(body)) return wechatError(WechatErrcode.DATA_FORMAT_ERROR);
    const refused = checkCredentials(state, request, {
      grantType: stringOrNull(body.grant_type),
      appid: stringOrNull(body.appid),
      secret: stringOrNull(body.secret),
    });
    if (refused !== undefined) return refused;
    if (body.force_refresh !== undefined && typeof body.force_refresh !== 'boolean') {
      return wechatError(WechatErrcode.INVALID_ARGS);
    }
    const appid = body.appid as string;
    if (!takeDailyQuota(state, appid, 'stable_token', state.config.stableTokenDailyQuota)) {
      return wechatError(WechatErrcode.DAILY_QUOTA);
    }
    if (body.force_refresh === true) {
      // Every force call counts toward the 20, effective or not: the doc limits the mode's use
      // ("每天限用20次"), and counting them all is the safer reading for a client to be tested against.
      if (!takeDailyQuota(state, appid, 'stable_token_force', FORCE_REFRESH_DAILY_LIMIT)) {
        return wechatError(WechatErrcode.DAILY_QUOTA);
      }
      const lastAtMs = state.lastForceRefreshAtMs.get(appid);
      const nowMs = sandboxNowMs(state);
      if (lastAtMs === undefined || nowMs - lastAtMs >= FORCE_REFRESH_SPACING_MS) {
        state.lastForceRefreshAtMs.set(appid, nowMs);
        revokeLiveTokens(state, appid, 'stable');
        return tokenReply(state, issueStableToken(state, appid));
      }
    }
    return tokenReply(state, currentStableToken(state, appid));
  },
};

/** The token APIs, for the route table. */
export const tokenRoutes: readonly ApiRoute[] = [classicTokenRoute, stableTokenRoute];

/**
 * Normal mode returns the current stable token unchanged. The platform refreshes 5 minutes
 * before expiry, so a token with less than that left has a successor already (returned with its
 * full lifetime), while the old one stays valid until its own expiry.
 */
function currentStableToken(state: SandboxState, appid: string): TokenRecord {
  const newest = liveTokens(state, appid, 'stable').at(-1);
  if (newest === undefined || newest.expiresAtMs - sandboxNowMs(state) < TOKEN_OVERLAP_MS) return issueStableToken(state, appid);
  return newest;
}

function tokenReply(state: SandboxState, record: TokenRecord): Record<string, unknown> {
  return { access_token: record.accessToken, expires_in: expiresInSeconds(state, record.expiresAtMs) };
}

/** The checks both token APIs share, in WeChat's order; undefined when the caller may have a token. */
function checkCredentials(
  state: SandboxState,
  request: ApiRequest,
  given: { grantType: string | null; appid: string | null; secret: string | null },
): WechatErrorBody | undefined {
  if (given.grantType !== 'client_credential') return wechatError(WechatErrcode.INVALID_GRANT_TYPE);
  if (given.appid === null || given.appid === '') return wechatError(WechatErrcode.APPID_MISSING);
  if (given.secret === null || given.secret === '') return wechatError(WechatErrcode.APPSECRET_MISSING);
  const account = state.accounts.get(given.appid);
  if (account === undefined) return wechatError(WechatErrcode.INVALID_APPID);
  if (given.secret !== account.secret) return wechatError(WechatErrcode.INVALID_APPSECRET);
  // Each official account has its own whitelist; "小程序及小游戏调用不要求 IP 地址在白名单内".
  if (account.kind !== 'miniprogram' && !whitelistOf(state, account).has(request.remoteAddress)) {
    return ipNotWhitelistedError(request.remoteAddress);
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
