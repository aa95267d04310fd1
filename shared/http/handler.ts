/**
 * HTTP access (HTTP 访问服务) for cloud functions: the twin of `defineHandler` for functions
 * that answer the internet — receivePush (`/wx/push`), claimPage (`/claim`), payNotify
 * (`/pay/notify`), opsConsole (`/console`).
 *
 * ## The contract
 *
 * ```ts
 * export const main = defineHttpHandler({
 *   name: 'receivePush',
 *   route: '/wx/push',                       // the function's `path` in cloudbaserc.json
 *   methods: ['GET', 'POST'],                // HEAD runs GET without a body; OPTIONS answers 204 + Allow
 *   maxBodyBytes: 64 * 1024,                 // default 1 MiB; larger → 413 before any work
 *   wxContext: () => cloudPlatform().getWXContext(),
 *   init: (log) => ({ accounts: … }),        // once per instance, configuration only (no I/O)
 *   proof: pushSignatureProof,               // CallerProof<Deps, Proven>: runs before anything else
 *   run: async (request, { deps, proven, log }) => respond.text('success'),
 * });
 * ```
 *
 * Per request, in this order, each step refusing with a typed status before the next runs:
 * 1. **Shape.** An event that is not an HTTP-access event — a `callFunction`, a timer, an admin
 *    invoke — or one that arrives with a mini-program user's context (OPENID, an injected
 *    `userInfo`, a client SOURCE: a forged HTTP event inside `wx.cloud.callFunction` data) is
 *    refused with the callable envelope `{ok:false, error:{code:'FORBIDDEN'}}`.
 * 2. **Method.** Not in `methods` → 405 with `Allow`. HEAD is served by the GET handler with the
 *    body dropped; OPTIONS is answered 204 with `Allow` (no CORS: these routes are not for
 *    other origins).
 * 3. **Request.** The event becomes an {@link HttpRequest}: method, path, `subpath` below
 *    `route`, query, lower-cased headers, cookies, and the RAW body bytes (base64-decoded when
 *    the platform flagged it). Malformed → 400; over `maxBodyBytes` → 413.
 * 4. **Configuration.** `init` once per instance; a broken one answers 500 every time.
 * 5. **Proof.** `proof.verify(request, {deps, log, nowMs})` proves who sent the request — push
 *    signature, OAuth-backed session, Pay v3 signature, operator session + CSRF. It resolves
 *    `{proven}` (handed to `run`), or `{respond}` (e.g. a redirect to sign in, answered as is),
 *    or throws: `UnauthorizedError`/`SignatureError`/`CryptoError` → 401, `ForbiddenError` → 403,
 *    `RateLimitedError` → 429, anything else → 500. There is no way to skip it: a route
 *    without a proof does not compile.
 * 6. **Run.** `run(request, {deps, proven, log, nowMs})` returns an {@link HttpResponse}
 *    (`respond.text/html/json/xml/redirect/binary/empty`, cookies with `setCookie`). Errors it
 *    throws map by code: INVALID_INPUT 400, UNAUTHORIZED 401, FORBIDDEN and NOT_ELIGIBLE 403,
 *    NOT_FOUND 404, METHOD_NOT_ALLOWED 405, PAYLOAD_TOO_LARGE 413, RATE_LIMITED 429 (with
 *    `Retry-After`), everything else 500. The message is shown only when the error is meant
 *    for the caller (`expose`); internal ones answer a generic text. `errorResponse` renders
 *    refusals differently (an HTML page for browsers).
 * 7. **Log.** One line per request: fn, method, path (cut), status, proof name and outcome,
 *    duration, request id, and the error code. Never the query, headers, cookies or body —
 *    they carry signatures, OAuth codes and sessions.
 *
 * The function's timeout is the platform's (cloudbaserc `timeout`); WeChat's push gives 5 s.
 */
import { clip } from '../echo';
import { AppError, ErrorCode, RateLimitedError } from '../errors';
import { createLogger, type Logger } from '../log';
import { instanceDependencies } from '../runtime';
import { parseHttpEvent, looksLikeHttpEvent, type HttpMethod, type HttpRequest } from './request';
import { respond, toIntegrationResponse, type HttpResponse, type IntegrationResponse } from './response';

/** What a proof hands back: what it proved, or an answer of its own (a redirect to sign in…). */
export type ProofOutcome<P> = { proven: P } | { respond: HttpResponse };

