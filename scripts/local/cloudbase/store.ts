import fs from 'node:fs';
import path from 'node:path';
import { CLOUDBASE_ERROR_CODES, CloudBaseError } from './errors';
import { type DocumentId, type StoredDocument, isDocumentId, isPlainObject, parseEjson, stringifyEjson } from './values';

const JOURNAL_SUFFIX = '.jsonl';
// Collection names become file names, so a leading dot (and with it `..`) or a path separator is refused.
const COLLECTION_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

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
 */
export class DocumentStore {
  readonly #dataDir: string | undefined;
  readonly #collections = new Map<string, CollectionState>();
  #sequence = 0;
  #closed = false;

  private constructor(dataDir: string | undefined) {
    this.#dataDir = dataDir;
  }

  /** Opens a store, replaying and compacting the journals found in `dataDir` (created when missing). */
  static open(dataDir: string | undefined): DocumentStore {
    const store = new DocumentStore(dataDir);
    if (dataDir !== undefined) {
      fs.mkdirSync(dataDir, { recursive: true });
      for (const fileName of fs.readdirSync(dataDir).sort()) {
        if (!fileName.endsWith(JOURNAL_SUFFIX)) continue;
        const name = fileName.slice(0, -JOURNAL_SUFFIX.length);
        if (!COLLECTION_NAME.test(name)) continue;
        store.#collections.set(name, replayJournal(path.join(dataDir, fileName)));
        store.#compact(name);
      }
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

  /** Compacts every journal and closes the files; later writes fail. */
  close(): void {
    if (this.#closed) return;
    for (const name of this.#collections.keys()) this.#compact(name);
    for (const state of this.#collections.values()) {
      if (state.journalFd !== undefined) fs.closeSync(state.journalFd);
      state.journalFd = undefined;
    }
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
}

function replayJournal(file: string): CollectionState {
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
    if (isPlainObject(entry) && isPlainObject(entry.put) && isDocumentId(entry.put._id)) {
      state.documents.set(entry.put._id, entry.put);
    } else if (isPlainObject(entry) && isDocumentId(entry.del)) {
      state.documents.delete(entry.del);
    } else {
      throw new Error(`unreadable journal entry in ${file} at line ${index + 1}`);
    }
  });
  return state;
}
