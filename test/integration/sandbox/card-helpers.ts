/**
 * Shared steps of the sandbox's card tests, all over real HTTP: tokens, tickets, a logo upload,
 * a valid card body, and a cardExt signed by hand with node:crypto (independent of the product's
 * signing module and of the sandbox's own check).
 */
import { createHash, randomBytes } from 'node:crypto';
import got from 'got';
import type { RunningWechatSandbox, WechatSandboxOptions } from '../../../scripts/local/sandbox';

export type Json = Record<string, unknown>;

export const APPID = 'wx00000000000000a1';
export const SECRET = 'secret-a1';
export const OTHER_APPID = 'wx00000000000000b2';
export const OTHER_SECRET = 'secret-b2';
export const USER_OPENID = 'o6_bmjrPTlm6_2sgVt7hMZOPfL2M';
export const OTHER_OPENID = 'o6_bmjrPTlm6_2sgVt7hMZOPfXXX';
export const BASE_MS = Date.parse('2025-03-01T10:00:00+08:00');
export const BASE_SECONDS = BASE_MS / 1000;
export const DAY_SECONDS = 86_400;
const WHITELISTED_IP = '127.0.0.2';

/** A PNG signature followed by filler: uploadimg judges the type by the first bytes. */
export const PNG_BYTES = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 1)]);
export const JPEG_BYTES = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(64, 2)]);

export const sandboxOptions: WechatSandboxOptions = {
  accounts: [{ appid: APPID, secret: SECRET }, { appid: OTHER_APPID, secret: OTHER_SECRET }],
  ipWhitelist: [WHITELISTED_IP],
  now: () => BASE_MS,
};

export function client(sandbox: RunningWechatSandbox) {
  return got.extend({ prefixUrl: sandbox.url, localAddress: WHITELISTED_IP, retry: { limit: 0 }, throwHttpErrors: false });
}

export async function accessToken(sandbox: RunningWechatSandbox, appid = APPID, secret = SECRET): Promise<string> {
  const reply = await client(sandbox)
    .get('cgi-bin/token', { searchParams: { grant_type: 'client_credential', appid, secret } })
    .json<Json>();
  expect(typeof reply.access_token).toBe('string');
  return reply.access_token as string;
}

export async function ticket(sandbox: RunningWechatSandbox, token: string, type: 'wx_card' | 'jsapi' = 'wx_card'): Promise<string> {
  const reply = await client(sandbox).get('cgi-bin/ticket/getticket', { searchParams: { access_token: token, type } }).json<Json>();
  expect(reply.errcode).toBe(0);
  return reply.ticket as string;
}

/** POST JSON to a WeChat path with `?access_token=`. */
export function postApi(sandbox: RunningWechatSandbox, path: string, token: string, json: unknown): Promise<Json> {
  return client(sandbox).post(path, { searchParams: { access_token: token }, json }).json<Json>();
}

export function uploadImage(
  sandbox: RunningWechatSandbox,
  token: string,
  file: { bytes: Buffer; field?: string; filename?: string },
): Promise<Json> {
  const form = new FormData();
  form.append(file.field ?? 'buffer', new Blob([file.bytes], { type: 'image/png' }), file.filename ?? 'logo.png');
  return client(sandbox).post('cgi-bin/media/uploadimg', { searchParams: { access_token: token }, body: form }).json<Json>();
}

export async function uploadLogo(sandbox: RunningWechatSandbox, token: string): Promise<string> {
  const reply = await uploadImage(sandbox, token, { bytes: PNG_BYTES });
  expect(typeof reply.url).toBe('string');
  return reply.url as string;
}

/** A GENERAL_COUPON body that WeChat accepts; `baseInfo` overrides (undefined removes a field). */
export function couponBody(logoUrl: string, baseInfo: Json = {}): Json {
  const base: Json = {
    logo_url: logoUrl,
    code_type: 'CODE_TYPE_QRCODE',
    brand_name: '微信餐厅',
    title: '双人套餐券',
    color: 'Color010',
    notice: '请出示二维码核销卡券',
    description: '不可与其他优惠同享',
    sku: { quantity: 100 },
    date_info: { type: 'DATE_TYPE_FIX_TIME_RANGE', begin_timestamp: BASE_SECONDS - DAY_SECONDS, end_timestamp: BASE_SECONDS + 30 * DAY_SECONDS },
    ...baseInfo,
  };
  for (const [key, value] of Object.entries(base)) if (value === undefined) delete base[key];
  return { card: { card_type: 'GENERAL_COUPON', general_coupon: { base_info: base, default_detail: '双人套餐一份' } } };
}

export async function createCard(sandbox: RunningWechatSandbox, token: string, baseInfo: Json = {}): Promise<string> {
  const reply = await postApi(sandbox, 'card/create', token, couponBody(await uploadLogo(sandbox, token), baseInfo));
  expect(reply).toMatchObject({ errcode: 0 });
  return reply.card_id as string;
}

/** The documented rule, written out: lowercase hex SHA1 of the sorted non-empty values, concatenated. */
export function cardSignature(values: Array<string | undefined>): string {
  const present = values.filter((value): value is string => value !== undefined && value !== '');
  return createHash('sha1').update(present.sort().join('')).digest('hex');
}

/** What one cardList item signs, plus the unsigned extras. */
export interface SignItem {
  cardId: string;
  apiTicket: string;
  code?: string;
  openid?: string;
  outerStr?: string;
  /** Unsigned, like outer_str. */
  fixedBeginTimestamp?: number;
  nonceStr?: string;
  /** A JSON number as WeChat wants it; a string is sent quoted (a trap). */
  timestamp?: number | string;
  /** Replaces the computed signature (for traps). */
  signature?: string;
}

/** A cardList item as a correct signCard returns it. */
export function signedItem(item: SignItem): { cardId: string; cardExt: string } {
  const timestamp = item.timestamp ?? BASE_SECONDS;
  const nonceStr = item.nonceStr ?? randomBytes(12).toString('hex');
  const signature = item.signature ?? cardSignature([item.apiTicket, item.cardId, String(timestamp), nonceStr, item.code, item.openid]);
  const ext = {
    ...(item.code === undefined ? {} : { code: item.code }),
    ...(item.openid === undefined ? {} : { openid: item.openid }),
    timestamp,
    nonce_str: nonceStr,
    ...(item.fixedBeginTimestamp === undefined ? {} : { fixed_begintimestamp: item.fixedBeginTimestamp }),
    ...(item.outerStr === undefined ? {} : { outer_str: item.outerStr }),
    signature,
  };
  return { cardId: item.cardId, cardExt: JSON.stringify(ext) };
}

/** `POST /__sandbox/client/add-card`, the HTTP status and wx.addCard's result. */
export async function addCard(
  sandbox: RunningWechatSandbox,
  cardList: unknown[],
  user: { appid?: string; openid?: string } = {},
): Promise<{ status: number; body: Json }> {
  const response = await client(sandbox).post('__sandbox/client/add-card', {
    json: { appid: user.appid ?? APPID, openid: user.openid ?? USER_OPENID, cardList },
  });
  return { status: response.statusCode, body: JSON.parse(response.body) as Json };
}

/** Adds one card for the user and answers the encrypt_code wx.addCard returned. */
export async function addOne(sandbox: RunningWechatSandbox, item: SignItem, openid = USER_OPENID): Promise<string> {
  const { body } = await addCard(sandbox, [signedItem(item)], { openid });
  expect(body.errMsg).toBe('addCard:ok');
  return ((body.cardList as Json[])[0] as Json).code as string;
}
