import { envReader } from '../../shared/config';
import { InputError } from '../../shared/errors';
import { cloudPlatform } from '../../shared/platform';
import { CAMPAIGN_ID_PATTERN } from '../../shared/redpacket/campaign';
import { createRedPacketDeps, readRedPacketConfig } from '../../shared/redpacket/config';
import { claimRedPacket, reconcileClaims } from '../../shared/redpacket/service';
import { allowOnlyFields, defineHandler, readEnum, readOptionalInt } from '../../shared/runtime';

type Input =
  | { action: 'claim'; campaignId: string; openid: string; appId: string; unionid?: string; clientIp?: string }
  | { action: 'reconcile'; limit?: number; ignoreBackoff: boolean };

// The reconciler stops starting new claims after this, well inside the function's 20 s timeout.
const RECONCILE_TIME_BUDGET_MS = 10_000;

/**
 * sendRedPacket: a mini-program user claims a packet of a campaign ({ campaignId } — nothing
 * else: identity from the platform, amount from the campaign). Its timer (and an admin's
 * { action: 'reconcile' }) settles every claim left unsettled.
 */
export const main = defineHandler({
  name: 'sendRedPacket',
  allow: ['miniprogram', 'timer', 'admin'],
  wxContext: () => cloudPlatform().getWXContext(),
  init: (log) => {
    const env = envReader(process.env);
    const config = readRedPacketConfig(env);
    return { config, deps: createRedPacketDeps(config, { store: cloudPlatform().store, log }) };
  },
  parse: (event, caller): Input => {
    if (caller.type === 'timer') return { action: 'reconcile', ignoreBackoff: false };
    if (caller.type === 'miniprogram') {
      allowOnlyFields(event, ['campaignId']);
      const campaignId = event.campaignId;
      if (typeof campaignId !== 'string' || !CAMPAIGN_ID_PATTERN.test(campaignId)) throw new InputError('campaignId is not a campaign id', 'campaignId');
      return {
        action: 'claim',
        campaignId,
        openid: caller.openid,
        appId: caller.appid,
        ...(caller.unionid ? { unionid: caller.unionid } : {}),
        ...(caller.clientIp ? { clientIp: caller.clientIp } : {}),
      };
    }
    allowOnlyFields(event, ['action', 'limit', 'ignoreBackoff']);
    readEnum(event, 'action', ['reconcile'] as const);
    if (event.ignoreBackoff !== undefined && typeof event.ignoreBackoff !== 'boolean') throw new InputError('ignoreBackoff must be a boolean', 'ignoreBackoff');
    const limit = readOptionalInt(event, 'limit', 1, 500);
    return { action: 'reconcile', ignoreBackoff: event.ignoreBackoff === true, ...(limit === undefined ? {} : { limit }) };
  },
  run: async (input, { deps: { config, deps } }) => {
    if (input.action === 'reconcile') {
      return reconcileClaims(deps, {
        limit: input.limit ?? config.reconcileBatch,
        timeBudgetMs: RECONCILE_TIME_BUDGET_MS,
        ignoreBackoff: input.ignoreBackoff,
      });
    }
    const { action: _claim, campaignId, ...claimant } = input;
    const result = await claimRedPacket(deps, claimant, campaignId);
    // Mini-program packets: exactly wx.sendBizRedPacket's arguments. Cash packets: the claim's state.
    return result.kind === 'miniprogram' ? result.bizRedPacket : result.claim;
  },
});
