/**
 * A claim-page campaign's funnel per channel — follows → links sent → links opened → authorised →
 * claimed → paid, and refusals by reason — kept on the campaign's stats document
 * (`rp_campaign_stats`, `_id` = campaign id, field `funnel.<channel key>.<stage>`), so reading the
 * whole funnel is ONE database request at any volume.
 *
 * Each stage is counted once per link or claim by the step that moves it, and that step is itself
 * once-only: the link's document is inserted once (follows, links sent, not new), moved by
 * conditional updates (opened, authorised), the claim reserved once (claimed) and settled paid once
 * (paid: the engine's and the notify's paid transitions). Increments are plain `inc` updates
 * outside any transaction, so concurrent follows never conflict on the document; counting never
 * fails the step it counts (a failed write is logged).
 */
import type { Logger } from '../log';
import { COLLECTIONS, type DocumentStore, type StoredDoc } from '../store/port';

export const FUNNEL_STAGES = ['follows', 'linksSent', 'linksOpened', 'authorised', 'claimed', 'paid'] as const;
export type FunnelStage = (typeof FUNNEL_STAGES)[number];

/** One channel's funnel. */
export interface ChannelFunnel {
  /** `<appid>:<channel>` for follows, `webview` for the mini-program page. */
  channel: string;
  stages: Record<FunnelStage, number>;
  refusals: Record<string, number>;
}

/** The funnel key of a follow channel. */
export function followChannelKey(appId: string, channel: string): string {
  return `${appId}:${channel}`;
}

/** The funnel key of web-view claims. */
export const WEBVIEW_CHANNEL = 'webview';

/** A channel key as a field name: no dots (paths) or `$`; reversible. */
function fieldOf(channel: string): string {
  return channel.replace(/[^A-Za-z0-9_-]/g, (char) => `~${char.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function channelOf(field: string): string {
  return field.replace(/~([0-9a-f]{2})/g, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** A refusal reason as a field name. */
function reasonField(reason: string): string {
  return reason.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 40) || 'unknown';
}

/** Adds one to a stage (or a refusal) of a channel's funnel. Never throws. */
export async function countFunnel(
  store: DocumentStore,
  log: Logger,
  campaignId: string,
  channel: string | null | undefined,
  what: { stage: FunnelStage } | { refusal: string },
  nowMs: number,
): Promise<void> {
  if (channel === null || channel === undefined) return;
  const path = 'stage' in what ? `funnel.${fieldOf(channel)}.${what.stage}` : `funnel.${fieldOf(channel)}.refusals.${reasonField(what.refusal)}`;
  const collection = COLLECTIONS.redPacketStats;
  try {
    if ((await store.update(collection, { _id: campaignId }, { inc: { [path]: 1 }, set: { updatedAtMs: nowMs } })) === 1) return;
    // The first count of the campaign creates its document; someone else creating it meanwhile means: add to theirs.
    const fresh: StoredDoc & Record<string, unknown> = { _id: campaignId, updatedAtMs: nowMs };
    const parts = path.split('.');
    let node = fresh as Record<string, unknown>;
    for (const part of parts.slice(0, -1)) node = (node[part] = {}) as Record<string, unknown>;
    node[parts[parts.length - 1]!] = 1;
    if (!(await store.insert(collection, fresh))) await store.update(collection, { _id: campaignId }, { inc: { [path]: 1 }, set: { updatedAtMs: nowMs } });
  } catch (error) {
    log.warn('funnel count not written', { campaignId, channel, error });
  }
}

/** A campaign's funnel, one entry per channel that has counts. One database request. */
export async function campaignFunnel(store: DocumentStore, campaignId: string): Promise<ChannelFunnel[]> {
  const doc = await store.get<StoredDoc & { funnel?: Record<string, Record<string, unknown>> }>(COLLECTIONS.redPacketStats, campaignId);
  return Object.entries(doc?.funnel ?? {})
    .map(([field, counts]) => {
      const stages = Object.fromEntries(FUNNEL_STAGES.map((stage) => [stage, typeof counts[stage] === 'number' ? counts[stage] : 0])) as Record<FunnelStage, number>;
      const refusals = Object.fromEntries(Object.entries((counts.refusals ?? {}) as Record<string, unknown>)
        .filter((entry): entry is [string, number] => typeof entry[1] === 'number' && entry[1] > 0));
      return { channel: channelOf(field), stages, refusals };
    })
    .sort((a, b) => a.channel.localeCompare(b.channel));
}
