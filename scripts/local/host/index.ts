/**
 * The local function host: runs the built bundles (`dist/<name>/index.js`, what gets deployed)
 * the way CloudBase does — each instance a plain node process that loads its bundle once, one
 * invocation at a time per instance, several instances per function, the WX context set per
 * invocation, timer triggers on the platform's 7-field UTC+8 cron (reference/cloudbase.md §1.2, §4).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import type { Cron } from 'croner';
import { buildInvocation, InvocationInputError, parseCaller, type Caller, type Invocation } from './context';
import { nestingDepthExceeds, readBody } from './body';
import { nextFirings, scheduleTrigger, validateTrigger } from './cron';
import { answerOf, buildHttpEvent, matchRoute, validateRoute, type BodyEncoding } from './http-access';
import { FunctionWorker } from './worker';

export type { Caller } from './context';

/** A function as deployed: what cloudbaserc.json says about it. */
export interface HostedFunction {
  name: string;
  /** Resolved environment variables of the function (already templated). */
  envVariables: Record<string, string>;
  timeoutSeconds: number;
  /** Timer triggers, 7-field cron. */
  triggers: Array<{ name: string; config: string }>;
  /** true when the function has the environment's fixed outbound IP (publicNetConfig/EIP). */
  fixedEgressIp: boolean;
  /** Its HTTP-access path (cloudbaserc `path`, e.g. `/wx/push`): the host answers it and its sub-paths. */
  httpPath?: string;
}

/** How the host is set up. */
export interface FunctionHostOptions {
  /** Bundles at `<distDir>/<name>/index.js`. */
  distDir: string;
  functions: HostedFunction[];
  /** Max concurrent instances per function (default 4). */
  instancesPerFunction?: number;
  envId: string;
  /** Default 'ap-shanghai'. */
  region?: string;
  /** Becomes `TCB_CONTEXT_CNFG={"URL": cloudbaseUrl}`, where the SDK sends every database and function call. */
  cloudbaseUrl: string;
  /** Source address of the outbound sockets of `fixedEgressIp` functions, e.g. '127.0.0.2'. */
  fixedEgressAddress: string;
  /** Fire the cron triggers (npm start), or not (tests fire them by invoking with a timer caller). */
  timers: boolean;
  /** Where function console output goes besides the per-invocation record (default: prefix-and-print). */
  onLog?: (line: { fn: string; instance: number; stream: 'stdout' | 'stderr'; text: string }) => void;
  /** How HTTP-access bodies reach functions (default 'binary-as-base64'; see http-access.ts). */
  httpBodyEncoding?: BodyEncoding;
}

/** How one invocation ended, as the caller of the function sees it. */
export type InvocationResult =
  | { ok: true; result: unknown; instance: number; cold: boolean; durationMs: number; logs: string[] }
  | { ok: false; errorType: 'threw' | 'timeout' | 'crashed' | 'not_found' | 'abandoned'; message: string; instance?: number; logs: string[] };

/** A running function host. */
export interface FunctionHost {
  /** Runs `name` once for `caller`; rejects only when `data` cannot form an event for that caller. */
  invoke(name: string, data: unknown, caller: Caller): Promise<InvocationResult>;
  /**
   * POST /functions/<name> with JSON {"data": {...}, "caller": {...}} → 200 + the function's return value as JSON;
   * bad JSON/unknown caller type → 400 JSON error; unknown function → 404; function threw/timed out/crashed → 502 JSON
   * {"error":{"type":…,"message":…}}. Also GET /functions → the list of functions and their instances.
   * A path under a function's `httpPath` is HTTP access instead (see http-access.ts): any method, a body up
   * to 5 MB (413 beyond, the body drained), the function's answer translated; 502 when it threw, crashed or
   * answered something unsendable, 504 when it timed out.
   */
  handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
  /** true when `pathname` is a declared HTTP-access path or below one (the stack routes those here). */
  servesHttpPath(pathname: string): boolean;
  /** Every invocation's captured console output (for tests proving secrets never reach a log line). */
  logs(name?: string): Array<{ fn: string; text: string }>;
  /** Kills the worker(s) currently busy with an invocation of `name`; returns how many. */
  killBusy(name: string): number;
  stats(): Record<string, { instances: number; busy: number; invocations: number; coldStarts: number }>;
  /** Stops the timers and kills every worker; resolves when all processes are gone. */
  close(): Promise<void>;
}

