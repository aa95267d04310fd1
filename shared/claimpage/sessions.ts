/**
 * Claim-page sessions: one per browser that opened a claim link or a web-view page token, in
 * `claim_sessions` (`_id` = SHA-256 of the cookie's token: the database never holds a token
 * that would open a session). The cookie is `__Host-claim-session` — HttpOnly, Secure, Path=/,
 * SameSite=Lax (Lax, not Strict: the OAuth callback is a top-level navigation coming back from
 * open.weixin.qq.com, and must carry it), 30 minutes.
 *
 *   landing (link / page token) ──▶ authorizing (OAuth state) ──callback──▶ ready (service openid proven)
 *                                        │  40029/40163: new state, once more              │
 *                                        └──▶ refused (forwarded, reused, snapshot user…)   └──claim──▶ (the claim's own states)
 *
 * The OAuth `state` is 32 random letters and digits bound to the session (its SHA-256 stored),
 * used once (the callback consumes it with a conditional update before the code is exchanged),
 * and valid for {@link OAUTH_STATE_TTL_MS}: a callback of another browser, an old one, or the same
 * one replayed is refused. The CSRF token of the claim form is an HMAC of the cookie's token.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { HttpRequest } from '../http/request';
import { setCookie } from '../http/response';
import type { OauthScope } from '../wechat/oauth';
import { safeEqual } from '../signing/compare';
import { createNonce } from '../signing/nonce';
import { COLLECTIONS, type DocumentStore, type StoredDoc } from '../store/port';
import type { ClaimLink } from './links';

export const SESSION_COOKIE = '__Host-claim-session';
export const SESSION_TTL_MS = 30 * 60_000;
export const OAUTH_STATE_TTL_MS = 10 * 60_000;
/** Authorizations a session may start after a spent or invalid code (40029/40163): the restart, never a loop. */
export const MAX_OAUTH_RESTARTS = 2;

export interface ClaimSessionDoc extends StoredDoc {
  campaignId: string;
  kind: 'follow' | 'webview';
  link: ClaimLink | null;
  /** Web-view: the mini-program user the page token named (from the platform when it was issued). */
  miniProgram: { appId: string; openid: string; unionid?: string } | null;
  pageTokenId: string | null;
  stage: 'authorizing' | 'ready' | 'refused';
  oauth: { stateHash: string; scope: OauthScope; startedAtMs: number } | null;
  restarts: number;
  serviceOpenid: string | null;
  unionid: string | null;
  /** Why the page refuses (stage refused), or the last claim's refusal. */
  refusal: string | null;
  createdAtMs: number;
  updatedAtMs: number;
  expiresAtMs: number;
}

/** A session cookie's token: 32 random bytes. */
export function newSessionToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashOf(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** A new session (authorizing, with its first OAuth state): the cookie token and the state go to the browser, never into the database. */
export async function createSession(
  store: DocumentStore,
  input: Pick<ClaimSessionDoc, 'campaignId' | 'kind' | 'link' | 'miniProgram' | 'pageTokenId'> & { scope: OauthScope; token?: string },
  nowMs: number,
): Promise<{ token: string; state: string; session: ClaimSessionDoc }> {
  const token = input.token ?? newSessionToken();
  const state = createNonce(32);
  const session: ClaimSessionDoc = {
    _id: hashOf(token),
    campaignId: input.campaignId,
    kind: input.kind,
    link: input.link,
    miniProgram: input.miniProgram,
    pageTokenId: input.pageTokenId,
    stage: 'authorizing',
    oauth: { stateHash: hashOf(state), scope: input.scope, startedAtMs: nowMs },
    restarts: 0,
    serviceOpenid: null,
    unionid: null,
    refusal: null,
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
    expiresAtMs: nowMs + SESSION_TTL_MS,
  };
  await store.put(COLLECTIONS.claimSessions, session as ClaimSessionDoc & Record<string, unknown>);
  return { token, state, session };
}

/** The session the request's cookie names, while it lasts; null otherwise. */
export async function readSession(store: DocumentStore, request: Pick<HttpRequest, 'cookies'>, nowMs: number): Promise<{ token: string; session: ClaimSessionDoc } | null> {
  const token = request.cookies[SESSION_COOKIE];
  if (token === undefined || !/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
  const session = await store.get<ClaimSessionDoc>(COLLECTIONS.claimSessions, hashOf(token));
  if (session === null || session.expiresAtMs <= nowMs) return null;
  return { token, session };
}

/** A fresh OAuth state for the session (a restart after 40029/40163, or snsapi_userinfo after snsapi_base). */
export async function renewOauthState(store: DocumentStore, session: ClaimSessionDoc, scope: OauthScope, nowMs: number, options: { restart: boolean }): Promise<string | null> {
  const state = createNonce(32);
  const changed = await store.update(
    COLLECTIONS.claimSessions,
    { _id: session._id, restarts: session.restarts },
    { set: { stage: 'authorizing', oauth: { stateHash: hashOf(state), scope, startedAtMs: nowMs }, updatedAtMs: nowMs }, inc: { restarts: options.restart ? 1 : 0 } },
  );
  return changed === 1 ? state : null;
}

/**
 * Consumes the callback's state: true once, for the state this session is waiting for, within
 * its lifetime. The conditional update makes a replayed or concurrent callback lose.
 */
export async function consumeOauthState(store: DocumentStore, session: ClaimSessionDoc, state: string | undefined, nowMs: number): Promise<boolean> {
  const oauth = session.oauth;
  if (oauth === null || state === undefined || !/^[A-Za-z0-9]{1,128}$/.test(state)) return false;
  if (!safeEqual(hashOf(state), oauth.stateHash) || nowMs - oauth.startedAtMs > OAUTH_STATE_TTL_MS) return false;
  return (await store.update(COLLECTIONS.claimSessions, { _id: session._id, 'oauth.stateHash': oauth.stateHash }, { set: { oauth: null, updatedAtMs: nowMs } })) === 1;
}

export function sessionCookie(token: string): string {
  return setCookie(SESSION_COOKIE, token, { httpOnly: true, secure: true, sameSite: 'Lax', path: '/', maxAgeSeconds: SESSION_TTL_MS / 1000 });
}

/** The claim form's CSRF token: an HMAC of the session's cookie token (nothing to store). */
export function csrfTokenOf(key: Buffer, sessionToken: string): string {
  return createHmac('sha256', key).update(`csrf:${sessionToken}`).digest('base64url');
}

export function csrfMatches(key: Buffer, sessionToken: string, given: string | undefined): boolean {
  return given !== undefined && safeEqual(given, csrfTokenOf(key, sessionToken));
}
