/**
 * WeChat Pay APIv3 signing, verification and encryption (reference/pay-v3-transfer.md §4), as
 * pure functions: the clock and every nonce are inputs, keys are passed in, nothing is read or
 * logged. https://wechatpay-api.gitbook.io/wechatpay-api-v3/qian-ming-zhi-nan-1/qian-ming-sheng-cheng
 * (签名生成) and .../qian-ming-yan-zheng (签名验证); sensitive fields:
 * https://pay.weixin.qq.com/docs/partner/development/interface-rules/sensitive-data-encryption.html
 */
import {
  constants, createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, privateDecrypt, publicEncrypt, sign, verify,
  type KeyObject,
} from 'node:crypto';
import { CryptoError, InputError } from '../errors';
import { requireNonce, requireOptions, requireSeconds, requireString } from './validate';

/** The one signature type APIv3 has: the `Authorization` scheme and `Wechatpay-Signature-Type`. */
export const PAY_V3_SIGNATURE_TYPE = 'WECHATPAY2-SHA256-RSA2048';
/** Responses and notifies older or newer than this are refused (every official SDK uses 5 minutes). */
export const PAY_V3_MAX_CLOCK_SKEW_SECONDS = 300;
/**
 * WeChat Pay sends probe notifies whose signature starts with this; they must fail verification
 * (prefix from the official sample header; its meaning is inferred, reference §3 step 3).
 */
export const PAY_V3_SIGNATURE_PROBE_PREFIX = 'WECHATPAY/SIGNTEST/';

/** A PEM string or an already parsed key (parse once per instance: KeyObjects are reusable). */
export type PayV3Key = KeyObject | string;

/** What a request signature covers. */
export interface PayV3SigningStringInput {
  /** Upper-case, as sent: `GET`, `POST`. */
  method: string;
  /** Path plus `?query` exactly as sent (percent-encoding included), without scheme and host. */
  url: string;
  timestamp: number | string;
  nonce: string;
  /** The exact body sent; `''` for GET and for a POST without a body (cancel). */
  body: string;
}

/** A request to sign with the merchant's API private key. */
export interface PayV3AuthorizationInput extends PayV3SigningStringInput {
  mchId: string;
  /** The serial of the merchant API certificate (never WeChat's public key id or platform serial). */
  serialNo: string;
  privateKey: PayV3Key;
}

/** A signed response or notify, as its `Wechatpay-*` headers and raw body carry it. */
export interface PayV3SignedMessage {
  timestamp: string | undefined;
  nonce: string | undefined;
  signature: string | undefined;
  /** `Wechatpay-Serial`: a `PUB_KEY_ID_…` public-key id or a platform certificate serial. */
  serial: string | undefined;
  /** The raw body bytes as received (never a re-serialised object); `''` for an empty body. */
  body: string | Buffer;
}

/** Why a response or notify did not verify (for logs; the answer to the sender is the same for all). */
export type PayV3VerifyFailure = 'missing_header' | 'probe' | 'stale_timestamp' | 'unknown_serial' | 'bad_signature';

export type PayV3Verification = { ok: true; serial: string } | { ok: false; reason: PayV3VerifyFailure };

/** AEAD_AES_256_GCM inputs: notify `resource` fields and platform certificate downloads. */
export interface AeadAesGcmInput {
  /** The APIv3 key (its ASCII bytes). 32 bytes in production; 16 bytes (AES-128) only in SDK test vectors. */
  key: string | Buffer;
  /** The `nonce` field: its UTF-8 bytes are the IV (12 characters from WeChat). */
  nonce: string;
  /** The `associated_data` field; may be empty. */
  associatedData: string;
}

const METHOD = /^[A-Z]+$/;
// A URL line may not break the five-line signing string; anything else is signed as it is sent.
const URL_LINE = /^\/[^\s]*$/;
const SIGNATURE_BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const DIGITS = /^[0-9]{1,12}$/;
const GCM_TAG_BYTES = 16;
const AES_GCM_BY_KEY_BYTES: Readonly<Record<number, 'aes-128-gcm' | 'aes-256-gcm'>> = { 16: 'aes-128-gcm', 32: 'aes-256-gcm' };
// RSAES-OAEP with SHA-1 on a 2048-bit key: 256 − 2·20 − 2 bytes of plaintext at most.
const OAEP_SHA1_OVERHEAD_BYTES = 42;

