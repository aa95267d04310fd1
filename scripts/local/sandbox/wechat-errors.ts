/**
 * The errcodes the sandbox answers with and WeChat's own errmsg text for each. Texts follow
 * reference/wechat-api.md §1–§3 (the card codes are WxJava's WxOpenErrorMsgEnum texts); the few
 * it does not list (41002, 41004, 41005, 43002, 47001) are the texts api.weixin.qq.com is known
 * to send. WeChat appends " rid: …" (a request id) to every
 * errmsg, so the sandbox does too: a client that compares errmsg for equality breaks here as it
 * would in production.
 */
import { randomBytes } from 'node:crypto';

/** WeChat errcodes used by the sandbox's endpoints. */
export const WechatErrcode = {
  SYSTEM_ERROR: -1,
  INVALID_CREDENTIAL: 40001,
  INVALID_GRANT_TYPE: 40002,
  INVALID_OPENID: 40003,
  INVALID_FILE_TYPE: 40005,
  INVALID_IMAGE_SIZE: 40009,
  INVALID_APPID: 40013,
  INVALID_ACTION_INFO: 40053,
  INVALID_SERIAL_CODE: 40056,
  INVALID_CARD_TYPE: 40071,
  INVALID_CARD_ID: 40073,
  INVALID_ENCRYPT_CODE: 40075,
  INVALID_CARD_STATUS: 40078,
  INVALID_TIME: 40079,
  INVALID_ARGS: 40097,
  CODE_CONSUMED: 40099,
  INVALID_CARD_QUANTITY: 40122,
  INVALID_APPSECRET: 40125,
  INVALID_USER_CARD_STATUS: 40127,
  IP_NOT_WHITELISTED: 40164,
  ACCESS_TOKEN_MISSING: 41001,
  APPID_MISSING: 41002,
  APPSECRET_MISSING: 41004,
  MEDIA_DATA_MISSING: 41005,
  ACCESS_TOKEN_EXPIRED: 42001,
  REQUIRE_POST: 43002,
  REQUIRE_SUBSCRIBE: 43004,
  DAILY_QUOTA: 45009,
  REPLY_TIME_LIMIT: 45015,
  REPLY_COUNT_LIMIT: 45047,
  API_UNAUTHORIZED: 48001,
  STOCK_OUT_OF_LIMIT: 45031,
  GET_LIMIT_EXCEEDED: 45033,
  DATA_FORMAT_ERROR: 47001,
  INVALID_OAUTH_CODE: 40029,
  OAUTH_CODE_USED: 40163,
  CODE_MISSING: 41008,
  APPID_OPENID_MISMATCH: 43104,
  /** getuserriskrank: no recent visit of the openid to the mini-program ("code is expired"). */
  NO_RECENT_VISIT: 61010,
} as const;

/** WeChat's errmsg for each errcode, without the " rid: …" suffix. */
export const WECHAT_ERRMSG: Readonly<Record<number, string>> = {
  [WechatErrcode.SYSTEM_ERROR]: 'system error',
  [WechatErrcode.INVALID_CREDENTIAL]: 'invalid credential, access_token is invalid or not latest',
  [WechatErrcode.INVALID_GRANT_TYPE]: 'invalid grant_type',
  [WechatErrcode.INVALID_OPENID]: 'invalid openid',
  [WechatErrcode.INVALID_FILE_TYPE]: 'invalid file type',
  [WechatErrcode.INVALID_IMAGE_SIZE]: 'invalid image size',
  [WechatErrcode.INVALID_APPID]: 'invalid appid',
  [WechatErrcode.INVALID_ACTION_INFO]: 'invalid action info',
  [WechatErrcode.INVALID_SERIAL_CODE]: 'invalid serial code',
  [WechatErrcode.INVALID_CARD_TYPE]: 'invalid card type',
  [WechatErrcode.INVALID_CARD_ID]: 'invalid card id',
  [WechatErrcode.INVALID_ENCRYPT_CODE]: 'invalid encrypt code',
  [WechatErrcode.INVALID_CARD_STATUS]: 'invalid card status',
  [WechatErrcode.INVALID_TIME]: 'invalid time',
  [WechatErrcode.INVALID_ARGS]: 'invalid args',
  [WechatErrcode.CODE_CONSUMED]: 'invalid code, this code has consumed.',
  [WechatErrcode.INVALID_CARD_QUANTITY]: 'invalid card quantity',
  [WechatErrcode.INVALID_APPSECRET]: 'invalid appsecret',
  [WechatErrcode.INVALID_USER_CARD_STATUS]: 'invalid user-card status! Hint: the user may have consumed or deleted the user card!',
  [WechatErrcode.ACCESS_TOKEN_MISSING]: 'access_token missing',
  [WechatErrcode.APPID_MISSING]: 'appid missing',
  [WechatErrcode.APPSECRET_MISSING]: 'appsecret missing',
  [WechatErrcode.MEDIA_DATA_MISSING]: 'media data missing',
  [WechatErrcode.ACCESS_TOKEN_EXPIRED]: 'access_token expired',
  [WechatErrcode.REQUIRE_POST]: 'require POST method',
  [WechatErrcode.REQUIRE_SUBSCRIBE]: 'require subscribe',
  [WechatErrcode.DAILY_QUOTA]: 'reach max api daily quota limit',
  [WechatErrcode.REPLY_TIME_LIMIT]: 'response out of time limit or subscription is canceled',
  [WechatErrcode.REPLY_COUNT_LIMIT]: 'out of response count limit',
  [WechatErrcode.API_UNAUTHORIZED]: 'api unauthorized',
  [WechatErrcode.STOCK_OUT_OF_LIMIT]: 'stock is out of limit',
  [WechatErrcode.GET_LIMIT_EXCEEDED]: 'user get card num is out of get_limit',
  [WechatErrcode.DATA_FORMAT_ERROR]: 'data format error',
  [WechatErrcode.INVALID_OAUTH_CODE]: 'invalid code',
  [WechatErrcode.OAUTH_CODE_USED]: 'code been used',
  [WechatErrcode.CODE_MISSING]: 'missing code',
  [WechatErrcode.APPID_OPENID_MISMATCH]: 'appid not match openid',
  [WechatErrcode.NO_RECENT_VISIT]: 'code is expired',
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
