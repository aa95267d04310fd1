/**
 * Follow-to-claim campaigns end to end, through the function host and the WeChat and Pay
 * sandboxes: a follow's passive reply carries a signed link; the link opened in WeChat's in-app
 * browser (the sandbox plays it) runs OAuth on the service account; the claim goes through the
 * claim engine and a cash packet is paid to the service-account openid — once per person, only
 * for a new follower, only in the campaign's region; every refusal typed and counted per channel.
 */
import { main as campaignCli } from '../../scripts/campaign';
import { LOCAL_OPEN_PLATFORM_ID, localPushUrl } from '../../scripts/local/stack';
import { seedAccount } from '../../shared/accounts/store';
import { signClaimLink, deriveKey, CLAIM_LINK_KEY_LABEL } from '../../shared/claimpage/links';
import { SESSION_COOKIE } from '../../shared/claimpage/sessions';
import { campaignFunnel } from '../../shared/claims/funnel';
import { claimIdOf, openidKey, unionidKey } from '../../shared/claims/model';
import { COLLECTIONS } from '../../shared/store/port';
import {
  ABROAD_IP, BEIJING_IP, follow, followAndClaim, followCampaign, linkIn, open, press, SERVICE, shown, SUB_A, SUB_B, unfollow, type Page,
} from '../helpers/claim-pages';
import { LOCAL_ACCOUNT, sandbox, startTestStack, upstreamCalls, type Stack } from '../helpers/stack';
import { claimsOf, expectPaidEqualsClaimed, ledger, operatorStore } from '../integration/redpacket/support';

/** A verified subscription account on the same Open Platform: user/info gives its followers' unionids. */
const VERIFIED_SUB = 'wx10ca1000000000a4';

async function openidOf(stack: Stack, user: string, appid: string): Promise<string> {
  return (await sandbox<{ openids: Record<string, string> }>(stack, 'GET', `users?user=${user}`)).openids[appid]!;
}

async function funnelOf(stack: Stack, campaignId: string) {
  return Object.fromEntries((await campaignFunnel(operatorStore(stack), campaignId)).map((entry) => [entry.channel, entry]));
}

