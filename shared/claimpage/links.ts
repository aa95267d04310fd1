/**
 * Signed claim links: what a follow-campaign's passive reply carries to the new follower
 * (`https://<domain>/claim/f?l=<token>`). The token is the follow's facts — campaign, account,
 * channel, the follower's openid under that account, the follow's time — and an HMAC-SHA256 over
 * them, so a changed token verifies for nobody and a copied one names only the follower it was
 * made for. It expires {@link DEFAULT_LINK_TTL_MINUTES} after the follow. Single use is the
 * server's: the link's document (`claim_links`, `_id` = {@link ClaimLink.linkId}) is bound to the
 * first person proven to be the follower (links-store.ts).
 *
 * The key is derived from REF_SIGNING_SECRET with its own label ({@link deriveKey}), never the raw
 * secret, so a claim link and a card reference can never be mistaken for one another.
 *
 * Pure: the clock is an input.
 */
import { createHash, createHmac } from 'node:crypto';
import { safeEqual } from '../signing/compare';

export const DEFAULT_LINK_TTL_MINUTES = 10;
const VERSION = 'f1';
const MAC_BYTES = 16;
const CAMPAIGN = /^[a-z0-9][a-z0-9-]{0,39}$/;
const APPID = /^wx[0-9a-f]{16}$/;
const OPENID = /^[A-Za-z0-9_-]{1,64}$/;
const CHANNEL = /^[A-Za-z0-9_.-]{1,64}$/;

/** The label claim links' key is derived with (receivePush signs, claimPage verifies). */
export const CLAIM_LINK_KEY_LABEL = 'claim-link/v1';

/** A key for one purpose, derived from the server secret: HMAC-SHA256(secret, label). */
export function deriveKey(secret: string, label: string): Buffer {
  return createHmac('sha256', secret).update(`wx-cards-redpackets/${label}`).digest();
}

/** The facts a claim link carries. */
export interface ClaimLink {
  campaignId: string;
  /** The account followed. */
  appId: string;
  channel: string;
  /** The follower's openid under `appId`. */
  openid: string;
  /** WeChat's time of the follow (the event's CreateTime), whole seconds in ms. */
  followAtMs: number;
  /** Derived from the token: the id of the link's document. */
  linkId: string;
}

/** Why a token is refused. */
export type LinkProblem = 'malformed' | 'signature' | 'expired';

/** The token of a follow's link: deterministic, so a push applied twice gives the same link. */
export function signClaimLink(key: Buffer, facts: Omit<ClaimLink, 'linkId'>): string {
  if (!CAMPAIGN.test(facts.campaignId) || !APPID.test(facts.appId) || !CHANNEL.test(facts.channel) || !OPENID.test(facts.openid)) {
    throw new Error('claim link: facts out of shape');
  }
  const payload = [VERSION, facts.campaignId, facts.appId, facts.channel, facts.openid, String(Math.floor(facts.followAtMs / 1000))].join('~');
  return `${Buffer.from(payload, 'utf8').toString('base64url')}.${macOf(key, payload)}`;
}

/** Reads and verifies a token: the link, or why not. The signature is checked before anything else is believed. */
export function verifyClaimLink(key: Buffer, token: unknown, options: { nowMs: number; ttlMinutes?: number }): { link: ClaimLink } | { problem: LinkProblem } {
  if (typeof token !== 'string' || token.length > 512 || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) return { problem: 'malformed' };
  const [encoded, mac] = token.split('.') as [string, string];
  const payload = Buffer.from(encoded, 'base64url').toString('utf8');
  if (!safeEqual(mac, macOf(key, payload))) return { problem: 'signature' };
  const parts = payload.split('~');
  if (parts.length !== 6 || parts[0] !== VERSION) return { problem: 'malformed' };
  const [, campaignId, appId, channel, openid, seconds] = parts as [string, string, string, string, string, string];
  const followAtMs = Number(seconds) * 1000;
  if (!Number.isSafeInteger(followAtMs)) return { problem: 'malformed' };
  const ttlMs = (options.ttlMinutes ?? DEFAULT_LINK_TTL_MINUTES) * 60_000;
  if (options.nowMs >= followAtMs + ttlMs) return { problem: 'expired' };
  return { link: { campaignId, appId, channel, openid, followAtMs, linkId: linkIdOf(mac) } };
}

/** The link's document id: a hash of its MAC (the token itself is never stored). */
export function linkIdOf(mac: string): string {
  return createHash('sha256').update(`link:${mac}`).digest('hex').slice(0, 32);
}

/** The link id of a token that verified (for tests and the reply hook). */
export function linkIdOfToken(token: string): string {
  return linkIdOf(token.split('.')[1] ?? '');
}

function macOf(key: Buffer, payload: string): string {
  return createHmac('sha256', key).update(payload).digest().subarray(0, MAC_BYTES).toString('base64url');
}
