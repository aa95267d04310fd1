import { setTimeout as sleep } from 'node:timers/promises';
import { StoreError } from '../errors';
import {
  TransactionConflictError,
  type Condition,
  type DocumentStore,
  type FindOptions,
  type Patch,
  type StoredDoc,
  type TransactionOptions,
  type TransactionScope,
  type Where,
} from './port';

/**
 * The subset of the CloudBase database API (wx-server-sdk's `cloud.database()`) the adapter uses.
 * Typed here because the SDK's own typings are loose.
 */
export interface CloudDatabase {
  command: CloudCommand;
  collection(name: string): CloudCollection;
  startTransaction(): Promise<CloudTransaction>;
}

/** A started CloudBase transaction (`db.startTransaction()`), as both SDKs expose it. */
export interface CloudTransaction {
  collection(name: string): {
    doc(id: string): {
      get(): Promise<{ data?: unknown; code?: string; message?: string }>;
      set(data: Record<string, unknown>): Promise<unknown>;
      update(data: Record<string, unknown>): Promise<unknown>;
      remove(): Promise<unknown>;
    };
    add(data: Record<string, unknown>): Promise<unknown>;
  };
  commit(): Promise<unknown>;
  rollback(): Promise<unknown>;
}

/**
 * How an SDK takes write data: wx-server-sdk wraps it (`{ data: {...} }`), @cloudbase/node-sdk
 * does not. Inside a transaction both read `{ data: doc | null }`.
 */
export type CloudSdkDialect = 'wx-server-sdk' | 'node-sdk';

interface CloudCommand {
  eq(v: unknown): unknown;
  neq(v: unknown): unknown;
  lt(v: unknown): unknown;
  lte(v: unknown): unknown;
  gt(v: unknown): unknown;
  gte(v: unknown): unknown;
  in(v: unknown[]): unknown;
  inc(v: number): unknown;
  set(v: unknown): unknown;
  remove(): unknown;
}

interface CloudQuery {
  where(query: Record<string, unknown>): CloudQuery;
  orderBy(field: string, direction: 'asc' | 'desc'): CloudQuery;
  limit(n: number): CloudQuery;
  get(): Promise<{ data: unknown[] }>;
  count(): Promise<{ total: number }>;
  update(options: { data: Record<string, unknown> }): Promise<{ stats: { updated: number } }>;
}

interface CloudCollection extends CloudQuery {
  doc(id: string): {
    get(): Promise<{ data: unknown }>;
    set(options: { data: Record<string, unknown> }): Promise<unknown>;
    remove(): Promise<{ stats: { removed: number } }>;
  };
  add(options: { data: Record<string, unknown> }): Promise<{ _id: string }>;
}

const DUPLICATE = /DATABASE_DUPLICATE_WRITE|E11000|duplicate key/i;

function describe(error: unknown): string {
  const e = error as { errCode?: unknown; errMsg?: unknown; message?: unknown };
  return String(e?.errMsg ?? e?.message ?? error);
}

function toCondition(_: CloudCommand, condition: Condition): unknown {
  if (condition === null || typeof condition !== 'object') return condition;
  if ('eq' in condition) return _.eq(condition.eq);
  if ('neq' in condition) return _.neq(condition.neq);
  if ('lt' in condition) return _.lt(condition.lt);
  if ('lte' in condition) return _.lte(condition.lte);
  if ('gt' in condition) return _.gt(condition.gt);
  if ('gte' in condition) return _.gte(condition.gte);
  return _.in(condition.in);
}

/** Translates port conditions and patches into CloudBase `db.command` expressions. */
export function toCloudQuery(_: CloudCommand, where: Where): Record<string, unknown> {
  const query: Record<string, unknown> = {};
  for (const [field, condition] of Object.entries(where)) query[field] = toCondition(_, condition);
  return query;
}

export function toCloudUpdate(_: CloudCommand, patch: Patch): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  // Plain nested objects in an update are merged field by field by CloudBase; `_.set` replaces them whole.
  for (const [field, value] of Object.entries(patch.set ?? {})) {
    data[field] = value !== null && typeof value === 'object' && !(value instanceof Date) ? _.set(value) : value;
  }
  for (const [field, amount] of Object.entries(patch.inc ?? {})) data[field] = _.inc(amount);
  for (const field of patch.unset ?? []) data[field] = _.remove();
  return data;
}

function withoutId(doc: StoredDoc & Record<string, unknown>): Record<string, unknown> {
  const { _id: _ignored, ...rest } = doc;
  return rest;
}

