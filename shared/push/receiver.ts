/**
 * What receivePush does with a verified push, within WeChat's 5-second deadline (three retries
 * after it, reference/official-accounts.md §2.4).
 *
 * Every push is first one cheap, idempotent insert into `wx_push_events` keyed by its dedupe key;
 * a retry or a replay finds it and is answered without being applied twice. The event is then
 * applied within a budget ({@link PushReceiverOptions.replyBudgetMs}); if the store is slow and the
 * budget runs out, WeChat gets `success` in time and the work goes on, finished by whichever comes
 * first: the same invocation, or the reconciler (the function's timer), which applies every
 * recorded event not yet applied. Applying is idempotent, so both finishing is harmless.
 *
 * ```
 *                 insert (the dedupe record)
 *   push ──▶ received ──apply──▶ applied ──user/info, link──▶ done
 *               │                   (follows of verified accounts only)
 *               └──apply (cards; follows that need nothing more)──▶ done
 *   messages, unknown events: inserted as done (deduplicated, answered `success`)
 * ```
 *
 * A follow is applied in ONE transaction: the event's status, the user's ledger and the counters
 * it moves change together or not at all, so a follow is counted exactly once whoever applies it
 * (the transaction reads the event's status and commits only while it is still `received`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { hasCapability, type OfficialAccount } from '../accounts/model';
import { findCardCodeOwner, recordCardCodeOwner, cardCodeOwnerId } from '../cards/owners';
import { readCardReference } from '../cards/reference';
import type { Logger } from '../log';
import { respond, type HttpResponse } from '../http/response';
import { buildEncryptedReply } from '../signing/message-crypto';
import { createNonce } from '../signing/nonce';
import type { DocumentStore, StoredDoc } from '../store/port';
import { COLLECTIONS } from '../store/port';
import { linkUser } from '../users/links';
import type { FollowerInfo } from '../wechat/user';
import { channelOfScene, type ChannelDirectory, type ChannelDoc } from '../follows/channels';
import { counterDocsFor, incrementCounters, type CounterDocuments, type FollowCounterDoc } from '../follows/counters';
import { ACCOUNT_CHANNEL, applyFollowEvent, followLedgerId, type FollowEventInput, type FollowFacts, type FollowLedgerDoc } from '../follows/ledger';
import { readPushMessage, type PushEvent, type PushMessage } from './message';
import { checkAddressee, type ProvenPush } from './proof';
import { passiveReplyXml, type PassiveReply } from './xml';

export type PushEventStatus = 'received' | 'applied' | 'done';

/** One push in `wx_push_events`. */
export interface PushEventDoc extends StoredDoc {
  appId: string;
  openid: string;
  msgType: string;
  msgId: string | null;
  event: PushEvent;
  createTimeSeconds: number;
  status: PushEventStatus;
  receivedAtMs: number;
  appliedAtMs: number | null;
  doneAtMs: number | null;
  /** Deliveries of the same push after the first (WeChat's retries, replays). */
  duplicates: number;
  /** The passive reply decided when it was applied: answered again to a retry. */
  reply: PassiveReply | null;
  facts: Pick<FollowFacts, 'channel' | 'firstFollow' | 'returning'> | null;
  /** Failed reconciler attempts, and the last failure (no secrets: error messages of our own code). */
  attempts: number;
  lastError: string | null;
}

/** What decides a passive reply: the account, the event, its follow facts (null for other events), its channel. */
export interface ReplyContext {
  appId: string;
  event: PushEvent;
  facts: FollowFacts | null;
  channel: ChannelDoc | null;
}

/**
 * The passive-reply hook. Runs inside the apply transaction, so keep it to computing (the claim
 * pages will put a signed claim link here); null answers `success`.
 */
export type ReplyHook = (context: ReplyContext) => PassiveReply | null | Promise<PassiveReply | null>;

/** The channel's configured reply, to a follow or a scan through it. */
export const channelReply: ReplyHook = ({ event, channel }) =>
  (event.kind === 'subscribe' || event.kind === 'scan') && channel !== null ? channel.reply : null;

