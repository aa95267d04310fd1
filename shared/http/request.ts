/**
 * CloudBase's HTTP-access event (集成请求, reference/official-accounts.md §8.1) turned into a
 * typed request. The body stays raw bytes: push and Pay signatures are computed over exactly
 * what was sent, so nothing here decodes, trims or re-serialises it.
 */
import { isIP } from 'node:net';
import { clip, echo } from '../echo';
import { AppError, ErrorCode, InputError } from '../errors';

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** One HTTP-access request, as a handler and a proof see it. */
export interface HttpRequest {
  /** Upper-case. A HEAD request is run by the GET handler (see defineHttpHandler). */
  readonly method: HttpMethod;
  /** The path the platform passed, e.g. `/wx/push/wx10ca1000000000a1`. */
  readonly path: string;
  /**
   * `path` below the handler's declared route, `''` or starting with `/`: `/wx10ca1000000000a1`
   * for route `/wx/push`. The path as given when it does not start with the route (CloudBase's
   * 路径透传 setting decides whether the route prefix is passed on).
   */
  readonly subpath: string;
  /** Query parameters, as the platform passed them (one value per name). */
  readonly query: Readonly<Record<string, string>>;
  /** Header names lower-cased; values as sent. */
  readonly headers: Readonly<Record<string, string>>;
  /** Cookies from the `cookie` header (first value of a repeated name). */
  readonly cookies: Readonly<Record<string, string>>;
  /** The body's bytes exactly as sent: base64-decoded when the platform flagged it, never re-encoded. */
  readonly body: Buffer;
  /** The platform's request id (requestContext.requestId), for logs. */
  readonly requestId: string;
  /**
   * The client's address as the platform set it (`requestContext.sourceIp`, what SCF's API-gateway
   * event documents; CloudBase's HTTP-access sample shows no such field: UNVERIFIED), or null.
   * Never a header: a client writes those.
   */
  readonly sourceIp: string | null;
}

/** True for an event shaped like HTTP access: what the callable functions refuse and the HTTP ones require. */
export function looksLikeHttpEvent(event: unknown): event is Record<string, unknown> {
  return isRecord(event) && typeof event.httpMethod === 'string' && isRecord(event.headers);
}

/**
 * Reads the event. Throws InputError (400) for anything malformed; the size limit is checked
 * on the encoded body before it is decoded, so an oversized body costs no decoding.
 */
export function parseHttpEvent(event: Record<string, unknown>, options: { route?: string; maxBodyBytes: number }): HttpRequest {
  const method = String(event.httpMethod).toUpperCase();
  if (!(HTTP_METHODS as readonly string[]).includes(method)) throw new InputError(`Unsupported method ${echo(event.httpMethod)}`);
  if (typeof event.path !== 'string' || !event.path.startsWith('/')) throw new InputError('The request has no path');
  const path = event.path;
  const headers = stringMap(event.headers, 'headers', (name) => name.toLowerCase());
  const query = event.queryStringParameters === undefined || event.queryStringParameters === null ? {} : stringMap(event.queryStringParameters, 'query');
  const base64 = event.isBase64Encoded === true || event.isBase64Encoded === 'true';
  const body = readBody(event.body, base64, options.maxBodyBytes);
  const context = isRecord(event.requestContext) ? event.requestContext : {};
  return {
    method: method as HttpMethod,
    path,
    subpath: subpathOf(path, options.route),
    query,
    headers,
    cookies: parseCookies(headers.cookie),
    body,
    requestId: typeof context.requestId === 'string' ? clip(context.requestId, 64) : '',
    sourceIp: typeof context.sourceIp === 'string' && isIP(context.sourceIp) !== 0 ? context.sourceIp : null,
  };
}

/** The body as UTF-8 text; bytes that are not UTF-8 are refused rather than replaced. */
export function bodyText(request: HttpRequest): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(request.body);
  } catch {
    throw new InputError('The body is not UTF-8 text');
  }
}

/** The body as JSON, no deeper than `maxDepth` levels (a deep document is refused, not walked). */
export function bodyJson(request: HttpRequest, maxDepth = 32): unknown {
  const text = bodyText(request);
  if (deeperThan(text, maxDepth)) throw new InputError(`The JSON body is nested deeper than ${maxDepth} levels`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new InputError('The body is not JSON');
  }
}

/** An `application/x-www-form-urlencoded` body (first value of a repeated name). */
export function bodyForm(request: HttpRequest): Record<string, string> {
  const form: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(bodyText(request))) if (!(name in form)) form[name] = value;
  return form;
}

function readBody(value: unknown, base64: boolean, maxBodyBytes: number): Buffer {
  if (value === undefined || value === null || value === '') return Buffer.alloc(0);
  if (typeof value !== 'string') throw new InputError('The request body must be a string');
  // Base64 carries 3 bytes per 4 characters: the decoded size is known before decoding.
  const padding = base64 ? (value.endsWith('==') ? 2 : value.endsWith('=') ? 1 : 0) : 0;
  const sizeBytes = base64 ? Math.floor((value.length * 3) / 4) - padding : Buffer.byteLength(value, 'utf8');
  if (sizeBytes > maxBodyBytes) throw new PayloadTooLargeError(maxBodyBytes);
  if (!base64) return Buffer.from(value, 'utf8');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) throw new InputError('The request body is flagged base64 but is not');
  return Buffer.from(value, 'base64');
}

/** A body over the route's limit (413). */
export class PayloadTooLargeError extends AppError {
  readonly maxBodyBytes: number;
  constructor(maxBodyBytes: number) {
    super(ErrorCode.PAYLOAD_TOO_LARGE, `The request body is larger than ${maxBodyBytes} bytes`, { expose: true });
    this.maxBodyBytes = maxBodyBytes;
  }
}

function stringMap(value: unknown, what: string, key: (name: string) => string = (name) => name): Record<string, string> {
  if (!isRecord(value)) throw new InputError(`The request ${what} must be an object`);
  const out: Record<string, string> = {};
  for (const [name, item] of Object.entries(value)) {
    // A repeated name may arrive as a list; its first value is the one read, as for the query.
    const text = Array.isArray(item) ? item[0] : item;
    if (typeof text !== 'string') throw new InputError(`The request ${what} ${echo(name)} must be text`);
    const normalised = key(name);
    if (!(normalised in out)) out[normalised] = text;
  }
  return out;
}

function subpathOf(path: string, route: string | undefined): string {
  if (route === undefined || route === '/') return path;
  if (path === route) return '';
  return path.startsWith(`${route}/`) ? path.slice(route.length) : path;
}

function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  if (header === undefined) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (name !== '' && !(name in cookies)) cookies[name] = value;
  }
  return cookies;
}

/** Counts bracket depth outside strings without parsing; enough to refuse a deep document early. */
function deeperThan(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === 0x5c) i += 1;
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) inString = true;
    else if (char === 0x7b || char === 0x5b) {
      depth += 1;
      if (depth > maxDepth) return true;
    } else if (char === 0x7d || char === 0x5d) depth -= 1;
  }
  return false;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
