/**
 * The transfer fault matrix: each fault at each step (create before and after WeChat accepted it,
 * the queries, the cancel), the worker killed mid-create, notifies lost or duplicated, queries
 * lagging behind creates, users who confirm at once, late or never. Then the reconciler, and
 * what the Pay sandbox paid must equal what was claimed: one bill per claim, nothing paid twice,
 * every amount not paid given back.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { main as campaignCli } from '../../scripts/campaign';
import type { ClaimDoc } from '../../shared/claims/model';
import { mchBillnoFor } from '../../shared/claims/payout/redpacket';
import { LOCAL_ACCOUNT, startTestStack, type Stack, type TestCaller } from '../helpers/stack';
import {
  campaignDoc, claim, claimIdFor, claimsOf, expectTransfersPaidEqualsClaimed, flushNotifies, openTransferCampaign, payControl, settle,
  transferUser, transfers, userConfirms,
} from '../integration/transfer/support';

const HOUR_MS = 3_600_000;
// More than a user's drive and a reconciler run make: the fault outlives both, until the clean-up clears it.
const PERSISTENT = 20;
// Queries answer NOT_FOUND this long after a create (sandbox clock), as WeChat's may lag.
const QUERY_LAG_MS = 60_000;
const BALANCE_FEN = 1_000_000;

type Confirm = 'now' | 'late' | 'never' | 'cancelled';
interface Scenario {
  case: string;
  /** Faults on the claim's bill number (create: its body's; queries: the path's). */
  faults: Array<Record<string, unknown>>;
  /** Faults on the operator's cancel, set just before it. */
  cancelFaults?: Array<Record<string, unknown>>;
  notify?: 'lose' | 'duplicate';
  /** When the user taps 确认收款: at once, after 12 h (sandbox clock), never (closed after 24 h), or the operator cancels first. */
  confirm: Confirm;
  /** One-shot faults must all have fired before the clean-up clears what is left. */
  oneShot?: true;
}

const create = (fault: Record<string, unknown>): Record<string, unknown> => ({ operation: 'create', ...fault });
const query = (fault: Record<string, unknown>): Record<string, unknown> => ({ operation: 'queryByOutBillNo', ...fault });
const cancel = (fault: Record<string, unknown>): Record<string, unknown> => ({ operation: 'cancel', ...fault });

/** Each unkind answer, before WeChat handled the create (nothing created) and after (the bill exists, the answer lies or never comes). */
const ANSWERS: Array<{ name: string; fault: Record<string, unknown>; before: boolean; after: boolean }> = [
  { name: 'SYSTEM_ERROR', fault: { code: 'SYSTEM_ERROR' }, before: true, after: true },
  { name: 'FREQUENCY_LIMITED', fault: { code: 'FREQUENCY_LIMITED' }, before: true, after: false },
  { name: 'NOT_ENOUGH', fault: { code: 'NOT_ENOUGH' }, before: true, after: false },
  { name: 'PARAM_ERROR (a set-up problem)', fault: { code: 'PARAM_ERROR' }, before: true, after: false },
  { name: 'an unknown code', fault: { code: 'BRAND_NEW_CODE', status: 400 }, before: true, after: true },
  { name: 'a gateway 502 without WeChat\'s body', fault: { status: 502 }, before: true, after: true },
  { name: 'a dropped connection', fault: { drop: true }, before: true, after: true },
  { name: 'an unparseable answer', fault: { unparseable: true }, before: true, after: true },
  { name: 'a timeout', fault: { delayMs: 1_500 }, before: true, after: true },
  // A broken signature only comes with a real answer: the bill was created.
  { name: 'an answer whose signature does not verify', fault: { signature: 'invalid' }, before: false, after: true },
  { name: 'an unsigned answer', fault: { signature: 'missing' }, before: false, after: true },
  { name: 'an answer signed with a key nobody configured', fault: { signature: 'unknown-serial' }, before: false, after: true },
  { name: 'an answer stamped 10 minutes ago', fault: { signature: 'stale' }, before: false, after: true },
];

const CONFIRMS: Confirm[] = ['now', 'late', 'never', 'now'];

