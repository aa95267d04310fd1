import { UpstreamTransportError, type WechatHttp } from './http';

/**
 * 小程序安全 · 安全风控: the mini-program's risk rank of one of its users (no user authorisation
 * needed). It takes the MINI-PROGRAM's access_token (its appid and secret), never an official
 * account's, and the mini-program must have 安全风控 switched on (小程序后台 → 开发 → 开发管理 →
 * 安全中心; without it WeChat answers 48001).
 *
 * Sources: the official page (@see below, fields and answer); WxJava
 * `WxMaSafetyRiskControlServiceImpl` / `WxMaUserSafetyRiskRankResponse` (the answer's `unoin_id`
 * spelling, errcode ≠ 0 is an error); wx-sdk (Rust) `wxa/risk_control.rs`; the error codes from
 * ifanrx/hydrogen-sdk-doc `cloud-function/node-sdk/user-risk-rank.md` and WeChat's community answers
 * (developers.weixin.qq.com/community/develop/doc/0002845d2bc0685ee8bfd82175b800,
 * …/000a663cfc08386b059f89d575b000, …/0006aeec3e8a88d9f01da46075b400).
 */

/** `scene`: 0 注册 (sign-up), 1 营销作弊 (marketing abuse: what a red-packet campaign asks). The newest page adds 2 UGC. */
export const RiskScene = { REGISTER: 0, MARKETING: 1 } as const;
export type RiskScene = (typeof RiskScene)[keyof typeof RiskScene];

/** `risk_rank` is 0..4, "数字越大风险越高". */
export const MAX_RISK_RANK = 4;

/** The answers peers and WeChat's community name for this endpoint (not all in the official page, which lists none). */
export const RiskErrcode = {
  /** "code is expired": WeChat has no visit of this openid to the mini-program recently (30 min in 2020–21 answers, 2 h in 2021–23 ones). */
  NO_RECENT_VISIT: 61010,
  INVALID_OPENID: 40003,
  /** appid 与 openid 不匹配. */
  APPID_OPENID_MISMATCH: 43104,
  /** 安全风控 not switched on for the mini-program. */
  API_UNAUTHORIZED: 48001,
} as const;

export interface UserRiskRankRequest {
  /** The mini-program's appid (the token's). */
  appId: string;
  openid: string;
  scene: RiskScene;
  /** "用户访问源ip", required. */
  clientIp: string;
  mobileNo?: string;
  emailAddress?: string;
  extendedInfo?: string;
  /** WeChat's test call: no visit record needed (community answer 0002845d…), never for real decisions. */
  isTest?: boolean;
}

export interface UserRiskRank {
  /** 0 (lowest) .. 4 (highest). */
  riskRank: number;
  /** WeChat's id of this one request (`unoin_id`, sic), for support tickets; null when absent. */
  requestId: number | null;
}

/**
 * The user's risk rank. WeChat errors (61010 above all) throw a WechatApiError with the upstream
 * errcode; an answer without a rank of 0..4 is garbled, not "rank 0".
 * @see https://developers.weixin.qq.com/miniprogram/dev/server/API/sec-center/safety-control-capability/api_getuserriskrank.html
 */
export async function getUserRiskRank(http: WechatHttp, accessToken: string, request: UserRiskRankRequest): Promise<UserRiskRank> {
  const body: Record<string, unknown> = {
    appid: request.appId,
    openid: request.openid,
    scene: request.scene,
    client_ip: request.clientIp,
    ...(request.mobileNo === undefined ? {} : { mobile_no: request.mobileNo }),
    ...(request.emailAddress === undefined ? {} : { email_address: request.emailAddress }),
    ...(request.extendedInfo === undefined ? {} : { extended_info: request.extendedInfo }),
    ...(request.isTest === undefined ? {} : { is_test: request.isTest }),
  };
  const answer = await http.postJson<{ risk_rank?: unknown; unoin_id?: unknown }>('/wxa/getuserriskrank', { access_token: accessToken }, body);
  const rank = answer.risk_rank;
  if (typeof rank !== 'number' || !Number.isInteger(rank) || rank < 0 || rank > MAX_RISK_RANK) {
    throw new UpstreamTransportError('/wxa/getuserriskrank', 'answer has no risk_rank of 0-4');
  }
  return { riskRank: rank, requestId: typeof answer.unoin_id === 'number' ? answer.unoin_id : null };
}
