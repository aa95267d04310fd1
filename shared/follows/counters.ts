/**
 * Follow counters per channel, per day (UTC+8, WeChat's calendar) and in total, in
 * `wx_follow_counters`. They are counted when an event is applied, inside the same transaction as
 * the ledger (push/receiver.ts), so reading them costs the same few requests at 10 followers as at
 * 100,000. An account's counts are the sum of its channels': the reader adds them up from the same
 * query that reads the channels, so an event moves two documents, not four. (Deployments before
 * this also kept account documents, channel {@link ALL_CHANNELS}; they equal the sum and are ignored.)
 *
 * Each counter is split over {@link COUNTER_SHARDS} documents chosen by the user's openid: events
 * of different users of one account update different documents most of the time, so concurrent
 * transactions rarely conflict on a hot counter; a reader adds the shards up.
 */
import { createHash } from 'node:crypto';
import type { DocumentStore, StoredDoc, TransactionScope } from '../store/port';
import { COLLECTIONS } from '../store/port';
import { ACCOUNT_CHANNEL, ZERO_DELTA, type CounterDelta } from './ledger';

export const COUNTER_SHARDS = 16;
/** The channel field of the account documents older deployments wrote (every channel together); never written now. */
export const ALL_CHANNELS = '*';
/** The day field of the all-time counters. */
export const ALL_DAYS = 'all';
// A read returns channels × shards documents; beyond this many the answer says it is cut.
const MAX_COUNTER_DOCS = 1000;
const UTC8_OFFSET_MS = 8 * 3_600_000;

export interface FollowCounterDoc extends StoredDoc, CounterDelta {
  appId: string;
  /** A channel, or {@link ALL_CHANNELS}. */
  channel: string;
  /** `YYYY-MM-DD` (UTC+8), or {@link ALL_DAYS}. */
  day: string;
  shard: number;
}

/** The counts of one channel, or of an account. */
export interface FollowCounts extends CounterDelta {
  /** follows − unfollows. */
  net: number;
}

export interface AccountFollowCounts extends FollowCounts {
  appId: string;
  channels: Array<FollowCounts & { channel: string }>;
  /** True when the account has more counter documents than one read returns. */
  truncated: boolean;
}

/** WeChat's day of an instant: its date in Beijing time. */
export function utc8Day(epochMs: number): string {
  return new Date(epochMs + UTC8_OFFSET_MS).toISOString().slice(0, 10);
}

export function counterShard(openid: string): number {
  return createHash('sha256').update(openid).digest()[0]! % COUNTER_SHARDS;
}

export function counterId(appId: string, channel: string, day: string, shard: number): string {
  return `${appId}|${encodeURIComponent(channel)}|${day}|${shard}`;
}

/** The two documents one event of a channel moves: the channel's that day and in total. */
export function counterDocsFor(appId: string, channel: string, atMs: number, openid: string): Array<Omit<FollowCounterDoc, keyof CounterDelta>> {
  const shard = counterShard(openid);
  return [utc8Day(atMs), ALL_DAYS].map((day) => ({ _id: counterId(appId, channel, day, shard), appId, channel, day, shard }));
}

/**
 * Creates the counter documents that do not exist yet (a transaction's update leaves a missing
 * document missing). Remembered per instance, so the warm path makes no request for them. The first
 * time an instance needs a channel's documents of a day, it reads which of their
 * {@link COUNTER_SHARDS} shards exist (one query) and creates the others at once: an instance
 * started in the middle of a burst makes one read per channel and day, not one insert per shard.
 */
export class CounterDocuments {
  private readonly known = new Set<string>();
  private readonly surveyed = new Set<string>();
  constructor(private readonly store: DocumentStore, private readonly maxRemembered = 20_000) {}

  /** Whether this instance created (or found) the document. */
  knows(id: string): boolean {
    return this.known.has(id);
  }

  async ensure(docs: ReadonlyArray<Omit<FollowCounterDoc, keyof CounterDelta>>): Promise<void> {
    const missing = docs.filter((doc) => !this.known.has(doc._id));
    if (missing.length === 0) return;
    if (this.known.size + missing.length * COUNTER_SHARDS > this.maxRemembered) {
      this.known.clear();
      this.surveyed.clear();
    }
    const groups = new Map(missing.map((doc) => [groupKey(doc), doc] as const));
    await Promise.all([...groups].filter(([key]) => !this.surveyed.has(key)).map(([key, doc]) => this.survey(key, doc)));
    // Documents of a channel and day surveyed earlier that another instance has created since.
    const left = missing.filter((doc) => !this.known.has(doc._id));
    await Promise.all(left.map((doc) => this.store.insert(COLLECTIONS.followCounters, { ...doc, ...ZERO_DELTA })));
    for (const doc of left) this.known.add(doc._id);
  }

