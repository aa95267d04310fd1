/**
 * WeChat's field rules for a `/card/create` body (reference/wechat-api.md §3): the card type,
 * the required base_info fields with their limits, the type's own required field, and the
 * errcode each violation gets. The errmsg names the field, so a failing template says what to fix.
 *
 * Length limits: the SDKs write them as "≤9 汉字" and the official byte types (string(27)…) are
 * not pinned, so the sandbox counts characters (code points), every character as one. That is
 * at least as strict as WeChat's byte limit for Chinese and Latin text alike: a template
 * accepted here is not refused upstream for length.
 */
import { CARD_TYPES, type CardDateInfo, type CardDefinition, type CardType } from './card-state';
import { WechatErrcode } from './wechat-errors';

/** The 14 card colours, as `/card/getcolors` lists them (the set wechatpy and WxJava hard-code). */
export const CARD_COLORS: ReadonlyArray<{ name: string; value: string }> = [
  { name: 'Color010', value: '#63b359' },
  { name: 'Color020', value: '#2c9f67' },
  { name: 'Color030', value: '#509fc9' },
  { name: 'Color040', value: '#5885cf' },
  { name: 'Color050', value: '#9062c0' },
  { name: 'Color060', value: '#d09a45' },
  { name: 'Color070', value: '#e4b138' },
  { name: 'Color080', value: '#ee903c' },
  { name: 'Color081', value: '#f08500' },
  { name: 'Color082', value: '#a9d92d' },
  { name: 'Color090', value: '#dd6549' },
  { name: 'Color100', value: '#cc463d' },
  { name: 'Color101', value: '#cf3e36' },
  { name: 'Color102', value: '#5E6671' },
];

const CODE_TYPES = [
  'CODE_TYPE_TEXT', 'CODE_TYPE_BARCODE', 'CODE_TYPE_QRCODE', 'CODE_TYPE_ONLY_QRCODE', 'CODE_TYPE_ONLY_BARCODE', 'CODE_TYPE_NONE',
];

/** Character limits of base_info text fields ("≤N 汉字"). */
const TEXT_LIMITS = { brand_name: 12, title: 9, notice: 16, description: 1024, sub_title: 18 } as const;

const MAX_QUANTITY = 100_000_000;
const DEFAULT_GET_LIMIT = 50;

/**
 * The field each coupon type must carry besides base_info. The ticket and member-card types
 * have richer structures the sandbox does not check.
 */
const TYPE_REQUIRED_FIELD: Partial<Record<CardType, string>> = {
  GENERAL_COUPON: 'default_detail',
  GROUPON: 'deal_detail',
  GIFT: 'gift',
};

/** A create body WeChat would refuse: the errcode and what is wrong. */
export class CardRuleError extends Error {
  constructor(readonly errcode: number, message: string) {
    super(message);
    this.name = 'CardRuleError';
  }
}

/** What the rules need to know beyond the body. */
export interface CardRuleContext {
  nowMs: number;
  /** Whether the URL came from this sandbox's uploadimg: WeChat only shows logos hosted on mmbiz. */
  isUploadedImage(url: string): boolean;
}

/** Validates a parsed `/card/create` body; throws {@link CardRuleError} on the first violation. */
export function parseCardDefinition(body: unknown, context: CardRuleContext): CardDefinition {
  const card = isRecord(body) ? body.card : undefined;
  if (!isRecord(card)) throw actionInfo('card must be an object');
  const cardType = card.card_type;
  if (!CARD_TYPES.includes(cardType as CardType)) {
    throw new CardRuleError(WechatErrcode.INVALID_CARD_TYPE, `card_type must be one of ${CARD_TYPES.join(', ')}`);
  }
  const type = cardType as CardType;
  const key = type.toLowerCase();
  const detail = card[key];
  if (!isRecord(detail)) throw actionInfo(`card.${key} must be an object`);
  const baseInfo = detail.base_info;
  if (!isRecord(baseInfo)) throw actionInfo(`card.${key}.base_info must be an object`);
  checkBaseInfo(baseInfo, context);
  checkTypeFields(type, detail, key);
  const sku = baseInfo.sku as Record<string, unknown>;
  return {
    cardType: type,
    title: baseInfo.title as string,
    useCustomCode: optionalBoolean(baseInfo, 'use_custom_code'),
    bindOpenid: optionalBoolean(baseInfo, 'bind_openid'),
    getLimit: baseInfo.get_limit === undefined ? DEFAULT_GET_LIMIT : positiveInteger(baseInfo.get_limit, 'base_info.get_limit'),
    quantity: sku.quantity as number,
    dateInfo: parseDateInfo(baseInfo.date_info, type, context.nowMs),
  };
}

