/**
 * The mini-program user: identity from the platform (`cloud.getWXContext()`: OPENID, APPID,
 * UNIONID, CLIENTIP), never from what the client sends. Known by their openid under the
 * mini-program and, when the mini-program is bound to an Open Platform account, their unionid —
 * so claiming once before the binding and again after it finds the same claim.
 */
import { refusal, RefusalReason } from '../errors';
import { openidKey, unionidKey } from '../model';
import { readRiskTerms, RISK_FIELD } from '../risk';
import { linkedPayee, type EligibilityModule } from './types';

/** What the platform said about the caller. */
export interface MiniProgramProof {
  openid: string;
  appId: string;
  unionid?: string;
  clientIp?: string;
}

export const miniProgramUser: EligibilityModule<MiniProgramProof> = {
  name: 'miniprogram',
  campaignFields: [RISK_FIELD],
  planCampaign(input, problems) {
    const risk = readRiskTerms(input.risk, problems);
    return risk === undefined ? {} : { risk };
  },
  async identify(proof, _campaign, context) {
    if (proof.appId !== context.miniProgramAppId) throw refusal(RefusalReason.WRONG_APP);
    const primary = openidKey(proof.appId, proof.openid);
    return {
      keys: proof.unionid === undefined ? [primary] : [primary, unionidKey(proof.unionid)],
      openids: { [proof.appId]: proof.openid },
      ...(proof.unionid === undefined ? {} : { unionid: proof.unionid }),
      ...(proof.clientIp === undefined ? {} : { clientIp: proof.clientIp }),
    };
  },
  payee: linkedPayee,
};
