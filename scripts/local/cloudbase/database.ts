import { randomBytes } from 'node:crypto';
import { Query, update } from 'mingo';
import type { AnyObject } from 'mingo/types';
import { cloneDeep, isEqual } from 'mingo/util';
import { CLOUDBASE_ERROR_CODES, CloudBaseError } from './errors';
import { DocumentStore } from './store';
import {
  type DocumentId, type StoredDocument, MAX_DOCUMENT_DEPTH, isDocumentId, isNestedDeeperThan, isPlainObject, parseEjson, stringifyEjson,
} from './values';

/** Timing knobs of {@link LocalDatabase}. */
export interface LocalDatabaseOptions {
  /** How long a non-transactional write waits for a document locked by a transaction, in real milliseconds. */
  lockWaitMs: number;
  /** Idle time (by `now`) after which a transaction is aborted and its locks released. */
  transactionTimeoutMs: number;
  now: () => number;
}

/** The request body of one `/admin` call, as the SDK sends it. */
export type ActionParams = Record<string, unknown>;

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

interface DocumentRef {
  readonly collection: string;
  readonly id: DocumentId;
}

interface PendingWrite extends DocumentRef {
  /** `null` records a deletion. */
  readonly document: StoredDocument | null;
}

interface Transaction {
  readonly id: string;
  /** Store sequence when the transaction started: anything written later by others is "changed since start". */
  readonly startSequence: number;
  lastActiveMs: number;
  readonly reads: Map<string, DocumentRef>;
  readonly writes: Map<string, PendingWrite>;
}

interface FinishedTransaction {
  readonly outcome: 'conflicted' | 'expired';
  readonly finishedAtMs: number;
}

/** Returned by a write attempt that found a document locked by a transaction. */
class Blocked {
  constructor(readonly lockKey: string) {}
}

type Change = { replacement: StoredDocument } | { modifier: AnyObject };

/**
 * The database half of the local CloudBase: the `database.*` actions over a {@link DocumentStore}, with query and
 * update semantics from mingo, and single-document transactions with snapshot reads, write locks and first-committer-wins.
 * Every method runs synchronously up to its result, so each request is atomic on the single JS thread; only
 * non-transactional writes that meet a locked document wait (asynchronously) and then start over.
 */
export class LocalDatabase {
  readonly #store: DocumentStore;
  readonly #options: LocalDatabaseOptions;
  readonly #transactions = new Map<string, Transaction>();
  readonly #finished = new Map<string, FinishedTransaction>();
  /** Document lock key → id of the transaction holding its write lock. */
  readonly #locks = new Map<string, string>();
  readonly #lockWaiters = new Map<string, Set<() => void>>();

  constructor(store: DocumentStore, options: LocalDatabaseOptions) {
    this.#store = store;
    this.#options = options;
  }

