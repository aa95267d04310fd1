/**
 * The card part of the sandbox state: created cards, the user cards (codes) the client
 * emulation issued, the encrypt_codes standing for them, and the cardExt nonces each account
 * has used. Rules take the sandbox time as an argument, so this module needs nothing from
 * `state.ts` (which owns one instance of it) and there is no import cycle.
 */
import { randomBytes, randomInt } from 'node:crypto';

/** The card_type values `/card/create` accepts (reference/wechat-api.md §3). */
export const CARD_TYPES = [
  'GENERAL_COUPON', 'CASH', 'DISCOUNT', 'GIFT', 'GROUPON',
  'MEETING_TICKET', 'SCENIC_TICKET', 'MOVIE_TICKET', 'BOARDING_PASS', 'MEMBER_CARD',
] as const;
export type CardType = (typeof CARD_TYPES)[number];

/** Card review states; only approved (or dispatched) cards can be added by users. */
export const CARD_STATUSES = [
  'CARD_STATUS_NOT_VERIFY', 'CARD_STATUS_VERIFY_FAIL', 'CARD_STATUS_VERIFY_OK', 'CARD_STATUS_DELETE', 'CARD_STATUS_DISPATCH',
] as const;
export type CardStatus = (typeof CARD_STATUSES)[number];
export const ADDABLE_CARD_STATUSES: readonly CardStatus[] = ['CARD_STATUS_VERIFY_OK', 'CARD_STATUS_DISPATCH'];

/** `user_card_status` of `/card/code/get` (the subset the sandbox can reach). */
export type UserCardStatus = 'NORMAL' | 'CONSUMED' | 'EXPIRE' | 'DELETE';

/** `base_info.date_info`, with timestamps in unix seconds as WeChat sends them. */
export type CardDateInfo =
  | { type: 'DATE_TYPE_FIX_TIME_RANGE'; beginTimestamp: number; endTimestamp: number }
  | { type: 'DATE_TYPE_FIX_TERM'; fixedTermDays: number; fixedBeginTermDays: number; endTimestamp: number | undefined }
  | { type: 'DATE_TYPE_PERMANENT' };

/** What of a validated `/card/create` body the sandbox's rules need. */
export interface CardDefinition {
  readonly cardType: CardType;
  readonly title: string;
  readonly useCustomCode: boolean;
  readonly bindOpenid: boolean;
  /** Cards one user may receive in total ("每人可领券的数量限制", default 50). */
  readonly getLimit: number;
  /** `sku.quantity` at creation. */
  readonly quantity: number;
  readonly dateInfo: CardDateInfo;
}

/** One created card. */
export interface CardRecord extends CardDefinition {
  readonly cardId: string;
  readonly appid: string;
  readonly createdAtMs: number;
  status: CardStatus;
  stockLeft: number;
}

/** One card in one user's card pack. */
export interface UserCardRecord {
  readonly cardId: string;
  readonly appid: string;
  readonly code: string;
  readonly openid: string;
  /** The unsigned channel tag from cardExt; '' when none was given. */
  readonly outerStr: string;
  readonly receivedAtMs: number;
  readonly beginTimestamp: number;
  /** 0 for DATE_TYPE_PERMANENT (no end). */
  readonly endTimestamp: number;
  /** What wx.addCard returned for it; `/card/code/decrypt` maps it back. */
  readonly encryptCode: string;
  /** The stored state; EXPIRE is derived from the clock by {@link userCardStatus}. */
  status: 'NORMAL' | 'CONSUMED' | 'DELETE';
  consumedAtMs: number | undefined;
  /** The account whose access_token consumed it. */
  consumedByAppid: string | undefined;
}

/** The card part of the sandbox state. */
export interface CardState {
  cards: Map<string, CardRecord>;
  /** A code may repeat across cards (custom codes), so each code maps to a list. */
  userCardsByCode: Map<string, UserCardRecord[]>;
  userCardsByEncryptCode: Map<string, UserCardRecord>;
  /** `${appid} ${nonce_str}` of every accepted cardExt. */
  usedNonces: Set<string>;
}

const DAY_SECONDS = 86_400;
// Bounded retries for a fresh random value; a collision twice in a row among 9e11 codes means a bug.
const MAX_DRAWS = 8;

/** An empty card state. */
export function createCardState(): CardState {
  return { cards: new Map(), userCardsByCode: new Map(), userCardsByEncryptCode: new Map(), usedNonces: new Set() };
}

/** Forgets every card, code, encrypt_code and nonce. */
export function clearCardState(cards: CardState): void {
  cards.cards.clear();
  cards.userCardsByCode.clear();
  cards.userCardsByEncryptCode.clear();
  cards.usedNonces.clear();
}

/** Creates an approved card: WeChat reviews cards, the sandbox approves at once (the control API can change it). */
export function createCard(cards: CardState, appid: string, definition: CardDefinition, nowMs: number): CardRecord {
  // 'p' + 27 characters of [A-Za-z0-9_-], the shape of real card ids (pZI8Fjwsy5fVPRBeD78J4RmqVvBc).
  const cardId = `p${randomBytes(21).toString('base64url').slice(0, 27)}`;
  const record: CardRecord = { ...definition, cardId, appid, createdAtMs: nowMs, status: 'CARD_STATUS_VERIFY_OK', stockLeft: definition.quantity };
  cards.cards.set(cardId, record);
  return record;
}

/** The account's card, or undefined: another account's card id is as unknown as a made-up one. */
export function findCard(cards: CardState, appid: string, cardId: string): CardRecord | undefined {
  const card = cards.cards.get(cardId);
  return card?.appid === appid ? card : undefined;
}

