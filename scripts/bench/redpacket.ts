/**
 * Red-packet benchmarks through the local stack (real bundles, the Pay sandbox):
 *
 * 1. What one warm claim costs: database and Pay requests per claim (GET /__local/stats, the Pay
 *    sandbox's counters), against the minimum the claim path's invariants need and the 16 the
 *    previous claim path made (issue 8 §6, counted the same way).
 * 2. What pacing prevents: claims per second and the sends the sandbox saw, with the sandbox's
 *    rate limit set below what this machine can drive (10/s), ours paced across instances at 9/s
 *    against the same run with pacing effectively off (1800/s) — the baseline meets FREQ_LIMIT, ours not.
 *
 * Exported for `npm run bench` (scripts/bench/index.ts); `npx tsx scripts/bench/redpacket.ts` runs it alone.
 */
import { createCampaign } from '../campaign';
import { linkUser } from '../../shared/users/links';
import { LOCAL_ACCOUNT, type Stack } from '../local/stack';
import { operatorStore, runAlone, withStack } from './common';

/** One bench row, ready for a table. */
export type RedPacketBenchRow = Record<string, string | number>;

const INSTANCES = 8;
const CLAIMS = 100;
/** Below what 8 instances drive on one machine, so an unpaced run meets WeChat's FREQ_LIMIT. */
const RATE_LIMIT_PER_SECOND = 10;
/**
 * Ours paces a little under the limit, as README advises for PAY_SENDS_PER_SECOND: a send's
 * journey to WeChat varies, and one that set off at the end of a second may be counted in the next.
 */
const OUR_PACE_PER_SECOND = 9;
const COST_CLAIMS = 40;
/** What the claim path made per warm mini-program claim before issue 8 §6 (16), counted with GET /__local/stats. */
const REQUESTS_BEFORE = 16;

async function openCampaign(stack: Stack, id: string, fields: Record<string, unknown>): Promise<void> {
  const nowMs = Date.now();
  await createCampaign(operatorStore(stack), {
    id, payout: 'miniprogram', sendName: 'bench', wishing: 'bench', actName: 'bench', remark: 'bench',
    startsAt: nowMs - 1_000, endsAt: nowMs + 3_600_000, budgetFen: 100_000, amount: { fixedFen: 100 }, claimsPerSecond: 100_000, ...fields,
  });
}

async function claim(stack: Stack, campaignId: string, caller: Record<string, unknown>): Promise<{ ok: boolean; error?: { code: string } }> {
  const response = await fetch(`${stack.url}/functions/sendRedPacket`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ data: { campaignId }, caller: { type: 'miniprogram', appid: LOCAL_ACCOUNT.miniProgramAppId, ...caller } }),
  });
  return (await response.json()) as { ok: boolean; error?: { code: string } };
}

const openid = (prefix: string, n: number): string => `o${prefix}_${n}_`.padEnd(16, '0');

/**
 * Requests per claim on one warm instance, claims one after another (a busy merchant's steady
 * state: the pacing document of the current second exists), and the same for a claim alone in its
 * second (which creates that document).
 */
async function costRows(): Promise<RedPacketBenchRow[]> {
  return withStack({ instancesPerFunction: 1 }, async (stack) => {
    await openCampaign(stack, 'cost-mp', {});
    await openCampaign(stack, 'cost-random', { budgetFen: 200_000, amount: { minFen: 100, maxFen: 300, count: 1_000 } });
    await openCampaign(stack, 'cost-cash', { payout: 'cash' });
    const store = operatorStore(stack);
    for (let n = 0; n < COST_CLAIMS; n += 1) {
      await linkUser(store, { officialAppId: LOCAL_ACCOUNT.officialAppId, unionid: `uBENCH_cash_${n}`, openid: openid('BENCHOA', n), source: 'operator' });
    }
    await linkUser(store, { officialAppId: LOCAL_ACCOUNT.officialAppId, unionid: 'uBENCH_warm', openid: openid('WARMOA', 0), source: 'operator' });
    // Warm: the bundle loaded, the certificate parsed, the campaigns in the instance's memory.
    for (const id of ['cost-mp', 'cost-random', 'cost-cash']) await claim(stack, id, { openid: openid('WARM', 0), unionid: 'uBENCH_warm' });

    const measure = async (label: string, minimum: number, campaignId: string, caller: (n: number) => Record<string, unknown>, alone: boolean) => {
      let requests = 0;
      let pay = 0;
      let ok = 0;
      const count = alone ? 5 : COST_CLAIMS;
      for (let n = 0; n < count; n += 1) {
        // Alone in its second: wait for the next second to start, so nothing else has paced in it.
        if (alone) await new Promise((resolve) => setTimeout(resolve, 1_000 - (Date.now() % 1_000) + 20));
        const before = stack.cloudbase.stats().total;
        const payBefore = Object.values(stack.pay.control.stats().calls).reduce((sum, calls) => sum + calls, 0);
        if ((await claim(stack, campaignId, caller(n))).ok) ok += 1;
        requests += stack.cloudbase.stats().total - before;
        pay += Object.values(stack.pay.control.stats().calls).reduce((sum, calls) => sum + calls, 0) - payBefore;
      }
      return {
        claim: label,
        claims: `${ok}/${count}`,
        'database requests': Number((requests / count).toFixed(2)),
        'minimum the invariants need': minimum,
        'vs minimum': (requests / count / minimum).toFixed(2),
        [`vs before (${REQUESTS_BEFORE})`]: (requests / count / REQUESTS_BEFORE).toFixed(2),
        'Pay requests': Number((pay / count).toFixed(2)),
      };
    };
    return [
      await measure('mini-program, fixed amount, no unionid (steady)', 7, 'cost-mp', (n) => ({ openid: openid('BENCHMP', n) }), false),
      await measure('mini-program, fixed amount, no unionid (alone in its second)', 7, 'cost-mp', (n) => ({ openid: openid('BENCHMPALONE', n) }), true),
      await measure('mini-program, fixed amount, with unionid (steady)', 8, 'cost-mp', (n) => ({ openid: openid('BENCHMPU', n), unionid: `uBENCH_mp_${n}` }), false),
      await measure('mini-program, random amount, no unionid (steady)', 8, 'cost-random', (n) => ({ openid: openid('BENCHRAND', n) }), false),
      await measure('cash, fixed amount, unionid linked (steady)', 9, 'cost-cash', (n) => ({ openid: openid('BENCHCASH', n), unionid: `uBENCH_cash_${n}` }), false),
    ];
  });
}

