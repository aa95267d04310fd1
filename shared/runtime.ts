import { AppError, ErrorCode, ForbiddenError, InputError } from './errors';
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

/** The one result shape of every function. */
export type Envelope<T> = { ok: true; data: T } | { ok: false; error: { code: string; message: string } };

const CLIENT_SOURCES = new Set(['wx_client', 'wx_devtools']);

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Classifies the caller.
 * - SOURCE ending in `scf`: another cloud function of this environment (the platform appends it).
 * - OPENID present: a mini-program user (only the platform sets OPENID).
 * - TRIGGER_SRC=timer or SOURCE wx_trigger: a timer trigger (the event must look like one too).
 * - no OPENID and no client SOURCE: a server-side admin call (tcb fn invoke, SCF Invoke, node-sdk).
 * Events shaped like an HTTP-access request are refused: anyone on the internet can send those.
 */
export function identifyCaller(
  wxContext: Readonly<Record<string, unknown>>,
  env: Readonly<Record<string, string | undefined>>,
  event: Readonly<Record<string, unknown>>,
): Caller {
  if (typeof event.httpMethod === 'string' && event.headers !== undefined) {
    throw new ForbiddenError('This function does not accept HTTP access requests; call it with wx.cloud.callFunction');
  }
  const source = text(wxContext.SOURCE) ?? '';
  const chain = source.split(',').map((part) => part.trim());
  if (chain[chain.length - 1] === 'scf') return { type: 'function', source };
  const openid = text(wxContext.OPENID);
  if (openid) {
    const appid = text(wxContext.APPID) ?? '';
    const unionid = text(wxContext.UNIONID);
    const clientIp = text(wxContext.CLIENTIP);
    return { type: 'miniprogram', openid, appid, ...(unionid ? { unionid } : {}), ...(clientIp ? { clientIp } : {}) };
  }
  if (env.TRIGGER_SRC === 'timer' || source === 'wx_trigger') {
    if (event.Type !== 'Timer' || typeof event.TriggerName !== 'string') {
      throw new InputError('A timer invocation must carry a timer event');
    }
    return { type: 'timer', trigger: event.TriggerName };
  }
  if (CLIENT_SOURCES.has(source)) throw new ForbiddenError('A client call without a user identity is not accepted');
  return { type: 'admin' };
}

export function isServerCaller(caller: Caller): boolean {
  return caller.type !== 'miniprogram';
}

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
    const show = error.expose || (caller !== null && isServerCaller(caller));
    return { ok: false, error: { code: error.code, message: show ? error.message : (GENERIC_MESSAGES[error.code] ?? 'Request failed') } };
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

/**
 * Wraps a function's core: identify the caller, check it, parse, run, and shape the envelope.
 * Nothing thrown escapes as a stack trace; every invocation leaves one log line.
 */
export function defineHandler<D, I, O>(spec: HandlerSpec<D, I, O>): (event: unknown) => Promise<Envelope<O>> {
  const log = createLogger({ fn: spec.name });
  let deps: { value: D } | { error: unknown } | null = null;
  return async (rawEvent: unknown): Promise<Envelope<O>> => {
    const startedAtMs = Date.now();
    let caller: Caller | null = null;
    try {
      const event = rawEvent !== null && typeof rawEvent === 'object' && !Array.isArray(rawEvent) ? (rawEvent as Record<string, unknown>) : null;
      caller = identifyCaller(spec.wxContext(), spec.env ?? process.env, event ?? {});
      if (!spec.allow.includes(caller.type)) {
        throw new ForbiddenError(`${spec.name} may not be called by a ${caller.type} caller`);
      }
      if (event === null) throw new InputError('The call data must be an object');
      // Configuration is read once per instance; a broken one fails every call the same clear way.
      if (deps === null) {
        try {
          deps = { value: spec.init(log) };
        } catch (error) {
          deps = { error };
        }
      }
      if ('error' in deps) throw deps.error;
      const input = spec.parse(event, caller);
      const data = await spec.run(input, { caller, deps: deps.value, log });
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
}

/** Small, strict readers for event fields: unknown fields are refused so typos fail loudly. */
export function allowOnlyFields(event: Readonly<Record<string, unknown>>, allowed: readonly string[]): void {
  // `userInfo` is injected by the platform into mini-program calls; it is ignored, never trusted.
  const unknown = Object.keys(event).filter((key) => key !== 'userInfo' && !allowed.includes(key));
  if (unknown.length > 0) throw new InputError(`Unknown field(s): ${unknown.join(', ')}`, unknown[0]);
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
