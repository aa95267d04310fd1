import { StoreError } from '../errors';
import { runCloudTransaction, toCloudQuery, toCloudUpdate, type CloudDatabase } from './cloudbase';
import type { DocumentStore, FindOptions, StoredDoc } from './port';

/**
 * The port over @cloudbase/node-sdk's database, for operator scripts. Its API differs from
 * wx-server-sdk's: `doc().get()` answers `{ data: [doc] }`, writes take the data without a
 * `{ data }` wrapper, results carry `updated`/`deleted`, and errors may come back as a `code`
 * in the result instead of a throw.
 */
type Result = { code?: string; message?: string } & Record<string, unknown>;

const DUPLICATE = /DATABASE_DUPLICATE_WRITE|E11000|duplicate key/i;

function checked(operation: string, collection: string, result: Result): Result {
  if (result?.code) throw new StoreError(`${operation} on ${collection} failed: ${result.code} ${result.message ?? ''}`);
  return result;
}

export function createNodeSdkStore(database: unknown): DocumentStore {
  // node-sdk's typings differ from wx-server-sdk's; only `command` is shared with the other adapter.
  const db = database as Pick<CloudDatabase, 'command' | 'startTransaction'> & { collection(name: string): any };
  const _ = db.command;
  const run = async (operation: string, collection: string, work: () => Promise<Result>): Promise<Result> => {
    let result: Result;
    try {
      result = await work();
    } catch (error) {
      throw new StoreError(`${operation} on ${collection} failed: ${(error as Error).message ?? error}`, { cause: error });
    }
    return checked(operation, collection, result);
  };
  return {
    async get(collection, id) {
      const result = await run('get', collection, () => db.collection(collection).doc(id).get());
      return ((result.data as unknown[] | undefined)?.[0] ?? null) as never;
    },
    async insert(collection, doc) {
      try {
        await run('insert', collection, () => db.collection(collection).add(doc));
        return true;
      } catch (error) {
        if (DUPLICATE.test((error as Error).message)) return false;
        throw error;
      }
    },
    async put(collection, doc) {
      const { _id, ...rest } = doc;
      await run('put', collection, () => db.collection(collection).doc(_id).set(rest));
    },
    async update(collection, where, patch) {
      const result = await run('update', collection, () => db.collection(collection).where(toCloudQuery(_, where)).update(toCloudUpdate(_, patch)));
      return Number(result.updated ?? 0);
    },
    async remove(collection, id) {
      const result = await run('remove', collection, () => db.collection(collection).doc(id).remove());
      return Number(result.deleted ?? 0) > 0;
    },
    async find<T extends StoredDoc>(collection: string, where: Parameters<DocumentStore['find']>[1], options: FindOptions = {}) {
      let query = db.collection(collection).where(toCloudQuery(_, where));
      if (options.orderBy) query = query.orderBy(options.orderBy.field, options.orderBy.direction);
      const result = await run('find', collection, () => query.limit(options.limit ?? 100).get());
      return (result.data ?? []) as T[];
    },
    async count(collection, where) {
      const result = await run('count', collection, () => db.collection(collection).where(toCloudQuery(_, where)).count());
      return Number(result.total ?? 0);
    },
    transaction: (work, options) => runCloudTransaction(db, 'node-sdk', work, options),
  };
}
