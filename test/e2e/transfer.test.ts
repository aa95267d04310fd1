/**
 * Merchant transfers end to end: the real sendRedPacket and payNotify bundles on the local stack,
 * the Pay sandbox's APIv3 playing WeChat (and its client endpoint playing the user's confirm page).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main as campaignCli } from '../../scripts/campaign';
import { ensurePayV3TestKeys, ensureTestCertificates } from '../../scripts/local/certs';
import { REFUSAL_MESSAGES } from '../../shared/claims/errors';
import { mchBillnoFor } from '../../shared/claims/payout/redpacket';
import { encryptAeadAesGcm, payV3MessageBytes, rsaSha256Sign } from '../../shared/signing/pay-v3';
import { LOCAL_ACCOUNT, startTestStack, type Stack } from '../helpers/stack';
import {
  billsOf, campaignDoc, claim, claimIdFor, claimsOf, expectTransfersPaidEqualsClaimed, flushNotifies, openTransferCampaign, payControl, settle,
  transferUser, transfers, userConfirms,
} from '../integration/transfer/support';

const DAY_MS = 86_400_000;
// Where a stack with its data in memory keeps the Pay sandbox's test keys (scripts/local/stack.ts).
const CERTS_DIR = path.join(os.tmpdir(), 'wx-local-stack-certs');

async function cliOn(stack: Stack, ...args: string[]): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const code = await campaignCli(['--local', stack.url, ...args], (line) => lines.push(line));
  return { code, output: lines.join('\n') };
}

/** POST /pay/notify as WeChat Pay would, with these headers and this body. */
async function postNotify(stack: Stack, headers: Record<string, string>, body: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${stack.url}/pay/notify`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await response.text();
  return { status: response.status, body: text === '' ? '' : JSON.parse(text) };
}

/**
 * A MCHTRANSFER.BILL.FINISHED notify signed with the sandbox's WeChat Pay key and encrypted with the
 * merchant's APIv3 key: as genuine as WeChat's, saying whatever `bill` says.
 */
async function craftedNotify(bill: Record<string, unknown>, options: { timestampSec?: number } = {}): Promise<{ headers: Record<string, string>; body: string }> {
  const wechat = await ensurePayV3TestKeys(CERTS_DIR);
  const nonce = 'CraftedNonce';
  const body = JSON.stringify({
    id: randomUUID(),
    create_time: '2026-07-01T10:00:00+08:00',
    resource_type: 'encrypt-resource',
    event_type: 'MCHTRANSFER.BILL.FINISHED',
    summary: '商家转账单据终态通知',
    resource: {
      original_type: 'mch_payment',
      algorithm: 'AEAD_AES_256_GCM',
      ciphertext: encryptAeadAesGcm({ key: LOCAL_ACCOUNT.payApiV3Key, nonce, associatedData: 'mch_payment', plaintext: JSON.stringify({ mch_id: LOCAL_ACCOUNT.mchId, ...bill }) }),
      associated_data: 'mch_payment',
      nonce,
    },
  });
  const timestamp = String(options.timestampSec ?? Math.floor(Date.now() / 1000));
  const signatureNonce = randomUUID().replaceAll('-', '');
  return {
    headers: {
      'wechatpay-timestamp': timestamp,
      'wechatpay-nonce': signatureNonce,
      'wechatpay-serial': wechat.publicKeyId,
      'wechatpay-signature': rsaSha256Sign(payV3MessageBytes(timestamp, signatureNonce, body), wechat.privateKeyPem),
      'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
    },
    body,
  };
}

describe('transfers through the function host', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 2, payTransfers: { tickMs: 0 } });
  });
  afterAll(() => stack.close());

  const creates = async (): Promise<number> => (await payControl(stack, 'GET', 'transfers/stats')).calls.create ?? 0;

  it('answers exactly wx.requestMerchantTransfer\'s arguments for a bill to the mini-program openid, and SUCCESS once the user confirms', async () => {
    await openTransferCampaign(stack, { id: 'tr-basic', amount: { fixedFen: 188 }, budgetFen: 188 * 3 });
    const alice = transferUser('alice');

    const result = await claim(stack, 'tr-basic', alice.caller);

    expect(result).toEqual({ ok: true, data: { mchId: LOCAL_ACCOUNT.mchId, appId: LOCAL_ACCOUNT.miniProgramAppId, package: expect.any(String) } });
    const [waiting] = await claimsOf(stack, 'tr-basic');
    expect(waiting).toMatchObject({ status: 'WAITING', wechatStatus: 'WAIT_USER_CONFIRM', payout: 'transfer', amountFen: 188, package: result.data.package });
    expect(await billsOf(stack, waiting!)).toEqual([expect.objectContaining({
      outBillNo: mchBillnoFor(claimIdFor('tr-basic', 'alice'), 1), appid: LOCAL_ACCOUNT.miniProgramAppId, openid: alice.openid, amountFen: 188,
      state: 'WAIT_USER_CONFIRM', sceneId: '1000', remark: '新会员有礼', packageInfo: result.data.package,
    })]);
    // What was sent is what the reservation persisted, byte for byte.
    expect(JSON.parse(waiting!.billBody!)).toEqual({
      appid: LOCAL_ACCOUNT.miniProgramAppId, out_bill_no: waiting!.mchBillno, transfer_scene_id: '1000', openid: alice.openid, transfer_amount: 188,
      transfer_remark: '新会员有礼', notify_url: `https://127.0.0.1:${stack.port}/pay/notify`, user_recv_perception: '现金奖励',
      transfer_scene_report_infos: [{ info_type: '活动名称', info_content: '新会员有礼' }, { info_type: '奖励说明', info_content: '注册会员抽奖一等奖' }],
    });

    await expect(userConfirms(stack, result.data, alice.openid)).resolves.toEqual({ errMsg: 'requestMerchantTransfer:ok' });

    expect((await claimsOf(stack, 'tr-basic'))[0]).toMatchObject({ status: 'RECEIVED', wechatStatus: 'SUCCESS' });
    await expect(claim(stack, 'tr-basic', alice.caller)).resolves.toEqual({
      ok: false, error: { code: 'NOT_ELIGIBLE', message: REFUSAL_MESSAGES.transfer_received, reason: 'TRANSFER_RECEIVED' },
    });
    await expectTransfersPaidEqualsClaimed(stack, 'tr-basic');
  });

  it('answers a repeated call with the same bill\'s package while it waits, and creates nothing more', async () => {
    await openTransferCampaign(stack, { id: 'tr-repeat' });
    const bob = transferUser('bob');
    const first = await claim(stack, 'tr-repeat', bob.caller);
    const before = await creates();

    const again = await claim(stack, 'tr-repeat', bob.caller);

    expect(again).toEqual(first);
    expect(await creates()).toBe(before);
    expect(await campaignDoc(stack, 'tr-repeat')).toMatchObject({ claimedCount: 1, claimedFen: 100 });
  });

  it('tells a user who closed the confirm page that the same transfer still waits for them', async () => {
    await openTransferCampaign(stack, { id: 'tr-closed-page' });
    const carol = transferUser('carol');
    const first = await claim(stack, 'tr-closed-page', carol.caller);

    await expect(userConfirms(stack, first.data, carol.openid, 'cancel')).resolves.toEqual({ errMsg: 'requestMerchantTransfer:fail cancel' });
    const again = await claim(stack, 'tr-closed-page', carol.caller);
    await expect(userConfirms(stack, again.data, carol.openid)).resolves.toEqual({ errMsg: 'requestMerchantTransfer:ok' });

    expect(again.data.package).toBe(first.data.package);
    await expectTransfersPaidEqualsClaimed(stack, 'tr-closed-page');
    expect((await claimsOf(stack, 'tr-closed-page'))[0]).toMatchObject({ status: 'RECEIVED' });
  });

  describe('the notify', () => {
    it('refuses a forged notify with 401 and WeChat\'s FAIL body, changing nothing', async () => {
      await openTransferCampaign(stack, { id: 'tr-forged' });
      const dave = transferUser('dave');
      const claimed = await claim(stack, 'tr-forged', dave.caller);
      const [before] = await claimsOf(stack, 'tr-forged');
      const genuine = await craftedNotify({ out_bill_no: before!.mchBillno, transfer_bill_no: before!.sendListid, state: 'SUCCESS', transfer_amount: 100, openid: dave.openid });

      const forged = await postNotify(stack, { ...genuine.headers, 'wechatpay-signature': Buffer.alloc(256, 7).toString('base64') }, genuine.body);
      const altered = await postNotify(stack, genuine.headers, genuine.body.replace('"summary"', ' "summary"'));
      const unsigned = await postNotify(stack, {}, genuine.body);

      for (const answer of [forged, altered, unsigned]) expect(answer).toEqual({ status: 401, body: { code: 'FAIL', message: 'Unauthorized' } });
      expect((await claimsOf(stack, 'tr-forged'))[0]).toEqual(before);
      // The bill itself is untouched too: the user can still confirm it.
      await expect(userConfirms(stack, claimed.data, dave.openid)).resolves.toEqual({ errMsg: 'requestMerchantTransfer:ok' });
    });

    it('refuses a notify stamped more than 5 minutes ago, even with a valid signature', async () => {
      await openTransferCampaign(stack, { id: 'tr-stale' });
      const erin = transferUser('erin');
      await claim(stack, 'tr-stale', erin.caller);
      const [before] = await claimsOf(stack, 'tr-stale');
      const stale = await craftedNotify(
        { out_bill_no: before!.mchBillno, transfer_bill_no: before!.sendListid, state: 'SUCCESS', transfer_amount: 100, openid: erin.openid },
        { timestampSec: Math.floor(Date.now() / 1000) - 301 },
      );

      await expect(postNotify(stack, stale.headers, stale.body)).resolves.toEqual({ status: 401, body: { code: 'FAIL', message: 'Unauthorized' } });
      expect((await claimsOf(stack, 'tr-stale'))[0]).toEqual(before);
    });

    it.each([
      { case: 'another amount', bill: (billno: string, openid: string) => ({ out_bill_no: billno, state: 'SUCCESS', transfer_amount: 10_000, openid }) },
      { case: 'another payee', bill: (billno: string) => ({ out_bill_no: billno, state: 'SUCCESS', transfer_amount: 100, openid: 'oSomebodyElse_0000000001' }) },
      { case: 'a bill no claim holds', bill: (_billno: string, openid: string) => ({ out_bill_no: 'NOBODYSBILL0001', state: 'SUCCESS', transfer_amount: 100, openid }) },
    ])('refuses a genuinely signed notify about $case with a FAIL answer, recording nothing', async ({ bill }) => {
      const id = `tr-cross-${randomUUID().slice(0, 8)}`;
      await openTransferCampaign(stack, { id });
      const frank = transferUser(`frank-${id}`);
      await claim(stack, id, frank.caller);
      const [before] = await claimsOf(stack, id);
      const notify = await craftedNotify({ transfer_bill_no: before!.sendListid, ...bill(before!.mchBillno, frank.openid) });

      const answer = await postNotify(stack, notify.headers, notify.body);

      expect(answer).toEqual({ status: expect.any(Number), body: { code: 'FAIL', message: expect.any(String) } });
      expect([400, 404]).toContain(answer.status);
      expect((await claimsOf(stack, id))[0]).toEqual(before);
    });

    it('records a notify once: a replay of it and a duplicate delivery are acknowledged and change nothing', async () => {
      await openTransferCampaign(stack, { id: 'tr-replay' });
      const gina = transferUser('gina');
      const claimed = await claim(stack, 'tr-replay', gina.caller);
      const [waiting] = await claimsOf(stack, 'tr-replay');
      await payControl(stack, 'POST', 'transfers/notify-faults', { outBillNo: waiting!.mchBillno, duplicate: true });

      await userConfirms(stack, claimed.data, gina.openid);
      const [received] = await claimsOf(stack, 'tr-replay');
      const notify = (await flushNotifies(stack)).find((entry) => entry.outBillNo === waiting!.mchBillno)!;
      const replayed = await payControl(stack, 'POST', 'transfers/notifies/replay', { id: notify.id });

      expect(received).toMatchObject({ status: 'RECEIVED', wechatStatus: 'SUCCESS', sendListid: waiting!.sendListid });
      expect(notify.attempts.map((attempt) => attempt.status)).toEqual([200, 200]);
      expect(replayed).toMatchObject({ status: 200, replay: true });
      expect((await claimsOf(stack, 'tr-replay'))[0]).toEqual(received);
      await expectTransfersPaidEqualsClaimed(stack, 'tr-replay');
    });
  });

  describe('the operator', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'tr-cli-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('creates and shows a transfer campaign with the CLI, and refuses one that breaks the scene\'s rules, naming every problem', async () => {
      const file = path.join(dir, 'transfer.json');
      const nowMs = Date.now();
      const good = {
        id: 'tr-cli', payout: 'transfer', transferRemark: '新春有礼', reportInfos: { 活动名称: '新春活动', 奖励说明: '每人一份' },
        startsAt: nowMs - 1_000, endsAt: nowMs + DAY_MS, budgetFen: 1_000, amount: { fixedFen: 50 },
      };
      writeFileSync(file, JSON.stringify(good));
      await expect(cliOn(stack, 'create', file)).resolves.toEqual({ code: 0, output: expect.stringContaining('transfers for miniprogram users, 20 × fixed 0.50 元, budget 10.00 元') });
      await expect(cliOn(stack, 'show', 'tr-cli')).resolves.toEqual({ code: 0, output: expect.stringContaining('tr-cli: transfers for miniprogram users, fixed 0.50 元, scene 1000, "新春有礼"') });

      const bad = path.join(dir, 'bad.json');
      writeFileSync(bad, JSON.stringify({
        ...good, id: 'tr-cli-bad', transferRemark: '奖'.repeat(33), reportInfos: { 活动名称: '新春活动' }, userRecvPerception: '红包', amount: { fixedFen: 5 }, budgetFen: 50,
      }));
      await expect(cliOn(stack, 'create', bad)).rejects.toThrow(new RegExp([
        'transferRemark must be at most 32 characters',
        'reportInfos of scene 1000 \\(现金营销\\) must be exactly 活动名称, 奖励说明; missing 奖励说明',
        'userRecvPerception of scene 1000 must be one of 现金奖励, 活动奖励',
        'amount.fixedFen must be within 10–20000 fen',
      ].join('[\\s\\S]*')));
      await expect(cliOn(stack, 'show', 'tr-cli-bad')).rejects.toThrow('No campaign tr-cli-bad');
    });

    it('cancels a waiting transfer: CANCELLED, the claim ends and its amount goes back to the campaign', async () => {
      await openTransferCampaign(stack, { id: 'tr-cancel', budgetFen: 100 });
      const hank = transferUser('hank');
      const claimed = await claim(stack, 'tr-cancel', hank.caller);
      const claimId = claimIdFor('tr-cancel', 'hank');

      const cancelled = await cliOn(stack, 'cancel-transfer', claimId);

      expect(cancelled).toEqual({ code: 0, output: `Cancel of ${claimId}: WeChat answered CANCELLED; the bill is CANCELLED, so the claim is FAILED (it ended unpaid and its amount is back in the campaign).` });
      expect((await claimsOf(stack, 'tr-cancel'))[0]).toMatchObject({ status: 'FAILED', failedErrCode: 'CANCELLED', returnedAtMs: expect.any(Number) });
      expect(await campaignDoc(stack, 'tr-cancel')).toMatchObject({ claimedCount: 1, claimedFen: 0, returnedAmountsFen: [100] });
      await expect(userConfirms(stack, claimed.data, hank.openid)).resolves.toEqual({ errMsg: 'requestMerchantTransfer:fail package invalid or expired' });
      await expect(claim(stack, 'tr-cancel', hank.caller)).resolves.toEqual({
        ok: false, error: { code: 'NOT_ELIGIBLE', message: REFUSAL_MESSAGES.transfer_cancelled, reason: 'TRANSFER_CANCELLED' },
      });
      // The amount given back is someone else's now, with a bill of their own.
      const ivy = transferUser('ivy');
      await expect(claim(stack, 'tr-cancel', ivy.caller)).resolves.toMatchObject({ ok: true, data: { package: expect.any(String) } });
      expect(await campaignDoc(stack, 'tr-cancel')).toMatchObject({ claimedCount: 1, claimedFen: 100, returnedAmountsFen: [] });
      await expect(claim(stack, 'tr-cancel', transferUser('jack').caller)).resolves.toMatchObject({ ok: false, error: { message: REFUSAL_MESSAGES.sold_out } });
    });

    it('cannot cancel a transfer the user confirmed: WeChat refuses, and the claim goes on to RECEIVED', async () => {
      await openTransferCampaign(stack, { id: 'tr-cancel-late' });
      const kim = transferUser('kim');
      const claimed = await claim(stack, 'tr-cancel-late', kim.caller);
      // The user confirms; the notify is lost, so the claim still reads WAITING when the operator cancels.
      const [waiting] = await claimsOf(stack, 'tr-cancel-late');
      await payControl(stack, 'POST', 'transfers/notify-faults', { outBillNo: waiting!.mchBillno, lose: true });
      await userConfirms(stack, claimed.data, kim.openid);

      const cancelled = await cliOn(stack, 'cancel-transfer', waiting!._id);

      expect(cancelled.output).toMatch(/WeChat answered cancel INVALID_REQUEST; the bill is SUCCESS, so the claim is RECEIVED/);
      await expectTransfersPaidEqualsClaimed(stack, 'tr-cancel-late');
    });

    it('refuses to cancel what is not a waiting transfer', async () => {
      await expect(cliOn(stack, 'cancel-transfer', claimIdFor('tr-basic', 'alice'))).rejects.toThrow(/is RECEIVED; only a transfer waiting for its user \(WAITING\) can be cancelled/);
    });
  });

  it('never writes a key, a package or a signature to a log line', async () => {
    const certs = await ensureTestCertificates(CERTS_DIR, { mchId: LOCAL_ACCOUNT.mchId });
    const logs = [...stack.host.logs('sendRedPacket'), ...stack.host.logs('payNotify')].map((line) => line.text).join('\n');
    const packages = (await claimsOf(stack, 'tr-basic')).map((doc) => doc.package ?? '');
    expect(logs).toContain('red packet reserved');
    for (const secret of [LOCAL_ACCOUNT.payApiV3Key, certs.merchantKeyPem.split('\n')[1]!, ...packages]) expect(logs).not.toContain(secret);
    expect(logs).not.toMatch(/BEGIN (?:CERTIFICATE|PRIVATE KEY|PUBLIC KEY)|wechatpay-signature/i);
  });
});

