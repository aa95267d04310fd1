import { AccountRegistry } from '../../shared/accounts/registry';
import { CLAIM_ASSET_URLS } from '../../shared/claimpage/assets';
import { claimSessionProof, runClaimPage, type ClaimPageDeps, type ClaimVisitor } from '../../shared/claimpage/app';
import { readClaimPageSettings } from '../../shared/claimpage/config';
import { pageResponse } from '../../shared/claimpage/pages';
import { ipRegionLookup } from '../../shared/claimpage/region';
import { createClaimDeps, readClaimConfig } from '../../shared/claims/config';
import { envReader } from '../../shared/config';
import { createTicketReader } from '../../shared/credentials/services';
import { ConfigError } from '../../shared/errors';
import { defineHttpHandler } from '../../shared/http';
import { cloudPlatform } from '../../shared/platform';
import { createWechatHttp } from '../../shared/wechat/http';

/**
 * claimPage: the H5 claim pages of follow and web-view campaigns behind HTTP access (`/claim`).
 * Its proof is a session bound to OAuth on the paying service account; the claim itself goes
 * through the one claim engine, as sendRedPacket's do (whose timer reconciles these claims too).
 */
export const main = defineHttpHandler<ClaimPageDeps, ClaimVisitor>({
  name: 'claimPage',
  route: '/claim',
  methods: ['GET', 'POST'],
  maxBodyBytes: 4 * 1024,
  wxContext: () => cloudPlatform().getWXContext(),
  init: (log) => {
    const env = envReader(process.env);
    const settings = readClaimPageSettings(env);
    const apiBaseUrl = env.url('WX_API_BASE_URL', 'https://api.weixin.qq.com');
    env.done();
    const config = readClaimConfig(envReader(process.env));
    const platform = cloudPlatform();
    const { store } = platform;
    const serviceAppId = config.settings.officialAppId;
    const accounts = new AccountRegistry({ store, environment: { appId: serviceAppId, ...(process.env.WX_OA_APPSECRET ? { appSecret: process.env.WX_OA_APPSECRET } : {}) } });
    return {
      store,
      log,
      now: Date.now,
      settings,
      claims: createClaimDeps(config, { store, log, invoke: (name, data) => platform.callFunction(name, data) }),
      accounts,
      serviceAppId,
      serviceSecret: async () => {
        const secret = (await accounts.require(serviceAppId)).appSecret;
        if (!secret) throw new ConfigError([`${serviceAppId} has no AppSecret for OAuth: WX_OA_APPSECRET, or npm run accounts -- add`]);
        return secret;
      },
      http: createWechatHttp({ baseUrl: apiBaseUrl, timeoutMs: 3000 }),
      tickets: createTicketReader({ appId: serviceAppId }, 'jsapi', { store, invoke: (name, data) => platform.callFunction(name, data) }),
      // The data files sit beside the bundle (scripts/build.ts copies them).
      regionOf: ipRegionLookup(__dirname),
      chrome: { assets: CLAIM_ASSET_URLS, jssdkUrl: settings.jssdkUrl },
      mchId: config.pay.mchId,
    };
  },
  proof: claimSessionProof,
  run: runClaimPage,
  // Refusals as a page in Chinese, not JSON: a person reads them.
  errorResponse: (failure) => pageResponse(
    { title: '领取红包', state: 'refused', message: failure.status === 404 ? '页面不存在。' : failure.status === 429 ? '操作太频繁了，请一分钟后再试。' : failure.status >= 500 ? '系统繁忙，请稍后再试（不会重复发放）。' : '请求无效，请重新打开领取页面。', reason: failure.code },
    { assets: CLAIM_ASSET_URLS, jssdkUrl: process.env.JSSDK_SCRIPT_URL || 'https://res.wx.qq.com/open/js/jweixin-1.6.0.js' },
    failure.status,
  ),
});
