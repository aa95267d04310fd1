/**
 * The errcodes the sandbox answers with and WeChat's own errmsg text for each. Texts follow
 * reference/wechat-api.md §1–§2; the few it does not list (41002, 41004, 43002, 47001) are the
 * texts api.weixin.qq.com is known to send. WeChat appends " rid: …" (a request id) to every
 * errmsg, so the sandbox does too: a client that compares errmsg for equality breaks here as it
 * would in production.
 */
import { randomBytes } from 'node:crypto';

/** WeChat errcodes used by the sandbox's endpoints. */
export const WechatErrcode = {
  SYSTEM_ERROR: -1,
  INVALID_CREDENTIAL: 40001,
  INVALID_GRANT_TYPE: 40002,
  INVALID_APPID: 40013,
  INVALID_ARGS: 40097,
  INVALID_APPSECRET: 40125,
  IP_NOT_WHITELISTED: 40164,
  ACCESS_TOKEN_MISSING: 41001,
  APPID_MISSING: 41002,
  APPSECRET_MISSING: 41004,
  ACCESS_TOKEN_EXPIRED: 42001,
  REQUIRE_POST: 43002,
  DAILY_QUOTA: 45009,
  DATA_FORMAT_ERROR: 47001,
} as const;

/** WeChat's errmsg for each errcode, without the " rid: …" suffix. */
export const WECHAT_ERRMSG: Readonly<Record<number, string>> = {
  [WechatErrcode.SYSTEM_ERROR]: 'system error',
  [WechatErrcode.INVALID_CREDENTIAL]: 'invalid credential, access_token is invalid or not latest',
  [WechatErrcode.INVALID_GRANT_TYPE]: 'invalid grant_type',
  [WechatErrcode.INVALID_APPID]: 'invalid appid',
  [WechatErrcode.INVALID_ARGS]: 'invalid args',
  [WechatErrcode.INVALID_APPSECRET]: 'invalid appsecret',
  [WechatErrcode.ACCESS_TOKEN_MISSING]: 'access_token missing',
  [WechatErrcode.APPID_MISSING]: 'appid missing',
  [WechatErrcode.APPSECRET_MISSING]: 'appsecret missing',
  [WechatErrcode.ACCESS_TOKEN_EXPIRED]: 'access_token expired',
  [WechatErrcode.REQUIRE_POST]: 'require POST method',
  [WechatErrcode.DAILY_QUOTA]: 'reach max api daily quota limit',
  [WechatErrcode.DATA_FORMAT_ERROR]: 'data format error',
};

/** The JSON body of a WeChat error reply. */
export type WechatErrorBody = { errcode: number; errmsg: string };

/** A WeChat error reply; `text` overrides the standard errmsg (the rid is appended either way). */
export function wechatError(errcode: number, text?: string): WechatErrorBody {
  const base = text ?? WECHAT_ERRMSG[errcode] ?? 'sandbox injected error';
  return { errcode, errmsg: `${base} rid: ${requestId()}` };
}

/** 40164 names the caller as WeChat does: the IPv4 address and its IPv4-mapped IPv6 form. */
export function ipNotWhitelistedError(remoteAddress: string): WechatErrorBody {
  const ipv6 = remoteAddress.includes(':') ? remoteAddress : `::ffff:${remoteAddress}`;
  return wechatError(WechatErrcode.IP_NOT_WHITELISTED, `invalid ip ${remoteAddress} ipv6 ${ipv6}, not in whitelist`);
}

function requestId(): string {
  return [0, 1, 2].map(() => randomBytes(4).toString('hex')).join('-');
}
