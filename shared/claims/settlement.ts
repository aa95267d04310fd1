/**
 * The writes that end a claim on WeChat's word about its bill, shared by the engine's drives (the
 * user's call, the reconciler: engine.ts) and the payout notifies (payNotify): the same patches,
 * whichever heard it first, each a compare-and-set on the claim as it was read, so hearing it twice
 * changes nothing. Nothing here calls WeChat: a notify handler carries no Pay client.
 *
 *   open claim ──WeChat: paid──▶ SENT / RECEIVED
 *   open claim ──WeChat: the bill ended unpaid for good (a transfer FAIL or CANCELLED)──▶ FAILED,
 *               and in the same transaction its amount goes back to the campaign (once: the
 *               transaction commits only on the claim as it was read)
 */
import { countFunnel } from './funnel';
import type { Logger } from '../log';
import { COLLECTIONS, type DocumentStore, type Patch, type Where } from '../store/port';
import { OPEN_CLAIM_STATUSES, readCampaign, readClaim, type CampaignDoc, type ClaimDoc, type PayoutName } from './model';

/** What WeChat returned about a bill. */
export interface BillReceipt {
  orderId?: string;
  package?: string;
  wechatStatus?: string;
}

/** The write that records a paid claim and gives its lease back. */
export function paidPatch(claim: ClaimDoc, status: 'SENT' | 'RECEIVED', receipt: BillReceipt, nowMs: number): Patch {
  return {
    set: {
      status,
      wechatStatus: receipt.wechatStatus ?? status,
      sendListid: claim.sendListid ?? receipt.orderId ?? null,
      package: receipt.package ?? claim.package,
      lastError: null,
      queryOnly: false,
      settledAtMs: nowMs,
      leaseOwner: null,
      leaseUntilMs: 0,
      updatedAtMs: nowMs,
    },
  };
}

/** The claim as it was read (status, attempt, number) and, for a drive, still leased by it: what a transition may change. */
export function claimGuard(claim: Pick<ClaimDoc, '_id' | 'status' | 'attempt' | 'mchBillno'>, leaseOwner?: string): Where {
  return { _id: claim._id, status: claim.status, attempt: claim.attempt, mchBillno: claim.mchBillno, ...(leaseOwner === undefined ? {} : { leaseOwner }) };
}

/** Why a bill ended unpaid: the code the user's refusal follows, and WeChat's last word on the bill. */
export interface ClaimClosing {
  code: string;
  wechatStatus: string | null;
  orderId: string | null;
  nowMs: number;
}

/**
 * Ends a claim whose bill WeChat said can never pay (FAILED), and gives its amount back to the
 * campaign for someone else, in one transaction. Returns the closed claim, or null when the claim
 * is no longer as `claim` (another driver, or a notify, moved it: nothing was written).
 */
export async function closeClaim(store: DocumentStore, claim: ClaimDoc, closing: ClaimClosing, guard: { leaseOwner?: string } = {}): Promise<ClaimDoc | null> {
  return store.transaction(async (tx) => {
    const stored = await tx.get<ClaimDoc>(COLLECTIONS.redPacketClaims, claim._id);
    if (stored === null) return null;
    const current = readClaim(stored);
    const unchanged = current.status === claim.status && current.attempt === claim.attempt && current.mchBillno === claim.mchBillno &&
      current.returnedAtMs === null && (guard.leaseOwner === undefined || current.leaseOwner === guard.leaseOwner);
    if (!unchanged) return null;
    const set = {
      status: 'FAILED' as const,
      failedErrCode: closing.code,
      lastError: closing.code,
      wechatStatus: closing.wechatStatus ?? current.wechatStatus,
      sendListid: current.sendListid ?? closing.orderId,
      billnoUncertain: false,
      uncertainSinceMs: null,
      queryOnly: false,
      settledAtMs: closing.nowMs,
      returnedAtMs: closing.nowMs,
      leaseOwner: null,
      leaseUntilMs: 0,
      updatedAtMs: closing.nowMs,
    };
    await tx.update(COLLECTIONS.redPacketClaims, claim._id, { set });
    const campaignDoc = await tx.get<CampaignDoc>(COLLECTIONS.redPacketCampaigns, current.campaignId);
    if (campaignDoc !== null) {
      const campaign = readCampaign(campaignDoc);
      await tx.update(COLLECTIONS.redPacketCampaigns, campaign._id, {
        inc: { claimedFen: -current.amountFen },
        set: { returnedAmountsFen: [...campaign.returnedAmountsFen, current.amountFen] },
      });
    }
    return { ...current, ...set };
  }, CLOSE_RETRIES);
}

