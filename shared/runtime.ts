import { AppError, ErrorCode, ForbiddenError, InputError } from './errors';
import { clip, listNames } from './echo';
import { createLogger, type Logger } from './log';

/**
 * Who is calling, decided from what the platform sets (getWXContext and the runtime's
 * environment) — never from the event alone, which a mini-program client writes.
 */
export type Caller =
  | { type: 'miniprogram'; openid: string; appid: string; unionid?: string; clientIp?: string }
  | { type: 'timer'; trigger: string }
  | { type: 'function'; source: string }
  | { type: 'admin' };
export type CallerType = Caller['type'];

/** The one result shape of every function; `reason` only for errors that carry one (e.g. decryptCode's refusals). */
export type Envelope<T> = { ok: true; data: T } | { ok: false; error: { code: string; message: string; reason?: string } };

/** SOURCE values of a mini-program user's own call: the app, or the developer tools. */
const CLIENT_SOURCES: ReadonlySet<string> = new Set(['wx_client', 'wx_devtools']);
/**
 * What @cloudbase/node-sdk appends to the X-TCB-Source chain when it runs outside a cloud
 * function (`getCurrRunEnvTag`: a laptop or CI says `unknown`, a CVM `tencentcloud`, CloudBase
 * Run `cbr`). Server-side by construction: the caller holds the environment's API keys.
 */
const SERVER_RUN_ENV_TAGS: ReadonlySet<string> = new Set(['unknown', 'tencentcloud', 'cbr', 'sumeru']);
/** TRIGGER_SRC of an invocation through CloudBase (callFunction, tcb fn invoke) rather than another trigger. */
const TCB_TRIGGER = 'tcb';

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Shaped like CloudBase's HTTP-access event (集成请求): anyone on the internet can cause one. */
export function isHttpAccessEvent(event: Readonly<Record<string, unknown>>): boolean {
  return typeof event.httpMethod === 'string' && event.headers !== undefined;
}

function refuse(why: string, source: string | undefined): never {
  const shown = source === undefined ? 'none' : clip(source);
  throw new ForbiddenError(`This invocation's context does not identify an accepted caller (${why}; SOURCE ${shown})`);
}

/**
 * Classifies the caller from what the platform sets, never from the event, which a mini-program
 * writes. Every accepted shape is listed; anything else is refused with FORBIDDEN (fail closed):
 *
 * | context (getWXContext + process.env)                                      | caller       |
 * |----------------------------------------------------------------------------|--------------|
 * | SOURCE ending in `,scf` (the platform appends it on cloud.callFunction)    | function     |
 * | OPENID and APPID, SOURCE `wx_client` or `wx_devtools`                      | miniprogram  |
 * | no OPENID, TRIGGER_SRC `timer` and/or SOURCE `wx_trigger`, a timer event   | timer        |
 * | no OPENID, no SOURCE or only node-sdk run-env tags (`,unknown`), TRIGGER_SRC absent or `tcb` | admin |
 *
 * Refused, among others: `wx_http` (WeChat's invokecloudfunction API), `wx_crawler`,
 * `wx_unknown`, `wx_paycallback`, `wx_localdebug`, `wx_trigger` with a user, an OPENID with
 * any source but the app's, a SOURCE nobody listed, another trigger (COS, message queue…).
 * getWXContext() returns `{}` unless WX_CONTEXT_KEYS is set (wx-server-sdk 4.0.2
 * getWXContext.ts), so SOURCE is also read from TCB_SOURCE, where the platform puts it.
 * Events shaped like an HTTP-access request are refused: their context is no proof at all.
 */
