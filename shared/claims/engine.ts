/**
 * The claim engine: one path for every way in (./eligibility) and every way out (./payout).
 *
 *   identify the person (eligibility) → cheap refusals from this instance's copy of the campaign
 *   → the campaign's risk check, if it has one (./risk.ts: WeChat's rank of the mini-program openid)
 *   → ONE reservation transaction: the campaign's window, pause, stock and claims-per-second; the claim,
 *     already SENDING with its bill number and lease; a document for every other key of the person
 *   → pace (the merchant's rate limit) → send (payout) → persist the outcome → the reconciler
 *     (the same drive, on a timer) for anything left open.
 *
 * A claim's states, persisted before and after every payout call under a lease:
 *
 *   reserved ──▶ SENDING ──PAID──▶ SENT ─ ─ ─(query: RECEIVED)─ ─ ─▶ RECEIVED
 *                  │  ├─ WAITING (a transfer's bill waits for its user) ──▶ WAITING ──query──▶ (as UNKNOWN's)
 *                  │  ├─ CLOSED (the bill itself says FAIL/CANCELLED) ──▶ FAILED, its amount back to the campaign
 *                  │  ├─ NOT_PAID, billno certain ──▶ RESERVED, attempt+1, a new billno ──send──▶ SENDING
 *                  │  ├─ FINAL, billno certain ─────▶ FAILED
 *                  │  └─ REFUSED, billno certain ───▶ RESERVED, same billno, later
 *                  └─ UNKNOWN / IN_PROGRESS / no reply / any answer for an uncertain billno ──▶ UNKNOWN
 *   UNKNOWN or WAITING (or SENDING left by a driver that died) ──query──▶
 *      PAID/RECEIVED/REFUNDED ──▶ SENT/RECEIVED; a mini-program packet without its package is
 *                                 re-sent with its billno: the packet again ──▶ SENT, anything else ──▶ HELD
 *      WAITING ──▶ WAITING, looked at again when the payout says; without what the client needs
 *                  (a transfer's package) the identical request again (SENDING)
 *      CLOSED ──▶ FAILED, its amount back to the campaign (./settlement.ts, also what a notify does)
 *      NOT_PAID (gethbinfo FAILED) ──▶ RESERVED, attempt+1
 *      NOT_FOUND ──▶ resend the same billno (SENDING) — unless a resend of it was already answered
 *                    with a failure (queryOnly): then only queries, with back-off
 *      IN_PROGRESS / no answer ──▶ UNKNOWN, query again with back-off
 *   HELD ──operator `reissue`, once gethbinfo says refunded or failed──▶ RESERVED, attempt+1
 *   WAITING ──operator `cancel-transfer`: WeChat's cancel, then a query──▶ (as above: CANCELLED ──▶ FAILED)
 *
 * The money rule: a new bill number only after WeChat said, for THAT number, that it failed —
 * gethbinfo FAILED, or a send's failure while the number was certain (never sent before with an
 * uncertain outcome). WeChat may answer a resend of a number it already paid with SEND_FAILED or
 * any other code, so for an uncertain number no failure is believed; a claim that stays uncertain
 * is queried with back-off, logged and shown to the operator (`campaign.ts show`), never guessed.
 */
import { randomUUID } from 'node:crypto';
import type { BlockList } from 'node:net';
import { InputError, NotEligibleError, NotFoundError, RateLimitedError, StoreError } from '../errors';
import type { Logger } from '../log';
import { COLLECTIONS, TransactionConflictError, type DocumentStore, type Patch } from '../store/port';
import { AccountNotLinkedError } from '../users/links';
import { regionAllowList, withinRegion } from './campaign';
import { ELIGIBILITIES, type ClaimEntry } from './eligibility';
import type { EligibilityContext, EligibilityModule, Payee, Person } from './eligibility/types';
import { refusal, RefusalReason, tooManyCalls } from './errors';
import {
  claimIdOf, claimKeyIdOf, OPEN_CLAIM_STATUSES, readCampaign, readClaim, slotIdOf,
  type CampaignDoc, type ClaimDoc, type ClaimKeyDoc, type ClaimStatus, type PayoutName, type SlotDoc,
} from './model';
import { sweepCounters, waitForSendSlot } from './pacing';
import { countFunnel } from './funnel';
import { countPayError, countRefusal } from './stats';
import { PAYOUTS } from './payout';
import { Outcome, type Payout, type PayoutReply } from './payout/types';
import { checkRisk, type RiskRanker } from './risk';
import { closeClaim, paidPatch } from './settlement';

/** Engine settings (read once per instance from the environment). */
export interface ClaimSettings {
  /** The merchant's send rate limit, shared by every instance (WeChat's default is 30/s). */
  sendsPerSecond: number;
  /** How long a driver owns a claim; longer than the longest drive. */
  claimLeaseMs: number;
  miniProgramAppId: string;
  officialAppId: string;
}

/** Everything the engine needs; the clock and sleep are injectable. */
export interface ClaimDeps {
  store: DocumentStore;
  log: Logger;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  settings: ClaimSettings;
  /** Each payout's runtime half, over this instance's clients. */
  payouts: Readonly<Record<PayoutName, Payout>>;
  /** This instance's memory: campaign definitions and claims it has seen. */
  memory: ClaimMemory;
  /** WeChat's risk rank of mini-program users, for campaigns with `risk` (./risk.ts). */
  risk?: RiskRanker;
}

/** A user's drive is short: they are waiting for the answer. */
const USER_BUDGET = { maxSends: 3, driveMs: 8_000 } as const;
const RECONCILE_BUDGET = { maxSends: 2, driveMs: 6_000 } as const;
const RECONCILE_CONCURRENCY = 4;
// Leave room before the lease ends for the last write of a drive.
const LEASE_MARGIN_MS = 2_000;
// Each loop turn is a send or a query; the bound only stops a logic error from looping.
const MAX_STEPS = 16;
/** Inconclusive queries back off from 2 s, doubling, to 10 min. */
const QUERY_BACKOFF_MS = { first: 2_000, max: 600_000 } as const;
/** A billno uncertain for longer than this is reported to the operator on every look at it. */
export const UNCERTAIN_ALERT_MS = 15 * 60_000;
/** A pacing slot not free in time: the claim waits this long before the next try. */
const NO_SLOT_RETRY_MS = 1_000;
/**
 * Every claim of a campaign updates its one document, so concurrent reservations conflict by
 * design; first committer wins and the others start over. More runs than the default keep a
 * burst of claimers from being sent away while the packets last (~2 s at most).
 */
