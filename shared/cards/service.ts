import type { CredentialSourcePort } from '../credentials/reader';
import { withAccessToken } from '../credentials/reader';
import { AppError, ForbiddenError, InputError, NotEligibleError, NotFoundError, RateLimitedError, WechatApiError } from '../errors';
import { TtlCache, WindowRateLimiter } from '../memo';
import { buildCardExt } from '../signing/card';
import { createNonce, unixSeconds } from '../signing/nonce';
import type { DocumentStore, StoredDoc } from '../store/port';
import { COLLECTIONS } from '../store/port';
import { AccountNotLinkedError, officialOpenidOf } from '../users/links';
import { consumeCardCode, decryptCardCode, getCardCode } from '../wechat/card';
import type { WechatHttp } from '../wechat/http';
import { CodeOwnershipUnprovenError, findCardCodeOwner, OWNERSHIP_MISSING, recordProvesOwner } from './owners';
import { signCardReference } from './reference';

/** A card the operator registered as issuable (`card_registry`, `_id` = card id). */
export interface CardRegistration extends StoredDoc {
  officialAppId: string;
  /** Custom-code cards carry their `code` in cardExt; others must not. */
  customCode: boolean;
  /** bind_openid cards are signed for one user's official-account openid. */
  bindOpenid: boolean;
  issuable: boolean;
  title: string;
  registeredAtMs: number;
}

/** Who may redeem (`card_staff`, `_id` = `openid:<mini-program openid>` or `unionid:<unionid>`). */
export interface StaffDoc extends StoredDoc {
  role: 'redeemer';
  name: string;
  addedAtMs: number;
}

/** One record per redeemed code (`card_redemptions`, `_id` = `<cardId>:<code>`). */
export interface RedemptionDoc extends StoredDoc {
  cardId: string;
  code: string;
  status: 'consuming' | 'consumed';
  staffKey: string;
  ownerOpenid: string | null;
  startedAtMs: number;
  consumedAtMs: number | null;
}

export interface CardUser {
  openid: string;
  /** The mini-program the user called from. */
  appid?: string;
  unionid?: string;
}

export interface CardServiceOptions {
  store: DocumentStore;
  http: WechatHttp;
  officialAppId: string;
  tokens: CredentialSourcePort;
  cardTicket: CredentialSourcePort;
  now?: () => number;
  nonce?: () => string;
  /** Per user and instance. */
  rateLimit?: { calls: number; windowMs: number };
  /** How long registrations stay in instance memory. */
  registryTtlMs?: number;
  /**
   * REF_SIGNING_SECRET: signCard then puts a signed reference to the mini-program user in outer_str
   * (reference.ts), and the user_get_card push proves who received the code.
   */
  referenceKey?: string;
}

export const MAX_CARDS_PER_CALL = 10;
const CARD_ID = /^p[0-9A-Za-z_-]{27}$/;
const CUSTOM_CODE = /^[0-9A-Za-z]{1,20}$/;
const OUTER_STR = /^[0-9A-Za-z_-]{1,32}$/;
// A redemption left "consuming" this long was abandoned (the scan's function died); another scan may take over.
const STALE_REDEMPTION_MS = 30_000;

export interface SignRequestItem {
  cardId: string;
  code?: string;
  outerStr?: string;
}

export function userKey(user: CardUser): string {
  return user.unionid ? `unionid:${user.unionid}` : `openid:${user.openid}`;
}

/**
 * signCard, decryptCode and consumeCode. Card registrations, tickets and user links are read
 * through instance memory, so a warm signCard call makes no WeChat call and, for cards that are
 * not bind_openid, no database request.
 */
export class CardService {
  private readonly registry: TtlCache<CardRegistration | null>;
  private readonly links: TtlCache<string>;
  private readonly limiter: WindowRateLimiter;
  private readonly now: () => number;
  private readonly nonce: () => string;

  constructor(private readonly options: CardServiceOptions) {
    this.now = options.now ?? Date.now;
    this.nonce = options.nonce ?? (() => createNonce(32));
    this.registry = new TtlCache(options.registryTtlMs ?? 60_000, 1_000, this.now);
    this.links = new TtlCache(300_000, 10_000, this.now);
    const rate = options.rateLimit ?? { calls: 20, windowMs: 60_000 };
    this.limiter = new WindowRateLimiter(rate.calls, rate.windowMs, this.now);
  }