  /** `database.getDocument`: DOC or WHERE, with order, offset, limit and projection. */
  getDocument(params: ActionParams): { list: string[] } {
    const collection = this.#collectionName(params);
    const queryType = queryTypeOf(params);
    const criteria = this.#criteria(params, queryType);
    const projection = this.#optionalObject(params, 'projection');
    let documents: StoredDocument[];
    if (params.transactionId !== undefined) {
      const transaction = this.#transactionForSingleDocument(params, queryType);
      const current = this.#transactionalView(transaction, collection, documentIdOf(criteria));
      documents = current === undefined ? [] : [current];
      if (projection !== undefined) {
        const source = documents;
        documents = mingoCall(() => compileQuery({}).find<StoredDocument>(source, projection).all());
      }
    } else {
      const sort = this.#optionalObject(params, 'order');
      documents = this.#select(collection, criteria, {
        projection,
        sort,
        skip: nonNegativeInteger(params.offset, 'offset') ?? 0,
        limit: queryType === 'DOC' ? 1 : Math.min(positiveInteger(params.limit, 'limit') ?? DEFAULT_LIMIT, MAX_LIMIT),
      });
    }
    return { list: documents.map(stringifyEjson) };
  }

  /** `database.calculateDocument`: the number of documents matching `query`. */
  calculateDocument(params: ActionParams): { total: number } {
    const collection = this.#collectionName(params);
    const queryType = queryTypeOf(params);
    // A count is a where() query, which a transaction refuses (the SDK does not send one, but a raw caller could).
    if (params.transactionId !== undefined) this.#transactionForSingleDocument(params, 'WHERE');
    return { total: this.#select(collection, this.#criteria(params, queryType), {}).length };
  }

  /** `database.insertDocument`: `_id` defaults to 32 hex chars; a taken `_id` is `DATABASE_DUPLICATE_WRITE`. */
  async insertDocument(params: ActionParams): Promise<{ insertedIds: DocumentId[] }> {
    const collection = this.#collectionName(params);
    if (!Array.isArray(params.data) || params.data.length === 0) {
      throw new CloudBaseError(CLOUDBASE_ERROR_CODES.INVALID_PARAM, 'data must be a non-empty array of EJSON documents');
    }
    const documents = params.data.map((text) => this.#newDocument(text));
    const ids = documents.map((document) => document._id as DocumentId);
    const duplicateInBatch = ids.find((id, index) => ids.indexOf(id) !== index);
    if (duplicateInBatch !== undefined) throw duplicateKeyError(collection, duplicateInBatch);

    if (params.transactionId !== undefined) {
      const transaction = this.#activeTransaction(params.transactionId);
      for (const id of ids) {
        if (this.#transactionalView(transaction, collection, id) !== undefined) throw duplicateKeyError(collection, id);
      }
      for (const document of documents) {
        this.#transactionalWrite(transaction, collection, document._id as DocumentId, document);
      }
      return { insertedIds: ids };
    }
    return this.#writeWhenUnlocked(() => {
      const locked = ids.find((id) => this.#locks.has(lockKey(collection, id)));
      if (locked !== undefined) return new Blocked(lockKey(collection, locked));
      const taken = ids.find((id) => this.#store.find(collection, id) !== undefined);
      if (taken !== undefined) throw duplicateKeyError(collection, taken);
      for (const document of documents) this.#store.put(collection, document);
      return { insertedIds: ids };
    });
  }

  /**
   * `database.modifyDocument`: `merge:false` replaces (with `upsert` for `doc().set`), `merge:true` applies update
   * operators (plain fields wrapped in `$set`). `updated` counts documents actually modified, as MongoDB does.
   */
  async modifyDocument(params: ActionParams): Promise<{ updated: number; upsert_id?: DocumentId }> {
    const collection = this.#collectionName(params);
    const queryType = queryTypeOf(params);
    const criteria = this.#criteria(params, queryType);
    const change = toChange(parseEjson(params.data, 'data', this.#options.now()), params.merge !== false);
    const upsert = params.upsert === true;

    if (params.transactionId !== undefined) {
      const transaction = this.#transactionForSingleDocument(params, queryType);
      const id = documentIdOf(criteria);
      const current = this.#transactionalView(transaction, collection, id);
      if (current === undefined) {
        if (!upsert) return { updated: 0 };
        this.#transactionalWrite(transaction, collection, id, applyChange(change, { _id: id }).document);
        return { updated: 0, upsert_id: id };
      }
      const next = applyChange(change, current);
      if (!next.modified) return { updated: 0 };
      this.#transactionalWrite(transaction, collection, id, next.document);
      return { updated: 1 };
    }

    const multi = queryType === 'WHERE' && params.multi === true;
    return this.#writeWhenUnlocked(() => {
      const targets = this.#select(collection, criteria, multi ? {} : { limit: 1 });
      const locked = this.#firstLocked(collection, targets);
      if (locked !== undefined) return locked;
      if (targets.length === 0) {
        if (!upsert) return { updated: 0 };
        const id = isDocumentId(criteria._id) ? criteria._id : newDocumentId();
        if (this.#locks.has(lockKey(collection, id))) return new Blocked(lockKey(collection, id));
        this.#store.put(collection, applyChange(change, { _id: id }).document);
        return { updated: 0, upsert_id: id };
      }
      // Every new version is computed before any is stored, so a failing operator leaves the collection untouched.
      const modified = targets.map((target) => applyChange(change, target)).filter((next) => next.modified);
      for (const next of modified) this.#store.put(collection, next.document);
      return { updated: modified.length };
    });
  }

  /** `database.removeDocument`: DOC, or WHERE with `multi`. */
  async removeDocument(params: ActionParams): Promise<{ deleted: number }> {
    const collection = this.#collectionName(params);
    const queryType = queryTypeOf(params);
    const criteria = this.#criteria(params, queryType);

    if (params.transactionId !== undefined) {
      const transaction = this.#transactionForSingleDocument(params, queryType);
      const id = documentIdOf(criteria);
      if (this.#transactionalView(transaction, collection, id) === undefined) return { deleted: 0 };
      this.#transactionalWrite(transaction, collection, id, null);
      return { deleted: 1 };
    }

    const multi = queryType === 'WHERE' && params.multi === true;
    return this.#writeWhenUnlocked(() => {
      const targets = this.#select(collection, criteria, multi ? {} : { limit: 1 });
      const locked = this.#firstLocked(collection, targets);
      if (locked !== undefined) return locked;
      for (const target of targets) this.#store.remove(collection, target._id as DocumentId);
      return { deleted: targets.length };
    });
  }

  /** `database.addCollection` (node-sdk and wx-server-sdk `db.createCollection`): fails when the collection exists. */
  addCollection(params: ActionParams): void {
    const name = params.collectionName;
    DocumentStore.assertCollectionName(name);
    if (!this.#store.createCollection(name)) {
      throw new CloudBaseError(
        CLOUDBASE_ERROR_CODES.DATABASE_COLLECTION_ALREADY_EXIST,
        `collection ${name} already exists`,
      );
    }
  }

  /** `database.startTransaction`: returns the new transaction's id. */
  startTransaction(): string {
    const id = randomBytes(16).toString('hex');
    this.#transactions.set(id, {
      id,
      startSequence: this.#store.sequence,
      lastActiveMs: this.#options.now(),
      reads: new Map(),
      writes: new Map(),
    });
    return id;
  }

  /** `database.commitTransaction`: validates reads (first committer wins), then applies every write at once. */
  commitTransaction(params: ActionParams): void {
    const transaction = this.#activeTransaction(params.transactionId);
    for (const [key, read] of transaction.reads) {
      if (!transaction.writes.has(key) && this.#changedSince(transaction, read)) {
        this.#conflict(transaction, `document ${describe(read)} read by the transaction was changed by another writer`);
      }
    }
    try {
      this.#store.commit(transaction.id, [...transaction.writes.values()]);
    } finally {
      // A commit that failed to write is rolled back on disk and never reached memory: the transaction is over either way.
      this.#finish(transaction);
    }
  }

  /** `database.abortTransaction`: discards the writes. Aborting one the server already aborted is accepted. */
  abortTransaction(params: ActionParams): void {
    const id = params.transactionId;
    if (typeof id === 'string' && this.#finished.has(id)) return;
    this.#finish(this.#activeTransaction(id));
  }

  /** Aborts transactions idle for `transactionTimeoutMs` and forgets old aborted ones. */
  expireIdleTransactions(): void {
    const nowMs = this.#options.now();
    for (const transaction of [...this.#transactions.values()]) {
      if (nowMs - transaction.lastActiveMs >= this.#options.transactionTimeoutMs) this.#finish(transaction, 'expired');
    }
    for (const [id, finished] of this.#finished) {
      if (nowMs - finished.finishedAtMs >= this.#options.transactionTimeoutMs) this.#finished.delete(id);
    }
  }

  /** Drops every transaction; blocked writers wake up and fail against the closed store. */
  close(): void {
    for (const transaction of [...this.#transactions.values()]) this.#finish(transaction, 'expired');
  }

  #collectionName(params: ActionParams): string {
    const name = params.collectionName;
    DocumentStore.assertCollectionName(name);
    if (!this.#store.hasCollection(name)) {
      throw new CloudBaseError(
        CLOUDBASE_ERROR_CODES.DATABASE_COLLECTION_NOT_EXIST,
        `Db or Table not exist: collection ${name} does not exist`,
      );
    }
    return name;
  }

  #criteria(params: ActionParams, queryType: 'DOC' | 'WHERE'): AnyObject {
    const criteria = params.query === undefined || params.query === '' ? {} : this.#parseObject(params.query, 'query');
    if (queryType === 'DOC' && !isDocumentId(criteria._id)) {
      throw new CloudBaseError(CLOUDBASE_ERROR_CODES.INVALID_PARAM, 'a DOC query needs a string or number _id');
    }
    return criteria;
  }

  #optionalObject(params: ActionParams, field: 'projection' | 'order'): AnyObject | undefined {
    const text = params[field];
    return text === undefined || text === '' ? undefined : this.#parseObject(text, field);
  }

  #parseObject(text: unknown, field: string): AnyObject {
    const value = parseEjson(text, field, this.#options.now());
    if (!isPlainObject(value)) throw new CloudBaseError(CLOUDBASE_ERROR_CODES.INVALID_PARAM, `${field} must be an object`);
    return value;
  }

  #newDocument(text: unknown): StoredDocument {
    const document = this.#parseObject(text, 'data');
    if (document._id === undefined) return { _id: newDocumentId(), ...document };
    if (!isDocumentId(document._id)) {
      throw new CloudBaseError(CLOUDBASE_ERROR_CODES.INVALID_PARAM, '_id must be a string or a number');
    }
    return document;
  }

  #select(
    collection: string,
    criteria: AnyObject,
    options: { projection?: AnyObject; sort?: AnyObject; skip?: number; limit?: number },
  ): StoredDocument[] {
    // A top-level _id equality (every doc() call and most where()s here) is a map lookup instead of a scan.
    const candidates = isDocumentId(criteria._id)
      ? [this.#store.find(collection, criteria._id)].filter((document) => document !== undefined)
      : this.#store.documents(collection);
    return mingoCall(() => {
      let cursor = compileQuery(criteria).find<StoredDocument>(candidates, options.projection);
      if (options.sort !== undefined) cursor = cursor.sort(options.sort);
      if (options.skip !== undefined && options.skip > 0) cursor = cursor.skip(options.skip);
      if (options.limit !== undefined) cursor = cursor.limit(options.limit);
      return cursor.all();
    });
  }

  #firstLocked(collection: string, documents: StoredDocument[]): Blocked | undefined {
    for (const document of documents) {
      const key = lockKey(collection, document._id as DocumentId);
      if (this.#locks.has(key)) return new Blocked(key);
    }
    return undefined;
  }

  /**
   * Runs a non-transactional write; while it finds a document locked by a transaction it waits for that lock to be
   * released (as a plain MongoDB write blocks behind a transaction's lock) and starts over, for at most `lockWaitMs`.
   */
  async #writeWhenUnlocked<T>(attempt: () => T | Blocked): Promise<T> {
    const deadlineMs = Date.now() + this.#options.lockWaitMs;
    for (;;) {
      const outcome = attempt();
      if (!(outcome instanceof Blocked)) return outcome;
      const remainingMs = deadlineMs - Date.now();
      if (remainingMs <= 0 || !(await this.#waitForRelease(outcome.lockKey, remainingMs))) {
        throw new CloudBaseError(
          CLOUDBASE_ERROR_CODES.DATABASE_REQUEST_FAILED,
          `LockTimeout: document ${outcome.lockKey} stayed locked by a transaction for ${this.#options.lockWaitMs} ms`,
        );
      }
    }
  }

  #waitForRelease(key: string, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const waiters = this.#lockWaiters.get(key) ?? new Set<() => void>();
      this.#lockWaiters.set(key, waiters);
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        waiters.delete(wake);
        if (waiters.size === 0 && this.#lockWaiters.get(key) === waiters) this.#lockWaiters.delete(key);
        resolve(false);
      }, timeoutMs);
      waiters.add(wake);
    });
  }

  #activeTransaction(id: unknown): Transaction {
    if (typeof id !== 'string') {
      throw new CloudBaseError(CLOUDBASE_ERROR_CODES.INVALID_PARAM, 'transactionId must be a string');
    }
    const transaction = this.#transactions.get(id);
    if (transaction !== undefined) {
      transaction.lastActiveMs = this.#options.now();
      return transaction;
    }
    const finished = this.#finished.get(id);
    if (finished?.outcome === 'conflicted') {
      // Code that caught the conflict and went on (to commit, say) keeps getting the retryable code, not "not exist".
      throw new CloudBaseError(
        CLOUDBASE_ERROR_CODES.DATABASE_TRANSACTION_CONFLICT,
        `WriteConflict: transaction ${id} was aborted by a write conflict`,
      );
    }
    const reason = finished?.outcome === 'expired' ? ` (aborted after ${this.#options.transactionTimeoutMs} ms idle)` : '';
    throw new CloudBaseError(
      CLOUDBASE_ERROR_CODES.DATABASE_TRANSACTION_FAIL,
      `[ResourceUnavailable.TransactionNotExist] transaction ${id} does not exist${reason}`,
    );
  }

  /** The real service runs only single-document operations in a transaction (no where(), no multi). */
  #transactionForSingleDocument(params: ActionParams, queryType: 'DOC' | 'WHERE'): Transaction {
    if (queryType !== 'DOC' || params.multi === true) {
      throw new CloudBaseError(
        CLOUDBASE_ERROR_CODES.DATABASE_TRANSACTION_FAIL,
        'only single-document operations (doc().get/set/update/remove, collection.add) can run in a transaction',
      );
    }
    return this.#activeTransaction(params.transactionId);
  }

  /** What the transaction sees: its own write, else the committed document provided nobody changed it since start. */
  #transactionalView(transaction: Transaction, collection: string, id: DocumentId): StoredDocument | undefined {
    const key = lockKey(collection, id);
    const own = transaction.writes.get(key);
    if (own !== undefined) return own.document ?? undefined;
    const ref = { collection, id };
    // Its snapshot version is gone and the commit would fail on this read anyway, so fail now.
    if (this.#changedSince(transaction, ref)) {
      this.#conflict(transaction, `document ${describe(ref)} was changed after the transaction started`);
    }
    transaction.reads.set(key, ref);
    return this.#store.find(collection, id);
  }

  /** Records a write (`null` deletes) and takes the document's lock; a lock held by another transaction is a conflict. */
  #transactionalWrite(
    transaction: Transaction,
    collection: string,
    id: DocumentId,
    document: StoredDocument | null,
  ): void {
    const key = lockKey(collection, id);
    const ref = { collection, id };
    const holder = this.#locks.get(key);
    if (holder !== undefined && holder !== transaction.id) {
      this.#conflict(transaction, `document ${describe(ref)} is locked by another transaction`);
    }
    if (!transaction.writes.has(key) && this.#changedSince(transaction, ref)) {
      this.#conflict(transaction, `document ${describe(ref)} was changed after the transaction started`);
    }
    this.#locks.set(key, transaction.id);
    transaction.writes.set(key, { collection, id, document });
  }

  #changedSince(transaction: Transaction, ref: DocumentRef): boolean {
    return this.#store.versionOf(ref.collection, ref.id) > transaction.startSequence;
  }

  /** Aborts the transaction server-side (MongoDB does the same on a write conflict) and answers the conflict code. */
  #conflict(transaction: Transaction, reason: string): never {
    this.#finish(transaction, 'conflicted');
    throw new CloudBaseError(CLOUDBASE_ERROR_CODES.DATABASE_TRANSACTION_CONFLICT, `WriteConflict: ${reason}`);
  }

  #finish(transaction: Transaction, outcome?: FinishedTransaction['outcome']): void {
    this.#transactions.delete(transaction.id);
    if (outcome !== undefined) this.#finished.set(transaction.id, { outcome, finishedAtMs: this.#options.now() });
    for (const key of transaction.writes.keys()) {
      if (this.#locks.get(key) !== transaction.id) continue;
      this.#locks.delete(key);
      const waiters = this.#lockWaiters.get(key);
      this.#lockWaiters.delete(key);
      for (const wake of waiters ?? []) wake();
    }
  }
}