async function pacingRun(label: string, sendsPerSecond: number): Promise<RedPacketBenchRow> {
  return withStack({
    instancesPerFunction: INSTANCES,
    paySandbox: { rateLimitPerSecond: RATE_LIMIT_PER_SECOND },
    redPacket: { sendsPerSecond },
  }, async (stack) => {
    await openCampaign(stack, 'bench', { budgetFen: CLAIMS * 100 });
    const refusals = new Map<string, number>();
    const startedAtMs = Date.now();
    const answers = await Promise.all(Array.from({ length: CLAIMS }, async (unused, n) => {
      const answer = await claim(stack, 'bench', { openid: openid('BENCH', n) });
      if (!answer.ok) refusals.set(answer.error?.code ?? 'HOST', (refusals.get(answer.error?.code ?? 'HOST') ?? 0) + 1);
      return answer.ok;
    }));
    const answeredAtMs = Date.now();
    // Claims the users were told to retry ("being sent") are settled by the reconciler.
    for (let run = 0; run < 20 && stack.pay.control.ledger().length < CLAIMS; run += 1) {
      await fetch(`${stack.url}/functions/sendRedPacket`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data: { action: 'reconcile', ignoreBackoff: true }, caller: { type: 'admin' } }),
      });
    }
    const packets = stack.pay.control.ledger();
    const paidAtMs = Math.max(...packets.map((packet) => packet.createdAtMs));
    const perSecond = new Map<number, number>();
    for (const packet of packets) perSecond.set(Math.floor(packet.createdAtMs / 1000), (perSecond.get(Math.floor(packet.createdAtMs / 1000)) ?? 0) + 1);
    const replies = stack.pay.control.stats().replies['/mmpaymkttransfers/sendminiprogramhb'] ?? {};
    return {
      run: label,
      'pacing (sends/s)': sendsPerSecond,
      claims: CLAIMS,
      'answered ok': answers.filter(Boolean).length,
      'told to retry': [...refusals].map(([code, count]) => `${code} ${count}`).join(', ') || '-',
      'packets paid': packets.length,
      'claims/s (to last paid)': Number((CLAIMS / ((paidAtMs - startedAtMs) / 1000)).toFixed(1)),
      'answer time (s)': Number(((answeredAtMs - startedAtMs) / 1000).toFixed(1)),
      'max sends in one second': Math.max(...perSecond.values()),
      'FREQ_LIMIT replies': replies.FREQ_LIMIT ?? 0,
    };
  });
}

/** Both red-packet tables. */
export async function benchRedPackets(): Promise<Array<{ title: string; rows: RedPacketBenchRow[] }>> {
  return [
    {
      title: 'Red packets: requests per warm claim on one instance (lower is better). Minimum for a mini-program packet: a transaction (start, commit) ' +
        'reading and writing the campaign (stock, window, rate) and inserting the claim SENDING with its billno = 5; one pacing increment; ' +
        'one write of the outcome (which also releases the lease) = 7. +1 per other key of the person (unionid), +1 for a random amount\'s slot, ' +
        '+1 to find a cash payee\'s official-account openid; the first send of a second also creates its pacing document.',
      rows: await costRows(),
    },
    {
      title: `Red packets: ${CLAIMS} concurrent claims on ${INSTANCES} instances, Pay sandbox limit ${RATE_LIMIT_PER_SECOND}/s (below what this machine drives)`,
      rows: [await pacingRun('ours: paced across instances', OUR_PACE_PER_SECOND), await pacingRun('baseline: no pacing', 1_800)],
    },
  ];
}

if (require.main === module) runAlone(benchRedPackets);
