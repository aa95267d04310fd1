/**
 * The stored shapes of campaigns, amount slots, claims and claim keys (collections in
 * shared/store/port.ts COLLECTIONS). Money is whole fen everywhere; times are epoch ms.
 * Documents written before eligibility and payout were separated (`kind`, `userKey`) are read
 * through {@link readCampaign} and {@link readClaim}, so nothing has to be migrated.
 */
import type { StoredDoc } from '../store/port';

/**
 * Who may claim (eligibility/): `miniprogram` — a mini-program user, identified by the platform;
 * `follow` — a new follower of the campaign's accounts through its channels, arriving by a signed
 * link and proven by OAuth on the service account; `webview` — a mini-program user who opened the
 * claim page in a web-view and linked their service-account openid through OAuth.
 */
export type EligibilityName = 'miniprogram' | 'follow' | 'webview';
/**
 * How a claim is paid: `miniprogram` — sendminiprogramhb, opened with wx.sendBizRedPacket; `cash` — sendredpack to the
 * official-account openid; `transfer` — a Pay v3 merchant transfer the user confirms with wx.requestMerchantTransfer (payout/).
 */
export type PayoutName = 'miniprogram' | 'cash' | 'transfer';

/** How each packet's amount is decided: one fixed amount, or a pre-generated random split of the budget. */
export type AmountRule = { mode: 'fixed'; amountFen: number } | { mode: 'random'; minFen: number; maxFen: number };

/** What the recipient of a red packet sees, fixed at creation (PAY-redpack field limits). */
export interface PacketTexts {
  sendName: string;
  wishing: string;
  actName: string;
  remark: string;
  /** PRODUCT_1…PRODUCT_8, or null (then every packet is 100–20000 fen). */
  sceneId: string | null;
}

/** What a transfer's payee sees and its scene's rules ask for, fixed at creation (reference/pay-v3-transfer.md §1.2–§1.3). */
export interface TransferTerms {
  /** transfer_scene_id, e.g. "1000" (现金营销). */
  sceneId: string;
  /** transfer_scene_report_infos, in the order WeChat gets them (scene 1000: 活动名称, 奖励说明). */
  reportInfos: Array<{ infoType: string; infoContent: string }>;
  /** transfer_remark: shown to the user, at most 32 characters. */
  remark: string;
  /** user_recv_perception (scene 1000: 现金奖励 or 活动奖励), or null for WeChat's default. */
  userRecvPerception: string | null;
}

/** A campaign as stored (`rp_campaigns`, `_id` = campaign id). Only the counters change after creation. */
export interface CampaignDoc extends StoredDoc, PacketTexts {
  eligibility: EligibilityName;
  payout: PayoutName;
  startsAtMs: number;
  endsAtMs: number;
  budgetFen: number;
  packetCount: number;
  amount: AmountRule;
  /** Client IP ranges allowed to claim (CIDR, v4 or v6); empty = anywhere. */
  allowedCidrs: string[];
  /** Claim calls one person may make per minute on this campaign (counted on their claim). */
  userCallsPerMinute: number;
  /** Reservations per second the campaign accepts from everyone together (counted below, in the reservation). */
  claimsPerSecond: number;
  /** Packets reserved so far; the next random slot is `<id>:<claimedCount>`. */
  claimedCount: number;
  /** What the claims hold now: every reservation's amount, less what was given back. Never above budgetFen. */
  claimedFen: number;
  /**
   * Amounts given back by claims that ended unpaid for good (a transfer WeChat closed or cancelled),
   * offered again, first in first out, once the slots run out. Packets never give back.
   */
  returnedAmountsFen: number[];
  /** Transfer campaigns only: what the bills carry. */
  transfer?: TransferTerms;
  /** Follow campaigns only (eligibility/follow.ts): how links are issued and followers proven. */
  follow?: FollowTerms;
  /**
   * Claim-page campaigns (follow, webview): the regions a client IP must be in, as
   * `country[/province[/city]]` paths in the IP-region library's names (`中国/广东省/深圳市`);
   * `allowedCidrs` then lists ranges that count as inside whatever the library says. Empty: anywhere.
   */
  regions?: string[];
  /** Claim-page campaigns: page requests per client IP per minute (link opens, authorisations, claims). */
  ipCallsPerMinute?: number;
  /** Campaigns of mini-program users (miniprogram, webview) only: WeChat's risk rank asked before the reservation (../risk.ts). */
  risk?: RiskTerms;
  /** The second (epoch ms) `rateWindowCount` counts reservations of. */
  rateWindowStartMs: number;
  rateWindowCount: number;
  createdAtMs: number;
  /** Set by an operator (console): new reservations are refused with `paused`; claims already reserved are still paid. */
  paused?: boolean;
  pausedAtMs?: number | null;
  pausedBy?: string | null;
  /**
   * Set by {@link readCampaign} for a campaign stored before eligibility and payout existed (never
   * stored): its older claims are keyed `<id>:<unionid ?? openid>`, without key documents.
   */
  legacyKeys?: true;
}