/**
 * A proof of who sent an HTTP-access request. `D` is the handler's dependencies (where the
 * proof finds its keys, tokens, sessions), `P` what it proves (an account, a user, an operator).
 * Verify with constant-time comparisons (shared/signing/compare.ts) and throw
 * `UnauthorizedError` when the proof is missing or wrong.
 */
export interface CallerProof<D, P> {
  /** For logs, e.g. `push-signature`. */
  readonly name: string;
  verify(request: HttpRequest, context: ProofContext<D>): ProofOutcome<P> | Promise<ProofOutcome<P>>;
}

export interface ProofContext<D> {
  deps: D;
  log: Logger;
  nowMs: number;
}

export interface HttpContext<D, P> extends ProofContext<D> {
  /** What the proof proved. */
  proven: P;
}

/** A refusal, for {@link HttpHandlerSpec.errorResponse}. */
export interface HttpFailure {
  status: number;
  code: string;
  /** Safe to show: the error's own message when it is meant for the caller, else a generic one. */
  message: string;
}

export interface HttpHandlerSpec<D, P> {
  name: string;
  /** The function's HTTP-access path (cloudbaserc `path`), e.g. `/wx/push`; `subpath` is relative to it. */
  route?: string;
  /** Methods answered (HEAD comes with GET, OPTIONS always). */
  methods: readonly Exclude<HttpMethod, 'HEAD' | 'OPTIONS'>[];
  /** Largest body accepted, in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** Where the WX context comes from (wx-server-sdk's getWXContext in the cloud). */
  wxContext: () => Readonly<Record<string, unknown>>;
  env?: Readonly<Record<string, string | undefined>>;
  /** Builds the instance's dependencies once (cold start): configuration, clients, caches. */
  init: (log: Logger) => D;
  proof: CallerProof<D, P>;
  run: (request: HttpRequest, context: HttpContext<D, P>) => Promise<HttpResponse> | HttpResponse;
  /** Renders refusals (default: JSON `{"error":{"code","message"}}`). */
  errorResponse?: (failure: HttpFailure) => HttpResponse;
  now?: () => number;
}

/** What the function returns: an integration response for HTTP access, the callable envelope for anything else. */
export type HttpHandlerResult = IntegrationResponse | { ok: false; error: { code: string; message: string } };

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** Status per public error code, for errors thrown by `run` (a proof's signature/crypto failures are 401 instead). */
const STATUS_BY_CODE: Partial<Record<string, number>> = {
  [ErrorCode.INPUT]: 400,
  [ErrorCode.UNAUTHORIZED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.NOT_ELIGIBLE]: 403,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.METHOD_NOT_ALLOWED]: 405,
  [ErrorCode.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCode.RATE_LIMITED]: 429,
};
/** A proof that fails to verify a signature or a ciphertext means: not proven. */
const PROOF_UNAUTHORIZED_CODES: ReadonlySet<string> = new Set([ErrorCode.SIGNATURE, ErrorCode.CRYPTO, ErrorCode.UNAUTHORIZED]);
const GENERIC_TEXT: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  413: 'Payload too large',
  429: 'Too many requests',
  500: 'Internal error',
};
const CLIENT_SOURCES = new Set(['wx_client', 'wx_devtools']);

class MethodNotAllowedError extends AppError {
  constructor(method: string) {
    super(ErrorCode.METHOD_NOT_ALLOWED, `Method ${clip(method, 16)} is not allowed here`, { expose: true });
  }
}