describe('a user who never confirms', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 2, payTransfers: { tickMs: 0 } });
  });
  afterAll(() => stack.close());

  it('is settled by the reconciler once WeChat closes the bill (FAIL OVERDUE_CLOSE), and the amount goes to the next claimant', async () => {
    await openTransferCampaign(stack, { id: 'tr-never', budgetFen: 200, amount: { fixedFen: 100 } });
    const [liam, mia] = [transferUser('liam'), transferUser('mia')];
    const liamClaim = await claim(stack, 'tr-never', liam.caller);
    await claim(stack, 'tr-never', mia.caller);
    const claimsBefore = await claimsOf(stack, 'tr-never');
    // Liam's notify is lost (delivery is not guaranteed): only the reconciler can learn his bill closed.
    await payControl(stack, 'POST', 'transfers/notify-faults', { outBillNo: claimsBefore.find((doc) => doc.openid === liam.openid)!.mchBillno, lose: true });

    await payControl(stack, 'POST', 'clock', { advanceMs: DAY_MS - 60_000 });
    await settle(stack);
    expect((await claimsOf(stack, 'tr-never')).map((doc) => doc.status)).toEqual(['WAITING', 'WAITING']);
    await payControl(stack, 'POST', 'clock', { advanceMs: 61_000 });
    await flushNotifies(stack);
    const afterNotify = await claimsOf(stack, 'tr-never');
    const report = await settle(stack);

    // Mia's close came by notify; Liam's by the reconciler's query.
    expect(afterNotify.find((doc) => doc.openid === mia.openid)).toMatchObject({ status: 'FAILED', failedErrCode: 'OVERDUE_CLOSE' });
    expect(afterNotify.find((doc) => doc.openid === liam.openid)).toMatchObject({ status: 'WAITING' });
    expect(report).toMatchObject({ examined: 1, settled: 1 });
    expect((await claimsOf(stack, 'tr-never')).find((doc) => doc.openid === liam.openid)).toMatchObject({ status: 'FAILED', failedErrCode: 'OVERDUE_CLOSE', returnedAtMs: expect.any(Number) });
    expect(await campaignDoc(stack, 'tr-never')).toMatchObject({ claimedCount: 2, claimedFen: 0, returnedAmountsFen: [100, 100] });
    await expect(userConfirms(stack, liamClaim.data, liam.openid)).resolves.toEqual({ errMsg: 'requestMerchantTransfer:fail package invalid or expired' });
    await expect(claim(stack, 'tr-never', liam.caller)).resolves.toEqual({
      ok: false, error: { code: 'NOT_ELIGIBLE', message: REFUSAL_MESSAGES.transfer_expired, reason: 'TRANSFER_EXPIRED' },
    });

    // Two newcomers get the two amounts given back; a third finds the campaign sold out.
    const nora = transferUser('nora');
    const noraClaim = await claim(stack, 'tr-never', nora.caller);
    await expect(claim(stack, 'tr-never', transferUser('otto').caller)).resolves.toMatchObject({ ok: true });
    await expect(claim(stack, 'tr-never', transferUser('pia').caller)).resolves.toMatchObject({ ok: false, error: { message: REFUSAL_MESSAGES.sold_out } });
    await userConfirms(stack, noraClaim.data, nora.openid);
    await payControl(stack, 'POST', 'clock', { advanceMs: DAY_MS + 60_000 });
    await flushNotifies(stack);
    await settle(stack);
    const { paid, closed } = await expectTransfersPaidEqualsClaimed(stack, 'tr-never');
    expect(paid.map((doc) => doc.openid)).toEqual([nora.openid]);
    expect(closed).toHaveLength(3);
    expect(await campaignDoc(stack, 'tr-never')).toMatchObject({ claimedFen: 100, returnedAmountsFen: [100] });
  });
});

