/**
 * Drives one claim to a settled state, under its lease: pace, persist SENDING, send with the
 * claim's billno, persist the outcome; after an uncertain outcome, ask gethbinfo before sending
 * again. The state is written before and after every Pay call, so a crash at any point leaves
 * a claim the reconciler can settle without paying twice:
 *
 *   RESERVED ──send──▶ SENDING ──▶ SENT | FAILED (final) | UNKNOWN
 *   UNKNOWN/SENDING ──gethbinfo──▶ SENT/RECEIVED | resend same billno (NOT_FOUND) | new billno (FAILED)
 *   SEND_FAILED / gethbinfo FAILED ──▶ RESERVED with attempt+1 and a new billno (the only way to get one)
 */
import type { Logger } from '../log';
import type { DocumentStore, Patch } from '../store/port';
import { COLLECTIONS } from '../store/port';
import { PayError } from '../pay/errors';
import { PayAction } from '../pay/policy';
import type { HbInfo, RedPacketPayClient, RedPacketSent } from '../pay/redpacket';
import { mchBillnoFor } from './billno';
import { waitForSendSlot } from './counters';
import { loadClaim } from './claims';
import type { ClaimDoc, ClaimStatus } from './model';

/** What the sender needs; the clock and sleep are injectable for tests. */
export interface SenderDeps {
  store: DocumentStore;
  pay: RedPacketPayClient;
  log: Logger;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  settings: SenderSettings;
}

/** Merchant-wide send settings. */
export interface SenderSettings {
  /** The merchant's send rate limit, shared by every instance (WeChat's default is 30/s). */
  sendsPerSecond: number;
  /** sendredpack's client_ip: the caller machine's IPv4 address. */
  clientIp: string;
}

/** How much one drive may do before it hands the claim back (the user is waiting, or the timer has a time limit). */
export interface DriveBudget {
  /** Send requests at most (queries are not counted). */
  maxSends: number;
  /** Wall-clock end; must lie inside the lease. */
  deadlineMs: number;
}

/**
 * Waits before the next step, per outcome. WeChat's shortest retry interval for one billno is
 * 1 s ("同笔订单最短重试时间 1s"); a balance problem needs a person, a config problem a deploy.
 */
export const RETRY_DELAYS_MS = {
  sameBillno: 1_000,
  query: 2_000,
  stillSending: 5_000,
  rateLimited: 1_000,
  balance: 60_000,
  config: 300_000,
} as const;

const SETTLED: ReadonlySet<ClaimStatus> = new Set(['SENT', 'RECEIVED', 'FAILED']);
// Each loop turn is a send or a query; the bound only stops a logic error from looping.
const MAX_STEPS = 16;

/** Whether the claim's outcome is final. */
export function isSettled(claim: ClaimDoc): boolean {
  return SETTLED.has(claim.status);
}

/** Drives the claim (leased to `owner`) until settled, out of budget, or no longer ours; returns its latest state. */
export async function driveClaim(deps: SenderDeps, claimId: string, owner: string, budget: DriveBudget): Promise<ClaimDoc> {
  let claim = await loadClaim(deps.store, claimId);
  let sends = 0;
  for (let step = 0; step < MAX_STEPS; step += 1) {
    if (isSettled(claim) || claim.leaseOwner !== owner) return claim;
    const nowMs = deps.now();
    if (claim.nextAttemptAtMs > nowMs) {
      // Only wait when the wait fits; otherwise the reconciler continues at nextAttemptAtMs.
      if (claim.nextAttemptAtMs > budget.deadlineMs - 1_000) return claim;
      await deps.sleep(claim.nextAttemptAtMs - nowMs);
      continue;
    }
    if (nowMs >= budget.deadlineMs) return claim;
    if (claim.status === 'RESERVED') {
      if (sends >= budget.maxSends) return claim;
      const next = await send(deps, claim, owner, budget);
      if (next === null) return loadClaim(deps.store, claimId);
      sends += 1;
      claim = next;
      continue;
    }
    // SENDING or UNKNOWN: a send with this billno may have been paid. Ask before sending again.
    const settled = await settleByQuery(deps, claim, owner);
    if (settled !== 'resend') {
      claim = settled;
      continue;
    }
    if (sends >= budget.maxSends) return claim;
    const next = await send(deps, claim, owner, budget);
    if (next === null) return loadClaim(deps.store, claimId);
    sends += 1;
    claim = next;
  }
  return claim;
}

/**
 * One send with the claim's current billno. Null when the claim changed under us (lease lost)
 * or no send slot was free in time; the claim is then left as it was.
 */
async function send(deps: SenderDeps, claim: ClaimDoc, owner: string, budget: DriveBudget): Promise<ClaimDoc | null> {
  const maxWaitMs = Math.max(0, Math.min(5_000, budget.deadlineMs - deps.now() - 2_000));
  if (!(await waitForSendSlot(deps.store, deps.pay.mchId, deps.settings.sendsPerSecond, { now: deps.now, maxWaitMs }))) {
    deps.log.warn('no send slot in time', { claimId: claim._id });
    return null;
  }
  // A broken certificate fails here, while the claim still says (truthfully) that nothing was sent.
  await deps.pay.prepare();
  // Persisted before the call: from here on a crash leaves SENDING, which means "ask before resending".
  const sending = await transition(deps, claim, owner, { set: { status: 'SENDING' }, inc: { sendCount: 1 } });
  if (sending === null) return null;

  let outcome: { sent: RedPacketSent } | { error: PayError };
  try {
    const request = {
      mchBillno: claim.mchBillno,
      appId: claim.appId,
      openid: claim.openid,
      amountFen: claim.amountFen,
      sendName: claim.sendName,
      wishing: claim.wishing,
      actName: claim.actName,
      remark: claim.remark,
      sceneId: claim.sceneId,
    };
    const sent = claim.kind === 'cash'
      ? await deps.pay.sendCash({ ...request, clientIp: deps.settings.clientIp })
      : await deps.pay.sendMiniProgram(request);
    outcome = { sent };
  } catch (error) {
    if (!(error instanceof PayError)) throw error;
    outcome = { error };
  }
  const nowMs = deps.now();
  if ('sent' in outcome) {
    return transition(deps, sending, owner, {
      set: {
        status: 'SENT',
        sendListid: outcome.sent.sendListid,
        package: outcome.sent.package ?? sending.package,
        wechatStatus: 'SENT',
        lastError: null,
        settledAtMs: nowMs,
      },
    });
  }
  return afterFailedSend(deps, sending, owner, outcome.error);
}