/** A campaign's risk check (wxa/getuserriskrank, scene 1): ranks above `maxRank` are refused; `onError` when WeChat cannot rank. */
export interface RiskTerms {
  maxRank: number;
  onError: 'refuse' | 'allow';
}

/**
 * How a follow campaign issues and checks its links. Which channels belong to the campaign lives
 * on the channels themselves (`wx_channels.campaignId`), so accounts join and leave a running
 * campaign without changing it; `channels` is what the campaign was created with.
 */
export interface FollowTerms {
  channels: Array<{ appId: string; channel: string }>;
  /** How long a link works after the follow. */
  linkTtlMinutes: number;
  /**
   * `proven` (default): the person who opens a link must be proven to be the follower — the same
   * service-account openid (a follow of the service account) or the same unionid (an account that
   * gives one). `first-open`: followers of accounts that cannot prove anyone (unverified
   * subscription accounts have no user/info) are bound to whoever opens the link first.
   */
  followerProof: 'proven' | 'first-open';
  /** The passive reply with the link (`{link}` is replaced), and the one a returning follower gets. */
  linkReply: string;
  notNewReply: string;
}

/** One pre-generated amount (`rp_slots`, `_id` = `<campaignId>:<index>`), drawn in index order. */
export interface SlotDoc extends StoredDoc {
  campaignId: string;
  index: number;
  amountFen: number;
}

/**
 * RESERVED: amount and billno fixed; this billno is certainly unpaid, the next step is a send.
 * SENDING: a send with `mchBillno` may be in flight. UNKNOWN: this billno may have been paid; the
 * next step is a query. WAITING: the bill exists and is not final — a transfer waits for its user
 * to confirm (or for WeChat); the reconciler keeps looking. SENT: paid (delivered to the user).
 * RECEIVED: the user opened it (a transfer: credited). FAILED: definitely not paid, final (a
 * transfer's amount is then given back to the campaign). HELD: paid, but WeChat would not give
 * back what the user needs to open it — an operator decides (README "Red packets").
 */
export type ClaimStatus = 'RESERVED' | 'SENDING' | 'SENT' | 'RECEIVED' | 'FAILED' | 'UNKNOWN' | 'HELD' | 'WAITING';

/** Claims the reconciler must settle. */
export const OPEN_CLAIM_STATUSES: readonly ClaimStatus[] = ['RESERVED', 'SENDING', 'UNKNOWN', 'WAITING'];
/** Every status, in the order operators read them. */
export const CLAIM_STATUSES: readonly ClaimStatus[] = ['RESERVED', 'SENDING', 'UNKNOWN', 'WAITING', 'HELD', 'SENT', 'RECEIVED', 'FAILED'];

/**
 * One claim (`rp_claims`, `_id` = `<campaignId>:<primary key>`): the reservation and its payment
 * state. Every other key the person is known by has a document in `rp_claim_keys`.
 */
export interface ClaimDoc extends StoredDoc, PacketTexts {
  campaignId: string;
  eligibility: EligibilityName;
  payout: PayoutName;
  /** Every key the person is known by ({@link openidKey}, {@link unionidKey}), the primary one first. */
  keys: string[];
  /** Where the person came from, for the campaign's funnel (`<appid>:<channel>`, `webview`), or null. */
  channel: string | null;
  /** The payee: wxappid of the send, and re_openid, the openid under it. */
  appId: string;
  openid: string;
  amountFen: number;
  /** The random slot drawn, or null for fixed amounts. */
  slotIndex: number | null;
  /** 1, then +1 only after WeChat said, for the previous billno, that it failed. */
  attempt: number;
  /** The billno of `attempt` (the payout's format); persisted before any send with it. */
  mchBillno: string;
  /** Every billno this claim has used, oldest first (all but the last definitely unpaid). */
  billnos: string[];
  /**
   * The exact request body of `mchBillno`, persisted before its first send so every retry sends
   * the same bytes (a transfer's create JSON); null for packets, whose request is rebuilt.
   */
  billBody: string | null;
  /** Transfer claims only: the campaign's terms as they were at reservation. */
  transfer?: TransferTerms;
  status: ClaimStatus;
  /** A send of `mchBillno` may have reached WeChat without a definite answer: its FAIL answers no longer prove "not paid". */
  billnoUncertain: boolean;
  /** A send of the uncertain billno was answered with a failure: only gethbinfo decides now, no more resends. */
  queryOnly: boolean;
  /** When `mchBillno` became uncertain (for the operator's "uncertain for long"). */
  uncertainSinceMs: number | null;
  /** Inconclusive queries in a row (NOT_FOUND, SENDING, no answer): the back-off grows with it. */
  queryCount: number;
  /** Send requests made, all attempts together. */
  sendCount: number;
  /** WeChat's order number (send_listid / detail_id; a transfer's transfer_bill_no). */
  sendListid: string | null;
  /** What the client needs: sendminiprogramhb's raw package, or a transfer's package_info. */
  package: string | null;
  /** What WeChat said last about the bill (gethbinfo's SENT, RECEIVED, REFUND…; a transfer's state). */
  wechatStatus: string | null;
  /** The last err_code or transport reason, for operators. */
  lastError: string | null;
  /** Set when the outcome is final: the err_code that ended it. */
  failedErrCode: string | null;
  /** HELD only: what happened and what the operator can do. */
  heldReason: string | null;
  /** When the amount went back to the campaign (a transfer that ended unpaid), else null. */
  returnedAtMs: number | null;
  /** The reconciler leaves the claim alone before this. */
  nextAttemptAtMs: number;
  /** Who is driving the claim now; others leave it alone until `leaseUntilMs`. */
  leaseOwner: string | null;
  leaseUntilMs: number;
  /** The person's calls on this claim in the current minute (userCallsPerMinute). */
  callWindowStartMs: number;
  callCount: number;
  createdAtMs: number;
  updatedAtMs: number;
  settledAtMs: number | null;
}

