/**
 * What an HTTP-access handler answers, and how it becomes CloudBase's integration response
 * (集成响应, reference/official-accounts.md §8.2): `{isBase64Encoded, statusCode, headers, body}`.
 */

/** A handler's answer. A string body is text (UTF-8); a Buffer body is binary (base64 on the wire). */
export interface HttpResponse {
  status: number;
  /** Header names in any case; they are sent lower-cased. Set-Cookie goes in `cookies`. */
  headers?: Readonly<Record<string, string>>;
  /** Full Set-Cookie values, built with {@link setCookie}. */
  cookies?: readonly string[];
  body?: string | Buffer;
}

/** CloudBase's integration response, as the function returns it. */
export interface IntegrationResponse {
  isBase64Encoded: boolean;
  statusCode: number;
  headers: Record<string, string>;
  /**
   * Only for several Set-Cookie values, which one `headers` object cannot hold. Whether the
   * gateway honours `multiValueHeaders` in a response is not documented (UNVERIFIED): answer
   * one cookie per response where it matters (a session cookie), and it goes in `headers`.
   */
  multiValueHeaders?: Record<string, string[]>;
  body: string;
}

const TEXT = 'text/plain; charset=utf-8';

/** Small constructors for the usual answers. */
export const respond = {
  /** Plain text; `success` and `echostr` replies to WeChat go out exactly like this. */
  text: (body: string, status = 200): HttpResponse => ({ status, headers: { 'content-type': TEXT }, body }),
  html: (body: string, status = 200): HttpResponse => ({ status, headers: { 'content-type': 'text/html; charset=utf-8' }, body }),
  json: (value: unknown, status = 200): HttpResponse => ({ status, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(value) }),
  /** WeChat's passive replies are XML (`application/xml`, reference/official-accounts.md §8.2). */
  xml: (body: string, status = 200): HttpResponse => ({ status, headers: { 'content-type': 'application/xml; charset=utf-8' }, body }),
  /** A redirect; only absolute http(s) URLs or same-site paths, so a handler cannot be turned into an open redirect by accident of a relative scheme. */
  redirect: (location: string, status: 301 | 302 | 303 | 307 | 308 = 302): HttpResponse => {
    if (!/^(https?:\/\/[^\s]+|\/(?!\/)[^\s]*)$/.test(location)) throw new Error(`redirect location must be an http(s) URL or a path: ${location.slice(0, 80)}`);
    return { status, headers: { location }, body: '' };
  },
  binary: (bytes: Uint8Array, contentType: string, status = 200): HttpResponse => ({ status, headers: { 'content-type': contentType }, body: Buffer.from(bytes) }),
  empty: (status = 204): HttpResponse => ({ status }),
};

export interface CookieOptions {
  /** Default true: no script reads it. */
  httpOnly?: boolean;
  /** Default true: HTTPS only (CloudBase's domains are HTTPS). */
  secure?: boolean;
  /** Default 'Lax'. */
  sameSite?: 'Strict' | 'Lax' | 'None';
  /** Default '/'. */
  path?: string;
  /** Omitted: a session cookie. 0 deletes it. */
  maxAgeSeconds?: number;
}

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const COOKIE_VALUE = /^[!#$%&'()*+\-./0-9:<=>?@A-Z[\]^_`a-z{|}~]*$/;

/** One Set-Cookie value with safe defaults (HttpOnly, Secure, SameSite=Lax, Path=/); refuses characters that would split it. */
export function setCookie(name: string, value: string, options: CookieOptions = {}): string {
  if (!COOKIE_NAME.test(name)) throw new Error(`invalid cookie name ${JSON.stringify(name.slice(0, 40))}`);
  if (!COOKIE_VALUE.test(value)) throw new Error(`cookie ${name}: the value has characters a cookie cannot carry (encode it first)`);
  const path = options.path ?? '/';
  if (!/^\/[^\s;,]*$/.test(path)) throw new Error(`cookie ${name}: invalid path`);
  const parts = [`${name}=${value}`, `Path=${path}`];
  if (options.maxAgeSeconds !== undefined) parts.push(`Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`);
  if (options.httpOnly ?? true) parts.push('HttpOnly');
  if (options.secure ?? true) parts.push('Secure');
  parts.push(`SameSite=${options.sameSite ?? 'Lax'}`);
  return parts.join('; ');
}

/** Headers every answer carries unless the handler sets them: no MIME sniffing, no caching of per-user answers. */
const DEFAULT_HEADERS: Readonly<Record<string, string>> = { 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' };

/**
 * The integration response for `response`. HEAD answers keep the headers and drop the body.
 * Throws for a header name or value that would break the response (a newline in a value).
 */
export function toIntegrationResponse(response: HttpResponse, options: { head?: boolean } = {}): IntegrationResponse {
  if (!Number.isInteger(response.status) || response.status < 100 || response.status > 599) throw new Error(`invalid HTTP status ${String(response.status)}`);
  const headers: Record<string, string> = { ...DEFAULT_HEADERS };
  for (const [name, value] of Object.entries(response.headers ?? {})) {
    const lower = name.toLowerCase();
    if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(lower)) throw new Error(`invalid header name ${JSON.stringify(name.slice(0, 40))}`);
    if (/[\r\n\0]/.test(value)) throw new Error(`header ${lower} has a line break in its value`);
    if (lower === 'set-cookie') throw new Error('Set-Cookie goes in response.cookies');
    headers[lower] = value;
  }
  const cookies = response.cookies ?? [];
  for (const cookie of cookies) if (/[\r\n\0]/.test(cookie)) throw new Error('a cookie has a line break in it');
  const multi = cookies.length > 1 ? { multiValueHeaders: { 'set-cookie': [...cookies] } } : {};
  if (cookies.length === 1) headers['set-cookie'] = cookies[0] as string;
  const body = options.head ? '' : response.body;
  if (Buffer.isBuffer(body)) return { isBase64Encoded: true, statusCode: response.status, headers, ...multi, body: body.toString('base64') };
  return { isBase64Encoded: false, statusCode: response.status, headers, ...multi, body: body ?? '' };
}
