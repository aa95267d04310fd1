/**
 * `GET /cgi-bin/user/info` (reference/official-accounts.md §1.2), the sandbox side of
 * `shared/wechat/user.ts`: verified accounts only (48001 otherwise, from the router); a non-follower
 * is `subscribe: 0` and nothing else; `unionid` only when the account is bound to an Open Platform;
 * no nickname, avatar, sex or region (no longer provided by WeChat).
 */
import { requireAccessToken } from '../access';
import { followKey, unionidOf, userOfOpenid } from '../users';
import { WechatErrcode, wechatError } from '../wechat-errors';
import type { ApiRoute } from './router';

export const userInfoRoute: ApiRoute = {
  path: '/cgi-bin/user/info',
  requires: () => 'userInfo',
  handle(state, request) {
    const access = requireAccessToken(state, request.url);
    if (!access.ok) return access.error;
    const openid = request.url.searchParams.get('openid') ?? '';
    const user = userOfOpenid(state, access.appid, openid);
    if (user === null) return wechatError(WechatErrcode.INVALID_OPENID);
    const follow = state.follows.get(followKey(access.appid, openid));
    if (!follow?.following) return { subscribe: 0, openid };
    const account = state.accounts.get(access.appid)!;
    const unionid = unionidOf(account.openPlatformId, user);
    return {
      subscribe: 1,
      openid,
      language: '',
      subscribe_time: Math.floor(follow.subscribedAtMs / 1000),
      ...(unionid === null ? {} : { unionid }),
      remark: '',
      groupid: 0,
      tagid_list: [],
      subscribe_scene: follow.subscribeScene,
      qr_scene: follow.qrScene !== null && /^\d+$/.test(follow.qrScene) ? Number(follow.qrScene) : 0,
      qr_scene_str: follow.qrScene !== null && !/^\d+$/.test(follow.qrScene) ? follow.qrScene : '',
    };
  },
};
