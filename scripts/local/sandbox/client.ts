/**
 * The WeChat app's side of cards, for tests: `wx.addCard` with the `cardList` a product's
 * signCard returned, and a user deleting a card from their pack. The cardExt check is written
 * here from the documented rule (reference/wechat-api.md §4), independently of the product's
 * signing code, so a shared mistake cannot pass both.
 *
 * Batch semantics: WeChat's docs describe a signature error as failing the add, and a partial
 * add of a multi-card list is not documented, so the sandbox fails the whole batch when any item
 * is bad and then changes nothing (no code issued, no stock taken, no nonce spent). Every item
 * of a failed batch reports `isSuccess:false`; the errMsg names the bad items and why.
 * `timestamp` must be a JSON number: the mini-program doc types it so, and a resolved
 * community report has wx.addCard failing on a quoted one (issue 8 §4), so a string fails here.
 * Not modelled: a freshness window for `timestamp` (WeChat documents none).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import {
  ADDABLE_CARD_STATUSES, findCard, findUserCard, hasCardEnded, isCodeIssued, issueUserCard, receivedCount,
  type CardRecord, type IssueInput,
} from './card-state';
import { liveTickets, sandboxNowMs, type SandboxState } from './state';
import { cardEventFields, deliverInBackground, type DeliveryResult } from './users';
import { SandboxInputError } from './validate';
import { WECHAT_ERRMSG, WechatErrcode } from './wechat-errors';

/** `POST /__sandbox/client/add-card`: the user `openid` (under the official account `appid`) calls wx.addCard. */
export interface ClientAddCardInput {
  appid: string;
  openid: string;
  /** Exactly what wx.addCard would be given: `[{cardId, cardExt}]`. */
  cardList: unknown[];
  /** false: WeChat's user_get_card push does not arrive (yet). */
  deliverPush?: boolean;
}

/** One item of wx.addCard's result; `code` is the encrypt_code, present on success only. */
export interface AddCardResultItem {
  cardId: unknown;
  code?: string;
  cardExt: unknown;
  isSuccess: boolean;
}

/** What wx.addCard's success or fail callback receives. */
export interface AddCardResult {
  errMsg: string;
  cardList: AddCardResultItem[];
  /** The user_get_card pushes WeChat then sends the account (one per card added), once answered. */
  pushes?: DeliveryResult[];
}

/** `POST /__sandbox/client/delete-card`: the user removes a card from their pack (its code becomes DELETE). */
export interface ClientDeleteCardInput {
  appid: string;
  openid: string;
  cardId: string;
  code: string;
}

const MAX_NONCE_LENGTH = 32;

/** An item that passed every check, with what issuing it will do. */
interface PlannedItem {
  card: CardRecord;
  issue: IssueInput;
  nonceKey: string | undefined;
}

/** Runs wx.addCard for one user: all items verified first, then all issued, or none; the card pushes are under way when it returns. */
export function addCardAsClient(state: SandboxState, input: ClientAddCardInput): Omit<AddCardResult, 'pushes'> & { pushes: Array<Promise<DeliveryResult>> } {
  const { appid, openid, cardList } = input;
  const nowMs = sandboxNowMs(state);
  const tickets = liveTickets(state, appid, 'wx_card').map((record) => record.ticket);
  const batch = { nonces: new Set<string>(), customCodes: new Set<string>(), perCard: new Map<string, number>() };
  const failures: string[] = [];
  const planned: PlannedItem[] = [];
  if (cardList.length === 0) failures.push('cardList is empty');
  cardList.forEach((item, index) => {
    const checked = checkItem(state, { appid, openid, tickets, nowMs, batch }, item);
    if (typeof checked === 'string') failures.push(`cardList[${index}]: ${checked}`);
    else planned.push(checked);
  });
  const echo = (item: unknown): { cardId: unknown; cardExt: unknown } => {
    const record = isRecord(item) ? item : {};
    return { cardId: record.cardId, cardExt: record.cardExt };
  };
  if (failures.length > 0) {
    return { errMsg: `addCard:fail ${failures.join('; ')}`, cardList: cardList.map((item) => ({ ...echo(item), isSuccess: false })), pushes: [] };
  }
  const issued = planned.map((plan) => {
    if (plan.nonceKey !== undefined) state.cards.usedNonces.add(plan.nonceKey);
    return issueUserCard(state.cards, plan.card, plan.issue, nowMs);
  });
  // WeChat then tells the account who received which code (user_get_card), if it has a server URL.
  const account = state.accounts.get(appid);
  const deliveries = account === undefined || input.deliverPush === false
    ? []
    : issued.map((userCard) => deliverInBackground(state, account, openid, 'user_get_card', cardEventFields(state, account, openid, 'user_get_card', userCard)));
  return {
    errMsg: 'addCard:ok',
    cardList: cardList.map((item, index) => {
      const { cardId, cardExt } = echo(item);
      return { cardId, code: issued[index]?.encryptCode, cardExt, isSuccess: true };
    }),
    pushes: deliveries.filter((delivery): delivery is Promise<DeliveryResult> => delivery !== null),
  };
}