describe('bills that take time: ACCEPTED, PROCESSING, TRANSFERING and CANCELING', () => {
  const STEP_MS = 30_000;
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({
      instancesPerFunction: 2,
      // A short lease keeps the user's drive short: the states move on the sandbox clock, not while the user waits.
      redPacket: { claimLeaseMs: 5_000 },
      payTransfers: { tickMs: 0, acceptedMs: STEP_MS, processingMs: STEP_MS, transferingMs: STEP_MS, cancelingMs: STEP_MS },
    });
  });
  afterAll(() => stack.close());

  const advance = (advanceMs: number) => payControl(stack, 'POST', 'clock', { advanceMs });
  const stateOf = async (campaignId: string) => {
    const [doc] = await claimsOf(stack, campaignId);
    return { status: doc!.status, bill: doc!.wechatStatus, hasPackage: doc!.package !== null };
  };

  it('tells the user to come back while the bill is accepted, then hands out the package the identical create returns once it waits', async () => {
    await openTransferCampaign(stack, { id: 'slow-pay' });
    const quinn = transferUser('quinn');

    const early = await claim(stack, 'slow-pay', quinn.caller);
    const seen = [await stateOf('slow-pay')];
    await advance(STEP_MS);
    await settle(stack);
    seen.push(await stateOf('slow-pay'));
    await advance(STEP_MS);
    await settle(stack);
    seen.push(await stateOf('slow-pay'));
    const ready = await claim(stack, 'slow-pay', quinn.caller);
    await userConfirms(stack, ready.data, quinn.openid);
    await settle(stack);
    seen.push(await stateOf('slow-pay'));
    const whileTransfering = await claim(stack, 'slow-pay', quinn.caller);
    await advance(STEP_MS);
    await flushNotifies(stack);
    seen.push(await stateOf('slow-pay'));

    expect(early).toMatchObject({ ok: false, error: { code: 'UPSTREAM_BUSY' } });
    expect(seen).toEqual([
      { status: 'WAITING', bill: 'ACCEPTED', hasPackage: false },
      { status: 'WAITING', bill: 'PROCESSING', hasPackage: false },
      { status: 'WAITING', bill: 'WAIT_USER_CONFIRM', hasPackage: true },
      { status: 'WAITING', bill: 'TRANSFERING', hasPackage: true },
      { status: 'RECEIVED', bill: 'SUCCESS', hasPackage: true },
    ]);
    expect(ready).toEqual({ ok: true, data: { mchId: LOCAL_ACCOUNT.mchId, appId: LOCAL_ACCOUNT.miniProgramAppId, package: expect.any(String) } });
    // While the money moves the confirm page may be reopened: the same package.
    expect(whileTransfering).toEqual(ready);
    // Every create of the claim sent the same bytes: one bill, however many sends.
    expect((await transfers(stack)).filter((bill) => bill.openid === quinn.openid)).toHaveLength(1);
    expect((await payControl(stack, 'GET', 'transfers/stats')).calls.create).toBeGreaterThan(1);
    await expectTransfersPaidEqualsClaimed(stack, 'slow-pay');
  });

  it('watches a cancel WeChat accepted (CANCELING) until CANCELLED, then gives the amount back', async () => {
    await openTransferCampaign(stack, { id: 'slow-cancel' });
    const rosa = transferUser('rosa');
    await claim(stack, 'slow-cancel', rosa.caller);
    await advance(2 * STEP_MS);
    await settle(stack);
    const claimId = claimIdFor('slow-cancel', 'rosa');

    const cancelled = await cliOn(stack, 'cancel-transfer', claimId);
    const canceling = await stateOf('slow-cancel');
    await advance(STEP_MS);
    await flushNotifies(stack);

    expect(cancelled.output).toContain('WeChat answered CANCELING; the bill is CANCELING, so the claim is WAITING (it is still open: the reconciler follows the bill to its end)');
    expect(canceling).toEqual({ status: 'WAITING', bill: 'CANCELING', hasPackage: true });
    expect((await claimsOf(stack, 'slow-cancel'))[0]).toMatchObject({ status: 'FAILED', failedErrCode: 'CANCELLED' });
    expect(await campaignDoc(stack, 'slow-cancel')).toMatchObject({ claimedFen: 0, returnedAmountsFen: [100] });
  });
});

