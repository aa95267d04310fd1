/**
 * The sandbox's own APIv3 crypto (reference/pay-v3-transfer.md §4). Deliberately independent of
 * the product's `shared/signing/pay-v3.ts`: the sandbox is the check on the product, so a bug
 * shared by both would pass both.
 */
import {
  constants, createCipheriv, privateDecrypt, publicEncrypt, randomInt, sign, verify, type KeyObject,
} from 'node:crypto';

/** The one scheme APIv3 accepts. */
export const AUTH_SCHEME = 'WECHATPAY2-SHA256-RSA2048';

/** The items of an `Authorization` header. */
export interface AuthorizationItems {
  mchid: string;
  nonce_str: string;
  timestamp: string;
  serial_no: string;
  signature: string;
}

const ITEM = /^\s*([a-z_]+)="([^"]*)"\s*$/;
const ITEM_NAMES = ['mchid', 'nonce_str', 'timestamp', 'serial_no', 'signature'] as const;
const NONCE_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * Parses `WECHATPAY2-SHA256-RSA2048 k="v",…` (items in any order); `scheme` when the scheme is
 * another, `format` when anything is missing, repeated or malformed.
 */
export function parseAuthorization(header: string | undefined): AuthorizationItems | 'scheme' | 'format' {
  if (header === undefined || header.trim() === '') return 'format';
  const space = header.indexOf(' ');
  if (space < 0) return 'format';
  if (header.slice(0, space) !== AUTH_SCHEME) return 'scheme';
  const items: Partial<Record<string, string>> = {};
  for (const part of header.slice(space + 1).split(',')) {
    const match = ITEM.exec(part);
    if (match === null) return 'format';
    const [, name, value] = match as unknown as [string, string, string];
    if (items[name] !== undefined || value === '') return 'format';
    items[name] = value;
  }
  if (!ITEM_NAMES.every((name) => items[name] !== undefined)) return 'format';
  return items as unknown as AuthorizationItems;
}

/** `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n` over the raw body bytes. */
export function requestSigningBytes(method: string, url: string, timestamp: string, nonce: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${method}\n${url}\n${timestamp}\n${nonce}\n`, 'utf8'), body, Buffer.from('\n', 'utf8')]);
}

/** `TIMESTAMP\nNONCE\nBODY\n`: what the sandbox signs in answers and notifies. */
export function messageBytes(timestamp: string, nonce: string, body: Buffer | string): Buffer {
  return Buffer.concat([Buffer.from(`${timestamp}\n${nonce}\n`, 'utf8'), Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'), Buffer.from('\n', 'utf8')]);
}

export function rsaSign(message: Buffer, privateKey: KeyObject): string {
  return sign('sha256', message, privateKey).toString('base64');
}

export function rsaVerify(message: Buffer, signatureBase64: string, publicKey: KeyObject): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signatureBase64)) return false;
  try {
    return verify('sha256', message, publicKey, Buffer.from(signatureBase64, 'base64'));
  } catch {
    return false;
  }
}

/** AEAD_AES_256_GCM as WeChat sends it: base64(ciphertext ‖ 16-byte tag), IV = the nonce's bytes. */
export function aesGcmEncrypt(apiV3Key: string, nonce: string, associatedData: string, plaintext: string): string {
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(apiV3Key, 'utf8'), Buffer.from(nonce, 'utf8'));
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  return Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64');
}

/** RSA-OAEP (SHA-1) decryption of a field the merchant encrypted for a WeChat key; undefined when it does not decrypt. */
export function oaepDecrypt(ciphertextBase64: string, privateKey: KeyObject): string | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(ciphertextBase64)) return undefined;
  try {
    return privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from(ciphertextBase64, 'base64')).toString('utf8');
  } catch {
    return undefined;
  }
}

/** RSA-OAEP (SHA-1) for the merchant: how queries return `user_name` (encrypted with the merchant certificate). */
export function oaepEncrypt(plaintext: string, publicKey: KeyObject): string {
  return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from(plaintext, 'utf8')).toString('base64');
}

/** A crypto-random nonce of [0-9A-Za-z] (32 characters for signatures, 12 for AES-GCM). */
export function randomNonce(length: number): string {
  return Array.from({ length }, () => NONCE_ALPHABET[randomInt(NONCE_ALPHABET.length)]).join('');
}
