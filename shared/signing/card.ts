/**
 * cardExt for `wx.addCard` (reference/wechat-api.md §4).
 * https://developers.weixin.qq.com/miniprogram/dev/api/open-api/card/wx.addCard.html
 */
import { sortedConcatSha1 } from './hash';
import { optionalString, requireCredential, requireNonce, requireOptions, requireSeconds, requireString } from './validate';

/** What the cardExt signature covers. */
export interface CardExtSignatureInput {
  /** The `wx_card` api_ticket of the 服务号 that created the card (not the jsapi ticket). */
  apiTicket: string;
  cardId: string;
  /** Unix seconds. */
  timestamp: number | string;
  /** 1–32 characters, unique per request or the add fails. */
  nonceStr: string;
  /** Only for custom-code cards; must be absent for the others. */
  code?: string;
  /** Only for cards created with bind_openid=true. */
  openid?: string;
}

/** cardExt input: the signed fields plus the two WeChat reads but does not sign. */
export interface CardExtInput extends CardExtSignatureInput {
  /** Channel value echoed in the user_get_card push. Not signed. */
  outerStr?: string;
  /** Real receive time for DATE_TYPE_FIX_TERM cards, unix seconds. Not signed. */
  fixedBeginTimestamp?: number | string;
}

/** The cardExt JSON fields, in the order the doc lists them. Absent fields are left out entirely. */
interface CardExtFields {
  code?: string;
  openid?: string;
  /**
   * A JSON number: the mini-program doc types wx.addCard's cardExt timestamp as number, and a
   * resolved community report has wx.addCard failing on a quoted one (issue 8 §4; the old JS-SDK
   * doc's "convert to string" is about the signature input). The signature hashes its decimal
   * digits, which is exactly how JSON writes a safe integer, so the two cannot drift.
   */
  timestamp: number;
  nonce_str: string;
  fixed_begintimestamp?: number;
  outer_str?: string;
}

const SIGNATURE_KEYS = ['apiTicket', 'cardId', 'timestamp', 'nonceStr', 'code', 'openid'] as const;
const CARD_EXT_KEYS = [...SIGNATURE_KEYS, 'outerStr', 'fixedBeginTimestamp'] as const;

/** Lowercase hex SHA1 over the sorted values of api_ticket, card_id and the signed cardExt fields. */
export function cardExtSignature(input: CardExtSignatureInput): string {
  const options = requireOptions(input, SIGNATURE_KEYS, 'cardExtSignature');
  const { apiTicket, cardId, fields } = readCardExt(options);
  return signCardExtFields(apiTicket, cardId, fields);
}

/**
 * The cardExt JSON string for one `cardList` item of `wx.addCard`. The signature is computed
 * from the very object that is serialised, so the JSON and the signed fields cannot disagree
 * (the root cause of most cardExt 签名错误 reports).
 */
export function buildCardExt(input: CardExtInput): string {
  const options = requireOptions(input, CARD_EXT_KEYS, 'buildCardExt');
  const { apiTicket, cardId, fields } = readCardExt(options);
  const outerStr = optionalString(options.outerStr, 'outerStr');
  if (options.fixedBeginTimestamp !== undefined) {
    fields.fixed_begintimestamp = Number(requireSeconds(options.fixedBeginTimestamp, 'fixedBeginTimestamp'));
  }
  if (outerStr !== undefined) fields.outer_str = outerStr;
  return JSON.stringify({ ...fields, signature: signCardExtFields(apiTicket, cardId, fields) });
}

function readCardExt(options: Record<string, unknown>): { apiTicket: string; cardId: string; fields: CardExtFields } {
  const apiTicket = requireCredential(options.apiTicket, 'apiTicket');
  const cardId = requireString(options.cardId, 'cardId');
  const code = optionalString(options.code, 'code');
  const openid = optionalString(options.openid, 'openid');
  // Insertion order is the JSON order: code, openid, timestamp, nonce_str as the doc lists them.
  const fields: CardExtFields = {
    ...(code === undefined ? {} : { code }),
    ...(openid === undefined ? {} : { openid }),
    timestamp: Number(requireSeconds(options.timestamp, 'timestamp')),
    nonce_str: requireNonce(options.nonceStr, 'nonceStr'),
  };
  return { apiTicket, cardId, fields };
}

// Only code, openid, timestamp and nonce_str of the JSON are signed; outer_str and
// fixed_begintimestamp travel unsigned ("不参与签名").
function signCardExtFields(apiTicket: string, cardId: string, fields: CardExtFields): string {
  const values = [apiTicket, cardId, fields.code, fields.openid, String(fields.timestamp), fields.nonce_str];
  const present = values.filter((value): value is string => value !== undefined && value !== '');
  return sortedConcatSha1(present);
}