const RESERVATION_RETRIES = { maxAttempts: 25, backoffMs: 10 } as const;
const SETTLED: ReadonlySet<ClaimStatus> = new Set(['SENT', 'RECEIVED', 'FAILED', 'HELD']);

/**
 * Claims a packet of `campaignId` through `entry` (an eligibility and its proof). Calling again
 * never makes a second claim: it answers the same packet (finishing a payment left open), or
 * refuses while another call of the same person is still sending it. Returns what the payout
 * gives the client (wx.sendBizRedPacket's arguments, a cash claim's state).
 */
export async function claimPacket(deps: ClaimDeps, campaignId: string, entry: ClaimEntry): Promise<unknown> {
  try {
    return await claimOnce(deps, campaignId, entry);
  } catch (error) {
    // Refusals by reason, for the operator (stats.ts: counted in memory, written at most every few seconds).
    const reason = error instanceof NotEligibleError || error instanceof AccountNotLinkedError ? error.reason
      : error instanceof RateLimitedError ? 'rate_limited' : null;
    if (reason !== null) await countRefusal(deps.store, deps.log, campaignId, reason, deps.now());
    throw error;
  }
}

async function claimOnce(deps: ClaimDeps, campaignId: string, entry: ClaimEntry): Promise<unknown> {
  const { memory, settings } = deps;
  const { campaign, region } = await memory.campaign(deps.store, campaignId, deps.now());
  if (campaign.eligibility !== entry.eligibility) throw refusal(RefusalReason.WRONG_ENTRY);
  const eligibility = ELIGIBILITIES[entry.eligibility] as EligibilityModule<typeof entry.proof>;
  const context: EligibilityContext = { store: deps.store, miniProgramAppId: settings.miniProgramAppId, officialAppId: settings.officialAppId };
  const person = await eligibility.identify(entry.proof, campaign, context);
  const { keys } = person;
  const claimId = claimIdOf(campaignId, keys[0]);
  const leaseOwner = randomUUID();
  if (memory.knowsClaim(claimId)) return repeatCall(deps, campaign, await loadClaim(deps.store, claimId), leaseOwner);
  const legacy = campaign.legacyKeys ? await legacyClaimOf(deps, campaignId, person, settings.miniProgramAppId) : null;
  if (legacy !== null) return repeatCall(deps, campaign, legacy, leaseOwner);

  let reserved: Awaited<ReturnType<typeof reserve>>;
  try {
    // Refusals this instance's copy can decide: a definition never changes and the counters only grow.
    const nowMs = deps.now();
    if (nowMs < campaign.startsAtMs) throw refusal(RefusalReason.NOT_STARTED);
    if (nowMs >= campaign.endsAtMs) throw refusal(RefusalReason.ENDED);
    if (!withinRegion(campaign, region, person)) throw refusal(RefusalReason.REGION);
    // A payout whose claims give amounts back can be sold out no longer: then the copy is read again before refusing.
    if (soldOut(campaign) && (PAYOUTS[campaign.payout].givesBack !== true || soldOut((await memory.campaign(deps.store, campaignId, nowMs, { fresh: true })).campaign))) {
      throw refusal(RefusalReason.SOLD_OUT);
    }
    const rateWindowStartMs = secondOf(nowMs);
    if (campaign.rateWindowStartMs === rateWindowStartMs && campaign.rateWindowCount >= campaign.claimsPerSecond) {
      throw tooManyCalls('campaign', rateWindowStartMs + 1_000 - nowMs);
    }
    const payout = deps.payouts[campaign.payout];
    const payee = await eligibility.payee(person, payout.payeeAppId(campaign.eligibility), context);
    // A broken certificate fails here, before anything is reserved.
    await payout.prepare();
    // Last before the reservation: a WeChat call, made only for someone every other rule let through.
    await checkRisk({ ...(deps.risk === undefined ? {} : { risk: deps.risk }), log: deps.log, miniProgramAppId: settings.miniProgramAppId }, campaign, person);
    reserved = await reserve(deps, campaign, { claimId, keys, payee, leaseOwner, channel: person.channel ?? null });
  } catch (error) {
    // A refusal meant for newcomers (ended, sold out since, moved away, unlinked) must not hide the
    // packet this person already has: whoever was told "being sent" comes back for it.
    if (!isRefusal(error)) throw error;
    const own = await deps.store.get<ClaimDoc>(COLLECTIONS.redPacketClaims, claimId);
    if (own === null) throw error;
    return repeatCall(deps, campaign, readClaim(own), leaseOwner);
  }
  if ('existing' in reserved) return repeatCall(deps, campaign, reserved.existing, leaseOwner);
  memory.rememberClaim(claimId);
  deps.log.info('red packet reserved', { claimId, amountFen: reserved.claim.amountFen, slotIndex: reserved.claim.slotIndex });
  await countFunnel(deps.store, deps.log, campaignId, reserved.claim.channel, { stage: 'claimed' }, deps.now());
  return answer(deps, await driveAndRelease(deps, reserved.claim, leaseOwner, USER_BUDGET, { fresh: true }));
}

/** What the reconciler did in one run. */
export interface ReconcileReport {
  /** Open claims due now that it looked at. */
  examined: number;
  /** Of those, settled now (paid, finally failed, or held for the operator). */
  settled: number;
  /** Held by a live driver when the reconciler got to them. */
  skipped: number;
  stillOpen: number;
  /** Claims whose billno has been uncertain for longer than {@link UNCERTAIN_ALERT_MS}. */
  uncertainForLong: number;
  sweptCounters: number;
  /** What the operator must fix (a setting, the balance, the certificate…), each once. */
  alerts: string[];
}

/**
 * Settles open claims (RESERVED, SENDING, UNKNOWN) whose lease ran out and whose next attempt is
 * due (or only `claimId`): queries and same-billno resends, a new billno only on WeChat's word
 * that the old one failed. Bounded: at most `limit` claims and `timeBudgetMs` of starting new ones.
 */