/**
 * The user card an API call names. Without `card_id` only codes of non-custom-code cards are
 * found: WeChat requires card_id for custom codes, which are unique per card only.
 */
export function findUserCard(cards: CardState, appid: string, code: string, cardId: string | undefined): UserCardRecord | undefined {
  return (cards.userCardsByCode.get(code) ?? []).find((userCard) => {
    if (userCard.appid !== appid) return false;
    if (cardId !== undefined) return userCard.cardId === cardId;
    return cards.cards.get(userCard.cardId)?.useCustomCode === false;
  });
}

/** How many of the card one user has received, whatever became of them since (get_limit counts receipts). */
export function receivedCount(cards: CardState, cardId: string, openid: string): number {
  let count = 0;
  for (const list of cards.userCardsByCode.values()) {
    count += list.filter((userCard) => userCard.cardId === cardId && userCard.openid === openid).length;
  }
  return count;
}

/** Whether a custom code was already issued for the card. */
export function isCodeIssued(cards: CardState, cardId: string, code: string): boolean {
  return (cards.userCardsByCode.get(code) ?? []).some((userCard) => userCard.cardId === cardId);
}

/** What the issuing needs beyond the card: the user, the custom code, the cardExt extras. */
export interface IssueInput {
  openid: string;
  /** Custom-code cards only. */
  code: string | undefined;
  outerStr: string | undefined;
  /** cardExt `fixed_begintimestamp`: the receive time a DATE_TYPE_FIX_TERM card counts from. */
  fixedBeginTimestamp: number | undefined;
}

/** Puts the card into the user's pack: a fresh 12-digit code unless custom, one unit of stock, an encrypt_code. */
export function issueUserCard(cards: CardState, card: CardRecord, input: IssueInput, nowMs: number): UserCardRecord {
  const code = input.code ?? drawUnique((): string => String(randomInt(100_000_000_000, 1_000_000_000_000)), (value) => cards.userCardsByCode.has(value));
  // Standard base64 like real encrypt_codes: a client that forgets to URL-encode it breaks here too.
  const encryptCode = drawUnique(() => randomBytes(48).toString('base64'), (value) => cards.userCardsByEncryptCode.has(value));
  const { beginTimestamp, endTimestamp } = validityOf(card.dateInfo, input.fixedBeginTimestamp ?? Math.floor(nowMs / 1000));
  const userCard: UserCardRecord = {
    cardId: card.cardId,
    appid: card.appid,
    code,
    openid: input.openid,
    outerStr: input.outerStr ?? '',
    receivedAtMs: nowMs,
    beginTimestamp,
    endTimestamp,
    encryptCode,
    status: 'NORMAL',
    consumedAtMs: undefined,
    consumedByAppid: undefined,
  };
  card.stockLeft -= 1;
  cards.userCardsByCode.set(code, [...(cards.userCardsByCode.get(code) ?? []), userCard]);
  cards.userCardsByEncryptCode.set(encryptCode, userCard);
  return userCard;
}

/** The status `/card/code/get` reports now: a NORMAL card past its end is EXPIRE. */
export function userCardStatus(userCard: UserCardRecord, nowMs: number): UserCardStatus {
  if (userCard.status !== 'NORMAL') return userCard.status;
  return userCard.endTimestamp > 0 && Math.floor(nowMs / 1000) > userCard.endTimestamp ? 'EXPIRE' : 'NORMAL';
}

/** Whether the card has started (a FIX_TERM card with fixed_begin_term > 0 starts days after receipt). */
export function hasBegun(userCard: UserCardRecord, nowMs: number): boolean {
  return Math.floor(nowMs / 1000) >= userCard.beginTimestamp;
}

/** Whether the card's own end (a FIX_TIME_RANGE end, or a FIX_TERM hard end_timestamp) has passed: it can no longer be added. */
export function hasCardEnded(card: CardRecord, nowMs: number): boolean {
  const endTimestamp = card.dateInfo.type === 'DATE_TYPE_PERMANENT' ? undefined : card.dateInfo.endTimestamp;
  return endTimestamp !== undefined && Math.floor(nowMs / 1000) > endTimestamp;
}

/**
 * begin_time/end_time of one user card. FIX_TERM counts whole days from the receive time (or the
 * cardExt's fixed_begintimestamp) and stops at the card's end_timestamp if it has one; the
 * official doc gives no day-boundary rounding, so none is applied.
 */
function validityOf(dateInfo: CardDateInfo, receivedAtSeconds: number): { beginTimestamp: number; endTimestamp: number } {
  switch (dateInfo.type) {
    case 'DATE_TYPE_FIX_TIME_RANGE':
      return { beginTimestamp: dateInfo.beginTimestamp, endTimestamp: dateInfo.endTimestamp };
    case 'DATE_TYPE_FIX_TERM': {
      const beginTimestamp = receivedAtSeconds + dateInfo.fixedBeginTermDays * DAY_SECONDS;
      const termEnd = beginTimestamp + dateInfo.fixedTermDays * DAY_SECONDS;
      return { beginTimestamp, endTimestamp: Math.min(termEnd, dateInfo.endTimestamp ?? termEnd) };
    }
    case 'DATE_TYPE_PERMANENT':
      return { beginTimestamp: receivedAtSeconds, endTimestamp: 0 };
  }
}

function drawUnique(draw: () => string, taken: (value: string) => boolean): string {
  for (let attempt = 0; attempt < MAX_DRAWS; attempt += 1) {
    const value = draw();
    if (!taken(value)) return value;
  }
  throw new Error('the sandbox could not draw a unique random value');
}