describe('follow-to-claim campaigns', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 2 });
    // A fourth account, verified: its followers' unionids come from user/info (the receiver asks after each follow).
    await sandbox(stack, 'POST', 'accounts', {
      appid: VERIFIED_SUB, secret: 'LocalSandboxAppSecret0000000004', kind: 'subscription', verified: true, originalId: 'gh_10ca100000a4', name: '本地认证订阅号',
      push: { token: 'LocalPushTokenA4', encodingAESKey: 'LocalSandboxEncodingAESKeyOfAccountA4000000', mode: 'plain', url: localPushUrl(stack.url, VERIFIED_SUB) },
      openPlatformId: LOCAL_OPEN_PLATFORM_ID,
    });
    await seedAccount(operatorStore(stack), {
      _id: VERIFIED_SUB, appId: VERIFIED_SUB, kind: 'subscription', verified: true, name: '本地认证订阅号', originalId: 'gh_10ca100000a4', messageMode: 'plain',
      appSecret: 'LocalSandboxAppSecret0000000004', pushToken: 'LocalPushTokenA4', encodingAESKey: 'LocalSandboxEncodingAESKeyOfAccountA4000000',
      previousEncodingAESKey: null, status: 'active', createdAtMs: Date.now(), updatedAtMs: Date.now(), removedAtMs: 0,
    });
    await followCampaign(stack);
    await followCampaign(stack, {
      id: 'follow-proven',
      follow: { channels: [{ appId: SERVICE, channel: 'spring-poster' }, { appId: VERIFIED_SUB, channel: 'account' }], followerProof: 'proven' },
    });
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
  });

  it('pays a new follower of a subscription account one cash packet to their service-account openid', async () => {
    const delivery = await follow(stack, 'alice', SUB_B);
    expect(delivery.reply?.Content).toContain(`${stack.url}/claim/f?l=`);
    const page = await open(stack, 'alice', linkIn(delivery));
    expect(shown(page)).toMatchObject({ state: 'ready', message: '恭喜获得一个红包' });
    const after = await press(stack, 'alice', page);

    expect(shown(after)).toMatchObject({ state: 'paid', message: '红包已发放' });
    const aliceService = await openidOf(stack, 'alice', SERVICE);
    const packets = (await ledger(stack)).filter((packet) => packet.openid === aliceService);
    expect(packets.map((packet) => ({ appid: packet.appid, amountFen: packet.amountFen }))).toEqual([{ appid: SERVICE, amountFen: 100 }]);
    const [claim] = (await claimsOf(stack, 'follow-e2e')).filter((doc) => doc.openid === aliceService);
    expect(claim?.keys).toEqual([openidKey(SERVICE, aliceService), openidKey(SUB_B, await openidOf(stack, 'alice', SUB_B))]);
    expect(claim?.channel).toBe(`${SUB_B}:account`);
  });

  it('answers the same person their packet again, never a second one: a reload, the link again, a second account followed', async () => {
    const reload = await open(stack, 'alice', `${stack.url}/claim/page`);
    expect(shown(reload).state).toBe('paid');
    const second = await follow(stack, 'alice', SUB_A);
    const page = await open(stack, 'alice', linkIn(second));

    expect(shown(page)).toMatchObject({ state: 'paid', reason: 'already_claimed', message: '你已经领过本活动的红包了。红包已发放' });
    const aliceService = await openidOf(stack, 'alice', SERVICE);
    expect((await ledger(stack)).filter((packet) => packet.openid === aliceService)).toHaveLength(1);
  });

  it('refuses a forwarded link of a subscription account once its follower has used it (first open binds it)', async () => {
    const link = linkIn(await follow(stack, 'bob', SUB_B));
    await press(stack, 'bob', await open(stack, 'bob', link));
    const forwarded = await open(stack, 'mallory', link);

    expect(shown(forwarded)).toMatchObject({ state: 'refused', reason: 'link_reused' });
    expect(forwarded.body).not.toContain('name="csrf"');
  });

  it('tells a returning follower the campaign is for new followers, with no link, and counts it', async () => {
    await follow(stack, 'dave', SUB_A);
    await unfollow(stack, 'dave', SUB_A);
    const again = await follow(stack, 'dave', SUB_A);

    expect(again.reply?.Content).toContain('仅限首次关注的新用户');
    expect(again.reply?.Content).not.toContain('/claim/f?l=');
    expect((await funnelOf(stack, 'follow-e2e'))[`${SUB_A}:account`]?.refusals.not_new).toBe(1);
  });

  it('refuses a client outside the campaign\'s region, and pays the same person from inside it', async () => {
    const link = linkIn(await follow(stack, 'erin', SUB_A));
    const page = await open(stack, 'erin', link, BEIJING_IP);
    const refused = await press(stack, 'erin', page, BEIJING_IP);
    expect(shown(refused)).toMatchObject({ state: 'refused', reason: 'region', message: '本活动仅限指定地区参加，你所在的地区暂不能领取。' });
    const abroad = await press(stack, 'erin', await open(stack, 'erin', `${stack.url}/claim/page`, ABROAD_IP), ABROAD_IP);
    expect(shown(abroad).reason).toBe('region');

    const home = await press(stack, 'erin', await open(stack, 'erin', `${stack.url}/claim/page`));
    expect(shown(home).state).toBe('paid');
  });

  it('refuses an expired link and a changed one, before anything else', async () => {
    const key = deriveKey(LOCAL_ACCOUNT.refSigningSecret, CLAIM_LINK_KEY_LABEL);
    const erinSub = await openidOf(stack, 'erin', SUB_A);
    const old = signClaimLink(key, { campaignId: 'follow-e2e', appId: SUB_A, channel: 'account', openid: erinSub, followAtMs: Date.now() - 11 * 60_000 });
    expect(shown(await open(stack, 'frank', `${stack.url}/claim/f?l=${old}`))).toMatchObject({ state: 'refused', reason: 'link_expired' });
    const changed = old.replace(/^./, (char) => (char === 'Z' ? 'Y' : 'Z'));
    expect(shown(await open(stack, 'frank', `${stack.url}/claim/f?l=${changed}`))).toMatchObject({ state: 'refused', reason: 'link_invalid' });
    expect(shown(await open(stack, 'frank', `${stack.url}/claim/f?l=nonsense`)).reason).toBe('link_invalid');
  });

  it('restarts the authorization after WeChat refuses a code (40163), never retrying that code', async () => {
    await sandbox(stack, 'POST', 'stats/reset');
    await sandbox(stack, 'POST', 'faults', { path: '/sns/oauth2/access_token', errcode: 40163, times: 1 });
    const page = await open(stack, 'gina', linkIn(await follow(stack, 'gina', SUB_B)));

    expect(shown(page).state).toBe('ready');
    const calls = await upstreamCalls(stack);
    // Two authorizations, two codes, each exchanged once.
    expect(calls['/connect/oauth2/authorize']).toBe(2);
    expect(calls['/sns/oauth2/access_token']).toBe(2);
    await sandbox(stack, 'DELETE', 'faults');
  });

  it('refuses a snapshot-page user (快照页): their ids are not a person\'s', async () => {
    await sandbox(stack, 'POST', 'users/snapshot', { user: 'hank', on: true });
    const page = await open(stack, 'hank', linkIn(await follow(stack, 'hank', SUB_B)));
    expect(shown(page)).toMatchObject({ state: 'refused', reason: 'snapshot_user' });
    await sandbox(stack, 'POST', 'users/snapshot', { user: 'hank', on: false });
  });

  it('refuses a callback that is not this browser\'s authorization, and one replayed', async () => {
    const noSession = await fetch(`${stack.url}/claim/oauth?code=abc&state=abc`);
    expect(await noSession.text()).toContain('页面已过期');
    // ivan's browser has a session waiting for its own state: a made-up state is refused before any code is exchanged.
    const link = linkIn(await follow(stack, 'ivan', SUB_B));
    const start = await fetch(link, { redirect: 'manual' });
    const cookie = start.headers.getSetCookie().find((line) => line.startsWith(SESSION_COOKIE))!.split(';')[0]!;
    await sandbox(stack, 'POST', 'stats/reset');
    const forged = await fetch(`${stack.url}/claim/oauth?code=abc&state=NotTheState123`, { headers: { cookie }, redirect: 'manual' });
    expect(shown({ status: forged.status, url: '', headers: {}, body: await forged.text() }).reason).toBe('oauth_state');
    expect((await upstreamCalls(stack))['/sns/oauth2/access_token']).toBeUndefined();
    // The forged callback did not spend the real one: the authorization the link started still completes.
    const real = await fetch(start.headers.get('location')!.replace('#wechat_redirect', ''), { headers: { 'user-agent': 'MicroMessenger/8.0', 'x-sandbox-user': 'ivan' }, redirect: 'manual' });
    const callback = await fetch(real.headers.get('location')!, { headers: { cookie }, redirect: 'manual' });
    expect(callback.headers.get('location')).toBe('/claim/page');
    // …once: the same callback again exchanges nothing.
    const replayed = await fetch(real.headers.get('location')!, { headers: { cookie }, redirect: 'manual' });
    expect(replayed.headers.get('location')).toBe('/claim/page');
    expect((await upstreamCalls(stack))['/sns/oauth2/access_token']).toBe(1);
  });

  it('serves the page with its security headers, an HttpOnly Secure SameSite cookie, and nothing the browser could choose', async () => {
    const link = linkIn(await follow(stack, 'judy', SUB_B));
    const start = await fetch(link, { redirect: 'manual' });
    const setCookie = start.headers.getSetCookie().find((line) => line.startsWith(SESSION_COOKIE))!;
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/Secure/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    const location = start.headers.get('location')!;
    expect(location).toMatch(new RegExp(`^${stack.url}/connect/oauth2/authorize\\?appid=${SERVICE}&redirect_uri=${encodeURIComponent(`${stack.url}/claim/oauth`).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}&response_type=code&scope=snsapi_base&state=[A-Za-z0-9]{32}#wechat_redirect$`));
    const page: Page = await open(stack, 'judy', link);
    expect(page.headers['content-security-policy']).toContain("script-src 'self' http://127.0.0.1");
    expect(page.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.body).not.toMatch(/<script>(?!<\/script>)/);
    expect(page.body).not.toMatch(/amount|access_token|ticket/i);
    const inputs = [...page.body.matchAll(/<input[^>]*name="([^"]+)"/g)].map((match) => match[1]);
    expect(inputs).toEqual(['csrf']);
  });

  it('refuses a claim without the form\'s CSRF token, and takes the one the page gave', async () => {
    const page = await open(stack, 'kate', linkIn(await follow(stack, 'kate', SUB_B)));
    const noToken = await sandbox<Page>(stack, 'POST', 'browser/open', { user: 'kate', url: `${stack.url}/claim/claim`, method: 'POST', form: { csrf: 'x' } });
    expect(noToken.status).toBe(403);
    expect(shown(await open(stack, 'kate', `${stack.url}/claim/page`)).state).toBe('ready');
    expect(shown(await press(stack, 'kate', page)).state).toBe('paid');
  });

  it('pays a new follower of the service account through its QR channel only when OAuth names that follower', async () => {
    const store = operatorStore(stack);
    // The campaign's channel is a live parametric QR code of the service account, made through WeChat's API.
    await sandboxQr(stack, 'spring-poster');
    const leoDelivery = await follow(stack, 'leo', SERVICE, { scene: 'spring-poster' });
    const link = linkIn(leoDelivery);
    const stolen = await open(stack, 'mallory', link);
    expect(shown(stolen)).toMatchObject({ state: 'refused', reason: 'forwarded' });
    // Refused before it was bound: the follower still claims with it.
    const own = await press(stack, 'leo', await open(stack, 'leo', link));
    expect(shown(own).state).toBe('paid');
    expect((await store.get(COLLECTIONS.redPacketClaims, claimIdOf('follow-proven', openidKey(SERVICE, await openidOf(stack, 'leo', SERVICE)))))).not.toBeNull();
  });

  it('proves a verified account\'s follower by unionid (snsapi_userinfo when the service account has no link), and refuses anyone else', async () => {
    const link = linkIn(await follow(stack, 'nina', VERIFIED_SUB));
    await sandbox(stack, 'POST', 'stats/reset');
    const stolen = await open(stack, 'oscar', link);
    expect(shown(stolen)).toMatchObject({ state: 'refused', reason: 'forwarded' });
    expect((await upstreamCalls(stack))['/connect/oauth2/authorize']).toBe(2);
    const own = await press(stack, 'nina', await open(stack, 'nina', link));
    expect(shown(own).state).toBe('paid');
    const unionid = (await sandbox<{ unionids: Record<string, string> }>(stack, 'GET', 'users?user=nina')).unionids[LOCAL_OPEN_PLATFORM_ID]!;
    const [claim] = (await claimsOf(stack, 'follow-proven')).filter((doc) => doc.keys.includes(unionidKey(unionid)));
    expect(claim?.openid).toBe(await openidOf(stack, 'nina', SERVICE));
    // The OAuth path filled the service account's link: cash packets and cards find nina from now on.
    expect(await operatorStore(stack).get(COLLECTIONS.userLinks, `${SERVICE}:${unionid}`)).toMatchObject({ openid: claim?.openid, source: 'oauth' });
  });

  it('lets a channel join a running campaign (its follows get links at once) and leave it', async () => {
    await sandboxQr(stack, 'summer-poster');
    // Before it joins, a follow through it is no campaign's: no link.
    expect((await follow(stack, 'quinn', SERVICE, { scene: 'summer-poster' })).reply).toBeNull();
    await campaignCliQuiet(['--local', stack.url, 'join', 'follow-e2e', SERVICE, 'summer-poster']);
    // A channel an instance has not seen is read again at once (at most once a second).
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const joined = await follow(stack, 'rita', SERVICE, { scene: 'summer-poster' });
    expect(shown(await press(stack, 'rita', await open(stack, 'rita', linkIn(joined)))).state).toBe('paid');

    await campaignCliQuiet(['--local', stack.url, 'leave', 'follow-e2e', SERVICE, 'summer-poster']);
    // Instances see it within their 30 s copy of the channels; the database says so at once.
    expect((await operatorStore(stack).get<{ _id: string; campaignId: string | null }>(COLLECTIONS.channels, `${SERVICE}:summer-poster`))?.campaignId).toBeNull();
    await expect(campaignCliQuiet(['--local', stack.url, 'join', 'follow-e2e', SUB_A, 'some-poster'])).rejects.toThrow(/cannot make parametric QR codes/);
    await expect(campaignCliQuiet(['--local', stack.url, 'leave', 'follow-e2e', SUB_A, 'some-poster'])).rejects.toThrow(/not a channel of follow-e2e/);
  });

  it('counts the funnel per channel and prints it with campaign show, and pays exactly what was claimed', async () => {
    const funnel = await funnelOf(stack, 'follow-e2e');
    const sub = funnel[`${SUB_B}:account`]!;
    expect(sub.stages.follows).toBeGreaterThanOrEqual(sub.stages.linksSent);
    expect(sub.stages.linksSent).toBeGreaterThanOrEqual(sub.stages.linksOpened);
    expect(sub.stages.linksOpened).toBeGreaterThanOrEqual(sub.stages.authorised);
    expect(sub.stages.authorised).toBeGreaterThanOrEqual(sub.stages.claimed);
    expect(sub.stages.claimed).toBe(sub.stages.paid);
    expect(sub.refusals).toMatchObject({ link_reused: 1, snapshot_user: 1 });
    expect(funnel[`${SUB_A}:account`]?.refusals).toMatchObject({ region: 2, not_new: 1 });
    const lines: string[] = [];
    expect(await campaignCli(['--local', stack.url, 'show', 'follow-e2e'], (line) => lines.push(line))).toBe(0);
    const text = lines.join('\n');
    expect(text).toMatch(/funnel\s+channel\s+follows\s+linksSent\s+linksOpened\s+authorised\s+claimed\s+paid$/m);
    expect(text).toMatch(new RegExp(`${SUB_B}:account\\s+${sub.stages.follows}\\s+${sub.stages.linksSent}\\s+${sub.stages.linksOpened}\\s+${sub.stages.authorised}\\s+${sub.stages.claimed}\\s+${sub.stages.paid}`));
    expect(text).toContain('refused: ');
    await expectPaidEqualsClaimed(stack, 'follow-e2e');
  });
});

async function campaignCliQuiet(argv: string[]): Promise<void> {
  const code = await campaignCli(argv, () => undefined);
  if (code !== 0) throw new Error(`campaign ${argv.join(' ')} exited ${code}`);
}

/** A permanent QR code of the service account for `scene`, made through WeChat's API as the accounts CLI makes it. */
async function sandboxQr(stack: Stack, scene: string): Promise<void> {
  await fetch(`${stack.url}/functions/getToken`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: {}, caller: { type: 'admin' } }) });
  const token = (await sandbox<{ tokens: Array<{ access_token: string }> }>(stack, 'GET', `tokens?appid=${SERVICE}`)).tokens.at(-1)!.access_token;
  const response = await fetch(`${stack.url}/cgi-bin/qrcode/create?access_token=${token}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ action_name: 'QR_LIMIT_STR_SCENE', action_info: { scene: { scene_str: scene } } }),
  });
  const body = (await response.json()) as { ticket?: string };
  if (body.ticket === undefined) throw new Error(`no QR code: ${JSON.stringify(body)}`);
}
