/**
 * A campaign's refusal and Pay-error counters (shared/claims/stats.ts) against the local
 * CloudBase: refusals are batched per instance, Pay errors written at once, and counting never
 * fails the claim it counts.
 */
import { useLocalStore } from '../../helpers/local-store';
import { campaignStatsOf, countPayError, countRefusal, REFUSAL_FLUSH_MS } from '../../../shared/claims/stats';
import { createLogger } from '../../../shared/log';
import { COLLECTIONS, type DocumentStore } from '../../../shared/store/port';

process.env.TENCENTCLOUD = 'true';
const quiet = createLogger({}, { write: () => undefined });
const T0 = 1_800_000_000_000;

const local = useLocalStore();

describe('campaign stats', () => {
  it('writes a reason the instance has not seen at once, batches its repeats, and writes them after the interval', async () => {
    await countRefusal(local.store, quiet, 'stats-a', 'sold_out', T0);
    for (let i = 1; i <= 3; i += 1) await countRefusal(local.store, quiet, 'stats-a', 'sold_out', T0 + i);
    expect((await campaignStatsOf(local.store, 'stats-a')).refusals).toEqual([{ reason: 'sold_out', count: 1 }]);

    await countRefusal(local.store, quiet, 'stats-a', 'paused', T0 + 10);
    expect((await campaignStatsOf(local.store, 'stats-a')).refusals).toEqual([{ reason: 'sold_out', count: 4 }, { reason: 'paused', count: 1 }]);

    await countRefusal(local.store, quiet, 'stats-a', 'paused', T0 + 20);
    expect((await campaignStatsOf(local.store, 'stats-a')).refusals).toContainEqual({ reason: 'paused', count: 1 });
    await countRefusal(local.store, quiet, 'stats-a', 'paused', T0 + 10 + REFUSAL_FLUSH_MS);
    expect((await campaignStatsOf(local.store, 'stats-a')).refusals).toContainEqual({ reason: 'paused', count: 3 });
  });

  it('counts Pay errors as they happen, with codes made safe as field names', async () => {
    await countPayError(local.store, quiet, 'stats-b', 'SYSTEMERROR', T0);
    await countPayError(local.store, quiet, 'stats-b', 'SYSTEMERROR', T0);
    await countPayError(local.store, quiet, 'stats-b', 'no reply: ECONNRESET', T0);

    expect((await campaignStatsOf(local.store, 'stats-b')).payErrors).toEqual([{ code: 'SYSTEMERROR', count: 2 }, { code: 'no_reply__ECONNRESET', count: 1 }]);
  });

  it('keeps refusals it could not write for the next flush, and never throws', async () => {
    const broken: DocumentStore = { ...local.store, update: async () => { throw new Error('database down'); } };
    await expect(countRefusal(broken, quiet, 'stats-c', 'ended', T0)).resolves.toBeUndefined();

    await countRefusal(local.store, quiet, 'stats-c', 'ended', T0 + REFUSAL_FLUSH_MS);
    // (the first refusal was new, so it was tried at once; the second finds the interval passed)

    expect((await campaignStatsOf(local.store, 'stats-c')).refusals).toEqual([{ reason: 'ended', count: 2 }]);
    await expect(countPayError(broken, quiet, 'stats-c', 'SYSTEMERROR', T0)).resolves.toBeUndefined();
  });
});
