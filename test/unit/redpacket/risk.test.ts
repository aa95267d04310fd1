import { planCampaign } from '../../../shared/claims/campaign';
import type { Person } from '../../../shared/claims/eligibility/types';
import { checkRisk, readRiskTerms, type RiskRanker } from '../../../shared/claims/risk';
import { NotEligibleError, WechatApiError } from '../../../shared/errors';
import { createLogger } from '../../../shared/log';
import type { WechatHttp } from '../../../shared/wechat/http';
import { getUserRiskRank, RiskScene } from '../../../shared/wechat/risk';

const MP = 'wx10ca1000000000b2';
const NOW_MS = Date.parse('2026-02-01T00:00:00+08:00');
const CAMPAIGN = {
  id: 'risky', payout: 'miniprogram', sendName: '某某商城', wishing: '新年快乐', actName: '新春红包', remark: 'r',
  startsAt: '2026-02-01T00:00:00+08:00', endsAt: '2026-02-08T00:00:00+08:00', budgetFen: 1_000, amount: { fixedFen: 100 },
};
const silent = createLogger({}, { write: () => undefined });

/** A WechatHttp that records the request and answers `answer` (as createWechatHttp would: errcode ≠ 0 throws). */
function fakeHttp(answer: Record<string, unknown>) {
  const requests: Array<{ path: string; query: unknown; body: unknown }> = [];
  const http: WechatHttp = {
    getJson: () => Promise.reject(new Error('GET not expected')),
    postForm: () => Promise.reject(new Error('form not expected')),
    postJson: async <T extends object>(path: string, query: unknown, body: unknown): Promise<T> => {
      requests.push({ path, query, body });
      if (typeof answer.errcode === 'number' && answer.errcode !== 0) throw new WechatApiError(path, answer.errcode, String(answer.errmsg));
      return answer as T;
    },
  };
  return { http, requests };
}

describe('getUserRiskRank', () => {
  it('posts the official fields with the token in the query, and reads risk_rank and unoin_id (sic)', async () => {
    // The answer of the official page's example (api_getuserriskrank: 返回示例).
    const { http, requests } = fakeHttp({ errcode: 0, errmsg: 'getuserriskrank succ', risk_rank: 0, unoin_id: 123456 });

    const rank = await getUserRiskRank(http, 'MP_TOKEN', { appId: MP, openid: 'oUser', scene: RiskScene.MARKETING, clientIp: '203.0.113.7' });

    expect(rank).toEqual({ riskRank: 0, requestId: 123456 });
    expect(requests).toEqual([{ path: '/wxa/getuserriskrank', query: { access_token: 'MP_TOKEN' }, body: { appid: MP, openid: 'oUser', scene: 1, client_ip: '203.0.113.7' } }]);
  });

  it('keeps WeChat\'s errcode (61010: no recent visit)', async () => {
    const { http } = fakeHttp({ errcode: 61010, errmsg: 'code is expired rid: 64658b59-5cfe0fa0-4261acbd' });
    await expect(getUserRiskRank(http, 'T', { appId: MP, openid: 'o', scene: 1, clientIp: '1.2.3.4' })).rejects.toMatchObject({ errcode: 61010 });
  });

  it.each([
    { case: 'no rank', answer: { errcode: 0 } },
    { case: 'a rank above 4', answer: { errcode: 0, risk_rank: 5 } },
    { case: 'a rank as text', answer: { errcode: 0, risk_rank: '0' } },
  ])('treats an answer with $case as garbled, never as rank 0', async ({ answer }) => {
    await expect(getUserRiskRank(fakeHttp(answer).http, 'T', { appId: MP, openid: 'o', scene: 1, clientIp: '1.2.3.4' })).rejects.toThrow(/risk_rank/);
  });
});

