/**
 * Safe-mode message encryption of official-account pushes and replies (WXBizMsgCrypt,
 * reference/wechat-api.md §9).
 * https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/Technical_Plan.html
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CryptoError, InputError, SignatureError } from '../errors';
import { pushSignature, verifyPushSignature } from './push';
import { requireOptions, requireSeconds, requireString } from './validate';

/**
 * Largest message accepted in either direction. Pushes and passive replies are a few KB; the
 * bound keeps a forged or garbled body from costing a large allocation.
 */
export const MAX_PUSH_MESSAGE_BYTES = 1024 * 1024;

// Every ciphertext is whole 32-byte blocks of random(16) + length(4) + message + appid + padding.
const MAX_ENCRYPTED_CHARS = Math.ceil((MAX_PUSH_MESSAGE_BYTES + 1024) / 3) * 4;

/** WXBizMsgCrypt pads with PKCS#7 to 32 bytes, not to the 16-byte AES block. */
const PAD_BLOCK_BYTES = 32;
const RANDOM_BYTES = 16;
const PREFIX_BYTES = RANDOM_BYTES + 4;

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const REPLY_NONCE = /^[0-9A-Za-z]{1,32}$/;
// Only lone surrogates match with the u flag; they cannot be encoded as UTF-8 and would come
// back from a round trip as U+FFFD.
const LONE_SURROGATE = /\p{Surrogate}/u;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Inputs of {@link encryptMessage}. */
export interface EncryptMessageInput {
  /** The 43-character EncodingAESKey from the server configuration. */
  encodingAESKey: string;
  /** The official account's appid, appended to the plaintext and checked by the receiver. */
  appId: string;
  /** The message (a reply XML) to encrypt. */
  xml: string;
  /** Exactly 16 bytes (a 16-byte UTF-8 string or bytes); defaults to crypto-random. Tests pin it. */
  random?: string | Uint8Array;
}

/** Inputs of {@link decryptMessage}. */
export interface DecryptMessageInput {
  encodingAESKey: string;
  /** The appid the message must be addressed to. */
  appId: string;
  /** The base64 `<Encrypt>` value. */
  encrypted: string;
}

/** Inputs of {@link buildEncryptedReply}. */
export interface EncryptedReplyInput extends EncryptMessageInput {
  /** The Token configured for the server URL. */
  token: string;
  /** Unix seconds. */
  timestamp: number | string;
  /** 1–32 characters of [0-9A-Za-z]. */
  nonce: string;
}

/** Inputs of {@link decryptPushMessage}: the body's Encrypt value and the query's signature fields. */
export interface DecryptPushInput extends DecryptMessageInput {
  token: string;
  timestamp: string;
  nonce: string;
  /** `msg_signature` from the query string. */
  msgSignature: string;
}

/** AES-256-CBC of random(16) ‖ uint32be(length) ‖ message ‖ appId, PKCS#7-padded to 32 bytes, base64. */
export function encryptMessage(input: EncryptMessageInput): string {
  const options = requireOptions(input, ['encodingAESKey', 'appId', 'xml', 'random'], 'encryptMessage');
  return encrypt(options);
}

/**
 * The message inside an `<Encrypt>` value, after checking padding, length and app id. AES-CBC
 * carries no integrity: check `msg_signature` first, or use {@link decryptPushMessage}.
 */
export function decryptMessage(input: DecryptMessageInput): string {
  const options = requireOptions(input, ['encodingAESKey', 'appId', 'encrypted'], 'decryptMessage');
  const key = aesKeyOf(options.encodingAESKey);
  const appId = requireString(options.appId, 'appId');
  const cipherBytes = ciphertextOf(options.encrypted);

  const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
  decipher.setAutoPadding(false);
  const plain = Buffer.concat([decipher.update(cipherBytes), decipher.final()]);

  const content = plain.subarray(0, plain.length - paddingLength(plain));
  if (content.length < PREFIX_BYTES) throw new CryptoError('Encrypted message is truncated');
  const messageBytes = content.readUInt32BE(RANDOM_BYTES);
  if (messageBytes > content.length - PREFIX_BYTES) throw new CryptoError('Encrypted message length field exceeds its data');
  const messageEnd = PREFIX_BYTES + messageBytes;
  if (!content.subarray(messageEnd).equals(Buffer.from(appId, 'utf8'))) {
    throw new CryptoError('Encrypted message is addressed to another app id');
  }
  try {
    return utf8.decode(content.subarray(PREFIX_BYTES, messageEnd));
  } catch {
    throw new CryptoError('Encrypted message is not valid UTF-8');
  }
}

/**
 * Verifies `msg_signature` (constant time) and then decrypts: the one safe way to open a
 * safe-mode push. A mismatch is a {@link SignatureError}; decryption failures a {@link CryptoError}.
 */
