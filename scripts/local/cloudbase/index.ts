import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { cloneDeep } from 'mingo/util';
import { type ActionParams, LocalDatabase } from './database';
import { CLOUDBASE_ERROR_CODES, CloudBaseError } from './errors';
import { DocumentStore } from './store';
import { MAX_DOCUMENT_DEPTH, assertNestingDepth } from './values';

export { CLOUDBASE_ERROR_CODES, CloudBaseError } from './errors';
export type { CloudBaseErrorCode } from './errors';

/** Options of {@link createLocalCloudBase}. */
export interface LocalCloudBaseOptions {
  /** Folder for persistence; undefined = memory only. Restarting on the same folder keeps every document. */
  dataDir?: string;
  /** Called for `functions.invokeFunction`; `source` is the caller's `X-TCB-Source` header value (e.g. "wx_client,scf"). */
  invokeFunction?: (call: { name: string; data: unknown; source: string }) => Promise<
    { ok: true; result: unknown } | { ok: false; message: string }>;
  /** How long a non-transactional write waits for a document locked by a transaction (default 5000). */
  lockWaitMs?: number;
  /** Idle transaction timeout after which it is aborted and its locks released (default 10000). */
  transactionTimeoutMs?: number;
  now?: () => number;
}

/** A local stand-in for the CloudBase `/admin` endpoint (database and function invocation). */
export interface LocalCloudBase {
  /** Handles POST /admin?env=…&seqId=… (path may be exactly "/admin"); answers 404 for anything else it is given. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
  /** Requests counted by action (e.g. {"database.getDocument": 3}); total too. */
  stats(): { total: number; byAction: Record<string, number> };
  resetStats(): void;
  /** Creates a collection; a no-op when it exists (so stack start can run it on every boot). */
  createCollection(name: string): Promise<void>;
  listCollections(): string[];
  /** Copies of a collection's committed documents, in insertion order. */
  dump(collection: string): Record<string, unknown>[];
  /**
   * A slow store, for tests of deadlines (a push must be answered within 5 s whatever the
   * database does): every request (of `collection` only, when given) waits `delayMs` before it is
   * served, `times` requests long (default: until cleared). null clears it.
   */
  setLatency(latency: { delayMs: number; collection?: string; times?: number } | null): void;
  /** Flushes persistence (compacts the journals); later requests fail. */
  close(): Promise<void>;
}

/**
 * Largest /admin body accepted. The real service's HTTP limit is not documented (unverified); 16 MiB is MongoDB's
 * document limit, so one maximal document still fits, and a runaway client cannot make the stack buffer gigabytes.
 */
export const ADMIN_BODY_LIMIT_BYTES = 16 * 1024 * 1024;
// A too-large body is read to its end (so the keep-alive connection stays usable) up to this much; beyond, the socket goes.
const ADMIN_DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;
// Echoing a caller's action name: enough to recognise it, never a megabyte back.
const ECHO_PREFIX_CHARS = 64;
const UNSUPPORTED_ACTION = '(unsupported)';
const DEFAULT_LOCK_WAIT_MS = 5000;
const DEFAULT_TRANSACTION_TIMEOUT_MS = 10000;
// Idle transactions are also swept on every request; the timer only matters when no request comes in.
const MAX_SWEEP_INTERVAL_MS = 1000;

type ActionHandler = (params: ActionParams, source: string) => Promise<Record<string, unknown>>;