export function identifyCaller(
  wxContext: Readonly<Record<string, unknown>>,
  env: Readonly<Record<string, string | undefined>>,
  event: Readonly<Record<string, unknown>>,
): Caller {
  if (isHttpAccessEvent(event)) {
    throw new ForbiddenError('This function does not accept HTTP access requests; call it with wx.cloud.callFunction');
  }
  const contextSource = text(wxContext.SOURCE);
  const envSource = text(env.TCB_SOURCE);
  if (contextSource !== undefined && envSource !== undefined && contextSource !== envSource) refuse('two different SOURCE values', contextSource);
  const source = contextSource ?? envSource;
  const chain = source === undefined ? [] : source.split(',').map((part) => part.trim());
  // The user comes from getWXContext() only, as the SDK reads it: WX_* variables are meaningful
  // only when the invocation lists them in WX_CONTEXT_KEYS.
  const openid = text(wxContext.OPENID);
  const trigger = text(env.TRIGGER_SRC);

  if (chain[chain.length - 1] === 'scf') return { type: 'function', source: source as string };
  if (openid !== undefined) {
    if (source === undefined || !CLIENT_SOURCES.has(source)) refuse('a user identity from a source other than the mini-program', source);
    if (trigger !== undefined && trigger !== TCB_TRIGGER) refuse('a user identity on another trigger', source);
    const appid = text(wxContext.APPID);
    if (appid === undefined) refuse('a user identity without an APPID', source);
    const unionid = text(wxContext.UNIONID);
    // getWXContext gives CLIENTIP, and CLIENTIPV6 for a client reaching the platform over IPv6 only.
    const clientIp = text(wxContext.CLIENTIP) ?? text(wxContext.CLIENTIPV6);
    return { type: 'miniprogram', openid, appid, ...(unionid ? { unionid } : {}), ...(clientIp ? { clientIp } : {}) };
  }
  if (trigger === 'timer' || source === 'wx_trigger') {
    if ((trigger !== undefined && trigger !== 'timer') || (source !== undefined && source !== 'wx_trigger')) {
      refuse('a timer context that contradicts itself', source);
    }
    if (event.Type !== 'Timer' || typeof event.TriggerName !== 'string') {
      throw new InputError('A timer invocation must carry a timer event');
    }
    return { type: 'timer', trigger: event.TriggerName };
  }
  if (trigger !== undefined && trigger !== TCB_TRIGGER) refuse(`a trigger this function does not serve (${clip(trigger)})`, source);
  const tags = chain.filter((part) => part !== '');
  if (tags.every((tag) => SERVER_RUN_ENV_TAGS.has(tag))) return { type: 'admin' };
  refuse('no user, no timer, and a source that is not a server-side invocation', source);
}

export function isServerCaller(caller: Caller): boolean {
  return caller.type !== 'miniprogram';
}

/** How a refusal names each kind of caller. */
const CALLER_NAMES: Readonly<Record<CallerType, string>> = {
  miniprogram: 'a mini-program user',
  timer: 'a timer',
  function: 'another function',
  admin: 'an admin',
};

/** Messages a mini-program user sees for errors whose own message is internal. */
const GENERIC_MESSAGES: Partial<Record<string, string>> = {
  [ErrorCode.INTERNAL]: 'Internal error, please try again later',
  [ErrorCode.CONFIG]: 'The service is not configured correctly',
  [ErrorCode.UPSTREAM]: 'WeChat rejected the request',
  [ErrorCode.UPSTREAM_BUSY]: 'WeChat is busy, please try again shortly',
  [ErrorCode.QUOTA_EXCEEDED]: 'The service has reached a WeChat limit, please try again later',
  [ErrorCode.CREDENTIAL_UNAVAILABLE]: 'The service is temporarily unavailable',
  [ErrorCode.IP_NOT_WHITELISTED]: 'The service is not configured correctly',
  [ErrorCode.STORE]: 'Internal error, please try again later',
};

/**
 * The envelope for an error. Server-side callers (timer, functions, admins) see the real
 * message; a mini-program user sees it only when the error is meant for them (`expose`).
 */
export function errorEnvelope(error: unknown, caller: Caller | null): Envelope<never> {
  if (error instanceof AppError) {
    const server = caller !== null && isServerCaller(caller);
    const show = error.expose || server;
    // An end user gets the plain version; the operator's advice stays in `message` (logs, server callers).
    const message = server ? error.message : error.expose ? (error.publicMessage ?? error.message) : (GENERIC_MESSAGES[error.code] ?? 'Request failed');
    const reason = show && error.publicReason !== undefined ? { reason: error.publicReason } : {};
    return { ok: false, error: { code: error.code, message, ...reason } };
  }
  const show = caller !== null && isServerCaller(caller);
  return {
    ok: false,
    error: { code: ErrorCode.INTERNAL, message: show && error instanceof Error ? error.message : GENERIC_MESSAGES[ErrorCode.INTERNAL]! },
  };
}

export interface HandlerContext<D> {
  caller: Caller;
  deps: D;
  log: Logger;
}

