/**
 * The red-packet use cases: a mini-program user claims a packet of a campaign, and the
 * reconciler settles every claim left open. Identity comes from the platform (the caller), the
 * amount from the stored campaign; the client names only the campaign.
 */
import { randomUUID } from 'node:crypto';
import { NotFoundError } from '../errors';
import { bizRedPacketParams, type BizRedPacketParams } from '../signing/red-packet';
import { COLLECTIONS, TransactionConflictError } from '../store/port';
import { officialOpenidOf } from '../users/links';
import { RedPacketErrCode } from '../pay/policy';
import { ipAllowed, regionAllowList } from './campaign';
import { acquireClaimLease, releaseClaimLease, reserveClaim, type Payee } from './claims';
import { sweepCounters, takeFromWindow } from './counters';
import { ClaimPendingError, refusal, RefusalReason, tooManyCalls } from './errors';
import { claimIdOf, OPEN_CLAIM_STATUSES, type CampaignDoc, type ClaimDoc, type ClaimStatus, type RedPacketKind } from './model';
import { driveClaim, isSettled, type SenderDeps, type SenderSettings } from './sender';

/** Everything the use cases need. */
export interface RedPacketDeps extends SenderDeps {
  settings: RedPacketSettings;
}

/** Settings of the red-packet function (read once per instance from the environment). */
export interface RedPacketSettings extends SenderSettings {
  /** The APIv2 key, for the wx.sendBizRedPacket paySign. */
  apiKey: string;
  /** Cash packets are paid under this official account. */
  officialAppId: string;
  /** The mini-program whose users may claim (and the wxappid of mini-program packets). */
  miniProgramAppId: string;
  /** How long a driver owns a claim; longer than the longest drive. */
  claimLeaseMs: number;
}

/** The mini-program user, as the platform identified them. */
export interface Claimant {
  openid: string;
  appId: string;
  unionid?: string;
  clientIp?: string;
}

/** A claim as a cash-packet client sees it. */
export interface ClaimView {
  campaignId: string;
  kind: RedPacketKind;
  /** SENT/RECEIVED: paid. RESERVED/SENDING/UNKNOWN: reserved, being sent; ask again later. */
  status: Exclude<ClaimStatus, 'FAILED'>;
  amountFen: number;
}

/** What a claim call returns: wx.sendBizRedPacket's arguments for mini-program packets, the claim state for cash ones. */
export type ClaimResult = { kind: 'miniprogram'; bizRedPacket: BizRedPacketParams } | { kind: 'cash'; claim: ClaimView };

/** A user's drive is short: they are waiting for the answer. */
const USER_MAX_SENDS = 3;
const USER_DRIVE_MS = 8_000;
const RECONCILE_MAX_SENDS = 2;
const RECONCILE_DRIVE_MS = 6_000;
const RECONCILE_CONCURRENCY = 4;
// Leave room before the lease ends for the last write of a drive.
const LEASE_MARGIN_MS = 2_000;

/**
 * Claims a packet of `campaignId` for `claimant`. Calling again never makes a second claim: it
 * returns the same packet (the same package for mini-program packets), finishing a payment left
 * unsettled, or refuses while another call of the same user is still sending it.
 */
