/**
 * Local validation of a card template against WeChat's field rules, so a bad template fails on
 * the operator's laptop with every problem named, before anything is uploaded. Lengths follow the
 * SDKs' "N 汉字" limits (reference/wechat-api.md §3), counting every character as one.
 */

export const CARD_TYPES = [
  'GENERAL_COUPON',
  'GROUPON',
  'CASH',
  'DISCOUNT',
  'GIFT',
  'MEETING_TICKET',
  'SCENIC_TICKET',
  'MOVIE_TICKET',
  'BOARDING_PASS',
  'MEMBER_CARD',
] as const;
export type CardType = (typeof CARD_TYPES)[number];

const CODE_TYPES = ['CODE_TYPE_TEXT', 'CODE_TYPE_BARCODE', 'CODE_TYPE_QRCODE', 'CODE_TYPE_ONLY_QRCODE', 'CODE_TYPE_ONLY_BARCODE', 'CODE_TYPE_NONE'];

/** Required fields of each type besides base_info, and what they must be. */
const TYPE_FIELDS: Partial<Record<CardType, Array<{ field: string; kind: 'text' | 'fen' | 'percent' }>>> = {
  GENERAL_COUPON: [{ field: 'default_detail', kind: 'text' }],
  GROUPON: [{ field: 'deal_detail', kind: 'text' }],
  CASH: [
    { field: 'least_cost', kind: 'fen' },
    { field: 'reduce_cost', kind: 'fen' },
  ],
  DISCOUNT: [{ field: 'discount', kind: 'percent' }],
  GIFT: [{ field: 'gift', kind: 'text' }],
  MEETING_TICKET: [{ field: 'meeting_detail', kind: 'text' }],
};

const TEXT_LIMITS: Array<{ field: string; max: number; required: boolean }> = [
  { field: 'brand_name', max: 12, required: true },
  { field: 'title', max: 9, required: true },
  { field: 'notice', max: 16, required: true },
  { field: 'description', max: 1024, required: true },
  { field: 'sub_title', max: 18, required: false },
  { field: 'service_phone', max: 24, required: false },
];