interface QueuedCall {
  id: number;
  invocation: Invocation;
  resolve: (result: InvocationResult) => void;
  /** An HTTP-access call whose client has gone: nobody would read its answer. */
  abandoned?: () => boolean;
}

interface FunctionState {
  spec: HostedFunction;
  bundlePath: string;
  workers: FunctionWorker[];
  queue: QueuedCall[];
  invocations: number;
  coldStarts: number;
  /** HTTP-access calls dropped from the queue because their client had gone before an instance was free. */
  abandoned: number;
  nextInstanceNumber: number;
}

const defaultInstancesPerFunction = 4;
const defaultRegion = 'ap-shanghai';
/** logs() keeps the most recent lines only, so a long `npm start` session does not grow without bound. */
const maxRetainedLogLines = 10_000;
/** SCF's limit for a synchronous invocation's request payload. */
const maxRequestBodyBytes = 6 * 1024 * 1024;
/**
 * How deeply an event may nest. Not a documented platform limit: the host's own guard, because
 * the event crosses to the worker by JSON serialisation, which is recursive — 10,000 levels
 * overflowed the stack and took the host down. No function of this product takes more than a few.
 */
const maxEventDepth = 64;
/** Host variables a worker may inherit; NODE_OPTIONS is left out because it could carry the host's loaders (tsx). */
const inheritedVariable = (key: string) => key === 'PATH' || key === 'HOME' || (key.startsWith('NODE_') && key !== 'NODE_OPTIONS');
const bootstrapPath = path.join(__dirname, 'bootstrap.cjs');
/** The body limit of an HTTP-access request (the brief's and, as far as documented, CloudBase's order of magnitude). */
const maxHttpBodyBytes = 5 * 1024 * 1024;

