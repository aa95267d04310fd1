/**
 * Helpers for the red-packet tests that drive the local stack: campaigns written the way the
 * operator CLI writes them, callers, the Pay sandbox's control API, and the money invariants
 * checked against the sandbox's ledger.
 */
import { createCampaign } from '../../../scripts/campaign';
import type { PayLedgerEntry } from '../../../scripts/local/paysandbox';
import { claimIdOf, openidKey, readClaim, type CampaignDoc, type ClaimDoc, type ClaimKeyDoc } from '../../../shared/claims/model';
import { createNodeSdkStore } from '../../../shared/store/nodeSdk';
import { COLLECTIONS, type DocumentStore } from '../../../shared/store/port';
import { linkUser } from '../../../shared/users/links';
import { adminDb, callFunction, LOCAL_ACCOUNT, type Stack, type TestCaller } from '../../helpers/stack';

// node-sdk probes metadata.tencentyun.com before its first request unless told it runs in Tencent Cloud; tests stay on loopback.
process.env.TENCENTCLOUD = 'true';

/** The database as the operator CLI sees it. */
export function operatorStore(stack: Stack): DocumentStore {
  return createNodeSdkStore(adminDb(stack));
}

/** A campaign open now, with overridable fields (the CLI's validation applies). */
export async function openCampaign(stack: Stack, fields: Record<string, unknown>): Promise<CampaignDoc> {
  const nowMs = Date.now();
  return createCampaign(operatorStore(stack), {
    ...(fields.payout === undefined && fields.kind === undefined ? { payout: 'miniprogram' } : {}),
    sendName: '本地测试',
    wishing: '恭喜发财',
    actName: '新春红包',
    remark: 'e2e',
    startsAt: nowMs - 60_000,
    endsAt: nowMs + 3_600_000,
    budgetFen: 10_000,
    amount: { fixedFen: 100 },
    ...fields,
  });
}

/** A distinct openid per name (the separator keeps "a1" and "a10" apart), long enough for the sandbox to register. */
export function mpOpenid(name: string): string {
  return `oMP_${name}_`.padEnd(16, '0');
}

/** A mini-program user; openids look like WeChat's (the sandbox registers them on first use). */
export function mpUser(name: string, options: { unionid?: string; clientIp?: string } = {}): TestCaller {
  return { type: 'miniprogram', openid: mpOpenid(name), appid: LOCAL_ACCOUNT.miniProgramAppId, ...options };
}

/** The claim `name` makes on `campaignId` (a mini-program user: keyed by their mini-program openid). */
export function claimIdFor(campaignId: string, name: string): string {
  return claimIdOf(campaignId, openidKey(LOCAL_ACCOUNT.miniProgramAppId, mpOpenid(name)));
}

/** A user with a unionid and an official-account openid recorded in wx_user_links. */
export async function linkedCashUser(stack: Stack, name: string): Promise<{ caller: TestCaller; officialOpenid: string }> {
  const unionid = `uUNION_${name}`;
  const officialOpenid = `oOA_${name}_`.padEnd(16, '0');
  await linkUser(operatorStore(stack), { officialAppId: LOCAL_ACCOUNT.officialAppId, unionid, openid: officialOpenid, source: 'operator' });
  return { caller: mpUser(name, { unionid }), officialOpenid };
}

/** One claim call through POST /functions/sendRedPacket. */
export function claim(stack: Stack, campaignId: string, caller: TestCaller): Promise<any> {
  return callFunction(stack, 'sendRedPacket', { campaignId }, caller);
}

/** The Pay sandbox's control API under /__sandbox/pay/. */
export async function payControl<T = any>(stack: Stack, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${stack.url}/__sandbox/pay/${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const parsed = (await response.json()) as T;
  if (response.status >= 400) throw new Error(`${method} /__sandbox/pay/${path} answered ${response.status}: ${JSON.stringify(parsed)}`);
  return parsed;
}

export async function ledger(stack: Stack): Promise<PayLedgerEntry[]> {
  return (await payControl<{ packets: PayLedgerEntry[] }>(stack, 'GET', 'ledger')).packets;
}

export async function claimsOf(stack: Stack, campaignId: string): Promise<ClaimDoc[]> {
  return (await operatorStore(stack).find<ClaimDoc>(COLLECTIONS.redPacketClaims, { campaignId }, { limit: 1000 })).map(readClaim);
}

/** The other keys (unionid…) reserved for claims of a campaign. */
export async function claimKeysOf(stack: Stack, campaignId: string): Promise<string[]> {
  return (await operatorStore(stack).find<ClaimKeyDoc>(COLLECTIONS.redPacketClaimKeys, { campaignId }, { limit: 1000 })).map((doc) => doc.key);
}

export async function campaignDoc(stack: Stack, campaignId: string): Promise<CampaignDoc> {
  const campaign = await operatorStore(stack).get<CampaignDoc>(COLLECTIONS.redPacketCampaigns, campaignId);
  if (campaign === null) throw new Error(`no campaign ${campaignId}`);
  return campaign;
}

/**
 * The money invariants of one campaign against the sandbox ledger: every paid packet belongs to
 * exactly one claim and carries that claim's current billno, openid and amount; every paid claim
 * (SENT, RECEIVED, or HELD: paid but not deliverable) has exactly one packet; no claim is paid
 * under two billnos; nothing is still open.
 */
export async function expectPaidEqualsClaimed(stack: Stack, campaignId: string): Promise<{ paid: ClaimDoc[]; packets: PayLedgerEntry[] }> {
  const claims = await claimsOf(stack, campaignId);
  const byBillno = new Map<string, ClaimDoc>();
  for (const claim of claims) for (const billno of claim.billnos) byBillno.set(billno, claim);
  const packets = (await ledger(stack)).filter((packet) => byBillno.has(packet.mchBillno));
  expect(claims.filter((claim) => ['RESERVED', 'SENDING', 'UNKNOWN'].includes(claim.status)).map((claim) => claim._id)).toEqual([]);
  const paid = claims.filter((claim) => claim.status === 'SENT' || claim.status === 'RECEIVED' || claim.status === 'HELD');
  for (const claim of paid) {
    const own = packets.filter((packet) => byBillno.get(packet.mchBillno) === claim);
    expect(own.map((packet) => ({ billno: packet.mchBillno, openid: packet.openid, amountFen: packet.amountFen })))
      .toEqual([{ billno: claim.mchBillno, openid: claim.openid, amountFen: claim.amountFen }]);
  }
  const paidIds = new Set(paid.map((claim) => claim._id));
  expect(packets.filter((packet) => !paidIds.has(byBillno.get(packet.mchBillno)!._id))).toEqual([]);
  return { paid, packets };
}