export interface PushReceiverOptions {
  store: DocumentStore;
  accounts: { get(appId: string): Promise<OfficialAccount | null> };
  channels: ChannelDirectory;
  counters: CounterDocuments;
  /** `user/info` of a verified account's follower. */
  followerInfo(appId: string, openid: string): Promise<FollowerInfo>;
  /** REF_SIGNING_SECRET: verifies signCard's outer_str references. */
  cardReferenceKey: string;
  /** How long a push may spend applying before WeChat is answered anyway (default {@link DEFAULT_REPLY_BUDGET_MS}). */
  replyBudgetMs?: number;
  replyHook?: ReplyHook;
  log: Logger;
  now?: () => number;
}

/** Well inside WeChat's 5 s, which includes the network and a cold start. */
export const DEFAULT_REPLY_BUDGET_MS = 3000;
/** The reconciler leaves events this young to the invocation still applying them. */
export const DEFAULT_RECONCILE_MIN_AGE_MS = 10_000;
// After this many failed attempts an event is closed with its last error, so one bad event cannot loop forever.
const MAX_APPLY_ATTEMPTS = 10;
const REPLY_NONCE = /^[0-9A-Za-z]{1,32}$/;
// A copy delivered with the first waits for its apply from this, doubling: a handful of reads within the budget.
const DUPLICATE_FIRST_WAIT_MS = 25;

/** Counter documents a transaction needed that this instance has not created yet. */
class MissingCounters extends Error {
  constructor(readonly docs: Array<Omit<FollowCounterDoc, 'follows' | 'firstFollows' | 'returningFollows' | 'unfollows' | 'scans'>>) {
    super('counter documents missing');
  }
}

/** The event was applied by someone else while this transaction ran: roll back, answer what they decided. */
class AlreadyApplied extends Error {
  constructor(readonly status: PushEventStatus, readonly reply: PassiveReply | null) {
    super('push event already applied');
  }
}

const FOLLOW_KINDS: ReadonlySet<PushEvent['kind']> = new Set(['subscribe', 'unsubscribe', 'scan']);
const CARD_KINDS: ReadonlySet<PushEvent['kind']> = new Set(['user_get_card', 'user_del_card', 'user_gifting_card', 'user_consume_card']);

export class PushReceiver {
  private readonly now: () => number;
  private readonly replyBudgetMs: number;
  private readonly replyHook: ReplyHook;

  constructor(private readonly options: PushReceiverOptions) {
    this.now = options.now ?? Date.now;
    this.replyBudgetMs = options.replyBudgetMs ?? DEFAULT_REPLY_BUDGET_MS;
    this.replyHook = options.replyHook ?? channelReply;
  }

  /** The answer to a proven request: the URL check's echostr, or `success` / a passive reply (encrypted when the push was). */
  async respond(proven: ProvenPush, startedAtMs: number = this.now()): Promise<HttpResponse> {
    if (proven.kind === 'url-check') return respond.text(proven.echostr);
    checkAddressee(proven);
    const message = readPushMessage(proven.fields);
    const reply = await this.receive(proven.appId, message, startedAtMs);
    if (reply === null) return respond.text('success');
    const nowSeconds = Math.floor(this.now() / 1000);
    const xml = passiveReplyXml(reply, { userOpenid: message.fromUserName, accountOriginalId: message.toUserName, createTimeSeconds: nowSeconds });
    if (proven.transport === 'plain') return respond.xml(xml);
    return respond.xml(buildEncryptedReply({
      token: proven.settings.token,
      encodingAESKey: proven.encodingAESKey as string,
      appId: proven.appId,
      xml,
      timestamp: nowSeconds,
      // Echo WeChat's nonce (reference §2.7); one outside the envelope's alphabet is replaced by ours.
      nonce: REPLY_NONCE.test(proven.nonce) ? proven.nonce : createNonce(16),
    }));
  }