/** Starts a host for the given functions; throws when a function or trigger could not be deployed as declared. */
export function createFunctionHost(options: FunctionHostOptions): FunctionHost {
  const instancesPerFunction = options.instancesPerFunction ?? defaultInstancesPerFunction;
  if (!Number.isInteger(instancesPerFunction) || instancesPerFunction < 1) {
    throw new Error(`instancesPerFunction must be a positive integer, got ${String(options.instancesPerFunction)}`);
  }
  const functions = new Map<string, FunctionState>();
  for (const spec of options.functions) {
    if (functions.has(spec.name)) throw new Error(`function ${spec.name} is declared twice`);
    if (!(spec.timeoutSeconds > 0)) throw new Error(`function ${spec.name}: timeoutSeconds must be positive`);
    for (const trigger of spec.triggers) validateTrigger(spec.name, trigger);
    if (spec.httpPath !== undefined) {
      validateRoute(spec.name, spec.httpPath);
      const taken = [...functions.values()].find((other) => other.spec.httpPath === spec.httpPath);
      if (taken !== undefined) throw new Error(`functions ${taken.spec.name} and ${spec.name} declare the same HTTP path ${spec.httpPath}`);
    }
    functions.set(spec.name, {
      spec,
      bundlePath: path.resolve(options.distDir, spec.name, 'index.js'),
      workers: [],
      queue: [],
      invocations: 0,
      coldStarts: 0,
      abandoned: 0,
      nextInstanceNumber: 1,
    });
  }

  const onLog = options.onLog ?? printLine;
  const retainedLogs: Array<{ fn: string; text: string }> = [];
  const crons: Cron[] = [];
  let nextInvocationId = 1;
  let nextDynamicHost = 0;
  let closed = false;

  function platformEnv(spec: HostedFunction): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (value !== undefined && inheritedVariable(key)) env[key] = value;
    }
    // The platform's own variables win over a function's envVariables, as on SCF.
    return {
      ...env,
      ...spec.envVariables,
      TENCENTCLOUD_RUNENV: 'SCF',
      SCF_NAMESPACE: options.envId,
      SCF_FUNCTION_NAME: spec.name,
      TCB_ENV: options.envId,
      TENCENTCLOUD_REGION: options.region ?? defaultRegion,
      TENCENTCLOUD_SECRETID: 'local-secret-id',
      TENCENTCLOUD_SECRETKEY: 'local-secret-key',
      TENCENTCLOUD_SESSIONTOKEN: 'local-session-token',
      TCB_CONTEXT_CNFG: JSON.stringify({ URL: options.cloudbaseUrl }),
    };
  }

  /** Each dynamic instance gets its own loopback address, never the fixed one, as SCF instances share no egress IP. */
  function dynamicEgressAddress(): string {
    for (;;) {
      nextDynamicHost = (nextDynamicHost % 254) + 1;
      const address = `127.0.1.${nextDynamicHost}`;
      if (address !== options.fixedEgressAddress) return address;
    }
  }

  function spawn(fn: FunctionState): FunctionWorker {
    const number = fn.nextInstanceNumber++;
    const worker: FunctionWorker = new FunctionWorker({
      functionName: fn.spec.name,
      number,
      bootstrapPath,
      bundlePath: fn.bundlePath,
      egressAddress: fn.spec.fixedEgressIp ? options.fixedEgressAddress : dynamicEgressAddress(),
      env: platformEnv(fn.spec),
      timeoutSeconds: fn.spec.timeoutSeconds,
      onLine: (stream, text) => {
        retainedLogs.push({ fn: fn.spec.name, text });
        if (retainedLogs.length > maxRetainedLogLines) retainedLogs.shift();
        onLog({ fn: fn.spec.name, instance: number, stream, text });
      },
      onGone: () => {
        fn.workers = fn.workers.filter((candidate) => candidate !== worker);
      },
    });
    fn.workers.push(worker);
    return worker;
  }

  /** Hands queued calls to idle instances, spawning new ones up to the limit; the rest keep waiting. */
  function pump(fn: FunctionState): void {
    while (!closed && fn.queue.length > 0) {
      let worker = fn.workers.find((candidate) => candidate.available);
      if (worker === undefined) {
        if (fn.workers.length >= instancesPerFunction) return;
        worker = spawn(fn);
      }
      const call = fn.queue.shift() as QueuedCall;
      // The platform starts instances for waiting requests long before a client gives up; only this
      // host's fixed pool makes calls wait that long. Running one nobody waits for would only delay
      // the live ones behind it (WeChat's retries of the same push among them).
      if (call.abandoned?.() === true) {
        fn.abandoned += 1;
        call.resolve({ ok: false, errorType: 'abandoned', message: 'the HTTP client left before an instance was free', logs: [] });
        continue;
      }
      dispatch(fn, worker, call);
    }
  }

  function dispatch(fn: FunctionState, worker: FunctionWorker, call: QueuedCall): void {
    fn.invocations += 1;
    if (worker.invocations === 0) fn.coldStarts += 1;
    void worker.run(call.id, call.invocation).then((outcome) => {
      call.resolve({ ...outcome, instance: worker.number });
      pump(fn);
    });
  }

  async function invoke(name: string, data: unknown, caller: Caller, abandoned?: () => boolean): Promise<InvocationResult> {
    if (closed) return { ok: false, errorType: 'crashed', message: 'the function host is closed', logs: [] };
    const fn = functions.get(name);
    if (fn === undefined) return { ok: false, errorType: 'not_found', message: `function ${name} is not deployed`, logs: [] };
    if (!existsSync(fn.bundlePath)) {
      return { ok: false, errorType: 'not_found', message: `bundle ${fn.bundlePath} is missing (npm run build)`, logs: [] };
    }
    const invocation = buildInvocation({
      functionName: name,
      envId: options.envId,
      timeoutSeconds: fn.spec.timeoutSeconds,
      data,
      caller,
      requestId: randomUUID(),
      seqId: randomBytes(12).toString('hex'),
      now: new Date(),
    });
    return new Promise((resolve) => {
      fn.queue.push({ id: nextInvocationId++, invocation, resolve, ...(abandoned === undefined ? {} : { abandoned }) });
      pump(fn);
    });
  }

  async function fireTimer(fn: FunctionState, trigger: string): Promise<void> {
    const result = await invoke(fn.spec.name, undefined, { type: 'timer', trigger });
    if (!result.ok && !closed) {
      onLog({
        fn: fn.spec.name,
        instance: result.instance ?? 0,
        stream: 'stderr',
        text: `timer trigger ${trigger} failed (${result.errorType}): ${result.message}`,
      });
    }
  }

  if (options.timers) {
    for (const fn of functions.values()) {
      for (const trigger of fn.spec.triggers) crons.push(scheduleTrigger(trigger, () => void fireTimer(fn, trigger.name)));
    }
  }

  function listing() {
    const now = new Date();
    return {
      functions: [...functions.values()].map((fn) => ({
        name: fn.spec.name,
        fixedEgressIp: fn.spec.fixedEgressIp,
        ...(fn.spec.httpPath === undefined ? {} : { httpPath: fn.spec.httpPath }),
        timeoutSeconds: fn.spec.timeoutSeconds,
        triggers: fn.spec.triggers.map((trigger) => ({
          ...trigger,
          nextFiringAt: nextFirings(trigger.config, 1, now)[0]?.toISOString() ?? null,
        })),
        queued: fn.queue.length,
        invocations: fn.invocations,
        coldStarts: fn.coldStarts,
        abandoned: fn.abandoned,
        instances: fn.workers.map((worker) => ({
          instance: worker.number,
          pid: worker.pid ?? null,
          busy: worker.busy,
          invocations: worker.invocations,
          egressAddress: worker.egressAddress,
        })),
      })),
    };
  }

  const httpRoutes = new Map<string, FunctionState>();
  for (const fn of functions.values()) if (fn.spec.httpPath !== undefined) httpRoutes.set(fn.spec.httpPath, fn);

  async function handleHttpAccess(fn: FunctionState, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req, maxHttpBodyBytes);
    if (!body.ok) {
      return sendJson(res, 413, errorBody('payload_too_large', `request body exceeds ${maxHttpBodyBytes} bytes`), body.drained ? {} : { connection: 'close' });
    }
    const event = buildHttpEvent(req, body.bytes, { envId: options.envId, bodyEncoding: options.httpBodyEncoding ?? 'binary-as-base64' });
    // Read when an instance frees up: the client may have closed before the host even parsed its request.
    const result = await invoke(fn.spec.name, event, { type: 'http' }, () => req.socket.destroyed && !res.writableFinished);
    if (!result.ok) {
      const status = result.errorType === 'timeout' ? 504 : result.errorType === 'not_found' ? 404 : 502;
      return sendJson(res, status, errorBody(result.errorType, result.message));
    }
    const answer = answerOf(result.result);
    if ('problem' in answer) return sendJson(res, 502, errorBody('bad_integration_response', answer.problem));
    // A flat [name, value, name, value…] list: the only form that sends one header line per Set-Cookie value.
    const raw: string[] = [];
    for (const [name, value] of answer.headers) for (const item of Array.isArray(value) ? value : [value]) raw.push(name, item);
    raw.push('content-length', String(answer.body.length));
    try {
      res.writeHead(answer.status, raw);
    } catch (error) {
      // A header Node refuses to send (a line break, an invalid name): the gateway would refuse it too.
      return sendJson(res, 502, errorBody('bad_integration_response', (error as Error).message));
    }
    res.end(answer.body);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const { pathname } = new URL(req.url ?? '/', 'http://host.local');
      const route = matchRoute(httpRoutes.keys(), pathname);
      if (route !== undefined) return await handleHttpAccess(httpRoutes.get(route) as FunctionState, req, res);
      if (pathname === '/functions' || pathname === '/functions/') {
        if (req.method !== 'GET') return sendJson(res, 405, errorBody('method_not_allowed', 'use GET'), { allow: 'GET' });
        return sendJson(res, 200, listing());
      }
      const match = /^\/functions\/([^/]+)$/.exec(pathname);
      if (match === null) return sendJson(res, 404, errorBody('not_found', `no route for ${pathname}`));
      if (req.method !== 'POST') return sendJson(res, 405, errorBody('method_not_allowed', 'use POST'), { allow: 'POST' });
      const name = decodeURIComponent(match[1] as string);
      if (!functions.has(name)) return sendJson(res, 404, errorBody('not_found', `function ${name} is not deployed`));
      const body = await readJson(req);
      if ('problem' in body) {
        return sendJson(res, body.status, errorBody(body.status === 413 ? 'payload_too_large' : 'bad_request', body.problem), body.close ? { connection: 'close' } : {});
      }
      const parsed = parseCaller(body.value.caller);
      if ('problem' in parsed) return sendJson(res, 400, errorBody('bad_request', parsed.problem));
      const result = await invoke(name, body.value.data, parsed.caller);
      if (result.ok) return sendJson(res, 200, result.result);
      return sendJson(res, result.errorType === 'not_found' ? 404 : 502, errorBody(result.errorType, result.message));
    } catch (error) {
      if (error instanceof InvocationInputError) return sendJson(res, 400, errorBody('bad_request', error.message));
      return sendJson(res, 500, errorBody('internal', (error as Error).message));
    }
  }

  return {
    invoke,
    handle,
    servesHttpPath: (pathname) => matchRoute(httpRoutes.keys(), pathname) !== undefined,
    logs: (name) => retainedLogs.filter((line) => name === undefined || line.fn === name).map((line) => ({ ...line })),
    killBusy(name) {
      const busy = functions.get(name)?.workers.filter((worker) => worker.busy) ?? [];
      for (const worker of busy) worker.kill(`instance ${worker.number} of ${name} was killed during the invocation`);
      return busy.length;
    },
    stats() {
      const stats: ReturnType<FunctionHost['stats']> = {};
      for (const fn of functions.values()) {
        stats[fn.spec.name] = {
          instances: fn.workers.length,
          busy: fn.workers.filter((worker) => worker.busy).length,
          invocations: fn.invocations,
          coldStarts: fn.coldStarts,
        };
      }
      return stats;
    },
    async close() {
      closed = true;
      for (const cron of crons) cron.stop();
      const gone: Array<Promise<void>> = [];
      for (const fn of functions.values()) {
        for (const call of fn.queue.splice(0)) {
          call.resolve({ ok: false, errorType: 'crashed', message: 'the function host closed', logs: [] });
        }
        for (const worker of fn.workers) {
          worker.kill('the function host closed during the invocation');
          gone.push(worker.gone);
        }
      }
      await Promise.all(gone);
    },
  };
}

