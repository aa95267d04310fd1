import type { StoredDoc } from '../store/port';

/** What is cached: the access_token and the two api_tickets. */
export type CredentialKind = 'access_token' | 'ticket:wx_card' | 'ticket:jsapi';

/** Why a credential was fetched: the timer refreshing ahead, a request finding none, or a recovery after a rejection. */
export type CredentialSource = 'timer' | 'demand' | 'recover';

/** A usable credential. `version` increases whenever the value changes, so it names the value without carrying it. */
export interface Credential {
  value: string;
  expiresAtMs: number;
  version: number;
}

/** The last upstream failure, kept on the document so other instances back off instead of retrying it. */
export interface CredentialFailure {
  code: string;
  errcode: number | null;
  message: string;
  atMs: number;
}

/** One document per credential in collection `wx_credentials`, `_id` = `<appId>:<kind>`. */
export interface CredentialDoc extends StoredDoc {
  appId: string;
  kind: CredentialKind;
  value: string | null;
  expiresAtMs: number;
  fetchedAtMs: number;
  version: number;
  source: CredentialSource | null;
  /** Instance holding the refresh lease, and until when (0 = free). */
  leaseOwner: string | null;
  leaseUntilMs: number;
  /** Set after an upstream failure: no instance fetches again before this. */
  backoffUntilMs: number;
  lastError: CredentialFailure | null;
  /** Set by compare-and-expire when WeChat rejected this value (40001/42001). */
  rejectedAtMs: number;
  /**
   * When WeChat last handed back this very value while a caller reported it rejected (0 = never;
   * reset whenever the value changes). Within `recheckAfterMs` of it, a rejection of this version
   * is answered with the value as it is: WeChat's token endpoint is the authority on what is current.
   */
  confirmedAtMs: number;
  /** How often WeChat's token endpoint contradicted a rejection of the value, and the last time it did. */
  contradictions: number;
  lastContradiction: CredentialContradiction | null;
}

/** A rejection WeChat's token endpoint did not agree with (it answered the rejected value again). */
export interface CredentialContradiction {
  atMs: number;
  version: number;
  /** What was done instead of replacing the value: why no force_refresh replaced it. */
  message: string;
}

/** The daily force_refresh budget of stable_token, shared by every instance. */
export interface ForceRefreshQuotaDoc extends StoredDoc {
  appId: string;
  kind: 'force_refresh_quota';
  /** Day in China time (UTC+8), when WeChat's daily quotas reset. */
  dayKey: string;
  count: number;
  lastAtMs: number;
}

/** Timing knobs. Every value is in milliseconds. */
export interface CredentialTiming {
  /** A credential stops being handed out this long before it expires, so a call made with it still lands in time. */
  safetyMarginMs: number;
  /**
   * The timer refreshes once this little is left. At most 5 minutes: a classic token fetched then
   * outlives the old one's 5-minute overlap, so instances holding the old one never see it die early.
   */
  refreshAheadMs: number;
  /** How long a refresh lease lasts; longer than one upstream call with its timeout. */
  leaseMs: number;
  /** How long a caller waits for another instance's refresh before giving up with a clear error. */
  waitMs: number;
  pollMs: number;
  /**
   * After WeChat confirmed a rejected value as current, further rejections of it are served the
   * same value for this long instead of fetching again: one refresh per burst of rejections, and
   * no loop when WeChat keeps answering the same token. 30 s is also force_refresh's spacing.
   */
  recheckAfterMs: number;
}

export const DEFAULT_TIMING: CredentialTiming = {
  safetyMarginMs: 60_000,
  refreshAheadMs: 300_000,
  leaseMs: 15_000,
  waitMs: 12_000,
  pollMs: 100,
  recheckAfterMs: 30_000,
};

export function credentialId(appId: string, kind: CredentialKind): string {
  return `${appId}:${kind}`;
}

export function isUsable(doc: Pick<CredentialDoc, 'value' | 'expiresAtMs'> | null, nowMs: number, timing: CredentialTiming): boolean {
  return doc !== null && typeof doc.value === 'string' && doc.value !== '' && doc.expiresAtMs - timing.safetyMarginMs > nowMs;
}

/** Was the document's current value confirmed by WeChat after a rejection, recently enough to stand? */
export function isRecentlyConfirmed(doc: Pick<CredentialDoc, 'confirmedAtMs'>, nowMs: number, timing: CredentialTiming): boolean {
  return typeof doc.confirmedAtMs === 'number' && doc.confirmedAtMs > 0 && nowMs - doc.confirmedAtMs < timing.recheckAfterMs;
}

/** China-time calendar day, e.g. "2026-11-21": WeChat's daily quotas reset at midnight UTC+8. */
export function chinaDayKey(nowMs: number): string {
  return new Date(nowMs + 8 * 3_600_000).toISOString().slice(0, 10);
}
