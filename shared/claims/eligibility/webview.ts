/**
 * The web-view user (seed 000): a mini-program user who asked `claimPageToken` for a one-time page
 * token (bound by the platform to their OPENID/UNIONID), opened the claim page in a `<web-view>`,
 * and was proven by OAuth on the paying service account — which gives the service-account openid
 * a cash packet is paid to. The page links the two (`wx_user_links`, source `oauth`).
 *
 * Known by the service-account openid (primary), the mini-program openid and the unionid, all
 * reserved in the engine's one transaction: one packet per person however they come back.
 */
import { readRegions, type IpRegion } from '../campaign';
import { refusal, RefusalReason } from '../errors';
import { WEBVIEW_CHANNEL } from '../funnel';
import { openidKey, unionidKey } from '../model';
import { readRiskTerms, RISK_FIELD } from '../risk';
import { linkedPayee, type EligibilityModule } from './types';

/** What the claim page proved: the mini-program user of the page token, and OAuth's openid. */
export interface WebviewProof {
  miniProgram: { appId: string; openid: string; unionid?: string };
  serviceAppId: string;
  serviceOpenid: string;
  clientIp?: string;
  region?: IpRegion | null;
}

export const webviewUsers: EligibilityModule<WebviewProof> = {
  name: 'webview',
  campaignFields: ['regions', 'ipCallsPerMinute', RISK_FIELD],
  planCampaign(input, problems) {
    const ipCallsPerMinute = input.ipCallsPerMinute ?? 30;
    if (typeof ipCallsPerMinute !== 'number' || !Number.isInteger(ipCallsPerMinute) || ipCallsPerMinute < 1 || ipCallsPerMinute > 10_000) {
      problems.push('ipCallsPerMinute must be a whole number from 1 to 10000');
    }
    const risk = readRiskTerms(input.risk, problems);
    return { regions: readRegions(input.regions, problems), ipCallsPerMinute, ...(risk === undefined ? {} : { risk }) };
  },
  async identify(proof, _campaign, context) {
    const { miniProgram } = proof;
    if (miniProgram.appId !== context.miniProgramAppId) throw refusal(RefusalReason.WRONG_APP);
    if (proof.serviceAppId !== context.officialAppId) throw refusal(RefusalReason.WRONG_ENTRY);
    const keys: [string, ...string[]] = [openidKey(proof.serviceAppId, proof.serviceOpenid), openidKey(miniProgram.appId, miniProgram.openid)];
    if (miniProgram.unionid !== undefined) keys.push(unionidKey(miniProgram.unionid));
    return {
      keys,
      openids: { [proof.serviceAppId]: proof.serviceOpenid, [miniProgram.appId]: miniProgram.openid },
      ...(miniProgram.unionid === undefined ? {} : { unionid: miniProgram.unionid }),
      ...(proof.clientIp === undefined ? {} : { clientIp: proof.clientIp }),
      ...(proof.region === undefined ? {} : { region: proof.region }),
      channel: WEBVIEW_CHANNEL,
    };
  },
  payee: linkedPayee,
};