// The campaign document is every reservation's hot spot: a closing claim may have to wait its turn.
const CLOSE_RETRIES = { maxAttempts: 25, backoffMs: 10 } as const;

/** A payout's notify, verified and decrypted by its handler: WeChat's final word on one bill. */
export interface BillNotice {
  payout: PayoutName;
  billno: string;
  /** Paid, or ended unpaid for good. */
  outcome: 'received' | 'closed';
  /** The code a closed claim keeps (a transfer's fail_reason, or CANCELLED); the state for a paid one. */
  code: string;
  wechatStatus: string;
  orderId: string;
  /** What the notify says was paid, to whom: checked against the claim. */
  amountFen: number;
  openid: string;
}

/** What recording a notify did. `recorded` and `already` are acknowledged; the others are refused and logged. */
export type NoticeResult = 'recorded' | 'already' | 'unknown-bill' | 'mismatch' | 'contradiction';

/**
 * Records a notify through the transitions the reconciler uses: only for the claim that owns the
 * bill number, only when the notify agrees with it (payout, amount, openid), and only from an open
 * state. A notify never pays: it records what WeChat already did. Hearing one twice, or after the
 * reconciler, changes nothing.
 */
export async function recordBillNotice(deps: { store: DocumentStore; log: Logger; now: () => number }, notice: BillNotice): Promise<NoticeResult> {
  const { store, log } = deps;
  for (let round = 0; round < 5; round += 1) {
    const found = (await store.find<ClaimDoc>(COLLECTIONS.redPacketClaims, { mchBillno: notice.billno }, { limit: 2 })).map(readClaim);
    const claim = found[0];
    if (claim === undefined || found.length > 1) {
      log.error('notify for a bill no claim holds', { billno: notice.billno, claims: found.length });
      return 'unknown-bill';
    }
    const mismatch = claim.payout !== notice.payout ? `payout ${claim.payout}`
      : claim.amountFen !== notice.amountFen ? `amount ${notice.amountFen} fen, the claim holds ${claim.amountFen}`
        : claim.openid !== notice.openid ? 'another openid' : null;
    if (mismatch !== null) {
      log.error('notify disagrees with its claim: nothing recorded', { claimId: claim._id, billno: notice.billno, mismatch });
      return 'mismatch';
    }
    if (!OPEN_CLAIM_STATUSES.includes(claim.status)) {
      const agrees = notice.outcome === 'received' ? claim.status === 'RECEIVED' || claim.status === 'SENT' : claim.status === 'FAILED';
      if (!agrees) log.error('notify contradicts a settled claim: nothing changed', { claimId: claim._id, status: claim.status, notice: notice.code });
      return agrees ? 'already' : 'contradiction';
    }
    const nowMs = deps.now();
    if (notice.outcome === 'received') {
      const patch = paidPatch(claim, 'RECEIVED', { orderId: notice.orderId, wechatStatus: notice.wechatStatus }, nowMs);
      if ((await store.update(COLLECTIONS.redPacketClaims, claimGuard(claim), patch)) === 1) {
        log.info('claim settled by notify', { claimId: claim._id, status: 'RECEIVED' });
        await countFunnel(store, log, claim.campaignId, claim.channel, { stage: 'paid' }, nowMs);
        return 'recorded';
      }
    } else if ((await closeClaim(store, claim, { code: notice.code, wechatStatus: notice.wechatStatus, orderId: notice.orderId, nowMs })) !== null) {
      log.info('claim closed by notify, its amount given back', { claimId: claim._id, code: notice.code, amountFen: claim.amountFen });
      return 'recorded';
    }
    // The claim moved between the read and the write (a drive of it): read it again.
  }
  throw new Error(`notify for bill ${notice.billno}: its claim kept changing`);
}
