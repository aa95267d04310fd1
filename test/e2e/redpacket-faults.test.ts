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

// How long the sandbox's gethbinfo answers NOT_FOUND for a paid packet, on its clock (advanced before the reconciler runs).
const LAG_MS = 60_000;

type Kind = 'cash' | 'miniprogram';
/** `SENT or HELD`: which of two requests WeChat handles first decides, and both outcomes pay once. */
type FinalStatus = 'SENT' | 'HELD' | 'SENT or HELD';
interface Scenario {
  case: string;
  kind: Kind;
  /** Faults on the first billno's path (send), plus optional gethbinfo faults. */
  faults: Array<Record<string, unknown>>;
  queryFaults?: Array<Record<string, unknown>>;
  /** How unkind the sandbox is for the first billno: its answer to a resend once paid, and gethbinfo's lag. */
  behaviour?: { paidResend: string; queryLagMs: number };
  /** The billno attempt that ends up paid (2 after SEND_FAILED). */
  paidAttempt?: number;
  /** The claim's final state: SENT, or HELD for a paid mini-program packet whose package WeChat would not give back. */
  status?: FinalStatus;
  /** Its faults must all fire (in the user's drive or the reconciler's) before the clean-up clears what is left. */
  oneShot?: true;
  /** Its campaign's suffix: spreading a hundred reservations over several campaign documents keeps their conflicts few. */
  group?: string;
}

// Each injected fault at the step it hits. "Before the call": WeChat never handled the request.
// "Accepted": WeChat created and paid the packet, then the reply lied or never came.
const GROUPS: Readonly<Record<string, string>> = { same: 'same', SEND_FAILED: 'sendfailed', ODD_RESEND_CODE: 'odd' };

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
  ...unkindMatrix(),
];

/**
 * WeChat at its unkindest (issue 8 §1), every combination: the first send's reply lost or lying in
 * each way after WeChat paid, × how WeChat answers a resend of the paid billno (the same packet,
 * SEND_FAILED, a code nobody documented) × whether gethbinfo lags behind the payment × both
 * kinds. Plus SEND_FAILED after an uncertain send, false (WeChat paid the resend) and true.
 */
function unkindMatrix(): Scenario[] {
  // Every one of the unkind answers has its own pair of campaigns.
  const positions: Array<{ case: string; faults: Array<Record<string, unknown>>; paidAttempt?: number; paysFirstBillno?: false; racesResend?: true }> = [
    { case: 'accepted, reply dropped', faults: [{ accept: true, drop: true }] },
    { case: 'accepted, then SYSTEMERROR', faults: [{ accept: true, errCode: 'SYSTEMERROR' }] },
    { case: 'accepted, then an unknown err_code', faults: [{ accept: true, errCode: 'WEIRD_NEW_CODE' }] },
    { case: 'accepted, reply unparseable', faults: [{ accept: true, unparseable: true }] },
    { case: 'accepted, then PROCESSING', faults: [{ accept: true, errCode: 'PROCESSING' }] },
    // The resend may reach WeChat before the late original: then the resend is the one that pays, and answers with the packet.
    { case: 'handled after the client timed out', faults: [{ delayMs: 1_500 }], racesResend: true },
    { case: 'dropped before acceptance, then the resend accepted and answered SEND_FAILED', faults: [{ drop: true }, { accept: true, errCode: 'SEND_FAILED' }] },
    { case: 'dropped before acceptance, then SEND_FAILED for real', faults: [{ drop: true }, { errCode: 'SEND_FAILED' }], paidAttempt: 2, paysFirstBillno: false },
  ];
  const scenarios: Scenario[] = [];
  for (const kind of ['cash', 'miniprogram'] as const) {
    for (const paidResend of ['same', 'SEND_FAILED', 'ODD_RESEND_CODE']) {
      for (const queryLagMs of [0, LAG_MS]) {
        for (const position of positions) {
          // A mini-program packet paid without its package can only be delivered by a resend answered with the packet.
          const held = kind === 'miniprogram' && paidResend !== 'same' && position.paysFirstBillno !== false;
          const status: FinalStatus = held ? (position.racesResend ? 'SENT or HELD' : 'HELD') : 'SENT';
          scenarios.push({
            case: `${position.case}; a paid resend answered ${paidResend}; gethbinfo ${queryLagMs === 0 ? 'current' : 'lagging'} (${kind})`,
            kind,
            faults: position.faults,
            behaviour: { paidResend, queryLagMs },
            ...(position.paidAttempt === undefined ? {} : { paidAttempt: position.paidAttempt }),
            status,
            oneShot: true,
            group: GROUPS[paidResend]!,
          });
        }
      }
    }
  }
  return scenarios;
}

const CAMPAIGN = { cash: 'faults-cash', miniprogram: 'faults-mp' } as const;
const campaignOf = (scenario: Pick<Scenario, 'kind' | 'group'>): string => (scenario.group ? `${CAMPAIGN[scenario.kind]}-${scenario.group}` : CAMPAIGN[scenario.kind]);
const ALL_CAMPAIGNS = [...new Set(SCENARIOS.map(campaignOf))];

