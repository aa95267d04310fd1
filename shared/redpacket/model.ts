/**
 * The stored shapes of red-packet campaigns, amount slots and claims (collections in
 * shared/store/port.ts COLLECTIONS). Money is whole fen everywhere; times are epoch ms.
 */
import type { StoredDoc } from '../store/port';

/** `miniprogram`: sendminiprogramhb, opened with wx.sendBizRedPacket. `cash`: sendredpack to the official-account openid. */
export type RedPacketKind = 'miniprogram' | 'cash';

/** How each packet's amount is decided: one fixed amount, or a pre-generated random split of the budget. */
export type AmountRule = { mode: 'fixed'; amountFen: number } | { mode: 'random'; minFen: number; maxFen: number };

/** A campaign as stored (`rp_campaigns`, `_id` = campaign id). Only the counters change after creation. */
export interface CampaignDoc extends StoredDoc {
  kind: RedPacketKind;
  sendName: string;
  wishing: string;
  actName: string;
  remark: string;
  /** PRODUCT_1…PRODUCT_8, or null (then every packet is 100–20000 fen). */
  sceneId: string | null;
  startsAtMs: number;
  endsAtMs: number;
  budgetFen: number;
  packetCount: number;
  amount: AmountRule;
  /** Client IP ranges allowed to claim (CIDR, v4 or v6); empty = anywhere. */
  allowedCidrs: string[];
  /** Claim calls one user may make per minute (all campaigns share the window per user). */
  userCallsPerMinute: number;
  /** Claims per second the campaign accepts from everyone together. */
  claimsPerSecond: number;
  /** Packets reserved so far; the next random slot is `<id>:<claimedCount>`. */
  claimedCount: number;
  claimedFen: number;
  createdAtMs: number;
}

/** One pre-generated amount (`rp_slots`, `_id` = `<campaignId>:<index>`), drawn in index order. */
export interface SlotDoc extends StoredDoc {
  campaignId: string;
  index: number;
  amountFen: number;
}

/**
 * RESERVED: amount and billno fixed, certainly nothing sent with this billno.
 * SENDING: a send with `mchBillno` may be in flight. UNKNOWN: a send happened and its outcome is
 * not settled (or was refused for now). SENT/RECEIVED: paid. FAILED: definitely not paid, final.
 */
export type ClaimStatus = 'RESERVED' | 'SENDING' | 'SENT' | 'RECEIVED' | 'FAILED' | 'UNKNOWN';

/** Claims the reconciler must settle. */
export const OPEN_CLAIM_STATUSES: readonly ClaimStatus[] = ['RESERVED', 'SENDING', 'UNKNOWN'];

/** One claim (`rp_claims`, `_id` = `<campaignId>:<userKey>`): the reservation and its payment state. */
export interface ClaimDoc extends StoredDoc {
  campaignId: string;
  /** unionid when known, else the mini-program openid. */
  userKey: string;
  kind: RedPacketKind;
  /** wxappid of the send. */
  appId: string;
  /** re_openid: the openid under `appId`. */
  openid: string;
  amountFen: number;
  /** The random slot drawn, or null for fixed amounts. */
  slotIndex: number | null;
  /** The texts as they were at reservation: every resend of a billno carries the same parameters. */
  sendName: string;
  wishing: string;
  actName: string;
  remark: string;
  sceneId: string | null;
  /** 1, then +1 only after WeChat said SEND_FAILED for the previous billno. */
  attempt: number;
  /** The billno of `attempt`; persisted before any send with it. */
  mchBillno: string;
  /** Every billno this claim has used, oldest first (all but the last definitely unpaid). */
  billnos: string[];
  status: ClaimStatus;
  /** Send requests made, all attempts together. */
  sendCount: number;
  sendListid: string | null;
  /** sendminiprogramhb's raw package (what the client needs to open the packet). */
  package: string | null;
  /** What gethbinfo said last (SENT, RECEIVED, REFUND…). */
  wechatStatus: string | null;
  /** The last err_code or transport reason, for operators. */
  lastError: string | null;
  /** Set when the outcome is final: the err_code that ended it. */
  failedErrCode: string | null;
  /** The reconciler leaves the claim alone before this. */
  nextAttemptAtMs: number;
  /** Who is driving the claim now; others leave it alone until `leaseUntilMs`. */
  leaseOwner: string | null;
  leaseUntilMs: number;
  createdAtMs: number;
  updatedAtMs: number;
  settledAtMs: number | null;
}

/** The claim's `_id`. */
export function claimIdOf(campaignId: string, userKey: string): string {
  return `${campaignId}:${userKey}`;
}

/** A slot's `_id`. */
export function slotIdOf(campaignId: string, index: number): string {
  return `${campaignId}:${index}`;
}
