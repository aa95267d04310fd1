import { setTimeout as sleep } from 'node:timers/promises';
import { mchBillnoFor } from '../../shared/claims/payout/redpacket';
import type { ClaimDoc } from '../../shared/claims/model';
import { ADMIN, adminDb, callFunction, LOCAL_ACCOUNT, startTestStack, type Stack, type TestCaller } from '../helpers/stack';
import {
  claim, claimIdFor, claimsOf, expectPaidEqualsClaimed, ledger, linkedCashUser, mpUser, openCampaign, payControl,
} from '../integration/redpacket/support';

const SENDREDPACK = '/mmpaymkttransfers/sendredpack';
const SENDMINIPROGRAMHB = '/mmpaymkttransfers/sendminiprogramhb';
const GETHBINFO = '/mmpaymkttransfers/gethbinfo';
// More than one user call's retries, so the fault outlives the call and the reconciler meets the claim.
const PERSISTENT = 20;
// The local CloudBase's wait for a document locked by a transaction (scripts/local/cloudbase lockWaitMs default).
const LOCK_WAIT_MS = 5_000;

type Kind = 'cash' | 'miniprogram';
interface Scenario {
  case: string;
  kind: Kind;
  /** Faults on the first billno's path (send), plus optional gethbinfo faults. */
  faults: Array<Record<string, unknown>>;
  queryFaults?: Array<Record<string, unknown>>;
  /** The billno attempt that ends up paid (2 after SEND_FAILED). */
  paidAttempt?: number;
}

// Each injected fault at the step it hits. "Before the call": WeChat never handled the request.
// "Accepted": WeChat created and paid the packet, then the reply lied or never came.
const SCENARIOS: Scenario[] = [
  { case: 'SYSTEMERROR before acceptance, persisting', kind: 'cash', faults: [{ errCode: 'SYSTEMERROR', times: PERSISTENT }] },
  { case: 'a dropped connection before acceptance, persisting', kind: 'cash', faults: [{ drop: true, times: PERSISTENT }] },
  { case: 'an unparseable reply before acceptance, persisting', kind: 'cash', faults: [{ unparseable: true, times: PERSISTENT }] },
  { case: 'a timeout whose request WeChat handles late', kind: 'cash', faults: [{ delayMs: 2_500 }] },
  { case: 'FREQ_LIMIT once', kind: 'cash', faults: [{ errCode: 'FREQ_LIMIT' }] },
  { case: 'NOTENOUGH until the balance is topped up', kind: 'cash', faults: [{ errCode: 'NOTENOUGH', times: PERSISTENT }] },
  { case: 'PROCESSING without acceptance, persisting', kind: 'cash', faults: [{ errCode: 'PROCESSING', times: PERSISTENT }] },
  { case: 'an unknown err_code, persisting', kind: 'cash', faults: [{ errCode: 'WEIRD_NEW_CODE', times: PERSISTENT }] },
  { case: 'SEND_FAILED (a new billno is allowed)', kind: 'cash', faults: [{ errCode: 'SEND_FAILED' }], paidAttempt: 2 },
  { case: 'accepted, then the connection drops', kind: 'cash', faults: [{ accept: true, drop: true, times: PERSISTENT }] },
  { case: 'accepted, then SYSTEMERROR', kind: 'cash', faults: [{ accept: true, errCode: 'SYSTEMERROR', times: PERSISTENT }] },
  { case: 'accepted, then an unparseable reply', kind: 'cash', faults: [{ accept: true, unparseable: true, times: PERSISTENT }] },
  { case: 'accepted, then PROCESSING', kind: 'cash', faults: [{ accept: true, errCode: 'PROCESSING' }] },
  {
    case: 'accepted, then dropped, and gethbinfo unreachable',
    kind: 'cash',
    faults: [{ accept: true, drop: true, times: PERSISTENT }],
    queryFaults: [{ drop: true, times: PERSISTENT }],
  },
  { case: 'accepted, then dropped (mini-program: the package must be fetched again)', kind: 'miniprogram', faults: [{ accept: true, drop: true, times: PERSISTENT }] },
  { case: 'SYSTEMERROR before acceptance (mini-program)', kind: 'miniprogram', faults: [{ errCode: 'SYSTEMERROR', times: PERSISTENT }] },
  { case: 'SEND_FAILED (mini-program)', kind: 'miniprogram', faults: [{ errCode: 'SEND_FAILED' }], paidAttempt: 2 },
];

const CAMPAIGN = { cash: 'faults-cash', miniprogram: 'faults-mp' } as const;

