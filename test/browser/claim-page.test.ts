/**
 * The claim pages in headless Chromium playing WeChat's in-app browser (its User-Agent, a phone's
 * window; the sandbox knows which WeChat user it is by the `wechat_sandbox_user` cookie): a follow's
 * link → OAuth at the sandbox → the page → the claim → paid, with the JS-SDK config checked as
 * WeChat checks it (the sandbox's stand-in), a replaced ticket recovered after wx.error, refusals,
 * and the web-view route. Screenshots go to test/artifacts/browser/claim-page/.
 */
import { createCampaign } from '../../scripts/campaign';
import { LOCAL_OPEN_PLATFORM_ID } from '../../scripts/local/stack';
import { WECHAT_USER_AGENT } from '../../scripts/local/sandbox/browser';
import { BEIJING_IP, follow, followCampaign, linkIn, SERVICE, SHENZHEN_IP, SUB_A, SUB_B } from '../helpers/claim-pages';
import { callFunction, LOCAL_ACCOUNT, sandbox, startTestStack, type Stack } from '../helpers/stack';
import { ledger, operatorStore } from '../integration/redpacket/support';
import { chromiumInstalled, CHROMIUM_PATH, launchChromium, type Browser } from './chromium';

const describeInBrowser = chromiumInstalled ? describe : describe.skip;
if (!chromiumInstalled) {
  if (process.env.CI === 'true') throw new Error(`No Chromium at ${CHROMIUM_PATH} on CI: .ci/run should have installed it`);
  console.warn(`SKIPPED the claim pages' browser tests: no Chromium at ${CHROMIUM_PATH} (apt-get install -y --no-install-recommends chromium)`);
}

interface Verification { url: string; ok: boolean; errMsg: string; jsApiList: string[] }
/** What the page's window holds, as the tests read it (this file is compiled without the DOM's types). */
interface PageGlobals { document: { body: { dataset: Record<string, string | undefined> } }; __sandboxWx: { calls: string[] } }

