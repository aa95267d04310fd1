/**
 * The new follower (seed 004): someone who followed one of the campaign's accounts through one of
 * its channels during the campaign's window, for the first time, got a signed claim link in the
 * passive reply (shared/claimpage/reply.ts), opened it, and was proven by OAuth on the paying
 * service account to be that follower (shared/claimpage/service.ts binds the link to them).
 *
 * What this module checks, on the database as it is now — never on what the browser says:
 * - the link's document is bound to exactly this service-account openid (single use: a link
 *   opened by anyone else was refused before it could be bound to them);
 * - the follow ledger (shared/follows/ledger.ts) of the follower: the link's follow is their FIRST
 *   follow of that account (a re-follow after an unfollow, or a follower the ledger met already
 *   following, is not new) and it happened inside the campaign's window.
 *
 * The person is known by every key they have — the service-account openid OAuth gave (primary:
 * one claim per person across all the campaign's accounts, since all of them lead to the same
 * service account), the follower's openid under the account they followed, and their unionid
 * when WeChat gave one — and the engine reserves them all in its one transaction.
 */
import { hasCapability } from '../../accounts/model';
import { ACCOUNT_CHANNEL, followLedgerId, wasFollowerBefore, type FollowLedgerDoc } from '../../follows/ledger';
import { COLLECTIONS } from '../../store/port';
import { readRegions } from '../campaign';
import { refusal, RefusalReason } from '../errors';
import { followChannelKey } from '../funnel';
import { openidKey, unionidKey, type FollowTerms } from '../model';
import { linkedPayee, type EligibilityModule } from './types';
import type { IpRegion } from '../campaign';

/** What the claim page proved: the verified link, and who OAuth says opened it. */
export interface FollowProof {
  link: { campaignId: string; appId: string; channel: string; openid: string; followAtMs: number; linkId: string };
  /** The paying service account and the openid its OAuth gave. */
  serviceAppId: string;
  serviceOpenid: string;
  /** The unionid WeChat gave for this person (snsapi_userinfo, or the follower's user/info). */
  unionid?: string;
  clientIp?: string;
  region?: IpRegion | null;
}

/** A link's document in `claim_links`. */
export interface ClaimLinkDoc {
  _id: string;
  campaignId: string;
  appId: string;
  channel: string;
  openid: string;
  followAtMs: number;
  /** sent → opened → bound (to the proven person); `refused` when the follower was not new at the follow. */
  status: 'sent' | 'opened' | 'bound' | 'refused';
  /** The service-account openid the link is bound to, once bound. */
  boundOpenid: string | null;
  refusal: string | null;
  createdAtMs: number;
  openedAtMs: number | null;
  boundAtMs: number | null;
}

const DEFAULT_LINK_REPLY = '感谢关注！点击领取新人红包：<a href="{link}">立即领取</a>（10 分钟内有效，仅限本人领取）';
const DEFAULT_NOT_NEW_REPLY = '欢迎回来！本活动仅限首次关注的新用户参加，感谢你的支持。';
const CHANNEL = /^[A-Za-z0-9_.-]{1,64}$/;
const APPID = /^wx[0-9a-f]{16}$/;

