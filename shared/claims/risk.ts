/**
 * A campaign's optional risk check (issue 10 §3): WeChat's risk rank of the claimant's
 * MINI-PROGRAM identity (wxa/getuserriskrank, scene 1 营销作弊, ../wechat/risk.ts), asked before
 * the reservation — a refused person touches no budget and leaves no claim behind. Only campaigns
 * whose claimant has a mini-program openid take it (`miniprogram`, `webview`); a follower has none.
 *
 *   "risk": { "maxRank": 0..4, "onError": "refuse" | "allow" }
 *
 * A rank above `maxRank` is refused as `risky_user`. When the check cannot be made — 61010 (WeChat
 * has no recent visit of the openid to the mini-program: what script-driven accounts look like,
 * community answer 0002845d2bc0685ee8bfd82175b800), -1, a timeout, no client IP, 48001 (安全风控 not
 * switched on) — `onError` decides: `refuse` (`risk_unchecked`, the safer default for money) or
 * `allow`. A rejected token (40001) is replaced once through getToken like every other call.
 */
import { WechatApiError } from '../errors';
import type { Logger } from '../log';
import { withAccessToken, type CredentialSourcePort } from '../credentials/reader';
import type { WechatHttp } from '../wechat/http';
import { getUserRiskRank, MAX_RISK_RANK, RiskErrcode, RiskScene } from '../wechat/risk';
import type { Person } from './eligibility/types';
import { refusal, RefusalReason } from './errors';
import type { CampaignDoc, RiskTerms } from './model';

/** The campaign field. */
export const RISK_FIELD = 'risk';

/** Validates a campaign's `risk`; undefined when the campaign has no check. */
export function readRiskTerms(value: unknown, problems: string[]): RiskTerms | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`risk must be { maxRank: 0-${MAX_RISK_RANK}, onError?: "refuse" | "allow" }`);
    return undefined;
  }
  const raw = value as Record<string, unknown>;
  for (const key of Object.keys(raw)) if (key !== 'maxRank' && key !== 'onError') problems.push(`unknown field risk.${key}`);
  const { maxRank } = raw;
  const onError = raw.onError ?? 'refuse';
  let ok = true;
  // maxRank 4 refuses no rank, only (with onError "refuse") the users WeChat cannot rank: no recent visit, 61010.
  if (typeof maxRank !== 'number' || !Number.isInteger(maxRank) || maxRank < 0 || maxRank > MAX_RISK_RANK) {
    problems.push(`risk.maxRank must be a whole number from 0 to ${MAX_RISK_RANK} (WeChat's ranks, higher is riskier; ranks above it are refused)`);
    ok = false;
  }
  if (onError !== 'refuse' && onError !== 'allow') {
    problems.push('risk.onError must be "refuse" or "allow" (what to do when WeChat cannot rank the user, e.g. 61010)');
    ok = false;
  }
  return ok ? { maxRank: maxRank as number, onError: onError as RiskTerms['onError'] } : undefined;
}

/** Asks WeChat for a mini-program user's rank. */
export interface RiskRanker {
  rankOf(user: { appId: string; openid: string; clientIp: string }): Promise<number>;
}

/** The ranker over the mini-program's token (read through getToken's cache, never fetched here). */
export function createRiskRanker(http: WechatHttp, tokens: CredentialSourcePort): RiskRanker {
  return {
    rankOf: async (user) => (await withAccessToken(tokens, (accessToken) =>
      getUserRiskRank(http, accessToken, { appId: user.appId, openid: user.openid, clientIp: user.clientIp, scene: RiskScene.MARKETING }))).riskRank,
  };
}

/**
 * Refuses the person when the campaign checks risk and WeChat ranks them above its maximum (or
 * cannot rank them and the campaign refuses then). No check, no request: campaigns without
 * `risk` cost nothing here.
 */
export async function checkRisk(
  deps: { risk?: RiskRanker; log: Logger; miniProgramAppId: string },
  campaign: Pick<CampaignDoc, '_id' | 'risk'>,
  person: Pick<Person, 'openids' | 'clientIp'>,
): Promise<void> {
  const terms = campaign.risk;
  if (terms === undefined) return;
  const openid = person.openids[deps.miniProgramAppId];
  let rank: number;
  try {
    if (openid === undefined) throw new Error('the claimant has no mini-program openid');
    if (person.clientIp === undefined) throw new Error('the platform gave no client IP (getuserriskrank requires client_ip)');
    if (deps.risk === undefined) throw new Error('this function has no risk ranker');
    rank = await deps.risk.rankOf({ appId: deps.miniProgramAppId, openid, clientIp: person.clientIp });
  } catch (error) {
    const errcode = error instanceof WechatApiError ? error.errcode : null;
    // 61010 is about the user, the rest about us or WeChat: those the operator must see.
    const level = errcode === RiskErrcode.NO_RECENT_VISIT ? 'warn' : 'error';
    deps.log[level]('risk check could not rank the claimant', { campaignId: campaign._id, errcode, onError: terms.onError, error });
    if (terms.onError === 'allow') return;
    throw refusal(RefusalReason.RISK_UNCHECKED, { cause: error });
  }
  if (rank > terms.maxRank) {
    deps.log.info('claimant refused by the risk check', { campaignId: campaign._id, rank, maxRank: terms.maxRank });
    throw refusal(RefusalReason.RISKY_USER);
  }
}
