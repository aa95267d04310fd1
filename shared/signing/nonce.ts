/** Crypto-random nonces and the clock conversion every signer uses. */
import { customAlphabet } from 'nanoid';
import { InputError } from '../errors';
import { MAX_NONCE_LENGTH } from './validate';

/** [0-9A-Za-z]: accepted by every WeChat nonce field and safe in JSON, XML and query strings. */
const NONCE_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

// nanoid draws from crypto.getRandomValues with rejection sampling, so the characters are
// uniform; a Math.random nonce (wechatpy's slip) would be predictable.
const nonceOfLength = customAlphabet(NONCE_ALPHABET);

/** A crypto-random nonce of `length` (1–32) characters from [0-9A-Za-z]. */
export function createNonce(length = MAX_NONCE_LENGTH): string {
  if (!Number.isInteger(length) || length < 1 || length > MAX_NONCE_LENGTH) {
    throw new InputError(`nonce length must be an integer from 1 to ${MAX_NONCE_LENGTH}`, 'length');
  }
  return nonceOfLength(length);
}

/** Whole unix seconds for a millisecond clock reading (`Date.now()`), as WeChat timestamps are. */
export function unixSeconds(nowMs: number): number {
  if (!Number.isFinite(nowMs) || nowMs < 0) throw new InputError('nowMs must be a non-negative finite number', 'nowMs');
  return Math.floor(nowMs / 1000);
}
