/**
 * Claim reservation and claim leases. A reservation is one transaction over the campaign's
 * counters, the user's claim document (unique `_id` per campaign and user) and, for random
 * amounts, the next pre-generated slot: two concurrent claims by one user, or two claims for the
 * last packet, can never both commit. The claim carries its billno from the start.
 */
import { NotFoundError } from '../errors';
import type { DocumentStore } from '../store/port';
import { COLLECTIONS } from '../store/port';
import { mchBillnoFor } from './billno';
import { refusal, RefusalReason } from './errors';
import { claimIdOf, slotIdOf, type CampaignDoc, type ClaimDoc, type RedPacketKind, type SlotDoc } from './model';

/** Who is paid, decided before the reservation (identity from the platform, never from the client). */
export interface Payee {
  /** unionid when known, else the mini-program openid: one claim per person per campaign. */
  userKey: string;
  kind: RedPacketKind;
  /** wxappid: the mini-program or the official account. */
  appId: string;
  /** re_openid under `appId`. */
  openid: string;
}

/** Reserves a packet for `payee`; the new claim is RESERVED and leased to `leaseOwner`. */
export async function reserveClaim(
  store: DocumentStore,
  campaignId: string,
  payee: Payee,
  options: { nowMs: number; leaseOwner: string; leaseMs: number },
): Promise<ClaimDoc> {
  const claimId = claimIdOf(campaignId, payee.userKey);
  return store.transaction(async (tx) => {
    const campaign = await tx.get<CampaignDoc>(COLLECTIONS.redPacketCampaigns, campaignId);
    if (campaign === null) throw new NotFoundError('No such campaign');
    if ((await tx.get(COLLECTIONS.redPacketClaims, claimId)) !== null) throw refusal(RefusalReason.ALREADY_CLAIMED);
    if (campaign.claimedCount >= campaign.packetCount) throw refusal(RefusalReason.SOLD_OUT);
    let amountFen: number;
    let slotIndex: number | null = null;
    if (campaign.amount.mode === 'fixed') amountFen = campaign.amount.amountFen;
    else {
      // Slot n belongs to whoever commits claimedCount n → n+1: the counter update makes the draw exclusive.
      slotIndex = campaign.claimedCount;
      const slot = await tx.get<SlotDoc>(COLLECTIONS.redPacketSlots, slotIdOf(campaignId, slotIndex));
      if (slot === null) throw refusal(RefusalReason.SOLD_OUT);
      amountFen = slot.amountFen;
    }
    const mchBillno = mchBillnoFor(claimId, 1);
    const claim: ClaimDoc = {
      _id: claimId,
      campaignId,
      userKey: payee.userKey,
      kind: payee.kind,
      appId: payee.appId,
      openid: payee.openid,
      amountFen,
      slotIndex,
      sendName: campaign.sendName,
      wishing: campaign.wishing,
      actName: campaign.actName,
      remark: campaign.remark,
      sceneId: campaign.sceneId,
      attempt: 1,
      mchBillno,
      billnos: [mchBillno],
      status: 'RESERVED',
      sendCount: 0,
      sendListid: null,
      package: null,
      wechatStatus: null,
      lastError: null,
      failedErrCode: null,
      nextAttemptAtMs: options.nowMs,
      leaseOwner: options.leaseOwner,
      leaseUntilMs: options.nowMs + options.leaseMs,
      createdAtMs: options.nowMs,
      updatedAtMs: options.nowMs,
      settledAtMs: null,
    };
    await tx.insert(COLLECTIONS.redPacketClaims, claim as unknown as ClaimDoc & Record<string, unknown>);
    await tx.update(COLLECTIONS.redPacketCampaigns, campaignId, { inc: { claimedCount: 1, claimedFen: amountFen } });
    return claim;
  }, RESERVATION_RETRIES);
}

/**
 * Every claim of a campaign updates its one counter document, so concurrent reservations
 * conflict by design; first committer wins and the others start over. More runs than the
 * default keep a burst of claimers from being sent away while the packets last (~2 s at most).
 */
const RESERVATION_RETRIES = { maxAttempts: 25, backoffMs: 10 } as const;

/** Takes the lease of an unsettled claim nobody holds (or whose holder's lease ran out). */
export async function acquireClaimLease(
  store: DocumentStore,
  claim: ClaimDoc,
  options: { nowMs: number; leaseOwner: string; leaseMs: number },
): Promise<boolean> {
  const changed = await store.update(
    COLLECTIONS.redPacketClaims,
    { _id: claim._id, status: claim.status, attempt: claim.attempt, leaseUntilMs: { lt: options.nowMs } },
    { set: { leaseOwner: options.leaseOwner, leaseUntilMs: options.nowMs + options.leaseMs } },
  );
  return changed === 1;
}

/** Gives the lease back, so the reconciler may pick the claim up at its next attempt time. */
export async function releaseClaimLease(store: DocumentStore, claimId: string, leaseOwner: string): Promise<void> {
  await store.update(COLLECTIONS.redPacketClaims, { _id: claimId, leaseOwner }, { set: { leaseOwner: null, leaseUntilMs: 0 } });
}

/** A claim, or NotFound (a claim is never deleted, so this is a bug or a wrong id). */
export async function loadClaim(store: DocumentStore, claimId: string): Promise<ClaimDoc> {
  const claim = await store.get<ClaimDoc>(COLLECTIONS.redPacketClaims, claimId);
  if (claim === null) throw new NotFoundError(`No claim ${claimId}`);
  return claim;
}