export async function reconcileClaims(
  deps: ClaimDeps,
  options: { limit: number; timeBudgetMs: number; ignoreBackoff?: boolean; claimId?: string },
): Promise<ReconcileReport> {
  const startedAtMs = deps.now();
  const due = options.claimId === undefined
    ? (await deps.store.find<ClaimDoc>(
      COLLECTIONS.redPacketClaims,
      {
        status: { in: [...OPEN_CLAIM_STATUSES] },
        leaseUntilMs: { lt: startedAtMs },
        ...(options.ignoreBackoff ? {} : { nextAttemptAtMs: { lte: startedAtMs } }),
      },
      { limit: options.limit, orderBy: { field: 'nextAttemptAtMs', direction: 'asc' } },
    )).map(readClaim)
    : [await loadClaim(deps.store, options.claimId)].filter((claim) => OPEN_CLAIM_STATUSES.includes(claim.status));
  const alerts = new Set<string>();
  const report: ReconcileReport = { examined: due.length, settled: 0, skipped: 0, stillOpen: 0, uncertainForLong: 0, sweptCounters: 0, alerts: [] };
  const queue = [...due];
  const worker = async (): Promise<void> => {
    for (let claim = queue.shift(); claim !== undefined; claim = queue.shift()) {
      if (deps.now() - startedAtMs > options.timeBudgetMs) {
        report.stillOpen += 1;
        continue;
      }
      const leaseOwner = randomUUID();
      // An operator's "settle now" (after topping up the balance, say) also skips the wait the last outcome asked for.
      const leased = await acquireLease(deps, claim, leaseOwner, options.ignoreBackoff ? { nextAttemptAtMs: 0 } : {});
      if (leased === null) {
        report.skipped += 1;
        continue;
      }
      try {
        const after = await driveAndRelease(deps, leased, leaseOwner, RECONCILE_BUDGET, { fresh: false, alerts });
        if (SETTLED.has(after.status)) report.settled += 1;
        else report.stillOpen += 1;
        if (isUncertainForLong(after, deps.now())) report.uncertainForLong += 1;
        deps.log.info('claim reconciled', { claimId: after._id, status: after.status, attempt: after.attempt });
      } catch (error) {
        // One claim's failure (the database, a broken certificate) must not stop the others; it stays open.
        report.stillOpen += 1;
        deps.log.error('claim could not be reconciled', { claimId: claim._id, error });
      }
    }
  };
  await Promise.all(Array.from({ length: RECONCILE_CONCURRENCY }, worker));
  if (report.uncertainForLong > 0) {
    alerts.add(`${report.uncertainForLong} claim(s) uncertain for more than ${UNCERTAIN_ALERT_MS / 60_000} min: \`campaign.ts show <campaign>\` lists them; check their billnos in 商户平台`);
  }
  report.alerts = [...alerts];
  report.sweptCounters = await sweepCounters(deps.store, deps.now(), options.limit);
  return report;
}

/**
 * The operator's way out of HELD (a paid mini-program packet whose package WeChat would not give
 * back): once gethbinfo says the packet was refunded (24 h unopened) or failed, the claim gets a
 * new billno and the person's next call pays it. Refuses while the first packet may still be opened.
 */
export async function reissueClaim(deps: ClaimDeps, claimId: string): Promise<{ claimId: string; status: ClaimStatus; attempt: number; mchBillno: string }> {
  const claim = await loadClaim(deps.store, claimId);
  if (claim.status !== 'HELD') throw new InputError(`Claim ${claimId} is ${claim.status}; only a HELD claim can be reissued`, 'claimId');
  const owner = randomUUID();
  const leased = await acquireLease(deps, claim, owner, {});
  if (leased === null) throw new InputError(`Claim ${claimId} is being worked on; try again in a minute`, 'claimId');
  try {
    const reply = await deps.payouts[leased.payout].query(leased);
    if (reply.outcome !== Outcome.REFUNDED && reply.outcome !== Outcome.NOT_PAID) {
      throw new InputError(
        `gethbinfo says ${reply.code} for billno ${leased.mchBillno}: ${reply.outcome === Outcome.PAID
          ? 'the packet can still be opened, so a new one could pay twice; WeChat refunds it 24 h after sending, reissue after that'
          : 'not settled yet; try again later'}`,
        'claimId',
      );
    }
    const next = await newBillno(deps, leased, owner, `reissued after gethbinfo ${reply.code}`);
    if (next === null) throw new InputError(`Claim ${claimId} changed meanwhile; look at it again`, 'claimId');
    deps.log.warn('held claim reissued by the operator', { claimId, attempt: next.attempt });
    return { claimId, status: next.status, attempt: next.attempt, mchBillno: next.mchBillno };
  } finally {
    await releaseLease(deps, claimId, owner);
  }
}

/** What an operator's cancel of a transfer did. */
export interface CancelReport {
  claimId: string;
  /** WeChat's answer to the cancel itself: CANCELING, CANCELLED, or the code it refused with. */
  cancel: string;
  /** The claim after the query that followed. */
  status: ClaimStatus;
  /** The bill's state as that query saw it. */
  wechatStatus: string | null;
  /** Whether its amount went back to the campaign (the bill is CANCELLED). */
  amountReturned: boolean;
}

/**
 * The operator's cancel (撤销转账) of a transfer waiting for its user: WeChat's cancel, then a
 * query recorded as the reconciler records it — CANCELLED ends the claim and gives its amount
 * back; CANCELING is watched until it is; a bill the user confirmed meanwhile goes on to SUCCESS
 * (WeChat refuses the cancel). Only WAITING claims, only when no one else is driving them.
 */
export async function cancelClaim(deps: ClaimDeps, claimId: string): Promise<CancelReport> {
  const claim = await loadClaim(deps.store, claimId);
  const payout = deps.payouts[claim.payout];
  if (payout.cancel === undefined) throw new InputError(`Claim ${claimId} is a ${claim.payout} packet: only transfers can be cancelled`, 'claimId');
  if (claim.status !== 'WAITING') throw new InputError(`Claim ${claimId} is ${claim.status}; only a transfer waiting for its user (WAITING) can be cancelled`, 'claimId');
  const owner = randomUUID();
  const leased = await acquireLease(deps, claim, owner, {});
  if (leased === null) throw new InputError(`Claim ${claimId} is being worked on; try again in a minute`, 'claimId');
  // No sends in this drive: the cancel and one query, whose answer is recorded like any other.
  const drive: Drive = { deps, owner, payout, deadlineMs: deps.now() + RECONCILE_BUDGET.driveMs, maxSends: 0, sends: 0, alerts: undefined };
  let after = leased;
  try {
    const answer = await payout.cancel(leased);
    deps.log.warn('transfer cancel asked by the operator', { claimId, mchBillno: leased.mchBillno, answer: answer.code });
    after = (await afterQuery(drive, leased, await payout.query(leased))).claim;
    return { claimId, cancel: answer.code, status: after.status, wechatStatus: after.wechatStatus, amountReturned: after.returnedAtMs !== null };
  } finally {
    if (after.leaseOwner === owner) await releaseLease(deps, claimId, owner);
  }
}

