/**
 * The operator's console in headless Chromium, on a local stack with real data: a campaign
 * created as the CLI creates it, packets claimed through the function host and paid by the Pay
 * sandbox, an open claim left by a Pay fault; a transfer campaign with one transfer confirmed and
 * paid and two waiting for their users; sandbox WeChat users following the local accounts through
 * a QR channel and the accounts' own channels. Each view, the changes (settle, pause, cancel a
 * transfer), the refusals without a session or CSRF token, and the lock-out. Screenshots go to
 * test/artifacts/browser/console/.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main as accountsCli } from '../../scripts/accounts';
import { LOCAL_OFFICIAL_ACCOUNTS } from '../../scripts/local/stack';
import { addOperator } from '../../shared/console/operators';
import { CONTENT_SECURITY_POLICY } from '../../shared/console/security';
import { SESSION_COOKIE } from '../../shared/console/sessions';
import { ADMIN, callFunction, sandbox, startTestStack, type Stack } from '../helpers/stack';
import { REFUSAL_MESSAGES } from '../../shared/claims/errors';
import { mchBillnoFor } from '../../shared/claims/payout/redpacket';
import { campaignDoc, claim, claimIdFor, claimsOf, mpUser, openCampaign, operatorStore, payControl } from '../integration/redpacket/support';
import { billsOf, openTransferCampaign, transferUser, userConfirms } from '../integration/transfer/support';
import { chromiumInstalled, CHROMIUM_PATH, launchChromium, type Browser } from './chromium';

/** The element's text once it is on the page (pages are server-rendered: no waiting for scripts). */
async function textOf(page: Browser['page'], selector: string): Promise<string> {
  const locator = page.locator(selector).first();
  await locator.waitFor({ state: 'attached', timeout: 10_000 });
  return (await locator.textContent())?.replace(/\s+/g, ' ').trim() ?? '';
}

/** The texts of the cells (or list items) of the first element matching `selector`, once it is on the page. */
async function cellsOf(page: Browser['page'], selector: string, cell = 'td'): Promise<string[]> {
  const locator = page.locator(selector).first();
  await locator.waitFor({ state: 'attached', timeout: 10_000 });
  return locator.locator(cell).evaluateAll((nodes) => nodes.map((node) => (node.textContent ?? '').replace(/\s+/g, ' ').trim()));
}

const SENDMINIPROGRAMHB = '/mmpaymkttransfers/sendminiprogramhb';
const OPERATOR = { name: 'ops-alice', password: 'correct horse battery staple' };
const [SERVICE, SUBSCRIPTION, QUIET] = LOCAL_OFFICIAL_ACCOUNTS.map((account) => account.appId) as [string, string, string];
const TRANSFERS = 'console-transfers';
const describeInBrowser = chromiumInstalled ? describe : describe.skip;
if (!chromiumInstalled) {
  // CI installs it (.ci/run): there a missing browser is a failure, not a skip.
  if (process.env.CI === 'true') throw new Error(`No Chromium at ${CHROMIUM_PATH} on CI: .ci/run should have installed it`);
  // A developer without it sees why these tests did not run.
  console.warn(`SKIPPED the console's browser tests: no Chromium at ${CHROMIUM_PATH} (apt-get install -y --no-install-recommends chromium)`);
}