describe('a campaign\'s risk setting', () => {
  it('is stored on miniprogram and webview campaigns, onError defaulting to refuse', () => {
    expect(planCampaign({ ...CAMPAIGN, risk: { maxRank: 2 } }, { nowMs: NOW_MS }).campaign.risk).toEqual({ maxRank: 2, onError: 'refuse' });
    const webview = planCampaign({ ...CAMPAIGN, eligibility: 'webview', payout: 'cash', risk: { maxRank: 0, onError: 'allow' } }, { nowMs: NOW_MS });
    expect(webview.campaign.risk).toEqual({ maxRank: 0, onError: 'allow' });
    expect(planCampaign(CAMPAIGN, { nowMs: NOW_MS }).campaign).not.toHaveProperty('risk');
  });

  it('is refused for a follow campaign, whose claimant has no mini-program openid', () => {
    const follow = { ...CAMPAIGN, eligibility: 'follow', payout: 'cash', follow: { channels: [{ appId: 'wx10ca1000000000a1' }] }, risk: { maxRank: 1 } };
    expect(() => planCampaign(follow, { nowMs: NOW_MS })).toThrow(/risk \(getuserriskrank\) needs the claimant's mini-program openid: a follow campaign has none/);
  });

  it.each([
    { case: 'a rank above 4', risk: { maxRank: 5 }, problem: /risk.maxRank must be a whole number from 0 to 4/ },
    { case: 'a fractional rank', risk: { maxRank: 1.5 }, problem: /risk.maxRank/ },
    { case: 'no rank', risk: {}, problem: /risk.maxRank/ },
    { case: 'an unknown onError', risk: { maxRank: 1, onError: 'ignore' }, problem: /risk.onError must be "refuse" or "allow"/ },
    { case: 'an unknown field', risk: { maxRank: 1, scene: 0 }, problem: /unknown field risk.scene/ },
    { case: 'not an object', risk: 2, problem: /risk must be \{ maxRank/ },
  ])('names the problem of $case', ({ risk, problem }) => {
    const problems: string[] = [];
    readRiskTerms(risk, problems);
    expect(problems.join('\n')).toMatch(problem);
    expect(() => planCampaign({ ...CAMPAIGN, risk }, { nowMs: NOW_MS })).toThrow(problem);
  });
});

describe('checkRisk', () => {
  const person: Pick<Person, 'openids' | 'clientIp'> = { openids: { [MP]: 'oUser' }, clientIp: '203.0.113.7' };
  const ranker = (rank: number | Error): RiskRanker & { asked: unknown[] } => {
    const asked: unknown[] = [];
    return { asked, rankOf: async (user) => (asked.push(user), rank instanceof Error ? Promise.reject(rank) : rank) };
  };
  const deps = (risk: RiskRanker | undefined) => ({ ...(risk === undefined ? {} : { risk }), log: silent, miniProgramAppId: MP });

  it('asks nothing for a campaign without the check', async () => {
    const risk = ranker(4);
    await expect(checkRisk(deps(risk), { _id: 'c' }, person)).resolves.toBeUndefined();
    expect(risk.asked).toEqual([]);
  });

  it.each([
    { case: 'a rank at the maximum passes', rank: 2, refused: null },
    { case: 'a rank above it is risky_user', rank: 3, refused: 'risky_user' },
  ])('$case', async ({ rank, refused }) => {
    const risk = ranker(rank);
    const promise = checkRisk(deps(risk), { _id: 'c', risk: { maxRank: 2, onError: 'allow' } }, person);
    if (refused === null) await expect(promise).resolves.toBeUndefined();
    else await expect(promise).rejects.toMatchObject({ reason: refused });
    expect(risk.asked).toEqual([{ appId: MP, openid: 'oUser', clientIp: '203.0.113.7' }]);
  });

  it.each<{ case: string; risk: RiskRanker | undefined; who: Pick<Person, 'openids' | 'clientIp'> }>([
    { case: 'WeChat cannot rank the user (61010)', risk: ranker(new WechatApiError('/wxa/getuserriskrank', 61010, 'code is expired')), who: person },
    { case: 'the platform gave no client IP', risk: ranker(0), who: { openids: { [MP]: 'oUser' } } },
    { case: 'the claimant has no mini-program openid', risk: ranker(0), who: { openids: {}, clientIp: '1.2.3.4' } },
    { case: 'the function has no ranker', risk: undefined, who: person },
  ])('follows onError when $case', async ({ risk, who }) => {
    await expect(checkRisk(deps(risk), { _id: 'c', risk: { maxRank: 0, onError: 'allow' } }, who)).resolves.toBeUndefined();
    const refused = checkRisk(deps(risk), { _id: 'c', risk: { maxRank: 0, onError: 'refuse' } }, who);
    await expect(refused).rejects.toThrow(NotEligibleError);
    await expect(refused).rejects.toMatchObject({ reason: 'risk_unchecked' });
  });
});