export interface HandlerSpec<D, I, O> {
  name: string;
  /** Caller types allowed; anyone else gets FORBIDDEN before any work is done. */
  allow: readonly CallerType[];
  /** Builds the instance's dependencies once (cold start): configuration, clients, caches. */
  init: (log: Logger) => D;
  /** Validates the event into typed input; throws InputError. */
  parse: (event: Readonly<Record<string, unknown>>, caller: Caller) => I;
  run: (input: I, context: HandlerContext<D>) => Promise<O>;
  /** Where the WX context comes from (wx-server-sdk's getWXContext in the cloud). */
  wxContext: () => Readonly<Record<string, unknown>>;
  env?: Readonly<Record<string, string | undefined>>;
}

/** A function's entry point; `allow` says who may call it (deploy's security rules are checked against it). */
export type CallableHandler<O> = ((event: unknown) => Promise<Envelope<O>>) & { readonly allow: readonly CallerType[] };

/**
 * A function's dependencies, built once per instance on the first call that gets past the caller
 * check. A broken configuration is kept too, so every call fails the same clear way.
 */
export function instanceDependencies<D>(init: (log: Logger) => D, log: Logger): () => D {
  let built: { value: D } | { error: unknown } | null = null;
  return () => {
    if (built === null) {
      try {
        built = { value: init(log) };
      } catch (error) {
        built = { error };
      }
    }
    if ('error' in built) throw built.error;
    return built.value;
  };
}

/**
 * Wraps a function's core: identify the caller, check it, parse, run, and shape the envelope.
 * Nothing thrown escapes as a stack trace; every invocation leaves one log line.
 */
export function defineHandler<D, I, O>(spec: HandlerSpec<D, I, O>): CallableHandler<O> {
  const log = createLogger({ fn: spec.name });
  const dependencies = instanceDependencies(spec.init, log);
  const handler = async (rawEvent: unknown): Promise<Envelope<O>> => {
    const startedAtMs = Date.now();
    let caller: Caller | null = null;
    try {
      const event = rawEvent !== null && typeof rawEvent === 'object' && !Array.isArray(rawEvent) ? (rawEvent as Record<string, unknown>) : null;
      caller = identifyCaller(spec.wxContext(), spec.env ?? process.env, event ?? {});
      if (!spec.allow.includes(caller.type)) {
        throw new ForbiddenError(`${spec.name} may not be called by ${CALLER_NAMES[caller.type]}`);
      }
      if (event === null) throw new InputError('The call data must be an object');
      const deps = dependencies();
      const input = spec.parse(event, caller);
      const data = await spec.run(input, { caller, deps, log });
      log.info('ok', { caller: caller.type, durationMs: Date.now() - startedAtMs });
      return { ok: true, data };
    } catch (error) {
      const envelope = errorEnvelope(error, caller);
      const code = envelope.ok ? undefined : envelope.error.code;
      log[code === ErrorCode.INTERNAL ? 'error' : 'warn']('failed', {
        caller: caller?.type ?? 'unknown',
        code,
        error,
        durationMs: Date.now() - startedAtMs,
      });
      return envelope;
    }
  };
  return Object.assign(handler, { allow: spec.allow });
}

/** Small, strict readers for event fields: unknown fields are refused so typos fail loudly. */
export function allowOnlyFields(event: Readonly<Record<string, unknown>>, allowed: readonly string[]): void {
  // `userInfo` is injected by the platform into mini-program calls; it is ignored, never trusted.
  const unknown = Object.keys(event).filter((key) => key !== 'userInfo' && !allowed.includes(key));
  // The names are the caller's: clipped, and only a few listed (echo.ts).
  if (unknown.length > 0) throw new InputError(`Unknown field(s): ${listNames(unknown)}`, unknown[0]);
}

export function readEnum<T extends string>(
  event: Readonly<Record<string, unknown>>,
  field: string,
  values: readonly T[],
  fallback?: T,
): T {
  const value = event[field];
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
    throw new InputError(`${field} must be one of: ${values.join(', ')}`, field);
  }
  return value as T;
}

export function readOptionalInt(event: Readonly<Record<string, unknown>>, field: string, min: number, max: number): number | undefined {
  const value = event[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InputError(`${field} must be an integer from ${min} to ${max}`, field);
  }
  return value;
}