  private async survey(key: string, doc: Omit<FollowCounterDoc, keyof CounterDelta>): Promise<void> {
    const { appId, channel, day } = doc;
    const found = await this.store.find<FollowCounterDoc>(COLLECTIONS.followCounters, { appId, channel, day }, { limit: COUNTER_SHARDS });
    for (const existing of found) this.known.add(existing._id);
    const shards = Array.from({ length: COUNTER_SHARDS }, (_, shard) => ({ _id: counterId(appId, channel, day, shard), appId, channel, day, shard }));
    const absent = shards.filter((shard) => !this.known.has(shard._id));
    // An insert another instance won is as good as ours.
    await Promise.all(absent.map((shard) => this.store.insert(COLLECTIONS.followCounters, { ...shard, ...ZERO_DELTA })));
    for (const shard of absent) this.known.add(shard._id);
    this.surveyed.add(key);
  }
}

function groupKey(doc: Pick<FollowCounterDoc, 'appId' | 'channel' | 'day'>): string {
  return `${doc.appId}|${encodeURIComponent(doc.channel)}|${doc.day}`;
}

/** Adds `delta` to each document, inside the caller's transaction. */
export async function incrementCounters(tx: TransactionScope, ids: readonly string[], delta: CounterDelta): Promise<void> {
  const inc = Object.fromEntries(Object.entries(delta).filter(([, amount]) => amount !== 0));
  if (Object.keys(inc).length === 0) return;
  for (const id of ids) await tx.update(COLLECTIONS.followCounters, id, { inc });
}

/**
 * An account's counts per channel, all time or for one day: one query, whatever the number of
 * followers. Channels appear once they have counted something.
 */
export async function readFollowCounts(store: DocumentStore, appId: string, options: { day?: string } = {}): Promise<AccountFollowCounts> {
  const docs = await store.find<FollowCounterDoc>(
    COLLECTIONS.followCounters,
    { appId, day: options.day ?? ALL_DAYS, channel: { neq: ALL_CHANNELS } },
    { limit: MAX_COUNTER_DOCS },
  );
  const account: FollowCounts = { ...ZERO_DELTA, net: 0 };
  const sums = new Map<string, FollowCounts>();
  for (const doc of docs) {
    const sum = sums.get(doc.channel) ?? { ...ZERO_DELTA, net: 0 };
    for (const key of Object.keys(ZERO_DELTA) as Array<keyof CounterDelta>) {
      sum[key] += Number(doc[key] ?? 0);
      account[key] += Number(doc[key] ?? 0);
    }
    sum.net = sum.follows - sum.unfollows;
    sums.set(doc.channel, sum);
  }
  account.net = account.follows - account.unfollows;
  const channels = [...sums.entries()]
    .map(([channel, counts]) => ({ channel, ...counts }))
    .sort((a, b) => (a.channel === ACCOUNT_CHANNEL ? -1 : b.channel === ACCOUNT_CHANNEL ? 1 : a.channel.localeCompare(b.channel)));
  return { appId, ...account, channels, truncated: docs.length >= MAX_COUNTER_DOCS };
}

/** Each channel's counts on each of `days`, in the order given (zeros where nothing was counted). */
export interface DailyFollowCounts {
  appId: string;
  days: string[];
  channels: Array<{ channel: string; perDay: FollowCounts[] }>;
  /** True when a read came back full: some days' counts may be missing. */
  truncated: boolean;
}

/**
 * An account's counts per channel and day over `days` (`YYYY-MM-DD`, UTC+8): what a chart of
 * follows per day draws. A day of a channel is at most {@link COUNTER_SHARDS} documents, so the
 * days are read in as few queries as fit in one read each — `channelCount` channels (from
 * {@link readFollowCounts}) × shards × days — whatever the number of followers.
 */
export async function readFollowCountsByDay(store: DocumentStore, appId: string, days: readonly string[], channelCount: number): Promise<DailyFollowCounts> {
  const daysPerRead = Math.max(1, Math.floor(MAX_COUNTER_DOCS / (COUNTER_SHARDS * Math.max(1, channelCount))));
  const chunks: string[][] = [];
  for (let start = 0; start < days.length; start += daysPerRead) chunks.push(days.slice(start, start + daysPerRead));
  const reads = await Promise.all(chunks.map((chunk) => store.find<FollowCounterDoc>(
    COLLECTIONS.followCounters,
    { appId, day: { in: chunk }, channel: { neq: ALL_CHANNELS } },
    { limit: MAX_COUNTER_DOCS },
  )));
  const index = new Map(days.map((day, position) => [day, position]));
  const sums = new Map<string, FollowCounts[]>();
  for (const doc of reads.flat()) {
    const position = index.get(doc.day);
    if (position === undefined) continue;
    let perDay = sums.get(doc.channel);
    if (perDay === undefined) {
      perDay = days.map(() => ({ ...ZERO_DELTA, net: 0 }));
      sums.set(doc.channel, perDay);
    }
    const sum = perDay[position]!;
    for (const key of Object.keys(ZERO_DELTA) as Array<keyof CounterDelta>) sum[key] += Number(doc[key] ?? 0);
    sum.net = sum.follows - sum.unfollows;
  }
  const channels = [...sums.entries()]
    .map(([channel, perDay]) => ({ channel, perDay }))
    .sort((a, b) => (a.channel === ACCOUNT_CHANNEL ? -1 : b.channel === ACCOUNT_CHANNEL ? 1 : a.channel.localeCompare(b.channel)));
  return { appId, days: [...days], channels, truncated: reads.some((docs) => docs.length >= MAX_COUNTER_DOCS) };
}
