/**
 * Merchant transfers end to end: the real sendRedPacket and payNotify bundles on the local stack,
 * the Pay sandbox's APIv3 playing WeChat (and its client endpoint playing the user's confirm page).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main as campaignCli } from '../../scripts/campaign';
import { REFUSAL_MESSAGES } from '../../shared/claims/errors';
import { mchBillnoFor } from '../../shared/claims/payout/redpacket';
import { LOCAL_ACCOUNT, startTestStack, type Stack } from '../helpers/stack';
import {
  billsOf, campaignDoc, claim, claimIdFor, claimsOf, expectTransfersPaidEqualsClaimed, flushNotifies, openTransferCampaign, payControl, settle,
  transferUser, transfers, userConfirms,
} from '../integration/transfer/support';

const DAY_MS = 86_400_000;
const CREATE = 'create';

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
});
