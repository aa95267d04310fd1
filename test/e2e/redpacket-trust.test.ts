/**
 * The claim path's promises under WeChat's real answers (issue 8 §1, §6), through the function
 * host: one person one packet whatever keys the platform gives, the time window decided in the
 * reservation, gethbinfo's appid as a setting, a paid packet without its package held for the
 * operator (and reissued once WeChat refunded it), campaigns stored before eligibility and payout
 * existed, and what a warm claim costs in database and Pay requests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { main as campaignCli } from '../../scripts/campaign';
import { REFUSAL_MESSAGES } from '../../shared/claims/errors';
import { claimIdOf, unionidKey } from '../../shared/claims/model';
import { mchBillnoFor } from '../../shared/claims/payout/redpacket';
import { COLLECTIONS } from '../../shared/store/port';
import { ADMIN, adminDb, callFunction, LOCAL_ACCOUNT, startTestStack, type Stack } from '../helpers/stack';
import {
  campaignDoc, claim, claimIdFor, claimKeysOf, claimsOf, expectPaidEqualsClaimed, ledger, mpOpenid, mpUser, openCampaign, operatorStore, payControl,
} from '../integration/redpacket/support';

const SENDMINIPROGRAMHB = '/mmpaymkttransfers/sendminiprogramhb';
const DAY_MS = 86_400_000;

async function databaseRequests(stack: Stack): Promise<number> {
  const response = await fetch(`${stack.url}/__local/stats`);
  return ((await response.json()) as { database: { total: number } }).database.total;
}

async function payCalls(stack: Stack): Promise<number> {
  const { calls } = await payControl<{ calls: Record<string, number> }>(stack, 'GET', 'stats');
  return Object.values(calls).reduce((sum, count) => sum + count, 0);
}

describe('the claim path under WeChat\'s real answers', () => {
  let stack: Stack;
  let dir: string;
  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 2, redPacket: { claimLeaseMs: 5_000, payTimeoutMs: 1_000 } });
    dir = mkdtempSync(path.join(os.tmpdir(), 'rp-trust-'));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await stack.close();
  });

  async function cli(...args: string[]): Promise<string> {
    const lines: string[] = [];
    const code = await campaignCli(['--local', stack.url, ...args], (line) => lines.push(line));
    expect(code).toBe(0);
    return lines.join('\n');
  }

  /** Lets the claim's lease run out (a user's drive ended with the claim open), then settles it now. */
  async function settle(claimId: string): Promise<any> {
    const [doc] = (await claimsOf(stack, claimId.split(':')[0]!)).filter((candidate) => candidate._id === claimId);
    await sleep(Math.max(0, (doc?.leaseUntilMs ?? 0) - Date.now() + 50));
    const report = await callFunction(stack, 'sendRedPacket', { action: 'reconcile', ignoreBackoff: true, claimId }, ADMIN);
    expect(report).toMatchObject({ ok: true });
    return report.data;
  }

  describe('one person, one packet, whatever keys the platform gives', () => {
    it.each([
      { case: 'before their mini-program is bound to an Open Platform account, then after', name: 'bind1', unionids: [undefined, 'uUNION_bind1'] },
      { case: 'with their unionid, then without it', name: 'bind2', unionids: ['uUNION_bind2', undefined] },
    ])('pays a user who claims $case once, and answers the same packet', async ({ name, unionids }) => {
      await openCampaign(stack, { id: `keys-${name}` });

      const answers = [];
      for (const unionid of unionids) answers.push(await claim(stack, `keys-${name}`, mpUser(name, unionid === undefined ? {} : { unionid })));

      expect(answers.map((answer) => answer.ok)).toEqual([true, true]);
      expect(answers[1].data.package).toBe(answers[0].data.package);
      const { packets } = await expectPaidEqualsClaimed(stack, `keys-${name}`);
      expect(packets.map((packet) => packet.openid)).toEqual([mpOpenid(name)]);
    });

    it('refuses a second packet to a person known by the same unionid under another openid', async () => {
      await openCampaign(stack, { id: 'keys-union' });
      await expect(claim(stack, 'keys-union', mpUser('twin-a', { unionid: 'uUNION_twin' }))).resolves.toMatchObject({ ok: true });

      const second = await claim(stack, 'keys-union', mpUser('twin-b', { unionid: 'uUNION_twin' }));

      expect(second).toEqual({ ok: false, error: { code: 'NOT_ELIGIBLE', message: REFUSAL_MESSAGES.already_claimed } });
      expect(await claimKeysOf(stack, 'keys-union')).toEqual([unionidKey('uUNION_twin')]);
      const { packets } = await expectPaidEqualsClaimed(stack, 'keys-union');
      expect(packets.map((packet) => packet.openid)).toEqual([mpOpenid('twin-a')]);
      expect(await campaignDoc(stack, 'keys-union')).toMatchObject({ claimedCount: 1 });
    });
  });

  describe('a claim still being sent', () => {
    it('is answered to its owner after the campaign sold out, on every instance', async () => {
      await openCampaign(stack, { id: 'last-packet', budgetFen: 100 });
      const billno = mchBillnoFor(claimIdFor('last-packet', 'last1'), 1);
      await payControl(stack, 'POST', 'faults', { path: SENDMINIPROGRAMHB, mchBillno: billno, errCode: 'SYSTEMERROR', times: 20 });
      await expect(claim(stack, 'last-packet', mpUser('last1'))).resolves.toMatchObject({ ok: false, error: { code: 'UPSTREAM_BUSY' } });
      await expect(claim(stack, 'last-packet', mpUser('latecomer'))).resolves.toEqual({ ok: false, error: { code: 'NOT_ELIGIBLE', message: REFUSAL_MESSAGES.sold_out } });

      // Concurrent calls reach both instances, one of which never saw this claim: none may say "sold out" to its owner.
      const again = await Promise.all(Array.from({ length: 4 }, () => claim(stack, 'last-packet', mpUser('last1'))));

      expect(again.map((answer) => `${answer.error.code} ${answer.error.message}`).filter((text) => !/^UPSTREAM_BUSY|already being sent/.test(text))).toEqual([]);
      await payControl(stack, 'DELETE', 'faults');
      await settle(claimIdFor('last-packet', 'last1'));
      await expect(claim(stack, 'last-packet', mpUser('last1'))).resolves.toMatchObject({ ok: true, data: { package: expect.any(String) } });
      await expectPaidEqualsClaimed(stack, 'last-packet');
    });
  });

  describe('the time window', () => {
    it('refuses a claim whose reservation would commit after the campaign ended', async () => {
      const endsAtMs = Date.now() + 900;
      await openCampaign(stack, { id: 'window-tx', startsAt: endsAtMs - 3_600_000, endsAt: endsAtMs });
      // Another writer holds the campaign document, so the claim's reservation retries until after the end.
      const lock = await adminDb(stack).startTransaction();
      await lock.collection(COLLECTIONS.redPacketCampaigns).doc('window-tx').update({ heldByTest: true });
      const pending = claim(stack, 'window-tx', mpUser('late-commit'));
      await sleep(Math.max(0, endsAtMs - Date.now() + 100));
      await lock.rollback();

      let answer = await pending;
      // Under load the reservation may give up first: the client comes back, and is refused for good.
      if (!answer.ok && answer.error.code === 'RATE_LIMITED') answer = await claim(stack, 'window-tx', mpUser('late-commit'));

      expect(answer).toEqual({ ok: false, error: { code: 'NOT_ELIGIBLE', message: REFUSAL_MESSAGES.ended } });
      expect(await campaignDoc(stack, 'window-tx')).toMatchObject({ claimedCount: 0 });
      await expect(claimsOf(stack, 'window-tx')).resolves.toEqual([]);
    });
  });

  describe("gethbinfo's appid (PAY_GETHBINFO_APPID)", () => {
    it('turns WeChat refusing the appid into an operator-facing error that names the setting, and never guesses', async () => {
      await openCampaign(stack, { id: 'hbinfo-appid' });
      const claimId = claimIdFor('hbinfo-appid', 'appid1');
      const billno = mchBillnoFor(claimId, 1);
      await payControl(stack, 'POST', 'faults', { path: SENDMINIPROGRAMHB, mchBillno: billno, accept: true, drop: true });
      // This WeChat wants the mini-program's appid; the default setting sends the official account's (the docs).
      await payControl(stack, 'POST', 'behaviour', { mchBillno: billno, queryAppids: 'miniProgram' });

      const answer = await claim(stack, 'hbinfo-appid', mpUser('appid1'));

      expect(answer).toMatchObject({ ok: false, error: { code: 'UPSTREAM_BUSY' } });
      const [doc] = await claimsOf(stack, 'hbinfo-appid');
      expect(doc).toMatchObject({ status: 'UNKNOWN', attempt: 1, billnoUncertain: true });
      expect(doc!.lastError).toMatch(/ILLEGAL_APPID for appid wx10ca1000000000a1 .*PAY_GETHBINFO_APPID=official; set PAY_GETHBINFO_APPID=miniprogram/);
      const report = await settle(claimId);
      expect(report.alerts).toEqual([expect.stringMatching(/^gethbinfo: ILLEGAL_APPID .*set PAY_GETHBINFO_APPID=miniprogram and redeploy$/)]);
      await expect(cli('settle', claimId)).resolves.toMatch(/Reconciler: examined 1, settled 0.*\n {2}needs you: gethbinfo: ILLEGAL_APPID .*PAY_GETHBINFO_APPID=miniprogram/);
      expect(stack.host.logs('sendRedPacket').map((line) => line.text).join('\n')).toMatch(/"level":"error".*PAY_GETHBINFO_APPID=miniprogram/);
      await expect(cli('show', 'hbinfo-appid')).resolves.toMatch(new RegExp(`open {5}${claimId} UNKNOWN billno ${billno} \\(attempt 1\\) uncertain since .*ILLEGAL_APPID`));
      expect(await ledger(stack)).toEqual(expect.arrayContaining([expect.objectContaining({ mchBillno: billno })]));
      expect((await claimsOf(stack, 'hbinfo-appid'))[0]).toMatchObject({ status: 'UNKNOWN', attempt: 1 });

      // The operator's fix (here: WeChat accepting the appid after all) lets the same billno settle.
      await payControl(stack, 'POST', 'behaviour', { mchBillno: billno, queryAppids: 'any' });
      await settle(claimId);
      await expectPaidEqualsClaimed(stack, 'hbinfo-appid');
    });
  });

  describe('a paid mini-program packet whose package WeChat will not give back', () => {
    it('is HELD for the operator with what happened, then reissued only after WeChat refunded it', async () => {
      await openCampaign(stack, { id: 'held', budgetFen: 1_000 });
      const claimId = claimIdFor('held', 'held1');
      const first = mchBillnoFor(claimId, 1);
      await payControl(stack, 'POST', 'faults', { path: SENDMINIPROGRAMHB, mchBillno: first, accept: true, drop: true });
      await payControl(stack, 'POST', 'behaviour', { mchBillno: first, paidResend: 'SEND_FAILED' });

      let answer = await claim(stack, 'held', mpUser('held1'));
      // On a loaded machine the user's drive may run out of its budget before the resend: the claim is
      // then reserved and being sent (UPSTREAM_BUSY), and the reconciler takes the same path to HELD.
      for (let run = 0; run < 5 && answer.error?.code === 'UPSTREAM_BUSY'; run += 1) {
        await settle(claimId);
        answer = await claim(stack, 'held', mpUser('held1'));
      }

      expect(answer).toEqual({ ok: false, error: { code: 'NOT_ELIGIBLE', message: REFUSAL_MESSAGES.held } });
      const [doc] = await claimsOf(stack, 'held');
      expect(doc).toMatchObject({ status: 'HELD', attempt: 1, billnos: [first], package: null });
      expect(doc!.heldReason).toMatch(/WeChat paid this packet \(gethbinfo SENT\) but answered SEND_FAILED .*cannot open it.*campaign\.ts reissue/);
      await expect(cli('show', 'held')).resolves.toMatch(new RegExp(`HELD {5}${claimId} billno ${first} \\(attempt 1\\): WeChat paid this packet`));
      // The reconciler leaves it alone: nothing more is sent.
      const sendsBefore = (await payControl(stack, 'GET', 'stats')).calls[SENDMINIPROGRAMHB];
      await callFunction(stack, 'sendRedPacket', { action: 'reconcile', ignoreBackoff: true }, ADMIN);
      expect((await payControl(stack, 'GET', 'stats')).calls[SENDMINIPROGRAMHB]).toBe(sendsBefore);

      // While the first packet could still be opened, a new one could pay twice: refused.
      await expect(cli('reissue', claimId)).rejects.toThrow(/gethbinfo says SENT .*can still be opened.*reissue after that/);
      await payControl(stack, 'POST', 'clock', { advanceMs: DAY_MS + 1_000 });
      await expect(cli('reissue', claimId)).resolves.toMatch(new RegExp(`Reissued ${claimId}: attempt 2, billno ${mchBillnoFor(claimId, 2)}`));

      const again = await claim(stack, 'held', mpUser('held1'));
      expect(again).toMatchObject({ ok: true });
      await expect(payControl(stack, 'POST', 'client/send-biz-red-packet', { appId: LOCAL_ACCOUNT.miniProgramAppId, ...again.data })).resolves.toEqual({ errMsg: 'sendBizRedPacket:ok' });
      const packets = (await ledger(stack)).filter((packet) => packet.openid === mpOpenid('held1'));
      expect(packets.map(({ mchBillno, status }) => ({ mchBillno, status }))).toEqual([
        { mchBillno: first, status: 'REFUND' },
        { mchBillno: mchBillnoFor(claimId, 2), status: 'RECEIVED' },
      ]);
    });
  });

  describe('a campaign stored before eligibility and payout existed', () => {
    it('is claimed as before, and finds the claims it made with the older keys', async () => {
      const nowMs = Date.now();
      const store = operatorStore(stack);
      await store.insert(COLLECTIONS.redPacketCampaigns, {
        _id: 'legacy', kind: 'miniprogram', sendName: '本地测试', wishing: '恭喜发财', actName: '旧活动', remark: 'r', sceneId: null,
        startsAtMs: nowMs - 60_000, endsAtMs: nowMs + 3_600_000, budgetFen: 1_000, packetCount: 10, amount: { mode: 'fixed', amountFen: 100 },
        allowedCidrs: [], userCallsPerMinute: 10, claimsPerSecond: 200, claimedCount: 0, claimedFen: 0, createdAtMs: nowMs - 60_000,
      });
      const fresh = await claim(stack, 'legacy', mpUser('legacy1'));
      expect(fresh).toMatchObject({ ok: true });
      // A claim the older version made for a unionid user: its answer comes back, nothing more is paid.
      const older = await claimsOf(stack, 'legacy');
      // Only the fields the older version wrote: no keys, eligibility, payout, uncertainty or call counting.
      const {
        _id: _ignored, keys: _keys, eligibility: _eligibility, payout: _payout, billnoUncertain: _uncertain, queryOnly: _queryOnly,
        uncertainSinceMs: _since, queryCount: _queries, heldReason: _held, callWindowStartMs: _window, callCount: _calls, ...rest
      } = older[0]!;
      await store.insert(COLLECTIONS.redPacketClaims, { ...rest, _id: claimIdOf('legacy', 'uUNION_legacy2'), kind: 'miniprogram', userKey: 'uUNION_legacy2', openid: mpOpenid('legacy2') });
      const callsBefore = await payCalls(stack);

      const repeat = await claim(stack, 'legacy', mpUser('legacy2', { unionid: 'uUNION_legacy2' }));

      expect(repeat).toMatchObject({ ok: true, data: { package: fresh.data.package } });
      await expect(claim(stack, 'legacy', mpUser('legacy2', { unionid: 'uUNION_legacy2' }))).resolves.toMatchObject({ ok: true });
      expect(await payCalls(stack)).toBe(callsBefore);
      await expect(cli('list')).resolves.toMatch(/^legacy\s+miniprogram\s+1\/10/m);
    });
  });
});

