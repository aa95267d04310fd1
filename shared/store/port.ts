/**
 * The persistence port. The core talks only to this interface; adapters map it onto the
 * CloudBase database (wx-server-sdk inside functions, @cloudbase/node-sdk in scripts).
 */
import { StoreError } from '../errors';

export type Scalar = string | number | boolean | null;

/** A field condition. A bare scalar means equality. */
export type Condition =
  | Scalar
  | { eq: Scalar }
  | { neq: Scalar }
  | { lt: number }
  | { lte: number }
  | { gt: number }
  | { gte: number }
  | { in: Scalar[] };

/** Conditions ANDed over (dot-path) fields. */
export type Where = Record<string, Condition>;

/** An update. `set` replaces whole values, objects included; `inc` adds; `unset` removes. */
export interface Patch {
  set?: Record<string, unknown>;
  inc?: Record<string, number>;
  unset?: string[];
}

export interface StoredDoc {
  _id: string;
}

export interface FindOptions {
  limit?: number;
  orderBy?: { field: string; direction: 'asc' | 'desc' };
}

export interface DocumentStore {
  get<T extends StoredDoc>(collection: string, id: string): Promise<T | null>;
  /** Inserts a document with its own `_id`; false (and nothing written) when that `_id` exists. */
  insert(collection: string, doc: StoredDoc & Record<string, unknown>): Promise<boolean>;
  /** Replaces the document, creating it when absent. */
  put(collection: string, doc: StoredDoc & Record<string, unknown>): Promise<void>;
  /**
   * Applies the patch to every document matching `where` and returns how many changed. With an
   * `_id` and a guard this is the compare-and-set primitive leases and compare-and-expire use.
   */
  update(collection: string, where: Where, patch: Patch): Promise<number>;
  remove(collection: string, id: string): Promise<boolean>;
  find<T extends StoredDoc>(collection: string, where: Where, options?: FindOptions): Promise<T[]>;
  count(collection: string, where: Where): Promise<number>;
  /**
   * Runs `work` in one database transaction and commits it. A write conflict (another
   * transaction touched the same documents first) starts `work` over, a bounded number of times
   * with a small jittered back-off; anything `work` throws rolls back and is rethrown as it is.
   * Only single-document operations exist inside (CloudBase transactions have no `where`).
   */
  transaction<T>(work: (tx: TransactionScope) => Promise<T>, options?: TransactionOptions): Promise<T>;
}

/** What a transaction may do: single-document reads and writes, seen by others only at commit. */
export interface TransactionScope {
  get<T extends StoredDoc>(collection: string, id: string): Promise<T | null>;
  /** Inserts a document with its own `_id`; an existing `_id` fails the transaction. */
  insert(collection: string, doc: StoredDoc & Record<string, unknown>): Promise<void>;
  /** Replaces the document, creating it when absent. */
  put(collection: string, doc: StoredDoc & Record<string, unknown>): Promise<void>;
  /** Applies the patch to the document `id` (a missing document is left missing). */
  update(collection: string, id: string, patch: Patch): Promise<void>;
  remove(collection: string, id: string): Promise<void>;
}

/** Bounds of {@link DocumentStore.transaction}'s conflict retries. */
export interface TransactionOptions {
  /** Runs of `work` in all, the first included (default 10). */
  maxAttempts?: number;
  /** Upper bound of the first back-off; it doubles per conflict up to 8× and is jittered (default 10). */
  backoffMs?: number;
}

/**
 * Every run of a transaction lost a write conflict. Retryable by the caller later; the hot
 * document is usually a counter many users update at once.
 */
export class TransactionConflictError extends StoreError {
  readonly attempts: number;
  constructor(attempts: number, options: { cause?: unknown } = {}) {
    super(`The transaction lost ${attempts} write conflicts in a row`, options);
    this.attempts = attempts;
  }
}

