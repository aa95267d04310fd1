/**
 * Console sessions and their CSRF tokens.
 *
 * The cookie carries 32 random bytes; the database keeps only their SHA-256, so whoever reads
 * `ops_sessions` (a backup, a leaked admin key) cannot sign in with it. The CSRF token of a session
 * is derived from the cookie's token (SHA-256 of a label and the token): a page can carry it in its
 * forms, a cross-site attacker cannot compute it without the HttpOnly cookie, and nothing extra is
 * stored. Sign-in has no session yet, so its form is bound the same way to a short-lived
 * pre-session cookie.
 */
import { createHash, randomBytes } from 'node:crypto';
import { clip } from '../echo';
import { safeEqual } from '../signing/compare';
import { COLLECTIONS, type DocumentStore } from '../store/port';
import type { OperatorDoc, SessionDoc } from './model';

export const SESSION_TIMING = {
  /** A session ends this long after sign-in, whatever happens. */
  absoluteMs: 8 * 3_600_000,
  /** …or after this long without a request. */
  idleMs: 30 * 60_000,
  /** The idle deadline is moved at most this often (one write per minute of activity, not per request). */
  touchEveryMs: 60_000,
} as const;

/**
 * Cookie names. `__Host-` makes the browser refuse the cookie unless it is Secure, has Path=/ and
 * no Domain: no sibling sub-domain or plain-http page can plant or overwrite it.
 */
export const SESSION_COOKIE = '__Host-console-session';
export const PRE_SESSION_COOKIE = '__Host-console-pre';

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('base64url');
}

/** A fresh random token for a cookie (32 bytes, base64url). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The session's id in the database. */
export function sessionIdOf(token: string): string {
  return sha256(`session\0${token}`);
}

/** The CSRF token the forms of `token`'s session carry. */
export function csrfTokenOf(token: string): string {
  return sha256(`csrf\0${token}`);
}

/** The CSRF token of the sign-in form bound to a pre-session cookie. */
export function preSessionCsrfOf(preToken: string): string {
  return sha256(`pre-session-csrf\0${preToken}`);
}

/** Constant-time check of a form's CSRF token against the one expected. */
export function csrfMatches(given: string | undefined, expected: string): boolean {
  return typeof given === 'string' && given !== '' && safeEqual(given, expected);
}

/** Opens a session for `operator`; returns the cookie's token (shown once, never stored). */
export async function openSession(
  store: DocumentStore,
  operator: Pick<OperatorDoc, '_id' | 'epoch'>,
  client: { ip: string; userAgent: string },
  nowMs: number,
): Promise<{ token: string; session: SessionDoc }> {
  const token = newToken();
  const session: SessionDoc = {
    _id: sessionIdOf(token),
    operator: operator._id,
    epoch: operator.epoch,
    createdAtMs: nowMs,
    expiresAtMs: nowMs + SESSION_TIMING.absoluteMs,
    idleUntilMs: nowMs + SESSION_TIMING.idleMs,
    lastSeenAtMs: nowMs,
    ip: clip(client.ip, 64),
    userAgent: clip(client.userAgent, 160),
  };
  await store.insert(COLLECTIONS.consoleSessions, { ...session });
  return { token, session };
}

/**
 * The live session and operator behind a cookie token, or null: unknown, expired, idle too long,
 * operator removed, or password reset since. A dead session document is removed on the way.
 */
export async function readSession(store: DocumentStore, token: string | undefined, nowMs: number): Promise<{ session: SessionDoc; operator: OperatorDoc } | null> {
  if (token === undefined || !TOKEN_PATTERN.test(token)) return null;
  const id = sessionIdOf(token);
  const session = await store.get<SessionDoc>(COLLECTIONS.consoleSessions, id);
  if (session === null) return null;
  const operator = session.expiresAtMs > nowMs && session.idleUntilMs > nowMs
    ? await store.get<OperatorDoc>(COLLECTIONS.consoleOperators, session.operator)
    : null;
  if (operator === null || operator.epoch !== session.epoch) {
    await store.remove(COLLECTIONS.consoleSessions, id);
    return null;
  }
  if (nowMs - session.lastSeenAtMs >= SESSION_TIMING.touchEveryMs) {
    const idleUntilMs = Math.min(session.expiresAtMs, nowMs + SESSION_TIMING.idleMs);
    await store.update(COLLECTIONS.consoleSessions, { _id: id }, { set: { lastSeenAtMs: nowMs, idleUntilMs } });
    return { session: { ...session, lastSeenAtMs: nowMs, idleUntilMs }, operator };
  }
  return { session, operator };
}

/** Ends the session of `token` (sign-out). */
export async function closeSession(store: DocumentStore, token: string): Promise<void> {
  if (TOKEN_PATTERN.test(token)) await store.remove(COLLECTIONS.consoleSessions, sessionIdOf(token));
}

/** Ends every session of an operator (removed or reset); returns how many. */
export async function closeOperatorSessions(store: DocumentStore, operator: string): Promise<number> {
  let closed = 0;
  for (;;) {
    const sessions = await store.find<SessionDoc>(COLLECTIONS.consoleSessions, { operator }, { limit: 100 });
    for (const session of sessions) if (await store.remove(COLLECTIONS.consoleSessions, session._id)) closed += 1;
    if (sessions.length < 100) return closed;
  }
}
