/**
 * A campaign's event counters (`rp_campaign_stats`, `_id` = campaign id): refusals by reason and
 * Pay error codes, so the console reads them in one request — refusals leave no claim behind to
 * count, and a claim keeps only its last error.
 *
 * Refusals are the cheap path (most are decided from an instance's copy of the campaign, with no
 * database request), so they are counted in instance memory: a reason this instance has not seen
 * for the campaign is written at once (a new kind of refusal shows up immediately), repeats at most
 * every {@link REFUSAL_FLUSH_MS} by the refusal that finds the interval passed — a sold-out storm
 * costs a few writes, not one per caller. The price: an instance that is recycled loses the
 * counts of its last interval — the figures are a close lower bound, not a ledger. Pay errors are
 * rare and written at once. Counting never fails a claim: a failed write is logged and retried
 * with the next flush.
 */
import type { Logger } from '../log';
import { COLLECTIONS, type DocumentStore, type StoredDoc } from '../store/port';

export interface CampaignStatsDoc extends StoredDoc {
  refusals?: Record<string, number>;
  payErrors?: Record<string, number>;
  updatedAtMs?: number;
}

export interface CampaignStats {
  refusals: Array<{ reason: string; count: number }>;
  payErrors: Array<{ code: string; count: number }>;
}

export const REFUSAL_FLUSH_MS = 5_000;

/** A code as a field name: no dots (paths) or `$`, short. */
function fieldOf(code: string): string {
  return code.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 40) || 'unknown';
}

async function add(store: DocumentStore, campaignId: string, counts: Record<string, number>, nowMs: number): Promise<void> {
  const collection = COLLECTIONS.redPacketStats;
  const patch = { inc: counts, set: { updatedAtMs: nowMs } };
  if ((await store.update(collection, { _id: campaignId }, patch)) === 1) return;
  const fresh: StoredDoc & Record<string, unknown> = { _id: campaignId, updatedAtMs: nowMs };
  for (const [path, count] of Object.entries(counts)) {
    const [group, code] = path.split('.') as [string, string];
    fresh[group] = { ...(fresh[group] as Record<string, number> | undefined), [code]: count };
  }
  // Someone else created it meanwhile: add to theirs.
  if (!(await store.insert(collection, fresh))) await store.update(collection, { _id: campaignId }, patch);
}

/** Refusal counts waiting to be written, per campaign (this instance). */
const pending = new Map<string, { counts: Record<string, number>; flushedAtMs: number; seen: Set<string> }>();

/** Counts a refusal of `campaignId` for `reason`; writes this instance's counts when the interval has passed. */
export async function countRefusal(store: DocumentStore, log: Logger, campaignId: string, reason: string, nowMs: number): Promise<void> {
  const entry = pending.get(campaignId) ?? { counts: {}, flushedAtMs: 0, seen: new Set<string>() };
  pending.set(campaignId, entry);
  const field = `refusals.${fieldOf(reason)}`;
  entry.counts[field] = (entry.counts[field] ?? 0) + 1;
  const fresh = !entry.seen.has(field);
  entry.seen.add(field);
  if (!fresh && nowMs - entry.flushedAtMs < REFUSAL_FLUSH_MS) return;
  const counts = entry.counts;
  entry.counts = {};
  entry.flushedAtMs = nowMs;
  try {
    await add(store, campaignId, counts, nowMs);
  } catch (error) {
    for (const [key, count] of Object.entries(counts)) entry.counts[key] = (entry.counts[key] ?? 0) + count;
    log.warn('refusal counts not written; kept for the next flush', { campaignId, error });
  }
}

/** Counts a Pay answer that was not "paid" (err_code or transport reason). */
export async function countPayError(store: DocumentStore, log: Logger, campaignId: string, code: string, nowMs: number): Promise<void> {
  try {
    await add(store, campaignId, { [`payErrors.${fieldOf(code)}`]: 1 }, nowMs);
  } catch (error) {
    log.warn('Pay error count not written', { campaignId, code, error });
  }
}

function sorted(counts: Record<string, number> | undefined): Array<[string, number]> {
  return Object.entries(counts ?? {}).filter(([, count]) => typeof count === 'number' && count > 0).sort((a, b) => b[1] - a[1]);
}

/** A campaign's counters, largest first. */
export async function campaignStatsOf(store: DocumentStore, campaignId: string): Promise<CampaignStats> {
  const doc = await store.get<CampaignStatsDoc>(COLLECTIONS.redPacketStats, campaignId);
  return {
    refusals: sorted(doc?.refusals).map(([reason, count]) => ({ reason, count })),
    payErrors: sorted(doc?.payErrors).map(([code, count]) => ({ code, count })),
  };
}