/** Wraps an HTTP-access function: shape, method, request, configuration, proof, run, response, one log line. */
export function defineHttpHandler<D, P>(spec: HttpHandlerSpec<D, P>): (event: unknown) => Promise<HttpHandlerResult> {
  const log = createLogger({ fn: spec.name });
  const maxBodyBytes = spec.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const allowed = [...new Set([...spec.methods, ...(spec.methods.includes('GET') ? (['HEAD'] as const) : []), 'OPTIONS' as const])];
  const allowHeader = allowed.join(', ');
  const now = spec.now ?? Date.now;
  const dependencies = instanceDependencies(spec.init, log);

  return async (rawEvent: unknown): Promise<HttpHandlerResult> => {
    const startedAtMs = now();
    const refusal = notAnHttpRequest(rawEvent, spec);
    if (refusal !== null) {
      log.warn('refused', { reason: refusal, durationMs: now() - startedAtMs });
      return { ok: false, error: { code: ErrorCode.FORBIDDEN, message: `${spec.name} answers HTTP access requests only` } };
    }
    const event = rawEvent as Record<string, unknown>;
    const line: Record<string, unknown> = { method: clip(String(event.httpMethod), 16), path: clip(String(event.path), 120), proof: spec.proof.name };
    let phase: 'request' | 'proof' | 'run' = 'request';
    try {
      const request = parseHttpEvent(event, { ...(spec.route === undefined ? {} : { route: spec.route }), maxBodyBytes });
      line.requestId = request.requestId;
      if (!allowed.includes(request.method as (typeof allowed)[number])) throw new MethodNotAllowedError(request.method);
      if (request.method === 'OPTIONS') return finish(respond.empty(204), { allow: allowHeader });
      const deps = dependencies();
      const context = { deps, log, nowMs: now() };
      phase = 'proof';
      const outcome = await spec.proof.verify(request, context);
      if ('respond' in outcome) {
        line.outcome = 'answered by proof';
        return finish(outcome.respond);
      }
      line.outcome = 'proven';
      phase = 'run';
      const asGet = request.method === 'HEAD' ? { ...request, method: 'GET' as const } : request;
      const response = await spec.run(asGet, { ...context, proven: outcome.proven });
      return finish(response, {}, request.method === 'HEAD');
    } catch (error) {
      const failure = failureOf(error, phase);
      if (phase === 'proof' && line.outcome === undefined) line.outcome = 'refused';
      line.code = failure.code;
      if (failure.status >= 500) line.error = error;
      const extra: Record<string, string> = {};
      if (failure.status === 405) extra.allow = allowHeader;
      if (error instanceof RateLimitedError && error.retryAfterMs !== undefined) extra['retry-after'] = String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
      return finish((spec.errorResponse ?? defaultErrorResponse)(failure), extra);
    }

    function finish(response: HttpResponse, extraHeaders: Record<string, string> = {}, head = false): IntegrationResponse {
      let shaped: IntegrationResponse;
      try {
        shaped = toIntegrationResponse({ ...response, headers: { ...response.headers, ...extraHeaders } }, { head });
      } catch (error) {
        // The handler built an answer that cannot go on the wire: that is our bug, not the caller's.
        line.code = ErrorCode.INTERNAL;
        line.error = error;
        shaped = toIntegrationResponse(defaultErrorResponse({ status: 500, code: ErrorCode.INTERNAL, message: GENERIC_TEXT[500] as string }));
      }
      const fields = { ...line, status: shaped.statusCode, durationMs: now() - startedAtMs };
      if (shaped.statusCode >= 500) log.error('answered', fields);
      else if (shaped.statusCode >= 400) log.warn('answered', fields);
      else log.info('answered', fields);
      return shaped;
    }
  };
}

/** Why an event is not an HTTP-access request this function may answer, or null. */
function notAnHttpRequest(event: unknown, spec: Pick<HttpHandlerSpec<unknown, unknown>, 'wxContext' | 'env'>): string | null {
  if (!looksLikeHttpEvent(event)) return 'not an HTTP-access event';
  if ('userInfo' in event) return 'a mini-program call (userInfo injected)';
  const context = spec.wxContext();
  if (typeof context.OPENID === 'string' && context.OPENID !== '') return 'a mini-program user context';
  const source = [context.SOURCE, (spec.env ?? process.env).TCB_SOURCE].filter((value): value is string => typeof value === 'string');
  if (source.some((value) => value.split(',').some((part) => CLIENT_SOURCES.has(part.trim())))) return 'a mini-program source';
  return null;
}

function failureOf(error: unknown, phase: 'request' | 'proof' | 'run'): HttpFailure {
  if (!(error instanceof AppError)) return { status: 500, code: ErrorCode.INTERNAL, message: GENERIC_TEXT[500] as string };
  const status = phase === 'proof' && PROOF_UNAUTHORIZED_CODES.has(error.code) ? 401 : (STATUS_BY_CODE[error.code] ?? 500);
  const code = status === 401 ? ErrorCode.UNAUTHORIZED : error.code;
  // A proof's own reasons (which signature field was wrong) are not for the sender.
  const show = error.expose && status < 500 && !(phase === 'proof' && status === 401 && error.code !== ErrorCode.UNAUTHORIZED);
  return { status, code, message: show ? (error.publicMessage ?? error.message) : (GENERIC_TEXT[status] ?? GENERIC_TEXT[500] as string) };
}

function defaultErrorResponse(failure: HttpFailure): HttpResponse {
  return respond.json({ error: { code: failure.code, message: failure.message } }, failure.status);
}

