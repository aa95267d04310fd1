/**
 * `GET /cgi-bin/ticket/getticket?access_token=&type=wx_card|jsapi` (reference/wechat-api.md §2).
 *
 * Modelling choice: every successful call issues a new ticket, and earlier tickets stay valid
 * until their own expiry. WeChat documents neither a single "current" ticket nor invalidation of
 * old ones, so the sandbox accepts any unexpired ticket it issued; it still counts every call,
 * which is what a caching client is judged on. getticket is one API, so its daily quota is per
 * account across both types (WeChat publishes no figure for it).
 */
import { requireAccessToken } from '../access';
import { CREDENTIAL_TTL_MS, TICKET_TYPES, issueTicket, takeDailyQuota, type TicketType } from '../state';
import { WechatErrcode, wechatError } from '../wechat-errors';
import type { ApiRoute } from './router';

const TICKET_PATH = '/cgi-bin/ticket/getticket';

/** The ticket API, for the route table. */
export const ticketRoute: ApiRoute = {
  path: TICKET_PATH,
  // The card api_ticket needs 卡券 rights; the JS-SDK ticket is every account's.
  requires: (request) => (request.url.searchParams.get('type') === 'wx_card' ? 'cards' : undefined),
  detailKey(request) {
    const type = request.url.searchParams.get('type');
    return type === null ? TICKET_PATH : `${TICKET_PATH}?type=${type}`;
  },
  handle(state, request) {
    const access = requireAccessToken(state, request.url);
    if (!access.ok) return access.error;
    const type = request.url.searchParams.get('type');
    if (!isTicketType(type)) return wechatError(WechatErrcode.INVALID_ARGS);
    if (!takeDailyQuota(state, access.appid, 'getticket', state.config.ticketDailyQuota)) {
      return wechatError(WechatErrcode.DAILY_QUOTA);
    }
    const record = issueTicket(state, access.appid, type);
    return { errcode: 0, errmsg: 'ok', ticket: record.ticket, expires_in: CREDENTIAL_TTL_MS / 1000 };
  },
};

function isTicketType(value: string | null): value is TicketType {
  return TICKET_TYPES.includes(value as TicketType);
}
