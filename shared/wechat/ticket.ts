import { UpstreamTransportError, type WechatHttp } from './http';
import type { FetchedCredential } from './token';

/** `wx_card` is the card api_ticket (cardExt signatures); `jsapi` the JS-SDK ticket. They are different credentials. */
export type TicketType = 'wx_card' | 'jsapi';
export const TICKET_TYPES: readonly TicketType[] = ['wx_card', 'jsapi'];

interface TicketBody {
  ticket?: unknown;
  expires_in?: unknown;
}

/**
 * Fetches an api_ticket with an access_token. Errors (40001/42001 for a bad token) arrive as WechatApiError.
 * @see https://developers.weixin.qq.com/doc/offiaccount/OA_Web_Apps/JS-SDK.html (附录1, 附录4)
 */
export async function fetchTicket(http: WechatHttp, accessToken: string, type: TicketType): Promise<FetchedCredential> {
  const body = await http.getJson<TicketBody>('/cgi-bin/ticket/getticket', { access_token: accessToken, type });
  if (typeof body.ticket !== 'string' || body.ticket === '' || typeof body.expires_in !== 'number') {
    throw new UpstreamTransportError('/cgi-bin/ticket/getticket', 'answer lacks ticket/expires_in');
  }
  return { value: body.ticket, expiresInSeconds: body.expires_in };
}
