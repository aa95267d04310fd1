import { readClaimPageOrigin } from '../../shared/claimpage/config';
import { issuePageToken } from '../../shared/claimpage/tokens';
import { CAMPAIGN_ID_PATTERN } from '../../shared/claims/campaign';
import { refusal, RefusalReason } from '../../shared/claims/errors';
import { readCampaign, type CampaignDoc } from '../../shared/claims/model';
import { envReader } from '../../shared/config';
import { InputError, NotFoundError } from '../../shared/errors';
import { cloudPlatform } from '../../shared/platform';
import { allowOnlyFields, defineHandler } from '../../shared/runtime';
import { COLLECTIONS } from '../../shared/store/port';

/**
 * claimPageToken: a mini-program user's one-time token for the web-view claim page of a `webview`
 * campaign ({ campaignId } — nothing else: who they are comes from the platform). Answers
 * `{ url, expiresAtMs }`; the mini-program opens `<web-view src="{{url}}">` at once (5 minutes, once).
 */
export const main = defineHandler({
  name: 'claimPageToken',
  allow: ['miniprogram'],
  wxContext: () => cloudPlatform().getWXContext(),
  init: () => {
    const env = envReader(process.env);
    const origin = readClaimPageOrigin(env);
    const miniProgramAppId = env.string('WX_MP_APPID', { hint: 'the mini-program AppID' });
    env.done();
    return { origin, miniProgramAppId, store: cloudPlatform().store };
  },
  parse: (event, caller) => {
    allowOnlyFields(event, ['campaignId']);
    if (typeof event.campaignId !== 'string' || !CAMPAIGN_ID_PATTERN.test(event.campaignId)) throw new InputError('campaignId is not a campaign id', 'campaignId');
    if (caller.type !== 'miniprogram') throw new InputError('only a mini-program user gets a page token');
    return { campaignId: event.campaignId, miniProgram: { appId: caller.appid, openid: caller.openid, ...(caller.unionid ? { unionid: caller.unionid } : {}) } };
  },
  run: async (input, { deps }) => {
    if (input.miniProgram.appId !== deps.miniProgramAppId) throw refusal(RefusalReason.WRONG_APP);
    const stored = await deps.store.get<CampaignDoc>(COLLECTIONS.redPacketCampaigns, input.campaignId);
    if (stored === null) throw new NotFoundError('No such campaign');
    const campaign = readCampaign(stored);
    if (campaign.eligibility !== 'webview') throw refusal(RefusalReason.WRONG_ENTRY);
    const nowMs = Date.now();
    if (nowMs >= campaign.endsAtMs) throw refusal(RefusalReason.ENDED);
    const { token, expiresAtMs } = await issuePageToken(deps.store, input, nowMs);
    return { url: `${deps.origin}/claim/w?t=${token}`, expiresAtMs };
  },
});