function matrix(): Scenario[] {
  const scenarios: Scenario[] = [];
  ANSWERS.forEach((answer, index) => {
    const confirm = CONFIRMS[index % CONFIRMS.length]!;
    if (answer.before) {
      scenarios.push({ case: `create: ${answer.name} before acceptance, persisting`, faults: [create({ ...answer.fault, times: PERSISTENT })], confirm });
      scenarios.push({ case: `create: ${answer.name} before acceptance, once`, faults: [create(answer.fault)], confirm: 'now', oneShot: true });
    }
    if (answer.after) {
      scenarios.push({ case: `create: accepted, then ${answer.name}, persisting`, faults: [create({ ...answer.fault, accept: true, times: PERSISTENT })], confirm });
      scenarios.push({ case: `create: accepted, then ${answer.name}, once`, faults: [create({ ...answer.fault, accept: true })], confirm: 'now', oneShot: true });
    }
  });
  return [
    ...scenarios,
    // The queries that must follow an unknown outcome fail too.
    ...[{ drop: true }, { code: 'SYSTEM_ERROR' }, { unparseable: true }, { signature: 'invalid' }, { status: 502 }].map((fault): Scenario => ({
      case: `create accepted then dropped; queries: ${JSON.stringify(fault)}, persisting`,
      faults: [create({ accept: true, drop: true, times: PERSISTENT }), query({ ...fault, times: PERSISTENT })],
      confirm: 'now',
    })),
    { case: 'notify lost', faults: [], notify: 'lose', confirm: 'now' },
    { case: 'notify delivered twice', faults: [], notify: 'duplicate', confirm: 'now' },
    { case: 'notify lost, the user never confirms', faults: [], notify: 'lose', confirm: 'never' },
    { case: 'the user confirms 12 h later, notify lost', faults: [], notify: 'lose', confirm: 'late' },
    { case: 'the operator cancels', faults: [], confirm: 'cancelled' },
    { case: 'the operator cancels; WeChat accepts it and the answer is dropped', faults: [], cancelFaults: [cancel({ accept: true, drop: true })], confirm: 'cancelled' },
    { case: 'the operator cancels; SYSTEM_ERROR before WeChat handles it (the user confirms later)', faults: [], cancelFaults: [cancel({ code: 'SYSTEM_ERROR' })], confirm: 'cancelled' },
  ];
}

const SCENARIOS = matrix();
// A dozen reservations per campaign document keep conflicts between them few.
const CAMPAIGNS = Array.from({ length: Math.ceil(SCENARIOS.length / 12) }, (unused, index) => `tr-faults-${index}`);
const campaignOf = (index: number): string => CAMPAIGNS[index % CAMPAIGNS.length]!;

