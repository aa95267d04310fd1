/**
 * The sandbox plays WeChat users, and WeChat delivering their actions to official accounts.
 *
 * A user id (any short name a test picks) gets one openid per app and one unionid per Open
 * Platform, deterministically, so a test knows them without asking. Following, unfollowing,
 * scanning a parametric QR code, sending a message and the card events push to the account's
 * server URL exactly as WeChat does (reference/official-accounts.md §2–§3): the XML event, signed
 * with the account's Token, in its mode (plain; compatible: plain fields plus `Encrypt`; safe: only
 * `Encrypt`), POSTed with a 5-second timeout (`pushTimeoutMs`) and retried three times with the very
 * same request. The passive reply is checked as WeChat checks it (encrypted and signed in safe mode,
 * addressed to the user, from the account) and handed back decrypted.
 *
 * Two choices where WeChat documents nothing (§8 open question 8): the signed `timestamp` is the
 * real clock (the functions' clock) plus a test's skew, while `CreateTime` is the sandbox clock
 * (which tests advance to move days); retries reuse the first request's timestamp and nonce.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { parseStringPromise } from 'xml2js';
import { markStateChanged } from '../persist';
import type { SandboxAccount } from './options';
import { sameHex, sortedSha1, wechatDecrypt, wechatEncrypt } from './push-crypto';
import { MAX_PUSH_RECORDS, sandboxNowMs, type FollowRecord, type PushRecord, type SandboxState } from './state';
import { SandboxInputError, expectNonNegativeNumber, expectOptionalBoolean, expectRecord, expectString } from './validate';

const USER_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const MINUTE_MS = 60_000;
const HOURS_48_MS = 48 * 3_600_000;
/** WeChat's retries after the first attempt (reference §2.4). */
const RETRIES = 3;

/** One push field: strings go in CDATA, numbers bare (WeChat's layout). */
type PushField = [name: string, value: string | number];

/** What a delivery came to, as the control API answers it. */
export interface DeliveryResult {
  /** The delivery's id, for `GET pushes` and `POST pushes/replay`. */
  id: number;
  delivered: boolean;
  attempts: number;
  status: number | null;
  answer: PushRecord['answer'];
  /** The passive reply, decrypted and parsed (`{MsgType, Content}` or `{MsgType:'news', Articles:[…]}`); null for `success`/empty. */
  reply: Record<string, unknown> | null;
  /** Why WeChat would not show the reply (the user sees 该公众号暂时无法提供服务). */
  replyError: string | null;
}

/** Options of one user action's push. */
export interface DeliveryOptions {
  /** Seconds added to the signed timestamp: a skewed or an old push. */
  timestampSkewSeconds?: number;
  /** Deliver the same request twice at once (WeChat's duplicate delivery). */
  duplicate?: boolean;
}