/** Persists what a FAIL (or no reply) means for the claim. */
async function afterFailedSend(deps: SenderDeps, claim: ClaimDoc, owner: string, error: PayError): Promise<ClaimDoc | null> {
  const nowMs = deps.now();
  const lastError = error.errCode ?? `${error.returnCode}: ${error.message}`;
  deps.log.warn('red packet send failed', { claimId: claim._id, errCode: error.errCode, action: error.action, attempt: claim.attempt });
  switch (error.action) {
    case PayAction.NEW_BILLNO:
      return newBillno(deps, claim, owner, lastError);
    case PayAction.FINAL:
      return transition(deps, claim, owner, {
        set: { status: 'FAILED', failedErrCode: error.errCode ?? 'UNKNOWN', lastError, settledAtMs: nowMs },
      });
    default: {
      const delayMs = error.action === PayAction.QUERY
        ? RETRY_DELAYS_MS.query
        : error.action === PayAction.FIX_CONFIG
          ? RETRY_DELAYS_MS.config
          : error.action === PayAction.BACKOFF_SAME_BILLNO
            ? error.errCode === 'NOTENOUGH' ? RETRY_DELAYS_MS.balance : RETRY_DELAYS_MS.rateLimited
            : RETRY_DELAYS_MS.sameBillno;
      if (error.action === PayAction.FIX_CONFIG) {
        deps.log.error('red packet refused for a configuration reason; held until fixed', { claimId: claim._id, errCode: error.errCode });
      }
      return transition(deps, claim, owner, { set: { status: 'UNKNOWN', lastError, nextAttemptAtMs: nowMs + delayMs } });
    }
  }
}

/** gethbinfo for the claim's billno: a settled claim, or 'resend' (same billno) when that is the next step. */
async function settleByQuery(deps: SenderDeps, claim: ClaimDoc, owner: string): Promise<ClaimDoc | 'resend'> {
  let info: HbInfo;
  try {
    info = await deps.pay.query(claim.mchBillno, claim.appId);
  } catch (error) {
    if (!(error instanceof PayError)) throw error;
    const delayMs = error.action === PayAction.FIX_CONFIG ? RETRY_DELAYS_MS.config : RETRY_DELAYS_MS.sameBillno;
    const next = await transition(deps, claim, owner, {
      set: { status: 'UNKNOWN', lastError: `gethbinfo ${error.errCode ?? error.returnCode}`, nextAttemptAtMs: deps.now() + delayMs },
    });
    return next ?? loadClaim(deps.store, claim._id);
  }
  const nowMs = deps.now();
  let next: ClaimDoc | null;
  switch (info.status) {
    // "NOT_FOUND: the send may still be in flight… resend with the same billno" (reference §7).
    case 'NOT_FOUND':
      return 'resend';
    case 'FAILED':
      next = await newBillno(deps, claim, owner, `gethbinfo FAILED ${info.reason ?? ''}`.trim());
      break;
    case 'SENDING':
      next = await transition(deps, claim, owner, {
        set: { status: 'UNKNOWN', wechatStatus: 'SENDING', nextAttemptAtMs: nowMs + RETRY_DELAYS_MS.stillSending },
      });
      break;
    default: {
      // Paid. A mini-program packet is useless to its user without the package, which only a
      // send reply carries: resend the same billno (WeChat answers the same packet again).
      if (claim.kind === 'miniprogram' && claim.package === null) return 'resend';
      next = await transition(deps, claim, owner, {
        set: {
          status: info.status === 'RECEIVED' ? 'RECEIVED' : 'SENT',
          wechatStatus: info.status,
          sendListid: claim.sendListid ?? info.detailId ?? null,
          lastError: null,
          settledAtMs: nowMs,
        },
      });
    }
  }
  return next ?? loadClaim(deps.store, claim._id);
}

/** After a definite "not paid" for the current billno: attempt+1 and its billno, persisted before any send with it. */
async function newBillno(deps: SenderDeps, claim: ClaimDoc, owner: string, lastError: string): Promise<ClaimDoc | null> {
  const attempt = claim.attempt + 1;
  const mchBillno = mchBillnoFor(claim._id, attempt);
  return transition(deps, claim, owner, {
    set: { status: 'RESERVED', attempt, mchBillno, billnos: [...claim.billnos, mchBillno], lastError, nextAttemptAtMs: deps.now() },
  });
}

/**
 * A compare-and-set on the claim: applies only while we hold the lease and nobody moved the
 * status or attempt. Returns the new state, or null when the claim is no longer ours.
 */
async function transition(deps: SenderDeps, claim: ClaimDoc, owner: string, patch: Patch): Promise<ClaimDoc | null> {
  const nowMs = deps.now();
  const set = { ...patch.set, updatedAtMs: nowMs };
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
