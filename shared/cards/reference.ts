/**
 * A signed reference to a mini-program user, carried in a card's `outer_str` (reference/wechat-api.md
 * §4: not covered by the cardExt signature, echoed in the `user_get_card` push as `OuterStr`).
 * signCard writes it; the push receiver verifies it and records that the code WeChat issued belongs
 * to that mini-program user, which decryptCode then accepts as proof of ownership for users without
 * a unionid link (cards/owners.ts).
 *
 * The client sees `outer_str` and could change it before calling wx.addCard, so it is an HMAC
 * (SHA-256, the server's `REF_SIGNING_SECRET`) over the card id, the mini-program and the user:
 * a changed value verifies for nobody, and a copied one names only the user it was made for.
 *
 * Format: `u1.<mp appid>.<openid>.<mac>[.<tag>]`, at most 135 characters; `tag` is the operator's
 * own channel value (signCard's `outerStr`), kept so it still reaches the event. WeChat's limit for
 * outer_str is 128 bytes in the card QR doc (UNVERIFIED for cardExt); ours stays under it for
 * openids of the usual 28 characters and tags up to 28.
 */
import { createHmac } from 'node:crypto';
import { safeEqual } from '../signing/compare';

/** REF_SIGNING_SECRET, the server secret that signs references handed out and read back: 32–128 printable characters. */
export const REF_SIGNING_SECRET_PATTERN = /^[\x21-\x7e]{32,128}$/;

const VERSION = 'u1';
const MAC_CHARS = 16;
const APPID = /^wx[0-9a-f]{16}$/;
const OPENID = /^[A-Za-z0-9_-]{1,64}$/;
const TAG = /^[0-9A-Za-z_-]{1,32}$/;

export interface CardReferenceUser {
  /** The mini-program's appid. */
  appid: string;
  /** The user's openid under the mini-program. */
  openid: string;
}

/** The outer_str for a card signCard signs for `user`. */
export function signCardReference(input: { key: string; cardId: string; user: CardReferenceUser; tag?: string }): string {
  if (!APPID.test(input.user.appid) || !OPENID.test(input.user.openid)) throw new Error('card reference: not a mini-program user');
  if (input.tag !== undefined && !TAG.test(input.tag)) throw new Error('card reference: tag must be 1-32 letters, digits, _ or -');
  const mac = macOf(input.key, input.cardId, input.user, input.tag ?? '');
  return [VERSION, input.user.appid, input.user.openid, mac, ...(input.tag === undefined ? [] : [input.tag])].join('.');
}

/** The mini-program user a verified reference names (and the operator's tag), or null when it is not one of ours or was changed. */
export function readCardReference(input: { key: string; cardId: string; outerStr: string }): (CardReferenceUser & { tag: string | null }) | null {
  const parts = input.outerStr.split('.');
  if (parts.length < 4 || parts.length > 5 || parts[0] !== VERSION) return null;
  const [, appid, openid, mac, tag] = parts as [string, string, string, string, string | undefined];
  if (!APPID.test(appid) || !OPENID.test(openid) || (tag !== undefined && !TAG.test(tag))) return null;
  if (!safeEqual(macOf(input.key, input.cardId, { appid, openid }, tag ?? ''), mac)) return null;
  return { appid, openid, tag: tag ?? null };
}

function macOf(key: string, cardId: string, user: CardReferenceUser, tag: string): string {
  if (key.length < 32) throw new Error('card reference: the signing secret must be at least 32 characters');
  return createHmac('sha256', key).update([VERSION, cardId, user.appid, user.openid, tag].join('\n')).digest('base64url').slice(0, MAC_CHARS);
}
