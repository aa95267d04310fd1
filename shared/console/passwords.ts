/**
 * Operator passwords, stored as scrypt hashes (node:crypto, i.e. OpenSSL's scrypt).
 *
 * Why scrypt and not argon2: both are memory-hard and on OWASP's list; argon2's npm packages are
 * native addons (they do not bundle with esbuild, and the function is deployed without
 * node_modules), and a WebAssembly argon2 would be a second, slower implementation to trust.
 * scrypt ships with Node, runs on libuv's thread pool (the event loop stays free) and needs no
 * dependency. Parameters: OWASP's Password Storage Cheat Sheet lists N=2^15, r=8, p=3 as one of the
 * equivalent minimums — 32 MiB per hash (128·N·r bytes), about 0.3 s here, inside a 256 MB function.
 *
 * The stored form carries its parameters (`scrypt$N$r$p$salt$hash`, base64url), so they can be
 * raised later: a hash made with weaker ones verifies and {@link needsRehash} says to replace it.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { InputError } from '../errors';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

export const SCRYPT_PARAMS: Readonly<ScryptParams> = { N: 2 ** 15, r: 8, p: 3 };
const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** Shortest password the CLI accepts: long passphrases beat composition rules (NIST SP 800-63B §5.1.1). */
export const MIN_PASSWORD_CHARS = 12;
/** Longest one: hashing is bounded work whatever a sign-in form carries. */
export const MAX_PASSWORD_CHARS = 256;

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  // maxmem must exceed 128·N·r; Node's default (32 MiB) is exactly the limit for N=2^15, r=8.
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_BYTES, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** Why a new password is not acceptable, or null. */
export function passwordProblem(password: string): string | null {
  if (password.length < MIN_PASSWORD_CHARS) return `a password needs at least ${MIN_PASSWORD_CHARS} characters`;
  if (password.length > MAX_PASSWORD_CHARS) return `a password has at most ${MAX_PASSWORD_CHARS} characters`;
  if (password.trim() !== password) return 'a password must not start or end with spaces';
  return null;
}

/** A new stored hash for `password` (refused when it is too short or too long). */
export async function hashPassword(password: string, params: ScryptParams = SCRYPT_PARAMS): Promise<string> {
  const problem = passwordProblem(password);
  if (problem !== null) throw new InputError(problem, 'password');
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, params);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

function parse(stored: string): { params: ScryptParams; salt: Buffer; key: Buffer } | null {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![N, r, p].every((value) => Number.isInteger(value) && value > 0) || (N & (N - 1)) !== 0 || N > 2 ** 20 || r > 32 || p > 16) return null;
  return { params: { N, r, p }, salt: Buffer.from(parts[4]!, 'base64url'), key: Buffer.from(parts[5]!, 'base64url') };
}

/**
 * Whether `password` matches `stored`, in time independent of where it differs. A malformed stored
 * value never matches (and still costs a hash, so it is not told apart by timing).
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  const candidate = password.length > MAX_PASSWORD_CHARS ? password.slice(0, MAX_PASSWORD_CHARS + 1) : password;
  if (parsed === null) {
    await derive(candidate, randomBytes(SALT_BYTES), SCRYPT_PARAMS);
    return false;
  }
  const key = await derive(candidate, parsed.salt, parsed.params);
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}

/** True when `stored` was made with weaker parameters than today's: replace it at the next sign-in. */
export function needsRehash(stored: string): boolean {
  const parsed = parse(stored);
  if (parsed === null) return true;
  const { N, r, p } = parsed.params;
  return N * r * p < SCRYPT_PARAMS.N * SCRYPT_PARAMS.r * SCRYPT_PARAMS.p || N * r < SCRYPT_PARAMS.N * SCRYPT_PARAMS.r;
}

/**
 * A hash of a random password with today's parameters: what an unknown sign-in name is checked
 * against, so "no such operator" costs the same time as "wrong password".
 */
export function decoyHash(): Promise<string> {
  return hashPassword(randomBytes(24).toString('base64url'));
}
