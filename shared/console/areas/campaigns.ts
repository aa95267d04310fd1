/**
 * The campaigns area's view models: what the operator reads about each campaign, computed from the
 * claim engine's documents with a bounded number of database requests (counts per status, one
 * query for the claims that are not paid, the campaign's stats document) — never a scan of every
 * claim, so a campaign of 100,000 packets costs what one of 100 costs.
 */
import { COLLECTIONS, type DocumentStore } from '../../store/port';
import { campaignFunnel, type ChannelFunnel } from '../../claims/funnel';
import { CLAIM_STATUSES } from '../../claims/model';
import { campaignStatsOf, type CampaignStats } from '../../claims/stats';

/** The fields of a stored campaign the console reads (older documents have `kind` instead of `payout`). */
interface StoredCampaign {
  _id: string;
  kind?: string;
  payout?: string;
  eligibility?: string;
  actName?: string;
  sendName?: string;
  startsAtMs: number;
  endsAtMs: number;
  budgetFen: number;
  packetCount: number;
  claimedCount: number;
  claimedFen: number;
  amount: { mode: 'fixed'; amountFen: number } | { mode: 'random'; minFen: number; maxFen: number };
  paused?: boolean;
  pausedAtMs?: number | null;
  pausedBy?: string | null;
  createdAtMs: number;
}

/** The fields of a stored claim the console reads. */
interface StoredClaim {
  _id: string;
  campaignId: string;
  status: string;
  amountFen: number;
  openid: string;
  mchBillno: string;
  attempt: number;
  lastError: string | null;
  failedErrCode?: string | null;
  heldReason?: string | null;
  uncertainSinceMs?: number | null;
  /** What WeChat said last about the bill (a transfer's state: WAIT_USER_CONFIRM, CANCELING…). */
  wechatStatus?: string | null;
  /** Set when a transfer that ended unpaid gave its amount back to the campaign. */
  returnedAtMs?: number | null;
  createdAtMs: number;
  updatedAtMs: number;
}

const PAID_STATUSES = new Set(['SENT', 'RECEIVED']);
/** Claims still moving: the reconciler's work, which "settle now" starts at once. */
export const OPEN_STATUSES = ['RESERVED', 'SENDING', 'UNKNOWN'] as const;
/**
 * A waiting transfer's bill states in which a cancel (撤销转账) is not offered: already asked, or the
 * user confirmed. Which other non-final states WeChat cancels is UNVERIFIED (reference/pay-v3-transfer.md
 * §1.5), so the console offers it and WeChat's answer decides, as for `campaign cancel-transfer`.
 */
const NOT_CANCELLABLE_BILL_STATES = new Set(['CANCELING', 'TRANSFERING']);
/** How many unpaid claims one page lists (the counts are exact whatever this is). */
const UNPAID_LISTED = 500;

export type CampaignState = 'scheduled' | 'open' | 'paused' | 'sold out' | 'ended';

export interface CampaignRow {
  id: string;
  title: string;
  payout: string;
  eligibility: string;
  state: CampaignState;
  startsAtMs: number;
  endsAtMs: number;
  budgetFen: number;
  reservedFen: number;
  /** Budget not reserved by any claim yet. */
  leftFen: number;
  packetCount: number;
  reservedCount: number;
  amount: string;
  paused: boolean;
  pausedAtMs: number | null;
  pausedBy: string | null;
}

export interface ClaimLine {
  id: string;
  status: string;
  amountFen: number;
  openid: string;
  mchBillno: string;
  attempt: number;
  /** Why it is held, or its last error. */
  reason: string;
  sinceMs: number;
  /** What the operator can do from the console. */
  action: 'settle' | 'reissue' | 'cancel-transfer' | null;
}

export interface CampaignDetail extends CampaignRow {
  claimsByStatus: Array<{ status: string; count: number }>;
  /** Paid packets and their sum: reserved minus every claim not (yet) paid. */
  paidCount: number;
  paidFen: number;
  /** True when more unpaid claims exist than were read: `paidFen` is then an upper bound. */
  paidIsApproximate: boolean;
  held: ClaimLine[];
  open: ClaimLine[];
  /** Transfers whose bill waits for the user's confirmation (or for WeChat): the operator may cancel them. */
  waiting: ClaimLine[];
  failed: ClaimLine[];
  stats: CampaignStats;
  /** Claim-page campaigns: per channel, follows → links sent → opened → authorised → claimed → paid, refusals by reason. */
  funnel: ChannelFunnel[];
}

function stateOf(campaign: StoredCampaign, nowMs: number): CampaignState {
  if (nowMs >= campaign.endsAtMs) return 'ended';
  if (campaign.claimedCount >= campaign.packetCount) return 'sold out';
  if (campaign.paused === true) return 'paused';
  if (nowMs < campaign.startsAtMs) return 'scheduled';
  return 'open';
}

function amountOf(campaign: StoredCampaign): string {
  const yuan = (fen: number) => (fen / 100).toFixed(2);
  return campaign.amount.mode === 'fixed' ? `${yuan(campaign.amount.amountFen)} each` : `${yuan(campaign.amount.minFen)}–${yuan(campaign.amount.maxFen)} random`;
}