/** Whether a claim's billno has been uncertain for long (shown to the operator). */
export function isUncertainForLong(claim: Pick<ClaimDoc, 'status' | 'uncertainSinceMs'>, nowMs: number): boolean {
  return OPEN_CLAIM_STATUSES.includes(claim.status) && claim.uncertainSinceMs !== null && nowMs - claim.uncertainSinceMs > UNCERTAIN_ALERT_MS;
}

// ───────────────────────── the reservation ─────────────────────────

interface ReservationRequest {
  claimId: string;
  keys: readonly string[];
  payee: Payee;
  leaseOwner: string;
  /** The funnel's channel of the person, written on the claim. */
  channel: string | null;
}

/**
 * One transaction: the campaign's window, stock and rate are checked on the document as it is
 * now; the claim is inserted SENDING with its billno and lease (so the first send needs no write
 * before it), every other key of the person gets its document, and the campaign's counters move.
 * An insert of an existing key fails the transaction — no read is needed for "already claimed".
 */
async function reserve(
  deps: ClaimDeps,
  cached: CampaignDoc,
  request: ReservationRequest,
): Promise<{ claim: ClaimDoc } | { existing: ClaimDoc }> {
  const { store, settings } = deps;
  const campaignId = cached._id;
  let seen: CampaignDoc | null = null;
  try {
    const claim = await store.transaction(async (tx) => {
      const stored = await tx.get<CampaignDoc>(COLLECTIONS.redPacketCampaigns, campaignId);
      if (stored === null) throw new NotFoundError('No such campaign');
      const campaign = readCampaign(stored);
      seen = campaign;
      const nowMs = deps.now();
      if (nowMs < campaign.startsAtMs) throw refusal(RefusalReason.NOT_STARTED);
      if (nowMs >= campaign.endsAtMs) throw refusal(RefusalReason.ENDED);
      // Read here, in the transaction, not from the instance's copy: a pause takes effect on the very next reservation.
      if (campaign.paused === true) throw refusal(RefusalReason.PAUSED);
      if (soldOut(campaign)) throw refusal(RefusalReason.SOLD_OUT);
      const rateWindowStartMs = secondOf(nowMs);
      const sameWindow = campaign.rateWindowStartMs === rateWindowStartMs;
      if (sameWindow && campaign.rateWindowCount >= campaign.claimsPerSecond) throw tooManyCalls('campaign', rateWindowStartMs + 1_000 - nowMs);
      let amountFen: number;
      let slotIndex: number | null = null;
      // Once every slot is drawn, amounts that claims gave back (transfers closed unpaid) are offered again, oldest first.
      const fromReturned = campaign.claimedCount >= campaign.packetCount;
      if (fromReturned) amountFen = campaign.returnedAmountsFen[0]!;
      else if (campaign.amount.mode === 'fixed') amountFen = campaign.amount.amountFen;
      else {
        // Slot n belongs to whoever commits claimedCount n → n+1: the counter update makes the draw exclusive.
        slotIndex = campaign.claimedCount;
        const slot = await tx.get<SlotDoc>(COLLECTIONS.redPacketSlots, slotIdOf(campaignId, slotIndex));
        if (slot === null) throw refusal(RefusalReason.SOLD_OUT);
        amountFen = slot.amountFen;
      }
      const module = PAYOUTS[campaign.payout];
      const mchBillno = module.billnoFor(request.claimId, 1);
      const draft: ClaimDoc = {
        _id: request.claimId,
        campaignId,
        eligibility: campaign.eligibility,
        payout: campaign.payout,
        keys: [...request.keys],
        channel: request.channel,
        appId: request.payee.appId,
        openid: request.payee.openid,
        amountFen,
        slotIndex,
        sendName: '',
        wishing: '',
        actName: '',
        remark: '',
        sceneId: null,
        ...module.claimFields(campaign),
        attempt: 1,
        mchBillno,
        billnos: [mchBillno],
        billBody: null,
        status: 'SENDING',
        billnoUncertain: false,
        queryOnly: false,
        uncertainSinceMs: null,
        queryCount: 0,
        sendCount: 1,
        sendListid: null,
        package: null,
        wechatStatus: null,
        lastError: null,
        failedErrCode: null,
        heldReason: null,
        returnedAtMs: null,
        nextAttemptAtMs: nowMs,
        leaseOwner: request.leaseOwner,
        leaseUntilMs: nowMs + settings.claimLeaseMs,
        callWindowStartMs: minuteOf(nowMs),
        callCount: 1,
        createdAtMs: nowMs,
        updatedAtMs: nowMs,
        settledAtMs: null,
      };
      // The exact request of the first send is written with the claim, before anything is sent.
      const claim: ClaimDoc = { ...draft, ...deps.payouts[campaign.payout].billFields?.(draft) };
      await tx.insert(COLLECTIONS.redPacketClaims, claim as unknown as ClaimDoc & Record<string, unknown>);
      for (const key of request.keys.slice(1)) {
        const keyDoc: ClaimKeyDoc = { _id: claimKeyIdOf(campaignId, key), campaignId, key, claimId: request.claimId, createdAtMs: nowMs };
        await tx.insert(COLLECTIONS.redPacketClaimKeys, { ...keyDoc });
      }
      const inc: Record<string, number> = fromReturned ? { claimedFen: amountFen } : { claimedCount: 1, claimedFen: amountFen };
      const set: Record<string, unknown> = fromReturned ? { returnedAmountsFen: campaign.returnedAmountsFen.slice(1) } : {};
      if (sameWindow) inc.rateWindowCount = 1;
      else Object.assign(set, { rateWindowStartMs, rateWindowCount: 1 });
      await tx.update(COLLECTIONS.redPacketCampaigns, campaignId, Object.keys(set).length === 0 ? { inc } : { inc, set });
      seen = {
        ...campaign,
        claimedCount: campaign.claimedCount + (fromReturned ? 0 : 1),
        returnedAmountsFen: fromReturned ? campaign.returnedAmountsFen.slice(1) : campaign.returnedAmountsFen,
        rateWindowStartMs,
        rateWindowCount: sameWindow ? campaign.rateWindowCount + 1 : 1,
      };
      return claim;
    }, RESERVATION_RETRIES);
    return { claim };
  } catch (error) {
    // Many people at once on one campaign's counters: tell this one to come back, like a rate limit.
    if (error instanceof TransactionConflictError) throw tooManyCalls('campaign', 500);
    if (!(error instanceof StoreError)) throw error;
    // Not a conflict: most likely an insert of a key that exists. Which one decides the answer.
    const existing = await findExisting(deps, campaignId, request);
    if (existing === null) throw error;
    // Our own reservation, committed although its answer was lost (a timeout): nothing was sent with it yet.
    if (existing.leaseOwner === request.leaseOwner && existing.status === 'SENDING' && existing.sendCount === 1) return { claim: existing };
    return { existing };
  } finally {
    // The hints of this instance follow what the transaction saw (sold out, the rate window).
    if (seen !== null) deps.memory.refreshCampaign(seen);
  }
}

