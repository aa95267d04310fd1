/**
 * Sign-in rate limit and lock-out, kept in the database so that every instance agrees.
 *
 * Two keys per attempt: the sign-in name as typed (whether or not such an operator exists, so a
 * lock-out tells nothing about which names are real) and the client's IP. An attempt is counted
 * BEFORE its password is checked, with a compare-and-set on the count: N parallel guesses cannot
 * all slip under the limit, which "count the failures afterwards" would let them. A success gives
 * the name's count back in full and the IP's attempt back.
 *
 *   attempts < max ──attempt──▶ attempts+1 ──password wrong, attempts = max──▶ locked until now+lockMs
 *   window over ──▶ attempts from 0          locked ──▶ refused (429, Retry-After), nothing checked
 *
 * The price of a per-name lock-out: anyone can keep an operator locked out by typing wrong
 * passwords for that name. It ends by itself after `lockMs`, and `npm run console -- operator-unlock`
 * (or a password reset) ends it at once. Without it, one name could be guessed at for ever.
 */
import { RateLimitedError } from '../errors';
import { COLLECTIONS, type DocumentStore } from '../store/port';
import type { SignInLimitDoc } from './model';

export interface LimitPolicy {
  /** Attempts allowed in one window. */
  maxAttempts: number;
  windowMs: number;
  /** How long a key stays locked once its attempts are used up. */
  lockMs: number;
}

export const SIGN_IN_LIMITS: Readonly<{ name: LimitPolicy; ip: LimitPolicy }> = {
  // OWASP's authentication cheat sheet: lock after a small number of failures, for a limited time.
  name: { maxAttempts: 5, windowMs: 15 * 60_000, lockMs: 15 * 60_000 },
  // An office behind one NAT address may hold several operators: a looser limit per address.
  ip: { maxAttempts: 30, windowMs: 15 * 60_000, lockMs: 15 * 60_000 },
};

/** Retries of a compare-and-set lost to a concurrent attempt on the same key. */
const MAX_CAS_ROUNDS = 6;

export function nameLimitKey(name: string): string {
  return `name:${name}`;
}

export function ipLimitKey(ip: string): string {
  return `ip:${ip}`;
}

/** A sign-in was refused before its password was checked. */
export class SignInLockedError extends RateLimitedError {
  readonly key: string;
  constructor(key: string, retryAfterMs: number) {
    super(`Too many sign-in attempts. Try again in ${Math.max(1, Math.ceil(retryAfterMs / 60_000))} minute(s).`, retryAfterMs);
    this.key = key;
  }
}

/** Counts one attempt on `key`, or throws {@link SignInLockedError} when the key has none left. */
export async function takeAttempt(store: DocumentStore, key: string, policy: LimitPolicy, nowMs: number): Promise<void> {
  const collection = COLLECTIONS.consoleSignInLimits;
  for (let round = 0; round < MAX_CAS_ROUNDS; round += 1) {
    const doc = await store.get<SignInLimitDoc>(collection, key);
    if (doc === null) {
      const fresh: SignInLimitDoc = { _id: key, attempts: 1, windowStartMs: nowMs, lockedUntilMs: 0, updatedAtMs: nowMs };
      if (await store.insert(collection, { ...fresh })) return;
      continue;
    }
    if (doc.lockedUntilMs > nowMs) throw new SignInLockedError(key, doc.lockedUntilMs - nowMs);
    const guard = { _id: key, attempts: doc.attempts, windowStartMs: doc.windowStartMs };
    if (doc.windowStartMs + policy.windowMs <= nowMs) {
      if (await store.update(collection, guard, { set: { attempts: 1, windowStartMs: nowMs, lockedUntilMs: 0, updatedAtMs: nowMs } }) === 1) return;
      continue;
    }
    if (doc.attempts >= policy.maxAttempts) {
      const lockedUntilMs = nowMs + policy.lockMs;
      await store.update(collection, guard, { set: { lockedUntilMs, updatedAtMs: nowMs } });
      throw new SignInLockedError(key, policy.lockMs);
    }
    if (await store.update(collection, guard, { inc: { attempts: 1 }, set: { updatedAtMs: nowMs } }) === 1) return;
  }
  // Many attempts on one key at the same moment: refusing this one is the safe side.
  throw new SignInLockedError(key, 1_000);
}

/** After a wrong password: locks the key once its attempts are used up; true when it did. */
export async function lockIfExhausted(store: DocumentStore, key: string, policy: LimitPolicy, nowMs: number): Promise<boolean> {
  const doc = await store.get<SignInLimitDoc>(COLLECTIONS.consoleSignInLimits, key);
  if (doc === null || doc.attempts < policy.maxAttempts || doc.lockedUntilMs > nowMs) return false;
  await store.update(COLLECTIONS.consoleSignInLimits, { _id: key, lockedUntilMs: doc.lockedUntilMs }, { set: { lockedUntilMs: nowMs + policy.lockMs, updatedAtMs: nowMs } });
  return true;
}

/** After a correct password: the name starts over; the address gets this attempt back. */
export async function creditSuccess(store: DocumentStore, keys: { name: string; ip: string }, nowMs: number): Promise<void> {
  await store.update(COLLECTIONS.consoleSignInLimits, { _id: keys.name }, { set: { attempts: 0, lockedUntilMs: 0, updatedAtMs: nowMs } });
  await store.update(COLLECTIONS.consoleSignInLimits, { _id: keys.ip, attempts: { gt: 0 } }, { inc: { attempts: -1 }, set: { updatedAtMs: nowMs } });
}

/** Lifts a lock-out (operator CLI). */
export async function clearLimit(store: DocumentStore, key: string): Promise<boolean> {
  return store.remove(COLLECTIONS.consoleSignInLimits, key);
}
