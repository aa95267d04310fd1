/**
 * The sandbox's own Pay v2 signer (reference/wechat-api.md §6, §8). Deliberately independent of
 * the product's `shared/signing`: the sandbox is the check on the product, so a shared bug
 * would pass both sides.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The `sign_type` values Pay v2 accepts; absent means MD5. */
export const PAY_SIGN_TYPES = ['MD5', 'HMAC-SHA256'] as const;
/** A Pay v2 signature algorithm. */
export type PaySignType = (typeof PAY_SIGN_TYPES)[number];

/**
 * Hex case of the wx.sendBizRedPacket paySign. UNVERIFIED: the official rule ("3.2.2节") could
 * not be opened; lowercase comes from community answers ("MD5签名小写") and gochat's
 * MinipRedpackJSAPI (reference §8 "Not pinned down"). Change it here and only here.
 */
export const BIZ_RED_PACKET_PAYSIGN_CASE: 'lower' | 'upper' = 'lower';

/** `k=v&…&key=<apiKey>`: non-empty fields except `sign`, in ASCII order of the names. */
export function payStringSignTemp(fields: Readonly<Record<string, string>>, apiKey: string): string {
  const pairs = Object.keys(fields)
    .filter((name) => name !== 'sign' && fields[name] !== '')
    // Plain code-unit comparison: the ASCII order WeChat asks for (localeCompare would not be).
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((name) => `${name}=${fields[name]}`);
  return `${pairs.join('&')}&key=${apiKey}`;
}

/** The Pay v2 `sign`: uppercase hex MD5, or HMAC-SHA256 keyed with the API key over the same string. */
export function payV2Sign(fields: Readonly<Record<string, string>>, apiKey: string, signType: PaySignType): string {
  const message = payStringSignTemp(fields, apiKey);
  const digest = signType === 'MD5'
    ? createHash('md5').update(message, 'utf8').digest('hex')
    : createHmac('sha256', apiKey).update(message, 'utf8').digest('hex');
  return digest.toUpperCase();
}

/**
 * The wx.sendBizRedPacket paySign: appId, nonceStr, package (the URL-encoded value as passed)
 * and timeStamp, but NOT signType; `&key=`, MD5, hex in {@link BIZ_RED_PACKET_PAYSIGN_CASE}.
 */
export function bizRedPacketPaySign(
  params: { appId: string; nonceStr: string; package: string; timeStamp: string },
  apiKey: string,
): string {
  const fields = { appId: params.appId, nonceStr: params.nonceStr, package: params.package, timeStamp: params.timeStamp };
  const digest = createHash('md5').update(payStringSignTemp(fields, apiKey), 'utf8').digest('hex');
  return BIZ_RED_PACKET_PAYSIGN_CASE === 'lower' ? digest : digest.toUpperCase();
}

/** Constant-time string equality (a timing leak would let a caller guess a signature byte by byte). */
export function safeEqual(actual: string, expected: string): boolean {
  const a = Buffer.from(actual, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