/** The claim a failed reservation ran into: the person's own, or a refusal when another identity of theirs holds one. */
async function findExisting(deps: ClaimDeps, campaignId: string, request: ReservationRequest): Promise<ClaimDoc | null> {
  const own = await deps.store.get<ClaimDoc>(COLLECTIONS.redPacketClaims, request.claimId);
  if (own !== null) return readClaim(own);
  for (const key of request.keys.slice(1)) {
    if ((await deps.store.get<ClaimKeyDoc>(COLLECTIONS.redPacketClaimKeys, claimKeyIdOf(campaignId, key))) !== null) {
      throw refusal(RefusalReason.ALREADY_CLAIMED);
    }
  }
  return null;
}

/** A repeat call: counted against the person's calls per minute, then the settled answer or a drive of the open claim. */
async function repeatCall(deps: ClaimDeps, campaign: CampaignDoc, claim: ClaimDoc, leaseOwner: string): Promise<unknown> {
  deps.memory.rememberClaim(claim._id);
  await countCall(deps, claim, campaign.userCallsPerMinute);
  // A bill waiting for its user is answered as it is until its next look is due (the package again).
  if (SETTLED.has(claim.status) || (claim.status === 'WAITING' && claim.nextAttemptAtMs > deps.now())) return answer(deps, claim);
  const leased = await acquireLease(deps, claim, leaseOwner, {});
  if (leased === null) throw refusal(RefusalReason.CLAIM_IN_PROGRESS);
  return answer(deps, await driveAndRelease(deps, leased, leaseOwner, USER_BUDGET, { fresh: false }));
}

/** Counts one call of the person in the claim's minute window (a conditional update, so instances together keep the limit). */
async function countCall(deps: ClaimDeps, claim: ClaimDoc, limit: number): Promise<void> {
  const nowMs = deps.now();
  const windowStartMs = minuteOf(nowMs);
  const collection = COLLECTIONS.redPacketClaims;
  // A new minute: restart the count, compare-and-set on the window the claim was read with (a claim
  // stored before calls were counted on it has no window: any other value matches it).
  const readWindow = claim.callWindowStartMs === 0 ? { neq: windowStartMs } : claim.callWindowStartMs;
  if (claim.callWindowStartMs !== windowStartMs
    && (await deps.store.update(collection, { _id: claim._id, callWindowStartMs: readWindow }, { set: { callWindowStartMs: windowStartMs, callCount: 1 } })) === 1) {
    return;
  }
  if ((await deps.store.update(collection, { _id: claim._id, callWindowStartMs: windowStartMs, callCount: { lt: limit } }, { inc: { callCount: 1 } })) === 1) return;
  throw tooManyCalls('user', windowStartMs + 60_000 - nowMs);
}

// ───────────────────────── the drive ─────────────────────────

interface Drive {
  deps: ClaimDeps;
  owner: string;
  payout: Payout;
  deadlineMs: number;
  maxSends: number;
  sends: number;
  alerts: Set<string> | undefined;
}

/** How a send is made: right after the reservation (already SENDING), from RESERVED, a resend of an uncertain billno, or to fetch a paid packet's package. */
type SendMode = 'fresh' | 'send' | 'resend' | 'recover';

async function driveAndRelease(
  deps: ClaimDeps,
  claim: ClaimDoc,
  owner: string,
  budget: { maxSends: number; driveMs: number },
  options: { fresh: boolean; alerts?: Set<string> },
): Promise<ClaimDoc> {
  const nowMs = deps.now();
  const drive: Drive = {
    deps,
    owner,
    payout: deps.payouts[claim.payout],
    deadlineMs: Math.min(nowMs + budget.driveMs, nowMs + deps.settings.claimLeaseMs - LEASE_MARGIN_MS),
    maxSends: budget.maxSends,
    sends: 0,
    alerts: options.alerts,
  };
  let after = claim;
  try {
    after = await driveClaim(drive, claim, options.fresh);
    return after;
  } finally {
    // Settled claims gave the lease back in their last write; the others give it back now.
    if (after.leaseOwner === owner) {
      await releaseLease(deps, claim._id, owner).catch((error: unknown) => {
        // The lease runs out by itself; the claim is safe either way.
        deps.log.warn('could not release a claim lease', { claimId: claim._id, error });
      });
    }
  }
}

/** Drives the claim until settled, out of budget, or no longer ours; returns its latest state. */
async function driveClaim(drive: Drive, start: ClaimDoc, fresh: boolean): Promise<ClaimDoc> {
  const { deps, owner } = drive;
  let claim = start;
  if (fresh) claim = await sendStep(drive, claim, 'fresh');
  for (let step = 0; step < MAX_STEPS; step += 1) {
    if (SETTLED.has(claim.status) || claim.leaseOwner !== owner) return claim;
    const nowMs = deps.now();
    if (claim.nextAttemptAtMs > nowMs) {
      // Only wait when the wait fits; otherwise the reconciler continues at nextAttemptAtMs.
      if (claim.nextAttemptAtMs > drive.deadlineMs - 1_000) return claim;
      await deps.sleep(claim.nextAttemptAtMs - nowMs);
      continue;
    }
    if (nowMs >= drive.deadlineMs) return claim;
    if (claim.status === 'RESERVED') {
      if (drive.sends >= drive.maxSends) return claim;
      claim = await sendStep(drive, claim, 'send');
      continue;
    }
    // SENDING (its driver stopped mid-send) or UNKNOWN: this billno may have been paid. Ask first.
    const next = await afterQuery(drive, claim, await drive.payout.query(claim));
    claim = next.claim;
    if (next.send === undefined) continue;
    if (drive.sends >= drive.maxSends) return claim;
    claim = await sendStep(drive, claim, next.send);
  }
  return claim;
}

