/**
 * Transfer benchmarks through the local stack (real bundles, the Pay sandbox's APIv3), next to
 * mini-program packets measured the same way in the same run:
 *
 * 1. What one warm claim costs: database and Pay requests per claim (GET /__local/stats, the Pay
 *    sandbox's counters), against the minimum the claim path's invariants need.
 * 2. Claims per second: 200 concurrent claims on 8 instances, each payout at WeChat's default limit
 *    and our default pace (packets: 30 sends/s, paced at 30; transfers: 100 creates/s, paced at 90).
 *
 * Exported for `npm run bench` (scripts/bench/index.ts); `npx tsx scripts/bench/transfer.ts` runs it alone.
 */
import { createCampaign } from '../campaign';
import { LOCAL_ACCOUNT, type Stack } from '../local/stack';
import { operatorStore, runAlone, withStack } from './common';

/** One bench row, ready for a table. */
export type TransferBenchRow = Record<string, string | number>;

const INSTANCES = 8;
const CLAIMS = 200;
const COST_CLAIMS = 40;

const PAYOUT_FIELDS: Record<'packet' | 'transfer', Record<string, unknown>> = {
  packet: { payout: 'miniprogram', sendName: 'bench', wishing: 'bench', actName: 'bench', remark: 'bench' },
  transfer: { payout: 'transfer', transferRemark: 'bench', reportInfos: { 活动名称: 'bench', 奖励说明: 'bench' } },
};

async function openCampaign(stack: Stack, id: string, kind: 'packet' | 'transfer', count: number): Promise<void> {
  const nowMs = Date.now();
  await createCampaign(operatorStore(stack), {
    id, ...PAYOUT_FIELDS[kind], startsAt: nowMs - 1_000, endsAt: nowMs + 3_600_000, budgetFen: count * 100, amount: { fixedFen: 100 }, claimsPerSecond: 100_000,
  });
}

async function claim(stack: Stack, campaignId: string, openid: string): Promise<{ ok: boolean; error?: { code: string } }> {
  const response = await fetch(`${stack.url}/functions/sendRedPacket`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ data: { campaignId }, caller: { type: 'miniprogram', appid: LOCAL_ACCOUNT.miniProgramAppId, openid } }),
  });
  return (await response.json()) as { ok: boolean; error?: { code: string } };
}

const openid = (prefix: string, n: number): string => `o${prefix}_${n}_`.padEnd(16, '0');
const payCalls = (stack: Stack): number =>
  Object.values(stack.pay.control.stats().calls).reduce((sum, calls) => sum + calls, 0)
  + Object.values(stack.pay.transfers!.stats().calls).reduce((sum, calls) => sum + calls, 0);

/** Requests per claim on one warm instance, claims one after another (the current second's pacing document exists). */
async function costRows(): Promise<TransferBenchRow[]> {
  return withStack({ instancesPerFunction: 1, payTransfers: { tickMs: 0 } }, async (stack) => {
    await openCampaign(stack, 'cost-packet', 'packet', 1_000);
    await openCampaign(stack, 'cost-transfer', 'transfer', 1_000);
    // Warm: the bundle loaded, the certificate and keys parsed, the campaigns in the instance's memory.
    for (const id of ['cost-packet', 'cost-transfer']) await claim(stack, id, openid('WARM', 0));
    const measure = async (label: string, campaignId: string, prefix: string): Promise<TransferBenchRow> => {
      let requests = 0;
      let pay = 0;
      let ok = 0;
      for (let n = 0; n < COST_CLAIMS; n += 1) {
        const before = stack.cloudbase.stats().total;
        const payBefore = payCalls(stack);
        if ((await claim(stack, campaignId, openid(prefix, n))).ok) ok += 1;
        requests += stack.cloudbase.stats().total - before;
        pay += payCalls(stack) - payBefore;
      }
      const repeatBefore = stack.cloudbase.stats().total;
      await claim(stack, campaignId, openid(prefix, 0));
      return {
        claim: label,
        claims: `${ok}/${COST_CLAIMS}`,
        'database requests': Number((requests / COST_CLAIMS).toFixed(2)),
        'minimum the invariants need': 7,
        'vs minimum': (requests / COST_CLAIMS / 7).toFixed(2),
        'Pay requests': Number((pay / COST_CLAIMS).toFixed(2)),
        'a repeat call (database requests)': stack.cloudbase.stats().total - repeatBefore,
      };
    };
    return [
      await measure('mini-program packet, fixed amount (steady)', 'cost-packet', 'BENCHPKT'),
      await measure('transfer, fixed amount (steady)', 'cost-transfer', 'BENCHTR'),
    ];
  });
}

async function throughputRow(label: string, kind: 'packet' | 'transfer'): Promise<TransferBenchRow> {
  return withStack({ instancesPerFunction: INSTANCES, payTransfers: { tickMs: 0 } }, async (stack) => {
    await openCampaign(stack, 'throughput', kind, CLAIMS);
    const dbBefore = stack.cloudbase.stats().total;
    const startedAtMs = Date.now();
    const answers = await Promise.all(Array.from({ length: CLAIMS }, (unused, n) => claim(stack, 'throughput', openid('RUN', n))));
    const answeredAtMs = Date.now();
    const dbRequests = stack.cloudbase.stats().total - dbBefore;
    const created = kind === 'packet'
      ? stack.pay.control.ledger().map((packet) => packet.createdAtMs)
      : stack.pay.transfers!.transfers().map((bill) => bill.createdAtMs);
    const refused = new Map<string, number>();
    for (const answer of answers) if (!answer.ok) refused.set(answer.error?.code ?? 'HOST', (refused.get(answer.error?.code ?? 'HOST') ?? 0) + 1);
    return {
      payout: label,
      claims: CLAIMS,
      'answered ok': answers.filter((answer) => answer.ok).length,
      'told to retry': [...refused].map(([code, count]) => `${code} ${count}`).join(', ') || '-',
      'paid / bills': created.length,
      'claims/s (answers)': Number((CLAIMS / ((answeredAtMs - startedAtMs) / 1000)).toFixed(1)),
      'database requests per claim': Number((dbRequests / CLAIMS).toFixed(2)),
    };
  });
}

/** Both transfer tables. */
export async function benchTransfers(): Promise<Array<{ title: string; rows: TransferBenchRow[] }>> {
  return [
    {
      title: 'Transfers next to packets: requests per warm claim on one instance (lower is better). The minimum is the same for both: a transaction ' +
        '(start, commit) reading and writing the campaign and inserting the claim with its bill number (and, for a transfer, its exact request body) = 5; ' +
        'one pacing increment; one write of the outcome = 7. A repeat call of a waiting transfer answers its package after one counted call.',
      rows: await costRows(),
    },
    {
      title: `Transfers next to packets: ${CLAIMS} concurrent claims on ${INSTANCES} instances at WeChat's default limits (packets 30 sends/s, paced at 30; ` +
        'transfers 100 creates/s, paced at 90). A transfer is "paid" once the bill waits for its user.',
      rows: [await throughputRow('mini-program packets', 'packet'), await throughputRow('transfers', 'transfer')],
    },
  ];
}

if (require.main === module) runAlone(benchTransfers);