/** Opens the store (replaying `dataDir` when given) and returns the request handler and admin helpers. */
export async function createLocalCloudBase(options: LocalCloudBaseOptions = {}): Promise<LocalCloudBase> {
  const now = options.now ?? Date.now;
  const transactionTimeoutMs = options.transactionTimeoutMs ?? DEFAULT_TRANSACTION_TIMEOUT_MS;
  const store = DocumentStore.open(options.dataDir);
  const database = new LocalDatabase(store, {
    lockWaitMs: options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS,
    transactionTimeoutMs,
    now,
  });
  const sweepTimer = setInterval(
    () => database.expireIdleTransactions(),
    Math.max(10, Math.min(MAX_SWEEP_INTERVAL_MS, transactionTimeoutMs / 2)),
  );
  sweepTimer.unref();

  // A Map, not an object literal: `actions['constructor']` or `actions['toString']` must be "unsupported", not Object's own.
  const actions = new Map<string, ActionHandler>(Object.entries({
    'database.getDocument': async (params) => ({ data: database.getDocument(params) }),
    'database.calculateDocument': async (params) => ({ data: database.calculateDocument(params) }),
    'database.insertDocument': async (params) => ({ data: await database.insertDocument(params) }),
    'database.modifyDocument': async (params) => ({ data: await database.modifyDocument(params) }),
    'database.removeDocument': async (params) => ({ data: await database.removeDocument(params) }),
    'database.addCollection': async (params) => {
      database.addCollection(params);
      return {};
    },
    'database.startTransaction': async () => ({ transactionId: database.startTransaction() }),
    'database.commitTransaction': async (params) => {
      database.commitTransaction(params);
      return {};
    },
    'database.abortTransaction': async (params) => {
      database.abortTransaction(params);
      return {};
    },
    'functions.invokeFunction': (params, source) => invokeFunction(options.invokeFunction, params, source),
  } satisfies Record<string, ActionHandler>));

  // Counted per known action; every unknown name shares one counter, so callers cannot grow it without bound.
  let byAction = new Map<string, number>();
  let total = 0;

  let latency: { delayMs: number; collection?: string; times?: number } | null = null;

  async function answer(body: unknown, source: string): Promise<Record<string, unknown>> {
    const requestId = randomUUID();
    if (latency !== null && (latency.collection === undefined || (body as { collectionName?: unknown } | null)?.collectionName === latency.collection)) {
      const { delayMs } = latency;
      if (latency.times !== undefined && (latency.times -= 1) <= 0) latency = null;
      await new Promise<void>((resolve) => setTimeout(resolve, delayMs).unref());
    }
    try {
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new CloudBaseError(CLOUDBASE_ERROR_CODES.INVALID_PARAM, 'request body must be a JSON object');
      }
      const params = body as ActionParams;
      const action = typeof params.action === 'string' ? params.action : '';
      const handler = actions.get(action);
      total += 1;
      const counted = handler === undefined ? UNSUPPORTED_ACTION : action;
      byAction.set(counted, (byAction.get(counted) ?? 0) + 1);
      database.expireIdleTransactions();
      if (handler === undefined) {
        throw new CloudBaseError(CLOUDBASE_ERROR_CODES.INVALID_PARAM, `unsupported action: ${JSON.stringify(action.slice(0, ECHO_PREFIX_CHARS))}`);
      }
      return { requestId, ...(await handler(params, source)) };
    } catch (error) {
      if (error instanceof CloudBaseError) return { code: error.code, message: error.message, requestId };
      const message = error instanceof Error ? error.message : String(error);
      return { code: CLOUDBASE_ERROR_CODES.SYS_ERR, message, requestId };
    }
  }

  return {
    async handle(req, res) {
      const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (req.method !== 'POST' || pathname !== '/admin') {
        req.resume();
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'NOT_FOUND' }));
        return;
      }
      const text = await readBody(req, ADMIN_BODY_LIMIT_BYTES, ADMIN_DRAIN_LIMIT_BYTES);
      if (text === undefined) {
        const message = `request body larger than ${ADMIN_BODY_LIMIT_BYTES} bytes`;
        res.writeHead(413, { 'content-type': 'application/json' })
          .end(JSON.stringify({ code: CLOUDBASE_ERROR_CODES.INVALID_PARAM, message, requestId: randomUUID() }));
        return;
      }
      let body: unknown;
      try {
        // JSON.parse itself does not recurse, so any depth is safe here; every EJSON field is bounded when parsed.
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      const reply = await answer(body, headerValue(req.headers['x-tcb-source']));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
    },
    stats() {
      return { total, byAction: Object.fromEntries(byAction) };
    },
    resetStats() {
      total = 0;
      byAction = new Map();
    },
    setLatency(value) {
      latency = value === null ? null : { ...value };
    },
    async createCollection(name) {
      store.createCollection(name);
    },
    listCollections() {
      return store.collectionNames();
    },
    dump(collection) {
      return store.documents(collection).map((document) => cloneDeep(document) as Record<string, unknown>);
    },
    async close() {
      clearInterval(sweepTimer);
      store.close();
      database.close();
    },
  };
}

