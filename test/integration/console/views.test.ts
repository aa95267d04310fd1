/**
 * The console's view models against the local CloudBase through the real node-sdk adapter: the
 * accounts view (the registry's accounts, their follows per channel and day, read in the same
 * few requests at any volume), the ledger's red-packet and transfer sources, and a transfer
 * campaign's paid sum with waiting and given-back claims.
 */
import { useLocalStore } from '../../helpers/local-store';
import type { AccountDoc } from '../../../shared/accounts/model';
import { AccountRegistry } from '../../../shared/accounts/registry';
import { accountsView, chartDays, followCounters } from '../../../shared/console/areas/accounts';
import { campaignDetailView } from '../../../shared/console/areas/campaigns';
import { ledgerView, redPacketLedger, transferLedger } from '../../../shared/console/areas/ledger';
import { counterDocsFor, type FollowCounterDoc } from '../../../shared/follows/counters';
import { applyFollowEvent, ZERO_DELTA } from '../../../shared/follows/ledger';
import { COLLECTIONS } from '../../../shared/store/port';

process.env.TENCENTCLOUD = 'true';
const DAY_MS = 86_400_000;
// 12:00 in Beijing on 2026-06-01: every event below falls on the day it was meant for.
const DAY0 = Date.UTC(2026, 5, 1, 4, 0, 0);
const NOW = DAY0 + 13 * DAY_MS;
const CHANNELS = ['account', 'poster-1', 'poster-2', 'poster-3', 'poster-4'];

const local = useLocalStore();

/** The counter documents `count` first follows leave (as the push path counts them): follower n through channel n % 5 on day n % 14. */
async function followers(appId: string, count: number): Promise<void> {
  const counters = new Map<string, FollowCounterDoc>();
  for (let n = 0; n < count; n += 1) {
    const openid = `o${appId}${String(n).padStart(8, '0')}`;
    const atMs = DAY0 + (n % 14) * DAY_MS;
    const { deltas } = applyFollowEvent(null, { appId, openid, kind: 'subscribe', atMs, channel: CHANNELS[n % 5]! }, atMs);
    for (const { channel, delta } of deltas) {
      for (const doc of counterDocsFor(appId, channel, atMs, openid)) {
        const sum = counters.get(doc._id) ?? { ...doc, ...ZERO_DELTA };
        for (const key of Object.keys(ZERO_DELTA) as Array<keyof typeof ZERO_DELTA>) sum[key] += delta[key];
        counters.set(doc._id, sum);
      }
    }
  }
  const docs = [...counters.values()];
  for (let start = 0; start < docs.length; start += 500) {
    const response = await fetch(`${local.cloudBase.url}?env=local-env`, {
      method: 'POST',
      body: JSON.stringify({ action: 'database.insertDocument', collectionName: COLLECTIONS.followCounters, data: docs.slice(start, start + 500).map((doc) => JSON.stringify(doc)) }),
    });
    expect(await response.json()).not.toHaveProperty('code');
  }
}

async function requestsOf<T>(work: () => Promise<T>): Promise<{ result: T; requests: number }> {
  const before = local.cloudBase.stats().total;
  const result = await work();
  return { result, requests: local.cloudBase.stats().total - before };
}

describe('followCounters (the accounts view\'s follows)', () => {
  it.each([
    { case: '10 followers', appId: 'wx00000000000000c1', count: 10 },
    { case: '7,000 followers', appId: 'wx00000000000000c2', count: 7_000 },
  ])('reads every channel\'s totals and 14 days of counts in 3 requests with $case', async ({ appId, count }) => {
    await followers(appId, count);

    const { result, requests } = await requestsOf(() => followCounters(local.store, appId, NOW));

    // One read of the all-time counters, then 5 channels × 16 shards × 14 days in reads of at most 1,000 documents: 2.
    expect(requests).toBe(3);
    expect(result).not.toBeNull();
    const report = result!;
    expect(report.truncated).toBe(false);
    expect(report.total).toMatchObject({ follows: count, firstFollows: count, net: count });
    expect(report.channels.map((row) => [row.channel, row.follows])).toEqual(CHANNELS.map((channel, index) => [channel, Math.ceil((count - index) / 5)]));
    expect(report.series.days).toEqual(chartDays(NOW));
    expect(report.series.days[0]).toBe('2026-06-01');
    const perDay = report.series.days.map((_, day) => report.series.channels.reduce((sum, channel) => sum + channel.follows[day]!, 0));
    expect(perDay).toEqual(Array.from({ length: 14 }, (_, day) => Math.ceil((count - day) / 14)).map((n) => Math.max(0, n)));
    expect(perDay.reduce((sum, n) => sum + n, 0)).toBe(count);
  });

  it('reports an account without follows with no channels and an empty chart, in one request', async () => {
    const { result, requests } = await requestsOf(() => followCounters(local.store, 'wx00000000000000c9', NOW));

    expect(requests).toBe(1);
    expect(result).toMatchObject({ total: { follows: 0 }, channels: [], series: { days: chartDays(NOW), channels: [] }, truncated: false });
  });
});