describe('what a warm claim costs (one instance, so it is warm)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 1, redPacket: { gethbinfoAppid: 'miniprogram' } });
    await openCampaign(stack, { id: 'cost', budgetFen: 10_000 });
    await expect(claim(stack, 'cost', mpUser('warmup'))).resolves.toMatchObject({ ok: true });
  });
  afterAll(() => stack.close());

  it.each([
    // start + campaign read + claim insert + campaign update + commit, pacing, the outcome: 7; the first send of a second also creates its pacing document.
    { case: 'without a unionid', caller: mpUser('cost1'), atMost: 8 },
    // … and the unionid's key document.
    { case: 'with a unionid', caller: mpUser('cost2', { unionid: 'uUNION_cost2' }), atMost: 9 },
  ])('makes at most $atMost database requests and one Pay request for a mini-program packet $case', async ({ caller, atMost }) => {
    const [requestsBefore, payBefore] = [await databaseRequests(stack), await payCalls(stack)];

    await expect(claim(stack, 'cost', caller)).resolves.toMatchObject({ ok: true });

    const requests = (await databaseRequests(stack)) - requestsBefore;
    expect(requests).toBeLessThanOrEqual(atMost);
    expect(requests).toBeGreaterThanOrEqual(atMost - 1);
    expect((await payCalls(stack)) - payBefore).toBe(1);
  });

  it('sends the mini-program\'s appid to gethbinfo with PAY_GETHBINFO_APPID=miniprogram', async () => {
    const billno = mchBillnoFor(claimIdFor('cost', 'appid2'), 1);
    await payControl(stack, 'POST', 'faults', { path: SENDMINIPROGRAMHB, mchBillno: billno, accept: true, drop: true });
    await payControl(stack, 'POST', 'behaviour', { mchBillno: billno, queryAppids: 'miniProgram' });

    await expect(claim(stack, 'cost', mpUser('appid2'))).resolves.toMatchObject({ ok: true, data: { package: expect.any(String) } });

    expect((await payControl(stack, 'GET', 'stats')).replies['/mmpaymkttransfers/gethbinfo']).toEqual({ SUCCESS: 1 });
  });
});