function checkBaseInfo(baseInfo: Record<string, unknown>, context: CardRuleContext): void {
  const logoUrl = baseInfo.logo_url;
  if (typeof logoUrl !== 'string' || logoUrl === '') throw actionInfo('base_info.logo_url is required');
  if (!context.isUploadedImage(logoUrl)) {
    throw actionInfo('base_info.logo_url must be a URL returned by /cgi-bin/media/uploadimg');
  }
  if (!CODE_TYPES.includes(baseInfo.code_type as string)) {
    throw actionInfo(`base_info.code_type must be one of ${CODE_TYPES.join(', ')}`);
  }
  for (const [field, limit] of Object.entries(TEXT_LIMITS)) {
    const value = baseInfo[field];
    if (field === 'sub_title' && value === undefined) continue;
    if (typeof value !== 'string' || value === '') throw actionInfo(`base_info.${field} is required`);
    const length = [...value].length;
    if (length > limit) throw actionInfo(`base_info.${field} has ${length} characters, at most ${limit} allowed`);
  }
  if (!CARD_COLORS.some((color) => color.name === baseInfo.color)) {
    throw actionInfo('base_info.color must be a colour name from /card/getcolors (Color010…Color102)');
  }
  const sku = baseInfo.sku;
  if (!isRecord(sku) || typeof sku.quantity !== 'number' || !Number.isInteger(sku.quantity)) {
    throw actionInfo('base_info.sku.quantity must be an integer');
  }
  if (sku.quantity < 1 || sku.quantity > MAX_QUANTITY) {
    throw new CardRuleError(WechatErrcode.INVALID_CARD_QUANTITY, `base_info.sku.quantity must be from 1 to ${MAX_QUANTITY}`);
  }
  optionalBoolean(baseInfo, 'use_custom_code');
  optionalBoolean(baseInfo, 'bind_openid');
}

function checkTypeFields(type: CardType, detail: Record<string, unknown>, key: string): void {
  const required = TYPE_REQUIRED_FIELD[type];
  if (required !== undefined && (typeof detail[required] !== 'string' || detail[required] === '')) {
    throw actionInfo(`card.${key}.${required} is required`);
  }
  if (type === 'CASH') {
    positiveInteger(detail.reduce_cost, `card.${key}.reduce_cost (fen)`);
    if (detail.least_cost !== undefined) nonNegativeInteger(detail.least_cost, `card.${key}.least_cost (fen)`);
  }
  if (type === 'DISCOUNT') {
    const discount = detail.discount;
    if (typeof discount !== 'number' || !Number.isInteger(discount) || discount < 1 || discount > 99) {
      throw actionInfo(`card.${key}.discount must be a percentage off from 1 to 99`);
    }
  }
}

function parseDateInfo(value: unknown, type: CardType, nowMs: number): CardDateInfo {
  if (!isRecord(value)) throw actionInfo('base_info.date_info is required');
  switch (value.type) {
    case 'DATE_TYPE_FIX_TIME_RANGE': {
      const beginTimestamp = seconds(value.begin_timestamp, 'base_info.date_info.begin_timestamp');
      const endTimestamp = seconds(value.end_timestamp, 'base_info.date_info.end_timestamp');
      if (endTimestamp <= beginTimestamp || endTimestamp <= Math.floor(nowMs / 1000)) {
        throw new CardRuleError(WechatErrcode.INVALID_TIME, 'base_info.date_info.end_timestamp must be after begin_timestamp and in the future');
      }
      return { type: value.type, beginTimestamp, endTimestamp };
    }
    case 'DATE_TYPE_FIX_TERM': {
      const endTimestamp = value.end_timestamp === undefined ? undefined : seconds(value.end_timestamp, 'base_info.date_info.end_timestamp');
      if (endTimestamp !== undefined && endTimestamp <= Math.floor(nowMs / 1000)) {
        throw new CardRuleError(WechatErrcode.INVALID_TIME, 'base_info.date_info.end_timestamp must be in the future');
      }
      return {
        type: value.type,
        fixedTermDays: positiveInteger(value.fixed_term, 'base_info.date_info.fixed_term'),
        fixedBeginTermDays: value.fixed_begin_term === undefined ? 0 : nonNegativeInteger(value.fixed_begin_term, 'base_info.date_info.fixed_begin_term'),
        endTimestamp,
      };
    }
    case 'DATE_TYPE_PERMANENT':
      if (type !== 'MEMBER_CARD') throw actionInfo('base_info.date_info.type DATE_TYPE_PERMANENT is for MEMBER_CARD only');
      return { type: value.type };
    default:
      throw actionInfo('base_info.date_info.type must be DATE_TYPE_FIX_TIME_RANGE, DATE_TYPE_FIX_TERM or DATE_TYPE_PERMANENT');
  }
}

/** Unix seconds; the doc asks for them as strings ("最终需转换为字符串形态传入"), numbers work too. */
function seconds(value: unknown, what: string): number {
  const parsed = typeof value === 'string' && /^\d{1,12}$/.test(value) ? Number(value) : value;
  if (typeof parsed !== 'number' || !Number.isInteger(parsed) || parsed < 0) throw actionInfo(`${what} must be unix seconds`);
  return parsed;
}

function positiveInteger(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw actionInfo(`${what} must be a positive integer`);
  return value;
}

function nonNegativeInteger(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw actionInfo(`${what} must be a non-negative integer`);
  return value;
}

function optionalBoolean(record: Record<string, unknown>, field: string): boolean {
  const value = record[field];
  if (value !== undefined && typeof value !== 'boolean') throw actionInfo(`base_info.${field} must be true or false`);
  return value === true;
}

function actionInfo(detail: string): CardRuleError {
  return new CardRuleError(WechatErrcode.INVALID_ACTION_INFO, detail);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
