/**
 * Red-packet throughput through the local stack (real bundles, 8 instances, Pay sandbox with
 * WeChat's 30 sends/s limit): claims per second from first call to last packet paid, and whether
 * the pacing held — the most sends the sandbox saw in one second and its FREQ_LIMIT answers.
 * The baseline is the same run with pacing effectively off (1800/s), so the table shows what the
 * shared per-second counter costs and what it saves. Exported for `npm run bench` (scripts/bench/index.ts).
 */
import tcb from '@cloudbase/node-sdk';
import { createCampaign } from '../campaign';
import { createNodeSdkStore } from '../../shared/store/nodeSdk';
import { LOCAL_ACCOUNT, startStack } from '../local/stack';

/** One bench row, ready for a table. */
export type RedPacketBenchRow = Record<string, string | number>;

const INSTANCES = 8;
const CLAIMS = 240;
const RATE_LIMIT_PER_SECOND = 30;

async function runOnce(label: string, sendsPerSecond: number): Promise<RedPacketBenchRow> {
  const stack = await startStack({
    port: 0,
    dataDir: null,
    quiet: true,
    instancesPerFunction: INSTANCES,
    paySandbox: { rateLimitPerSecond: RATE_LIMIT_PER_SECOND },
    redPacket: { sendsPerSecond },
  });
  try {
    // node-sdk would otherwise probe metadata.tencentyun.com first; the stack is all on loopback.
    process.env.TENCENTCLOUD = 'true';
    const app = tcb.init({ env: LOCAL_ACCOUNT.envId, secretId: 'local', secretKey: 'local', serviceUrl: `${stack.url}/admin` } as never);
    const nowMs = Date.now();
    await createCampaign(createNodeSdkStore(app.database()), {
      id: 'bench', kind: 'miniprogram', sendName: 'bench', wishing: 'bench', actName: 'bench', remark: 'bench',
      startsAt: nowMs - 1_000, endsAt: nowMs + 3_600_000, budgetFen: CLAIMS * 100, amount: { fixedFen: 100 }, claimsPerSecond: 100_000,
    });
    const refusals = new Map<string, number>();
    const claimOnce = async (n: number): Promise<boolean> => {
      const response = await fetch(`${stack.url}/functions/sendRedPacket`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          data: { campaignId: 'bench' },
          caller: { type: 'miniprogram', openid: `oBENCH_${n}_`.padEnd(16, '0'), appid: LOCAL_ACCOUNT.miniProgramAppId },
        }),
      });
      const answer = (await response.json()) as { ok: boolean; error?: { code: string } };
      if (!answer.ok) refusals.set(answer.error?.code ?? 'HOST', (refusals.get(answer.error?.code ?? 'HOST') ?? 0) + 1);
      return answer.ok;
    };
    const startedAtMs = Date.now();
    const answers = await Promise.all(Array.from({ length: CLAIMS }, (unused, n) => claimOnce(n)));
    const answeredAtMs = Date.now();
    // Claims the users were told to retry ("being sent") are settled by the reconciler.
    for (let run = 0; run < 10 && stack.pay.control.ledger().length < CLAIMS; run += 1) {
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
  } finally {
    await stack.close();
  }
}

/** Runs the paced configuration (WeChat's default 30/s) and the unpaced baseline; rows for a table. */
export async function benchRedPackets(): Promise<{ title: string; rows: RedPacketBenchRow[] }> {
  const rows = [await runOnce('ours: paced across instances', RATE_LIMIT_PER_SECOND), await runOnce('baseline: no pacing', 1_800)];
  return { title: `Red packets: ${CLAIMS} concurrent claims on ${INSTANCES} instances, Pay sandbox limit ${RATE_LIMIT_PER_SECOND}/s`, rows };
}

if (require.main === module) {
  benchRedPackets().then(
    ({ title, rows }) => {
      console.log(title);
      console.table(rows);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