  /**
   * Records the push (once) and applies it within the budget, counted from `startedAtMs` (the
   * request's start: the proof's registry read counts too); answers the passive reply, or null for `success`.
   */
  async receive(appId: string, message: PushMessage, startedAtMs: number = this.now()): Promise<PassiveReply | null> {
    const handled = FOLLOW_KINDS.has(message.event.kind) || CARD_KINDS.has(message.event.kind);
    const doc: PushEventDoc = {
      _id: `${appId}:${message.dedupeKey}`,
      appId,
      openid: message.fromUserName,
      msgType: message.msgType,
      msgId: message.msgId,
      event: message.event,
      createTimeSeconds: message.createTimeSeconds,
      status: handled ? 'received' : 'done',
      receivedAtMs: this.now(),
      appliedAtMs: null,
      doneAtMs: handled ? null : this.now(),
      duplicates: 0,
      reply: null,
      facts: null,
      attempts: 0,
      lastError: null,
    };
    if (!(await this.options.store.insert(COLLECTIONS.pushEvents, doc as PushEventDoc & Record<string, unknown>))) {
      return this.answerDuplicate(doc._id, startedAtMs);
    }
    if (!handled) return null;
    const work = this.apply(doc).catch((error: unknown) => {
      this.options.log.warn('push apply failed; the reconciler will retry', { appId, kind: doc.event.kind, error });
      return null;
    });
    const leftMs = this.replyBudgetMs - (this.now() - startedAtMs);
    const timeout = Symbol('timeout');
    const outcome = leftMs <= 0 ? timeout : await Promise.race([work, sleep(leftMs, timeout, { ref: false })]);
    if (outcome === timeout) {
      this.options.log.warn('push answered before it was applied (slow store)', { appId, kind: doc.event.kind });
      return null;
    }
    return outcome;
  }

  /**
   * A retry after our answer came too late, a replay, or a copy delivered at the same time: the
   * first delivery's reply, never a second application. A copy that finds the first still being
   * applied waits for it (backing off, within the reply budget) before counting itself on the event:
   * a write there during the apply would void the apply's transaction, and the copy's answer should
   * carry the same passive reply (WeChat may show either answer).
   */
  private async answerDuplicate(id: string, startedAtMs: number): Promise<PassiveReply | null> {
    const { store } = this.options;
    let first = await store.get<PushEventDoc>(COLLECTIONS.pushEvents, id);
    for (let waitMs = DUPLICATE_FIRST_WAIT_MS; first?.status === 'received'; waitMs *= 2) {
      const leftMs = this.replyBudgetMs - (this.now() - startedAtMs);
      if (leftMs <= waitMs) break;
      await sleep(waitMs);
      first = await store.get<PushEventDoc>(COLLECTIONS.pushEvents, id);
    }
    await store.update(COLLECTIONS.pushEvents, { _id: id }, { inc: { duplicates: 1 } });
    return first !== null && first.status !== 'received' ? first.reply : null;
  }

  /** Brings one recorded event to `done` (idempotent); answers its passive reply. */
  async apply(doc: PushEventDoc): Promise<PassiveReply | null> {
    let status = doc.status;
    let reply = doc.reply;
    if (status === 'received') {
      const applied = FOLLOW_KINDS.has(doc.event.kind) ? await this.applyFollow(doc) : await this.applyCardEvent(doc);
      status = applied.status;
      reply = applied.reply;
    }
    if (status === 'applied') await this.enrich(doc);
    return reply;
  }

