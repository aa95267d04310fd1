/**
 * One-time page tokens for the web-view route (seed 000): `claimPageToken` issues one to a
 * mini-program user — bound to the OPENID/UNIONID the platform gives for that call, never to
 * anything the client sends — and the mini-program opens
 * `<web-view src="https://<domain>/claim/w?t=<token>">`. The claim page consumes it once, within
 * {@link PAGE_TOKEN_TTL_MS}, and starts OAuth on the service account for that user.
 *
 * `claim_page_tokens`, `_id` = SHA-256 of the token (the token itself is never stored).
 */
import { randomBytes } from 'node:crypto';
import { COLLECTIONS, type DocumentStore, type StoredDoc } from '../store/port';
import { hashOf } from './sessions';

export const PAGE_TOKEN_TTL_MS = 5 * 60_000;

export interface PageTokenDoc extends StoredDoc {
  campaignId: string;
  miniProgram: { appId: string; openid: string; unionid?: string };
  createdAtMs: number;
  expiresAtMs: number;
  /** Set once, by the page that used it (the session it opened, by id). */
  usedAtMs: number | null;
  usedBySession: string | null;
}

/** Issues a token for `miniProgram` (from the platform's context) on `campaignId`. */
export async function issuePageToken(
  store: DocumentStore,
  input: { campaignId: string; miniProgram: PageTokenDoc['miniProgram'] },
  nowMs: number,
): Promise<{ token: string; expiresAtMs: number }> {
  const token = randomBytes(24).toString('base64url');
  const doc: PageTokenDoc = {
    _id: hashOf(`page-token:${token}`),
    campaignId: input.campaignId,
    miniProgram: input.miniProgram,
    createdAtMs: nowMs,
    expiresAtMs: nowMs + PAGE_TOKEN_TTL_MS,
    usedAtMs: null,
    usedBySession: null,
  };
  await store.put(COLLECTIONS.claimPageTokens, doc as PageTokenDoc & Record<string, unknown>);
  return { token, expiresAtMs: doc.expiresAtMs };
}

export function pageTokenIdOf(token: string): string {
  return hashOf(`page-token:${token}`);
}

/**
 * Uses a token for the session `sessionId`: the token's document once, or why not. A token the
 * same session already used answers it again (a reload of the landing page).
 */
export async function usePageToken(
  store: DocumentStore,
  token: unknown,
  sessionId: string,
  nowMs: number,
): Promise<{ doc: PageTokenDoc } | { problem: 'invalid' | 'expired' | 'used' }> {
  if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{32}$/.test(token)) return { problem: 'invalid' };
  const id = pageTokenIdOf(token);
  const doc = await store.get<PageTokenDoc>(COLLECTIONS.claimPageTokens, id);
  if (doc === null) return { problem: 'invalid' };
  if (doc.usedAtMs !== null) return doc.usedBySession === sessionId ? { doc } : { problem: 'used' };
  if (doc.expiresAtMs <= nowMs) return { problem: 'expired' };
  const changed = await store.update(COLLECTIONS.claimPageTokens, { _id: id, usedAtMs: null }, { set: { usedAtMs: nowMs, usedBySession: sessionId } });
  return changed === 1 ? { doc: { ...doc, usedAtMs: nowMs, usedBySession: sessionId } } : { problem: 'used' };
}