function printLine(line: { fn: string; instance: number; stream: 'stdout' | 'stderr'; text: string }): void {
  const out = line.stream === 'stdout' ? process.stdout : process.stderr;
  out.write(`[${line.fn}#${line.instance}] ${line.text}\n`);
}

function errorBody(type: string, message: string) {
  return { error: { type, message } };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json), ...headers });
  res.end(json);
}

async function readJson(
  req: http.IncomingMessage,
): Promise<{ value: { data?: unknown; caller?: unknown } } | { status: number; problem: string; close?: boolean }> {
  const body = await readBody(req, maxRequestBodyBytes);
  if (!body.ok) return { status: 413, problem: `request body exceeds ${maxRequestBodyBytes} bytes`, close: !body.drained };
  let value: unknown;
  try {
    value = JSON.parse(body.bytes.toString('utf8'));
  } catch (error) {
    return { status: 400, problem: `body is not JSON: ${(error as Error).message.slice(0, 200)}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { status: 400, problem: 'body must be a JSON object {"data": …, "caller": {…}}' };
  }
  // The body itself is one level; `data` may nest maxEventDepth levels below it.
  if (nestingDepthExceeds(value, maxEventDepth + 1)) {
    return { status: 400, problem: `data is nested deeper than ${maxEventDepth} levels` };
  }
  return { value };
}
