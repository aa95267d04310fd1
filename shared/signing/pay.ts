/**
 * WeChat Pay API v2 request signing (reference/wechat-api.md §6).
 * https://pay.weixin.qq.com/wiki/doc/api/tools/cash_coupon.php?chapter=4_3 (安全规范)
 */
import { InputError } from '../errors';
import { compareCodePoints, hmacSha256Hex, md5Hex } from './hash';
import { requireCredential } from './validate';

/** The two Pay v2 signature algorithms; MD5 is the default wherever `sign_type` is absent. */
export type PayV2SignType = 'MD5' | 'HMAC-SHA256';

/** Pay v2 parameters: strings, whole numbers (amounts in fen), or `undefined` for "not sent". */
export type PayV2Params = Readonly<Record<string, string | number | undefined>>;

const PAY_FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Pay v2 field names are XML element names and signing-string keys, so `=`, `&` or `<` never
 * occur. Names of Object.prototype members (constructor, __proto__…) are refused too: xml2js
 * cannot read them back faithfully and no Pay field is called that.
 */
export function isPayFieldName(name: string): boolean {
  return PAY_FIELD_NAME.test(name) && !(name in Object.prototype);
}

/**
 * The Pay v2 `sign`: parameters except `sign` and empty ones, sorted by name, joined as
 * `k=v&…&key=<APIv2 key>`, then MD5 or HMAC-SHA256 (keyed with the same API key), uppercase
 * hex. Values are the raw UTF-8 strings (中文 included), never URL-encoded.
 *
 * Red-packet APIs take no `sign_type`: leave it out of `params` for them (WxJava#726).
 */
export function payV2Sign(params: PayV2Params, apiKey: string, signType: PayV2SignType = 'MD5'): string {
  const key = requireCredential(apiKey, 'apiKey');
  if (signType !== 'MD5' && signType !== 'HMAC-SHA256') throw new InputError('signType must be MD5 or HMAC-SHA256', 'signType');
  const pairs = payFieldsToSign(params);
  // A request that says sign_type=HMAC-SHA256 but is signed with MD5 fails upstream with
  // SIGN_ERROR; catching the mismatch here names the cause.
  const declared = pairs.find(([name]) => name === 'sign_type')?.[1];
  if (declared !== undefined && declared !== signType) {
    throw new InputError('params.sign_type disagrees with the signType used to sign', 'sign_type');
  }
  const signingString = `${pairs.map(([name, value]) => `${name}=${value}`).join('&')}&key=${key}`;
  const digest = signType === 'MD5' ? md5Hex(signingString) : hmacSha256Hex(key, signingString);
  return digest.toUpperCase();
}

/** The `[name, value]` pairs that enter a Pay v2 signature, sorted by name. */
function payFieldsToSign(params: PayV2Params): Array<[string, string]> {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new InputError('params must be an object of Pay v2 fields', 'params');
  }
  const pairs: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(params)) {
    if (!isPayFieldName(name)) throw new InputError(`Pay field name ${JSON.stringify(name)} is not a valid name`, name);
    if (name === 'sign' || value === undefined || value === '') continue;
    pairs.push([name, payScalarText(value, name)]);
  }
  return pairs.sort(([a], [b]) => compareCodePoints(a, b));
}

/** The text of one Pay v2 value: strings as they are, whole numbers in decimal; anything else is a bug. */
export function payScalarText(value: unknown, name: string): string {
  if (typeof value === 'string') return value;
  // Pay v2 numbers are whole fen and counts; 1.5 or NaN would be a silent wrong amount.
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  throw new InputError(`Pay field ${name} must be a string or a whole number`, name);
}