/** The user deletes a card from their pack; refuses (SandboxInputError) a code that is not theirs or not NORMAL. */
export function deleteCardAsClient(state: SandboxState, input: ClientDeleteCardInput): void {
  const userCard = findUserCard(state.cards, input.appid, input.code, input.cardId);
  if (userCard === undefined || userCard.openid !== input.openid) {
    throw new SandboxInputError(`user ${input.openid} has no card ${input.cardId} with code ${input.code}`);
  }
  if (userCard.status !== 'NORMAL') throw new SandboxInputError(`code ${input.code} is ${userCard.status}, not in the card pack`);
  userCard.status = 'DELETE';
  const account = state.accounts.get(input.appid);
  if (account !== undefined) deliverInBackground(state, account, input.openid, 'user_del_card', cardEventFields(state, account, input.openid, 'user_del_card', userCard));
}

interface CheckContext {
  appid: string;
  openid: string;
  tickets: string[];
  nowMs: number;
  /** What earlier items of the same batch will take: nonces, custom codes, units per card. */
  batch: { nonces: Set<string>; customCodes: Set<string>; perCard: Map<string, number> };
}

/** Checks one cardList item as WeChat does; a string is the reason it fails. */
function checkItem(state: SandboxState, context: CheckContext, item: unknown): PlannedItem | string {
  if (!isRecord(item) || typeof item.cardId !== 'string' || typeof item.cardExt !== 'string') {
    return 'an item must be {cardId: string, cardExt: string}';
  }
  const card = findCard(state.cards, context.appid, item.cardId);
  if (card === undefined) return withErrcode(WechatErrcode.INVALID_CARD_ID);
  const ext = parseCardExt(item.cardExt);
  if (typeof ext === 'string') return ext;

  const signedValues = [item.cardId, ext.timestamp, ext.nonceStr, ext.code, ext.openid].filter(
    (value): value is string => value !== undefined && value !== '',
  );
  if (!context.tickets.some((ticket) => signatureMatches(cardSignature([ticket, ...signedValues]), ext.signature))) {
    return 'invalid signature (checked against every live wx_card api_ticket of the account)';
  }
  const nonceKey = ext.nonceStr === undefined ? undefined : `${context.appid} ${ext.nonceStr}`;
  if (nonceKey !== undefined && (state.cards.usedNonces.has(nonceKey) || context.batch.nonces.has(nonceKey))) {
    return `nonce_str ${ext.nonceStr} was already used for this account`;
  }
  if (card.useCustomCode && ext.code === undefined) return 'code is required for a custom-code card';
  if (!card.useCustomCode && ext.code !== undefined) return 'code must not be sent for a card without use_custom_code';
  if (card.bindOpenid && ext.openid === undefined) return 'openid is required for a bind_openid card';
  if (ext.openid !== undefined && ext.openid !== context.openid) return 'the signed openid is not the adding user';
  if (!ADDABLE_CARD_STATUSES.includes(card.status)) return `${withErrcode(WechatErrcode.INVALID_CARD_STATUS)}: ${card.status}`;
  if (hasCardEnded(card, context.nowMs)) return withErrcode(WechatErrcode.INVALID_TIME);
  if (ext.code !== undefined && (isCodeIssued(state.cards, card.cardId, ext.code) || context.batch.customCodes.has(customCodeKey(card, ext.code)))) {
    return `code ${ext.code} was already issued for this card`;
  }
  const earlierInBatch = context.batch.perCard.get(card.cardId) ?? 0;
  if (card.stockLeft - earlierInBatch < 1) return withErrcode(WechatErrcode.STOCK_OUT_OF_LIMIT);
  if (receivedCount(state.cards, card.cardId, context.openid) + earlierInBatch >= card.getLimit) {
    return withErrcode(WechatErrcode.GET_LIMIT_EXCEEDED);
  }

  if (nonceKey !== undefined) context.batch.nonces.add(nonceKey);
  if (ext.code !== undefined) context.batch.customCodes.add(customCodeKey(card, ext.code));
  context.batch.perCard.set(card.cardId, earlierInBatch + 1);
  return {
    card,
    issue: { openid: context.openid, code: ext.code, outerStr: ext.outerStr, fixedBeginTimestamp: ext.fixedBeginTimestamp },
    nonceKey,
  };
}