  /** Ready `cardList` items for wx.addCard, one fresh nonce each, for cards the operator made issuable. */
  async signCards(user: CardUser, items: readonly SignRequestItem[]): Promise<Array<{ cardId: string; cardExt: string }>> {
    this.throttle(user);
    const registrations = await Promise.all(items.map((item) => this.issuableCard(item.cardId)));
    const ticket = await this.options.cardTicket.get();
    const timestamp = unixSeconds(this.now());
    const out: Array<{ cardId: string; cardExt: string }> = [];
    for (const [index, item] of items.entries()) {
      const card = registrations[index]!;
      if (card.customCode && !item.code) throw new InputError(`cards[${index}].code is required: ${item.cardId} uses custom codes`, 'code');
      if (!card.customCode && item.code) throw new InputError(`cards[${index}].code must not be sent: ${item.cardId} does not use custom codes`, 'code');
      const openid = card.bindOpenid ? await this.officialOpenid(user) : undefined;
      out.push({
        cardId: item.cardId,
        cardExt: buildCardExt({
          apiTicket: ticket.value,
          cardId: item.cardId,
          timestamp,
          nonceStr: this.nonce(),
          ...(item.code ? { code: item.code } : {}),
          ...(openid ? { openid } : {}),
          ...this.outerStrFor(user, item),
        }),
      });
    }
    return out;
  }

  /**
   * The real code behind an encrypt_code, for wx.openCard — only for a caller proven to own it
   * (fail closed: an encrypt_code is easy to come by, a screenshot or a forwarded card page).
   * Proofs, in order: a card-event record naming the caller (`card_code_owners`, no WeChat
   * call), then the caller's unionid link checked against WeChat's own owner of the code
   * (`card/code/get`). Without a proof: {@link CodeOwnershipUnprovenError} saying what is
   * missing; a different owner: FORBIDDEN. A store failure fails the call (STORE_ERROR), never
   * skips a check.
   */
  async decrypt(user: CardUser, cardId: string, encryptCode: string): Promise<{ cardId: string; code: string }> {
    this.throttle(user);
    await this.registeredCard(cardId);
    const code = await this.wechat((token) => decryptCardCode(this.options.http, token, encryptCode), {
      40075: () => new InputError('encryptCode is not a valid encrypted card code', 'encryptCode'),
    });
    await this.proveOwnership(user, cardId, code);
    return { cardId, code };
  }

  /** Resolves when some proof shows `user` owns the code; throws the refusal otherwise. */
  private async proveOwnership(user: CardUser, cardId: string, code: string): Promise<void> {
    const record = await findCardCodeOwner(this.options.store, cardId, code);
    if (recordProvesOwner(record, user, this.options.officialAppId)) return;
    let ownerOpenid: string;
    try {
      ownerOpenid = await this.officialOpenid(user);
    } catch (error) {
      if (!(error instanceof AccountNotLinkedError)) throw error;
      throw new CodeOwnershipUnprovenError(error.reason === 'no_unionid' ? OWNERSHIP_MISSING.NO_UNIONID : OWNERSHIP_MISSING.ACCOUNT_NOT_LINKED);
    }
    const info = await this.wechat((token) => getCardCode(this.options.http, token, { cardId, code, checkConsume: false }), {
      40056: () => new NotFoundError('This card code does not exist'),
    });
    if (info.card.card_id !== cardId) throw new InputError('This code belongs to another card', 'cardId');
    if (info.openid !== ownerOpenid) throw new ForbiddenError('This card code belongs to another user');
  }

