import type { WechatHttp } from './http';

/** `user_card_status` values of /card/code/get. */
export type UserCardStatus = 'NORMAL' | 'CONSUMED' | 'EXPIRE' | 'GIFTING' | 'GIFT_TIMEOUT' | 'DELETE' | 'UNAVAILABLE';

/** The card colours WeChat offers (`Color010`…). */
export interface CardColor {
  name: string;
  value: string;
}

/**
 * Creates a card from a `{ card: { card_type, <type>: {...} } }` body; answers the new card_id.
 * @see https://developers.weixin.qq.com/doc/offiaccount/Cards_and_Offer/Create_a_Coupon_Voucher_or_Card.html
 */
export async function createCard(http: WechatHttp, accessToken: string, card: Record<string, unknown>): Promise<string> {
  const body = await http.postJson<{ card_id: string }>('/card/create', { access_token: accessToken }, card);
  return body.card_id;
}

/**
 * Lists the colours a card may use.
 * @see https://developers.weixin.qq.com/doc/offiaccount/Cards_and_Offer/Create_a_Coupon_Voucher_or_Card.html (getcolors)
 */
export async function getCardColors(http: WechatHttp, accessToken: string): Promise<CardColor[]> {
  const body = await http.getJson<{ colors: CardColor[] }>('/card/getcolors', { access_token: accessToken });
  return body.colors;
}

/**
 * Turns the encrypted code from wx.addCard or a card page into the real code.
 * @see https://developers.weixin.qq.com/doc/offiaccount/Cards_and_Offer/Managing_Coupons_Vouchers_and_Cards.html (code/decrypt)
 */
export async function decryptCardCode(http: WechatHttp, accessToken: string, encryptCode: string): Promise<string> {
  const body = await http.postJson<{ code: string }>('/card/code/decrypt', { access_token: accessToken }, { encrypt_code: encryptCode });
  return body.code;
}

export interface CardCodeInfo {
  card: { card_id: string; begin_time?: number; end_time?: number };
  openid: string;
  can_consume: boolean;
  user_card_status: UserCardStatus;
  outer_str?: string;
}

/**
 * Looks a code up: its owner's openid (under the official account) and status. With
 * `checkConsume`, a code that cannot be consumed fails with 40127.
 * @see https://developers.weixin.qq.com/doc/offiaccount/Cards_and_Offer/Managing_Coupons_Vouchers_and_Cards.html (code/get)
 */
export async function getCardCode(
  http: WechatHttp,
  accessToken: string,
  request: { cardId: string; code: string; checkConsume: boolean },
): Promise<CardCodeInfo> {
  return http.postJson<CardCodeInfo & { errcode?: number }>(
    '/card/code/get',
    { access_token: accessToken },
    { card_id: request.cardId, code: request.code, check_consume: request.checkConsume },
  );
}

/**
 * Consumes (核销) a code. Already consumed → 40099.
 * @see https://developers.weixin.qq.com/doc/offiaccount/Cards_and_Offer/Managing_Coupons_Vouchers_and_Cards.html (code/consume)
 */
export async function consumeCardCode(
  http: WechatHttp,
  accessToken: string,
  request: { cardId: string; code: string },
): Promise<{ openid: string }> {
  const body = await http.postJson<{ openid: string }>(
    '/card/code/consume',
    { access_token: accessToken },
    { card_id: request.cardId, code: request.code },
  );
  return { openid: body.openid };
}

/**
 * Uploads a card logo (JPG/PNG, ≤ 1 MB) and answers its mmbiz URL.
 * @see https://developers.weixin.qq.com/doc/offiaccount/Cards_and_Offer/Create_a_Coupon_Voucher_or_Card.html (uploadimg)
 */
export async function uploadCardLogo(
  http: WechatHttp,
  accessToken: string,
  file: { bytes: Uint8Array; filename: string; contentType: 'image/jpeg' | 'image/png' },
): Promise<string> {
  const form = new FormData();
  form.append('buffer', new Blob([file.bytes], { type: file.contentType }), file.filename);
  const body = await http.postForm<{ url: string }>('/cgi-bin/media/uploadimg', { access_token: accessToken }, form);
  return body.url;
}