/** The port over wx-server-sdk's database (inside cloud functions). */
export function createCloudBaseStore(db: CloudDatabase): DocumentStore {
  const _ = db.command;
  const wrap = async <T>(operation: string, collection: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      throw new StoreError(`${operation} on ${collection} failed: ${describe(error)}`, { cause: error });
    }
  };
  return {
    get: (collection, id) =>
      wrap('get', collection, async () => {
        const result = await db.collection(collection).doc(id).get();
        return (result.data ?? null) as never;
      }),
    async insert(collection, doc) {
      try {
        await db.collection(collection).add({ data: doc });
        return true;
      } catch (error) {
        if (DUPLICATE.test(describe(error))) return false;
        throw new StoreError(`insert into ${collection} failed: ${describe(error)}`, { cause: error });
      }
    },
    put: (collection, doc) =>
      wrap('put', collection, async () => {
        await db.collection(collection).doc(doc._id).set({ data: withoutId(doc) });
      }),
    update: (collection, where, patch) =>
      wrap('update', collection, async () => {
        const result = await db.collection(collection).where(toCloudQuery(_, where)).update({ data: toCloudUpdate(_, patch) });
        return result.stats.updated;
      }),
    remove: (collection, id) =>
      wrap('remove', collection, async () => {
        const result = await db.collection(collection).doc(id).remove();
        return result.stats.removed > 0;
      }),
    find: (collection, where, options: FindOptions = {}) =>
      wrap('find', collection, async () => {
        let query = db.collection(collection).where(toCloudQuery(_, where));
        if (options.orderBy) query = query.orderBy(options.orderBy.field, options.orderBy.direction);
        query = query.limit(options.limit ?? 100);
        const result = await query.get();
        return result.data as never;
      }),
    count: (collection, where) =>
      wrap('count', collection, async () => (await db.collection(collection).where(toCloudQuery(_, where)).count()).total),
    transaction: (work, options) => runCloudTransaction(db, 'wx-server-sdk', work, options),
  };
}

const DEFAULT_TRANSACTION_ATTEMPTS = 10;
const DEFAULT_TRANSACTION_BACKOFF_MS = 10;
const MAX_BACKOFF_DOUBLINGS = 3;
// The service's conflict code, MongoDB's conflict text, and a transaction the service already
// dropped (idle timeout, or aborted by a conflict another operation of it met): all mean
// "nothing of this run was committed, run it again".
const RETRYABLE_TRANSACTION = /DATABASE_TRANSACTION_CONFLICT|WriteConflict|TransactionNotExist/;

/**
 * {@link DocumentStore.transaction} over either SDK's `startTransaction`. wx-server-sdk's own
 * `runTransaction` retries only conflicts reported at commit (by `error.code`); a conflict on an
 * operation reaches the caller as errCode -501001 with the server text, so this loop matches
 * the text and owns every retry, bounded, with jittered exponential back-off.
 */
export async function runCloudTransaction<T>(
  db: Pick<CloudDatabase, 'command' | 'startTransaction'>,
  dialect: CloudSdkDialect,
  work: (tx: TransactionScope) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const maxAttempts = options.maxAttempts ?? DEFAULT_TRANSACTION_ATTEMPTS;
  const backoffMs = options.backoffMs ?? DEFAULT_TRANSACTION_BACKOFF_MS;
  let lastConflict: unknown;
  for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
    let transaction: CloudTransaction;
    try {
      transaction = await db.startTransaction();
    } catch (error) {
      throw new StoreError(`starting a transaction failed: ${describe(error)}`, { cause: error });
    }
    try {
      const value = await work(transactionScope(db.command, transaction, dialect));
      await checkedCall('commit', () => transaction.commit());
      return value;
    } catch (error) {
      // The service aborts a conflicted transaction itself; rolling back is for the others, and
      // a failed rollback only means the server-side idle timeout releases the locks instead.
      await transaction.rollback().catch(() => undefined);
      if (!RETRYABLE_TRANSACTION.test(describeDeep(error))) throw error;
      lastConflict = error;
    }
    if (attempt < maxAttempts) {
      const capMs = backoffMs * 2 ** Math.min(attempt - 1, MAX_BACKOFF_DOUBLINGS);
      await sleep(Math.random() * capMs);
    }
  }
  throw new TransactionConflictError(maxAttempts, { cause: lastConflict });
}

function transactionScope(_: CloudCommand, transaction: CloudTransaction, dialect: CloudSdkDialect): TransactionScope {
  const payload = (data: Record<string, unknown>): Record<string, unknown> => (dialect === 'wx-server-sdk' ? { data } : data);
  return {
    async get(collection, id) {
      const result = await checkedCall(`get on ${collection}`, () => transaction.collection(collection).doc(id).get());
      return ((result as { data?: unknown }).data ?? null) as never;
    },
    async insert(collection, doc) {
      await checkedCall(`insert into ${collection}`, () => transaction.collection(collection).add(payload(doc)));
    },
    async put(collection, doc) {
      await checkedCall(`put on ${collection}`, () => transaction.collection(collection).doc(doc._id).set(payload(withoutId(doc))));
    },
    async update(collection, id, patch) {
      await checkedCall(`update on ${collection}`, () => transaction.collection(collection).doc(id).update(payload(toCloudUpdate(_, patch))));
    },
    async remove(collection, id) {
      await checkedCall(`remove on ${collection}`, () => transaction.collection(collection).doc(id).remove());
    },
  };
}

/**
 * @cloudbase/database answers some failures as a result with a `code` instead of throwing
 * (node-sdk passes those through); both shapes become a thrown StoreError keeping the text.
 */
async function checkedCall<R>(operation: string, call: () => Promise<R>): Promise<R> {
  let result: R;
  try {
    result = await call();
  } catch (error) {
    throw new StoreError(`transaction ${operation} failed: ${describeDeep(error)}`, { cause: error });
  }
  const code = (result as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code !== '') {
    throw new StoreError(`transaction ${operation} failed: ${code} ${String((result as { message?: unknown }).message ?? '')}`);
  }
  return result;
}

/** The error's code and text, and its cause's: a wrapped conflict must still be recognised. */
function describeDeep(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth += 1) {
    const e = current as { code?: unknown; errCode?: unknown };
    parts.push(String(e.code ?? ''), String(e.errCode ?? ''), describe(current));
    current = (current as { cause?: unknown }).cause;
  }
  return parts.join(' ');
}
