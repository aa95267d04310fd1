/**
 * `POST /cgi-bin/message/custom/send` (reference/official-accounts.md §1.3), the sandbox side of
 * `shared/wechat/message.ts`: verified accounts only (48001 from the router); only to a follower
 * (43004), only inside the window the user's last action opened (45015) and within its count
 * (45047): 3 messages for 1 minute after a follow or a scan, 5 for 48 hours after a message.
 * Sent messages are kept on the follow record's window only as a count.
 */
import { requireAccessToken } from '../access';
import { parseJsonBody } from '../http';
import { sandboxNowMs } from '../state';
import { followKey } from '../users';
import { WechatErrcode, wechatError } from '../wechat-errors';
import type { ApiRoute } from './router';

const TYPES = ['text', 'image', 'voice', 'video', 'music', 'news', 'mpnews', 'msgmenu', 'wxcard', 'miniprogrampage'];

export const customSendRoute: ApiRoute = {
  path: '/cgi-bin/message/custom/send',
  requires: () => 'customMessage',
  handle(state, request) {
    const access = requireAccessToken(state, request.url);
    if (!access.ok) return access.error;
    if (request.method !== 'POST') return wechatError(WechatErrcode.REQUIRE_POST);
    const body = parseJsonBody(request.body) as Record<string, unknown> | undefined;
    if (typeof body !== 'object' || body === null || typeof body.touser !== 'string' || !TYPES.includes(String(body.msgtype))) {
      return wechatError(WechatErrcode.DATA_FORMAT_ERROR);
    }
    if (body.msgtype === 'text' && typeof (body.text as { content?: unknown } | undefined)?.content !== 'string') return wechatError(WechatErrcode.DATA_FORMAT_ERROR);
    const follow = state.follows.get(followKey(access.appid, body.touser));
    if (!follow?.following) return wechatError(WechatErrcode.REQUIRE_SUBSCRIBE);
    const window = follow.window;
    if (window === null || sandboxNowMs(state) > window.opensAtMs + window.validMs) return wechatError(WechatErrcode.REPLY_TIME_LIMIT);
    if (window.used >= window.allowed) return wechatError(WechatErrcode.REPLY_COUNT_LIMIT);
    window.used += 1;
    return { errcode: 0, errmsg: 'ok' };
  },
};
