import type { ExtendOptions, Got } from 'got';
import { AppError, ErrorCode, WechatApiError } from '../errors';

/**
 * The one HTTP layer every WeChat API family uses: JSON in and out, a timeout on every call,
 * `errcode` turned into a typed {@link WechatApiError}, and no silent retries. WeChat token
 * and ticket calls are not free (each may issue a new credential and counts against a daily
 * quota), so retry policy belongs to the caller, which knows whether a repeat is safe.
 */
export interface WechatHttpOptions {
  baseUrl: string;
  /** Whole-request timeout. WeChat answers in well under a second when healthy. */
  timeoutMs?: number;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface WechatHttp {
  getJson<T extends object>(path: string, query: Query): Promise<T>;
  postJson<T extends object>(path: string, query: Query, body: unknown): Promise<T>;
  /** multipart/form-data upload (media/uploadimg). */
  postForm<T extends object>(path: string, query: Query, form: FormData): Promise<T>;
}

/** A network failure or an answer that is not WeChat JSON. The URL (which may hold a token) is never in the message. */
export class UpstreamTransportError extends AppError {
  readonly endpoint: string;
  readonly reason: string;
  constructor(endpoint: string, reason: string, options: { cause?: unknown } = {}) {
    super(ErrorCode.UPSTREAM_BUSY, `WeChat ${endpoint} unreachable or garbled: ${reason}`, options);
    this.endpoint = endpoint;
    this.reason = reason;
  }
}

interface WechatErrorBody {
  errcode?: unknown;
  errmsg?: unknown;
}

/**
 * A got instance created on the first request, not at cold start: got costs ~50 ms to load, and a
 * warm path that answers from a cache never makes a request at all (npm run bench). No retries and
 * no throwing on HTTP status: callers own both.
 */
export function lazyGot(options: { baseUrl: string; timeoutMs?: number; extend?: ExtendOptions }): () => Promise<Got> {
  let clientPromise: Promise<Got> | null = null;
  return () =>
    (clientPromise ??= import('got').then(({ default: got }) =>
      got.extend(
        {
          prefixUrl: options.baseUrl,
          timeout: { request: options.timeoutMs ?? 5000 },
          retry: { limit: 0 },
          throwHttpErrors: false,
          headers: { 'user-agent': 'wx-cards-redpackets-cloudbase' },
        },
        options.extend ?? {},
      ),
    ));
}

export function createWechatHttp(options: WechatHttpOptions): WechatHttp {
  const client = lazyGot({ baseUrl: options.baseUrl, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) });

  async function send<T extends object>(
    method: 'GET' | 'POST',
    path: string,
    query: Query,
    body?: { json: unknown } | { form: FormData },
  ): Promise<T> {
    const endpoint = path.startsWith('/') ? path : `/${path}`;
    const searchParams: Record<string, string | number | boolean> = {};
    for (const [key, value] of Object.entries(query)) if (value !== undefined) searchParams[key] = value;
    let text: string;
    let status: number;
    try {
      const got = await client();
      const response = await got(endpoint.slice(1), {
        method,
        searchParams,
        ...(body === undefined ? {} : 'json' in body ? { json: body.json } : { body: body.form }),
      });
      text = response.body;
      status = response.statusCode;
    } catch (error) {
      // got's errors carry the system code (ETIMEDOUT, ECONNRESET…) in `code`.
      const reason = (error as { code?: unknown }).code;
      throw new UpstreamTransportError(endpoint, typeof reason === 'string' ? reason : 'request failed', { cause: stripUrl(error) });
    }
    if (status !== 200) throw new UpstreamTransportError(endpoint, `HTTP ${status}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new UpstreamTransportError(endpoint, 'answer is not JSON');
    }
    if (parsed === null || typeof parsed !== 'object') throw new UpstreamTransportError(endpoint, 'answer is not a JSON object');
    const { errcode, errmsg } = parsed as WechatErrorBody;
    if (errcode !== undefined && errcode !== 0) {
      throw new WechatApiError(endpoint, Number(errcode), typeof errmsg === 'string' ? errmsg : '');
    }
    return parsed as T;
  }

  return {
    getJson: (path, query) => send('GET', path, query),
    postJson: (path, query, body) => send('POST', path, query, { json: body }),
    postForm: (path, query, form) => send('POST', path, query, { form }),
  };
}

/** got errors carry the request options, URL included; a logged cause must not carry a token. */
function stripUrl(error: unknown): Error {
  if (error instanceof Error) {
    const plain = new Error(error.message.replace(/access_token=[^&\s]+/g, 'access_token=[redacted]'));
    plain.name = error.name;
    return plain;
  }
  return new Error('request failed');
}