  /**
   * The reconciler: applies every event left `received` or `applied` for longer than `minAgeMs`
   * (a slow store, an instance frozen after it answered), oldest first.
   */
  async reconcile(options: { minAgeMs?: number; limit?: number } = {}): Promise<{ applied: number; failed: number; remaining: boolean }> {
    const limit = options.limit ?? 100;
    const docs = await this.options.store.find<PushEventDoc>(
      COLLECTIONS.pushEvents,
      { status: { in: ['received', 'applied'] }, receivedAtMs: { lte: this.now() - (options.minAgeMs ?? DEFAULT_RECONCILE_MIN_AGE_MS) } },
      { limit, orderBy: { field: 'receivedAtMs', direction: 'asc' } },
    );
    let applied = 0;
    let failed = 0;
    for (const doc of docs) {
      try {
        await this.apply(doc);
        applied += 1;
      } catch (error) {
        failed += 1;
        const attempts = doc.attempts + 1;
        const lastError = error instanceof Error ? error.message.slice(0, 300) : 'failed';
        const giveUp = attempts >= MAX_APPLY_ATTEMPTS;
        this.options.log[giveUp ? 'error' : 'warn']('push event not applied', { appId: doc.appId, kind: doc.event.kind, attempts, error });
        await this.options.store.update(
          COLLECTIONS.pushEvents,
          { _id: doc._id, status: doc.status },
          { set: { attempts, lastError, ...(giveUp ? { status: 'done', doneAtMs: this.now() } : {}) } },
        );
      }
    }
    return { applied, failed, remaining: docs.length === limit };
  }

