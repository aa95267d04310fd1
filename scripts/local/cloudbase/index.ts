import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { cloneDeep } from 'mingo/util';
import { type ActionParams, LocalDatabase } from './database';
import { CLOUDBASE_ERROR_CODES, CloudBaseError } from './errors';
import { DocumentStore } from './store';

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
  /** Flushes persistence (compacts the journals); later requests fail. */
  close(): Promise<void>;
}

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

  const actions: Record<string, ActionHandler> = {
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
  };

  let byAction: Record<string, number> = {};
  let total = 0;

  async function answer(body: unknown, source: string): Promise<Record<string, unknown>> {
    const requestId = randomUUID();
    try {
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new CloudBaseError(CLOUDBASE_ERROR_CODES.INVALID_PARAM, 'request body must be a JSON object');
      }
      const params = body as ActionParams;
      const action = typeof params.action === 'string' ? params.action : '';
      total += 1;
      byAction[action] = (byAction[action] ?? 0) + 1;
      database.expireIdleTransactions();
      const handler = actions[action];
      if (handler === undefined) {
        throw new CloudBaseError(CLOUDBASE_ERROR_CODES.INVALID_PARAM, `unsupported action: ${action}`);
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
      const text = await readBody(req);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      const reply = await answer(body, headerValue(req.headers['x-tcb-source']));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
    },
    stats() {
      return { total, byAction: { ...byAction } };
    },
    resetStats() {
      total = 0;
      byAction = {};
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
  try {
    return JSON.parse(requestData) as unknown;
  } catch (error) {
    throw new CloudBaseError(CLOUDBASE_ERROR_CODES.INVALID_PARAM, 'request_data is not valid JSON', { cause: error });
  }
}

function headerValue(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(',') : (value ?? '');
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
