/**
 * Argument checks shared by the signing functions. Messages name the field and the rule, never
 * the value: the values are tickets, keys and signing strings that must not reach a log.
 */
import { InputError } from '../errors';

/** WeChat caps every nonce it signs at 32 characters (nonce_str String(32), cardExt nonce_str). */
export const MAX_NONCE_LENGTH = 32;

/** Printable ASCII without space: a nonce is hashed and sent in JSON and XML, so nothing exotic. */
const NONCE_PATTERN = /^[\x21-\x7e]+$/;

/** Unix seconds as WeChat signs them: decimal digits, no sign, no leading zeros, no exponent. */
const SECONDS_PATTERN = /^(?:0|[1-9][0-9]{0,11})$/;

/**
 * The input is a plain object with no keys outside `allowed`: a typo such as `openId` for
 * `openid` would otherwise drop the field silently and sign something else than intended.
 */
export function requireOptions(input: unknown, allowed: readonly string[], what: string): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InputError(`${what} expects an options object`);
  }
  const unknown = Object.keys(input).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) throw new InputError(`${what} got unknown option(s): ${unknown.join(', ')}`, unknown[0]);
  return input as Record<string, unknown>;
}

/** A required string. Empty strings are rejected unless `allowEmpty`. */
export function requireString(value: unknown, field: string, options: { allowEmpty?: boolean } = {}): string {
  if (typeof value !== 'string') throw new InputError(`${field} must be a string`, field);
  if (!options.allowEmpty && value.length === 0) throw new InputError(`${field} must not be empty`, field);
  return value;
}

/** An optional string: `undefined` and `''` both mean "absent" and come back as `undefined`. */
export function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  const text = requireString(value, field, { allowEmpty: true });
  return text.length === 0 ? undefined : text;
}

/**
 * A credential (ticket, token) that is hashed verbatim. Whitespace is rejected because real
 * credentials never contain it, while a copied or file-read one often carries a trailing space
 * or newline, which signs "successfully" and then fails upstream with 签名错误.
 */
export function requireCredential(value: unknown, field: string): string {
  const text = requireString(value, field);
  if (/\s/.test(text)) throw new InputError(`${field} must not contain whitespace`, field);
  return text;
}

/** A nonce of 1–32 printable ASCII characters. */
export function requireNonce(value: unknown, field: string): string {
  const text = requireString(value, field);
  if (text.length > MAX_NONCE_LENGTH || !NONCE_PATTERN.test(text)) {
    throw new InputError(`${field} must be 1-${MAX_NONCE_LENGTH} printable ASCII characters without spaces`, field);
  }
  return text;
}

/** Unix seconds given as a non-negative integer or its decimal string; returned as the string that is signed. */
export function requireSeconds(value: unknown, field: string): string {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new InputError(`${field} must be whole unix seconds`, field);
    return String(value);
  }
  if (typeof value === 'string' && SECONDS_PATTERN.test(value)) return value;
  throw new InputError(`${field} must be whole unix seconds (a non-negative integer or its decimal string)`, field);
}