/** A user's ids, as `GET /__sandbox/users?user=…` shows them. */
export interface SandboxUserView {
  user: string;
  /** By Open Platform id. */
  unionids: Record<string, string>;
  /** By appid, for every account and mini-program of the sandbox. */
  openids: Record<string, string>;
  follows: Array<{ appid: string; following: boolean; subscribedAtMs: number; unsubscribedAtMs: number | null }>;
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

export function expectUserId(value: unknown): string {
  const user = expectString(value, 'user');
  if (!USER_ID.test(user)) throw new SandboxInputError('user must be 1-64 letters, digits, _ . or -');
  return user;
}

/** The user's openid under an app: 28 characters of [A-Za-z0-9_-], like WeChat's, and remembered for reverse lookups. */
export function openidOf(state: SandboxState, appid: string, user: string): string {
  const openid = `o${digest(`openid\n${appid}\n${user}`).slice(0, 27)}`;
  if (!state.userIds.has(openid)) state.userIds.set(openid, { user, appid });
  return openid;
}

/** The user's unionid on an Open Platform (null for an app bound to none). */
export function unionidOf(openPlatformId: string | null, user: string): string | null {
  return openPlatformId === null ? null : `oU${digest(`unionid\n${openPlatformId}\n${user}`).slice(0, 26)}`;
}

/** The sandbox user behind an openid of `appid`, if the sandbox made it. */
export function userOfOpenid(state: SandboxState, appid: string, openid: string): string | null {
  const found = state.userIds.get(openid);
  return found !== undefined && found.appid === appid ? found.user : null;
}

export function followKey(appid: string, openid: string): string {
  return `${appid} ${openid}`;
}

/** Builds the event XML WeChat writes. */
function eventXml(fields: readonly PushField[]): string {
  const items = fields.map(([name, value]) => (typeof value === 'number' ? `<${name}>${value}</${name}>` : `<${name}><![CDATA[${value}]]></${name}>`));
  return `<xml>${items.join('')}</xml>`;
}

function header(state: SandboxState, account: SandboxAccount, openid: string, msgType: string): PushField[] {
  return [['ToUserName', account.originalId], ['FromUserName', openid], ['CreateTime', Math.floor(sandboxNowMs(state) / 1000)], ['MsgType', msgType]];
}

const pending = new WeakMap<SandboxState, Set<Promise<unknown>>>();

/** The pushes WeChat sends on its own after an API call or a client action (card events); {@link flushPushes} waits for them. */
export function deliverInBackground(state: SandboxState, account: SandboxAccount, openid: string, event: string, fields: readonly PushField[]): Promise<DeliveryResult> | null {
  if (account.push === null) return null;
  const promise = deliverEvent(state, account, openid, event, fields, {});
  const set = pending.get(state) ?? new Set<Promise<unknown>>();
  pending.set(state, set);
  set.add(promise);
  void promise.finally(() => set.delete(promise)).catch(() => undefined);
  return promise;
}

/** Waits until every background push has been answered (or given up on). */
export async function flushPushes(state: SandboxState): Promise<void> {
  for (let round = 0; round < 10; round += 1) {
    const set = pending.get(state);
    if (set === undefined || set.size === 0) return;
    await Promise.allSettled([...set]);
  }
}

/** A card event's push fields (reference/wechat-api.md §3 card events). */
export function cardEventFields(state: SandboxState, account: SandboxAccount, openid: string, event: 'user_get_card' | 'user_del_card' | 'user_consume_card', card: { cardId: string; code: string; outerStr: string }): PushField[] {
  const head = [...header(state, account, openid, 'event'), ['Event', event] as PushField, ['CardId', card.cardId] as PushField];
  if (event === 'user_del_card') return [...head, ['UserCardCode', card.code]];
  if (event === 'user_consume_card') {
    return [...head, ['UserCardCode', card.code], ['ConsumeSource', 'FROM_API'], ['LocationName', ''], ['StaffOpenId', ''], ['VerifyCode', ''], ['RemarkAmount', ''], ['OuterStr', card.outerStr]];
  }
  const user = userOfOpenid(state, account.appid, openid);
  const unionid = user === null ? null : unionidOf(account.openPlatformId, user);
  return [
    ...head,
    ['IsGiveByFriend', 0], ['UserCardCode', card.code], ['FriendUserName', ''], ['OuterId', 0], ['OldUserCardCode', ''],
    ['OuterStr', card.outerStr], ['IsRestoreMemberCard', 0], ['IsRecommendByFriend', 0], ['UnionId', unionid ?? ''],
  ];
}

/** Signs, encrypts (per mode), delivers with WeChat's retries, records, and checks the answer. */
async function deliverEvent(state: SandboxState, account: SandboxAccount, openid: string, event: string, fields: readonly PushField[], options: DeliveryOptions): Promise<DeliveryResult> {
  const push = account.push;
  if (push === null) throw new SandboxInputError(`${account.appid} has no server URL configured`);
  const xml = eventXml(fields);
  const timestamp = String(Math.floor(state.config.baseNowMs() / 1000) + Math.trunc(options.timestampSkewSeconds ?? 0));
  const nonce = String(randomInt(100_000_000, 2_000_000_000));
  const { query, body } = signedRequest(account, openid, xml, timestamp, nonce);
  const record: PushRecord = {
    id: state.nextPushId++, appid: account.appid, openid, event, url: push.url, query, body,
    sentAtMs: sandboxNowMs(state), attempts: 0, delivered: false, status: null, answer: null, reply: null, replyError: null,
  };
  state.pushes.push(record);
  if (state.pushes.length > MAX_PUSH_RECORDS) state.pushes.splice(0, state.pushes.length - MAX_PUSH_RECORDS);
  const copies = options.duplicate ? [send(state, account, record), send(state, account, record)] : [send(state, account, record)];
  const [first] = await Promise.all(copies);
  Object.assign(record, first);
  record.attempts = (await Promise.all(copies)).reduce((sum, outcome) => sum + outcome.attempts, 0);
  markStateChanged(state);
  return resultOf(record);
}

/** The query and body WeChat sends for `xml` in the account's mode. */
function signedRequest(account: SandboxAccount, openid: string, xml: string, timestamp: string, nonce: string): { query: string; body: string } {
  const push = account.push!;
  const params = new URLSearchParams({ signature: sortedSha1([push.token, timestamp, nonce]), timestamp, nonce, openid });
  if (push.mode === 'plain') return { query: params.toString(), body: xml };
  const encrypted = wechatEncrypt(push.encodingAESKey, account.appid, xml);
  params.set('encrypt_type', 'aes');
  params.set('msg_signature', sortedSha1([push.token, timestamp, nonce, encrypted]));
  const body = push.mode === 'safe'
    ? `<xml><ToUserName><![CDATA[${account.originalId}]]></ToUserName><Encrypt><![CDATA[${encrypted}]]></Encrypt></xml>`
    : xml.replace(/<\/xml>$/, `<Encrypt><![CDATA[${encrypted}]]></Encrypt></xml>`);
  return { query: params.toString(), body };
}

type SendOutcome = Pick<PushRecord, 'attempts' | 'delivered' | 'status' | 'answer' | 'reply' | 'replyError'>;

/** One delivery of a recorded request: the first attempt and up to three retries on timeouts and dropped connections. */
async function send(state: SandboxState, account: SandboxAccount, record: PushRecord): Promise<SendOutcome> {
  let attempts = 0;
  for (;;) {
    attempts += 1;
    try {
      const response = await fetch(`${record.url}?${record.query}`, {
        method: 'POST',
        headers: { 'content-type': 'text/xml' },
        body: record.body,
        signal: AbortSignal.timeout(state.pushTimeoutMs),
      });
      const text = await response.text();
      if (response.status !== 200) return { attempts, delivered: false, status: response.status, answer: 'error', reply: null, replyError: `HTTP ${response.status}` };
      return { attempts, delivered: true, status: 200, ...(await readAnswer(account, record.openid, text)) };
    } catch {
      // No answer in time, or the connection failed: WeChat closes it and tries again, three times.
      if (attempts > RETRIES) return { attempts, delivered: false, status: null, answer: 'timeout', reply: null, replyError: 'no answer within the timeout' };
    }
  }
}

/** What WeChat makes of an answer body: success/empty, or a passive reply it checks and shows. */
async function readAnswer(account: SandboxAccount, openid: string, text: string): Promise<Pick<PushRecord, 'answer' | 'reply' | 'replyError'>> {
  if (text === '') return { answer: 'empty', reply: null, replyError: null };
  if (text === 'success') return { answer: 'success', reply: null, replyError: null };
  const push = account.push!;
  try {
    let fields = await xmlFields(text);
    if (typeof fields.Encrypt === 'string') {
      const { Encrypt, MsgSignature, TimeStamp, Nonce } = fields as Record<string, string>;
      if (!MsgSignature || !TimeStamp || !Nonce || !sameHex(sortedSha1([push.token, TimeStamp, Nonce, Encrypt!]), MsgSignature)) {
        return { answer: 'xml', reply: null, replyError: 'the encrypted reply has a wrong MsgSignature' };
      }
      fields = await xmlFields(wechatDecrypt(push.encodingAESKey, account.appid, Encrypt!));
    } else if (push.mode === 'safe') {
      return { answer: 'xml', reply: null, replyError: 'a safe-mode account must encrypt its replies' };
    }
    if (fields.ToUserName !== openid || fields.FromUserName !== account.originalId) {
      return { answer: 'xml', reply: null, replyError: 'the reply is not addressed from the account to the user' };
    }
    if (fields.MsgType === 'text' && typeof fields.Content === 'string') return { answer: 'xml', reply: { MsgType: 'text', Content: fields.Content }, replyError: null };
    if (fields.MsgType === 'news') {
      const articles = fields.Articles as Array<Record<string, string>> | undefined;
      if (!Array.isArray(articles) || articles.length !== 1 || fields.ArticleCount !== '1') return { answer: 'xml', reply: null, replyError: 'news replies carry exactly one article (45008)' };
      return { answer: 'xml', reply: { MsgType: 'news', Articles: articles }, replyError: null };
    }
    return { answer: 'xml', reply: null, replyError: `unsupported reply MsgType ${String(fields.MsgType)}` };
  } catch (error) {
    return { answer: 'xml', reply: null, replyError: `unreadable reply: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** `<xml>` fields; news `Articles/item` become a list. */
async function xmlFields(text: string): Promise<Record<string, unknown>> {
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new Error('a reply must not carry a DTD');
  const parsed = (await parseStringPromise(text, { explicitArray: false, trim: false, strict: true })) as { xml?: Record<string, unknown> };
  if (parsed.xml === undefined || typeof parsed.xml !== 'object') throw new Error('the reply root is not <xml>');
  const fields = { ...parsed.xml };
  const articles = (fields.Articles as { item?: unknown } | undefined)?.item;
  if (articles !== undefined) fields.Articles = Array.isArray(articles) ? articles : [articles];
  return fields;
}

function resultOf(record: PushRecord): DeliveryResult {
  return { id: record.id, delivered: record.delivered, attempts: record.attempts, status: record.status, answer: record.answer, reply: record.reply, replyError: record.replyError };
}

function officialAccount(state: SandboxState, value: unknown): SandboxAccount {
  const appid = expectString(value, 'appid');
  const account = state.accounts.get(appid);
  if (account === undefined || account.kind === 'miniprogram') throw new SandboxInputError(`appid ${appid} is not a sandbox official account`);
  if (account.push === null) throw new SandboxInputError(`${appid} has no server URL configured: WeChat would deliver nothing`);
  return account;
}

function deliveryOptions(record: Record<string, unknown>): DeliveryOptions {
  const skew = record.timestampSkewSeconds;
  if (skew !== undefined && (typeof skew !== 'number' || !Number.isInteger(skew) || Math.abs(skew) > 86_400 * 365)) {
    throw new SandboxInputError('timestampSkewSeconds must be an integer');
  }
  const duplicate = expectOptionalBoolean(record.duplicate, 'duplicate');
  return { ...(skew === undefined ? {} : { timestampSkewSeconds: skew as number }), ...(duplicate === undefined ? {} : { duplicate }) };
}

const DELIVERY_KEYS = ['timestampSkewSeconds', 'duplicate'];

/** The control operations of users and pushes (mounted under `/__sandbox/users/…` and `/__sandbox/pushes/…`). */
export function createUsersControl(state: SandboxState) {
  const window = (record: FollowRecord, kind: 'follow' | 'scan' | 'message'): void => {
    record.window = kind === 'message'
      ? { kind, opensAtMs: sandboxNowMs(state), validMs: HOURS_48_MS, allowed: 5, used: 0 }
      : { kind, opensAtMs: sandboxNowMs(state), validMs: MINUTE_MS, allowed: 3, used: 0 };
  };
  return {
    user(value: unknown): SandboxUserView {
      const user = expectUserId(value);
      const unionids: Record<string, string> = {};
      const openids: Record<string, string> = {};
      for (const account of state.accounts.values()) {
        openids[account.appid] = openidOf(state, account.appid, user);
        const unionid = unionidOf(account.openPlatformId, user);
        if (unionid !== null && account.openPlatformId !== null) unionids[account.openPlatformId] = unionid;
      }
      const follows = [...state.follows.values()]
        .filter((record) => record.user === user)
        .map(({ appid, following, subscribedAtMs, unsubscribedAtMs }) => ({ appid, following, subscribedAtMs, unsubscribedAtMs }));
      return { user, unionids, openids, follows };
    },

    /**
     * The user follows the account, by a parametric QR code's `ticket` or `scene` when given (a follower
     * scanning it sends SCAN instead), else from search. Following twice without a code is refused.
     */
    async follow(input: unknown): Promise<DeliveryResult> {
      const record = expectRecord(input, 'follow body', ['user', 'appid', 'scene', 'ticket', 'addScene', ...DELIVERY_KEYS]);
      const user = expectUserId(record.user);
      const account = officialAccount(state, record.appid);
      const code = qrCodeOf(state, account.appid, record.scene, record.ticket);
      const openid = openidOf(state, account.appid, user);
      const key = followKey(account.appid, openid);
      const existing = state.follows.get(key);
      const nowMs = sandboxNowMs(state);
      let fields: PushField[];
      let event: string;
      if (existing?.following) {
        if (code === null) throw new SandboxInputError(`${user} already follows ${account.appid}`);
        event = 'SCAN';
        fields = [...header(state, account, openid, 'event'), ['Event', 'SCAN'], ['EventKey', code.scene], ['Ticket', code.ticket]];
        window(existing, 'scan');
      } else {
        event = 'subscribe';
        fields = [...header(state, account, openid, 'event'), ['Event', 'subscribe'], ...(code === null ? [['EventKey', ''] as PushField] : [['EventKey', `qrscene_${code.scene}`] as PushField, ['Ticket', code.ticket] as PushField])];
        const addScene = record.addScene === undefined ? 'ADD_SCENE_SEARCH' : expectString(record.addScene, 'addScene');
        const follow: FollowRecord = {
          user, appid: account.appid, openid, following: true, subscribedAtMs: nowMs, unsubscribedAtMs: existing?.unsubscribedAtMs ?? null,
          subscribeScene: code === null ? addScene : 'ADD_SCENE_QR_CODE', qrScene: code?.scene ?? null, window: null,
        };
        window(follow, 'follow');
        state.follows.set(key, follow);
      }
      return deliverEvent(state, account, openid, event, fields, deliveryOptions(record));
    },

    async unfollow(input: unknown): Promise<DeliveryResult> {
      const record = expectRecord(input, 'unfollow body', ['user', 'appid', ...DELIVERY_KEYS]);
      const user = expectUserId(record.user);
      const account = officialAccount(state, record.appid);
      const openid = openidOf(state, account.appid, user);
      const existing = state.follows.get(followKey(account.appid, openid));
      if (!existing?.following) throw new SandboxInputError(`${user} does not follow ${account.appid}`);
      existing.following = false;
      existing.unsubscribedAtMs = sandboxNowMs(state);
      existing.window = null;
      const fields: PushField[] = [...header(state, account, openid, 'event'), ['Event', 'unsubscribe'], ['EventKey', '']];
      return deliverEvent(state, account, openid, 'unsubscribe', fields, deliveryOptions(record));
    },

    /** A follower sends a text message: a push with a MsgId, and a 48-hour customer-service window. */
    async message(input: unknown): Promise<DeliveryResult> {
      const record = expectRecord(input, 'message body', ['user', 'appid', 'text', ...DELIVERY_KEYS]);
      const user = expectUserId(record.user);
      const account = officialAccount(state, record.appid);
      const text = expectString(record.text, 'text');
      const openid = openidOf(state, account.appid, user);
      const existing = state.follows.get(followKey(account.appid, openid));
      if (!existing?.following) throw new SandboxInputError(`${user} does not follow ${account.appid}: there is no chat to write in`);
      window(existing, 'message');
      const msgId = String(BigInt(`0x${randomBytes(7).toString('hex')}`));
      const fields: PushField[] = [...header(state, account, openid, 'text'), ['Content', text], ['MsgId', msgId]];
      return deliverEvent(state, account, openid, 'text', fields, deliveryOptions(record));
    },

    /** The latest pushes (optionally of one account), newest last, without their bodies. */
    pushes(appid: string | undefined) {
      return state.pushes
        .filter((record) => appid === undefined || record.appid === appid)
        .map(({ body: _body, query: _query, ...rest }) => rest);
    },

    /**
     * Sends a recorded push again, byte for byte (a replay an attacker could make of a captured request),
     * or with `ageSeconds`, as it would have been signed that long ago: the same body, nonce and
     * signature scheme, an old timestamp.
     */
    async replay(input: unknown): Promise<DeliveryResult> {
      const record = expectRecord(input, 'replay body', ['id', 'ageSeconds']);
      const original = state.pushes.find((push) => push.id === record.id);
      if (original === undefined) throw new SandboxInputError(`no recorded push ${String(record.id)}`);
      const account = state.accounts.get(original.appid);
      if (account?.push === null || account === undefined) throw new SandboxInputError(`${original.appid} has no server URL any more`);
      let query = original.query;
      if (record.ageSeconds !== undefined) {
        const ageSeconds = expectNonNegativeNumber(record.ageSeconds, 'ageSeconds', 86_400 * 365);
        const params = new URLSearchParams(original.query);
        const timestamp = String(Number(params.get('timestamp')) - Math.floor(ageSeconds));
        const nonce = params.get('nonce')!;
        params.set('timestamp', timestamp);
        params.set('signature', sortedSha1([account.push.token, timestamp, nonce]));
        const encrypted = /<Encrypt><!\[CDATA\[([^\]]+)\]\]><\/Encrypt>/.exec(original.body)?.[1];
        if (encrypted !== undefined) params.set('msg_signature', sortedSha1([account.push.token, timestamp, nonce, encrypted]));
        query = params.toString();
      }
      const copy: PushRecord = { ...original, id: state.nextPushId++, query, sentAtMs: sandboxNowMs(state), attempts: 0, delivered: false, status: null, answer: null, reply: null, replyError: null };
      state.pushes.push(copy);
      Object.assign(copy, await send(state, account, copy));
      markStateChanged(state);
      return resultOf(copy);
    },

    setPushTimeout(input: unknown): { timeoutMs: number } {
      const record = expectRecord(input, 'push settings body', ['timeoutMs']);
      state.pushTimeoutMs = Math.max(1, Math.floor(expectNonNegativeNumber(record.timeoutMs, 'timeoutMs', 60_000)));
      return { timeoutMs: state.pushTimeoutMs };
    },

    flush: () => flushPushes(state),
  };
}

export type UsersControl = ReturnType<typeof createUsersControl>;

/** The live QR code a follow names by ticket or scene, or null; an unknown or expired one is refused (the user could not scan it). */
function qrCodeOf(state: SandboxState, appid: string, scene: unknown, ticket: unknown) {
  if (scene === undefined && ticket === undefined) return null;
  const nowMs = sandboxNowMs(state);
  const live = [...state.qrCodes.values()].filter((code) => code.appid === appid && (code.expiresAtMs === null || code.expiresAtMs > nowMs));
  const found = ticket !== undefined
    ? live.find((code) => code.ticket === expectString(ticket, 'ticket'))
    : live.reverse().find((code) => code.scene === String(scene));
  if (found === undefined) throw new SandboxInputError(`${appid} has no live parametric QR code ${ticket !== undefined ? 'with that ticket' : `with scene ${String(scene)}`}`);
  return found;
}