  private async applyFollow(doc: PushEventDoc): Promise<{ status: PushEventStatus; reply: PassiveReply | null }> {
    const { store } = this.options;
    const event = doc.event as Extract<PushEvent, { kind: 'subscribe' | 'unsubscribe' | 'scan' }>;
    const atMs = doc.createTimeSeconds * 1000;
    const channel = event.kind === 'unsubscribe' ? ACCOUNT_CHANNEL : channelOfScene(event.scene);
    const input: FollowEventInput = { appId: doc.appId, openid: doc.openid, kind: event.kind, atMs, channel };
    const [account, channelDoc] = await Promise.all([
      this.options.accounts.get(doc.appId),
      event.kind === 'unsubscribe' ? Promise.resolve(null) : this.options.channels.get(doc.appId, channel),
    ]);
    const wantsUnionid = event.kind !== 'unsubscribe' && account !== null && hasCapability(account, 'userInfo');
    await this.options.counters.ensure(counterDocsFor(doc.appId, channel, atMs, doc.openid));
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await store.transaction(async (tx) => {
          const ledger = await tx.get<FollowLedgerDoc>(COLLECTIONS.follows, followLedgerId(doc.appId, doc.openid));
          const transition = applyFollowEvent(ledger, input, this.now());
          const targets = transition.deltas.map(({ channel: credited, delta }) => ({ docs: counterDocsFor(doc.appId, credited, atMs, doc.openid), delta }));
          const unknown = targets.flatMap((target) => target.docs).filter((counter) => !this.options.counters.knows(counter._id));
          if (unknown.length > 0) throw new MissingCounters(unknown);
          await tx.put(COLLECTIONS.follows, transition.ledger as FollowLedgerDoc & Record<string, unknown>);
          for (const target of targets) await incrementCounters(tx, target.docs.map((counter) => counter._id), target.delta);
          // The event's status decides whether these writes commit: another invocation or the reconciler may have applied it.
          const current = await tx.get<PushEventDoc>(COLLECTIONS.pushEvents, doc._id);
          if (current === null || current.status !== 'received') throw new AlreadyApplied(current?.status ?? 'done', current?.reply ?? null);
          const reply = await this.replyHook({ appId: doc.appId, event, facts: transition.facts, channel: channelDoc });
          const status: PushEventStatus = wantsUnionid && transition.ledger.unionid === null ? 'applied' : 'done';
          const nowMs = this.now();
          const { channel: credited, firstFollow, returning } = transition.facts;
          await tx.update(COLLECTIONS.pushEvents, doc._id, {
            set: { status, appliedAtMs: nowMs, doneAtMs: status === 'done' ? nowMs : null, reply, facts: { channel: credited, firstFollow, returning } },
          });
          return { status, reply };
        });
      } catch (error) {
        // Another invocation (or the reconciler) applied it first: its writes stand, this one's were rolled back.
        if (error instanceof AlreadyApplied) return { status: error.status, reply: error.reply };
        // An unfollow credits the channel of the user's last follow, known only inside the transaction.
        if (!(error instanceof MissingCounters) || attempt >= 2) throw error;
        await this.options.counters.ensure(error.docs);
      }
    }
  }

  /** A verified service account's follower: their unionid from user/info, and the link cash packets and decryptCode use. */
  private async enrich(doc: PushEventDoc): Promise<void> {
    const info = await this.options.followerInfo(doc.appId, doc.openid);
    if (info.subscribe === 1 && info.unionid) {
      await this.options.store.update(COLLECTIONS.follows, { _id: followLedgerId(doc.appId, doc.openid) }, { set: { unionid: info.unionid } });
      await linkUser(this.options.store, { officialAppId: doc.appId, unionid: info.unionid, openid: doc.openid, source: 'follow' }, this.now());
    }
    await this.options.store.update(COLLECTIONS.pushEvents, { _id: doc._id, status: 'applied' }, { set: { status: 'done', doneAtMs: this.now() } });
  }

  /**
   * Card events prove who holds which code (cards/owners.ts): `user_get_card` records the holder
   * (their openid, the UnionId WeChat sent, the mini-program user a verified outer_str names);
   * deleting or giving the card away releases the record. Each write is idempotent.
   */
  private async applyCardEvent(doc: PushEventDoc): Promise<{ status: PushEventStatus; reply: PassiveReply | null }> {
    const { store } = this.options;
    const event = doc.event;
    const atMs = doc.createTimeSeconds * 1000;
    const nowMs = this.now();
    if (event.kind === 'user_get_card') {
      const existing = await findCardCodeOwner(store, event.cardId, event.code);
      // A release WeChat sent later than this event, applied first (a retry overtook it), stays in force.
      const releasedLater = existing?.releasedAtMs !== undefined && (existing.releasedByEventAtMs ?? 0) > atMs;
      if (!releasedLater) {
        const reference = event.outerStr === null ? null : readCardReference({ key: this.options.cardReferenceKey, cardId: event.cardId, outerStr: event.outerStr });
        await recordCardCodeOwner(store, {
          cardId: event.cardId,
          code: event.code,
          officialAppId: doc.appId,
          officialOpenid: doc.openid,
          ...(event.unionId === null ? {} : { unionid: event.unionId }),
          ...(reference === null ? {} : { miniProgram: { appid: reference.appid, openid: reference.openid } }),
          source: 'user_get_card',
          recordedAtMs: nowMs,
          eventAtMs: atMs,
        });
      }
      if (event.oldCode !== null && event.friendOpenid !== null) await this.release(doc.appId, event.cardId, event.oldCode, event.friendOpenid, atMs);
      if (event.unionId !== null) await linkUser(store, { officialAppId: doc.appId, unionid: event.unionId, openid: doc.openid, source: 'card' }, nowMs);
    } else if (event.kind === 'user_del_card' || event.kind === 'user_gifting_card') {
      await this.release(doc.appId, event.cardId, event.code, doc.openid, atMs);
    } else if (event.kind === 'user_consume_card') {
      await store.update(COLLECTIONS.cardCodeOwners, { _id: cardCodeOwnerId(event.cardId, event.code), officialOpenid: doc.openid }, { set: { consumedAtMs: atMs } });
    }
    await store.update(COLLECTIONS.pushEvents, { _id: doc._id, status: 'received' }, { set: { status: 'done', appliedAtMs: nowMs, doneAtMs: nowMs } });
    return { status: 'done', reply: null };
  }

  private async release(appId: string, cardId: string, code: string, openid: string, atMs: number): Promise<void> {
    const { store } = this.options;
    const nowMs = this.now();
    const released = await store.update(
      COLLECTIONS.cardCodeOwners,
      { _id: cardCodeOwnerId(cardId, code), officialOpenid: openid },
      { set: { releasedAtMs: nowMs, releasedByEventAtMs: atMs } },
    );
    // The release overtook the user_get_card it ends: leave a released record, so that event proves nothing when it comes.
    if (released === 0 && (await findCardCodeOwner(store, cardId, code)) === null) {
      await recordCardCodeOwner(store, {
        cardId, code, officialAppId: appId, officialOpenid: openid, source: 'release', recordedAtMs: nowMs, releasedAtMs: nowMs, releasedByEventAtMs: atMs,
      });
    }
  }
}
