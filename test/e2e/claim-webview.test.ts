/**
 * The mini-program web-view route (seed 000) end to end: a mini-program user asks claimPageToken
 * for a one-time page token (identity from the platform), opens the claim page with it in a
 * web-view, OAuth on the service account links their service-account openid (wx_user_links,
 * source oauth), and a cash packet of the webview campaign is paid to it — once.
 */
import { createCampaign } from '../../scripts/campaign';
import { LOCAL_OPEN_PLATFORM_ID } from '../../scripts/local/stack';
import { campaignFunnel } from '../../shared/claims/funnel';
import { COLLECTIONS } from '../../shared/store/port';
import { open, press, SERVICE, shown } from '../helpers/claim-pages';
import { ADMIN, callFunction, LOCAL_ACCOUNT, sandbox, startTestStack, type Stack } from '../helpers/stack';
import { claimsOf, ledger, operatorStore } from '../integration/redpacket/support';

const MP = LOCAL_ACCOUNT.miniProgramAppId;

async function mpCaller(stack: Stack, user: string) {
  const view = await sandbox<{ openids: Record<string, string>; unionids: Record<string, string> }>(stack, 'GET', `users?user=${user}`);
  return { type: 'miniprogram' as const, openid: view.openids[MP]!, appid: MP, unionid: view.unionids[LOCAL_OPEN_PLATFORM_ID]! };
}

describe('the web-view claim page', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 1 });
    const nowMs = Date.now();
    await createCampaign(operatorStore(stack), {
      id: 'webview-e2e', eligibility: 'webview', payout: 'cash', sendName: '本地服务号', wishing: '感谢参与', actName: '小程序专享红包', remark: 'e2e',
      startsAt: nowMs - 60_000, endsAt: nowMs + 3_600_000, budgetFen: 500, amount: { fixedFen: 100 }, regions: ['中国'],
    });
  }, 60_000);

  afterAll(async () => {
    await stack?.close();
  });

  it('pays a mini-program user through the web-view page, linking their service-account openid', async () => {
    const caller = await mpCaller(stack, 'wendy');
    const token = await callFunction(stack, 'claimPageToken', { campaignId: 'webview-e2e' }, caller);
    expect(token.ok).toBe(true);
    expect(token.data.url).toMatch(new RegExp(`^${stack.url}/claim/w\\?t=[A-Za-z0-9_-]{32}$`));
    const page = await open(stack, 'wendy', token.data.url);
    expect(shown(page)).toMatchObject({ state: 'ready' });
    expect(shown(await press(stack, 'wendy', page)).state).toBe('paid');

    const serviceOpenid = (await sandbox<{ openids: Record<string, string> }>(stack, 'GET', 'users?user=wendy')).openids[SERVICE]!;
    expect((await ledger(stack)).filter((packet) => packet.openid === serviceOpenid)).toHaveLength(1);
    expect(await operatorStore(stack).get(COLLECTIONS.userLinks, `${SERVICE}:${caller.unionid}`)).toMatchObject({ openid: serviceOpenid, source: 'oauth' });
    const [claim] = await claimsOf(stack, 'webview-e2e');
    expect(claim?.keys).toEqual([`openid:${SERVICE}:${serviceOpenid}`, `openid:${MP}:${caller.openid}`, `unionid:${caller.unionid}`]);
  });

  it('uses a token once: another browser gets a refusal, the same user a fresh token finds their packet', async () => {
    const caller = await mpCaller(stack, 'xena');
    const { data } = await callFunction(stack, 'claimPageToken', { campaignId: 'webview-e2e' }, caller);
    await press(stack, 'xena', await open(stack, 'xena', data.url));
    expect(shown(await open(stack, 'yuri', data.url))).toMatchObject({ state: 'refused', reason: 'link_reused' });

    const again = await callFunction(stack, 'claimPageToken', { campaignId: 'webview-e2e' }, caller);
    expect(shown(await open(stack, 'xena', again.data.url)).state).toBe('paid');
    expect((await claimsOf(stack, 'webview-e2e')).filter((claim) => claim.keys.includes(`openid:${MP}:${caller.openid}`))).toHaveLength(1);
  });

  it('refuses a made-up token, a token of another campaign kind, and every caller but a mini-program user', async () => {
    expect(shown(await open(stack, 'zoe', `${stack.url}/claim/w?t=${'A'.repeat(32)}`))).toMatchObject({ state: 'refused', reason: 'link_invalid' });
    const caller = await mpCaller(stack, 'zoe');
    await createCampaign(operatorStore(stack), {
      id: 'mp-only', payout: 'miniprogram', sendName: 's', wishing: 'w', actName: 'a', remark: 'r', startsAt: Date.now() - 1000, endsAt: Date.now() + 60_000, budgetFen: 100, amount: { fixedFen: 100 },
    });
    expect(await callFunction(stack, 'claimPageToken', { campaignId: 'mp-only' }, caller)).toMatchObject({ ok: false, error: { code: 'NOT_ELIGIBLE' } });
    expect(await callFunction(stack, 'claimPageToken', { campaignId: 'webview-e2e' }, ADMIN)).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await callFunction(stack, 'claimPageToken', { campaignId: 'webview-e2e', openid: 'someone-else' }, caller)).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
  });

  it('counts the web-view funnel', async () => {
    const [funnel] = await campaignFunnel(operatorStore(stack), 'webview-e2e');
    expect(funnel).toMatchObject({ channel: 'webview', stages: { linksOpened: 3, authorised: 3, claimed: 2, paid: 2 } });
  });
});