  /** Redeems a code for authorised staff; a repeated scan answers the first redemption again. */
  async consume(staff: CardUser, cardId: string, code: string): Promise<{ status: 'consumed' | 'already_consumed'; cardId: string; code: string; consumedAtMs: number }> {
    const staffKey = await this.authorisedStaff(staff);
    await this.registeredCard(cardId);
    const id = `${cardId}:${code}`;
    const nowMs = this.now();
    const claimed = await this.options.store.insert(COLLECTIONS.cardRedemptions, {
      _id: id, cardId, code, status: 'consuming', staffKey, ownerOpenid: null, startedAtMs: nowMs, consumedAtMs: null,
    } satisfies RedemptionDoc);
    if (!claimed) {
      const existing = await this.options.store.get<RedemptionDoc>(COLLECTIONS.cardRedemptions, id);
      if (existing?.status === 'consumed') return { status: 'already_consumed', cardId, code, consumedAtMs: existing.consumedAtMs ?? existing.startedAtMs };
      // Another scan is redeeming this code now; take over only a redemption that was abandoned.
      const takenOver = await this.options.store.update(
        COLLECTIONS.cardRedemptions,
        { _id: id, status: 'consuming', startedAtMs: { lte: nowMs - STALE_REDEMPTION_MS } },
        { set: { staffKey, startedAtMs: nowMs } },
      );
      if (takenOver !== 1) throw new RateLimitedError('This code is being redeemed right now; try again in a moment', 2_000);
    }
    try {
      let consumedUpstream = false;
      const info = await this.wechat((token) => getCardCode(this.options.http, token, { cardId, code, checkConsume: true }), {
        40056: () => new NotFoundError('This card code does not exist'),
        // Consumed elsewhere (another system of the account, the MP console, a scan whose reply was lost): WeChat's
        // check_consume answers 40099. It is redeemed; record that, so this and every later scan say so.
        40099: () => {
          consumedUpstream = true;
          return null;
        },
        40127: () => new NotEligibleError('CARD_NOT_CONSUMABLE', 'This card code cannot be redeemed (already used, deleted or expired)'),
      });
      if (consumedUpstream) {
        const consumedAtMs = this.now();
        await this.options.store.update(COLLECTIONS.cardRedemptions, { _id: id }, { set: { status: 'consumed', consumedAtMs } });
        return { status: 'already_consumed', cardId, code, consumedAtMs };
      }
      if (info.card.card_id !== cardId) throw new InputError('This code belongs to another card', 'cardId');
      let alreadyUsed = false;
      await this.wechat((token) => consumeCardCode(this.options.http, token, { cardId, code }), {
        // Consumed upstream but not recorded here (an earlier scan died after WeChat answered): record it now.
        40099: () => {
          alreadyUsed = true;
          return null;
        },
      });
      const consumedAtMs = this.now();
      await this.options.store.update(COLLECTIONS.cardRedemptions, { _id: id }, { set: { status: 'consumed', ownerOpenid: info.openid, consumedAtMs } });
      return { status: alreadyUsed ? 'already_consumed' : 'consumed', cardId, code, consumedAtMs };
    } catch (error) {
      // Nothing was redeemed: free the record so a corrected scan can go ahead.
      await this.options.store.remove(COLLECTIONS.cardRedemptions, id).catch(() => undefined);
      throw error;
    }
  }

  /** The signed reference to the user (with the operator's tag inside), or the tag alone without a key. */
  private outerStrFor(user: CardUser, item: SignRequestItem): { outerStr?: string } {
    if (this.options.referenceKey !== undefined && user.appid !== undefined) {
      const tag = item.outerStr === undefined ? {} : { tag: item.outerStr };
      return { outerStr: signCardReference({ key: this.options.referenceKey, cardId: item.cardId, user: { appid: user.appid, openid: user.openid }, ...tag }) };
    }
    return item.outerStr ? { outerStr: item.outerStr } : {};
  }

  private throttle(user: CardUser): void {
    const waitMs = this.limiter.take(userKey(user));
    if (waitMs > 0) throw new RateLimitedError(`Too many card requests; try again in ${Math.ceil(waitMs / 1000)} s`, waitMs);
  }

  private async registeredCard(cardId: string): Promise<CardRegistration> {
    if (!CARD_ID.test(cardId)) throw new InputError('cardId is not a card id', 'cardId');
    const card = await this.registry.get(cardId, () => this.options.store.get<CardRegistration>(COLLECTIONS.cards, cardId));
    if (!card || card.officialAppId !== this.options.officialAppId) throw new NotFoundError(`Card ${cardId} is not registered here`);
    return card;
  }

  private async issuableCard(cardId: string): Promise<CardRegistration> {
    const card = await this.registeredCard(cardId);
    if (!card.issuable) throw new ForbiddenError(`Card ${cardId} is not issuable`);
    return card;
  }

  private officialOpenid(user: CardUser): Promise<string> {
    return this.links.get(user.unionid ?? `no-unionid:${user.openid}`, () =>
      officialOpenidOf(this.options.store, this.options.officialAppId, user.unionid),
    );
  }

  private async authorisedStaff(user: CardUser): Promise<string> {
    const keys = [`openid:${user.openid}`, ...(user.unionid ? [`unionid:${user.unionid}`] : [])];
    for (const key of keys) {
      const staff = await this.options.store.get<StaffDoc>(COLLECTIONS.cardStaff, key);
      if (staff?.role === 'redeemer') return key;
    }
    throw new ForbiddenError('Only staff authorised by the operator may redeem cards');
  }

  /** A WeChat call with the access_token (one recovery on 40001/42001); known errcodes become user-facing errors. */
  private async wechat<T>(call: (token: string) => Promise<T>, known: Record<number, () => AppError | null> = {}): Promise<T> {
    try {
      return await withAccessToken(this.options.tokens, call);
    } catch (error) {
      if (error instanceof WechatApiError && known[error.errcode]) {
        const mapped = known[error.errcode]!();
        if (mapped === null) return undefined as T;
        throw mapped;
      }
      throw error;
    }
  }
}
