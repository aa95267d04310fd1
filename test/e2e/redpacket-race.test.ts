import { REFUSAL_MESSAGES } from '../../shared/claims/errors';
import { ADMIN, callFunction, startTestStack, type Stack } from '../helpers/stack';
import { campaignDoc, claim, claimKeysOf, claimsOf, expectPaidEqualsClaimed, mpOpenid, mpUser, openCampaign, payControl } from '../integration/redpacket/support';

const USERS = 400;
const CALLS = 1_000;
const PACKETS = 100;
const BUDGET_FEN = 25_000;

/** Every answer a refused claim may get: a public code and the fixed message of its reason. */
const TYPED_REFUSALS = new Set([
  ...Object.values(REFUSAL_MESSAGES).map((message) => `NOT_ELIGIBLE ${message}`),
  'RATE_LIMITED Too many people are claiming right now, please try again in a moment',
  'UPSTREAM_BUSY Your red packet is reserved and being sent; please try again in a few seconds',
]);

describe('1,000 concurrent claims from 400 users on a 100-packet campaign (8 instances), with and without their unionid', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 8 });
  });
  afterAll(() => stack.close());

  it('pays exactly 100 packets, nobody twice, the whole budget, and gives every refusal a typed reason', async () => {
    await openCampaign(stack, {
      id: 'race',
      budgetFen: BUDGET_FEN,
      amount: { minFen: 100, maxFen: 500, count: PACKETS },
      claimsPerSecond: 100_000,
    });
    // The first 200 users call three times, the others twice: 1,000 calls, shuffled.
    const calls = Array.from({ length: CALLS }, (unused, i) => i % USERS);
    for (let i = calls.length - 1; i > 0; i -= 1) {
      const j = Math.floor(Math.random() * (i + 1));
      [calls[i], calls[j]] = [calls[j]!, calls[i]!];
    }

    // Every other user's mini-program is bound to an Open Platform account for some of their calls only:
    // the platform gives the unionid to one call and not to the next (before and after the binding).
    const withUnionid = (n: number, call: number): boolean => n % 2 === 0 && call % 2 === 0;
    const results = await Promise.all(calls.map(async (n, call) => ({
      n,
      result: await claim(stack, 'race', mpUser(`race${n}`, withUnionid(n, call) ? { unionid: `uUNION_race${n}` } : {})),
    })));

    // Claims left unsettled by a busy moment are the reconciler's; it must need few runs.
    for (let run = 0; run < 5 && (await claimsOf(stack, 'race')).some((doc) => !['SENT', 'RECEIVED', 'FAILED'].includes(doc.status)); run += 1) {
      await callFunction(stack, 'sendRedPacket', { action: 'reconcile', ignoreBackoff: true }, ADMIN);
    }
    const { paid, packets } = await expectPaidEqualsClaimed(stack, 'race');
    expect(paid).toHaveLength(PACKETS);
    expect(packets).toHaveLength(PACKETS);
    expect(new Set(packets.map((packet) => packet.openid)).size).toBe(PACKETS);
    // Whoever was reserved with their unionid holds that key too, so no other identity of theirs can claim.
    const keys = paid.flatMap((doc) => doc.keys);
    expect(new Set(keys).size).toBe(keys.length);
    expect(paid.filter((doc) => doc.keys.length === 2).length).toBeGreaterThan(0);
    expect(await claimKeysOf(stack, 'race')).toEqual(expect.arrayContaining(paid.filter((doc) => doc.keys.length === 2).map((doc) => doc.keys[1])));
    expect(packets.reduce((sum, packet) => sum + packet.amountFen, 0)).toBe(BUDGET_FEN);
    expect(await campaignDoc(stack, 'race')).toMatchObject({ claimedCount: PACKETS, claimedFen: BUDGET_FEN });

    const refusals = results.filter(({ result }) => !result.ok).map(({ result }) => `${result.error.code} ${result.error.message}`);
    expect(refusals.filter((refusal) => !TYPED_REFUSALS.has(refusal))).toEqual([]);
    expect(refusals.length).toBeGreaterThanOrEqual(CALLS - USERS);
    // A user's successful answers all name the one packet they were paid.
    const packagesByUser = new Map<number, Set<string>>();
    for (const { n, result } of results.filter(({ result }) => result.ok)) {
      packagesByUser.set(n, (packagesByUser.get(n) ?? new Set()).add(result.data.package));
    }
    expect([...packagesByUser.values()].filter((packages) => packages.size > 1)).toEqual([]);
    const paidUsers = new Set(paid.map((doc) => doc.openid));
    expect([...packagesByUser.keys()].filter((n) => !paidUsers.has(mpOpenid(`race${n}`)))).toEqual([]);
    const stats = await payControl(stack, 'GET', 'stats');
    expect(stats.calls['/mmpaymkttransfers/sendminiprogramhb']).toBeGreaterThanOrEqual(PACKETS);
    expect(stack.host.stats().sendRedPacket?.instances).toBe(8);
  });
});