function rowOf(campaign: StoredCampaign, nowMs: number): CampaignRow {
  return {
    id: campaign._id,
    title: campaign.actName ?? '',
    payout: campaign.payout ?? campaign.kind ?? 'miniprogram',
    eligibility: campaign.eligibility ?? 'miniprogram',
    state: stateOf(campaign, nowMs),
    startsAtMs: campaign.startsAtMs,
    endsAtMs: campaign.endsAtMs,
    budgetFen: campaign.budgetFen,
    reservedFen: campaign.claimedFen,
    leftFen: campaign.budgetFen - campaign.claimedFen,
    packetCount: campaign.packetCount,
    reservedCount: campaign.claimedCount,
    amount: amountOf(campaign),
    paused: campaign.paused === true,
    pausedAtMs: campaign.pausedAtMs ?? null,
    pausedBy: campaign.pausedBy ?? null,
  };
}

function actionOf(claim: StoredClaim): ClaimLine['action'] {
  if (claim.status === 'HELD') return 'reissue';
  if ((OPEN_STATUSES as readonly string[]).includes(claim.status)) return 'settle';
  // A bill already being cancelled or paid: "settle now" asks WeChat where it is.
  if (claim.status === 'WAITING') return NOT_CANCELLABLE_BILL_STATES.has(claim.wechatStatus ?? '') ? 'settle' : 'cancel-transfer';
  return null;
}

function lineOf(claim: StoredClaim): ClaimLine {
  const bill = claim.status === 'WAITING' ? `bill ${claim.wechatStatus ?? 'not known yet'}` : null;
  return {
    id: claim._id,
    status: claim.status,
    amountFen: claim.amountFen,
    openid: claim.openid,
    mchBillno: claim.mchBillno,
    attempt: claim.attempt,
    reason: bill ?? claim.heldReason ?? claim.failedErrCode ?? claim.lastError ?? '',
    sinceMs: claim.uncertainSinceMs ?? claim.updatedAtMs,
    action: actionOf(claim),
  };
}

/** Every campaign, newest first (at most 200). */
export async function campaignsView(store: DocumentStore, nowMs: number): Promise<CampaignRow[]> {
  const campaigns = await store.find<StoredCampaign>(COLLECTIONS.redPacketCampaigns, {}, { limit: 200, orderBy: { field: 'createdAtMs', direction: 'desc' } });
  return campaigns.map((campaign) => rowOf(campaign, nowMs));
}

/** One campaign in full, or null when there is none with that id. */
export async function campaignDetailView(store: DocumentStore, id: string, nowMs: number): Promise<CampaignDetail | null> {
  const campaign = await store.get<StoredCampaign>(COLLECTIONS.redPacketCampaigns, id);
  if (campaign === null) return null;
  const [counts, unpaid, stats, funnel] = await Promise.all([
    Promise.all(CLAIM_STATUSES.map((status) => store.count(COLLECTIONS.redPacketClaims, { campaignId: id, status }))),
    store.find<StoredClaim>(
      COLLECTIONS.redPacketClaims,
      { campaignId: id, status: { in: CLAIM_STATUSES.filter((status) => !PAID_STATUSES.has(status)) } },
      { limit: UNPAID_LISTED, orderBy: { field: 'updatedAtMs', direction: 'desc' } },
    ),
    campaignStatsOf(store, id),
    (campaign.eligibility ?? 'miniprogram') === 'miniprogram' ? Promise.resolve([]) : campaignFunnel(store, id),
  ]);
  const claimsByStatus = CLAIM_STATUSES.map((status, index) => ({ status, count: counts[index]! }));
  const unpaidCount = claimsByStatus.filter(({ status }) => !PAID_STATUSES.has(status)).reduce((sum, { count }) => sum + count, 0);
  // A transfer that ended unpaid gave its amount back already (claimedFen no longer holds it): not subtracted twice.
  const unpaidFen = unpaid.filter((claim) => (claim.returnedAtMs ?? null) === null).reduce((sum, claim) => sum + claim.amountFen, 0);
  const paidCount = claimsByStatus.filter(({ status }) => PAID_STATUSES.has(status)).reduce((sum, { count }) => sum + count, 0);
  const lines = unpaid.map(lineOf);
  return {
    ...rowOf(campaign, nowMs),
    claimsByStatus,
    paidCount,
    // Reserved money is either paid or on an unpaid claim; when not every unpaid claim was read, this over-counts, so say so.
    paidFen: campaign.claimedFen - unpaidFen,
    paidIsApproximate: unpaidCount > unpaid.length,
    held: lines.filter((line) => line.status === 'HELD'),
    open: lines.filter((line) => line.status !== 'WAITING' && line.action === 'settle'),
    waiting: lines.filter((line) => line.status === 'WAITING'),
    failed: lines.filter((line) => line.status === 'FAILED').slice(0, 50),
    stats,
    funnel,
  };
}
