/**
 * A campaign's event counters (`rp_campaign_stats`, `_id` = campaign id): refusals by reason and
 * Pay error codes, incremented by the claim engine as they happen, so the console reads them in
 * one request instead of scanning claims (and refusals leave no claim behind to scan).
 */
import { COLLECTIONS, type DocumentStore, type StoredDoc } from '../../store/port';

export interface CampaignStatsDoc extends StoredDoc {
  refusals?: Record<string, number>;
  payErrors?: Record<string, number>;
  updatedAtMs?: number;
}

export interface CampaignStats {
  refusals: Array<{ reason: string; count: number }>;
  payErrors: Array<{ code: string; count: number }>;
}

function sorted(counts: Record<string, number> | undefined): Array<[string, number]> {
  return Object.entries(counts ?? {}).filter(([, count]) => typeof count === 'number' && count > 0).sort((a, b) => b[1] - a[1]);
}

export async function campaignStatsOf(store: DocumentStore, campaignId: string): Promise<CampaignStats> {
  const doc = await store.get<CampaignStatsDoc>(COLLECTIONS.redPacketStats, campaignId);
  return {
    refusals: sorted(doc?.refusals).map(([reason, count]) => ({ reason, count })),
    payErrors: sorted(doc?.payErrors).map(([code, count]) => ({ code, count })),
  };
}
