/**
 * The push receiver against the local CloudBase (no host): whoever applies a recorded follow — the
 * invocation that recorded it, another one, the reconciler — it is counted once, and the counts an
 * operator reads are the sums of the channels' documents.
 */
import { useLocalStore } from '../../helpers/local-store';
import type { OfficialAccount } from '../../../shared/accounts/model';
import { ChannelDirectory, saveChannel } from '../../../shared/follows/channels';
import { ALL_CHANNELS, ALL_DAYS, COUNTER_SHARDS, counterDocsFor, counterId, CounterDocuments, readFollowCounts, utc8Day } from '../../../shared/follows/counters';
import { ZERO_DELTA } from '../../../shared/follows/ledger';
import { createLogger } from '../../../shared/log';
import { readPushMessage } from '../../../shared/push/message';
import { PushReceiver, type PushEventDoc } from '../../../shared/push/receiver';
import { COLLECTIONS, type DocumentStore, type StoredDoc } from '../../../shared/store/port';

process.env.TENCENTCLOUD = 'true';
const quiet = createLogger({}, { write: () => undefined });
const APP = 'wx00000000000000c1';
const ACCOUNT: OfficialAccount = {
  appId: APP, kind: 'subscription', verified: false, name: 'test', originalId: 'gh_0000000000c1', messageMode: 'plain', appSecret: null,
  pushToken: 'token', encodingAESKey: null, previousEncodingAESKey: null, active: true, isDefault: false, source: 'registry',
};
const CREATED_S = 1_800_000_000;

const local = useLocalStore();

/** One instance's receiver (its own channel and counter memory), on `over` (default: the local.store itself). */
function instance(over: DocumentStore = local.store): PushReceiver {
  return new PushReceiver({
    store: over,
    accounts: { get: async (appId) => (appId === APP ? ACCOUNT : null) },
    channels: new ChannelDirectory(local.store),
    counters: new CounterDocuments(local.store),
    followerInfo: () => Promise.reject(new Error('an unverified account has no user/info')),
    cardReferenceKey: 'k'.repeat(32),
    log: quiet,
  });
}

const subscribe = (openid: string, scene?: string) =>
  readPushMessage({ ToUserName: 'gh_0000000000c1', FromUserName: openid, CreateTime: String(CREATED_S), MsgType: 'event', Event: 'subscribe', ...(scene === undefined ? {} : { EventKey: `qrscene_${scene}` }) });

describe('applying a recorded follow', () => {
  it.each([
    { case: 'the invocation that recorded it, then the reconciler with its stale copy', concurrent: false },
    { case: 'five instances at once (a slow apply, the reconciler, another instance)', concurrent: true },
  ])('counts it once when $case applies it', async ({ case: name, concurrent }) => {
    const openid = `oOnce${concurrent ? 'B' : 'A'}`;
    const channel = concurrent ? 'poster-b' : 'poster-a';
    const recorder = instance();
    // Recorded but not applied: the reply budget ran out before anything was applied.
    const doc = await recordOnly(openid, channel);
    const appliers = concurrent ? Array.from({ length: 5 }, instance) : [recorder, instance()];
    if (concurrent) await Promise.all(appliers.map((receiver) => receiver.apply(doc)));
    else for (const receiver of appliers) await receiver.apply(doc);

    const counts = await readFollowCounts(local.store, APP);
    expect({ name, channel: counts.channels.find((row) => row.channel === channel) }).toEqual({ name, channel: expect.objectContaining({ follows: 1, firstFollows: 1 }) });
    expect(await local.store.get(COLLECTIONS.follows, `${APP}:${openid}`)).toMatchObject({ follows: 1, firstChannel: channel });
    expect(await local.store.get(COLLECTIONS.pushEvents, doc._id)).toMatchObject({ status: 'done', facts: { channel, firstFollow: true, returning: false } });
  });

  it('answers a duplicate delivery without applying it again', async () => {
    const receiver = instance();
    await receiver.receive(APP, subscribe('oDup', 'poster-d'));
    await Promise.all([receiver.receive(APP, subscribe('oDup', 'poster-d')), instance().receive(APP, subscribe('oDup', 'poster-d'))]);
    const counts = await readFollowCounts(local.store, APP);
    expect(counts.channels.find((row) => row.channel === 'poster-d')).toMatchObject({ follows: 1 });
    expect(await local.store.get(COLLECTIONS.pushEvents, `${APP}:${subscribe('oDup', 'poster-d').dedupeKey}`)).toMatchObject({ status: 'done', duplicates: 2 });
  });


  it('has a copy delivered with the first wait for its apply, then answer the same passive reply and count itself', async () => {
    const reply = { type: 'text' as const, content: '欢迎' };
    await saveChannel(local.store, { appId: APP, channel: 'poster-r', reply });
    const message = subscribe('oCopy', 'poster-r');
    const id = `${APP}:${message.dedupeKey}`;
    // The first delivery's instance is held before its apply until the copy has seen the event unapplied.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const held: DocumentStore = { ...local.store, transaction: async (work, options) => { await gate; return local.store.transaction(work, options); } };
    let sawUnapplied!: () => void;
    const seen = new Promise<void>((resolve) => { sawUnapplied = resolve; });
    const watched: DocumentStore = {
      ...local.store,
      get: async <T extends StoredDoc>(collection: string, docId: string) => {
        const found = await local.store.get<T>(collection, docId);
        if (docId === id && (found as { status?: string } | null)?.status === 'received') sawUnapplied();
        return found;
      },
    };

    const first = instance(held).receive(APP, message);
    while ((await local.store.get(COLLECTIONS.pushEvents, id)) === null) await new Promise((resolve) => setTimeout(resolve, 5));
    const copy = instance(watched).receive(APP, message);
    await seen;
    release();

    expect(await Promise.all([first, copy])).toEqual([reply, reply]);
    expect(await local.store.get(COLLECTIONS.pushEvents, id)).toMatchObject({ status: 'done', duplicates: 1, reply });
    expect((await readFollowCounts(local.store, APP)).channels.find((row) => row.channel === 'poster-r')).toMatchObject({ follows: 1 });
  });
});

