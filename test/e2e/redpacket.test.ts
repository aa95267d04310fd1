import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main as campaignCli } from '../../scripts/campaign';
import { ensureTestCertificates } from '../../scripts/local/certs';
import { mchBillnoFor } from '../../shared/claims/payout/redpacket';
import { REFUSAL_MESSAGES } from '../../shared/claims/errors';
import { ADMIN, callFunction, FROM_FUNCTION, LOCAL_ACCOUNT, startTestStack, type Stack } from '../helpers/stack';
import {
  campaignDoc, claim, claimIdFor, claimsOf, expectPaidEqualsClaimed, ledger, linkedCashUser, mpOpenid, mpUser, openCampaign, payControl,
} from '../integration/redpacket/support';

const SENDMINIPROGRAMHB = '/mmpaymkttransfers/sendminiprogramhb';
const SENDREDPACK = '/mmpaymkttransfers/sendredpack';

describe('sendRedPacket through the function host', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 4 });
  });
  afterAll(() => stack.close());

  describe('mini-program packets', () => {
    it('returns exactly the wx.sendBizRedPacket arguments, which the client accepts, and pays the mini-program openid once', async () => {
      await openCampaign(stack, { id: 'mp-basic', amount: { fixedFen: 188 }, budgetFen: 188 * 5 });

      const result = await claim(stack, 'mp-basic', mpUser('alice'));

      expect(result).toEqual({
        ok: true,
        data: { timeStamp: expect.stringMatching(/^\d{10}$/), nonceStr: expect.any(String), package: expect.stringMatching(/^sendid%3D/), signType: 'MD5', paySign: expect.stringMatching(/^[0-9a-f]{32}$/) },
      });
      const opened = await payControl(stack, 'POST', 'client/send-biz-red-packet', { appId: LOCAL_ACCOUNT.miniProgramAppId, ...result.data });
      expect(opened).toEqual({ errMsg: 'sendBizRedPacket:ok' });
      const billno = mchBillnoFor(claimIdFor('mp-basic', 'alice'), 1);
      expect((await ledger(stack)).filter((packet) => packet.mchBillno === billno)).toEqual([
        expect.objectContaining({ kind: 'miniProgram', appid: LOCAL_ACCOUNT.miniProgramAppId, openid: mpOpenid('alice'), amountFen: 188, status: 'RECEIVED' }),
      ]);
      await expect(claimsOf(stack, 'mp-basic')).resolves.toEqual([
        expect.objectContaining({ status: 'SENT', mchBillno: billno, billnos: [billno], amountFen: 188, sendCount: 1 }),
      ]);
    });

    it('answers a repeated call with the same packet and pays nothing more', async () => {
      await openCampaign(stack, { id: 'mp-repeat' });
      const first = await claim(stack, 'mp-repeat', mpUser('bob'));
      const callsBefore = (await payControl(stack, 'GET', 'stats')).calls[SENDMINIPROGRAMHB];

      const second = await claim(stack, 'mp-repeat', mpUser('bob'));

      expect(second.data.package).toBe(first.data.package);
      expect((await payControl(stack, 'GET', 'stats')).calls[SENDMINIPROGRAMHB]).toBe(callsBefore);
      expect(await campaignDoc(stack, 'mp-repeat')).toMatchObject({ claimedCount: 1, claimedFen: 100 });
      await expectPaidEqualsClaimed(stack, 'mp-repeat');
    });

    it('draws pre-generated random amounts that spend exactly the budget, then refuses with sold_out', async () => {
      await openCampaign(stack, { id: 'mp-random', budgetFen: 1_000, amount: { minFen: 100, maxFen: 300, count: 6 } });

      const results = await Promise.all(Array.from({ length: 6 }, (unused, i) => claim(stack, 'mp-random', mpUser(`rand${i}`))));
      const late = await claim(stack, 'mp-random', mpUser('late'));

      expect(results.every((result) => result.ok)).toBe(true);
      expect(late).toEqual({ ok: false, error: { code: 'NOT_ELIGIBLE', message: REFUSAL_MESSAGES.sold_out } });
      const { packets } = await expectPaidEqualsClaimed(stack, 'mp-random');
      expect(packets).toHaveLength(6);
      expect(packets.reduce((sum, packet) => sum + packet.amountFen, 0)).toBe(1_000);
      for (const packet of packets) expect(packet.amountFen).toBeGreaterThanOrEqual(100);
      for (const packet of packets) expect(packet.amountFen).toBeLessThanOrEqual(300);
    });
  });

  describe('cash packets', () => {
    it('pays the official-account openid from the unionid link and returns the claim state', async () => {
      await openCampaign(stack, { id: 'cash-basic', kind: 'cash', amount: { fixedFen: 520 }, budgetFen: 5_200 });
      const { caller, officialOpenid } = await linkedCashUser(stack, 'carol');

      const result = await claim(stack, 'cash-basic', caller);

      expect(result).toEqual({ ok: true, data: { campaignId: 'cash-basic', kind: 'cash', status: 'SENT', amountFen: 520 } });
      const { packets } = await expectPaidEqualsClaimed(stack, 'cash-basic');
      expect(packets).toEqual([expect.objectContaining({ kind: 'cash', appid: LOCAL_ACCOUNT.officialAppId, openid: officialOpenid, amountFen: 520 })]);
    });

    it.each([
      // The user gets a plain sentence; the operator's advice (bind the accounts to one Open Platform account) stays in the logs.
      { case: 'a user without a unionid', id: 'cash-nounion', caller: mpUser('nounion'), message: /^This is not available for your WeChat account yet$/ },
      { case: 'a user whose unionid has no link', id: 'cash-nolink', caller: mpUser('nolink', { unionid: 'uUNION_nolink' }), message: /^Please follow the official account first/ },
    ])('refuses $case with a typed error in plain words, and reserves nothing', async ({ id, caller, message }) => {
      await openCampaign(stack, { id, kind: 'cash' });

      const result = await claim(stack, id, caller);

      expect(result).toEqual({ ok: false, error: { code: 'NOT_ELIGIBLE', message: expect.stringMatching(message) } });
      expect(await campaignDoc(stack, id)).toMatchObject({ claimedCount: 0 });
      await expect(claimsOf(stack, id)).resolves.toEqual([]);
    });
  });

  describe('eligibility', () => {
    beforeAll(async () => {
      const nowMs = Date.now();
      await openCampaign(stack, { id: 'later', startsAt: nowMs + 3_600_000, endsAt: nowMs + 7_200_000 });
      await openCampaign(stack, { id: 'over', startsAt: nowMs - 7_200_000, endsAt: nowMs + 1_000 });
      await openCampaign(stack, { id: 'regional', allowedCidrs: ['10.0.0.0/8', '2001:db8::/32'] });
      await openCampaign(stack, { id: 'limited', userCallsPerMinute: 2 });
    });

    it.each([
      { case: 'before the window', id: 'later', caller: mpUser('early'), error: { code: 'NOT_ELIGIBLE', message: REFUSAL_MESSAGES.not_started } },
      { case: 'a client IP outside the allow-list', id: 'regional', caller: mpUser('far', { clientIp: '192.168.1.9' }), error: { code: 'NOT_ELIGIBLE', message: REFUSAL_MESSAGES.region } },
      { case: 'another mini-program', id: 'regional', caller: { ...mpUser('other'), appid: 'wx10ca1000000000ff' }, error: { code: 'NOT_ELIGIBLE', message: REFUSAL_MESSAGES.wrong_app } },
      { case: 'an unknown campaign', id: 'no-such-campaign', caller: mpUser('lost'), error: { code: 'NOT_FOUND', message: 'No such campaign' } },
    ])('refuses $case', async ({ id, caller, error }) => {
      await expect(claim(stack, id, caller)).resolves.toEqual({ ok: false, error });
    });

    it('refuses after the window closes', async () => {
      const campaign = await campaignDoc(stack, 'over');
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, campaign.endsAtMs - Date.now() + 10)));
      await expect(claim(stack, 'over', mpUser('tardy'))).resolves.toEqual({ ok: false, error: { code: 'NOT_ELIGIBLE', message: REFUSAL_MESSAGES.ended } });
    });

    it('admits client IPs inside the allow-list, v4 and v6', async () => {
      await expect(claim(stack, 'regional', mpUser('near4', { clientIp: '10.1.2.3' }))).resolves.toMatchObject({ ok: true });
      await expect(claim(stack, 'regional', mpUser('near6', { clientIp: '2001:db8::7' }))).resolves.toMatchObject({ ok: true });
    });

    it('limits the calls of one user per minute', async () => {
      const user = mpUser('eager');
      await expect(claim(stack, 'limited', user)).resolves.toMatchObject({ ok: true });
      await expect(claim(stack, 'limited', user)).resolves.toMatchObject({ ok: true });
      await expect(claim(stack, 'limited', user)).resolves.toEqual({ ok: false, error: { code: 'RATE_LIMITED', message: 'Too many attempts, please wait a minute' } });
    });

    it.each([
      { case: 'an amount chosen by the client', data: { campaignId: 'regional', amountFen: 20_000 } },
      { case: 'an openid chosen by the client', data: { campaignId: 'regional', openid: 'oSomeoneElse0000' } },
      { case: 'no campaign id', data: {} },
      { case: 'a malformed campaign id', data: { campaignId: '../x' } },
    ])('answers $case with INVALID_INPUT', async ({ data }) => {
      await expect(callFunction(stack, 'sendRedPacket', data, mpUser('sly'))).resolves.toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
    });

    it('refuses other functions as callers', async () => {
      await expect(callFunction(stack, 'sendRedPacket', { campaignId: 'regional' }, FROM_FUNCTION)).resolves.toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    });
  });

  describe('final refusals by WeChat', () => {
    it.each([
      { case: 'NO_AUTH (risk control)', errCode: 'NO_AUTH', reason: 'risk_blocked' as const },
      { case: 'SENDNUM_LIMIT (the user\'s daily count)', errCode: 'SENDNUM_LIMIT', reason: 'user_daily_limit' as const },
      { case: 'SENDAMOUNT_LIMIT (the merchant\'s daily cap)', errCode: 'SENDAMOUNT_LIMIT', reason: 'merchant_limit' as const },
    ])('fails the claim for good on $case with a clear client error and pays nothing', async ({ errCode, reason }) => {
      const id = `final-${errCode.toLowerCase().replaceAll('_', '-')}`;
      await openCampaign(stack, { id, kind: 'cash' });
      const { caller } = await linkedCashUser(stack, `final${errCode.slice(0, 6)}`);
      const billno = mchBillnoFor(claimIdFor(id, `final${errCode.slice(0, 6)}`), 1);
      await payControl(stack, 'POST', 'faults', { path: SENDREDPACK, mchBillno: billno, errCode });

      await expect(claim(stack, id, caller)).resolves.toEqual({ ok: false, error: { code: 'NOT_ELIGIBLE', message: REFUSAL_MESSAGES[reason] } });
      await expect(claim(stack, id, caller)).resolves.toEqual({ ok: false, error: { code: 'NOT_ELIGIBLE', message: REFUSAL_MESSAGES[reason] } });

      await expect(claimsOf(stack, id)).resolves.toEqual([expect.objectContaining({ status: 'FAILED', failedErrCode: errCode, sendCount: 1 })]);
      expect((await ledger(stack)).filter((packet) => packet.mchBillno === billno)).toEqual([]);
    });
  });

  describe('the reconciler', () => {
    it('runs on its timer and reports what it did', async () => {
      const result = await callFunction(stack, 'sendRedPacket', undefined, { type: 'timer', trigger: 'reconcileClaims' });
      expect(result).toEqual({ ok: true, data: { examined: 0, settled: 0, skipped: 0, stillOpen: 0, uncertainForLong: 0, sweptCounters: expect.any(Number), alerts: [] } });
    });

    it('takes an admin\'s settle-now request and refuses unknown fields', async () => {
      await expect(callFunction(stack, 'sendRedPacket', { action: 'reconcile', ignoreBackoff: true }, ADMIN)).resolves.toMatchObject({ ok: true, data: { examined: 0 } });
      await expect(callFunction(stack, 'sendRedPacket', { action: 'reconcile', force: 1 }, ADMIN)).resolves.toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
    });
  });

  describe('the operator CLI (scripts/campaign.ts --local)', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'rp-cli-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    async function cli(...args: string[]): Promise<{ code: number; output: string }> {
      const lines: string[] = [];
      const code = await campaignCli(['--local', stack.url, ...args], (line) => lines.push(line));
      return { code, output: lines.join('\n') };
    }

    it('creates, lists and shows a campaign, and refuses to create it twice', async () => {
      const file = path.join(dir, 'cli.json');
      const nowMs = Date.now();
      writeFileSync(file, JSON.stringify({
        id: 'cli-made', kind: 'cash', sendName: '某某商城', wishing: '新年快乐', actName: '新春红包', remark: 'r',
        startsAt: nowMs - 1_000, endsAt: nowMs + 86_400_000, budgetFen: 1_000, amount: { minFen: 100, maxFen: 500, count: 4 },
      }));

      await expect(cli('create', file)).resolves.toEqual({ code: 0, output: expect.stringContaining('cash packets for miniprogram users, 4 × random 1.00 元–5.00 元, budget 10.00 元') });
      await expect(cli('list')).resolves.toEqual({ code: 0, output: expect.stringMatching(/^cli-made\s+cash\s+0\/4\s+0\.00 元 of 10\.00 元/m) });
      await expect(cli('show', 'cli-made')).resolves.toEqual({ code: 0, output: expect.stringContaining('claims   RESERVED 0, SENDING 0, UNKNOWN 0, HELD 0, SENT 0, RECEIVED 0, FAILED 0') });
      await expect(cli('create', file)).rejects.toThrow('Campaign cli-made exists already');
    });

    it('refuses an invalid campaign file before writing anything', async () => {
      const file = path.join(dir, 'bad.json');
      writeFileSync(file, JSON.stringify({ id: 'cli-bad', kind: 'cash', budgetFen: 1_000, amount: { fixedFen: 30 } }));
      await expect(cli('create', file)).rejects.toThrow(/Invalid campaign:[\s\S]*sendName is required[\s\S]*fixedFen must be within 100–20000 fen/);
      await expect(cli('show', 'cli-bad')).rejects.toThrow('No campaign cli-bad');
    });

    it('stores a merchant certificate only after checking it loads', async () => {
      const certs = await ensureTestCertificates(path.join(os.tmpdir(), 'wx-local-stack-certs'), { mchId: LOCAL_ACCOUNT.mchId });
      const p12 = path.join(dir, 'apiclient_cert.p12');
      writeFileSync(p12, Buffer.from(certs.merchantP12Base64, 'base64'));

      await expect(cli('cert', '--p12', p12, '--passphrase', 'wrong')).rejects.toThrow(/wrong p12 passphrase/);
      await expect(cli('cert', '--p12', p12)).resolves.toEqual({ code: 0, output: expect.stringContaining(`Stored the merchant certificate for ${LOCAL_ACCOUNT.mchId}`) });
    });
  });

  it('never writes the API key, the certificate or a package to a log line', async () => {
    const logs = stack.host.logs('sendRedPacket').map((line) => line.text).join('\n');
    const packages = (await claimsOf(stack, 'mp-basic')).map((doc) => doc.package ?? '');
    expect(logs).toContain('red packet reserved');
    for (const secret of [LOCAL_ACCOUNT.payApiKey, ...packages]) expect(logs).not.toContain(secret);
    expect(logs).not.toMatch(/BEGIN (?:CERTIFICATE|PRIVATE KEY)|MII[A-Za-z0-9+/]{40}/);
  });
});

describe('sendRedPacket with the merchant certificate as a PEM pair', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 1, redPacket: { certificate: 'pem' } });
  });
  afterAll(() => stack.close());

  it('pays over mutual TLS with the PEM certificate and key', async () => {
    await openCampaign(stack, { id: 'pem-cash', kind: 'cash' });
    const { caller } = await linkedCashUser(stack, 'pemuser');
    await expect(claim(stack, 'pem-cash', caller)).resolves.toMatchObject({ ok: true, data: { status: 'SENT' } });
    await expectPaidEqualsClaimed(stack, 'pem-cash');
  });
});