describe('accountsView', () => {
  const ENVIRONMENT = 'wx00000000000000d1';
  const account = (appId: string, fields: Partial<AccountDoc>): AccountDoc => ({
    _id: appId, appId, kind: 'subscription', verified: false, name: `name of ${appId}`, originalId: null, messageMode: 'safe',
    appSecret: `Secret${appId}0000`, pushToken: `Token${appId}`, encodingAESKey: `Aes${appId}`.padEnd(43, 'x'), previousEncodingAESKey: null,
    status: 'active', createdAtMs: NOW, updatedAtMs: NOW, removedAtMs: 0, ...fields,
  });

  it('lists every account of the registry, cached credentials or not, removed ones last and unknown cached appids after them, with no secret', async () => {
    await local.store.put(COLLECTIONS.accounts, { ...account('wx00000000000000d3', { status: 'removed', removedAtMs: NOW }) });
    await local.store.put(COLLECTIONS.accounts, { ...account('wx00000000000000d2', { kind: 'subscription', messageMode: 'compatible' }) });
    await local.store.put(COLLECTIONS.credentials, { _id: `${ENVIRONMENT}:access_token`, appId: ENVIRONMENT, kind: 'access_token', value: 'TOKEN-VALUE', version: 4, fetchedAtMs: NOW, expiresAtMs: NOW + 7_200_000, source: 'timer', backoffUntilMs: 0, lastError: null });
    await local.store.put(COLLECTIONS.credentials, { _id: 'wx00000000000000d9:access_token', appId: 'wx00000000000000d9', kind: 'access_token', value: 'OLD', version: 1, fetchedAtMs: NOW, expiresAtMs: NOW, source: 'timer', backoffUntilMs: 0, lastError: null });
    const registry = new AccountRegistry({ store: local.store, environment: { appId: ENVIRONMENT } });

    const view = await accountsView(local.store, NOW, registry, followCounters);

    expect(view.map((row) => [row.appId, row.account?.kind ?? null, row.account?.active ?? null, row.credentials.map((line) => line.version)])).toEqual([
      [ENVIRONMENT, 'service', true, [4]],
      ['wx00000000000000d2', 'subscription', true, []],
      ['wx00000000000000d3', 'subscription', false, []],
      ['wx00000000000000d9', null, null, [1]],
    ]);
    expect(view[1]!.account).toMatchObject({ verified: false, messageMode: 'compatible', isDefault: false });
    expect(view[3]!.follows).toBeNull();
    const text = JSON.stringify(view);
    for (const secret of ['TOKEN-VALUE', 'Secretwx00000000000000d2', 'Tokenwx00000000000000d2', 'Aeswx00000000000000d2']) expect(text).not.toContain(secret);
  });
});

