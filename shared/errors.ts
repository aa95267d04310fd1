/**
 * The error hierarchy. Every error the core throws is an {@link AppError}: it carries a stable
 * public `code` (UPPER_SNAKE) for the client envelope, an `expose` flag saying whether its
 * message may reach a mini-program client verbatim, and the upstream data (errcode, err_code…)
 * for logs and callers. Internal failures are never shown to a client as they are.
 */
import { clip, ERROR_MESSAGE_MAX_CHARS } from './echo';

/** Stable public error codes: what a client may branch on. Never renamed, only added to. */
export const ErrorCode = {
  INTERNAL: 'INTERNAL',
  CONFIG: 'CONFIG_INVALID',
  INPUT: 'INVALID_INPUT',
  /** HTTP access: the request carries no valid proof of who sent it (401). */
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  NOT_ELIGIBLE: 'NOT_ELIGIBLE',
  RATE_LIMITED: 'RATE_LIMITED',
  UPSTREAM: 'UPSTREAM_ERROR',
  UPSTREAM_BUSY: 'UPSTREAM_BUSY',
  QUOTA_EXCEEDED: 'UPSTREAM_QUOTA_EXCEEDED',
  IP_NOT_WHITELISTED: 'IP_NOT_WHITELISTED',
  CREDENTIAL_UNAVAILABLE: 'CREDENTIAL_UNAVAILABLE',
  SIGNATURE: 'SIGNATURE_INVALID',
  CRYPTO: 'CRYPTO_INVALID',
  PAY: 'PAY_ERROR',
  STORE: 'STORE_ERROR',
  /** HTTP access: the route does not answer this method (405). */
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  /** HTTP access: the body is larger than the route accepts (413). */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface AppErrorOptions {
  cause?: unknown;
  /** May the message be shown to a mini-program client as it is? */
  expose?: boolean;
  /** A stable UPPER_SNAKE detail the client may branch on, answered as the envelope's `error.reason`. */
  publicReason?: string;
  /**
   * What an end user sees instead of `message` (an exposed error): short and plain, while
   * `message` keeps the operator's advice for logs and server-side callers.
   */
  publicMessage?: string;
}

/** Base of every error the core throws on purpose. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly expose: boolean;
  readonly publicReason: string | undefined;
  readonly publicMessage: string | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.expose = options.expose ?? false;
    this.publicReason = options.publicReason;
    this.publicMessage = options.publicMessage;
  }
}

/** One or more settings are missing or malformed; `problems` names every one of them. */
export class ConfigError extends AppError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(ErrorCode.CONFIG, `Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

/**
 * The caller's input is malformed. Safe to show: it describes the caller's own data. The
 * message and field are cut to a bounded length here, whatever a caller managed to put into
 * them (see echo.ts), because both are answered to the caller and logged.
 */
export class InputError extends AppError {
  readonly field: string | undefined;
  constructor(message: string, field?: string, options: AppErrorOptions = {}) {
    super(ErrorCode.INPUT, clip(message, ERROR_MESSAGE_MAX_CHARS), { expose: true, ...options });
    this.field = field === undefined ? undefined : clip(field);
  }
}

/**
 * HTTP access: the request proves nothing about its sender (no session, no or a wrong
 * signature). Safe to show: it says only that the proof is missing or wrong.
 */
export class UnauthorizedError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(ErrorCode.UNAUTHORIZED, message, { expose: true, ...options });
  }
}

/** The caller may not do this (wrong caller type, not authorised). */
export class ForbiddenError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(ErrorCode.FORBIDDEN, message, { expose: true, ...options });
  }
}

export class NotFoundError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(ErrorCode.NOT_FOUND, message, { expose: true, ...options });
  }
}

/** The user does not qualify (already claimed, outside the window, budget spent…). */
export class NotEligibleError extends AppError {
  readonly reason: string;
  constructor(reason: string, message: string, options: AppErrorOptions = {}) {
    super(ErrorCode.NOT_ELIGIBLE, message, { expose: true, ...options });
    this.reason = reason;
  }
}

export class RateLimitedError extends AppError {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number, options: AppErrorOptions = {}) {
    super(ErrorCode.RATE_LIMITED, message, { expose: true, ...options });
    this.retryAfterMs = retryAfterMs;
  }
}

/** A signature did not verify, or could not be computed from the given input. */
export class SignatureError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(ErrorCode.SIGNATURE, message, options);
  }
}

/** Encryption or decryption failed (bad key, bad padding, wrong app id, truncated data…). */
export class CryptoError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(ErrorCode.CRYPTO, message, options);
  }
}

/** The persistence layer failed. */
export class StoreError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(ErrorCode.STORE, message, options);
  }
}

/**
 * A WeChat API answered with a non-zero errcode. The errcode and errmsg are kept verbatim;
 * the public code depends on what the errcode means for the caller.
 */
export class WechatApiError extends AppError {
  readonly errcode: number;
  readonly errmsg: string;
  readonly endpoint: string;

  constructor(endpoint: string, errcode: number, errmsg: string, options: AppErrorOptions & { code?: ErrorCode; message?: string } = {}) {
    super(
      options.code ?? publicCodeForErrcode(errcode),
      options.message ?? `WeChat ${endpoint} failed: errcode ${errcode} ${errmsg}`,
      options,
    );
    this.errcode = errcode;
    this.errmsg = errmsg;
    this.endpoint = endpoint;
  }
}

/** The fetched credential is not usable, or could not be had within the bounded wait. */
export class CredentialError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(ErrorCode.CREDENTIAL_UNAVAILABLE, message, options);
  }
}

/** Well-known WeChat errcodes the core branches on. */
export const WxErrcode = {
  SYSTEM_BUSY: -1,
  INVALID_CREDENTIAL: 40001,
  INVALID_GRANT_TYPE: 40002,
  INVALID_APPID: 40013,
  INVALID_ACCESS_TOKEN: 40014,
  INVALID_APPSECRET: 40125,
  IP_NOT_WHITELISTED: 40164,
  APPSECRET_FROZEN: 40243,
  ACCESS_TOKEN_MISSING: 41001,
  ACCESS_TOKEN_EXPIRED: 42001,
  DAILY_QUOTA: 45009,
  MINUTE_QUOTA: 45011,
  API_UNAUTHORIZED: 48001,
  ADMIN_CONFIRM_PENDING: 89501,
  ADMIN_CONFIRM_NEEDED: 89503,
  IP_REFUSED_24H: 89506,
  IP_REFUSED_1H: 89507,
} as const;

/** The errcodes that mean "the access_token you sent is not (or no longer) valid". */
export const TOKEN_REJECTED_ERRCODES: ReadonlySet<number> = new Set([
  WxErrcode.INVALID_CREDENTIAL,
  WxErrcode.INVALID_ACCESS_TOKEN,
  WxErrcode.ACCESS_TOKEN_EXPIRED,
]);

function publicCodeForErrcode(errcode: number): ErrorCode {
  switch (errcode) {
    case WxErrcode.SYSTEM_BUSY:
    case WxErrcode.MINUTE_QUOTA:
      return ErrorCode.UPSTREAM_BUSY;
    case WxErrcode.DAILY_QUOTA:
      return ErrorCode.QUOTA_EXCEEDED;
    case WxErrcode.IP_NOT_WHITELISTED:
      return ErrorCode.IP_NOT_WHITELISTED;
    default:
      return ErrorCode.UPSTREAM;
  }
}

/** Type guard for any error of this hierarchy. */
export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/**
 * A Pay v2 XML document is not well formed: garbled, empty, a DOCTYPE/ENTITY, another root than
 * `<xml>`, nested or repeated elements. Distinct from {@link SignatureError} because the money
 * path treats an unparseable reply as "outcome unknown: retry with the same billno".
 */
export class PayXmlError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super(ErrorCode.PAY, message, options);
  }
}