function queryTypeOf(params: ActionParams): 'DOC' | 'WHERE' {
  return params.queryType === 'DOC' ? 'DOC' : 'WHERE';
}

function documentIdOf(criteria: AnyObject): DocumentId {
  return criteria._id as DocumentId;
}

function compileQuery(criteria: AnyObject): Query {
  // $where and $function would run client-supplied code; the real service has no such thing either.
  return mingoCall(() => new Query(criteria, { scriptEnabled: false }));
}

/** mingo reports bad operators and type errors by throwing; the service answers those as a failed request. */
function mingoCall<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof CloudBaseError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new CloudBaseError(CLOUDBASE_ERROR_CODES.DATABASE_REQUEST_FAILED, message, { cause: error });
  }
}

function toChange(data: unknown, merge: boolean): Change {
  if (!isPlainObject(data)) throw new CloudBaseError(CLOUDBASE_ERROR_CODES.INVALID_PARAM, 'data must be an object');
  if (!merge) {
    // The SDK refuses `_id` in set(); the document keeps the `_id` it is stored under either way.
    const replacement = { ...data };
    delete replacement._id;
    return { replacement };
  }
  const hasOperator = Object.keys(data).some((key) => key.startsWith('$'));
  return { modifier: hasOperator ? data : { $set: data } };
}