/** The collections this product uses; created by `npm run deploy` and by the local stack. */
export const COLLECTIONS = {
  credentials: 'wx_credentials',
  /**
   * Official accounts beyond the environment's own (`_id` = appid), with their AppSecret, push
   * token and EncodingAESKey: server-only, database permission ADMINONLY (npm run deploy checks it).
   */
  accounts: 'wx_accounts',
  /** unionid → openid under an official account (filled by the follow / webview-OAuth paths, or an operator). */
  userLinks: 'wx_user_links',
  /** Cards the operator registered as issuable, with what signing them needs. */
  cards: 'card_registry',
  /** Staff allowed to redeem (核销) codes. */
  cardStaff: 'card_staff',
  /** One record per redeemed code: the idempotency key of a scan. */
  cardRedemptions: 'card_redemptions',
  /** Who received a code, from verified card events (`_id` = `<cardId>:<code>`): decryptCode's proof for unlinked users. */
  cardCodeOwners: 'card_code_owners',
  /** Every verified push, first as WeChat sent it (`_id` = `<appid>:<dedupe key>`): the dedupe record and the inbox the reconciler drains. */
  pushEvents: 'wx_push_events',
  /** The follow ledger, one document per (official account, openid) (`_id` = `<appid>:<openid>`). */
  follows: 'wx_follows',
  /** Follow counters per account, channel and day, sharded (`_id` = `<appid>|<channel>|<day>|<shard>`). */
  followCounters: 'wx_follow_counters',
  /** Channels the operator configured: QR codes, campaign, passive reply (`_id` = `<appid>:<channel>`). */
  channels: 'wx_channels',
  /** Console operators (`_id` = sign-in name): scrypt password hash, created and removed only by the CLI. */
  consoleOperators: 'ops_operators',
  /** Console sessions (`_id` = SHA-256 of the cookie's token, never the token itself). */
  consoleSessions: 'ops_sessions',
  /** Sign-in attempts per account name and per client IP: the console's rate limit and lock-out, shared by every instance. */
  consoleSignInLimits: 'ops_sign_in_limits',
  /** Every change made through the console or the operator CLI: who, what, when, from where. */
  consoleAudit: 'ops_audit',
  /** Per campaign (`_id` = campaign id): refusals by reason and Pay error codes, counted as they happen (the console reads them). */
  redPacketStats: 'rp_campaign_stats',
  /** Red-packet campaigns: definition, budget and claim counters (`_id` = campaign id). */
  redPacketCampaigns: 'rp_campaigns',
  /** Pre-generated random amounts, one per packet (`_id` = `<campaignId>:<index>`). */
  redPacketSlots: 'rp_slots',
  /** One claim per (campaign, person) (`_id` = `<campaignId>:<primary key>`): the reservation and its payment state. */
  redPacketClaims: 'rp_claims',
  /** Every other key of a claim's person (`_id` = `<campaignId>:<key>`, e.g. their unionid): a second claim under any key cannot commit. */
  redPacketClaimKeys: 'rp_claim_keys',
  /** Rate-limit and pacing counters, one per key and time window; swept by the reconciler. */
  redPacketCounters: 'rp_counters',
  /** Merchant API certificates by mch_id, when they are not in the environment. */
  payMerchantCerts: 'pay_merchant_certs',
  /** Claim links of follow campaigns (`_id` = link id, a hash of the link's MAC): who followed, and who the link is bound to (single use). */
  claimLinks: 'claim_links',
  /** Claim-page browser sessions (`_id` = SHA-256 of the cookie's token): the OAuth state, the proven person, the last answer. */
  claimSessions: 'claim_sessions',
  /** One-time page tokens a mini-program user gets for the web-view claim page (`_id` = SHA-256 of the token). */
  claimPageTokens: 'claim_page_tokens',
  /** APIv3 key material by mch_id (merchant key and serial, APIv3 key, WeChat Pay public key / platform certificates), when not in the environment. */
  payV3Keys: 'pay_v3_keys',
} as const;