export async function claimRedPacket(deps: RedPacketDeps, claimant: Claimant, campaignId: string): Promise<ClaimResult> {
  const { store, settings } = deps;
  const campaign = await store.get<CampaignDoc>(COLLECTIONS.redPacketCampaigns, campaignId);
  if (campaign === null) throw new NotFoundError('No such campaign');
  if (claimant.appId !== settings.miniProgramAppId) throw refusal(RefusalReason.WRONG_APP);
  const userKey = claimant.unionid ?? claimant.openid;
  const nowMs = deps.now();
  const userWaitMs = await takeFromWindow(store, `user:${userKey}`, campaign.userCallsPerMinute, 60_000, nowMs);
  if (userWaitMs > 0) throw tooManyCalls('user', userWaitMs);

  const leaseOwner = randomUUID();
  const existing = await store.get<ClaimDoc>(COLLECTIONS.redPacketClaims, claimIdOf(campaignId, userKey));
  if (existing !== null) return resume(deps, existing, leaseOwner);

  if (nowMs < campaign.startsAtMs) throw refusal(RefusalReason.NOT_STARTED);
  if (nowMs >= campaign.endsAtMs) throw refusal(RefusalReason.ENDED);
  if (!ipAllowed(regionAllowList(campaign.allowedCidrs), claimant.clientIp)) throw refusal(RefusalReason.REGION);
  // A cheap read before the transaction turns most late claimers away without contending for the counters.
  if (campaign.claimedCount >= campaign.packetCount) throw refusal(RefusalReason.SOLD_OUT);
  const campaignWaitMs = await takeFromWindow(store, `campaign:${campaignId}`, campaign.claimsPerSecond, 1_000, nowMs);
  if (campaignWaitMs > 0) throw tooManyCalls('campaign', campaignWaitMs);

  const payee = await payeeOf(deps, campaign.kind, claimant, userKey);
  let claim: ClaimDoc;
  try {
    claim = await reserveClaim(store, campaignId, payee, { nowMs: deps.now(), leaseOwner, leaseMs: settings.claimLeaseMs });
  } catch (error) {
    // Many users at once on one campaign's counters: tell this one to come back, like a rate limit.
    if (error instanceof TransactionConflictError) throw tooManyCalls('campaign', 500);
    throw error;
  }
  deps.log.info('red packet reserved', { claimId: claim._id, amountFen: claim.amountFen, slotIndex: claim.slotIndex });
  return respond(deps, await driveAndRelease(deps, claim, leaseOwner, USER_MAX_SENDS, USER_DRIVE_MS));
}

/** What the reconciler did in one run. */
export interface ReconcileReport {
  /** Open claims due now that it looked at. */
  examined: number;
  /** Of those, settled now (paid or finally failed). */
  settled: number;
  /** Held by a live driver when the reconciler got to them. */
  skipped: number;
  stillOpen: number;
  sweptCounters: number;
}

/**
 * Settles open claims (RESERVED, SENDING, UNKNOWN) whose lease ran out and whose next attempt is
 * due: gethbinfo and same-billno resends, never a new billno without WeChat's "not paid". Bounded:
 * at most `limit` claims and `timeBudgetMs` of starting new ones per run.
 */
export async function reconcileClaims(
  deps: RedPacketDeps,
  options: { limit: number; timeBudgetMs: number; ignoreBackoff?: boolean },
): Promise<ReconcileReport> {
  const startedAtMs = deps.now();
  const due = await deps.store.find<ClaimDoc>(
    COLLECTIONS.redPacketClaims,
    {
      status: { in: [...OPEN_CLAIM_STATUSES] },
      leaseUntilMs: { lt: startedAtMs },
      ...(options.ignoreBackoff ? {} : { nextAttemptAtMs: { lte: startedAtMs } }),
    },
    { limit: options.limit, orderBy: { field: 'nextAttemptAtMs', direction: 'asc' } },
  );
  const report: ReconcileReport = { examined: due.length, settled: 0, skipped: 0, stillOpen: 0, sweptCounters: 0 };
  const queue = [...due];
  const worker = async (): Promise<void> => {
    for (let claim = queue.shift(); claim !== undefined; claim = queue.shift()) {
      if (deps.now() - startedAtMs > options.timeBudgetMs) {
        report.stillOpen += 1;
        continue;
      }
      const leaseOwner = randomUUID();
      if (!(await acquireClaimLease(deps.store, claim, { nowMs: deps.now(), leaseOwner, leaseMs: deps.settings.claimLeaseMs }))) {
        report.skipped += 1;
        continue;
      }
      // An operator's "settle now" (after topping up the balance, say) also skips the wait the last outcome asked for.
      if (options.ignoreBackoff) {
        await deps.store.update(COLLECTIONS.redPacketClaims, { _id: claim._id, leaseOwner }, { set: { nextAttemptAtMs: 0 } });
      }
      try {
        const after = await driveAndRelease(deps, claim, leaseOwner, RECONCILE_MAX_SENDS, RECONCILE_DRIVE_MS);
        if (isSettled(after)) report.settled += 1;
        else report.stillOpen += 1;
        deps.log.info('claim reconciled', { claimId: after._id, status: after.status, attempt: after.attempt });
      } catch (error) {
        // One claim's failure (the database, a broken certificate) must not stop the others; it stays open.
        report.stillOpen += 1;
        deps.log.error('claim could not be reconciled', { claimId: claim._id, error });
      }
    }
  };
  await Promise.all(Array.from({ length: RECONCILE_CONCURRENCY }, worker));
  report.sweptCounters = await sweepCounters(deps.store, deps.now(), options.limit);
  return report;
}