/** Another key of a claim's person (`rp_claim_keys`, `_id` = `<campaignId>:<key>`): inserting it twice fails the reservation. */
export interface ClaimKeyDoc extends StoredDoc {
  campaignId: string;
  key: string;
  claimId: string;
  createdAtMs: number;
}

/** The key of an openid under an appid (an openid belongs to one appid). */
export function openidKey(appId: string, openid: string): string {
  return `openid:${appId}:${openid}`;
}

/** The key of a unionid (one person across the accounts of one Open Platform account). */
export function unionidKey(unionid: string): string {
  return `unionid:${unionid}`;
}

/** A claim's `_id`, from the person's primary key. */
export function claimIdOf(campaignId: string, primaryKey: string): string {
  return `${campaignId}:${primaryKey}`;
}

/** A claim key document's `_id`. */
export function claimKeyIdOf(campaignId: string, key: string): string {
  return `${campaignId}:${key}`;
}

/** A slot's `_id`. */
export function slotIdOf(campaignId: string, index: number): string {
  return `${campaignId}:${index}`;
}

/** A stored campaign, including those written with `kind` (then the mini-program eligibility, payout = kind). */
export function readCampaign(doc: Omit<CampaignDoc, 'returnedAmountsFen'> & { kind?: PayoutName; returnedAmountsFen?: number[] }): CampaignDoc {
  const { kind, ...rest } = doc;
  return {
    ...rest,
    ...(doc.eligibility === undefined ? { legacyKeys: true as const } : {}),
    eligibility: doc.eligibility ?? 'miniprogram',
    payout: doc.payout ?? kind ?? 'miniprogram',
    returnedAmountsFen: doc.returnedAmountsFen ?? [],
    rateWindowStartMs: doc.rateWindowStartMs ?? 0,
    rateWindowCount: doc.rateWindowCount ?? 0,
  };
}

type StoredClaim = Omit<ClaimDoc, 'eligibility' | 'payout' | 'keys' | 'channel' | 'billnoUncertain' | 'queryOnly' | 'uncertainSinceMs' | 'queryCount' | 'heldReason' | 'callWindowStartMs' | 'callCount' | 'billBody' | 'returnedAtMs'>
  & Partial<ClaimDoc> & { kind?: PayoutName; userKey?: string };

/** A stored claim, including those written before keys and the uncertainty fields existed. */
export function readClaim(doc: StoredClaim): ClaimDoc {
  const { kind, userKey, ...rest } = doc;
  return {
    ...rest,
    eligibility: doc.eligibility ?? 'miniprogram',
    payout: doc.payout ?? kind ?? 'miniprogram',
    keys: doc.keys ?? [userKey ?? doc._id.slice(doc.campaignId.length + 1)],
    // An older claim's SENDING or UNKNOWN billno may have been paid: the safe reading.
    billnoUncertain: doc.billnoUncertain ?? doc.status !== 'RESERVED',
    queryOnly: doc.queryOnly ?? false,
    uncertainSinceMs: doc.uncertainSinceMs ?? null,
    queryCount: doc.queryCount ?? 0,
    heldReason: doc.heldReason ?? null,
    billBody: doc.billBody ?? null,
    returnedAtMs: doc.returnedAtMs ?? null,
    callWindowStartMs: doc.callWindowStartMs ?? 0,
    callCount: doc.callCount ?? 0,
    channel: doc.channel ?? null,
  };
}
