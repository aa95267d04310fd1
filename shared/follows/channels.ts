/**
 * Channels: where a follow came from. A parametric QR code of a verified service account is a
 * channel named by its `scene_str`; every follow without a scene (search, profile, an article, a
 * whole subscription account that cannot make parametric codes) is the account's own channel
 * {@link ACCOUNT_CHANNEL}. Collection `wx_channels`, `_id` = `<appid>:<channel>`: what the operator
 * configured for a channel (its QR code, the campaign it belongs to, the passive reply on follow).
 * Counting does not need a document: a follow through a scene nobody registered is still counted
 * under that scene.
 */
import { InputError, NotFoundError } from '../errors';
import type { DocumentStore, StoredDoc } from '../store/port';
import { COLLECTIONS } from '../store/port';
import { validatePassiveReply, type PassiveReply } from '../push/xml';
import { ACCOUNT_CHANNEL } from './ledger';

/** A QR channel's name is its scene_str: 1–64 characters (reference/official-accounts.md §1.1), kept to a safe set. */
export const CHANNEL_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const CAMPAIGN_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** How long an instance keeps an account's channels: the bound on seeing an operator's change. */
export const CHANNELS_CACHE_TTL_MS = 30_000;
// An account has a handful of channels, not thousands: one read holds them all.
const MAX_CHANNELS = 1000;

export interface ChannelQrCode {
  /** QR_LIMIT_STR_SCENE (permanent; 100,000 per account) or QR_STR_SCENE (temporary, at most 30 days). */
  permanent: boolean;
  ticket: string;
  /** What the code encodes (`http://weixin.qq.com/q/…`). */
  url: string;
  expiresAtMs: number | null;
}

export interface ChannelDoc extends StoredDoc {
  appId: string;
  channel: string;
  kind: 'qr' | 'account';
  /** The campaign the channel belongs to (next issue's claim pages), or null. */
  campaignId: string | null;
  qr: ChannelQrCode | null;
  /** Answered to a follow (and a scan) through this channel; null: `success`. */
  reply: PassiveReply | null;
  name: string;
  createdAtMs: number;
  updatedAtMs: number;
}

export function channelId(appId: string, channel: string): string {
  return `${appId}:${channel}`;
}

/** The channel a follow event is credited to. */
export function channelOfScene(scene: string | null): string {
  return scene ?? ACCOUNT_CHANNEL;
}

/**
 * The account's channels as functions read them: instance memory for {@link CHANNELS_CACHE_TTL_MS}
 * (the bound on seeing a changed reply); a channel the copy does not know (a QR code made a moment
 * ago) makes it read again, at most once per `missReloadMs`.
 */
export class ChannelDirectory {
  private readonly loaded = new Map<string, { atMs: number; channels: Promise<Map<string, ChannelDoc>> }>();
  private readonly ttlMs: number;
  private readonly missReloadMs: number;
  private readonly now: () => number;
  constructor(private readonly store: DocumentStore, options: { ttlMs?: number; missReloadMs?: number; now?: () => number } = {}) {
    this.ttlMs = options.ttlMs ?? CHANNELS_CACHE_TTL_MS;
    this.missReloadMs = options.missReloadMs ?? 1_000;
    this.now = options.now ?? Date.now;
  }

  async get(appId: string, channel: string): Promise<ChannelDoc | null> {
    let channels = await this.load(appId, this.ttlMs);
    if (!channels.has(channel)) channels = await this.load(appId, this.missReloadMs);
    return channels.get(channel) ?? null;
  }

  private load(appId: string, maxAgeMs: number): Promise<Map<string, ChannelDoc>> {
    const nowMs = this.now();
    const hit = this.loaded.get(appId);
    if (hit !== undefined && nowMs - hit.atMs < maxAgeMs) return hit.channels;
    if (this.loaded.size > 1_000) this.loaded.clear();
    const channels = this.store
      .find<ChannelDoc>(COLLECTIONS.channels, { appId }, { limit: MAX_CHANNELS })
      .then((docs) => new Map(docs.map((doc) => [doc.channel, doc])));
    const entry = { atMs: nowMs, channels };
    this.loaded.set(appId, entry);
    // A failed read is not kept.
    channels.catch(() => {
      if (this.loaded.get(appId) === entry) this.loaded.delete(appId);
    });
    return channels;
  }
}

/** What an operator gives for a channel (`npm run accounts -- channel-add`). */
export interface ChannelInput {
  appId: string;
  channel: string;
  name?: string;
  campaignId?: string | null;
  qr?: ChannelQrCode | null;
  reply?: unknown;
}

/** Checks the input; every problem named. */
export function validateChannelInput(input: ChannelInput): void {
  const problems: string[] = [];
  if (input.channel !== ACCOUNT_CHANNEL && !CHANNEL_NAME.test(input.channel)) problems.push('channel must be 1-64 letters, digits, _ . or -');
  if (input.channel === ACCOUNT_CHANNEL && input.qr) problems.push(`"${ACCOUNT_CHANNEL}" is the account's own channel and has no QR code`);
  if (input.campaignId !== undefined && input.campaignId !== null && !CAMPAIGN_ID.test(input.campaignId)) problems.push('campaign must be 1-64 letters, digits, _ or -');
  if (input.name !== undefined && input.name.length > 64) problems.push('name must be at most 64 characters');
  if (problems.length > 0) throw new InputError(problems.join('; '), 'channel');
}

/** Adds a channel or changes one (fields not given keep their value). */
export async function saveChannel(store: DocumentStore, input: ChannelInput, nowMs: number = Date.now()): Promise<ChannelDoc> {
  validateChannelInput(input);
  const reply = input.reply === undefined || input.reply === null ? input.reply : validatePassiveReply(input.reply);
  const existing = await store.get<ChannelDoc>(COLLECTIONS.channels, channelId(input.appId, input.channel));
  const doc: ChannelDoc = {
    _id: channelId(input.appId, input.channel),
    appId: input.appId,
    channel: input.channel,
    kind: input.channel === ACCOUNT_CHANNEL ? 'account' : 'qr',
    campaignId: input.campaignId === undefined ? (existing?.campaignId ?? null) : input.campaignId,
    qr: input.qr === undefined ? (existing?.qr ?? null) : input.qr,
    reply: reply === undefined ? (existing?.reply ?? null) : reply,
    name: input.name ?? existing?.name ?? input.channel,
    createdAtMs: existing?.createdAtMs ?? nowMs,
    updatedAtMs: nowMs,
  };
  await store.put(COLLECTIONS.channels, doc as ChannelDoc & Record<string, unknown>);
  return doc;
}

/** Removes a channel's configuration; its counts stay (they are history). */
export async function removeChannel(store: DocumentStore, appId: string, channel: string): Promise<void> {
  if (!(await store.remove(COLLECTIONS.channels, channelId(appId, channel)))) throw new NotFoundError(`${appId} has no channel ${channel}`);
}

export function listChannels(store: DocumentStore, appId: string): Promise<ChannelDoc[]> {
  return store.find<ChannelDoc>(COLLECTIONS.channels, { appId }, { limit: MAX_CHANNELS, orderBy: { field: 'channel', direction: 'asc' } });
}
