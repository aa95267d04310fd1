/**
 * The passive reply of a follow through a follow campaign's channel (receivePush's ReplyHook): the
 * signed claim link for a first follow inside the campaign's window, a plain "new followers only"
 * for a returning one. It runs inside the push's apply transaction, within WeChat's 5 s, so it
 * makes no WeChat call: the campaign comes from instance memory (30 s), the link is computed.
 *
 * The push may be applied more than once (a conflict retries the transaction; the reconciler
 * re-applies what a slow store left), so everything here is idempotent: the link is deterministic
 * (the same follow gives the same token), and its document is INSERTED — only the insert that
 * creates it counts the follow and the link in the funnel.
 */
import type { Logger } from '../log';
import { channelReply, type ReplyHook } from '../push/receiver';
import { COLLECTIONS, type DocumentStore } from '../store/port';
import { followInWindow, type ClaimLinkDoc } from '../claims/eligibility/follow';
import { RefusalReason } from '../claims/errors';
import { countFunnel, followChannelKey } from '../claims/funnel';
import { readCampaign, type CampaignDoc } from '../claims/model';
import { countRefusal } from '../claims/stats';
import { linkIdOfToken, signClaimLink } from './links';

const CAMPAIGN_TTL_MS = 30_000;

export interface FollowReplyOptions {
  store: DocumentStore;
  log: Logger;
  /** The claim link key (config.ts). */
  linkKey: Buffer;
  /** `https://<domain>`: links are `<origin>/claim/f?l=…`. */
  origin: string;
  now?: () => number;
  /** What other follows get (default: the channel's configured reply). */
  fallback?: ReplyHook;
}

/** The follow campaigns' reply hook. */
export function followCampaignReply(options: FollowReplyOptions): ReplyHook {
  const fallback = options.fallback ?? channelReply;
  const now = options.now ?? Date.now;
  const campaigns = new Map<string, { atMs: number; campaign: Promise<CampaignDoc | null> }>();
  const campaignOf = (campaignId: string): Promise<CampaignDoc | null> => {
    const nowMs = now();
    const hit = campaigns.get(campaignId);
    if (hit !== undefined && nowMs - hit.atMs < CAMPAIGN_TTL_MS) return hit.campaign;
    const campaign = options.store.get<CampaignDoc>(COLLECTIONS.redPacketCampaigns, campaignId).then((doc) => (doc === null ? null : readCampaign(doc)));
    const entry = { atMs: nowMs, campaign };
    campaigns.set(campaignId, entry);
    campaign.catch(() => campaigns.get(campaignId) === entry && campaigns.delete(campaignId));
    return campaign;
  };

  return async (context) => {
    const { event, facts, channel } = context;
    if (event.kind !== 'subscribe' || facts === null || channel === null || channel.campaignId === null) return fallback(context);
    const campaign = await campaignOf(channel.campaignId);
    if (campaign === null || campaign.eligibility !== 'follow' || campaign.follow === undefined) return fallback(context);
    // A follow outside the window is not the campaign's: the channel's own reply, nothing counted.
    if (!followInWindow(campaign, facts.atMs)) return fallback(context);
    const token = signClaimLink(options.linkKey, { campaignId: campaign._id, appId: facts.appId, channel: facts.channel, openid: facts.openid, followAtMs: facts.atMs });
    const isNew = facts.firstFollow;
    const nowMs = now();
    const doc: ClaimLinkDoc = {
      _id: linkIdOfToken(token),
      campaignId: campaign._id,
      appId: facts.appId,
      channel: facts.channel,
      openid: facts.openid,
      followAtMs: Math.floor(facts.atMs / 1000) * 1000,
      status: isNew ? 'sent' : 'refused',
      boundOpenid: null,
      refusal: isNew ? null : RefusalReason.NOT_NEW,
      createdAtMs: nowMs,
      openedAtMs: null,
      boundAtMs: null,
    };
    if (await options.store.insert(COLLECTIONS.claimLinks, doc as ClaimLinkDoc & Record<string, unknown>)) {
      const key = followChannelKey(facts.appId, facts.channel);
      await countFunnel(options.store, options.log, campaign._id, key, { stage: 'follows' }, nowMs);
      if (isNew) await countFunnel(options.store, options.log, campaign._id, key, { stage: 'linksSent' }, nowMs);
      else {
        await countFunnel(options.store, options.log, campaign._id, key, { refusal: RefusalReason.NOT_NEW }, nowMs);
        await countRefusal(options.store, options.log, campaign._id, RefusalReason.NOT_NEW, nowMs);
      }
    }
    if (!isNew) return { type: 'text', content: campaign.follow.notNewReply };
    const link = `${options.origin}/claim/f?l=${token}`;
    return { type: 'text', content: campaign.follow.linkReply.split('{link}').join(link) };
  };
}