describeInBrowser('the claim pages in Chromium as WeChat\'s in-app browser', () => {
  let stack: Stack;
  let browser: Browser;

  /** Which simulated WeChat user the browser is, and which network it is on. */
  async function asUser(user: string, clientIp = SHENZHEN_IP): Promise<void> {
    await browser.context.clearCookies();
    await browser.context.addCookies([{ name: 'wechat_sandbox_user', value: user, url: stack.url }]);
    await browser.context.setExtraHTTPHeaders({ 'x-local-client-ip': clientIp });
  }

  async function card(): Promise<{ state: string | null; reason: string | null; message: string }> {
    const locator = browser.page.locator('[data-test=card]');
    await locator.waitFor({ state: 'attached', timeout: 10_000 });
    return { state: await locator.getAttribute('data-state'), reason: await locator.getAttribute('data-reason'), message: (await browser.page.locator('[data-test=message]').textContent()) ?? '' };
  }

  async function jssdk(expected: RegExp): Promise<string> {
    // Functions, not strings: the page's CSP allows no eval, which is part of what this proves.
    await browser.page.waitForFunction((source: string) => new RegExp(source).test((globalThis as unknown as PageGlobals).document.body.dataset.jssdk ?? ''), expected.source, { timeout: 10_000 });
    return browser.page.evaluate(() => (globalThis as unknown as PageGlobals).document.body.dataset.jssdk ?? '');
  }

  async function verifications(): Promise<Verification[]> {
    return (await sandbox<{ verifications: Verification[] }>(stack, 'GET', 'browser/jsapi/verifications')).verifications;
  }

  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 2 });
    await followCampaign(stack, { id: 'browser-follow' });
    const nowMs = Date.now();
    await createCampaign(operatorStore(stack), {
      id: 'browser-webview', eligibility: 'webview', payout: 'cash', sendName: '本地服务号', wishing: '感谢参与', actName: '小程序专享红包', remark: 'e2e',
      startsAt: nowMs - 60_000, endsAt: nowMs + 3_600_000, budgetFen: 564, amount: { fixedFen: 188 }, regions: ['中国'],
    });
    browser = await launchChromium('claim-page', { userAgent: WECHAT_USER_AGENT, viewport: { width: 390, height: 844 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('follows a link through OAuth to the page, whose wx.config WeChat accepts for that very URL', async () => {
    const link = linkIn(await follow(stack, 'pat', SUB_B));
    await asUser('pat');
    await browser.page.goto(link);

    expect(new URL(browser.page.url()).pathname).toBe('/claim/page');
    expect(await card()).toMatchObject({ state: 'ready', message: '恭喜获得一个红包' });
    expect(await jssdk(/^ready$/)).toBe('ready');
    const last = (await verifications()).at(-1)!;
    expect(last).toMatchObject({ ok: true, errMsg: 'config:ok', url: `${stack.url}/claim/page` });
    expect(last.jsApiList).toContain('hideOptionMenu');
    expect(await browser.page.evaluate(() => (globalThis as unknown as PageGlobals).__sandboxWx.calls)).toContain('hideOptionMenu');
    await browser.screenshot('01-follow-ready');
  });

  it('claims with the button: the page shows the packet paid, and one cash packet went to pat', async () => {
    await browser.page.click('[data-test=claim]');
    await browser.page.waitForSelector('[data-test=card][data-state=paid]');

    expect(await card()).toMatchObject({ state: 'paid', message: '红包已发放' });
    expect(await browser.page.locator('[data-test=amount]').textContent()).toBe('1.00元');
    const patService = (await sandbox<{ openids: Record<string, string> }>(stack, 'GET', 'users?user=pat')).openids[SERVICE]!;
    expect((await ledger(stack)).filter((packet) => packet.openid === patService)).toHaveLength(1);
    await browser.screenshot('02-follow-paid');
  });

  it('asks for the config again after wx.error (a ticket WeChat replaced), and WeChat accepts the new one', async () => {
    await sandbox(stack, 'POST', 'tickets/invalidate', { appid: SERVICE, type: 'jsapi' });
    const before = (await verifications()).length;
    await browser.page.reload();

    expect(await jssdk(/^ready$/)).toBe('ready');
    expect((await verifications()).slice(before).map((entry) => entry.errMsg)).toEqual(['config:invalid signature', 'config:ok']);
  });

  it('refuses a forwarded link with a clear sentence, and an outside network', async () => {
    const link = linkIn(await follow(stack, 'ray', SUB_B));
    await asUser('ray');
    await browser.page.goto(link);
    await browser.page.click('[data-test=claim]');
    await browser.page.waitForSelector('[data-test=card][data-state=paid]');
    await asUser('sam');
    await browser.page.goto(link);
    expect(await card()).toMatchObject({ state: 'refused', reason: 'link_reused' });
    expect(await browser.page.locator('[data-test=claim]').count()).toBe(0);
    await browser.screenshot('03-forwarded-link');

    const far = linkIn(await follow(stack, 'tom', SUB_A));
    await asUser('tom', BEIJING_IP);
    await browser.page.goto(far);
    await browser.page.click('[data-test=claim]');
    await browser.page.waitForSelector('[data-test=card][data-state=refused]');
    expect(await card()).toMatchObject({ reason: 'region', message: '本活动仅限指定地区参加，你所在的地区暂不能领取。' });
    await browser.screenshot('04-outside-region');
  });

  it('pays a mini-program user on the web-view page opened with their page token', async () => {
    const view = await sandbox<{ openids: Record<string, string>; unionids: Record<string, string> }>(stack, 'GET', 'users?user=una');
    const caller = { type: 'miniprogram' as const, openid: view.openids[LOCAL_ACCOUNT.miniProgramAppId]!, appid: LOCAL_ACCOUNT.miniProgramAppId, unionid: view.unionids[LOCAL_OPEN_PLATFORM_ID]! };
    const { data } = await callFunction(stack, 'claimPageToken', { campaignId: 'browser-webview' }, caller);
    await asUser('una');
    await browser.page.goto(data.url);
    expect(await card()).toMatchObject({ state: 'ready' });
    expect(await jssdk(/^ready$/)).toBe('ready');
    await browser.screenshot('05-webview-ready');
    await browser.page.click('[data-test=claim]');
    await browser.page.waitForSelector('[data-test=card][data-state=paid]');
    expect(await browser.page.locator('[data-test=amount]').textContent()).toBe('1.88元');
    await browser.screenshot('06-webview-paid');
  });
});