describe('the ledger and a transfer campaign', () => {
  const CAMPAIGN = 'views-transfer';
  const claimDoc = (key: string, fields: Record<string, unknown>) => ({
    _id: `${CAMPAIGN}:${key}`, campaignId: CAMPAIGN, payout: 'transfer', openid: `o_${key}`, appId: 'wx00000000000000e1', amountFen: 100,
    mchBillno: `bill${key}`.padEnd(28, '0'), attempt: 1, sendListid: null, wechatStatus: null, lastError: null, failedErrCode: null, heldReason: null,
    uncertainSinceMs: null, returnedAtMs: null, settledAtMs: null, createdAtMs: NOW, updatedAtMs: NOW, ...fields,
  });

  beforeAll(async () => {
    // Four transfers of 1 元 reserved: one paid, one waiting for its user, one cancelled (its amount given back), one not yet sent.
    await local.store.put(COLLECTIONS.redPacketCampaigns, {
      _id: CAMPAIGN, payout: 'transfer', eligibility: 'miniprogram', actName: '', startsAtMs: NOW - DAY_MS, endsAtMs: NOW + DAY_MS,
      budgetFen: 1_000, packetCount: 10, claimedCount: 4, claimedFen: 300, returnedAmountsFen: [100], amount: { mode: 'fixed', amountFen: 100 }, createdAtMs: NOW,
    });
    await local.store.put(COLLECTIONS.redPacketClaims, claimDoc('paid', { status: 'RECEIVED', wechatStatus: 'SUCCESS', sendListid: '1330000000000000000000000001', settledAtMs: NOW }));
    await local.store.put(COLLECTIONS.redPacketClaims, claimDoc('waiting', { status: 'WAITING', wechatStatus: 'WAIT_USER_CONFIRM' }));
    await local.store.put(COLLECTIONS.redPacketClaims, claimDoc('canceling', { status: 'WAITING', wechatStatus: 'CANCELING' }));
    await local.store.put(COLLECTIONS.redPacketClaims, claimDoc('cancelled', { status: 'FAILED', wechatStatus: 'CANCELLED', failedErrCode: 'CANCELLED', returnedAtMs: NOW, settledAtMs: NOW }));
    // A packet paid, with a claim written before payouts had names (`kind`).
    const { payout: _ignored, ...packet } = claimDoc('packet', { status: 'SENT', sendListid: '1000041701000000000000000001', settledAtMs: NOW - 1 });
    await local.store.put(COLLECTIONS.redPacketClaims, { ...packet, kind: 'miniprogram', campaignId: 'views-packets', _id: 'views-packets:packet' });
  });

  it('counts only the paid transfer as paid: a waiting one is not, and a given-back one is not subtracted twice', async () => {
    const detail = (await campaignDetailView(local.store, CAMPAIGN, NOW))!;

    expect({ paidFen: detail.paidFen, paidCount: detail.paidCount, approximate: detail.paidIsApproximate }).toEqual({ paidFen: 100, paidCount: 1, approximate: false });
    expect(detail.claimsByStatus.filter(({ count }) => count > 0)).toEqual([{ status: 'WAITING', count: 2 }, { status: 'RECEIVED', count: 1 }, { status: 'FAILED', count: 1 }]);
  });

  it('lists waiting transfers with their bill state, offering a cancel until WeChat took one', async () => {
    const detail = (await campaignDetailView(local.store, CAMPAIGN, NOW))!;

    expect(detail.waiting.map((line) => [line.id, line.reason, line.action]).sort()).toEqual([
      [`${CAMPAIGN}:canceling`, 'bill CANCELING', 'settle'],
      [`${CAMPAIGN}:waiting`, 'bill WAIT_USER_CONFIRM', 'cancel-transfer'],
    ]);
    expect(detail.open).toEqual([]);
    expect(detail.failed.map((line) => [line.id, line.reason])).toEqual([[`${CAMPAIGN}:cancelled`, 'CANCELLED']]);
  });

  const TRANSFER_ROW = ['transfer', `${CAMPAIGN}:paid`, 'billpaid'.padEnd(28, '0'), '1330000000000000000000000001', 'SUCCESS'];
  const PACKET_ROW = ['red packet (miniprogram)', 'views-packets:packet', 'billpacket'.padEnd(28, '0'), '1000041701000000000000000001', 'SENT'];

  it.each([
    { case: 'every kind', kind: undefined, rows: [TRANSFER_ROW, PACKET_ROW] },
    { case: 'transfers', kind: 'transfer', rows: [TRANSFER_ROW] },
    { case: 'red packets', kind: 'redpacket', rows: [PACKET_ROW] },
  ])('lists the paid $case, each once, with both bill numbers', async ({ kind, rows }) => {
    const view = await ledgerView(local.store, { limit: 50, ...(kind === undefined ? {} : { kind }) }, [redPacketLedger, transferLedger]);

    expect(view.rows.map((row) => [row.kind, row.claimId, row.billNo, row.wechatNo, row.status])).toEqual(rows);
    expect(view.totalFen).toBe(rows.length * 100);
  });
});
