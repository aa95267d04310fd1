/**
 * What the platform hands a function for one invocation: the event, the SCF `context` argument
 * and the variables it copies into `process.env` for that invocation only (reference/cloudbase.md
 * §4.1, §4.2, §4.5). Pure: ids and clock are inputs.
 */

/** Who triggered an invocation; decides the WX context the function sees. */
export type Caller =
  | { type: 'miniprogram'; openid: string; appid: string; unionid?: string; clientIp?: string }
  | { type: 'timer'; trigger: string }
  /** Called by another function through CloudBase; `source` is the X-TCB-Source chain, e.g. `wx_client,scf`. */
  | { type: 'function'; source: string }
  /** `tcb fn invoke`, SCF Invoke: no WX context at all. */
  | { type: 'admin' }
  /**
   * An HTTP-access (集成请求) invocation through CloudBase's gateway; `data` is the HTTP event the
   * host's routes build. What CloudBase sets for it is not documented, so the host gives the
   * least it could be: no WX context keys, no OPENID, no SOURCE (the context proves nothing).
   */
  | { type: 'http' }
  /**
   * Exactly these platform values, for the contexts the platform can produce that no product
   * caller should have: `wx_http` (WeChat's invokecloudfunction API), `wx_crawler`,
   * `wx_paycallback`, a user from `wx_localdebug`, another trigger… `data` is the event as is.
   */
  | { type: 'context'; source?: string; triggerSrc?: string; openid?: string; appid?: string; unionid?: string };

/** The SCF `context` argument, reduced to the fields the SDKs read. */
export interface ScfContext {
  request_id: string;
  function_name: string;
  memory_limit_in_mb: number;
  time_limit_in_ms: number;
  /** `k=v;` pairs of the per-invocation context keys, as the old SCF architecture passes them. */
  environ: string;
}

/** Everything the worker needs to run one invocation. */
export interface Invocation {
  event: unknown;
  context: ScfContext;
  /** Set in the worker's `process.env` just before `main` runs. */
  env: Record<string, string>;
}

export interface InvocationInput {
  functionName: string;
  envId: string;
  timeoutSeconds: number;
  data: unknown;
  caller: Caller;
  requestId: string;
  seqId: string;
  now: Date;
}

/** The caller's input cannot become an event (e.g. a mini-program sending a non-object `data`). */
export class InvocationInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvocationInputError';
  }
}

// The keys SCF lists for a tcb-triggered invocation. getWXContext() returns {} unless
// WX_CONTEXT_KEYS is set, so it is listed for every tcb-routed caller, even when no user values
// exist: that is how a timer or a nested call still shows SOURCE through getWXContext().
const wxContextKeys = 'WX_OPENID,WX_APPID,WX_UNIONID,WX_CLIENTIP,WX_CLIENTIPV6';
const tcbContextKeys = 'TCB_ENV,TCB_SEQID,TRIGGER_SRC,TCB_SOURCE';
/** SCF's default memory size; the host does not limit memory, it only reports it. */
const memoryLimitInMb = 256;
const defaultClientIp = '127.0.0.1';

