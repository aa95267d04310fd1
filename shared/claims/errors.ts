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
};

/** A refusal with its stable reason (NOT_ELIGIBLE). */
export function refusal(reason: RefusalReason, options: { cause?: unknown } = {}): NotEligibleError {
  return new NotEligibleError(reason, REFUSAL_MESSAGES[reason], options);
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
