/**
 * WeChat's side of push signing and encryption (WXBizMsgCrypt, reference/official-accounts.md
 * §2.2–§2.7), written here from the documented algorithm and independently of the product's
 * `shared/signing`, so that a mistake shared by both cannot pass the end-to-end tests.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** sha1 of the values sorted as strings and joined without separator, lowercase hex. */
export function sortedSha1(values: readonly string[]): string {
  return createHash('sha1').update([...values].sort().join(''), 'utf8').digest('hex');
}

function keyOf(encodingAESKey: string): Buffer {
  const key = Buffer.from(`${encodingAESKey}=`, 'base64');
  if (key.length !== 32) throw new Error('EncodingAESKey must decode to 32 bytes');
  return key;
}

/** random(16) ‖ length(4, big-endian, UTF-8 bytes) ‖ message ‖ appid, PKCS#7 to 32 bytes, AES-256-CBC (IV = key[0..16)), base64. */
export function wechatEncrypt(encodingAESKey: string, appid: string, message: string): string {
  const key = keyOf(encodingAESKey);
  const body = Buffer.from(message, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length, 0);
  const plain = Buffer.concat([randomBytes(16), length, body, Buffer.from(appid, 'utf8')]);
  const pad = 32 - (plain.length % 32);
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
  return Buffer.concat([cipher.update(Buffer.concat([plain, Buffer.alloc(pad, pad)])), cipher.final()]).toString('base64');
}

/** The message inside a reply's Encrypt, checking padding and the trailing appid; throws on anything wrong. */
export function wechatDecrypt(encodingAESKey: string, appid: string, encrypted: string): string {
  const key = keyOf(encodingAESKey);
  const data = Buffer.from(encrypted, 'base64');
  if (data.length === 0 || data.length % 32 !== 0) throw new Error('ciphertext is not whole 32-byte blocks');
  const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
  const plain = Buffer.concat([decipher.update(data), decipher.final()]);
  const pad = plain[plain.length - 1]!;
  if (pad < 1 || pad > 32) throw new Error('bad padding');
  const content = plain.subarray(0, plain.length - pad);
  const length = content.readUInt32BE(16);
  if (20 + length > content.length) throw new Error('bad length');
  if (content.subarray(20 + length).toString('utf8') !== appid) throw new Error('the reply is encrypted for another appid');
  return content.subarray(20, 20 + length).toString('utf8');
}

export function sameHex(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
