import { AppError, ErrorCode } from '../errors';
import type { DocumentStore, StoredDoc } from '../store/port';
import { COLLECTIONS } from '../store/port';

/**
 * Who received a card code, as recorded from WeChat's card events — the proof of ownership for
 * users WeChat's `card/code/get` cannot be matched to (no unionid, or no official-account link).
 *
 * `card_code_owners`, `_id` = `<cardId>:<code>` ({@link cardCodeOwnerId}). The push receiver
 * writes one from each verified `user_get_card` event (`FromUserName`, `UnionId`, and the
 * mini-program user a verified `OuterStr` names), and sets `releasedAtMs` on `user_del_card` or
 * when the card is given to a friend (`user_gifting_card`, or a `user_get_card` with
 * `IsGiveByFriend=1` for the new owner, which writes a new record). A record is only ever
 * written from a verified push: nothing a mini-program sends can create one.
 */
export interface CardCodeOwnerDoc extends StoredDoc {
  cardId: string;
  code: string;
  /** The official account whose card it is. */
  officialAppId: string;
  /** `FromUserName` of the event: the owner's openid under that official account. */
  officialOpenid: string;
  /** `UnionId` of the event, when WeChat sent one. */
  unionid?: string;
  /** The mini-program user a verified `outer_str` reference named. */
  miniProgram?: { appid: string; openid: string };
  /** The event that wrote the record, e.g. `user_get_card`. */
  source: string;
  recordedAtMs: number;
  /** WeChat's time of the event that wrote the record. */
  eventAtMs?: number;
  /** Set when the owner deleted the card or gave it away: the record proves nothing any more. */
  releasedAtMs?: number;
  /** WeChat's time of the event that released it: an older `user_get_card` applied later does not revive the record. */
  releasedByEventAtMs?: number;
  /** When WeChat reported the code consumed (`user_consume_card`); ownership is unchanged. */
  consumedAtMs?: number;
}

/** The caller as ownership proofs see them: identity from the platform only. */
export interface CodeClaimant {
  openid: string;
  appid?: string;
  unionid?: string;
}

export function cardCodeOwnerId(cardId: string, code: string): string {
  return `${cardId}:${code}`;
}

/** The ownership record of a code, or null. A store failure is thrown: a caller must fail closed on it. */
export function findCardCodeOwner(store: DocumentStore, cardId: string, code: string): Promise<CardCodeOwnerDoc | null> {
  return store.get<CardCodeOwnerDoc>(COLLECTIONS.cardCodeOwners, cardCodeOwnerId(cardId, code));
}

/** Writes (or replaces) the record of who received a code; for the push receiver. */
export async function recordCardCodeOwner(store: DocumentStore, record: Omit<CardCodeOwnerDoc, '_id'>): Promise<void> {
  await store.put(COLLECTIONS.cardCodeOwners, { _id: cardCodeOwnerId(record.cardId, record.code), ...record });
}

/**
 * Whether a record proves the claimant owns the code of this official account: same unionid,
 * or the very mini-program user the signed outer_str named. The official-account openid alone
 * says nothing about a mini-program caller (another openid space); the link path covers it.
 */
export function recordProvesOwner(record: CardCodeOwnerDoc | null, claimant: CodeClaimant, officialAppId: string): boolean {
  if (record === null || record.releasedAtMs !== undefined || record.officialAppId !== officialAppId) return false;
  if (claimant.unionid !== undefined && record.unionid !== undefined && claimant.unionid === record.unionid) return true;
  const mp = record.miniProgram;
  return mp !== undefined && claimant.appid !== undefined && mp.appid === claimant.appid && mp.openid === claimant.openid;
}

/** What the mini-program can do about an unproven ownership; also the envelope's `reason`. */
export const OWNERSHIP_MISSING = {
  /** The user has no unionid here (the mini-program is not on the official account's Open Platform) and no card event names them. */
  NO_UNIONID: 'NO_UNIONID',
  /** The user has a unionid but no known openid under the official account. */
  ACCOUNT_NOT_LINKED: 'ACCOUNT_NOT_LINKED',
} as const;
export type OwnershipMissing = (typeof OWNERSHIP_MISSING)[keyof typeof OWNERSHIP_MISSING];

const MISSING_MESSAGES: Record<OwnershipMissing, string> = {
  NO_UNIONID:
    'This card cannot be shown here yet: nothing proves it is yours. If you just added it, try again in a moment; otherwise open it from your WeChat card pack',
  ACCOUNT_NOT_LINKED: 'Link your account first: follow the official account (or open its authorisation page), then try again',
};

/**
 * decryptCode's refusal when no proof of ownership exists (NOT_ELIGIBLE): the envelope carries
 * `reason` so the mini-program can show the right next step.
 */
export class CodeOwnershipUnprovenError extends AppError {
  readonly missing: OwnershipMissing;
  constructor(missing: OwnershipMissing) {
    super(ErrorCode.NOT_ELIGIBLE, MISSING_MESSAGES[missing], { expose: true, publicReason: missing });
    this.missing = missing;
  }
}
