/**
 * The follow campaign's race: 500 sandbox users following across three accounts at once, a
 * quarter of them on a second account too, some forwarding their link (opened by someone else
 * first), some outside the region, some re-following after an unfollow — against a budget of 120
 * packets. Afterwards: exactly the budget paid, each person (service-account openid) at most once,
 * every page a payment or a typed refusal, and the funnel counting each of them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { campaignFunnel } from '../../shared/claims/funnel';
import {
  BEIJING_IP, followCampaign, linkIn, open, press, SERVICE, shown, SUB_A, SUB_B, type Delivery, type Page,
} from '../helpers/claim-pages';
import { sandbox, startTestStack, type Stack } from '../helpers/stack';
import { claimsOf, expectPaidEqualsClaimed, operatorStore } from '../integration/redpacket/support';

const USERS = 500;
const PACKETS = 120;
const CONCURRENCY = 24;
const ACCOUNTS = [SERVICE, SUB_A, SUB_B] as const;

/** What each person's page ended with. */
type Outcome = { user: string; state: string; reason: string };

describe('500 followers racing for 120 packets', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 4 });
    await followCampaign(stack, { id: 'race', budgetFen: PACKETS * 100, ipCallsPerMinute: 10_000, claimsPerSecond: 1_000 });
  }, 60_000);

  afterAll(async () => {
    await stack?.close();
  });

  it('pays exactly the budget, each person once, and types and counts every refusal', async () => {
    // No clock moves while hundreds of follows are in flight: a user's second event waits a real second instead.
    const follow = (user: string, appid: string) => sandbox<Delivery>(stack, 'POST', 'users/follow', { user, appid });
    const outcomes: Outcome[] = [];
    const record = (user: string, page: Page): void => {
      const { state, reason } = shown(page);
      outcomes.push({ user, state, reason });
    };
    // A push answered `success` before it was applied (its 3 s budget ran out: on a loaded machine, a cold
    // instance) shows the follower nothing, so that link is lost to them; the apply still finishes (below).
    const lost: string[] = [];
    const linkOrLost = (user: string, delivery: Delivery): string | null => {
      if (delivery.delivered && delivery.reply === null) {
        lost.push(user);
        return null;
      }
      return linkIn(delivery);
    };
    const run = async (index: number): Promise<void> => {
      const user = `u${String(index).padStart(3, '0')}`;
      const account = ACCOUNTS[index % 3]!;
      if (index % 10 === 3) {
        // A returning follower: followed before, left, follows again — the reply says "new followers only".
        await follow(user, account);
        await sandbox(stack, 'POST', 'users/unfollow', { user, appid: account });
        await sleep(1_100);
        const again = await follow(user, account);
        outcomes.push({ user, state: again.reply?.Content?.includes('/claim/f?l=') ? 'link' : 'refused', reason: 'not_new' });
        return;
      }
      const link = linkOrLost(user, await follow(user, account));
      if (link === null) return;
      const clientIp = index % 10 === 2 ? BEIJING_IP : undefined;
      if (index % 10 === 1) {
        // Forwarded before its follower opened it: someone else tries first.
        const other = `fw${user}`;
        record(other, await press(stack, other, await open(stack, other, link)).catch(async () => open(stack, other, `${stack.url}/claim/page`)));
      }
      const page = await open(stack, user, link, clientIp);
      record(user, page.body.includes('name="csrf"') ? await press(stack, user, page, clientIp) : page);
      if (index % 4 === 0) {
        // The same person on a second account: a second link, the same service-account openid.
        const second = linkOrLost(`${user}/2`, await follow(user, ACCOUNTS[(index + 1) % 3]!));
        if (second === null) return;
        const again = await open(stack, user, second);
        record(`${user}/2`, again.body.includes('name="csrf"') ? await press(stack, user, again) : again);
      }
    };
    const queue = Array.from({ length: USERS }, (_, index) => index);
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      for (let index = queue.shift(); index !== undefined; index = queue.shift()) await run(index);
    }));

    // What an instance answered before applying is finished by the function's timer (run now); a lost link is rare.
    for (let round = 0; round < 30 && stack.cloudbase.dump('wx_push_events').some((event) => event.status !== 'done'); round += 1) {
      await fetch(`${stack.url}/functions/receivePush`, { method: 'POST', body: JSON.stringify({ data: { action: 'reconcile', minAgeMs: 0 }, caller: { type: 'admin' } }) });
      await sleep(500);
    }
    expect(stack.cloudbase.dump('wx_push_events').filter((event) => event.status !== 'done')).toEqual([]);
    expect(lost.length).toBeLessThan(USERS / 20);

    // Exactly the budget, every packet paid once, to distinct people.
    const { paid, packets } = await expectPaidEqualsClaimed(stack, 'race');
    expect(paid).toHaveLength(PACKETS);
    expect(packets.reduce((sum, packet) => sum + packet.amountFen, 0)).toBe(PACKETS * 100);
    expect(new Set(packets.map((packet) => packet.openid)).size).toBe(PACKETS);
    expect((await claimsOf(stack, 'race')).length).toBe(PACKETS);

    // Every page is a payment or a refusal with a reason a person can read.
    const refused = outcomes.filter((outcome) => outcome.state === 'refused');
    const reasons = new Set(refused.map((outcome) => outcome.reason));
    expect([...reasons].every((reason) => ['sold_out', 'already_claimed', 'region', 'link_reused', 'forwarded', 'not_new'].includes(reason))).toBe(true);
    expect(outcomes.filter((outcome) => !['paid', 'refused'].includes(outcome.state))).toEqual([]);
    expect(outcomes.filter((outcome) => outcome.state === 'paid' && outcome.reason === '').length).toBe(PACKETS);
    // A forwarded service-account link is refused; a subscription account's is bound to whoever opened it first.
    expect(refused.filter((outcome) => outcome.reason === 'forwarded').length).toBeGreaterThan(0);
    expect(refused.filter((outcome) => outcome.reason === 'link_reused').length).toBeGreaterThan(0);

    // The funnel counted each of them, per channel.
    const funnel = await campaignFunnel(operatorStore(stack), 'race');
    const total = (pick: (entry: (typeof funnel)[number]) => number) => funnel.reduce((sum, entry) => sum + pick(entry), 0);
    expect(total((entry) => entry.stages.claimed)).toBe(PACKETS);
    expect(total((entry) => entry.stages.paid)).toBe(PACKETS);
    for (const reason of ['region', 'forwarded', 'link_reused', 'not_new', 'sold_out']) {
      expect({ reason, counted: total((entry) => entry.refusals[reason] ?? 0) }).toEqual({ reason, counted: refused.filter((outcome) => outcome.reason === reason).length });
    }
    const follows = total((entry) => entry.stages.follows);
    expect(follows).toBe(USERS + USERS / 10 + Math.ceil(USERS / 4));
  }, 600_000);
});
