import fs from 'node:fs';
import path from 'node:path';
import { CLOUDBASE_ERROR_CODES, CloudBaseError } from './errors';
import { type DocumentId, type StoredDocument, isDocumentId, isPlainObject, parseEjson, stringifyEjson } from './values';

const JOURNAL_SUFFIX = '.jsonl';
// Not a `.jsonl` file, so no collection name can collide with it.
const COMMIT_LOG = 'transactions.log';
const LOCK_FILE = 'LOCK';
// Collection names become file names, so a leading dot (and with it `..`) or a path separator is refused.
const COLLECTION_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

/** One write of a committing transaction; `document: null` deletes. */
export interface TransactionWrite {
  readonly collection: string;
  readonly id: DocumentId;
  readonly document: StoredDocument | null;
}

interface CollectionState {
  readonly documents: Map<DocumentId, StoredDocument>;
  /** Commit sequence of the last write to each `_id`, deletions included, so transactions can tell "changed since I started". */
  readonly versions: Map<DocumentId, number>;
  journalFd: number | undefined;
}

/**
 * The committed documents of every collection, kept in memory and, with a `dataDir`, in one append-only journal per
 * collection (`<name>.jsonl`, one EJSON line per put or delete) that is compacted on open and on close.
 * Documents handed out are never mutated: every write stores a new object.
 *
 * A transaction's commit is atomic on disk: its lines carry its id (`"txn"`) and count only once its commit marker
 * is in `transactions.log`, which is written after them. A process killed in between (some journals written, not
 * all; the marker torn) leaves lines without a marker, and opening the store rolls them back. One process at a time
 * owns a `dataDir` (the `LOCK` file holds its pid), so two stacks never append to the same journals.
 * Durability is against a killed process (the page cache survives it), not a power cut: nothing is fsync'ed.
 */
export class DocumentStore {
  readonly #dataDir: string | undefined;
  readonly #collections = new Map<string, CollectionState>();
  #commitLogFd: number | undefined;
  #lockFile: string | undefined;
  #sequence = 0;
  #closed = false;

  private constructor(dataDir: string | undefined) {
    this.#dataDir = dataDir;
  }