/** One send with the claim's current billno: pace, persist SENDING (unless the reservation did), send, persist the outcome. */
async function sendStep(drive: Drive, claim: ClaimDoc, mode: SendMode): Promise<ClaimDoc> {
  const { deps, owner, payout } = drive;
  drive.sends += 1;
  const maxWaitMs = Math.max(0, Math.min(5_000, drive.deadlineMs - deps.now() - LEASE_MARGIN_MS));
  if (!(await waitForSendSlot(deps.store, payout.pacingKey, payout.sendsPerSecond ?? deps.settings.sendsPerSecond, { now: deps.now, maxWaitMs }))) {
    deps.log.warn('no send slot in time', { claimId: claim._id });
    // Nothing was sent: the reservation's SENDING goes back to RESERVED, the truth; other states stay as they are.
    const nextAttemptAtMs = deps.now() + NO_SLOT_RETRY_MS;
    return settleOr(drive, claim, await transition(drive, claim, mode === 'fresh'
      ? { set: { status: 'RESERVED', nextAttemptAtMs }, inc: { sendCount: -1 } }
      : { set: { nextAttemptAtMs } }));
  }
  // What was known before this send: a failure answer counts only for a billno that cannot have been paid.
  const uncertainBefore = mode === 'resend' || mode === 'recover' || claim.billnoUncertain;
  let sending = claim;
  if (mode !== 'fresh') {
    // Persisted before the call: from here on a crash leaves SENDING, which means "ask before resending".
    const next = await transition(drive, claim, {
      set: { status: 'SENDING', billnoUncertain: uncertainBefore, uncertainSinceMs: uncertainBefore ? claim.uncertainSinceMs ?? deps.now() : null },
      inc: { sendCount: 1 },
    });
    if (next === null) return settleOr(drive, claim, null);
    sending = next;
  }
  const reply = await payout.send(sending);
  if (reply.outcome === Outcome.PAID) return settleOr(drive, sending, await settle(drive, sending, 'SENT', reply));
  // What the bill itself is (a transfer's state in a verified answer), not a failure of this request: believed whatever came before.
  if (reply.outcome === Outcome.RECEIVED) return settleOr(drive, sending, await settle(drive, sending, 'RECEIVED', reply));
  if (reply.outcome === Outcome.WAITING) return settleOr(drive, sending, await waiting(drive, sending, reply));
  if (reply.outcome === Outcome.CLOSED) return settleOr(drive, sending, await close(drive, sending, reply));
  deps.log.warn('red packet send failed', { claimId: claim._id, code: reply.code, outcome: reply.outcome, attempt: claim.attempt, mode });
  await countPayError(deps.store, deps.log, claim.campaignId, reply.code, deps.now());
  raise(drive, claim, reply);
  if (mode === 'recover') {
    // The packet is paid (gethbinfo said so) and this resend was meant to bring its package back.
    if (reply.transient) return settleOr(drive, sending, await toUnknown(drive, sending, reply, {}));
    return settleOr(drive, sending, await hold(drive, sending,
      `WeChat paid this packet (gethbinfo ${sending.wechatStatus ?? 'SENT'}) but answered ${reply.code} to the resend that fetches its package, ` +
      'so the user cannot open it. Nothing more is sent. WeChat refunds an unopened packet 24 h after sending; after that, ' +
      `\`campaign.ts reissue ${sending._id}\` gives the user a new packet.`));
  }
  if (uncertainBefore) {
    // A failure answered for a billno that may already be paid proves nothing (WeChat may answer a
    // resend of a paid billno with SEND_FAILED or any code): only gethbinfo decides from here.
    const contradicts = reply.outcome === Outcome.NOT_PAID || reply.outcome === Outcome.FINAL;
    return settleOr(drive, sending, await toUnknown(drive, sending, reply, { queryOnly: sending.queryOnly || contradicts }));
  }
  switch (reply.outcome) {
    case Outcome.NOT_PAID:
      return settleOr(drive, sending, await newBillno(deps, sending, owner, reply.code));
    case Outcome.FINAL:
      return settleOr(drive, sending, await transition(drive, sending, {
        set: { status: 'FAILED', failedErrCode: reply.code, lastError: reply.code, settledAtMs: deps.now(), leaseOwner: null, leaseUntilMs: 0 },
      }));
    case Outcome.REFUSED:
      // Refused before anything happened: the billno is as certain as before.
      return settleOr(drive, sending, await transition(drive, sending, {
        set: { status: 'RESERVED', lastError: reply.alert ?? reply.code, nextAttemptAtMs: deps.now() + reply.retryAfterMs },
      }));
    default:
      return settleOr(drive, sending, await toUnknown(drive, sending, reply, {}));
  }
}

/** What a query's answer means: the next state, and the kind of send to make next, if any. */
async function afterQuery(drive: Drive, claim: ClaimDoc, reply: PayoutReply): Promise<{ claim: ClaimDoc; send?: 'resend' | 'recover' }> {
  const { deps, owner, payout } = drive;
  raise(drive, claim, reply);
  const next = async (written: ClaimDoc | null): Promise<{ claim: ClaimDoc }> => ({ claim: await settleOr(drive, claim, written) });
  switch (reply.outcome) {
    case Outcome.PAID:
    case Outcome.RECEIVED:
    case Outcome.REFUNDED: {
      if (!payout.lacksDelivery(claim)) return next(await settle(drive, claim, reply.outcome === Outcome.RECEIVED ? 'RECEIVED' : 'SENT', reply));
      if (reply.outcome === Outcome.REFUNDED) {
        return next(await hold(drive, claim,
          `WeChat paid this packet but its package never reached us, and it has been refunded (gethbinfo ${reply.code}). ` +
          `\`campaign.ts reissue ${claim._id}\` gives the user a new packet.`));
      }
      // Paid, but the user needs the package only a send reply carries: the same billno again.
      const noted = await transition(drive, claim, { set: { wechatStatus: reply.code } });
      return noted === null ? next(null) : { claim: noted, send: 'recover' };
    }
    case Outcome.WAITING: {
      // The bill waits for the person, but only the identical request gives back what they need.
      const noted = await waiting(drive, claim, reply);
      if (noted === null || reply.refetch === undefined || claim.queryOnly) return next(noted);
      return { claim: noted, send: 'resend' };
    }
    case Outcome.CLOSED:
      return next(await close(drive, claim, reply));
    case Outcome.NOT_PAID:
      return next(await newBillno(deps, claim, owner, `gethbinfo ${reply.code}`));
    case Outcome.NOT_FOUND:
      // "NOT_FOUND: the send may still be in flight… resend with the same billno" (reference §7) — unless
      // a resend already got a failure answer: then WeChat's query has to catch up, however long it lags.
      if (!claim.queryOnly) return { claim, send: 'resend' };
      return next(await inconclusive(drive, claim, reply));
    default:
      return next(await inconclusive(drive, claim, reply));
  }
}