/** Convenience for tests: an http server on 127.0.0.1:port (0 = random) serving handle(); url is "http://127.0.0.1:P/admin". */
export async function startLocalCloudBase(
  options: LocalCloudBaseOptions & { port?: number } = {},
): Promise<LocalCloudBase & { url: string; port: number }> {
  const { port: requestedPort = 0, ...cloudBaseOptions } = options;
  const cloudBase = await createLocalCloudBase(cloudBaseOptions);
  const server = http.createServer((req, res) => {
    cloudBase.handle(req, res).catch((error: unknown) => {
      res.destroy(error instanceof Error ? error : new Error(String(error)));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(requestedPort, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    ...cloudBase,
    url: `http://127.0.0.1:${port}/admin`,
    port,
    async close() {
      // node-sdk keeps connections alive outside SCF; without this, close() would wait for them to time out.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await cloudBase.close();
    },
  };
}

async function invokeFunction(
  invoke: LocalCloudBaseOptions['invokeFunction'],
  params: ActionParams,
  source: string,
): Promise<Record<string, unknown>> {
  const name = params.function_name;
  if (typeof name !== 'string' || name === '') {
    throw new CloudBaseError(CLOUDBASE_ERROR_CODES.INVALID_PARAM, 'function_name must be a non-empty string');
  }
  const data = parseRequestData(params.request_data);
  if (invoke === undefined) {
    throw new CloudBaseError(CLOUDBASE_ERROR_CODES.FUNCTIONS_EXECUTE_FAIL, `no function host is attached (calling ${name})`);
  }
  let outcome: Awaited<ReturnType<NonNullable<LocalCloudBaseOptions['invokeFunction']>>>;
  try {
    outcome = await invoke({ name, data, source });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new CloudBaseError(CLOUDBASE_ERROR_CODES.FUNCTIONS_EXECUTE_FAIL, message, { cause: error });
  }
  if (!outcome.ok) throw new CloudBaseError(CLOUDBASE_ERROR_CODES.FUNCTIONS_EXECUTE_FAIL, outcome.message);
  // A function returning undefined reaches the caller as null, which is what JSON can carry.
  return { data: { response_data: JSON.stringify(outcome.result ?? null) } };
}

/** node-sdk sends `''` when `callFunction` gets no data; the callee then sees an empty event. */
function parseRequestData(requestData: unknown): unknown {
  if (requestData === undefined || requestData === '') return {};
  if (typeof requestData !== 'string') {
    throw new CloudBaseError(CLOUDBASE_ERROR_CODES.INVALID_PARAM, 'request_data must be a JSON string');
  }
  // The function host hands the event on with recursive JSON; an event is bounded like a document.
  assertNestingDepth(requestData, 'request_data', MAX_DOCUMENT_DEPTH);
  try {
    return JSON.parse(requestData) as unknown;
  } catch (error) {
    throw new CloudBaseError(CLOUDBASE_ERROR_CODES.INVALID_PARAM, 'request_data is not valid JSON', { cause: error });
  }
}

function headerValue(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(',') : (value ?? '');
}

/**
 * The body as text, or `undefined` when it is larger than `limitBytes`: the rest is then read and dropped (so the
 * client can read the 413 and reuse the connection), up to `drainLimitBytes`, beyond which the socket is destroyed.
 */
function readBody(req: http.IncomingMessage, limitBytes: number, drainLimitBytes: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let sizeBytes = 0;
    req.on('data', (chunk: Buffer) => {
      sizeBytes += chunk.length;
      if (sizeBytes <= limitBytes) chunks.push(chunk);
      else if (chunks.length > 0) chunks.length = 0;
      if (sizeBytes > drainLimitBytes) req.destroy(new Error(`request body larger than ${drainLimitBytes} bytes`));
    });
    req.on('end', () => resolve(sizeBytes > limitBytes ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
