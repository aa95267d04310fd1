/** Hex digests over UTF-8 text: the only hash primitives the signing rules use. */
import { createHash, createHmac } from 'node:crypto';

/** Lowercase hex SHA1 of the UTF-8 bytes of `text`. */
export function sha1Hex(text: string): string {
  return createHash('sha1').update(text, 'utf8').digest('hex');
}

/** Lowercase hex MD5 of the UTF-8 bytes of `text`. */
export function md5Hex(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

/** Lowercase hex HMAC-SHA256 of the UTF-8 bytes of `text` under `key`. */
export function hmacSha256Hex(key: string, text: string): string {
  return createHmac('sha256', key).update(text, 'utf8').digest('hex');
}

/**
 * Orders strings by Unicode code point, which is the byte order of their UTF-8 form and what
 * Go's sort.Strings and Python's sorted() do. The default JS sort uses UTF-16 units and would
 * order characters beyond U+FFFF differently.
 */
export function compareCodePoints(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * SHA1 of the values sorted by code point and concatenated without separator: the rule shared
 * by the cardExt signature and the push signatures (wechatpy's WeChatSigner, chanxuehong's CardSign).
 */
export function sortedConcatSha1(values: readonly string[]): string {
  return sha1Hex([...values].sort(compareCodePoints).join(''));
}
