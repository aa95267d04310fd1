import { AccountRegistry } from '../accounts/registry';
import { CLAIM_PAGE_ORIGIN_SETTING, readClaimPageOrigin } from '../claimpage/config';
import { CLAIM_LINK_KEY_LABEL, deriveKey } from '../claimpage/links';
import { followCampaignReply } from '../claimpage/reply';
import { REF_SIGNING_SECRET_PATTERN } from '../cards/reference';
import { envReader, readAccountConfig } from '../config';
import type { CredentialReader } from '../credentials/reader';
import { withAccessToken } from '../credentials/reader';
import { createTokenReader } from '../credentials/services';
import { ChannelDirectory } from '../follows/channels';
import { CounterDocuments } from '../follows/counters';
import { registerSecret, type Logger } from '../log';
import { cloudPlatform } from '../platform';
import { createWechatHttp } from '../wechat/http';
import { getFollowerInfo } from '../wechat/user';
import { DEFAULT_PUSH_WINDOW_SECONDS, type PushProofDeps } from './proof';
import { DEFAULT_REPLY_BUDGET_MS, PushReceiver } from './receiver';

/** receivePush's instance: the proof's dependencies and the receiver, built once from the environment. */
export interface PushService extends PushProofDeps {
  receiver: PushReceiver;
}

let service: PushService | null = null;

/**
 * One PushService per instance (the HTTP handler and the timer share it). Settings: WX_OA_APPID,
 * WX_API_BASE_URL, REF_SIGNING_SECRET; optional PUSH_REPLY_BUDGET_MS (default 3000),
 * PUSH_TIMESTAMP_WINDOW_SECONDS (default 300) and CLAIM_PAGE_ORIGIN (follow campaigns' claim links).
 */
export function pushServiceFromEnvironment(log: Logger): PushService {
  if (service) return service;
  const env = envReader(process.env);
  const config = readAccountConfig(env);
  const cardReferenceKey = env.string('REF_SIGNING_SECRET', { pattern: REF_SIGNING_SECRET_PATTERN, hint: '32-128 printable characters, the same for signCard and receivePush' });
  const replyBudgetMs = env.int('PUSH_REPLY_BUDGET_MS', { fallback: DEFAULT_REPLY_BUDGET_MS, min: 100, max: 4500 });
  const timestampWindowSeconds = env.int('PUSH_TIMESTAMP_WINDOW_SECONDS', { fallback: DEFAULT_PUSH_WINDOW_SECONDS, min: 30, max: 3600 });
  // Follow campaigns' claim links need the page's origin; without it follows get their channel's reply only.
  const claimPageOrigin = env.optionalString(CLAIM_PAGE_ORIGIN_SETTING) === undefined ? null : readClaimPageOrigin(env);
  env.done();
  registerSecret(cardReferenceKey);
  const platform = cloudPlatform();
  const { store } = platform;
  const accounts = new AccountRegistry({ store, environment: { appId: config.appId } });
  // user/info runs after the reply budget's first writes; a slow WeChat must not hold the instance long.
  const http = createWechatHttp({ baseUrl: config.apiBaseUrl, timeoutMs: 3000 });
  const tokens = new Map<string, CredentialReader>();
  const tokensOf = (appId: string): CredentialReader => {
    let reader = tokens.get(appId);
    if (!reader) {
      reader = createTokenReader({ appId }, { store, invoke: (name, data) => platform.callFunction(name, data) });
      tokens.set(appId, reader);
    }
    return reader;
  };
  const receiver = new PushReceiver({
    store,
    accounts,
    channels: new ChannelDirectory(store),
    counters: new CounterDocuments(store),
    followerInfo: (appId, openid) => withAccessToken(tokensOf(appId), (token) => getFollowerInfo(http, token, openid)),
    cardReferenceKey,
    replyBudgetMs,
    ...(claimPageOrigin === null ? {} : {
      replyHook: followCampaignReply({ store, log, linkKey: deriveKey(cardReferenceKey, CLAIM_LINK_KEY_LABEL), origin: claimPageOrigin }),
    }),
    log,
  });
  service = { accounts, timestampWindowSeconds, receiver };
  return service;
}
