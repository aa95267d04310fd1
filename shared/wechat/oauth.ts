/**
 * Web OAuth (网页授权) of a verified service account, for the claim pages: the authorize URL a
 * browser is sent to, and the code exchange that turns its callback into the user's openid
 * (reference/official-accounts.md §5, wechat-api.md §10). Server-side only: the exchange carries
 * the account's AppSecret, and the user-level access_token it returns is never kept or shown.
 * @see https://developers.weixin.qq.com/doc/offiaccount/OA_Web_Apps/Wechat_webpage_authorization.html
 */
import { InputError, WechatApiError } from '../errors';
import type { WechatHttp } from './http';

/** `snsapi_base`: silent, openid only. `snsapi_userinfo`: a consent popup, and the unionid (§5.2). */
export type OauthScope = 'snsapi_base' | 'snsapi_userinfo';

/** WeChat's codes of the OAuth endpoints (WxJava WxMpErrorMsgEnum), kept verbatim on WechatApiError.errcode. */
export const OauthErrcode = {
  /** invalid oauth_code: wrong, expired (5 minutes) or of another appid. */
  INVALID_CODE: 40029,
  /** oauth_code been used: codes are single use. */
  CODE_USED: 40163,
  INVALID_REFRESH_TOKEN: 40030,
  MISSING_CODE: 41008,
  /** The user-level access_token is not of snsapi_userinfo (userinfo needs it). */
  API_UNAUTHORIZED: 48001,
} as const;

/**
 * Codes after which the authorization must start again from the authorize URL: the code is spent
 * or unusable, and retrying the exchange with it can only fail again (a refreshed callback page
 * re-submits the same code; reference §5.2).
 */
export function mustRestartAuthorization(error: unknown): boolean {
  return error instanceof WechatApiError && (error.errcode === OauthErrcode.INVALID_CODE || error.errcode === OauthErrcode.CODE_USED);
}

/** Only `a-zA-Z0-9`, at most 128 bytes, comes back unchanged (§5.1). */
const STATE_PATTERN = /^[A-Za-z0-9]{1,128}$/;

/**
 * The authorize URL, parameters in the order WeChat's page checks them (peers emit the same:
 * co-wechat-oauth lib/oauth.js, silenceper oauth.go, WxJava WxMpApiUrl), `#wechat_redirect` last.
 * `redirect_uri` is encodeURIComponent'd once.
 */
export function authorizeUrl(input: { baseUrl: string; appId: string; redirectUri: string; scope: OauthScope; state: string }): string {
  if (!STATE_PATTERN.test(input.state)) throw new InputError('state must be 1-128 letters and digits', 'state');
  if (!/^https?:\/\//.test(input.redirectUri)) throw new InputError('redirect_uri must be an http(s) URL', 'redirectUri');
  const base = input.baseUrl.replace(/\/+$/, '');
  return `${base}/connect/oauth2/authorize?appid=${input.appId}&redirect_uri=${encodeURIComponent(input.redirectUri)}`
    + `&response_type=code&scope=${input.scope}&state=${input.state}#wechat_redirect`;
}

/** What `sns/oauth2/access_token` answers (§5.2). */
interface SnsTokenAnswer {
  access_token: string;
  expires_in: number;
  refresh_token?: string;
  openid: string;
  scope: string;
  unionid?: string;
  /** 1 only for snapshot-page (快照页) virtual users: their ids are not a real person's (§5.3). */
  is_snapshotuser?: number;
}

/** The user behind an OAuth code. */
export interface OauthUser {
  openid: string;
  /** The scopes the user granted, as WeChat lists them (comma-separated). */
  scope: string;
  /** Only with snsapi_userinfo, and only when the account is bound to an Open Platform account. */
  unionid?: string;
  /** A snapshot-page user: never pay one, never join on their ids. */
  snapshotUser: boolean;
  /** The user-level token, for {@link getSnsUserInfo} only; never stored. */
  userAccessToken: string;
}

/**
 * Exchanges a callback's code once (codes are single use and live 5 minutes). On
 * {@link mustRestartAuthorization} errors send the browser to the authorize URL again.
 * @see https://developers.weixin.qq.com/doc/service/api/webdev/access/api_snsaccesstoken
 */
export async function exchangeOauthCode(http: WechatHttp, input: { appId: string; appSecret: string; code: string }): Promise<OauthUser> {
  const answer = await http.getJson<SnsTokenAnswer>('/sns/oauth2/access_token', {
    appid: input.appId, secret: input.appSecret, code: input.code, grant_type: 'authorization_code',
  });
  if (typeof answer.openid !== 'string' || answer.openid === '') throw new WechatApiError('/sns/oauth2/access_token', -1, 'answer without openid');
  return {
    openid: answer.openid,
    scope: typeof answer.scope === 'string' ? answer.scope : '',
    ...(typeof answer.unionid === 'string' && answer.unionid !== '' ? { unionid: answer.unionid } : {}),
    snapshotUser: answer.is_snapshotuser === 1,
    userAccessToken: answer.access_token,
  };
}

/** `sns/userinfo` as WeChat answers it now (nickname "微信用户", no region, §1.2). */
export interface SnsUserInfo {
  openid: string;
  nickname?: string;
  headimgurl?: string;
  unionid?: string;
}

/**
 * The profile of a snsapi_userinfo user (48001 for a snsapi_base token).
 * @see https://developers.weixin.qq.com/doc/offiaccount/OA_Web_Apps/Wechat_webpage_authorization.html (第四步)
 */
export function getSnsUserInfo(http: WechatHttp, userAccessToken: string, openid: string): Promise<SnsUserInfo> {
  return http.getJson<SnsUserInfo>('/sns/userinfo', { access_token: userAccessToken, openid, lang: 'zh_CN' });
}
