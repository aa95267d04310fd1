/**
 * The persistence port. The core talks only to this interface; adapters map it onto the
 * CloudBase database (wx-server-sdk inside functions, @cloudbase/node-sdk in scripts).
 */

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
}

/** The collections this product uses; created by `npm run deploy` and by the local stack. */
export const COLLECTIONS = {
  credentials: 'wx_credentials',
  /** unionid → openid under an official account (filled by the follow / webview-OAuth paths, or an operator). */
  userLinks: 'wx_user_links',
  /** Cards the operator registered as issuable, with what signing them needs. */
  cards: 'card_registry',
  /** Staff allowed to redeem (核销) codes. */
  cardStaff: 'card_staff',
  /** One record per redeemed code: the idempotency key of a scan. */
  cardRedemptions: 'card_redemptions',
} as const;
