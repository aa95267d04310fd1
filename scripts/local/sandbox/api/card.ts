/**
 * Card (卡券) APIs (reference/wechat-api.md §3): `/card/create`, `/card/getcolors`,
 * `/card/code/decrypt`, `/card/code/get`, `/card/code/consume`. Cards belong to the account whose
 * access_token created them; another account's card or code is answered as unknown. User cards
 * come from the client emulation (`POST /__sandbox/client/add-card`), as they come from
 * wx.addCard in production.
 */
import { requireAccessToken } from '../access';
import { CARD_COLORS, CardRuleError, parseCardDefinition } from '../card-definition';
import { createCard, findCard, findUserCard, hasBegun, userCardStatus, type UserCardRecord } from '../card-state';
import { parseJsonBody } from '../http';
import { sandboxNowMs, type SandboxState } from '../state';
import { cardEventFields, deliverInBackground } from '../users';
import { WECHAT_ERRMSG, WechatErrcode, wechatError, type WechatErrorBody } from '../wechat-errors';
import type { ApiRequest, ApiRoute } from './router';

type Reply = Record<string, unknown>;

/** `POST /card/create`: validates like WeChat and answers the new card_id; the card is approved at once. */
export const createCardRoute: ApiRoute = {
  path: '/card/create',
  handle: (state, request) =>
    withJsonPost(state, request, (appid, body) => {
      try {
        const definition = parseCardDefinition(body, {
          nowMs: sandboxNowMs(state),
          isUploadedImage: (url) => state.images.has(url),
        });
        return { errcode: 0, errmsg: 'ok', card_id: createCard(state.cards, appid, definition, sandboxNowMs(state)).cardId };
      } catch (error) {
        if (error instanceof CardRuleError) return wechatError(error.errcode, `${WECHAT_ERRMSG[error.errcode] ?? ''}: ${error.message}`);
        throw error;
      }
    }),
};

/** `GET /card/getcolors`: the 14 colours, the same for every account. */
export const getColorsRoute: ApiRoute = {
  path: '/card/getcolors',
  handle(state, request) {
    const access = requireAccessToken(state, request.url);
    if (!access.ok) return access.error;
    return { errcode: 0, errmsg: 'ok', colors: CARD_COLORS.map((color) => ({ ...color })) };
  },
};

/** `POST /card/code/decrypt {encrypt_code}`: the real code behind an encrypt_code wx.addCard returned. */
export const decryptCodeRoute: ApiRoute = {
  path: '/card/code/decrypt',
  handle: (state, request) =>
    withJsonPost(state, request, (appid, body) => {
      const userCard = typeof body.encrypt_code === 'string' ? state.cards.userCardsByEncryptCode.get(body.encrypt_code) : undefined;
      if (userCard === undefined || userCard.appid !== appid) return wechatError(WechatErrcode.INVALID_ENCRYPT_CODE);
      return { errcode: 0, errmsg: 'ok', code: userCard.code };
    }),
};

/**
 * `POST /card/code/get {code, card_id?, check_consume?}`. check_consume defaults to true, as
 * WeChat's does (wechatpy sends it only to turn it off): then a code that cannot be consumed is
 * refused instead of described — 40099 for a code already consumed (by whatever system of the
 * account: issue 8 §4), 40127 for the other states (deleted, expired, gifting…).
 */
export const getCodeRoute: ApiRoute = {
  path: '/card/code/get',
  handle: (state, request) =>
    withJsonPost(state, request, (appid, body) => {
      if (body.check_consume !== undefined && typeof body.check_consume !== 'boolean') return wechatError(WechatErrcode.INVALID_ARGS);
      const found = lookUpCode(state, appid, body);
      if ('errcode' in found) return found;
      const nowMs = sandboxNowMs(state);
      const status = userCardStatus(found, nowMs);
      if (body.check_consume !== false && status === 'CONSUMED') return wechatError(WechatErrcode.CODE_CONSUMED);
      if (body.check_consume !== false && status !== 'NORMAL') return wechatError(WechatErrcode.INVALID_USER_CARD_STATUS);
      return {
        errcode: 0,
        errmsg: 'ok',
        card: { card_id: found.cardId, begin_time: found.beginTimestamp, end_time: found.endTimestamp },
        openid: found.openid,
        can_consume: status === 'NORMAL' && hasBegun(found, nowMs),
        user_card_status: status,
        outer_str: found.outerStr,
      };
    }),
};

/** `POST /card/code/consume {code, card_id?}`: consumes once; the account and time are recorded. */
export const consumeCodeRoute: ApiRoute = {
  path: '/card/code/consume',
  handle: (state, request) =>
    withJsonPost(state, request, (appid, body) => {
      const found = lookUpCode(state, appid, body);
      if ('errcode' in found) return found;
      const nowMs = sandboxNowMs(state);
      const status = userCardStatus(found, nowMs);
      if (status === 'CONSUMED') return wechatError(WechatErrcode.CODE_CONSUMED);
      if (status !== 'NORMAL') return wechatError(WechatErrcode.INVALID_USER_CARD_STATUS);
      if (!hasBegun(found, nowMs)) return wechatError(WechatErrcode.INVALID_TIME);
      found.status = 'CONSUMED';
      found.consumedAtMs = nowMs;
      found.consumedByAppid = appid;
      // WeChat pushes user_consume_card to the card's account after answering (not awaited: the push is WeChat's, not the caller's).
      const account = state.accounts.get(found.appid);
      if (account !== undefined) deliverInBackground(state, account, found.openid, 'user_consume_card', cardEventFields(state, account, found.openid, 'user_consume_card', found));
      return { errcode: 0, errmsg: 'ok', card: { card_id: found.cardId }, openid: found.openid };
    }),
};

/** The card APIs, for the route table. */
export const cardRoutes: readonly ApiRoute[] = [createCardRoute, getColorsRoute, decryptCodeRoute, getCodeRoute, consumeCodeRoute];

/** The steps every card POST shares, in WeChat's order: access_token, method, a JSON object body. */
function withJsonPost(
  state: SandboxState,
  request: ApiRequest,
  handle: (appid: string, body: Record<string, unknown>) => Reply,
): Reply {
  const access = requireAccessToken(state, request.url);
  if (!access.ok) return access.error;
  if (request.method !== 'POST') return wechatError(WechatErrcode.REQUIRE_POST);
  const body = parseJsonBody(request.body);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return wechatError(WechatErrcode.DATA_FORMAT_ERROR);
  return handle(access.appid, body as Record<string, unknown>);
}

/** `{code, card_id?}` → the account's user card; an unknown card_id is 40073, an unknown code 40056. */
function lookUpCode(state: SandboxState, appid: string, body: Record<string, unknown>): UserCardRecord | WechatErrorBody {
  const cardId = body.card_id;
  if (cardId !== undefined && (typeof cardId !== 'string' || findCard(state.cards, appid, cardId) === undefined)) {
    return wechatError(WechatErrcode.INVALID_CARD_ID);
  }
  if (typeof body.code !== 'string' || body.code === '') return wechatError(WechatErrcode.INVALID_SERIAL_CODE);
  return findUserCard(state.cards, appid, body.code, cardId) ?? wechatError(WechatErrcode.INVALID_SERIAL_CODE);
}