describe('the fault matrix: every fault at every step, then the reconciler', () => {
  let stack: Stack;
  const expectedPaid: Array<{ case: string; campaignId: string; claimId: string; attempt: number; status: FinalStatus }> = [];
  const oneShotBillnos = new Set<string>();

  beforeAll(async () => {
    // Most instances sleep between retries of their claim, so many of them cost little.
    stack = await startTestStack({ instancesPerFunction: 16, redPacket: { claimLeaseMs: 5_000, payTimeoutMs: 1_000 } });
    for (const id of ALL_CAMPAIGNS) {
      await (id.startsWith(CAMPAIGN.cash)
        ? openCampaign(stack, { id, kind: 'cash', budgetFen: 20_000, amount: { minFen: 100, maxFen: 600, count: 50 } })
        : openCampaign(stack, { id, budgetFen: 5_000, amount: { fixedFen: 100 } }));
    }
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

  /** A hundred claims at once contend for two campaign documents; a client told RATE_LIMITED comes back, as the README says. */
  async function claimAsAClientWould(campaignId: string, caller: TestCaller): Promise<any> {
    for (let tries = 1; ; tries += 1) {
      const result = await claim(stack, campaignId, caller);
      if (result.ok || result.error.code !== 'RATE_LIMITED' || tries === 10) return result;
      await sleep(200 + Math.random() * 300);
    }
  }

  async function claimDoc(campaignId: string, claimId: string): Promise<ClaimDoc | undefined> {
    return (await claimsOf(stack, campaignId)).find((doc) => doc._id === claimId);
  }

  // Generous bounds for a loaded machine: the work itself takes ~10 s and ~3 s.
  it('survives each fault before the call and after acceptance with nothing paid twice', async () => {
    const outcomes = await Promise.all(SCENARIOS.map(async (scenario, index) => {
      const campaignId = campaignOf(scenario);
      const { caller, name } = await userFor(scenario.kind, `fault${index}`);
      const claimId = claimIdFor(campaignId, name);
      const path = scenario.kind === 'cash' ? SENDREDPACK : SENDMINIPROGRAMHB;
      for (const fault of scenario.faults) await payControl(stack, 'POST', 'faults', { path, mchBillno: mchBillnoFor(claimId, 1), ...fault });
      for (const fault of scenario.queryFaults ?? []) await payControl(stack, 'POST', 'faults', { path: GETHBINFO, mchBillno: mchBillnoFor(claimId, 1), ...fault });
      if (scenario.behaviour) await payControl(stack, 'POST', 'behaviour', { mchBillno: mchBillnoFor(claimId, 1), ...scenario.behaviour });
      if (scenario.oneShot) oneShotBillnos.add(mchBillnoFor(claimId, 1));
      expectedPaid.push({ case: scenario.case, campaignId, claimId, attempt: scenario.paidAttempt ?? 1, status: scenario.status ?? 'SENT' });
      return { case: scenario.case, result: await claimAsAClientWould(campaignId, caller) };
    }));
    // Whatever the user was told, it was a success, "still being sent", or (held) "wait for the merchant", never a wrong final answer.
    for (const { result } of outcomes) {
      expect(result.ok ? 'ok' : `${result.error.code} ${result.error.message}`).toMatch(/^(ok|UPSTREAM_BUSY .*|NOT_ELIGIBLE Your red packet is waiting for a check by the merchant.*)$/);
    }
    // Every fault did fire: the sandbox answered each injected outcome at least once.
    const { replies } = await payControl(stack, 'GET', 'stats');
    for (const outcome of ['SYSTEMERROR', 'DROPPED', 'UNPARSEABLE', 'FREQ_LIMIT', 'NOTENOUGH', 'PROCESSING', 'WEIRD_NEW_CODE', 'SEND_FAILED']) {
      expect(replies[SENDREDPACK]?.[outcome]).toBeGreaterThan(0);
    }
    expect(replies[GETHBINFO]?.DROPPED).toBeGreaterThan(0);
    expect(replies[GETHBINFO]?.NOT_FOUND).toBeGreaterThan(0);
    expect(replies[SENDMINIPROGRAMHB]?.DROPPED).toBeGreaterThan(0);
    // The unkind answers to resends of paid billnos were given, in both APIs.
    for (const api of [SENDREDPACK, SENDMINIPROGRAMHB]) {
      expect(replies[api]?.ODD_RESEND_CODE).toBeGreaterThan(0);
      expect(replies[api]?.SEND_FAILED).toBeGreaterThan(0);
    }
  }, 90_000);

  it('survives the worker being killed mid-send, before and after WeChat accepted', async () => {
    for (const [index, fault] of [{ accept: true, delayMs: 3_000 }, { accept: false, delayMs: 1_500 }].entries()) {
      const { caller, name } = await userFor('cash', `killed${index}`);
      const claimId = claimIdFor(CAMPAIGN.cash, name);
      await payControl(stack, 'POST', 'faults', { path: SENDREDPACK, mchBillno: mchBillnoFor(claimId, 1), ...fault });
      expectedPaid.push({ case: `killed ${JSON.stringify(fault)}`, campaignId: CAMPAIGN.cash, claimId, attempt: 1, status: 'SENT' });
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
    expectedPaid.push({ case: 'died after the reply', campaignId: CAMPAIGN.cash, claimId, attempt: 1, status: 'SENT' });
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
    const reconcile = () => expect(callFunction(stack, 'sendRedPacket', { action: 'reconcile', ignoreBackoff: true }, ADMIN)).resolves.toMatchObject({ ok: true });
    // The killed workers' leases run out (claimLeaseMs), then the reconciler may take their claims.
    const allClaims = async () => (await Promise.all(ALL_CAMPAIGNS.map((id) => claimsOf(stack, id)))).flat();
    const all = await allClaims();
    const leaseEndMs = Math.max(0, ...all.map((doc) => doc.leaseUntilMs));
    await sleep(Math.max(0, leaseEndMs - Date.now() + 50));
    // A user's drive may end before its claim met every fault of its scenario; the reconciler's drives meet the rest.
    for (let run = 0; run < 10; run += 1) {
      const pending = (await payControl(stack, 'GET', 'faults')).faults.filter((fault: { mchBillno?: string }) => oneShotBillnos.has(fault.mchBillno ?? ''));
      if (pending.length === 0) break;
      await reconcile();
    }
    expect((await payControl(stack, 'GET', 'faults')).faults.filter((fault: { mchBillno?: string }) => oneShotBillnos.has(fault.mchBillno ?? ''))).toEqual([]);
    await payControl(stack, 'DELETE', 'faults');
    // gethbinfo catches up with every payment (the sandbox clock, not a sleep).
    await payControl(stack, 'POST', 'clock', { advanceMs: LAG_MS + 1_000 });
    // One user asks again before the reconciler: the open claim is finished for them, with the same billno.
    const early = SCENARIOS.findIndex((scenario) => scenario.case.startsWith('SYSTEMERROR before acceptance, persisting'));
    await expect(claim(stack, CAMPAIGN.cash, (await userFor('cash', `fault${early}`)).caller)).resolves.toMatchObject({ ok: true, data: { status: 'SENT' } });

    for (let run = 0; run < 5; run += 1) {
      const open = (await allClaims())
        .filter((doc) => ['RESERVED', 'SENDING', 'UNKNOWN'].includes(doc.status));
      if (open.length === 0) break;
      await reconcile();
    }

    const checked = [];
    for (const id of ALL_CAMPAIGNS) checked.push({ id, ...await expectPaidEqualsClaimed(stack, id) });
    const cash = { paid: checked.filter(({ id }) => id.startsWith(CAMPAIGN.cash)).flatMap(({ paid }) => paid), packets: checked.filter(({ id }) => id.startsWith(CAMPAIGN.cash)).flatMap(({ packets }) => packets) };
    const mini = { paid: checked.filter(({ id }) => id.startsWith(CAMPAIGN.miniprogram)).flatMap(({ paid }) => paid), packets: checked.filter(({ id }) => id.startsWith(CAMPAIGN.miniprogram)).flatMap(({ packets }) => packets) };
    const paidIds = [...cash.paid, ...mini.paid].map((doc) => doc._id).sort();
    expect(paidIds).toEqual(expectedPaid.map((expected) => expected.claimId).sort());
    const byId = new Map([...cash.paid, ...mini.paid].map((doc) => [doc._id, doc]));
    const packets = [...cash.packets, ...mini.packets];
    // The billno that was paid is the one the claim was meant to end with; an earlier SEND_FAILED billno never was.
    const surprises = expectedPaid.map((expected) => ({
      case: expected.case,
      status: byId.get(expected.claimId)?.status,
      paid: packets.filter((packet) => [1, 2, 3].some((attempt) => mchBillnoFor(expected.claimId, attempt) === packet.mchBillno)).map((packet) => packet.mchBillno),
      expected,
    })).filter(({ status, paid, expected }) => !expected.status.split(' or ').includes(status ?? '') || paid.join() !== mchBillnoFor(expected.claimId, expected.attempt));
    expect(surprises.map(({ case: name, status, expected }) => ({ case: name, status, attempt: byId.get(expected.claimId)?.attempt }))).toEqual([]);
    // A held claim says what happened and what the operator does.
    for (const doc of mini.paid.filter((paid) => paid.status === 'HELD')) expect(doc.heldReason).toMatch(/cannot open it[\s\S]*campaign\.ts reissue/);
    const ledgerTotalFen = (await ledger(stack)).reduce((sum, packet) => sum + packet.amountFen, 0);
    const claimedTotalFen = [...cash.paid, ...mini.paid].reduce((sum, doc) => sum + doc.amountFen, 0);
    expect(ledgerTotalFen).toBe(claimedTotalFen);
    const merchant = (await payControl(stack, 'GET', 'merchants')).merchants.find((entry: { mchId: string }) => entry.mchId === LOCAL_ACCOUNT.mchId);
    expect(merchant.balanceFen).toBe(1_000_000 - claimedTotalFen);
  }, 90_000);
});
