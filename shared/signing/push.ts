/**
 * Official-account push signatures (reference/wechat-api.md §9): the URL check
 * `signature` and, in safe mode, `msg_signature` over the Encrypt value.
 * https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/Access_Overview.html
 */
import { sortedConcatSha1 } from './hash';
import { safeEqual } from './compare';
import { optionalString, requireCredential, requireOptions, requireSeconds, requireString } from './validate';

/** Inputs of a push signature; with `encrypt` it is the safe-mode `msg_signature`. */
export interface PushSignatureInput {
  /** The Token configured for the server URL. */
  token: string;
  /** As received in the query string (a string) or as sent in a reply. */
  timestamp: string | number;
  nonce: string;
  /** The `<Encrypt>` value, for `msg_signature`. */
  encrypt?: string;
}

/** A received push and the signature it claims. */
export interface VerifyPushSignatureInput extends PushSignatureInput {
  /** `signature` (plain mode) or `msg_signature` (safe mode) from the query string. */
  signature: string;
}

const PUSH_KEYS = ['token', 'timestamp', 'nonce', 'encrypt'] as const;

/** Lowercase hex SHA1 of the sorted, concatenated token, timestamp, nonce (and Encrypt value). */
export function pushSignature(input: PushSignatureInput): string {
  const options = requireOptions(input, PUSH_KEYS, 'pushSignature');
  return computePushSignature(options);
}

/**
 * Whether `signature` is the push signature of the other fields, compared in constant time.
 * Malformed input (a missing query parameter) is "not verified", never an exception, so a
 * handler can answer every forged request the same way.
 */
export function verifyPushSignature(input: VerifyPushSignatureInput): boolean {
  const options = requireOptions(input, [...PUSH_KEYS, 'signature'], 'verifyPushSignature');
  const token = requireCredential(options.token, 'token');
  if (typeof options.signature !== 'string') return false;
  const { timestamp, nonce, encrypt } = options;
  const timestampOk =
    (typeof timestamp === 'string' && timestamp !== '') || (typeof timestamp === 'number' && Number.isSafeInteger(timestamp) && timestamp >= 0);
  if (!timestampOk || typeof nonce !== 'string' || nonce === '') return false;
  if (encrypt !== undefined && typeof encrypt !== 'string') return false;
  return safeEqual(computePushSignature({ token, timestamp, nonce, encrypt }), options.signature);
}

function computePushSignature(options: Record<string, unknown>): string {
  const token = requireCredential(options.token, 'token');
  const timestamp = typeof options.timestamp === 'number' ? requireSeconds(options.timestamp, 'timestamp') : requireString(options.timestamp, 'timestamp');
  const nonce = requireString(options.nonce, 'nonce');
  const encrypt = optionalString(options.encrypt, 'encrypt');
  const parts = encrypt === undefined ? [token, timestamp, nonce] : [token, timestamp, nonce, encrypt];
  return sortedConcatSha1(parts);
}
