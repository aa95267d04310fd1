import { envReader } from '../../shared/config';
import { ForbiddenError, InputError } from '../../shared/errors';
import { cloudPlatform } from '../../shared/platform';
import { CAMPAIGN_ID_PATTERN } from '../../shared/claims/campaign';
import { createClaimDeps, readClaimConfig } from '../../shared/claims/config';
import { cancelClaim, claimPacket, reconcileClaims, reissueClaim } from '../../shared/claims/engine';
import type { MiniProgramProof } from '../../shared/claims/eligibility/miniprogram';
import { allowOnlyFields, defineHandler, readEnum, readOptionalInt } from '../../shared/runtime';

type Input =
  | { action: 'claim'; campaignId: string; proof: MiniProgramProof }
  | { action: 'reconcile'; limit?: number; ignoreBackoff: boolean; claimId?: string }
  | { action: 'reissue' | 'cancel-transfer'; claimId: string };

// The reconciler stops starting new claims after this, well inside the function's 20 s timeout.
const RECONCILE_TIME_BUDGET_MS = 10_000;
const CLAIM_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,39}:[\x21-\x7e]{1,200}$/;

/**
 * sendRedPacket: a mini-program user claims a packet or transfer of a campaign ({ campaignId } —
 * nothing else: identity from the platform, amount from the campaign). Its timer (and an admin's
 * { action: 'reconcile' }) settles every claim left unsettled; an admin's { action: 'reissue' }
 * releases a held claim once WeChat refunded its packet (the console asks for both, as another
 * function); an admin's (or the console's) { action: 'cancel-transfer' } cancels a transfer still
 * waiting for its user.
 */
export const main = defineHandler({
  name: 'sendRedPacket',
  // `function`: the console's "settle now", "reissue" and "cancel transfer" (opsConsole calls them function to function).
  allow: ['miniprogram', 'timer', 'admin', 'function'],
  wxContext: () => cloudPlatform().getWXContext(),
  init: (log) => {
    const config = readClaimConfig(envReader(process.env));
    const platform = cloudPlatform();
    return { config, deps: createClaimDeps(config, { store: platform.store, log, invoke: (name, data) => platform.callFunction(name, data) }) };
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
        proof: {
          openid: caller.openid,
          appId: caller.appid,
          ...(caller.unionid ? { unionid: caller.unionid } : {}),
          ...(caller.clientIp ? { clientIp: caller.clientIp } : {}),
        },
      };
    }
    // Another function (the console) may only drive claims that exist: it never claims for anyone.
    if (caller.type === 'function' && event.action !== 'reconcile' && event.action !== 'reissue' && event.action !== 'cancel-transfer') {
      throw new ForbiddenError('Another function may ask sendRedPacket to reconcile, reissue or cancel claims, not to claim one');
    }
    allowOnlyFields(event, ['action', 'limit', 'ignoreBackoff', 'claimId']);
    const action = readEnum(event, 'action', ['reconcile', 'reissue', 'cancel-transfer'] as const);
    const claimId = event.claimId;
    if (claimId !== undefined && (typeof claimId !== 'string' || !CLAIM_ID_PATTERN.test(claimId))) throw new InputError('claimId is not a claim id', 'claimId');
    if (action === 'reissue' || action === 'cancel-transfer') {
      if (claimId === undefined) throw new InputError(`${action} needs claimId`, 'claimId');
      return { action, claimId };
    }
    if (event.ignoreBackoff !== undefined && typeof event.ignoreBackoff !== 'boolean') throw new InputError('ignoreBackoff must be a boolean', 'ignoreBackoff');
    const limit = readOptionalInt(event, 'limit', 1, 500);
    return {
      action,
      ignoreBackoff: event.ignoreBackoff === true,
      ...(limit === undefined ? {} : { limit }),
      ...(claimId === undefined ? {} : { claimId }),
    };
  },
  run: async (input, { deps: { config, deps } }) => {
    switch (input.action) {
      case 'reconcile':
        return reconcileClaims(deps, {
          limit: input.limit ?? config.reconcileBatch,
          timeBudgetMs: RECONCILE_TIME_BUDGET_MS,
          ignoreBackoff: input.ignoreBackoff,
          ...(input.claimId === undefined ? {} : { claimId: input.claimId }),
        });
      case 'reissue':
        return reissueClaim(deps, input.claimId);
      case 'cancel-transfer':
        return cancelClaim(deps, input.claimId);
      default:
        // Mini-program packets: exactly wx.sendBizRedPacket's arguments. Cash packets: the claim's state.
        // Transfers: exactly wx.requestMerchantTransfer's { mchId, appId, package }.
        return claimPacket(deps, input.campaignId, { eligibility: 'miniprogram', proof: input.proof });
    }
  },
});
