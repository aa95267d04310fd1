/**
 * Helpers for the transfer tests on the local stack: transfer campaigns written as the operator
 * CLI writes them, the Pay sandbox's APIv3 control API (bills, the user's confirm page, notifies),
 * and the money invariants checked against the sandbox's bills.
 */
import { createCampaign } from '../../../scripts/campaign';
import type { TransferView } from '../../../scripts/local/paysandbox/v3';
import type { CampaignDoc, ClaimDoc } from '../../../shared/claims/model';
import { ADMIN, callFunction, LOCAL_ACCOUNT, type Stack, type TestCaller } from '../../helpers/stack';
import { campaignDoc, claimsOf, mpOpenid, operatorStore, payControl } from '../redpacket/support';

export { campaignDoc, claim, claimIdFor, claimsOf, mpOpenid, mpUser, operatorStore, payControl } from '../redpacket/support';

/** A scene-1000 transfer campaign open now, with overridable fields (the CLI's validation applies). */
export async function openTransferCampaign(stack: Stack, fields: Record<string, unknown>): Promise<CampaignDoc> {
  const nowMs = Date.now();
  return createCampaign(operatorStore(stack), {
    payout: 'transfer',
    transferRemark: '新会员有礼',
    reportInfos: { 活动名称: '新会员有礼', 奖励说明: '注册会员抽奖一等奖' },
    userRecvPerception: '现金奖励',
    startsAt: nowMs - 60_000,
    endsAt: nowMs + 3_600_000,
    budgetFen: 1_000,
    amount: { fixedFen: 100 },
    ...fields,
  });
}

/** Every bill the Pay sandbox holds. */
export async function transfers(stack: Stack): Promise<TransferView[]> {
  return (await payControl<{ transfers: TransferView[] }>(stack, 'GET', 'transfers')).transfers;
}

/** The sandbox's bills of one claim's numbers. */
export async function billsOf(stack: Stack, claim: Pick<ClaimDoc, 'billnos'>): Promise<TransferView[]> {
  return (await transfers(stack)).filter((bill) => claim.billnos.includes(bill.outBillNo));
}

/** The user plays wx.requestMerchantTransfer with what the claim answered, then every due notify is delivered. */
export async function userConfirms(
  stack: Stack,
  args: { mchId: string; appId: string; package: string },
  openid: string,
  action: 'confirm' | 'cancel' = 'confirm',
): Promise<{ errMsg: string }> {
  const shown = await payControl<{ errMsg: string }>(stack, 'POST', 'client/request-merchant-transfer', { ...args, openid, action });
  await flushNotifies(stack);
  return shown;
}

/** Sends every notify that is due and waits for payNotify's answers. */
export async function flushNotifies(stack: Stack): Promise<Array<{ id: string; outBillNo: string; state: string; delivered: boolean; attempts: Array<{ status: number | null; replay: boolean }> }>> {
  return (await payControl(stack, 'POST', 'transfers/notifies/flush')).notifies;
}

/** The reconciler, as the operator's `settle` runs it (back-off ignored). */
export async function settle(stack: Stack): Promise<Record<string, unknown>> {
  const result = await callFunction(stack, 'sendRedPacket', { action: 'reconcile', ignoreBackoff: true }, ADMIN);
  if (!result.ok) throw new Error(`reconcile failed: ${JSON.stringify(result)}`);
  return result.data;
}

/** A mini-program user of the local mini-program, and their openid. */
export function transferUser(name: string): { caller: TestCaller; openid: string } {
  return { caller: { type: 'miniprogram', openid: mpOpenid(name), appid: LOCAL_ACCOUNT.miniProgramAppId }, openid: mpOpenid(name) };
}

/**
 * The money invariants of a transfer campaign against the sandbox's bills: nothing is left open;
 * every claim used one out_bill_no, and the sandbox holds at most one bill under it; a RECEIVED
 * claim's bill is SUCCESS with its amount, payee and app; every other bill of the campaign ended
 * unpaid (FAIL or CANCELLED) and its claim is FAILED with its amount given back; what the campaign
 * holds (claimedFen) is exactly what was paid.
 */
export async function expectTransfersPaidEqualsClaimed(stack: Stack, campaignId: string): Promise<{ paid: ClaimDoc[]; closed: ClaimDoc[]; bills: TransferView[] }> {
  const claims = await claimsOf(stack, campaignId);
  const byBillno = new Map<string, ClaimDoc>();
  for (const claim of claims) for (const billno of claim.billnos) byBillno.set(billno, claim);
  const bills = (await transfers(stack)).filter((bill) => byBillno.has(bill.outBillNo));
  expect(claims.filter((claim) => !['RECEIVED', 'FAILED'].includes(claim.status)).map((claim) => `${claim._id} ${claim.status}`)).toEqual([]);
  expect(claims.filter((claim) => claim.billnos.length !== 1).map((claim) => claim._id)).toEqual([]);
  const paid = claims.filter((claim) => claim.status === 'RECEIVED');
  const closed = claims.filter((claim) => claim.status === 'FAILED');
  for (const claim of paid) {
    expect(bills.filter((bill) => bill.outBillNo === claim.mchBillno).map((bill) => ({ state: bill.state, amountFen: bill.amountFen, openid: bill.openid, appid: bill.appid })))
      .toEqual([{ state: 'SUCCESS', amountFen: claim.amountFen, openid: claim.openid, appid: claim.appId }]);
  }
  for (const claim of closed) {
    expect(claim.returnedAtMs).not.toBeNull();
    expect(bills.filter((bill) => bill.outBillNo === claim.mchBillno).map((bill) => bill.state).filter((state) => state !== 'FAIL' && state !== 'CANCELLED')).toEqual([]);
  }
  const paidFen = paid.reduce((sum, claim) => sum + claim.amountFen, 0);
  expect(bills.filter((bill) => bill.state === 'SUCCESS').reduce((sum, bill) => sum + bill.amountFen, 0)).toBe(paidFen);
  expect((await campaignDoc(stack, campaignId)).claimedFen).toBe(paidFen);
  return { paid, closed, bills };
}