  /** Opens a store, replaying and compacting the journals found in `dataDir` (created when missing). */
  static open(dataDir: string | undefined): DocumentStore {
    const store = new DocumentStore(dataDir);
    if (dataDir === undefined) return store;
    fs.mkdirSync(dataDir, { recursive: true });
    store.#lockFile = acquireLock(dataDir);
    try {
      const committed = readCommitLog(path.join(dataDir, COMMIT_LOG));
      for (const fileName of fs.readdirSync(dataDir).sort()) {
        if (!fileName.endsWith(JOURNAL_SUFFIX)) continue;
        const name = fileName.slice(0, -JOURNAL_SUFFIX.length);
        if (!COLLECTION_NAME.test(name)) continue;
        store.#collections.set(name, replayJournal(path.join(dataDir, fileName), committed));
      }
      // The markers may go only once no journal holds a transaction's line any more (a crash in between replays again).
      for (const name of store.#collections.keys()) store.#compact(name);
      store.#resetCommitLog();
    } catch (error) {
      store.#releaseLock();
      throw error;
    }
    return store;
  }

  /** The sequence number of the latest write; every write increments it. */
  get sequence(): number {
    return this.#sequence;
  }

  /** Throws `INVALID_PARAM` for a name that cannot be a collection. */
  static assertCollectionName(name: unknown): asserts name is string {
    if (typeof name !== 'string' || !COLLECTION_NAME.test(name)) {
      throw new CloudBaseError(CLOUDBASE_ERROR_CODES.INVALID_PARAM, `invalid collection name: ${String(name)}`);
    }
  }

  hasCollection(name: string): boolean {
    return this.#collections.has(name);
  }

  /** Creates an empty collection; returns false when it already exists. */
  createCollection(name: string): boolean {
    DocumentStore.assertCollectionName(name);
    this.#assertOpen();
    if (this.#collections.has(name)) return false;
    this.#collections.set(name, { documents: new Map(), versions: new Map(), journalFd: undefined });
    this.#compact(name);
    return true;
  }

  collectionNames(): string[] {
    return [...this.#collections.keys()].sort();
  }

  /** Every document of a collection in insertion order (MongoDB's natural order, roughly). */
  documents(collection: string): StoredDocument[] {
    return [...this.#state(collection).documents.values()];
  }

  find(collection: string, id: DocumentId): StoredDocument | undefined {
    return this.#state(collection).documents.get(id);
  }

  /** Sequence of the last write to `id` (0 when never written since the store opened). */
  versionOf(collection: string, id: DocumentId): number {
    return this.#state(collection).versions.get(id) ?? 0;
  }

  /** Inserts or replaces a document; the journal line is written before this returns. */
  put(collection: string, document: StoredDocument): void {
    const id = document._id;
    if (!isDocumentId(id)) throw new Error('document without a valid _id');
    const state = this.#writableState(collection);
    this.#append(state, { put: document });
    state.documents.set(id, document);
    state.versions.set(id, ++this.#sequence);
  }

  remove(collection: string, id: DocumentId): void {
    const state = this.#writableState(collection);
    if (!state.documents.has(id)) return;
    this.#append(state, { del: id });
    state.documents.delete(id);
    state.versions.set(id, ++this.#sequence);
  }

  /**
   * Applies a transaction's writes at once: every line is built before any is written (a value that cannot be
   * serialised fails the whole commit), the journals are appended, then the commit marker, then memory changes.
   */
  commit(transactionId: string, writes: readonly TransactionWrite[]): void {
    const lines = new Map<CollectionState, string[]>();
    for (const write of writes) {
      const state = this.#writableState(write.collection);
      const entry = write.document === null ? { del: write.id, txn: transactionId } : { put: write.document, txn: transactionId };
      lines.set(state, [...(lines.get(state) ?? []), `${stringifyEjson(entry)}\n`]);
    }
    if (this.#dataDir !== undefined && writes.length > 0) {
      for (const [state, text] of lines) fs.writeSync(state.journalFd!, text.join(''));
      // The commit point: until this line is complete in the log, reopening rolls the lines above back.
      fs.writeSync(this.#commitLogFd!, `${JSON.stringify({ commit: transactionId })}\n`);
    }
    for (const write of writes) {
      const state = this.#state(write.collection);
      if (write.document === null) state.documents.delete(write.id);
      else state.documents.set(write.id, write.document);
      state.versions.set(write.id, ++this.#sequence);
    }
  }

  /** Compacts every journal, empties the commit log and closes the files; later writes fail. */
  close(): void {
    if (this.#closed) return;
    for (const name of this.#collections.keys()) this.#compact(name);
    for (const state of this.#collections.values()) {
      if (state.journalFd !== undefined) fs.closeSync(state.journalFd);
      state.journalFd = undefined;
    }
    if (this.#dataDir !== undefined) this.#resetCommitLog();
    if (this.#commitLogFd !== undefined) fs.closeSync(this.#commitLogFd);
    this.#commitLogFd = undefined;
    this.#releaseLock();
    this.#closed = true;
  }

  #state(collection: string): CollectionState {
    const state = this.#collections.get(collection);
    if (state === undefined) {
      throw new CloudBaseError(
        CLOUDBASE_ERROR_CODES.DATABASE_COLLECTION_NOT_EXIST,
        `Db or Table not exist: collection ${collection} does not exist`,
      );
    }
    return state;
  }

  #writableState(collection: string): CollectionState {
    this.#assertOpen();
    return this.#state(collection);
  }

  #assertOpen(): void {
    if (this.#closed) throw new CloudBaseError(CLOUDBASE_ERROR_CODES.SYS_ERR, 'local CloudBase store is closed');
  }

  #append(state: CollectionState, entry: { put: StoredDocument } | { del: DocumentId }): void {
    // Synchronous so a write is in the file (page cache) before the client hears "ok", and the request stays atomic.
    if (state.journalFd !== undefined) fs.writeSync(state.journalFd, `${stringifyEjson(entry)}\n`);
  }

  /** Rewrites a journal as one put per live document (temp file + rename, so a crash keeps the old journal). */
  #compact(name: string): void {
    if (this.#dataDir === undefined) return;
    const state = this.#state(name);
    if (state.journalFd !== undefined) fs.closeSync(state.journalFd);
    const file = path.join(this.#dataDir, `${name}${JOURNAL_SUFFIX}`);
    const lines = [...state.documents.values()].map((document) => `${stringifyEjson({ put: document })}\n`);
    fs.writeFileSync(`${file}.tmp`, lines.join(''));
    fs.renameSync(`${file}.tmp`, file);
    state.journalFd = fs.openSync(file, 'a');
  }

  /** Empties the commit log (temp file + rename) and opens it for appending. */
  #resetCommitLog(): void {
    const file = path.join(this.#dataDir!, COMMIT_LOG);
    if (this.#commitLogFd !== undefined) fs.closeSync(this.#commitLogFd);
    fs.writeFileSync(`${file}.tmp`, '');
    fs.renameSync(`${file}.tmp`, file);
    this.#commitLogFd = fs.openSync(file, 'a');
  }

  #releaseLock(): void {
    if (this.#lockFile !== undefined) fs.rmSync(this.#lockFile, { force: true });
    this.#lockFile = undefined;
  }
}

/** Takes `dataDir` for this process, or says which live process has it; a lock left by a dead process is taken over. */
function acquireLock(dataDir: string): string {
  const file = path.join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return file;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    if (Number.isInteger(holder) && holder > 0 && isProcessAlive(holder)) {
      throw new Error(
        `the local CloudBase data in ${dataDir} is in use by process ${holder}${holder === process.pid ? ' (this one)' : ''}: `
        + 'stop the other stack first (two stacks must not write one data folder)',
      );
    }
    fs.rmSync(file, { force: true });
  }
  throw new Error(`could not take the lock ${file}`);
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The ids of the transactions whose commit marker is complete; a torn last line is a commit that did not happen. */
function readCommitLog(file: string): Set<string> {
  const committed = new Set<string>();
  if (!fs.existsSync(file)) return committed;
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, index) => {
    if (line === '') return;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch (error) {
      if (index >= lines.length - 2) return;
      throw new Error(`corrupt commit log ${file} at line ${index + 1}`, { cause: error });
    }
    if (!isPlainObject(entry) || typeof entry.commit !== 'string') throw new Error(`unreadable commit log entry in ${file} at line ${index + 1}`);
    committed.add(entry.commit);
  });
  return committed;
}

function replayJournal(file: string, committed: ReadonlySet<string>): CollectionState {
  const state: CollectionState = { documents: new Map(), versions: new Map(), journalFd: undefined };
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, index) => {
    if (line === '') return;
    let entry: unknown;
    try {
      // No depth bound here: what the journal holds was bounded when it was accepted.
      entry = parseEjson(line, 'journal line', 0, Number.POSITIVE_INFINITY);
    } catch (error) {
      // Only the last line can be torn (a crash mid-append); anything earlier means the file was damaged.
      if (index >= lines.length - 2) return;
      throw new Error(`corrupt journal ${file} at line ${index + 1}`, { cause: error });
    }
    if (!isPlainObject(entry)) throw new Error(`unreadable journal entry in ${file} at line ${index + 1}`);
    if (entry.txn !== undefined) {
      if (typeof entry.txn !== 'string') throw new Error(`unreadable journal entry in ${file} at line ${index + 1}`);
      // A transaction without its commit marker never committed: roll its writes back.
      if (!committed.has(entry.txn)) return;
    }
    if (isPlainObject(entry.put) && isDocumentId(entry.put._id)) {
      state.documents.set(entry.put._id, entry.put);
    } else if (isDocumentId(entry.del)) {
      state.documents.delete(entry.del);
    } else {
      throw new Error(`unreadable journal entry in ${file} at line ${index + 1}`);
    }
  });
  return state;
}