/**
 * The request signing string: `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`, every line ended by `\n`,
 * the last too, and the body verbatim (a body that itself ends in `\n` still gets one more).
 * wechatpay-go `core/auth/credentials/wechat_pay_credential.go`.
 */
export function payV3SigningString(input: PayV3SigningStringInput): string {
  const options = requireOptions(input, ['method', 'url', 'timestamp', 'nonce', 'body'], 'payV3SigningString');
  const method = requireString(options.method, 'method');
  // A lower-case method would be signed one way and sent another (HTTP clients upper-case it).
  if (!METHOD.test(method)) throw new InputError('method must be upper-case letters (GET, POST)', 'method');
  const url = requireString(options.url, 'url');
  if (!URL_LINE.test(url)) throw new InputError('url must be the path (and query) as sent, starting with / and without whitespace', 'url');
  const timestamp = requireSeconds(options.timestamp, 'timestamp');
  const nonce = requireNonce(options.nonce, 'nonce');
  const body = requireString(options.body, 'body', { allowEmpty: true });
  return `${method}\n${url}\n${timestamp}\n${nonce}\n${body}\n`;
}

/** base64 RSASSA-PKCS1-v1_5 SHA-256 over the UTF-8 bytes of `message` (deterministic). */
export function rsaSha256Sign(message: string | Buffer, privateKey: PayV3Key): string {
  const key = asPrivateKey(privateKey);
  return sign('sha256', typeof message === 'string' ? Buffer.from(message, 'utf8') : message, key).toString('base64');
}

/**
 * The `Authorization` header value of a request:
 * `WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",timestamp="…",serial_no="…",signature="…"`
 * (the item order of wechatpay-go's credential test; WeChat accepts any order).
 */
export function payV3Authorization(input: PayV3AuthorizationInput): string {
  const options = requireOptions(input, ['method', 'url', 'timestamp', 'nonce', 'body', 'mchId', 'serialNo', 'privateKey'], 'payV3Authorization');
  const mchId = requireHeaderValue(options.mchId, 'mchId');
  const serialNo = requireHeaderValue(options.serialNo, 'serialNo');
  const signingString = payV3SigningString({
    method: options.method as string,
    url: options.url as string,
    timestamp: options.timestamp as number | string,
    nonce: options.nonce as string,
    body: options.body as string,
  });
  const signature = rsaSha256Sign(signingString, options.privateKey as PayV3Key);
  const timestamp = requireSeconds(options.timestamp, 'timestamp');
  const nonce = requireHeaderValue(options.nonce, 'nonce');
  return `${PAY_V3_SIGNATURE_TYPE} mchid="${mchId}",nonce_str="${nonce}",timestamp="${timestamp}",serial_no="${serialNo}",signature="${signature}"`;
}

/** What WeChat signs in responses and notifies: `TIMESTAMP\nNONCE\nBODY\n`, over the raw body bytes. */
export function payV3MessageBytes(timestamp: string, nonce: string, body: string | Buffer): Buffer {
  const bodyBytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return Buffer.concat([Buffer.from(`${timestamp}\n${nonce}\n`, 'utf8'), bodyBytes, Buffer.from('\n', 'utf8')]);
}

/**
 * Verifies a response or notify: all four headers present, |now − timestamp| < 300 s, not a
 * `WECHATPAY/SIGNTEST/` probe, a key known under `Wechatpay-Serial`, and the RSA-SHA256
 * signature over `timestamp\nnonce\nbody\n`. Malformed input is "not verified", never an
 * exception, so a notify handler answers every forgery the same way.
 */