describe('counter documents', () => {
  it('are created for every shard of a channel and day by the first instance that needs one, and found by the next with one read each', async () => {
    const app = 'wx00000000000000c3';
    const atMs = CREATED_S * 1000;
    const requests: string[] = [];
    const counting: DocumentStore = {
      ...local.store,
      find: (collection, filter, options) => { requests.push('find'); return local.store.find(collection, filter, options); },
      insert: (collection, doc) => { requests.push('insert'); return local.store.insert(collection, doc); },
    };
    await new CounterDocuments(counting).ensure(counterDocsFor(app, 'poster', atMs, 'oFirst'));
    expect(requests.filter((request) => request === 'insert')).toHaveLength(2 * COUNTER_SHARDS);
    expect(await local.store.find(COLLECTIONS.followCounters, { appId: app }, { limit: 100 })).toHaveLength(2 * COUNTER_SHARDS);

    requests.length = 0;
    const next = new CounterDocuments(counting);
    await next.ensure(counterDocsFor(app, 'poster', atMs, 'oSecond'));
    await next.ensure(counterDocsFor(app, 'poster', atMs, 'oThird'));
    expect(requests).toEqual(['find', 'find']);
    expect(counterDocsFor(app, 'poster', atMs, 'oThird').every((doc) => next.knows(doc._id))).toBe(true);
  });
});

describe('reading the counts', () => {
  it('adds the channels up for the account, and ignores the account documents older deployments wrote', async () => {
    const app = 'wx00000000000000c2';
    const day = utc8Day(CREATED_S * 1000);
    const counter = (channel: string, forDay: string, shard: number, follows: number) =>
      ({ _id: counterId(app, channel, forDay, shard), appId: app, channel, day: forDay, shard, ...ZERO_DELTA, follows, firstFollows: follows });
    for (const doc of [
      counter('account', ALL_DAYS, 0, 2), counter('account', ALL_DAYS, 5, 3), counter('poster', ALL_DAYS, 5, 4), counter('poster', day, 5, 4),
      // What an older deployment kept besides the channels (its sum), here made wrong on purpose: never read.
      counter(ALL_CHANNELS, ALL_DAYS, 0, 1_000), counter(ALL_CHANNELS, day, 5, 1_000),
    ]) await local.store.insert(COLLECTIONS.followCounters, doc);

    expect(await readFollowCounts(local.store, app)).toMatchObject({
      follows: 9, firstFollows: 9, net: 9, truncated: false,
      channels: [expect.objectContaining({ channel: 'account', follows: 5 }), expect.objectContaining({ channel: 'poster', follows: 4 })],
    });
    expect(await readFollowCounts(local.store, app, { day })).toMatchObject({ follows: 4, channels: [expect.objectContaining({ channel: 'poster', follows: 4 })] });
  });
});

/** What receive() leaves when the budget runs out before applying: the `received` event only. */
async function recordOnly(openid: string, channel: string): Promise<PushEventDoc> {
  const message = subscribe(openid, channel);
  const doc: PushEventDoc = {
    _id: `${APP}:${message.dedupeKey}`, appId: APP, openid, msgType: message.msgType, msgId: message.msgId, event: message.event,
    createTimeSeconds: message.createTimeSeconds, status: 'received', receivedAtMs: Date.now(), appliedAtMs: null, doneAtMs: null,
    duplicates: 0, reply: null, facts: null, attempts: 0, lastError: null,
  };
  expect(await local.store.insert(COLLECTIONS.pushEvents, doc as PushEventDoc & Record<string, unknown>)).toBe(true);
  return doc;
}