/** Builds the event, context and per-invocation env for one call, as the platform would. */
export function buildInvocation(input: InvocationInput): Invocation {
  const { caller, envId } = input;
  const env: Record<string, string> = {};
  let event: unknown;
  switch (caller.type) {
    case 'miniprogram': {
      env.WX_CONTEXT_KEYS = wxContextKeys;
      env.WX_OPENID = caller.openid;
      env.WX_APPID = caller.appid;
      if (caller.unionid !== undefined) env.WX_UNIONID = caller.unionid;
      env.WX_CLIENTIP = caller.clientIp ?? defaultClientIp;
      Object.assign(env, tcbEnv(envId, input.seqId, 'tcb', 'wx_client'));
      // The platform overwrites whatever userInfo the client put into data: it is not client-controlled.
      event = { ...miniProgramData(input.data), userInfo: { appId: caller.appid, openId: caller.openid } };
      break;
    }
    case 'timer':
      env.WX_CONTEXT_KEYS = wxContextKeys;
      Object.assign(env, tcbEnv(envId, input.seqId, 'timer', 'wx_trigger'));
      event = { Type: 'Timer', TriggerName: caller.trigger, Time: isoSeconds(input.now), Message: '' };
      break;
    case 'function':
      env.WX_CONTEXT_KEYS = wxContextKeys;
      Object.assign(env, tcbEnv(envId, input.seqId, 'tcb', caller.source));
      event = input.data;
      break;
    case 'admin':
    case 'http':
      env.TCB_CONTEXT_KEYS = 'TCB_ENV,TCB_SEQID,TRIGGER_SRC';
      env.TCB_ENV = envId;
      env.TCB_SEQID = input.seqId;
      env.TRIGGER_SRC = 'tcb';
      event = input.data;
      break;
    case 'context':
      env.WX_CONTEXT_KEYS = wxContextKeys;
      if (caller.openid !== undefined) env.WX_OPENID = caller.openid;
      if (caller.appid !== undefined) env.WX_APPID = caller.appid;
      if (caller.unionid !== undefined) env.WX_UNIONID = caller.unionid;
      env.TCB_CONTEXT_KEYS = tcbContextKeys;
      env.TCB_ENV = envId;
      env.TCB_SEQID = input.seqId;
      env.TRIGGER_SRC = caller.triggerSrc ?? 'tcb';
      if (caller.source !== undefined) env.TCB_SOURCE = caller.source;
      event = input.data;
      break;
  }
  const environ = Object.entries(env)
    .map(([key, value]) => `${key}=${value};`)
    .join('');
  return {
    event,
    env,
    context: {
      request_id: input.requestId,
      function_name: input.functionName,
      memory_limit_in_mb: memoryLimitInMb,
      time_limit_in_ms: Math.round(input.timeoutSeconds * 1000),
      environ,
    },
  };
}

/** Checks an untrusted caller description (the HTTP entry); returns a message naming the problem, or the caller. */
export function parseCaller(value: unknown): { caller: Caller } | { problem: string } {
  if (!isRecord(value)) return { problem: 'caller must be an object with a "type"' };
  switch (value.type) {
    case 'miniprogram': {
      const problem =
        nonEmptyString(value, 'openid') ??
        nonEmptyString(value, 'appid') ??
        optionalString(value, 'unionid') ??
        optionalString(value, 'clientIp');
      if (problem !== undefined) return { problem };
      const caller: Caller = { type: 'miniprogram', openid: value.openid as string, appid: value.appid as string };
      if (typeof value.unionid === 'string') caller.unionid = value.unionid;
      if (typeof value.clientIp === 'string') caller.clientIp = value.clientIp;
      return { caller };
    }
    case 'timer': {
      const problem = nonEmptyString(value, 'trigger');
      return problem === undefined ? { caller: { type: 'timer', trigger: value.trigger as string } } : { problem };
    }
    case 'function': {
      const problem = nonEmptyString(value, 'source');
      return problem === undefined ? { caller: { type: 'function', source: value.source as string } } : { problem };
    }
    case 'admin':
      return { caller: { type: 'admin' } };
    case 'context': {
      const keys = ['source', 'triggerSrc', 'openid', 'appid', 'unionid'] as const;
      const problem = keys.map((key) => optionalString(value, key)).find((found) => found !== undefined);
      if (problem !== undefined) return { problem };
      const caller: Extract<Caller, { type: 'context' }> = { type: 'context' };
      for (const key of keys) if (typeof value[key] === 'string') caller[key] = value[key] as string;
      return { caller };
    }
    default:
      return { problem: `unknown caller type ${JSON.stringify(String(value.type).slice(0, 40))} (miniprogram, timer, function, admin or context)` };
  }
}

function tcbEnv(envId: string, seqId: string, triggerSrc: string, source: string): Record<string, string> {
  return { TCB_CONTEXT_KEYS: tcbContextKeys, TCB_ENV: envId, TCB_SEQID: seqId, TRIGGER_SRC: triggerSrc, TCB_SOURCE: source };
}

function miniProgramData(data: unknown): Record<string, unknown> {
  if (data === undefined || data === null) return {};
  if (!isRecord(data)) throw new InvocationInputError('a mini-program call needs an object as data');
  return data;
}

/** The platform's timer events carry whole seconds: `2019-02-21T11:49:00Z`. */
function isoSeconds(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmptyString(record: Record<string, unknown>, key: string): string | undefined {
  const value = record[key];
  return typeof value === 'string' && value !== '' ? undefined : `caller.${key} must be a non-empty string`;
}

function optionalString(record: Record<string, unknown>, key: string): string | undefined {
  return record[key] === undefined || typeof record[key] === 'string' ? undefined : `caller.${key} must be a string`;
}
