/** The access_token check every WeChat endpoint that takes `?access_token=` runs first. */
import { tokenStatus, type SandboxState, type TokenRecord } from './state';
import { WechatErrcode, wechatError, type WechatErrorBody } from './wechat-errors';

/** The token's account, or the WeChat error to answer with. */
export type AccessTokenCheck = { ok: true; appid: string; token: TokenRecord } | { ok: false; error: WechatErrorBody };

/**
 * Checks `?access_token=`: missing → 41001; unknown, superseded or invalidated → 40001
 * ("not latest"); expired → 42001. There is no IP whitelist here: it guards only the token APIs.
 */
export function requireAccessToken(state: SandboxState, url: URL): AccessTokenCheck {
  const accessToken = url.searchParams.get('access_token');
  if (accessToken === null || accessToken === '') {
    return { ok: false, error: wechatError(WechatErrcode.ACCESS_TOKEN_MISSING) };
  }
  const found = tokenStatus(state, accessToken);
  switch (found.status) {
    case 'live':
      return { ok: true, appid: found.record.appid, token: found.record };
    case 'expired':
      return { ok: false, error: wechatError(WechatErrcode.ACCESS_TOKEN_EXPIRED) };
    case 'unknown':
    case 'revoked':
      return { ok: false, error: wechatError(WechatErrcode.INVALID_CREDENTIAL) };
  }
}

