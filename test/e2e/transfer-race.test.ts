import { REFUSAL_MESSAGES } from '../../shared/claims/errors';
import { startTestStack, type Stack } from '../helpers/stack';
import {
  campaignDoc, claim, claimsOf, expectTransfersPaidEqualsClaimed, mpOpenid, mpUser, openTransferCampaign, payControl, settle, transfers, userConfirms,
} from '../integration/transfer/support';

const USERS = 400;
const CALLS = 1_000;
const TRANSFERS = 100;
const BUDGET_FEN = 25_000;

/** Every answer a refused claim may get: a public code and the fixed message of its reason. */
const TYPED_REFUSALS = new Set([
  ...Object.values(REFUSAL_MESSAGES).map((message) => `NOT_ELIGIBLE ${message}`),
  'RATE_LIMITED Too many people are claiming right now, please try again in a moment',
  'UPSTREAM_BUSY Your red packet is reserved and being sent; please try again in a few seconds',
]);

describe('1,000 concurrent claims from 400 users on a 100-transfer campaign (8 instances)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 8, payTransfers: { tickMs: 0 } });
  });
  afterAll(() => stack.close());

  it('creates exactly 100 bills, nobody twice, for the whole budget, and every refusal is typed', async () => {
    await openTransferCampaign(stack, {
      id: 'race-transfer',
      budgetFen: BUDGET_FEN,
      amount: { minFen: 100, maxFen: 500, count: TRANSFERS },
      claimsPerSecond: 100_000,
    });
    // The first 200 users call three times, the others twice: 1,000 calls, shuffled.
    const calls = Array.from({ length: CALLS }, (unused, i) => i % USERS);
    for (let i = calls.length - 1; i > 0; i -= 1) {
      const j = Math.floor(Math.random() * (i + 1));
      [calls[i], calls[j]] = [calls[j]!, calls[i]!];
    }
    const results = await Promise.all(calls.map(async (n) => ({ n, result: await claim(stack, 'race-transfer', mpUser(`race${n}`)) })));

    // Claims left open by a busy moment are the reconciler's; it must need few runs.
    for (let run = 0; run < 5 && (await claimsOf(stack, 'race-transfer')).some((doc) => doc.status !== 'WAITING' || doc.package === null); run += 1) await settle(stack);
    const waiting = await claimsOf(stack, 'race-transfer');
    expect(waiting.filter((doc) => doc.status !== 'WAITING' || doc.package === null)).toEqual([]);
    expect(waiting).toHaveLength(TRANSFERS);
    const bills = await transfers(stack);
    expect(bills).toHaveLength(TRANSFERS);
    expect(new Set(bills.map((bill) => bill.openid)).size).toBe(TRANSFERS);
    expect(bills.reduce((sum, bill) => sum + bill.amountFen, 0)).toBe(BUDGET_FEN);

    const refusals = results.filter(({ result }) => !result.ok).map(({ result }) => `${result.error.code} ${result.error.message}`);
    expect(refusals.filter((refusal) => !TYPED_REFUSALS.has(refusal))).toEqual([]);
    expect(refusals.length).toBeGreaterThanOrEqual(CALLS - USERS);
    // A user's successful answers all name the one bill's package they hold.
    const packagesByUser = new Map<number, Set<string>>();
    for (const { n, result } of results.filter(({ result }) => result.ok)) packagesByUser.set(n, (packagesByUser.get(n) ?? new Set()).add(result.data.package));
    expect([...packagesByUser.values()].filter((packages) => packages.size > 1)).toEqual([]);
    const holders = new Set(waiting.map((doc) => doc.openid));
    expect([...packagesByUser.keys()].filter((n) => !holders.has(mpOpenid(`race${n}`)))).toEqual([]);

    // Every holder confirms: the money that moves is exactly the budget, once per person.
    for (const doc of waiting) await userConfirms(stack, { mchId: bills[0]!.mchId, appId: doc.appId, package: doc.package! }, doc.openid);
    await settle(stack);
    const { paid } = await expectTransfersPaidEqualsClaimed(stack, 'race-transfer');
    expect(paid).toHaveLength(TRANSFERS);
    expect(await campaignDoc(stack, 'race-transfer')).toMatchObject({ claimedCount: TRANSFERS, claimedFen: BUDGET_FEN });
    expect((await payControl(stack, 'GET', 'transfers/stats')).calls.create).toBeGreaterThanOrEqual(TRANSFERS);
    expect(stack.host.stats().sendRedPacket?.instances).toBe(8);
  });
});