describe('the fault matrix: every fault at every step, then the reconciler', () => {
  let stack: Stack;
  const expectedPaid: Array<{ campaignId: string; claimId: string; attempt: number }> = [];

  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 8, redPacket: { claimLeaseMs: 5_000, payTimeoutMs: 1_000 } });
    await openCampaign(stack, { id: CAMPAIGN.cash, kind: 'cash', budgetFen: 40_000, amount: { minFen: 100, maxFen: 600, count: 100 } });
    await openCampaign(stack, { id: CAMPAIGN.miniprogram, budgetFen: 10_000, amount: { fixedFen: 100 } });
  });
  afterAll(() => stack.close());

  async function userFor(kind: Kind, name: string): Promise<{ caller: TestCaller; name: string }> {
    if (kind === 'miniprogram') return { caller: mpUser(name), name };
    const { caller } = await linkedCashUser(stack, name);
    return { caller, name };
  }

  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
    for (let i = 0; i < 200; i += 1) {
      const value = await probe();
      if (value !== undefined) return value;
      await sleep(25);
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  async function claimDoc(campaignId: string, claimId: string): Promise<ClaimDoc | undefined> {
    return (await claimsOf(stack, campaignId)).find((doc) => doc._id === claimId);
  }

  it('survives each fault before the call and after acceptance with nothing paid twice', async () => {
    const outcomes = await Promise.all(SCENARIOS.map(async (scenario, index) => {
      const campaignId = CAMPAIGN[scenario.kind];
      const { caller, name } = await userFor(scenario.kind, `fault${index}`);
      const claimId = claimIdFor(campaignId, name);
      const path = scenario.kind === 'cash' ? SENDREDPACK : SENDMINIPROGRAMHB;
      for (const fault of scenario.faults) await payControl(stack, 'POST', 'faults', { path, mchBillno: mchBillnoFor(claimId, 1), ...fault });
      for (const fault of scenario.queryFaults ?? []) await payControl(stack, 'POST', 'faults', { path: GETHBINFO, mchBillno: mchBillnoFor(claimId, 1), ...fault });
      expectedPaid.push({ campaignId, claimId, attempt: scenario.paidAttempt ?? 1 });
      return { case: scenario.case, result: await claim(stack, campaignId, caller) };
    }));
    // Whatever the user was told, it was a success or "still being sent", never a wrong final answer.
    for (const { result } of outcomes) {
      expect(result.ok ? 'ok' : result.error.code).toMatch(/^(ok|UPSTREAM_BUSY)$/);
    }
    // Every fault did fire: the sandbox answered each injected outcome at least once.
    const { replies } = await payControl(stack, 'GET', 'stats');
    for (const outcome of ['SYSTEMERROR', 'DROPPED', 'UNPARSEABLE', 'FREQ_LIMIT', 'NOTENOUGH', 'PROCESSING', 'WEIRD_NEW_CODE', 'SEND_FAILED']) {
      expect(replies[SENDREDPACK]?.[outcome]).toBeGreaterThan(0);
    }
    expect(replies[GETHBINFO]?.DROPPED).toBeGreaterThan(0);
    expect(replies[SENDMINIPROGRAMHB]?.DROPPED).toBeGreaterThan(0);
  });

  it('survives the worker being killed mid-send, before and after WeChat accepted', async () => {
    for (const [index, fault] of [{ accept: true, delayMs: 3_000 }, { accept: false, delayMs: 1_500 }].entries()) {
      const { caller, name } = await userFor('cash', `killed${index}`);
      const claimId = claimIdFor(CAMPAIGN.cash, name);
      await payControl(stack, 'POST', 'faults', { path: SENDREDPACK, mchBillno: mchBillnoFor(claimId, 1), ...fault });
      expectedPaid.push({ campaignId: CAMPAIGN.cash, claimId, attempt: 1 });
      const call = claim(stack, CAMPAIGN.cash, caller);
      await waitFor('the send to be in flight', async () => ((await claimDoc(CAMPAIGN.cash, claimId))?.status === 'SENDING' ? true : undefined));

      expect(stack.host.killBusy('sendRedPacket')).toBe(1);

      await expect(call).rejects.toThrow(/answered 502/);
    }
  });

  it('survives the worker dying after the reply but before the claim is updated', async () => {
    const { caller, name } = await userFor('cash', 'afterreply');
    const claimId = claimIdFor(CAMPAIGN.cash, name);
    const billno = mchBillnoFor(claimId, 1);
    // The reply is held back long enough to lock the claim document, so the update after it waits on the lock.
    await payControl(stack, 'POST', 'faults', { path: SENDREDPACK, mchBillno: billno, accept: true, delayMs: 800 });
    expectedPaid.push({ campaignId: CAMPAIGN.cash, claimId, attempt: 1 });
    const call = claim(stack, CAMPAIGN.cash, caller);
    await waitFor('the send to be in flight', async () => ((await claimDoc(CAMPAIGN.cash, claimId))?.status === 'SENDING' ? true : undefined));
    const lock = await adminDb(stack).startTransaction();
    await lock.collection('rp_claims').doc(claimId).update({ lockedByTest: true });
    await waitFor('WeChat to pay', async () => ((await ledger(stack)).some((packet) => packet.mchBillno === billno) ? true : undefined));
    const repliesBefore = (await payControl(stack, 'GET', 'stats')).replies[SENDREDPACK]?.SUCCESS ?? 0;
    await waitFor('the reply', async () => (((await payControl(stack, 'GET', 'stats')).replies[SENDREDPACK]?.SUCCESS ?? 0) > repliesBefore ? true : undefined));
    await sleep(200);

    expect(stack.host.killBusy('sendRedPacket')).toBe(1);

    await expect(call).rejects.toThrow(/answered 502/);
    // The dead worker's update already reached the database and waits there on the lock; hold the
    // lock until the database gives up on it (5 s), so the update is lost as if it was never sent.
    await sleep(LOCK_WAIT_MS + 300);
    await lock.rollback();
    expect(await claimDoc(CAMPAIGN.cash, claimId)).toMatchObject({ status: 'SENDING' });
  });

  it('leaves, after the faults clear and the reconciler runs, paid = claimed with nothing twice and nothing lost', async () => {
    await payControl(stack, 'DELETE', 'faults');
    // One user asks again before the reconciler: the open claim is finished for them, with the same billno.
    const early = SCENARIOS.findIndex((scenario) => scenario.case.startsWith('SYSTEMERROR before acceptance, persisting'));
    await expect(claim(stack, CAMPAIGN.cash, (await userFor('cash', `fault${early}`)).caller)).resolves.toMatchObject({ ok: true, data: { status: 'SENT' } });
    // The killed workers' leases run out (claimLeaseMs), then the reconciler may take their claims.
    const all = [...await claimsOf(stack, CAMPAIGN.cash), ...await claimsOf(stack, CAMPAIGN.miniprogram)];
    const leaseEndMs = Math.max(0, ...all.map((doc) => doc.leaseUntilMs));
    await sleep(Math.max(0, leaseEndMs - Date.now() + 50));

    for (let run = 0; run < 5; run += 1) {
      const open = [...await claimsOf(stack, CAMPAIGN.cash), ...await claimsOf(stack, CAMPAIGN.miniprogram)]
        .filter((doc) => ['RESERVED', 'SENDING', 'UNKNOWN'].includes(doc.status));
      if (open.length === 0) break;
      await expect(callFunction(stack, 'sendRedPacket', { action: 'reconcile', ignoreBackoff: true }, ADMIN)).resolves.toMatchObject({ ok: true });
    }

    const cash = await expectPaidEqualsClaimed(stack, CAMPAIGN.cash);
    const mini = await expectPaidEqualsClaimed(stack, CAMPAIGN.miniprogram);
    const paidIds = [...cash.paid, ...mini.paid].map((doc) => doc._id).sort();
    expect(paidIds).toEqual(expectedPaid.map((expected) => expected.claimId).sort());
    const packets = [...cash.packets, ...mini.packets];
    for (const expected of expectedPaid) {
      // The billno that was paid is the one the claim was meant to end with; an earlier SEND_FAILED billno never was.
      const billnos = [1, 2, 3].map((attempt) => mchBillnoFor(expected.claimId, attempt));
      expect(packets.filter((packet) => billnos.includes(packet.mchBillno)).map((packet) => packet.mchBillno))
        .toEqual([mchBillnoFor(expected.claimId, expected.attempt)]);
    }
    const ledgerTotalFen = (await ledger(stack)).reduce((sum, packet) => sum + packet.amountFen, 0);
    const claimedTotalFen = [...cash.paid, ...mini.paid].reduce((sum, doc) => sum + doc.amountFen, 0);
    expect(ledgerTotalFen).toBe(claimedTotalFen);
    const merchant = (await payControl(stack, 'GET', 'merchants')).merchants.find((entry: { mchId: string }) => entry.mchId === LOCAL_ACCOUNT.mchId);
    expect(merchant.balanceFen).toBe(1_000_000 - claimedTotalFen);
  });
});
