import { UpstreamTransportError, type WechatHttp } from './http';

/** A credential as WeChat hands it out. */
export interface FetchedCredential {
  value: string;
  expiresInSeconds: number;
}

interface TokenBody {
  access_token?: unknown;
  expires_in?: unknown;
}

function toCredential(body: TokenBody, endpoint: string): FetchedCredential {
  if (typeof body.access_token !== 'string' || body.access_token === '' || typeof body.expires_in !== 'number') {
    throw new UpstreamTransportError(endpoint, 'answer lacks access_token/expires_in');
  }
  return { value: body.access_token, expiresInSeconds: body.expires_in };
}

/**
 * Classic access_token. Each call issues a new token; the previous one keeps working for 5 minutes.
 * @see https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/Get_access_token.html
 */
export async function fetchClassicToken(http: WechatHttp, appId: string, appSecret: string): Promise<FetchedCredential> {
  const body = await http.getJson<TokenBody>('/cgi-bin/token', { grant_type: 'client_credential', appid: appId, secret: appSecret });
  return toCredential(body, '/cgi-bin/token');
}

/**
 * Stable access_token. Normal mode returns the current token without invalidating anything;
 * `forceRefresh` invalidates it (20 per day, 30 s apart).
 * @see https://developers.weixin.qq.com/doc/subscription/api/base/api_getstableaccesstoken.html
 */
export async function fetchStableToken(
  http: WechatHttp,
  appId: string,
  appSecret: string,
  forceRefresh: boolean,
): Promise<FetchedCredential> {
  const body = await http.postJson<TokenBody>('/cgi-bin/stable_token', {}, {
    grant_type: 'client_credential',
    appid: appId,
    secret: appSecret,
    force_refresh: forceRefresh,
  });
  return toCredential(body, '/cgi-bin/stable_token');
}