describe('the transfer fault matrix: every fault at every step, then the reconciler', () => {
  let stack: Stack;
  const users: Array<{ scenario: Scenario; campaignId: string; name: string; caller: TestCaller; openid: string; claimId: string }> = [];

  beforeAll(async () => {
    stack = await startTestStack({
      instancesPerFunction: 12,
      redPacket: { claimLeaseMs: 5_000, payTimeoutMs: 1_000 },
      paySandbox: { balanceFen: BALANCE_FEN },
      payTransfers: { tickMs: 0, queryLagMs: QUERY_LAG_MS },
    });
    for (const id of CAMPAIGNS) await openTransferCampaign(stack, { id, budgetFen: 100_000, amount: { minFen: 10, maxFen: 500, count: 400 } });
  });
  afterAll(() => stack.close());

  /** A client told RATE_LIMITED comes back, as the README says. */
  async function claimAsAClientWould(campaignId: string, caller: TestCaller): Promise<any> {
    for (let tries = 1; ; tries += 1) {
      const result = await claim(stack, campaignId, caller);
      if (result.ok || result.error.code !== 'RATE_LIMITED' || tries === 10) return result;
      await sleep(200 + Math.random() * 300);
    }
  }

  async function allClaims(): Promise<ClaimDoc[]> {
    return (await Promise.all(CAMPAIGNS.map((id) => claimsOf(stack, id)))).flat();
  }

  async function waitFor(what: string, probe: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 200; i += 1) {
      if (await probe()) return;
      await sleep(25);
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  it('answers every claim with its package or "come back", whatever the faults, and never with a wrong final answer', async () => {
    const outcomes = await Promise.all(SCENARIOS.map(async (scenario, index) => {
      const campaignId = campaignOf(index);
      const name = `fault${index}`;
      const { caller, openid } = transferUser(name);
      const claimId = claimIdFor(campaignId, name);
      const outBillNo = mchBillnoFor(claimId, 1);
      for (const fault of scenario.faults) await payControl(stack, 'POST', 'transfers/faults', { outBillNo, ...fault });
      if (scenario.notify !== undefined) await payControl(stack, 'POST', 'transfers/notify-faults', { outBillNo, [scenario.notify]: true });
      users.push({ scenario, campaignId, name, caller, openid, claimId });
      return claimAsAClientWould(campaignId, caller);
    }));

    for (const result of outcomes) {
      expect(result.ok ? 'ok' : `${result.error.code} ${result.error.message}`).toMatch(/^(ok|UPSTREAM_BUSY .*)$/);
      if (result.ok) expect(Object.keys(result.data).sort()).toEqual(['appId', 'mchId', 'package']);
    }
    const { replies } = await payControl(stack, 'GET', 'transfers/stats');
    for (const outcome of ['SYSTEM_ERROR', 'FREQUENCY_LIMITED', 'NOT_ENOUGH', 'PARAM_ERROR', 'BRAND_NEW_CODE', 'HTTP_502', 'DROPPED', 'UNPARSEABLE']) {
      expect(replies.create?.[outcome]).toBeGreaterThan(0);
    }
    expect(replies.queryByOutBillNo?.NOT_FOUND).toBeGreaterThan(0);
  }, 90_000);

  it('survives the worker being killed mid-create, before and after WeChat created the bill', async () => {
    for (const [index, fault] of [{ accept: false, delayMs: 1_500 }, { accept: true, delayMs: 3_000 }].entries()) {
      const campaignId = CAMPAIGNS[0]!;
      const name = `killed${index}`;
      const { caller, openid } = transferUser(name);
      const claimId = claimIdFor(campaignId, name);
      const outBillNo = mchBillnoFor(claimId, 1);
      await payControl(stack, 'POST', 'transfers/faults', create({ outBillNo, ...fault }));
      users.push({ scenario: { case: `killed ${JSON.stringify(fault)}`, faults: [], confirm: 'now' }, campaignId, name, caller, openid, claimId });
      const callsBefore = (await payControl(stack, 'GET', 'transfers/stats')).calls.create ?? 0;
      const call = claim(stack, campaignId, caller);
      // The create is at WeChat (and, accepted, the bill exists) while the worker waits for the answer.
      await waitFor('the create to be in flight', async () => ((await payControl(stack, 'GET', 'transfers/stats')).calls.create ?? 0) > callsBefore);
      if (fault.accept) await waitFor('the bill', async () => (await transfers(stack)).some((bill) => bill.outBillNo === outBillNo));

      expect(stack.host.killBusy('sendRedPacket')).toBe(1);

      await expect(call).rejects.toThrow(/answered 502/);
      expect((await claimsOf(stack, campaignId)).find((doc) => doc._id === claimId)).toMatchObject({ status: 'SENDING', billBody: expect.any(String) });
    }
  });

  it('leaves, after the faults clear, the users act and the reconciler runs, paid = claimed with nothing twice and nothing lost', async () => {
    // The killed workers' leases run out, then the reconciler may take their claims.
    const leaseEndMs = Math.max(0, ...(await allClaims()).map((doc) => doc.leaseUntilMs));
    await sleep(Math.max(0, leaseEndMs - Date.now() + 50));
    const oneShot = new Set(users.filter(({ scenario }) => scenario.oneShot).map(({ claimId }) => mchBillnoFor(claimId, 1)));
    const pendingOneShots = async () => (await payControl(stack, 'GET', 'transfers/faults')).faults
      .filter((fault: { outBillNo?: string }) => oneShot.has(fault.outBillNo ?? ''));
    for (let run = 0; run < 10 && (await pendingOneShots()).length > 0; run += 1) await settle(stack);
    expect(await pendingOneShots()).toEqual([]);
    await payControl(stack, 'DELETE', 'transfers/faults');
    // The queries catch up with the creates (the sandbox clock, not a sleep).
    await payControl(stack, 'POST', 'clock', { advanceMs: QUERY_LAG_MS + 1_000 });

    // Every claim reaches its bill's package: the reconciler's queries and identical creates.
    for (let run = 0; run < 5 && (await allClaims()).some((doc) => doc.status !== 'WAITING' || doc.package === null); run += 1) await settle(stack);
    expect((await allClaims()).filter((doc) => doc.status !== 'WAITING' || doc.package === null).map((doc) => `${doc._id} ${doc.status} ${doc.lastError}`)).toEqual([]);

    const packageOf = async (user: (typeof users)[number]) => {
      const result = await claim(stack, user.campaignId, user.caller);
      expect(result).toMatchObject({ ok: true, data: { mchId: LOCAL_ACCOUNT.mchId, appId: LOCAL_ACCOUNT.miniProgramAppId } });
      return result.data;
    };
    const by = (confirm: Confirm) => users.filter(({ scenario }) => scenario.confirm === confirm);
    for (const user of by('now')) await expect(userConfirms(stack, await packageOf(user), user.openid)).resolves.toEqual({ errMsg: 'requestMerchantTransfer:ok' });
    for (const user of by('cancelled')) {
      for (const fault of user.scenario.cancelFaults ?? []) await payControl(stack, 'POST', 'transfers/faults', { outBillNo: mchBillnoFor(user.claimId, 1), ...fault });
      await expect(campaignCli(['--local', stack.url, 'cancel-transfer', user.claimId], () => undefined)).resolves.toBe(0);
    }
    // A cancel WeChat never handled leaves the bill waiting: that user confirms after all.
    await settle(stack);
    const stillWaiting = new Set((await allClaims()).filter((doc) => doc.status === 'WAITING').map((doc) => doc._id));
    for (const user of by('cancelled').filter(({ claimId }) => stillWaiting.has(claimId))) await userConfirms(stack, await packageOf(user), user.openid);
    await payControl(stack, 'POST', 'clock', { advanceMs: 12 * HOUR_MS });
    for (const user of by('late')) await expect(userConfirms(stack, await packageOf(user), user.openid)).resolves.toEqual({ errMsg: 'requestMerchantTransfer:ok' });
    // The bills nobody confirmed close about 24 h after their creation.
    await payControl(stack, 'POST', 'clock', { advanceMs: 13 * HOUR_MS });
    await flushNotifies(stack);
    for (let run = 0; run < 5 && (await allClaims()).some((doc) => !['RECEIVED', 'FAILED'].includes(doc.status)); run += 1) await settle(stack);

    const checked = [];
    for (const id of CAMPAIGNS) checked.push(await expectTransfersPaidEqualsClaimed(stack, id));
    const paid = new Map(checked.flatMap(({ paid: docs }) => docs).map((doc) => [doc._id, doc]));
    const closed = new Map(checked.flatMap(({ closed: docs }) => docs).map((doc) => [doc._id, doc]));
    const expected = users.map(({ scenario, claimId }) => ({
      case: scenario.case,
      status: paid.has(claimId) ? 'RECEIVED' : closed.has(claimId) ? `FAILED ${closed.get(claimId)!.failedErrCode}` : 'missing',
    }));
    const wanted = (scenario: Scenario): string[] => (scenario.confirm === 'never'
      ? ['FAILED OVERDUE_CLOSE']
      // A cancel WeChat never handled cancels nothing: that user confirmed after all.
      : scenario.confirm === 'cancelled' ? [(scenario.cancelFaults ?? []).some((fault) => fault.code === 'SYSTEM_ERROR') ? 'RECEIVED' : 'FAILED CANCELLED'] : ['RECEIVED']);
    expect(expected.filter((entry, index) => !wanted(users[index]!.scenario).includes(entry.status))).toEqual([]);
    // Every amount not paid went back to its campaign; the merchant's 运营账户 lost exactly what was paid.
    const paidFen = [...paid.values()].reduce((sum, doc) => sum + doc.amountFen, 0);
    for (const id of CAMPAIGNS) {
      const campaign = await campaignDoc(stack, id);
      expect(campaign.returnedAmountsFen.reduce((sum, fen) => sum + fen, 0)).toBe([...closed.values()].filter((doc) => doc.campaignId === id).reduce((sum, doc) => sum + doc.amountFen, 0));
    }
    const merchant = (await payControl(stack, 'GET', 'transfers/merchants')).merchants.find((entry: { mchId: string }) => entry.mchId === LOCAL_ACCOUNT.mchId);
    expect(merchant.balanceFen).toBe(BALANCE_FEN - paidFen);
  }, 120_000);
});