export function decryptPushMessage(input: DecryptPushInput): string {
  const options = requireOptions(
    input,
    ['token', 'encodingAESKey', 'appId', 'timestamp', 'nonce', 'msgSignature', 'encrypted'],
    'decryptPushMessage',
  );
  // Without an Encrypt value the check would degrade to the plain URL signature.
  if (typeof options.encrypted !== 'string' || options.encrypted === '') throw new CryptoError('Encrypted message is empty');
  const verified = verifyPushSignature({
    token: options.token as string,
    timestamp: options.timestamp as string,
    nonce: options.nonce as string,
    encrypt: options.encrypted as string,
    signature: options.msgSignature as string,
  });
  if (!verified) throw new SignatureError('msg_signature does not match the encrypted push');
  return decryptMessage({
    encodingAESKey: options.encodingAESKey as string,
    appId: options.appId as string,
    encrypted: options.encrypted as string,
  });
}

/**
 * The encrypted passive reply, in the envelope wechatpy and the official SDK write:
 * Encrypt, MsgSignature, TimeStamp, Nonce.
 */
export function buildEncryptedReply(input: EncryptedReplyInput): string {
  const options = requireOptions(
    input,
    ['token', 'encodingAESKey', 'appId', 'xml', 'random', 'timestamp', 'nonce'],
    'buildEncryptedReply',
  );
  const timestamp = requireSeconds(options.timestamp, 'timestamp');
  const nonce = requireString(options.nonce, 'nonce');
  // The nonce is written inside CDATA; restricting it to [0-9A-Za-z] keeps `]]>` out.
  if (!REPLY_NONCE.test(nonce)) throw new InputError('nonce must be 1-32 characters of [0-9A-Za-z]', 'nonce');
  const encrypted = encrypt(options);
  const msgSignature = pushSignature({ token: options.token as string, timestamp, nonce, encrypt: encrypted });
  return [
    '<xml>',
    `<Encrypt><![CDATA[${encrypted}]]></Encrypt>`,
    `<MsgSignature><![CDATA[${msgSignature}]]></MsgSignature>`,
    `<TimeStamp>${timestamp}</TimeStamp>`,
    `<Nonce><![CDATA[${nonce}]]></Nonce>`,
    '</xml>',
  ].join('\n');
}

function encrypt(options: Record<string, unknown>): string {
  const key = aesKeyOf(options.encodingAESKey);
  const appId = requireString(options.appId, 'appId');
  const xml = requireString(options.xml, 'xml', { allowEmpty: true });
  if (LONE_SURROGATE.test(xml) || LONE_SURROGATE.test(appId)) {
    throw new InputError('xml and appId must be well-formed Unicode', LONE_SURROGATE.test(xml) ? 'xml' : 'appId');
  }
  const message = Buffer.from(xml, 'utf8');
  if (message.length > MAX_PUSH_MESSAGE_BYTES) throw new InputError(`xml must be at most ${MAX_PUSH_MESSAGE_BYTES} bytes`, 'xml');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(message.length);
  const unpadded = Buffer.concat([randomOf(options.random), length, message, Buffer.from(appId, 'utf8')]);
  const padBytes = PAD_BLOCK_BYTES - (unpadded.length % PAD_BLOCK_BYTES);
  const plain = Buffer.concat([unpadded, Buffer.alloc(padBytes, padBytes)]);

  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(plain), cipher.final()]).toString('base64');
}

/**
 * AESKey = base64decode(EncodingAESKey + "="): 32 bytes. 43 base64 characters carry 258 bits,
 * so the last character's two low bits are dropped and keys differing only there (WxJava's
 * test uses …ABCDEFE, the official sample …ABCDEFG) are the same key.
 */
function aesKeyOf(value: unknown): Buffer {
  const encodingAESKey = requireString(value, 'encodingAESKey');
  if (!/^[A-Za-z0-9]{43}$/.test(encodingAESKey)) {
    throw new InputError('encodingAESKey must be exactly 43 characters of [A-Za-z0-9]', 'encodingAESKey');
  }
  return Buffer.from(`${encodingAESKey}=`, 'base64');
}

function randomOf(value: unknown): Buffer {
  if (value === undefined) return randomBytes(RANDOM_BYTES);
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value instanceof Uint8Array ? Buffer.from(value) : undefined;
  if (bytes?.length !== RANDOM_BYTES) throw new InputError(`random must be exactly ${RANDOM_BYTES} bytes`, 'random');
  return bytes;
}

function ciphertextOf(value: unknown): Buffer {
  if (typeof value !== 'string' || value.length === 0) throw new CryptoError('Encrypted message is empty');
  if (value.length > MAX_ENCRYPTED_CHARS) throw new CryptoError('Encrypted message is too large');
  // Buffer.from(…, 'base64') skips invalid characters silently; reject them instead.
  if (!STRICT_BASE64.test(value)) throw new CryptoError('Encrypted message is not valid base64');
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length === 0 || bytes.length % PAD_BLOCK_BYTES !== 0) {
    throw new CryptoError('Encrypted message is truncated or not whole 32-byte blocks');
  }
  return bytes;
}

// The official SDKs treat a pad byte outside 1..32 as "no padding"; accepting that would let a
// tampered last block decrypt to something. Here every padding byte must be right.
function paddingLength(plain: Buffer): number {
  const pad = plain[plain.length - 1] ?? 0;
  const valid = pad >= 1 && pad <= PAD_BLOCK_BYTES && plain.subarray(plain.length - pad).every((byte) => byte === pad);
  if (!valid) throw new CryptoError('Encrypted message padding is invalid');
  return pad;
}
