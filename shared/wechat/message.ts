import type { WechatHttp } from './http';

/** What a customer-service message may carry here: text, or one news article. */
export type CustomMessage =
  | { msgtype: 'text'; text: { content: string } }
  | { msgtype: 'news'; news: { articles: Array<{ title: string; description?: string; url: string; picurl?: string }> } };

/**
 * Sends a customer-service message (客服消息; verified accounts only, 48001 otherwise). Only within
 * the window a user action opened: 48 h and 5 messages after a message, 1 minute and 3 messages after
 * a follow or a scan (45015 outside it, 45047 over the count, 43004 to a non-follower).
 * @see https://developers.weixin.qq.com/doc/service/api/customer/message/api_sendcustommessage.html
 */
export async function sendCustomMessage(http: WechatHttp, accessToken: string, touser: string, message: CustomMessage): Promise<void> {
  await http.postJson('/cgi-bin/message/custom/send', { access_token: accessToken }, { touser, ...message });
}
