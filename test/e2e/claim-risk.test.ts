/**
 * Campaigns' risk check (issue 10 §3) through the host: WeChat's getuserriskrank, asked with the
 * mini-program's token (getToken's cache) for the claimant's mini-program openid and client IP,
 * before the reservation — a refused person costs no budget and leaves no claim.
 */
import { createCampaign } from '../../scripts/campaign';
import { LOCAL_OPEN_PLATFORM_ID } from '../../scripts/local/stack';
import { REFUSAL_MESSAGES } from '../../shared/claims/errors';
import { campaignFunnel } from '../../shared/claims/funnel';
import { campaignStatsOf } from '../../shared/claims/stats';
import { open, press, shown } from '../helpers/claim-pages';
import { callFunction, LOCAL_ACCOUNT, sandbox, startTestStack, upstreamCalls, type Stack } from '../helpers/stack';
import { campaignDoc, claim, claimsOf, mpOpenid, mpUser, openCampaign, operatorStore } from '../integration/redpacket/support';

const MP = LOCAL_ACCOUNT.miniProgramAppId;
const RISK = '/wxa/getuserriskrank';

describe('the risk check of a campaign', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 1 });
  }, 60_000);
  afterAll(() => stack?.close());

  const ranked = (name: string, rank: number) => sandbox(stack, 'POST', 'risk', { openid: mpOpenid(name), rank });
  const riskCalls = async () => (await upstreamCalls(stack))[RISK] ?? 0;

  it('pays a rank within the maximum and refuses a higher one before anything is reserved, counting the refusal', async () => {
    await openCampaign(stack, { id: 'risk-mp', risk: { maxRank: 1 } });
    await ranked('ranked-1', 1);
    await ranked('ranked-3', 3);

    const paid = await claim(stack, 'risk-mp', mpUser('ranked-1', { clientIp: '203.0.113.7' }));
    const refused = await claim(stack, 'risk-mp', mpUser('ranked-3'));

    expect(paid.ok).toBe(true);
    expect(refused).toEqual({ ok: false, error: { code: 'NOT_ELIGIBLE', message: REFUSAL_MESSAGES.risky_user } });
    // WeChat was asked with the platform's CLIENTIP and the marketing scene.
    expect((await sandbox(stack, 'GET', `risk?openid=${mpOpenid('ranked-1')}`)).user).toMatchObject({ lastAsked: { clientIp: '203.0.113.7', scene: 1 } });
    expect((await claimsOf(stack, 'risk-mp')).map((doc) => doc.openid)).toEqual([mpOpenid('ranked-1')]);
    expect(await campaignDoc(stack, 'risk-mp')).toMatchObject({ claimedCount: 1, claimedFen: 100 });
    expect((await campaignStatsOf(operatorStore(stack), 'risk-mp')).refusals).toEqual([{ reason: 'risky_user', count: 1 }]);
  });

  it.each([
    { case: 'refuses, when the campaign says so,', onError: 'refuse', paid: false },
    { case: 'pays, when the campaign allows it,', onError: 'allow', paid: true },
  ])('$case a user WeChat has no recent visit of (61010)', async ({ onError, paid }) => {
    const id = `risk-61010-${onError}`;
    await openCampaign(stack, { id, risk: { maxRank: 0, onError } });
    await sandbox(stack, 'POST', 'risk', { openid: mpOpenid(`stale-${onError}`), visited: false });

    const result = await claim(stack, id, mpUser(`stale-${onError}`));

    if (paid) expect(result.ok).toBe(true);
    else expect(result).toEqual({ ok: false, error: { code: 'NOT_ELIGIBLE', message: REFUSAL_MESSAGES.risk_unchecked } });
    expect(await claimsOf(stack, id)).toHaveLength(paid ? 1 : 0);
  });

  it('follows onError when WeChat is busy (-1)', async () => {
    await openCampaign(stack, { id: 'risk-busy', risk: { maxRank: 2, onError: 'refuse' } });
    await ranked('busy', 0);
    await sandbox(stack, 'POST', 'faults', { path: RISK, errcode: -1, times: 1 });

    const first = await claim(stack, 'risk-busy', mpUser('busy'));
    const second = await claim(stack, 'risk-busy', mpUser('busy'));

    expect(first).toEqual({ ok: false, error: { code: 'NOT_ELIGIBLE', message: REFUSAL_MESSAGES.risk_unchecked } });
    expect(second.ok).toBe(true);
  });

  it('replaces a rejected mini-program token once through getToken (40001) and ranks the user', async () => {
    await openCampaign(stack, { id: 'risk-40001', risk: { maxRank: 0 } });
    await ranked('token-cut', 0);
    expect((await claim(stack, 'risk-40001', mpUser('warm-up-unranked'))).ok).toBe(false);
    await sandbox(stack, 'POST', 'tokens/invalidate', { appid: MP, kind: 'all' });
    const before = await riskCalls();

    const result = await claim(stack, 'risk-40001', mpUser('token-cut'));

    expect(result.ok).toBe(true);
    expect((await riskCalls()) - before).toBe(2);
  });

  it('asks WeChat nothing for a campaign without the check', async () => {
    await openCampaign(stack, { id: 'risk-none' });
    const before = await riskCalls();

    expect((await claim(stack, 'risk-none', mpUser('unranked'))).ok).toBe(true);
    expect(await riskCalls()).toBe(before);
  });

  it('checks a web-view claimant by their mini-program openid and the page\'s client IP, and counts the refusal in the funnel', async () => {
    const nowMs = Date.now();
    await createCampaign(operatorStore(stack), {
      id: 'risk-webview', eligibility: 'webview', payout: 'cash', sendName: '本地服务号', wishing: '感谢参与', actName: '小程序专享红包', remark: 'e2e',
      startsAt: nowMs - 60_000, endsAt: nowMs + 3_600_000, budgetFen: 500, amount: { fixedFen: 100 }, risk: { maxRank: 1 },
    });
    const callerOf = async (user: string, rank: number) => {
      const view = await sandbox<{ openids: Record<string, string>; unionids: Record<string, string> }>(stack, 'GET', `users?user=${user}`);
      await sandbox(stack, 'POST', 'risk', { user, rank });
      return { type: 'miniprogram' as const, openid: view.openids[MP]!, appid: MP, unionid: view.unionids[LOCAL_OPEN_PLATFORM_ID]! };
    };
    const pageOf = async (user: string, rank: number) => {
      const token = await callFunction(stack, 'claimPageToken', { campaignId: 'risk-webview' }, await callerOf(user, rank));
      return press(stack, user, await open(stack, user, token.data.url, '120.24.78.68'), '120.24.78.68');
    };

    expect(shown(await pageOf('web-safe', 0)).state).toBe('paid');
    expect(shown(await pageOf('web-risky', 4))).toMatchObject({ state: 'refused', reason: 'risky_user', message: '你的微信账号暂时无法参加本活动。' });

    const risky = await sandbox(stack, 'GET', `risk?openid=${(await callerOf('web-risky', 4)).openid}`);
    expect(risky.user.lastAsked).toEqual({ clientIp: '120.24.78.68', scene: 1 });
    expect(await claimsOf(stack, 'risk-webview')).toHaveLength(1);
    const [webview] = await campaignFunnel(operatorStore(stack), 'risk-webview');
    expect(webview).toMatchObject({ channel: 'webview', stages: { claimed: 1, paid: 1 }, refusals: { risky_user: 1 } });
  });
});