/** A repeated call: the settled answer, or a drive of the open claim when nobody else holds it. */
async function resume(deps: RedPacketDeps, claim: ClaimDoc, leaseOwner: string): Promise<ClaimResult> {
  if (isSettled(claim)) return respond(deps, claim);
  const nowMs = deps.now();
  if (!(await acquireClaimLease(deps.store, claim, { nowMs, leaseOwner, leaseMs: deps.settings.claimLeaseMs }))) {
    throw refusal(RefusalReason.CLAIM_IN_PROGRESS);
  }
  return respond(deps, await driveAndRelease(deps, claim, leaseOwner, USER_MAX_SENDS, USER_DRIVE_MS));
}

async function driveAndRelease(deps: RedPacketDeps, claim: ClaimDoc, leaseOwner: string, maxSends: number, driveMs: number): Promise<ClaimDoc> {
  const deadlineMs = Math.min(deps.now() + driveMs, deps.now() + deps.settings.claimLeaseMs - LEASE_MARGIN_MS);
  try {
    return await driveClaim(deps, claim._id, leaseOwner, { maxSends, deadlineMs });
  } finally {
    await releaseClaimLease(deps.store, claim._id, leaseOwner).catch((error: unknown) => {
      // The lease runs out by itself; the claim is safe either way.
      deps.log.warn('could not release a claim lease', { claimId: claim._id, error });
    });
  }
}

async function payeeOf(deps: RedPacketDeps, kind: RedPacketKind, claimant: Claimant, userKey: string): Promise<Payee> {
  if (kind === 'miniprogram') return { userKey, kind, appId: deps.settings.miniProgramAppId, openid: claimant.openid };
  // A cash packet goes to the user's openid under the official account, found by unionid (AccountNotLinkedError otherwise).
  const openid = await officialOpenidOf(deps.store, deps.settings.officialAppId, claimant.unionid);
  return { userKey, kind, appId: deps.settings.officialAppId, openid };
}

/** The answer for a claim's current state. */
function respond(deps: RedPacketDeps, claim: ClaimDoc): ClaimResult {
  if (claim.status === 'FAILED') throw refusal(reasonOfFailure(claim.failedErrCode));
  const paid = claim.status === 'SENT' || claim.status === 'RECEIVED';
  if (claim.kind === 'miniprogram') {
    if (!paid || claim.package === null) throw new ClaimPendingError(Math.max(1_000, claim.nextAttemptAtMs - deps.now()));
    return {
      kind: 'miniprogram',
      bizRedPacket: bizRedPacketParams({ appId: claim.appId, package: claim.package, apiKey: deps.settings.apiKey, timeStamp: Math.floor(deps.now() / 1000) }),
    };
  }
  return { kind: 'cash', claim: { campaignId: claim.campaignId, kind: claim.kind, status: claim.status, amountFen: claim.amountFen } };
}

function reasonOfFailure(errCode: string | null): RefusalReason {
  switch (errCode) {
    case RedPacketErrCode.SENDNUM_LIMIT:
    case RedPacketErrCode.RCVDAMOUNT_LIMIT:
      return RefusalReason.USER_DAILY_LIMIT;
    case RedPacketErrCode.SENDAMOUNT_LIMIT:
      return RefusalReason.MERCHANT_LIMIT;
    default:
      return RefusalReason.RISK_BLOCKED;
  }
}