describe('APIv3 keys stored in the database with the CLI', () => {
  let stack: Stack;
  let dir: string;
  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 1, payTransfers: { tickMs: 0 }, transfer: { keys: 'database' } });
    dir = mkdtempSync(path.join(os.tmpdir(), 'tr-keys-'));
  });
  afterAll(async () => {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses claims before the keys exist (reserving nothing), refuses keys that do not fit, then pays with the stored ones', async () => {
    const certs = await ensureTestCertificates(CERTS_DIR, { mchId: LOCAL_ACCOUNT.mchId });
    const wechat = await ensurePayV3TestKeys(CERTS_DIR);
    const files = { key: path.join(dir, 'apiclient_key.pem'), cert: path.join(dir, 'apiclient_cert.pem'), pub: path.join(dir, 'pub_key.pem') };
    writeFileSync(files.key, certs.merchantKeyPem);
    writeFileSync(files.cert, certs.merchantCertPem);
    writeFileSync(files.pub, wechat.publicKeyPem);
    await openTransferCampaign(stack, { id: 'db-keys' });
    const sam = transferUser('sam');

    await expect(claim(stack, 'db-keys', sam.caller)).resolves.toMatchObject({ ok: false, error: { code: 'CONFIG_INVALID' } });
    expect(await claimsOf(stack, 'db-keys')).toEqual([]);
    process.env.TEST_PAY_V3_API_KEY = LOCAL_ACCOUNT.payApiV3Key;
    try {
      // WeChat's public key given as the merchant certificate's key: refused before anything is written.
      await expect(cliOn(stack, 'v3-keys', '--key', files.key, '--cert', files.cert, '--public-key', files.cert, '--public-key-id', wechat.publicKeyId, '--api-v3-key-env', 'TEST_PAY_V3_API_KEY'))
        .rejects.toThrow(/holds a certificate: a platform certificate goes in/);
      await expect(cliOn(stack, 'v3-keys', '--key', files.key, '--cert', files.cert, '--public-key', files.pub, '--public-key-id', wechat.publicKeyId, '--api-v3-key-env', 'NO_SUCH_VARIABLE'))
        .rejects.toThrow(/Set NO_SUCH_VARIABLE \(the APIv3 key/);
      const stored = await cliOn(stack, 'v3-keys', '--key', files.key, '--cert', files.cert, '--public-key', files.pub, '--public-key-id', wechat.publicKeyId, '--api-v3-key-env', 'TEST_PAY_V3_API_KEY');
      expect(stored).toEqual({ code: 0, output: expect.stringContaining(`Stored the APIv3 keys for ${LOCAL_ACCOUNT.mchId} in pay_v3_keys`) });
      expect(stored.output).not.toContain(LOCAL_ACCOUNT.payApiV3Key);
    } finally {
      delete process.env.TEST_PAY_V3_API_KEY;
    }

    const claimed = await claim(stack, 'db-keys', sam.caller);
    await userConfirms(stack, claimed.data, sam.openid);

    expect(claimed).toMatchObject({ ok: true, data: { package: expect.any(String) } });
    // payNotify verified and decrypted the notify with the stored keys too.
    expect((await claimsOf(stack, 'db-keys'))[0]).toMatchObject({ status: 'RECEIVED' });
    expect((await flushNotifies(stack)).map((notify) => notify.attempts.map((attempt) => attempt.status))).toEqual([[200]]);
  });
});

