/**
 * CloudBase's HTTP access service (HTTP 访问服务) in front of the host's functions: a function
 * declared with a path (cloudbaserc `"path": "/wx/push"`, which `tcb fn deploy` turns into a
 * route: reference/official-accounts.md §8.4) answers that path and its sub-paths. The request
 * becomes the integration event (§8.1), the function's return value becomes the answer (§8.2):
 * an integration response `{statusCode, headers, body, isBase64Encoded}` as given, a string or
 * number as text/plain, any other value as JSON.
 *
 * Not documented, so chosen here and easy to change: a body is passed base64-encoded
 * (`isBase64Encoded: true`) unless its content type is textual and its bytes are UTF-8 — or
 * always, with `bodyEncoding: 'always-base64'`, to prove a function handles both (whether
 * WeChat's `text/xml` push arrives encoded is an open question, §8 open questions 1); repeated
 * query names keep their first value; OPTIONS and HEAD reach the function like any method.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import type http from 'node:http';

/** The HTTP-access event a function receives. */
export interface HttpAccessEvent {
  path: string;
  httpMethod: string;
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  queryStringParameters: Record<string, string>;
  requestContext: { requestId: string; envId: string; appId: number; uin: number; sourceIp?: string };
  body: string;
  isBase64Encoded: boolean;
}

export type BodyEncoding = 'binary-as-base64' | 'always-base64';

/** A test's client address for one request (see buildHttpEvent); the sandbox's browser sends it. */
export const LOCAL_CLIENT_IP_HEADER = 'x-local-client-ip';

/** Paths the local stack itself answers: a function cannot take them over. */
const RESERVED_PREFIXES = ['/functions', '/admin', '/__'];
/** Local stand-ins for the account numbers the platform puts in requestContext. */
const LOCAL_APP_ID = 1250000000;
const LOCAL_UIN = 100000000001;

/** Throws unless `route` is a path a function may be reached at here. */
export function validateRoute(functionName: string, route: string): void {
  if (!/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(route) || route.includes('//') || (route.length > 1 && route.endsWith('/'))) {
    throw new Error(`function ${functionName}: HTTP path ${JSON.stringify(route)} must start with / and not end with one`);
  }
  if (route === '/') throw new Error(`function ${functionName}: the HTTP path / would take over the local stack; declare a prefix such as /claim`);
  const reserved = RESERVED_PREFIXES.find((prefix) => route === prefix || route.startsWith(prefix === '/__' ? prefix : `${prefix}/`));
  if (reserved !== undefined) throw new Error(`function ${functionName}: HTTP path ${route} is one the local stack answers itself (${reserved})`);
}

/** The route serving `pathname`: the route itself or a sub-path of it, the longest match winning. */
export function matchRoute(routes: Iterable<string>, pathname: string): string | undefined {
  let best: string | undefined;
  for (const route of routes) {
    if ((pathname === route || pathname.startsWith(`${route}/`)) && (best === undefined || route.length > best.length)) best = route;
  }
  return best;
}

const GATEWAY_HEADERS: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);
const TEXTUAL = /^(text\/|application\/(json|xml|x-www-form-urlencoded|javascript)|[^;]*\+(json|xml))/i;