export function verifyPayV3Signature(
  message: PayV3SignedMessage,
  options: { publicKeys: ReadonlyMap<string, KeyObject>; nowMs: number; maxClockSkewSeconds?: number },
): PayV3Verification {
  const { timestamp, nonce, signature, serial, body } = message;
  if (!isText(timestamp) || !isText(nonce) || !isText(signature) || !isText(serial) || (typeof body !== 'string' && !Buffer.isBuffer(body))) {
    return { ok: false, reason: 'missing_header' };
  }
  if (signature.startsWith(PAY_V3_SIGNATURE_PROBE_PREFIX)) return { ok: false, reason: 'probe' };
  if (!DIGITS.test(timestamp)) return { ok: false, reason: 'stale_timestamp' };
  const skewSeconds = Math.abs(Math.floor(options.nowMs / 1000) - Number(timestamp));
  if (!(skewSeconds < (options.maxClockSkewSeconds ?? PAY_V3_MAX_CLOCK_SKEW_SECONDS))) return { ok: false, reason: 'stale_timestamp' };
  // A Map, not an object: an attacker-chosen serial such as `__proto__` finds nothing.
  const publicKey = options.publicKeys.get(serial);
  if (publicKey === undefined) return { ok: false, reason: 'unknown_serial' };
  if (!SIGNATURE_BASE64.test(signature)) return { ok: false, reason: 'bad_signature' };
  let valid = false;
  try {
    valid = verify('sha256', payV3MessageBytes(timestamp, nonce, body), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    valid = false;
  }
  return valid ? { ok: true, serial } : { ok: false, reason: 'bad_signature' };
}

/**
 * Decrypts an AEAD_AES_256_GCM `ciphertext` (base64 of ciphertext ‖ 16-byte tag) into UTF-8 text.
 * A wrong key, nonce, associated data or a tampered ciphertext is a {@link CryptoError}.
 */
export function decryptAeadAesGcm(input: AeadAesGcmInput & { ciphertext: string }): string {
  const options = requireOptions(input, ['key', 'nonce', 'associatedData', 'ciphertext'], 'decryptAeadAesGcm');
  const { algorithm, key, iv, aad } = gcmParameters(options);
  const ciphertext = requireString(options.ciphertext, 'ciphertext');
  if (!SIGNATURE_BASE64.test(ciphertext)) throw new CryptoError('AEAD_AES_256_GCM ciphertext is not base64');
  const data = Buffer.from(ciphertext, 'base64');
  if (data.length < GCM_TAG_BYTES) throw new CryptoError('AEAD_AES_256_GCM ciphertext is shorter than its 16-byte tag');
  try {
    const decipher = createDecipheriv(algorithm, key, iv);
    decipher.setAAD(aad);
    decipher.setAuthTag(data.subarray(data.length - GCM_TAG_BYTES));
    const plaintext = Buffer.concat([decipher.update(data.subarray(0, data.length - GCM_TAG_BYTES)), decipher.final()]);
    return plaintext.toString('utf8');
  } catch (error) {
    throw new CryptoError('AEAD_AES_256_GCM decryption failed: wrong APIv3 key, nonce or associated data, or a tampered ciphertext', { cause: plainCause(error) });
  }
}

/** Encrypts UTF-8 text as WeChat does (base64 of ciphertext ‖ tag); the nonce is an input, never reuse one per key. */
export function encryptAeadAesGcm(input: AeadAesGcmInput & { plaintext: string }): string {
  const options = requireOptions(input, ['key', 'nonce', 'associatedData', 'plaintext'], 'encryptAeadAesGcm');
  const { algorithm, key, iv, aad } = gcmParameters(options);
  const plaintext = requireString(options.plaintext, 'plaintext', { allowEmpty: true });
  const cipher = createCipheriv(algorithm, key, iv);
  cipher.setAAD(aad);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return data.toString('base64');
}

/**
 * Encrypts a sensitive field (`user_name`) for WeChat: RSAES-OAEP with SHA-1 and MGF1-SHA-1
 * (Java `RSA/ECB/OAEPWithSHA-1AndMGF1Padding`) under WeChat Pay's public key or platform
 * certificate, base64. Randomised: the same name gives a new ciphertext every time.
 */
export function encryptPayV3SensitiveField(plaintext: string, publicKey: PayV3Key): string {
  const text = requireString(plaintext, 'plaintext');
  const key = asPublicKey(publicKey);
  const modulusBytes = Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 2048) / 8);
  if (Buffer.byteLength(text, 'utf8') > modulusBytes - OAEP_SHA1_OVERHEAD_BYTES) {
    throw new InputError(`the field is longer than RSA-OAEP can carry (${modulusBytes - OAEP_SHA1_OVERHEAD_BYTES} UTF-8 bytes)`, 'plaintext');
  }
  return publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from(text, 'utf8')).toString('base64');
}