function applyChange(change: Change, current: StoredDocument): { document: StoredDocument; modified: boolean } {
  if ('replacement' in change) {
    const document = { _id: current._id, ...(cloneDeep(change.replacement) as StoredDocument) };
    return { document, modified: !isEqual(current, document) };
  }
  const document = cloneDeep(current) as StoredDocument;
  const modifiedFields = mingoCall(() => update(document, change.modifier, undefined, undefined, { cloneMode: 'deep' }));
  if (document._id !== current._id) {
    throw new CloudBaseError(
      CLOUDBASE_ERROR_CODES.DATABASE_REQUEST_FAILED,
      "Performing an update on the path '_id' would modify the immutable field '_id'",
    );
  }
  // Dotted paths (`$set: {"a.a.a…": 1}`) nest deeper than their text: the result is bounded like a sent document.
  if (isNestedDeeperThan(document, MAX_DOCUMENT_DEPTH)) {
    throw new CloudBaseError(
      CLOUDBASE_ERROR_CODES.DATABASE_REQUEST_FAILED,
      `the updated document would be nested deeper than ${MAX_DOCUMENT_DEPTH} levels`,
    );
  }
  return { document, modified: modifiedFields.length > 0 };
}

function newDocumentId(): string {
  return randomBytes(16).toString('hex');
}

function lockKey(collection: string, id: DocumentId): string {
  return JSON.stringify([collection, id]);
}

function describe(ref: DocumentRef): string {
  return `${ref.collection}/${String(ref.id)}`;
}

function duplicateKeyError(collection: string, id: DocumentId): CloudBaseError {
  return new CloudBaseError(
    CLOUDBASE_ERROR_CODES.DATABASE_DUPLICATE_WRITE,
    `E11000 duplicate key error collection: ${collection} index: _id_ dup key: { _id: ${JSON.stringify(id)} }`,
  );
}

function positiveInteger(value: unknown, field: string): number | undefined {
  const parsed = nonNegativeInteger(value, field);
  return parsed === 0 ? undefined : parsed;
}

function nonNegativeInteger(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new CloudBaseError(CLOUDBASE_ERROR_CODES.INVALID_PARAM, `${field} must be a non-negative integer`);
  }
  return value;
}