function length(text: string): number {
  return [...text].length;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Every problem of a `{ card: { card_type, <type>: { base_info, … } } }` body; empty when it is fine. */
export function validateCardTemplate(template: unknown, options: { requireLogo: boolean } = { requireLogo: true }): string[] {
  const problems: string[] = [];
  if (!isObject(template) || !isObject(template.card)) return ['the template must be { "card": { "card_type": …, "<type>": { "base_info": … } } }'];
  const card = template.card;
  const type = card.card_type;
  if (typeof type !== 'string' || !(CARD_TYPES as readonly string[]).includes(type)) {
    return [`card.card_type must be one of ${CARD_TYPES.join(', ')}`];
  }
  const key = type.toLowerCase();
  const body = card[key];
  if (!isObject(body)) return [`card.${key} is missing (its key is the lowercase card_type)`];
  const base = body.base_info;
  if (!isObject(base)) return [`card.${key}.base_info is missing`];
  const at = (field: string) => `card.${key}.base_info.${field}`;

  if (options.requireLogo && (typeof base.logo_url !== 'string' || !/^https?:\/\//.test(base.logo_url))) {
    problems.push(`${at('logo_url')} must be the URL uploadimg returned (use --logo FILE)`);
  }
  if (typeof base.code_type !== 'string' || !CODE_TYPES.includes(base.code_type)) problems.push(`${at('code_type')} must be one of ${CODE_TYPES.join(', ')}`);
  for (const { field, max, required } of TEXT_LIMITS) {
    const value = base[field];
    if (value === undefined) {
      if (required) problems.push(`${at(field)} is required`);
    } else if (typeof value !== 'string' || value.trim() === '') problems.push(`${at(field)} must be a non-empty string`);
    else if (length(value) > max) problems.push(`${at(field)} is ${length(value)} characters; WeChat allows at most ${max}`);
  }
  if (typeof base.color !== 'string' || !/^Color0\d\d$|^Color100$/.test(base.color)) problems.push(`${at('color')} must be a colour name such as Color010 (npm run cards -- colors)`);
  const sku = base.sku;
  const quantity = isObject(sku) ? sku.quantity : undefined;
  if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1 || quantity > 100_000_000) {
    problems.push(`${at('sku.quantity')} must be an integer from 1 to 100000000`);
  }
  const date = base.date_info;
  if (!isObject(date)) problems.push(`${at('date_info')} is required`);
  else if (date.type === 'DATE_TYPE_FIX_TIME_RANGE') {
    const begin = date.begin_timestamp;
    const end = date.end_timestamp;
    if (typeof begin !== 'number' || typeof end !== 'number' || !(end > begin)) problems.push(`${at('date_info')} needs begin_timestamp < end_timestamp (unix seconds)`);
  } else if (date.type === 'DATE_TYPE_FIX_TERM') {
    if (typeof date.fixed_term !== 'number' || date.fixed_term < 1) problems.push(`${at('date_info.fixed_term')} must be a number of days ≥ 1`);
  } else if (date.type === 'DATE_TYPE_PERMANENT') {
    if (type !== 'MEMBER_CARD') problems.push(`${at('date_info.type')} DATE_TYPE_PERMANENT is for member cards only`);
  } else problems.push(`${at('date_info.type')} must be DATE_TYPE_FIX_TIME_RANGE, DATE_TYPE_FIX_TERM or DATE_TYPE_PERMANENT`);
  for (const flag of ['use_custom_code', 'bind_openid', 'can_share', 'can_give_friend']) {
    if (base[flag] !== undefined && typeof base[flag] !== 'boolean') problems.push(`${at(flag)} must be true or false`);
  }
  if (base.get_limit !== undefined && (typeof base.get_limit !== 'number' || !Number.isInteger(base.get_limit) || base.get_limit < 1)) {
    problems.push(`${at('get_limit')} must be a positive integer`);
  }
  for (const { field, kind } of TYPE_FIELDS[type as CardType] ?? []) {
    const value = body[field];
    const where = `card.${key}.${field}`;
    if (kind === 'text' && (typeof value !== 'string' || value.trim() === '')) problems.push(`${where} is required`);
    if (kind === 'fen' && (typeof value !== 'number' || !Number.isInteger(value) || value < 0)) problems.push(`${where} must be an amount in fen (integer ≥ 0)`);
    if (kind === 'percent' && (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 99)) problems.push(`${where} must be 1–99 (percent off)`);
  }
  if (type === 'CASH' && typeof body.least_cost === 'number' && typeof body.reduce_cost === 'number' && body.reduce_cost > body.least_cost && body.least_cost > 0) {
    problems.push(`card.cash.reduce_cost cannot exceed least_cost`);
  }
  return problems;
}

/** What a registration needs to know about a template. */
export function templateFlags(template: { card: Record<string, unknown> }): { customCode: boolean; bindOpenid: boolean; title: string } {
  const type = String(template.card.card_type).toLowerCase();
  const base = (template.card[type] as { base_info: Record<string, unknown> }).base_info;
  return { customCode: base.use_custom_code === true, bindOpenid: base.bind_openid === true, title: String(base.title) };
}

/** JPG/PNG by their first bytes, and at most 1 MB, as uploadimg requires. */
export function checkLogo(bytes: Uint8Array): { contentType: 'image/jpeg' | 'image/png' } {
  if (bytes.length > 1024 * 1024) throw new Error(`the logo is ${(bytes.length / 1024).toFixed(0)} KB; WeChat accepts at most 1 MB`);
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return { contentType: 'image/png' };
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return { contentType: 'image/jpeg' };
  throw new Error('the logo must be a JPG or PNG file');
}