/** A query that settled nothing: UNKNOWN, and the next one later (exponential back-off). */
async function inconclusive(drive: Drive, claim: ClaimDoc, reply: PayoutReply): Promise<ClaimDoc | null> {
  const nowMs = drive.deps.now();
  const backoffMs = Math.min(QUERY_BACKOFF_MS.max, QUERY_BACKOFF_MS.first * 2 ** Math.min(claim.queryCount, 16));
  if (isUncertainForLong(claim, nowMs)) {
    drive.deps.log.error('claim uncertain for long: WeChat has not said whether its billno was paid', {
      claimId: claim._id, mchBillno: claim.mchBillno, uncertainSinceMs: claim.uncertainSinceMs, lastAnswer: reply.code,
    });
  }
  return transition(drive, claim, {
    set: {
      status: 'UNKNOWN',
      billnoUncertain: true,
      uncertainSinceMs: claim.uncertainSinceMs ?? nowMs,
      lastError: reply.alert ?? reply.code,
      nextAttemptAtMs: nowMs + Math.max(reply.retryAfterMs, backoffMs),
    },
    inc: { queryCount: 1 },
  });
}

/** After a send whose outcome is not known (or not believed): UNKNOWN, and a query next. */
async function toUnknown(drive: Drive, claim: ClaimDoc, reply: PayoutReply, options: { queryOnly?: boolean }): Promise<ClaimDoc | null> {
  const nowMs = drive.deps.now();
  return transition(drive, claim, {
    set: {
      status: 'UNKNOWN',
      billnoUncertain: true,
      uncertainSinceMs: claim.uncertainSinceMs ?? nowMs,
      lastError: options.queryOnly && !claim.queryOnly
        ? `${reply.code} answered for a billno that may already be paid: only gethbinfo decides now`
        : reply.alert ?? reply.code,
      nextAttemptAtMs: nowMs + reply.retryAfterMs,
      ...(options.queryOnly === undefined ? {} : { queryOnly: options.queryOnly }),
    },
  });
}

/** Paid: the final write, which also gives the lease back (the same write a notify makes, ./settlement.ts). */
async function settle(drive: Drive, claim: ClaimDoc, status: 'SENT' | 'RECEIVED', reply: PayoutReply): Promise<ClaimDoc | null> {
  const settled = await transition(drive, claim, paidPatch(claim, status, reply.receipt ?? {}, drive.deps.now()));
  // Open claims only reach here (SENT and RECEIVED are settled): each claim is counted paid once.
  if (settled !== null) await countFunnel(drive.deps.store, drive.deps.log, claim.campaignId, claim.channel, { stage: 'paid' }, drive.deps.now());
  return settled;
}

/**
 * The bill exists and is not final (a transfer waiting for its user): the same number, looked at
 * again when the payout says. Not uncertain for the operator's alarms: WeChat said where it is.
 */
async function waiting(drive: Drive, claim: ClaimDoc, reply: PayoutReply): Promise<ClaimDoc | null> {
  const receipt = reply.receipt ?? {};
  raise(drive, claim, reply);
  const nextAttemptAtMs = drive.deps.now() + reply.retryAfterMs;
  // Nothing more for this drive to do (no re-send, the next look after its deadline): the lease goes back in the same write.
  const ends = reply.refetch === undefined && nextAttemptAtMs > drive.deadlineMs - 1_000;
  return transition(drive, claim, {
    set: {
      status: 'WAITING',
      wechatStatus: receipt.wechatStatus ?? claim.wechatStatus,
      sendListid: receipt.orderId ?? claim.sendListid,
      package: receipt.package ?? claim.package,
      // It may still pay (the user may confirm): no failure answer to a send of it proves anything.
      billnoUncertain: true,
      uncertainSinceMs: null,
      lastError: reply.alert ?? null,
      nextAttemptAtMs,
      ...(ends ? { leaseOwner: null, leaseUntilMs: 0 } : {}),
    },
    inc: { queryCount: 1 },
  });
}

/** WeChat said the bill can never pay: FAILED, its amount back to the campaign, in one transaction (./settlement.ts). */
async function close(drive: Drive, claim: ClaimDoc, reply: PayoutReply): Promise<ClaimDoc | null> {
  raise(drive, claim, reply);
  drive.deps.log.warn('claim closed unpaid, its amount given back', { claimId: claim._id, code: reply.code, amountFen: claim.amountFen });
  const closed = await closeClaim(drive.deps.store, claim, {
    code: reply.code,
    wechatStatus: reply.receipt?.wechatStatus ?? null,
    orderId: reply.receipt?.orderId ?? null,
    nowMs: drive.deps.now(),
  }, { leaseOwner: drive.owner });
  if (closed === null) drive.deps.log.warn('claim changed under its lease holder', { claimId: claim._id });
  return closed;
}

/** Paid, but not deliverable: held for the operator, logged as an error. */
async function hold(drive: Drive, claim: ClaimDoc, reason: string): Promise<ClaimDoc | null> {
  drive.deps.log.error('red packet held for the operator', { claimId: claim._id, mchBillno: claim.mchBillno, reason });
  drive.alerts?.add(`claim ${claim._id} is HELD: ${reason}`);
  return transition(drive, claim, { set: { status: 'HELD', heldReason: reason, lastError: reason, leaseOwner: null, leaseUntilMs: 0 } });
}

/** After WeChat said this billno failed: attempt+1 and its billno, persisted before any send with it. */
async function newBillno(deps: ClaimDeps, claim: ClaimDoc, owner: string, lastError: string): Promise<ClaimDoc | null> {
  const attempt = claim.attempt + 1;
  const mchBillno = PAYOUTS[claim.payout].billnoFor(claim._id, attempt);
  return transitionAs(deps, owner, claim, {
    set: {
      status: 'RESERVED', attempt, mchBillno, billnos: [...claim.billnos, mchBillno], billnoUncertain: false, queryOnly: false,
      uncertainSinceMs: null, queryCount: 0, heldReason: null, lastError, nextAttemptAtMs: deps.now(),
    },
  });
}

/** Logs what the operator must do, once per drive run. */
function raise(drive: Drive, claim: ClaimDoc, reply: PayoutReply): void {
  if (reply.alert === undefined) return;
  drive.deps.log.error('red packet needs the operator', { claimId: claim._id, code: reply.code, alert: reply.alert });
  drive.alerts?.add(reply.alert);
}

/** The state after a step: the written one, or (the claim changed under us) the stored one, which ends the drive. */
async function settleOr(drive: Drive, claim: ClaimDoc, next: ClaimDoc | null): Promise<ClaimDoc> {
  if (next !== null) return next;
  return loadClaim(drive.deps.store, claim._id);
}