/** Decrypts a sensitive field WeChat encrypted for the merchant (query `user_name`) with the merchant API private key. */
export function decryptPayV3SensitiveField(ciphertext: string, privateKey: PayV3Key): string {
  const text = requireString(ciphertext, 'ciphertext');
  if (!SIGNATURE_BASE64.test(text)) throw new CryptoError('the encrypted field is not base64');
  try {
    return privateDecrypt({ key: asPrivateKey(privateKey), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from(text, 'base64')).toString('utf8');
  } catch (error) {
    throw new CryptoError('the encrypted field does not decrypt with this private key (RSA-OAEP SHA-1)', { cause: plainCause(error) });
  }
}

function gcmParameters(options: Record<string, unknown>): { algorithm: 'aes-128-gcm' | 'aes-256-gcm'; key: Buffer; iv: Buffer; aad: Buffer } {
  const rawKey = options.key;
  if (typeof rawKey !== 'string' && !Buffer.isBuffer(rawKey)) throw new InputError('key must be the APIv3 key (a string or bytes)', 'key');
  const key = typeof rawKey === 'string' ? Buffer.from(rawKey, 'utf8') : rawKey;
  const algorithm = AES_GCM_BY_KEY_BYTES[key.length];
  // The key's length, never the key: it must not reach a log.
  if (algorithm === undefined) throw new InputError(`the APIv3 key must be 32 bytes (got ${key.length})`, 'key');
  const nonce = requireString(options.nonce, 'nonce');
  const associatedData = requireString(options.associatedData, 'associatedData', { allowEmpty: true });
  return { algorithm, key, iv: Buffer.from(nonce, 'utf8'), aad: Buffer.from(associatedData, 'utf8') };
}

function asPrivateKey(key: PayV3Key): KeyObject {
  if (typeof key !== 'string') {
    if (key.type !== 'private') throw new InputError('expected a private key', 'privateKey');
    return key;
  }
  try {
    return createPrivateKey(key);
  } catch (error) {
    throw new CryptoError('the private key is not a readable PEM private key', { cause: plainCause(error) });
  }
}

function asPublicKey(key: PayV3Key): KeyObject {
  if (typeof key !== 'string') {
    // A private key would "work" (its public half is derived) and hide a configuration mix-up.
    if (key.type !== 'public') throw new InputError('expected a public key', 'publicKey');
    return key;
  }
  if (/PRIVATE KEY-----/.test(key)) throw new InputError('expected a public key or certificate, got a private key', 'publicKey');
  try {
    return createPublicKey(key);
  } catch (error) {
    throw new CryptoError('the public key is not a readable PEM public key or certificate', { cause: plainCause(error) });
  }
}

// Header items are quoted: a quote, comma or control character would split the header.
function requireHeaderValue(value: unknown, field: string): string {
  const text = requireString(value, field);
  if (!/^[\x21-\x7e]+$/.test(text) || /[",]/.test(text)) throw new InputError(`${field} must be printable ASCII without quotes or commas`, field);
  return text;
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/** OpenSSL errors carry no key material, but keep only name and message anyway. */
function plainCause(error: unknown): Error {
  const plain = new Error(error instanceof Error ? error.message : 'crypto failure');
  plain.name = error instanceof Error ? error.name : 'Error';
  return plain;
}