describe('what a warm transfer claim costs (one instance, so it is warm)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 1, payTransfers: { tickMs: 0 } });
    await openTransferCampaign(stack, { id: 'tr-cost' });
    await expect(claim(stack, 'tr-cost', transferUser('warmup').caller)).resolves.toMatchObject({ ok: true });
  });
  afterAll(() => stack.close());

  const database = async (): Promise<{ total: number; byAction: Record<string, number> }> => ((await (await fetch(`${stack.url}/__local/stats`)).json()) as { database: { total: number; byAction: Record<string, number> } }).database;
  const databaseRequests = async (): Promise<number> => (await database()).total;
  const updates = async (): Promise<number> => (await database()).byAction['database.modifyDocument'] ?? 0;
  const payRequests = async (): Promise<number> => Object.values((await payControl(stack, 'GET', 'transfers/stats')).calls as Record<string, number>).reduce((sum, count) => sum + count, 0);

  it('makes the 7 database requests a packet makes (8 for the first create of a second) and one create; a repeat call 2 and none', async () => {
    const user = transferUser('cost1');
    const [requestsBefore, payBefore, updatesBefore] = [await databaseRequests(), await payRequests(), await updates()];

    await expect(claim(stack, 'tr-cost', user.caller)).resolves.toMatchObject({ ok: true });
    const requests = (await databaseRequests()) - requestsBefore;
    // The campaign's counters (in the transaction), the pacing increment, and the outcome, which also gives the lease back (no write of its own).
    const updatesMade = (await updates()) - updatesBefore;
    const creates = (await payRequests()) - payBefore;
    await expect(claim(stack, 'tr-cost', user.caller)).resolves.toMatchObject({ ok: true });

    // start + campaign read + claim insert (with its body) + campaign update + commit, pacing, the outcome (which gives the lease back).
    expect(requests).toBeGreaterThanOrEqual(7);
    expect(requests).toBeLessThanOrEqual(8);
    expect(creates).toBe(1);
    expect(updatesMade).toBe(3);
    // The claim read and its call count; the waiting bill's package is answered without asking WeChat.
    expect((await databaseRequests()) - requestsBefore - requests).toBe(2);
    expect((await payRequests()) - payBefore).toBe(1);
  });
});