function transition(drive: Drive, claim: ClaimDoc, patch: Patch): Promise<ClaimDoc | null> {
  return transitionAs(drive.deps, drive.owner, claim, patch);
}

/**
 * A compare-and-set on the claim: applies only while `owner` holds the lease and nobody moved the
 * status or attempt. Returns the new state, or null when the claim is no longer ours.
 */
async function transitionAs(deps: ClaimDeps, owner: string, claim: ClaimDoc, patch: Patch): Promise<ClaimDoc | null> {
  const set = { ...patch.set, updatedAtMs: deps.now() };
  const changed = await deps.store.update(
    COLLECTIONS.redPacketClaims,
    { _id: claim._id, leaseOwner: owner, status: claim.status, attempt: claim.attempt },
    { ...patch, set },
  );
  if (changed !== 1) {
    deps.log.warn('claim changed under its lease holder', { claimId: claim._id });
    return null;
  }
  const next = { ...claim, ...set } as ClaimDoc;
  for (const [field, amount] of Object.entries(patch.inc ?? {})) (next as unknown as Record<string, number>)[field] = ((claim as unknown as Record<string, number>)[field] ?? 0) + amount;
  return next;
}

/** Takes the lease of an unsettled claim nobody holds (or whose holder's lease ran out); the leased claim, or null. */
async function acquireLease(deps: ClaimDeps, claim: ClaimDoc, owner: string, extra: Record<string, unknown>): Promise<ClaimDoc | null> {
  const nowMs = deps.now();
  const set = { leaseOwner: owner, leaseUntilMs: nowMs + deps.settings.claimLeaseMs, ...extra };
  const changed = await deps.store.update(
    COLLECTIONS.redPacketClaims,
    { _id: claim._id, status: claim.status, attempt: claim.attempt, leaseUntilMs: { lt: nowMs } },
    { set },
  );
  return changed === 1 ? { ...claim, ...set } as ClaimDoc : null;
}

/** Gives the lease back, so the reconciler may pick the claim up at its next attempt time. */
async function releaseLease(deps: ClaimDeps, claimId: string, owner: string): Promise<void> {
  await deps.store.update(COLLECTIONS.redPacketClaims, { _id: claimId, leaseOwner: owner }, { set: { leaseOwner: null, leaseUntilMs: 0 } });
}

// ───────────────────────── the answer ─────────────────────────

/** The answer for a claim's current state: the payout's (paid or still open), or the refusal of a failed or held one. */
function answer(deps: ClaimDeps, claim: ClaimDoc): unknown {
  if (claim.status === 'FAILED') throw refusal(PAYOUTS[claim.payout].refusalFor(claim.failedErrCode));
  if (claim.status === 'HELD') throw refusal(RefusalReason.HELD);
  return deps.payouts[claim.payout].answer(claim, deps.now());
}

// ───────────────────────── this instance's memory ─────────────────────────

// Long enough to keep a warm instance off the campaign document, short enough for an operator's
// change of a future campaign kind to show within a minute; the transaction reads it fresh anyway.
const CAMPAIGN_TTL_MS = 60_000;
const MAX_REMEMBERED_CLAIMS = 50_000;

/**
 * Per-instance memory: campaign definitions (a definition never changes after creation; its
 * counters only grow, so a stale copy can only let a call through to the transaction, which
 * decides) and the claims this instance has seen (so a repeat call goes straight to its claim).
 */
export class ClaimMemory {
  private readonly campaigns = new Map<string, { campaign: CampaignDoc; region: BlockList | null; expiresAtMs: number }>();
  private readonly claims = new Set<string>();

  async campaign(store: DocumentStore, campaignId: string, nowMs: number, options: { fresh?: boolean } = {}): Promise<{ campaign: CampaignDoc; region: BlockList | null }> {
    const hit = this.campaigns.get(campaignId);
    if (hit !== undefined && hit.expiresAtMs > nowMs && options.fresh !== true) return hit;
    const stored = await store.get<CampaignDoc>(COLLECTIONS.redPacketCampaigns, campaignId);
    if (stored === null) throw new NotFoundError('No such campaign');
    const campaign = readCampaign(stored);
    const entry = { campaign, region: regionAllowList(campaign.allowedCidrs), expiresAtMs: nowMs + CAMPAIGN_TTL_MS };
    this.campaigns.set(campaignId, entry);
    return entry;
  }

  refreshCampaign(campaign: CampaignDoc): void {
    const hit = this.campaigns.get(campaign._id);
    if (hit !== undefined) hit.campaign = campaign;
  }

  knowsClaim(claimId: string): boolean {
    return this.claims.has(claimId);
  }

  rememberClaim(claimId: string): void {
    if (this.claims.size >= MAX_REMEMBERED_CLAIMS) this.claims.clear();
    this.claims.add(claimId);
  }
}

// ───────────────────────── helpers ─────────────────────────

/** A refusal of a new claim (not eligible, not linked, too many at once), as opposed to a failure. */
function isRefusal(error: unknown): boolean {
  return error instanceof NotEligibleError || error instanceof RateLimitedError || error instanceof AccountNotLinkedError;
}

async function loadClaim(store: DocumentStore, claimId: string): Promise<ClaimDoc> {
  const claim = await store.get<ClaimDoc>(COLLECTIONS.redPacketClaims, claimId);
  if (claim === null) throw new NotFoundError(`No claim ${claimId}`);
  return readClaim(claim);
}

/**
 * Campaigns stored before claim keys existed keyed a claim by unionid, else openid (`<id>:<key>`),
 * with no key documents: a person who claimed there is found under either id before anything new
 * is reserved (new claims get every key).
 */
async function legacyClaimOf(deps: ClaimDeps, campaignId: string, person: Person, miniProgramAppId: string): Promise<ClaimDoc | null> {
  for (const key of [person.unionid, person.openids[miniProgramAppId]]) {
    if (key === undefined) continue;
    const stored = await deps.store.get<ClaimDoc>(COLLECTIONS.redPacketClaims, claimIdOf(campaignId, key));
    if (stored !== null) return readClaim(stored);
  }
  return null;
}

/** No slot left to draw and nothing given back to offer again. */
function soldOut(campaign: CampaignDoc): boolean {
  return campaign.claimedCount >= campaign.packetCount && campaign.returnedAmountsFen.length === 0;
}

function secondOf(ms: number): number {
  return Math.floor(ms / 1_000) * 1_000;
}

function minuteOf(ms: number): number {
  return Math.floor(ms / 60_000) * 60_000;
}