/** Builds the integration event for one request whose body has been read. */
export function buildHttpEvent(req: http.IncomingMessage, body: Buffer, options: { envId: string; bodyEncoding: BodyEncoding }): HttpAccessEvent {
  const url = new URL(req.url ?? '/', 'http://local');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] as string).toLowerCase();
    (multiValueHeaders[name] ??= []).push(req.rawHeaders[i + 1] as string);
  }
  // The local stack stands in for clients all over the country from one loopback address: a test names
  // the address a request comes from (`x-local-client-ip`, the claim pages' region rule). Only here:
  // no gateway in production honours such a header, and this one never passes it on.
  const named = headers[LOCAL_CLIENT_IP_HEADER];
  delete headers[LOCAL_CLIENT_IP_HEADER];
  delete multiValueHeaders[LOCAL_CLIENT_IP_HEADER];
  const socketAddress = req.socket.remoteAddress?.replace(/^::ffff:(?=\d+\.)/, '');
  const remote = named !== undefined && isIP(named) !== 0 ? named : socketAddress;
  // As a gateway does, the client's address is appended to X-Forwarded-For: its last hop is the one a client cannot forge.
  if (remote !== undefined) headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${remote}` : remote;
  const queryStringParameters: Record<string, string> = {};
  for (const [name, value] of url.searchParams) if (!(name in queryStringParameters)) queryStringParameters[name] = value;
  const text = body.length === 0 ? '' : textOf(body, headers['content-type'], options.bodyEncoding);
  return {
    path: url.pathname,
    httpMethod: req.method ?? 'GET',
    headers,
    multiValueHeaders,
    queryStringParameters,
    // sourceIp as SCF's API-gateway event carries it (whether CloudBase's HTTP access does is UNVERIFIED).
    requestContext: { requestId: randomBytes(16).toString('hex'), envId: options.envId, appId: LOCAL_APP_ID, uin: LOCAL_UIN, ...(remote === undefined ? {} : { sourceIp: remote }) },
    body: text ?? body.toString('base64'),
    isBase64Encoded: body.length > 0 && text === undefined,
  };
}

function textOf(body: Buffer, contentType: string | undefined, encoding: BodyEncoding): string | undefined {
  if (encoding === 'always-base64' || contentType === undefined || !TEXTUAL.test(contentType)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return undefined;
  }
}

/** What goes on the wire for a function's return value; `problem` when it is not an answer the gateway could send. */
export type HttpAnswer =
  | { status: number; headers: Array<[string, string | string[]]>; body: Buffer }
  | { problem: string };

/** Translates a function's return value as the gateway does (§8.2). */
export function answerOf(result: unknown): HttpAnswer {
  if (typeof result === 'string' || typeof result === 'number' || typeof result === 'boolean') {
    return { status: 200, headers: [['content-type', 'text/plain; charset=utf-8']], body: Buffer.from(String(result)) };
  }
  if (result === null || result === undefined) return { status: 200, headers: [['content-type', 'text/plain; charset=utf-8']], body: Buffer.alloc(0) };
  const record = result as Record<string, unknown>;
  if (typeof result !== 'object' || Array.isArray(result) || typeof record.statusCode !== 'number') {
    return { status: 200, headers: [['content-type', 'application/json; charset=utf-8']], body: Buffer.from(JSON.stringify(result)) };
  }
  const status = record.statusCode;
  if (!Number.isInteger(status) || status < 100 || status > 599) return { problem: `statusCode ${String(status)} is not an HTTP status` };
  const headers: Array<[string, string | string[]]> = [];
  if (record.headers !== undefined) {
    if (typeof record.headers !== 'object' || record.headers === null) return { problem: 'headers must be an object' };
    for (const [name, value] of Object.entries(record.headers)) {
      if (typeof value !== 'string') return { problem: `header ${name} must be a string` };
      // Framing is the gateway's business, not the function's.
      if (!GATEWAY_HEADERS.has(name.toLowerCase())) headers.push([name.toLowerCase(), value]);
    }
  }
  if (record.multiValueHeaders !== undefined && typeof record.multiValueHeaders === 'object' && record.multiValueHeaders !== null) {
    for (const [name, values] of Object.entries(record.multiValueHeaders)) {
      if (!Array.isArray(values) || values.some((value) => typeof value !== 'string')) return { problem: `multiValueHeaders.${name} must be a list of strings` };
      const lower = name.toLowerCase();
      const index = headers.findIndex(([existing]) => existing === lower);
      if (index !== -1) headers.splice(index, 1);
      headers.push([lower, values as string[]]);
    }
  }
  if (record.body !== undefined && typeof record.body !== 'string') return { problem: 'body must be a string' };
  const text = (record.body as string | undefined) ?? '';
  const body = record.isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8');
  return { status, headers, body };
}
