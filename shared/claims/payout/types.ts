/**
 * A payout: how a claim is paid. The claim engine (../engine.ts) owns the claim's states, the
 * reservation, the bill number's persistence, pacing, leases and the reconciler; a payout owns
 * what differs per WeChat API — the bill number's format, the campaign fields it needs, the send
 * and query calls, how each of WeChat's answers maps onto the engine's {@link Outcome}s (a policy
 * table like shared/pay/policy.ts, never a chain of ifs), and what the client gets back.
 *
 * A new payout (the Pay v3 merchant transfer, with its ACCEPTED … SUCCESS/FAIL/CANCELLED states
 * and its ≤32-character out_bill_no) is one file exporting a {@link PayoutModule}, plus its line
 * in ./index.ts.
 */
import type { Logger } from '../../log';
import type { RedPacketPayClient } from '../../pay/redpacket';
import type { RefusalReason } from '../errors';
import type { CampaignDoc, ClaimDoc, PayoutName } from '../model';

/**
 * What WeChat's answer to a send or a query means for the claim. The engine turns it into the
 * next state, and applies the rule payouts cannot see: a failure answered for a bill number that
 * may already have been paid proves nothing.
 */
export const Outcome = {
  /** Paid and delivered (a packet issued, a transfer waiting for the user to confirm). */
  PAID: 'paid',
  /** The user has it (packet opened, transfer credited). */
  RECEIVED: 'received',
  /** Paid, then returned to the merchant (an unopened packet after 24 h). Settled as paid. */
  REFUNDED: 'refunded',
  /** WeChat said this bill number failed: a new one is allowed (a send's answer counts only for a number never uncertain). */
  NOT_PAID: 'not_paid',
  /** Not paid, and never will be for this person (daily limits, risk control). */
  FINAL: 'final',
  /** Refused before anything happened (rate, balance, our configuration): the same number later. */
  REFUSED: 'refused',
  /** May or may not have been paid (no reply, SYSTEMERROR, an unknown code): ask before sending again. */
  UNKNOWN: 'unknown',
  /** Accepted, not settled yet: ask again later. */
  IN_PROGRESS: 'in_progress',
  /** A query found no bill: not yet visible, or never received. Never proof of "not paid". */
  NOT_FOUND: 'not_found',
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/** One answer (or its absence), as the engine sees it. */
export interface PayoutReply {
  outcome: Outcome;
  /** WeChat's code verbatim (err_code, status) or the transport reason: for logs, lastError and operators. */
  code: string;
  /** How long to wait before the next step; 0 = at once. */
  retryAfterMs: number;
  /** The answer says nothing about the bill (no reply, busy, too fast): it neither settles nor contradicts anything. */
  transient: boolean;
  /** The operator must act (certificate, appid, a setting): logged as an error, shown by `campaign.ts show`. */
  alert?: string;
  /** PAID/RECEIVED/REFUNDED: what WeChat returned about the bill. */
  receipt?: { orderId?: string; package?: string; wechatStatus?: string };
}

/** The settings every payout may read. */
export interface PayoutSettings {
  /** The official account (cash packets are paid under it). */
  officialAppId: string;
  /** The mini-program (mini-program packets are paid under it). */
  miniProgramAppId: string;
  /** The APIv2 key: the wx.sendBizRedPacket paySign. */
  apiKey: string;
  /** sendredpack's client_ip. */
  clientIp: string;
  /** gethbinfo's appid for mini-program packets (PAY_GETHBINFO_APPID): the official account's (the docs) or the mini-program's (peers). */
  miniProgramQueryAppId: { mode: 'official' | 'miniprogram'; appId: string };
}

/** What a payout's runtime half is built from (one per instance). */
export interface PayoutContext {
  settings: PayoutSettings;
  log: Logger;
  /** The Pay v2 red-packet calls. */
  redPackets: RedPacketPayClient;
}

/** The stored campaign fields a payout adds, and the amount range it allows. */
export interface PayoutCampaignPlan {
  fields: Record<string, unknown>;
  minAmountFen: number;
  maxAmountFen: number;
  /** How the range reads in an error message. */
  rangeText: string;
}

/** A payout, as registered in ./index.ts. Everything but {@link create} is pure. */
export interface PayoutModule {
  readonly name: PayoutName;
  /** Campaign JSON fields this payout reads (others are refused as unknown). */
  readonly campaignFields: readonly string[];
  /** Validates its fields of a campaign (pushing every problem) and says which amounts it can pay. */
  planCampaign(input: Readonly<Record<string, unknown>>, problems: string[]): PayoutCampaignPlan;
  /** The bill number of a claim's attempt: deterministic, in this payout's format. */
  billnoFor(claimId: string, attempt: number): string;
  /** Why a claim that FAILED with this code is refused, in the words the user sees. */
  refusalFor(failedErrCode: string | null): RefusalReason;
  /** The claim fields fixed at reservation, so every resend of a bill number carries the same parameters. */
  claimFields(campaign: CampaignDoc): Partial<ClaimDoc>;
  create(context: PayoutContext): Payout;
}

/** The runtime half of a payout, over this instance's clients. */
export interface Payout {
  /** The account it pays from: the appid the payee's openid must be under (the eligibility finds that openid). */
  readonly payeeAppId: string;
  /** Pacing key: sends sharing a key share the merchant's rate limit. */
  readonly pacingKey: string;
  /** Loads what the calls need (certificate), so a configuration problem shows before anything is reserved. */
  prepare(): Promise<void>;
  /** One send of the claim's current bill number. WeChat's answers (and their absence) are returned, never thrown. */
  send(claim: ClaimDoc): Promise<PayoutReply>;
  /** What WeChat knows about the claim's current bill number. */
  query(claim: ClaimDoc): Promise<PayoutReply>;
  /** Whether a paid claim still lacks what the client needs (a mini-program packet without its package). */
  lacksDelivery(claim: ClaimDoc): boolean;
  /**
   * What the client gets for a claim that is paid or still open (FAILED and HELD are refused by the
   * engine): e.g. wx.sendBizRedPacket's arguments, or a ClaimPendingError while there are none yet.
   */
  answer(claim: ClaimDoc, nowMs: number): unknown;
}
