/**
 * Why a claim is refused, as stable reasons with one fixed, user-safe message each. The client
 * envelope carries the public code (NOT_ELIGIBLE, RATE_LIMITED, UPSTREAM_BUSY) and this message;
 * `reason` stays on the error for logs and callers in the core.
 */
import { AppError, ErrorCode, NotEligibleError, RateLimitedError } from '../errors';

/** Stable refusal reasons. Never renamed, only added to. */
export const RefusalReason = {
  NOT_STARTED: 'not_started',
  ENDED: 'ended',
  SOLD_OUT: 'sold_out',
  ALREADY_CLAIMED: 'already_claimed',
  CLAIM_IN_PROGRESS: 'claim_in_progress',
  REGION: 'region',
  WRONG_APP: 'wrong_app',
  WRONG_ENTRY: 'wrong_entry',
  USER_DAILY_LIMIT: 'user_daily_limit',
  MERCHANT_LIMIT: 'merchant_limit',
  RISK_BLOCKED: 'risk_blocked',
  HELD: 'held',
  /** An operator paused the campaign (console): new claims wait until it is resumed. */
  PAUSED: 'paused',
  TRANSFER_RECEIVED: 'transfer_received',
  TRANSFER_EXPIRED: 'transfer_expired',
  TRANSFER_CANCELLED: 'transfer_cancelled',
  TRANSFER_DECLINED: 'transfer_declined',
  /** Follow campaigns: the person followed the account before (a re-follow after an unfollow is not new). */
  NOT_NEW: 'not_new',
  /** Follow campaigns: the follow was not during the campaign's window. */
  FOLLOW_OUTSIDE_WINDOW: 'follow_outside_window',
  /** Claim pages: the link or page token was already used by someone else. */
  LINK_REUSED: 'link_reused',
  /** Claim pages: the link or page token is past its lifetime. */
  LINK_EXPIRED: 'link_expired',
  /** Claim pages: the link does not verify (changed, cut, or not ours). */
  LINK_INVALID: 'link_invalid',
  /** Follow campaigns: whoever opened the link is not the follower it was sent to. */
  FORWARDED: 'forwarded',
  /** Follow campaigns: the follower cannot be proven to be the person who opened the link (yet). */
  UNPROVEN: 'unproven',
  /** Claim pages: a snapshot-page (快照页) user of WeChat's OAuth, whose ids are virtual. */
  SNAPSHOT_USER: 'snapshot_user',
  /**
   * The campaign's own risk check (wxa/getuserriskrank, ./risk.ts): WeChat ranks the claimant above the
   * campaign's maximum. Not RISK_BLOCKED, which is WeChat Pay refusing a payment it was asked to make.
   */
  RISKY_USER: 'risky_user',
  /** The campaign's risk check could not rank the claimant (61010: no recent visit to the mini-program; WeChat failing) and the campaign refuses then. */
  RISK_UNCHECKED: 'risk_unchecked',
} as const;
export type RefusalReason = (typeof RefusalReason)[keyof typeof RefusalReason];

/** The message a user sees for each reason. */
export const REFUSAL_MESSAGES: Readonly<Record<RefusalReason, string>> = {
  not_started: 'This campaign has not started yet',
  ended: 'This campaign has ended',
  sold_out: 'All red packets of this campaign have been claimed',
  already_claimed: 'You have already claimed a red packet from this campaign',
  claim_in_progress: 'Your red packet is already being sent',
  region: 'This campaign is not available in your region',
  wrong_app: 'This campaign cannot be claimed from this mini-program',
  wrong_entry: 'This campaign cannot be claimed this way',
  user_daily_limit: 'You have received the most red packets WeChat allows in one day; this one cannot be sent',
  merchant_limit: 'The merchant has reached its daily red-packet limit; this one cannot be sent',
  risk_blocked: 'WeChat declined to send this red packet to your account (risk control)',
  held: 'Your red packet is waiting for a check by the merchant; please try again later',
  paused: 'This campaign is paused for now; please try again later',
  transfer_received: 'This transfer has already reached your WeChat balance',
  transfer_expired: 'This transfer was not confirmed within 24 hours and has been closed',
  transfer_cancelled: 'The merchant has cancelled this transfer',
  transfer_declined: 'WeChat Pay could not make this transfer to your account',
  not_new: 'This campaign is for new followers only',
  follow_outside_window: 'You followed the account outside the campaign\'s dates',
  link_reused: 'This link has already been used',
  link_expired: 'This link has expired',
  link_invalid: 'This link is not valid',
  forwarded: 'This link was sent to someone else',
  unproven: 'We cannot confirm that you received this link; please try again in a minute',
  snapshot_user: 'Please open the full page (使用完整服务) before claiming',
  risky_user: 'This campaign cannot be claimed from this WeChat account',
  risk_unchecked: 'Your account could not be checked right now; please open the mini-program again and retry',
};

/**
 * Reasons the client may branch on, answered as the envelope's `error.reason`: a transfer's client
 * must tell "already received" from "closed" (reference §2: wx.requestMerchantTransfer's success
 * proves nothing, so the client asks again and reads this).
 */
const PUBLIC_REASONS: Partial<Record<RefusalReason, string>> = {
  transfer_received: 'TRANSFER_RECEIVED',
  transfer_expired: 'TRANSFER_EXPIRED',
  transfer_cancelled: 'TRANSFER_CANCELLED',
  transfer_declined: 'TRANSFER_DECLINED',
};

/** A refusal with its stable reason (NOT_ELIGIBLE). */
export function refusal(reason: RefusalReason, options: { cause?: unknown } = {}): NotEligibleError {
  const publicReason = PUBLIC_REASONS[reason];
  return new NotEligibleError(reason, REFUSAL_MESSAGES[reason], { ...options, ...(publicReason === undefined ? {} : { publicReason }) });
}

/** The user or the campaign is calling faster than its limit allows. */
export function tooManyCalls(scope: 'user' | 'campaign', retryAfterMs: number): RateLimitedError {
  return new RateLimitedError(
    scope === 'user' ? 'Too many attempts, please wait a minute' : 'Too many people are claiming right now, please try again in a moment',
    retryAfterMs,
  );
}

/**
 * The packet is reserved for the user but its payment is not settled yet (WeChat busy, an
 * uncertain reply being checked). Nothing is lost: the reconciler finishes it; calling again
 * later returns the packet.
 */
export class ClaimPendingError extends AppError {
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number) {
    super(ErrorCode.UPSTREAM_BUSY, 'Your red packet is reserved and being sent; please try again in a few seconds', { expose: true });
    this.retryAfterMs = retryAfterMs;
  }
}
