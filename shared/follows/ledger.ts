/**
 * The follow ledger: one document per (official account, openid) in `wx_follows`
 * (`_id` = `<appid>:<openid>`), changed only by verified follow events. The transitions are a pure
 * function, so the push path and the reconciler apply an event the same way, inside one
 * transaction with the counters it moves (see apply.ts).
 *
 * ```
 *                subscribe (first follow)                unsubscribe
 *   (unknown) ──────────────────────────▶ following ─────────────────────▶ left
 *       │                                  ▲   │ SCAN: no change            │
 *       │ SCAN / unsubscribe first:        │   └────                        │
 *       │ a follower from before the       └────────────────────────────────┘
 *       │ ledger existed ("pre-existing")        subscribe (returning follow)
 *       ▼
 *   following / left, preExisting = true
 * ```
 *
 * "Was this user a follower before time T?" is {@link wasFollowerBefore}: a returning follow is
 * never a new follower, and neither is anyone the ledger first met as a follower already (their
 * real follow time is unknown, so they count as followers since before any T).
 */
import type { StoredDoc } from '../store/port';

/** The channel of follows that came through no parametric QR code: search, profile, articles, a whole subscription account. */
export const ACCOUNT_CHANNEL = 'account';

export interface FollowLedgerDoc extends StoredDoc {
  appId: string;
  openid: string;
  following: boolean;
  /** The first follow the ledger saw; null for a follower it first met through SCAN or unsubscribe. */
  firstFollowAtMs: number | null;
  firstChannel: string | null;
  /** A follower from before the ledger existed (first seen scanning or leaving): a follower since before any T. */
  preExisting: boolean;
  lastFollowAtMs: number | null;
  lastChannel: string | null;
  lastUnfollowAtMs: number | null;
  /** Follows the ledger counted (first and returning). */
  follows: number;
  unfollows: number;
  /** From `user/info` (verified accounts on an Open Platform) or a card event; null until known. */
  unionid: string | null;
  /** WeChat's time of the newest event applied. */
  lastEventAtMs: number;
  updatedAtMs: number;
}

/** A follow event as the ledger takes it: WeChat's event time, the channel it came through. */
export interface FollowEventInput {
  appId: string;
  openid: string;
  kind: 'subscribe' | 'unsubscribe' | 'scan';
  atMs: number;
  /** The QR scene's channel, or {@link ACCOUNT_CHANNEL}. */
  channel: string;
}

/** What one event adds to the counters of one channel. */
export interface CounterDelta {
  follows: number;
  firstFollows: number;
  returningFollows: number;
  unfollows: number;
  scans: number;
}

export const ZERO_DELTA: CounterDelta = { follows: 0, firstFollows: 0, returningFollows: 0, unfollows: 0, scans: 0 };

/** The facts of an applied follow event: what the claim pages and passive replies decide on. */
export interface FollowFacts {
  appId: string;
  openid: string;
  kind: FollowEventInput['kind'];
  /** The channel credited: the event's for follows and scans, the last follow's for an unfollow. */
  channel: string;
  atMs: number;
  /** The user's first follow of this account as far as the ledger knows (not returning, not pre-existing). */
  firstFollow: boolean;
  /** A follow after an unfollow (or after the ledger met the user as a follower already). */
  returning: boolean;
  /** The ledger after the event. */
  ledger: FollowLedgerDoc;
}

export interface Transition {
  ledger: FollowLedgerDoc;
  /** Per channel (usually one; a follow that implies a lost unfollow credits two). */
  deltas: Array<{ channel: string; delta: CounterDelta }>;
  facts: FollowFacts;
}

export function followLedgerId(appId: string, openid: string): string {
  return `${appId}:${openid}`;
}

/** Whether the user was a follower of the account at some time before `beforeMs` (a returning follow is not a new follower). */
export function wasFollowerBefore(ledger: FollowLedgerDoc | null, beforeMs: number): boolean {
  if (ledger === null) return false;
  return ledger.preExisting || (ledger.firstFollowAtMs !== null && ledger.firstFollowAtMs < beforeMs);
}

/** Applies one event to the user's ledger (null: never seen). Pure; the caller persists the result. */
export function applyFollowEvent(current: FollowLedgerDoc | null, event: FollowEventInput, nowMs: number): Transition {
  const base: FollowLedgerDoc = current ?? {
    _id: followLedgerId(event.appId, event.openid),
    appId: event.appId,
    openid: event.openid,
    following: false,
    firstFollowAtMs: null,
    firstChannel: null,
    preExisting: false,
    lastFollowAtMs: null,
    lastChannel: null,
    lastUnfollowAtMs: null,
    follows: 0,
    unfollows: 0,
    unionid: null,
    lastEventAtMs: 0,
    updatedAtMs: nowMs,
  };
  const ledger: FollowLedgerDoc = { ...base, lastEventAtMs: Math.max(base.lastEventAtMs, event.atMs), updatedAtMs: nowMs };
  const deltas: Transition['deltas'] = [];
  const credit = (channel: string, delta: Partial<CounterDelta>) => deltas.push({ channel, delta: { ...ZERO_DELTA, ...delta } });
  let firstFollow = false;
  let returning = false;
  let channel = event.channel;

  switch (event.kind) {
    case 'subscribe': {
      if (base.following) {
        // WeChat sends no subscribe to a follower: the unsubscribe in between was lost. Count it, so that
        // net = follows − unfollows keeps matching the real number of followers.
        credit(base.lastChannel ?? ACCOUNT_CHANNEL, { unfollows: 1 });
        ledger.unfollows += 1;
      }
      const known = base.firstFollowAtMs !== null || base.preExisting;
      firstFollow = !known;
      returning = known;
      credit(event.channel, { follows: 1, ...(firstFollow ? { firstFollows: 1 } : { returningFollows: 1 }) });
      ledger.following = true;
      ledger.follows += 1;
      if (firstFollow) {
        ledger.firstFollowAtMs = event.atMs;
        ledger.firstChannel = event.channel;
      }
      ledger.lastFollowAtMs = event.atMs;
      ledger.lastChannel = event.channel;
      break;
    }
    case 'unsubscribe': {
      channel = base.lastChannel ?? ACCOUNT_CHANNEL;
      if (current === null || base.following) {
        // A follower the ledger never saw follow (they followed before it existed) still leaves: count it.
        credit(channel, { unfollows: 1 });
        ledger.unfollows += 1;
        if (current === null) ledger.preExisting = true;
      }
      ledger.following = false;
      ledger.lastUnfollowAtMs = event.atMs;
      break;
    }
    case 'scan': {
      credit(event.channel, { scans: 1 });
      if (!base.following) {
        // Only followers send SCAN: the ledger missed their follow (before it existed, or lost).
        ledger.following = true;
        if (base.firstFollowAtMs === null) ledger.preExisting = true;
      }
      break;
    }
  }
  return { ledger, deltas, facts: { appId: event.appId, openid: event.openid, kind: event.kind, channel, atMs: event.atMs, firstFollow, returning, ledger } };
}