/** The cardExt fields, with empty code/openid/nonce_str treated as absent ("非空参数才参与签名"). */
interface CardExt {
  /** The exact text signed: a JSON number is signed as its decimal digits. */
  timestamp: string;
  nonceStr: string | undefined;
  code: string | undefined;
  openid: string | undefined;
  signature: string;
  outerStr: string | undefined;
  fixedBeginTimestamp: number | undefined;
}

function parseCardExt(text: string): CardExt | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'cardExt is not JSON';
  }
  if (!isRecord(parsed)) return 'cardExt must be a JSON object';
  if (typeof parsed.timestamp === 'string') return 'cardExt.timestamp must be a JSON number, not a quoted string';
  const timestamp = secondsText(parsed.timestamp);
  if (timestamp === undefined) return 'cardExt.timestamp must be unix seconds';
  if (typeof parsed.signature !== 'string') return 'cardExt.signature is required';
  for (const field of ['nonce_str', 'code', 'openid', 'outer_str']) {
    if (parsed[field] !== undefined && typeof parsed[field] !== 'string') return `cardExt.${field} must be a string`;
  }
  const nonceStr = nonEmpty(parsed.nonce_str);
  if (nonceStr !== undefined && nonceStr.length > MAX_NONCE_LENGTH) return `cardExt.nonce_str is longer than ${MAX_NONCE_LENGTH} characters`;
  const fixedBegin = parsed.fixed_begintimestamp === undefined ? undefined : secondsText(parsed.fixed_begintimestamp);
  if (parsed.fixed_begintimestamp !== undefined && fixedBegin === undefined) return 'cardExt.fixed_begintimestamp must be unix seconds';
  return {
    timestamp,
    nonceStr,
    code: nonEmpty(parsed.code),
    openid: nonEmpty(parsed.openid),
    signature: parsed.signature,
    outerStr: nonEmpty(parsed.outer_str),
    fixedBeginTimestamp: fixedBegin === undefined ? undefined : Number(fixedBegin),
  };
}

/** Lowercase hex SHA1 of the values sorted as strings and concatenated without separator. */
function cardSignature(values: string[]): string {
  return createHash('sha1').update([...values].sort().join(''), 'utf8').digest('hex');
}

/** Constant-time, and only the exact lowercase form matches (an uppercase digest is refused, as WeChat's example shows lowercase). */
function signatureMatches(expected: string, given: string): boolean {
  const expectedBytes = Buffer.from(expected, 'utf8');
  const givenBytes = Buffer.from(given, 'utf8');
  return expectedBytes.length === givenBytes.length && timingSafeEqual(expectedBytes, givenBytes);
}

function secondsText(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  if (typeof value === 'string' && /^\d{1,12}$/.test(value)) return value;
  return undefined;
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function customCodeKey(card: CardRecord, code: string): string {
  return `${card.cardId} ${code}`;
}

function withErrcode(errcode: number): string {
  return `${WECHAT_ERRMSG[errcode] ?? 'error'} (${errcode})`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