describeInBrowser('the operator console in Chromium', () => {
  let stack: Stack;
  let browser: Browser;
  let base: string;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'console-browser-'));

  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 2 });
    base = `${stack.url}/console`;
    const store = operatorStore(stack);
    await addOperator(store, OPERATOR.name, OPERATOR.password, 'cli:test', Date.now());
    await openCampaign(stack, { id: 'console-spring', actName: '控制台测试', amount: { fixedFen: 150 }, budgetFen: 150 * 10 });
    for (const name of ['amy', 'ben', 'cai']) expect((await claim(stack, 'console-spring', mpUser(name))).ok).toBe(true);
    // One claim whose reply never arrives: it stays open for the reconciler, and the console offers "settle now".
    await payControl(stack, 'POST', 'faults', { path: SENDMINIPROGRAMHB, drop: true, accept: false, times: 20 });
    await claim(stack, 'console-spring', mpUser('dee'));
    await payControl(stack, 'DELETE', 'faults');
    // One paid packet whose package WeChat will not give back: HELD for the operator, with its reason.
    const held = mchBillnoFor(claimIdFor('console-spring', 'eve'), 1);
    await payControl(stack, 'POST', 'faults', { path: SENDMINIPROGRAMHB, mchBillno: held, accept: true, drop: true });
    await payControl(stack, 'POST', 'behaviour', { mchBillno: held, paidResend: 'SEND_FAILED' });
    expect(await claim(stack, 'console-spring', mpUser('eve'))).toEqual({ ok: false, error: { code: 'NOT_ELIGIBLE', message: REFUSAL_MESSAGES.held } });
    // Credentials in the cache, as the timers leave them.
    await callFunction(stack, 'getToken', {}, { type: 'admin' });
    // A transfer paid (the user confirmed; the reconciler's query settles it whether or not the notify came first), two waiting.
    await openTransferCampaign(stack, { id: TRANSFERS, budgetFen: 1_000, amount: { fixedFen: 100 } });
    const paid = await claim(stack, TRANSFERS, transferUser('tia').caller);
    expect(await userConfirms(stack, paid.data, transferUser('tia').openid)).toEqual({ errMsg: 'requestMerchantTransfer:ok' });
    await callFunction(stack, 'sendRedPacket', { action: 'reconcile', ignoreBackoff: true, claimId: claimIdFor(TRANSFERS, 'tia') }, ADMIN);
    for (const name of ['tom', 'tess']) expect((await claim(stack, TRANSFERS, transferUser(name).caller)).ok).toBe(true);
    // Follows, pushed by WeChat (the sandbox) to receivePush: two through a QR channel of the service account, one through its
    // own channel, one of a subscription account. Counting needs no channel document; the QR code must exist to be scanned.
    const out = path.join(tmp, 'poster.png');
    expect(await accountsCli(['--local', stack.url, 'qr', SERVICE, 'console-poster', '--out', out], () => undefined)).toBe(0);
    for (const [user, appid, scene] of [['fan-1', SERVICE, 'console-poster'], ['fan-2', SERVICE, 'console-poster'], ['fan-3', SERVICE, undefined], ['fan-1', SUBSCRIPTION, undefined]] as const) {
      expect(await sandbox(stack, 'POST', 'users/follow', { user, appid, ...(scene === undefined ? {} : { scene }) })).toMatchObject({ delivered: true, status: 200 });
    }
    browser = await launchChromium('console');
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('sends a visitor without a session to the sign-in page, which carries the security headers', async () => {
    const response = await browser.page.goto(`${base}/campaigns`);

    expect(new URL(browser.page.url()).pathname).toBe('/console/sign-in');
    expect(response?.headers()['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(response?.headers()['x-frame-options']).toBe('DENY');
    expect(response?.headers()['cache-control']).toBe('no-store');
    expect(await browser.page.locator('[data-test=sign-in]').isVisible()).toBe(true);
    await browser.screenshot('01-sign-in');
  });

  it('refuses a wrong password with one message that does not say whether the name exists', async () => {
    await browser.page.fill('input[name=name]', OPERATOR.name);
    await browser.page.fill('input[name=password]', 'not the password at all');
    await browser.page.click('[data-test=sign-in]');

    expect(await textOf(browser.page, '[data-test=problem]')).toBe('Wrong name or password.');
    await browser.screenshot('02-sign-in-refused');
  });

  it('signs in and lists every campaign with its window, budget and what is left', async () => {
    await browser.page.fill('input[name=name]', OPERATOR.name);
    await browser.page.fill('input[name=password]', OPERATOR.password);
    await browser.page.click('[data-test=sign-in]');

    expect(new URL(browser.page.url()).pathname).toBe('/console/campaigns');
    const row = await textOf(browser.page, 'tr[data-campaign=console-spring]');
    expect(row).toContain('open');
    expect(row).toContain('15.00');
    expect(row).toContain('5 / 10');
    const cookie = (await browser.context.cookies()).find((entry) => entry.name === SESSION_COOKIE);
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
    await browser.screenshot('03-campaigns');
  });

  it('shows a campaign: claims by state, the sum paid, the held claim with its reason, and the open one with settle-now', async () => {
    await browser.page.click('a[href="/console/campaigns/console-spring"]');

    expect(await textOf(browser.page, '[data-test=budget]')).toBe('15.00 元');
    expect(await textOf(browser.page, '[data-test=left]')).toContain('7.50 元 (5 of 10 packets)');
    expect(await textOf(browser.page, '[data-test=paid]')).toBe('4.50 元 in 3 packets');
    expect(await textOf(browser.page, '[data-test=by-state]')).toContain('SENT 3');
    expect(await textOf(browser.page, '[data-test=held] tr[data-claim]')).toContain('WeChat paid this packet');
    expect(await browser.page.locator('[data-test=held] [data-test=reissue]').count()).toBe(1);
    expect(await textOf(browser.page, '[data-test=refusals]')).toContain('held 1');
    expect(await textOf(browser.page, '[data-test=pay-errors]')).toContain('SEND_FAILED');
    const open = browser.page.locator('[data-test=open] tr[data-claim]');
    expect(await open.count()).toBe(1);
    await browser.screenshot('04-campaign');
  });

  it('settles the open claim now (audited): it is paid and leaves the open list', async () => {
    await browser.page.click('[data-test=open] [data-test=settle]');

    expect(await textOf(browser.page, '[data-test=notice]')).toContain('Settled');
    expect(await browser.page.locator('[data-test=open] tr[data-claim]').count()).toBe(0);
    expect(await textOf(browser.page, '[data-test=paid]')).toBe('6.00 元 in 4 packets');
    expect((await claimsOf(stack, 'console-spring')).find((doc) => doc._id === claimIdFor('console-spring', 'dee'))).toMatchObject({ status: 'SENT' });
  });

  it('pauses the campaign (audited): sendRedPacket then refuses new claims with the paused reason, and reserves nothing', async () => {
    await browser.page.click('[data-test=pause]');

    expect(await textOf(browser.page, '[data-test=notice]')).toContain('Paused');
    expect(await textOf(browser.page, '[data-test=state]')).toBe('paused');
    expect(await claim(stack, 'console-spring', mpUser('fay'))).toEqual({ ok: false, error: { code: 'NOT_ELIGIBLE', message: REFUSAL_MESSAGES.paused } });
    expect(await campaignDoc(stack, 'console-spring')).toMatchObject({ paused: true, pausedBy: OPERATOR.name, claimedCount: 5 });
    await browser.page.reload();
    expect(await textOf(browser.page, '[data-test=refusals]')).toContain('paused 1');
    await browser.page.goto(`${base}/audit`);
    expect(await textOf(browser.page, '[data-test=audit]')).toContain('campaign.pause');
    expect(await textOf(browser.page, '[data-test=audit]')).toContain('claim.settle');
    await browser.screenshot('05-paused-and-audited');
  });

  it('shows each account\'s credentials with version, age and next refresh', async () => {
    await browser.page.goto(`${base}/accounts`);

    expect(await textOf(browser.page, 'tr[data-kind=access_token]')).toContain('in 1 h');
    expect(await textOf(browser.page, 'tr[data-kind=access_token] td.num')).toBe('1');
  });

  it('lists every account of the registry with its kind, verification and mode, cached credentials or not, and no secret', async () => {
    const sections = await browser.page.locator('section[data-account]').evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-account')));

    expect(sections).toEqual([SERVICE, SUBSCRIPTION, QUIET]);
    expect(await cellsOf(browser.page, `[data-account=${SERVICE}] [data-test=facts]`, 'li')).toEqual(['service account (服务号)', 'verified', 'safe mode', 'the environment\'s account']);
    expect(await cellsOf(browser.page, `[data-account=${SUBSCRIPTION}] [data-test=facts]`, 'li')).toEqual(['subscription account (订阅号)', 'unverified', 'compatible mode']);
    expect(await textOf(browser.page, `[data-account=${QUIET}] [data-test=credentials]`)).toContain('No credentials cached yet');
    const page = await browser.page.content();
    for (const account of LOCAL_OFFICIAL_ACCOUNTS) for (const secret of [account.appSecret, account.pushToken, account.encodingAESKey]) expect(page).not.toContain(secret);
  });

  it('shows the follows per channel as totals and as a chart drawn with uPlot', async () => {
    // Channel, follows, first, returning, unfollows, net, scans.
    expect(await cellsOf(browser.page, `[data-account=${SERVICE}] tr[data-channel=console-poster]`)).toEqual(['console-poster', '2', '2', '0', '0', '2', '0']);
    expect(await cellsOf(browser.page, `[data-account=${SERVICE}] tr[data-channel=account]`)).toEqual(['account', '1', '1', '0', '0', '1', '0']);
    expect(await cellsOf(browser.page, `[data-account=${SERVICE}] [data-test=total]`)).toEqual(['all channels', '3', '3', '0', '0', '3', '0']);
    expect(await cellsOf(browser.page, `[data-account=${SUBSCRIPTION}] tr[data-channel=account]`)).toEqual(['account', '1', '1', '0', '0', '1', '0']);
    expect(await textOf(browser.page, `[data-account=${QUIET}] [data-test=follows]`)).toContain('No follows counted yet');

    const chart = browser.page.locator(`[data-chart="follows-${SERVICE}"]`);
    await chart.locator('canvas').waitFor({ state: 'attached', timeout: 10_000 });
    expect(await chart.getAttribute('data-drawn')).toBe('true');
    expect((await chart.locator('.u-legend').textContent())?.replace(/\s+/g, ' ')).toMatch(/account.*console-poster/);
    await browser.screenshot('06-accounts');
  });

  it('lists the paid packets and transfers, filters them, and exports them as CSV', async () => {
    await browser.page.goto(`${base}/ledger`);
    expect(await browser.page.locator('[data-test=ledger] tr[data-claim]').count()).toBe(5);
    expect(await textOf(browser.page, '[data-test=total]')).toContain('5 payment(s), 7.00 元');
    await browser.screenshot('07-ledger');

    await browser.page.selectOption('select[name=kind]', 'transfer');
    await browser.page.click('[data-test=filter] button[type=submit]');
    expect(await textOf(browser.page, '[data-test=total]')).toContain('1 payment(s), 1.00 元');
    const [paid] = (await claimsOf(stack, TRANSFERS)).filter((doc) => doc.status === 'RECEIVED');
    const [bill] = await billsOf(stack, paid!);
    expect(bill).toMatchObject({ state: 'SUCCESS', outBillNo: paid!.mchBillno, transferBillNo: paid!.sendListid });
    expect((await cellsOf(browser.page, `tr[data-claim="${paid!._id}"]`)).slice(1)).toEqual(['transfer', TRANSFERS, transferUser('tia').openid, '1.00', bill!.outBillNo, bill!.transferBillNo, 'SUCCESS']);
    const [transferCsv] = await Promise.all([browser.page.waitForEvent('download'), browser.page.click('[data-test=csv]')]);
    const transferLines = readFileSync((await transferCsv.path())!, 'utf8').replace(/^\uFEFF/, '').trim().split('\r\n');
    expect(transferLines).toHaveLength(2);
    expect(transferLines[1]).toContain(`"transfer","${TRANSFERS}","${paid!._id}","${transferUser('tia').openid}","wx10ca1000000000b2","1.00",100,"${bill!.outBillNo}","${bill!.transferBillNo}","SUCCESS"`);
    await browser.page.goto(`${base}/ledger?kind=redpacket`);
    expect(await textOf(browser.page, '[data-test=total]')).toContain('4 payment(s), 6.00 元');

    await browser.page.fill('input[name=campaign]', 'no-such-campaign');
    await browser.page.click('[data-test=filter] button[type=submit]');
    expect(await textOf(browser.page, '[data-test=total]')).toContain('0 payment(s)');

    await browser.page.goto(`${base}/ledger?campaign=console-spring`);
    const [download] = await Promise.all([browser.page.waitForEvent('download'), browser.page.click('[data-test=csv]')]);
    const csv = readFileSync((await download.path())!, 'utf8');
    const lines = csv.replace(/^\uFEFF/, '').trim().split('\r\n');
    expect(lines[0]).toBe('"paid_at_utc8","kind","campaign","claim","openid","appid","amount_yuan","amount_fen","bill_no","wechat_no","status"');
    expect(lines).toHaveLength(5);
    for (const line of lines.slice(1)) expect(line).toContain('"console-spring"');
  });

  it('shows a transfer campaign\'s waiting claims with their bill state and a cancel action', async () => {
    await browser.page.goto(`${base}/campaigns/${TRANSFERS}`);

    expect(await textOf(browser.page, '[data-test=paid]')).toBe('1.00 元 in 1 transfers');
    expect(await textOf(browser.page, '[data-test=by-state]')).toContain('WAITING 2');
    expect(await textOf(browser.page, '[data-test=by-state]')).toContain('RECEIVED 1');
    const waiting = browser.page.locator('[data-test=waiting] tr[data-claim]');
    expect(await waiting.count()).toBe(2);
    expect(await textOf(browser.page, `[data-test=waiting] tr[data-claim="${claimIdFor(TRANSFERS, 'tom')}"]`)).toContain('bill WAIT_USER_CONFIRM');
    expect(await browser.page.locator('[data-test=waiting] [data-test=cancel-transfer]').count()).toBe(2);
    await browser.screenshot('08-transfers-waiting');
  });

  it('cancels a waiting transfer through sendRedPacket (audited): the bill is CANCELLED, the claim ends, its amount goes back', async () => {
    const tom = claimIdFor(TRANSFERS, 'tom');
    await browser.page.click(`[data-test=waiting] tr[data-claim="${tom}"] [data-test=cancel-transfer]`);

    expect(await textOf(browser.page, '[data-test=notice]')).toContain('Cancel asked');
    expect(await browser.page.locator('[data-test=waiting] tr[data-claim]').count()).toBe(1);
    expect(await textOf(browser.page, `[data-test=failed] tr[data-claim="${tom}"]`)).toContain('CANCELLED');
    const doc = (await claimsOf(stack, TRANSFERS)).find((entry) => entry._id === tom)!;
    expect(doc).toMatchObject({ status: 'FAILED', failedErrCode: 'CANCELLED', returnedAtMs: expect.any(Number) });
    expect((await billsOf(stack, doc)).map((bill) => bill.state)).toEqual(['CANCELLED']);
    expect(await campaignDoc(stack, TRANSFERS)).toMatchObject({ claimedFen: 200, returnedAmountsFen: [100] });
    await browser.page.goto(`${base}/audit`);
    const [, actor, action, target, outcome, , detail] = await cellsOf(browser.page, '[data-test=audit] tbody tr');
    expect({ actor, action, target, outcome }).toEqual({ actor: OPERATOR.name, action: 'claim.cancel-transfer', target: tom, outcome: 'ok' });
    expect(detail).toContain('cancel=CANCELLED status=FAILED');
  });

  it('resumes the campaign: claims are taken again', async () => {
    await browser.page.goto(`${base}/campaigns/console-spring`);
    await browser.page.click('[data-test=resume]');

    expect(await textOf(browser.page, '[data-test=state]')).toBe('open');
    expect((await claim(stack, 'console-spring', mpUser('fay'))).ok).toBe(true);
  });

  describe('refusals', () => {
    let cookieHeader: string;
    beforeAll(async () => {
      const session = (await browser.context.cookies()).find((entry) => entry.name === SESSION_COOKIE)!;
      cookieHeader = `${SESSION_COOKIE}=${session.value}`;
    });

    it.each([
      { case: 'a data page', method: 'GET', path: '/ledger.csv' },
      { case: 'a change', method: 'POST', path: '/campaigns/console-spring/resume' },
    ])('answers $case without a session with 401 and no data', async ({ method, path }) => {
      const response = await fetch(`${base}${path}`, { method, redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, ...(method === 'POST' ? { body: 'csrf=x' } : {}) });

      expect(response.status).toBe(401);
      expect(await response.text()).not.toContain('console-spring');
    });

    it('refuses a change with the session but without its CSRF token, and changes nothing', async () => {
      const response = await fetch(`${base}/campaigns/console-spring/pause`, { method: 'POST', headers: { cookie: cookieHeader, 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=forged' });

      expect(response.status).toBe(403);
      await browser.page.goto(`${base}/campaigns/console-spring`);
      expect(await textOf(browser.page, '[data-test=state]')).toBe('open');
    });

    it('refuses to cancel a transfer without the CSRF token: the bill and the claim stay as they were', async () => {
      const tess = claimIdFor(TRANSFERS, 'tess');

      const response = await fetch(`${base}/claims/${encodeURIComponent(tess)}/cancel-transfer`, { method: 'POST', headers: { cookie: cookieHeader, 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=forged' });

      expect(response.status).toBe(403);
      const doc = (await claimsOf(stack, TRANSFERS)).find((entry) => entry._id === tess)!;
      expect(doc).toMatchObject({ status: 'WAITING', wechatStatus: 'WAIT_USER_CONFIRM' });
      expect((await billsOf(stack, doc)).map((bill) => bill.state)).toEqual(['WAIT_USER_CONFIRM']);
    });

    it('refuses a change posted from another site, even with the right token', async () => {
      await browser.page.goto(`${base}/campaigns/console-spring`);
      const csrf = await browser.page.locator('[data-test=summary] input[name=csrf]').inputValue();

      const response = await fetch(`${base}/campaigns/console-spring/pause`, {
        method: 'POST',
        headers: { cookie: cookieHeader, 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
        body: `csrf=${csrf}`,
      });

      expect(response.status).toBe(403);
      expect(await campaignDoc(stack, 'console-spring')).toMatchObject({ paused: false });
    });

    it('never treats a mini-program user as an operator', async () => {
      const answer = await callFunction(stack, 'opsConsole', { httpMethod: 'GET', path: '/console/campaigns', headers: { cookie: cookieHeader } }, mpUser('amy'));

      expect(answer).toEqual({ ok: false, error: { code: 'FORBIDDEN', message: expect.any(String) } });
    });

    it('locks a name out after five wrong passwords, then refuses even the right one', async () => {
      const locked = await launchChromium('console-lockout');
      try {
        await locked.page.goto(`${base}/sign-in`);
        for (let attempt = 1; attempt <= 5; attempt += 1) {
          await locked.page.fill('input[name=name]', OPERATOR.name);
          await locked.page.fill('input[name=password]', `wrong password ${attempt}`);
          await locked.page.click('[data-test=sign-in]');
          expect(await textOf(locked.page, '[data-test=problem]')).toBe(attempt < 5 ? 'Wrong name or password.' : 'Wrong name or password.');
        }
        await locked.page.fill('input[name=name]', OPERATOR.name);
        await locked.page.fill('input[name=password]', OPERATOR.password);
        await locked.page.click('[data-test=sign-in]');

        expect(await textOf(locked.page, '[data-test=problem]')).toContain('Too many sign-in attempts');
        expect(new URL(locked.page.url()).pathname).toBe('/console/sign-in');
        await locked.screenshot('09-locked-out');
      } finally {
        await locked.close();
      }
    });
  });
});