export const followers: EligibilityModule<FollowProof> = {
  name: 'follow',
  campaignFields: ['follow', 'regions', 'ipCallsPerMinute'],
  planCampaign(input, problems) {
    const raw = input.follow;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      problems.push('follow must be { channels: [{ appId, channel }], linkTtlMinutes?, followerProof?, linkReply?, notNewReply? }');
      return {};
    }
    const follow = raw as Record<string, unknown>;
    for (const key of Object.keys(follow)) if (!['channels', 'linkTtlMinutes', 'followerProof', 'linkReply', 'notNewReply'].includes(key)) problems.push(`unknown field follow.${key}`);
    const channels: FollowTerms['channels'] = [];
    if (!Array.isArray(follow.channels) || follow.channels.length === 0 || follow.channels.length > 100) {
      problems.push('follow.channels must list 1-100 { appId, channel } (channel "account" for a whole account)');
    } else {
      for (const entry of follow.channels as unknown[]) {
        const item = (entry ?? {}) as Record<string, unknown>;
        const appId = item.appId;
        const channel = item.channel ?? ACCOUNT_CHANNEL;
        if (typeof appId !== 'string' || !APPID.test(appId) || typeof channel !== 'string' || !CHANNEL.test(channel)) {
          problems.push(`follow.channels entry ${JSON.stringify(entry).slice(0, 80)} needs appId (wx + 16 hex) and a channel name`);
        } else channels.push({ appId, channel });
      }
    }
    const ttl = follow.linkTtlMinutes ?? 10;
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > 60) problems.push('follow.linkTtlMinutes must be a whole number from 1 to 60');
    const proof = follow.followerProof ?? 'proven';
    if (proof !== 'proven' && proof !== 'first-open') problems.push('follow.followerProof must be "proven" or "first-open"');
    const linkReply = follow.linkReply ?? DEFAULT_LINK_REPLY;
    if (typeof linkReply !== 'string' || !linkReply.includes('{link}') || linkReply.length > 600) problems.push('follow.linkReply must be a text of at most 600 characters containing {link}');
    const notNewReply = follow.notNewReply ?? DEFAULT_NOT_NEW_REPLY;
    if (typeof notNewReply !== 'string' || notNewReply.length === 0 || notNewReply.length > 600) problems.push('follow.notNewReply must be a text of 1-600 characters');
    const ipCallsPerMinute = input.ipCallsPerMinute ?? 30;
    if (typeof ipCallsPerMinute !== 'number' || !Number.isInteger(ipCallsPerMinute) || ipCallsPerMinute < 1 || ipCallsPerMinute > 10_000) {
      problems.push('ipCallsPerMinute must be a whole number from 1 to 10000');
    }
    const terms: FollowTerms = {
      channels, linkTtlMinutes: ttl as number, followerProof: proof as FollowTerms['followerProof'], linkReply: linkReply as string, notNewReply: notNewReply as string,
    };
    return { follow: terms, regions: readRegions(input.regions, problems), ipCallsPerMinute };
  },
  async identify(proof, campaign, context) {
    const { link } = proof;
    if (link.campaignId !== campaign._id || proof.serviceAppId !== context.officialAppId) throw refusal(RefusalReason.WRONG_ENTRY);
    const linkDoc = await context.store.get<ClaimLinkDoc>(COLLECTIONS.claimLinks, link.linkId);
    if (linkDoc === null) throw refusal(RefusalReason.LINK_INVALID);
    if (linkDoc.status === 'refused') throw refusal(RefusalReason.NOT_NEW);
    if (linkDoc.status !== 'bound' || linkDoc.boundOpenid !== proof.serviceOpenid) throw refusal(RefusalReason.LINK_REUSED);
    const ledger = await context.store.get<FollowLedgerDoc>(COLLECTIONS.follows, followLedgerId(link.appId, link.openid));
    // The follow that issued the link must be the follower's first: not returning, not pre-existing.
    if (ledger === null || ledger.preExisting || ledger.firstFollowAtMs !== link.followAtMs || wasFollowerBefore(ledger, link.followAtMs)) {
      throw refusal(RefusalReason.NOT_NEW);
    }
    if (!followInWindow(campaign, link.followAtMs)) throw refusal(RefusalReason.FOLLOW_OUTSIDE_WINDOW);
    const unionid = proof.unionid ?? ledger.unionid ?? undefined;
    const primary = openidKey(proof.serviceAppId, proof.serviceOpenid);
    const follower = openidKey(link.appId, link.openid);
    const keys: [string, ...string[]] = [primary];
    if (follower !== primary) keys.push(follower);
    if (unionid !== undefined) keys.push(unionidKey(unionid));
    return {
      keys,
      openids: { [proof.serviceAppId]: proof.serviceOpenid, [link.appId]: link.openid },
      ...(unionid === undefined ? {} : { unionid }),
      ...(proof.clientIp === undefined ? {} : { clientIp: proof.clientIp }),
      ...(proof.region === undefined ? {} : { region: proof.region }),
      channel: followChannelKey(link.appId, link.channel),
    };
  },
  payee: linkedPayee,
};

/**
 * Whether a follow at `atMs` (WeChat's CreateTime: whole seconds) is inside the campaign's window;
 * a follow in the second the campaign starts counts.
 */
export function followInWindow(campaign: { startsAtMs: number; endsAtMs: number }, atMs: number): boolean {
  return atMs >= Math.floor(campaign.startsAtMs / 1000) * 1000 && atMs < campaign.endsAtMs;
}

/**
 * How the person who opened a link is tied to the follower (decided at the OAuth callback):
 * - `openid`: the follow was on the service account itself: OAuth's openid must be the follower's;
 * - `unionid`: the account gives unionids (verified, user/info): the follower's unionid must be
 *   the OAuth user's (snsapi_userinfo, or the service account's own link to that unionid);
 * - `first-open`: the account cannot prove anyone (an unverified subscription account): only a
 *   campaign that accepts it (`followerProof: "first-open"`) binds the link to its first opener.
 */
export type FollowerTie = 'openid' | 'unionid' | 'first-open';

/** The tie a link of `appId` allows, or null when the campaign refuses such followers. */
export function followerTieOf(
  account: { appId: string; kind: 'service' | 'subscription'; verified: boolean },
  serviceAppId: string,
  terms: Pick<FollowTerms, 'followerProof'>,
): FollowerTie | null {
  if (account.appId === serviceAppId) return 'openid';
  if (hasCapability(account, 'userInfo')) return 'unionid';
  return terms.followerProof === 'first-open' ? 'first-open' : null;
}
