import { StoreError } from '../errors';
import type { Condition, DocumentStore, FindOptions, Patch, StoredDoc, Where } from './port';

/**
 * The subset of the CloudBase database API (wx-server-sdk's `cloud.database()`) the adapter uses.
 * Typed here because the SDK's own typings are loose.
 */
export interface CloudDatabase {
  command: CloudCommand;
  collection(name: string): CloudCollection;
}

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
  };
}
