/**
 * JS-SDK `wx.config` signature (reference/wechat-api.md §5).
 * https://developers.weixin.qq.com/doc/offiaccount/OA_Web_Apps/JS-SDK.html (附录1)
 */
import { InputError } from '../errors';
import { sha1Hex } from './hash';
import { requireCredential, requireNonce, requireOptions, requireSeconds, requireString } from './validate';

/** Inputs of the `wx.config` signature; nonceStr and timestamp must equal those passed to wx.config. */
export interface JsapiSignatureInput {
  /** The `jsapi` ticket (not the card api_ticket). */
  jsapiTicket: string;
  nonceStr: string;
  /** Unix seconds. */
  timestamp: number | string;
  /** The full page URL; any `#fragment` is removed here, as WeChat does before checking. */
  url: string;
}

/**
 * Lowercase hex SHA1 of `jsapi_ticket=…&noncestr=…&timestamp=…&url=…`: keys in ASCII order,
 * raw values, no URL escaping.
 */
export function jsapiSignature(input: JsapiSignatureInput): string {
  const options = requireOptions(input, ['jsapiTicket', 'nonceStr', 'timestamp', 'url'], 'jsapiSignature');
  const ticket = requireCredential(options.jsapiTicket, 'jsapiTicket');
  const nonceStr = requireNonce(options.nonceStr, 'nonceStr');
  const timestamp = requireSeconds(options.timestamp, 'timestamp');
  const url = requireString(options.url, 'url').split('#', 1)[0] ?? '';
  if (url.length === 0) throw new InputError('url must not be empty before its #fragment', 'url');
  return sha1Hex(`jsapi_ticket=${ticket}&noncestr=${nonceStr}&timestamp=${timestamp}&url=${url}`);
}
