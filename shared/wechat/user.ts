import type { WechatHttp } from './http';

/**
 * `user/info` as WeChat answers it today: `subscribe: 0` means not a follower and nothing else is
 * returned; nickname, avatar, sex and region are no longer provided (reference/official-accounts.md §1.2).
 */
export type FollowerInfo =
  | { subscribe: 0; openid: string }
  | {
      subscribe: 1;
      openid: string;
      /** The last follow, in seconds. */
      subscribe_time: number;
      /** Only when the account is bound to an Open Platform account. */
      unionid?: string;
      subscribe_scene?: string;
      qr_scene?: number;
      qr_scene_str?: string;
    };

/**
 * A user's follower information (verified accounts; others get 48001).
 * @see https://developers.weixin.qq.com/doc/service/api/usermanage/userinfo/api_userinfo.html
 */
export function getFollowerInfo(http: WechatHttp, accessToken: string, openid: string): Promise<FollowerInfo> {
  return http.getJson<FollowerInfo>('/cgi-bin/user/info', { access_token: accessToken, openid, lang: 'zh_CN' });
}
