/**
 * The WeChat API side of the sandbox: one route table built from the API family modules
 * (token, ticket, later card, media, pay). Every request is counted, then faults apply, then
 * the family's handler answers. WeChat answers errors with HTTP 200 and an errcode body, so
 * handlers return only the JSON body.
 */
import type http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { takeFault } from '../faults';
import { BodyTooLargeError, normalizeRemoteAddress, readBody, sendJson } from '../http';
import { accountHas, type SandboxCapability } from '../permissions';
import { tokenStatus, type SandboxState } from '../state';
import { recordCall, recordError } from '../stats';
import { WechatErrcode, wechatError } from '../wechat-errors';

/** What a handler sees of a request. */
export interface ApiRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  /** The caller's IP with `::ffff:` removed, as the whitelist holds it. */
  readonly remoteAddress: string;
}

/** One WeChat endpoint. */
export interface ApiRoute {
  readonly path: string;
  /** The stats detail key when variants matter (`/cgi-bin/ticket/getticket?type=wx_card`); default the path. */
  detailKey?(request: ApiRequest): string;
  /** The account a request is for when it carries no access_token (the token APIs name it), for per-account stats. */
  appidOf?(request: ApiRequest): string | null;
  /**
   * The API right the request needs (permissions.ts). An account without it gets 48001 after its
   * access_token checked out, as WeChat answers; a bad token still gets 40001/42001 first.
   */
  requires?(request: ApiRequest): SandboxCapability | undefined;
  handle(state: SandboxState, request: ApiRequest): Record<string, unknown> | Promise<Record<string, unknown>>;
  /** For the few endpoints that answer bytes instead of JSON (showqrcode's image): used instead of `handle`. */
  handleRaw?(state: SandboxState, request: ApiRequest): Promise<RawReply>;
}

/** A non-JSON answer. */
export interface RawReply {
  status: number;
  contentType: string;
  body: Buffer;
  /** More headers (a redirect's Location). */
  headers?: Record<string, string>;
}

// Card logos may be up to 1 MB, plus the multipart envelope.
const API_BODY_LIMIT_BYTES = 2 * 1024 * 1024;

/** The account whose live access_token the request carries, if any. */
function tokenAccount(state: SandboxState, url: URL) {
  const accessToken = url.searchParams.get('access_token');
  if (accessToken === null || accessToken === '') return undefined;
  const found = tokenStatus(state, accessToken);
  return found.status === 'live' ? state.accounts.get(found.record.appid) : undefined;
}

/** A route that needs an API right for every request (the card APIs need 卡券 rights). */
export function requiring(route: ApiRoute, capability: SandboxCapability): ApiRoute {
  return { ...route, requires: (request) => route.requires?.(request) ?? capability };
}

/** The `handleApi` of the sandbox over a route table. */
export function createApiHandler(state: SandboxState, routes: readonly ApiRoute[]): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> {
  const byPath = new Map(routes.map((route) => [route.path, route]));
  const serve = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://api.weixin.qq.com');
    const path = url.pathname;
    const route = byPath.get(path);
    let body: Buffer;
    try {
      body = await readBody(req, API_BODY_LIMIT_BYTES);
    } catch (error) {
      recordCall(state, path, path);
      if (error instanceof BodyTooLargeError) sendJson(res, 413, { error: error.message });
      else req.socket.destroy();
      return;
    }
    const request: ApiRequest = {
      method: req.method ?? 'GET',
      url,
      headers: req.headers,
      body,
      remoteAddress: normalizeRemoteAddress(req.socket.remoteAddress),
    };
    const detailKey = route?.detailKey?.(request) ?? path;
    recordCall(state, path, detailKey, route?.appidOf?.(request) ?? tokenAccount(state, url)?.appid ?? null);
    if (route === undefined) {
      sendJson(res, 404, { error: `the sandbox has no WeChat API ${path}` });
      return;
    }
    const reply = (payload: Record<string, unknown>): void => {
      if (typeof payload.errcode === 'number' && payload.errcode !== 0) recordError(state, path, payload.errcode);
      sendJson(res, 200, payload);
    };
    const fault = takeFault(state, path, detailKey);
    if (fault !== undefined) {
      // Unref'd so a pending delay never keeps a test process alive after the server closed.
      if (fault.delayMs > 0) await sleep(fault.delayMs, undefined, { ref: false });
      if (fault.drop) {
        req.socket.destroy();
        return;
      }
      if (fault.errcode !== undefined) {
        reply(wechatError(fault.errcode, fault.errmsg));
        return;
      }
    }
    if (route.handleRaw !== undefined) {
      const raw = await route.handleRaw(state, request);
      if (!res.headersSent && !res.destroyed) res.writeHead(raw.status, { ...raw.headers, 'content-type': raw.contentType, 'content-length': raw.body.length }).end(raw.body);
      return;
    }
    const needed = route.requires?.(request);
    const account = needed === undefined ? undefined : tokenAccount(state, url);
    if (needed !== undefined && account !== undefined && !accountHas(account, needed)) {
      reply(wechatError(WechatErrcode.API_UNAUTHORIZED));
      return;
    }
    reply(await route.handle(state, request));
  };
  return async (req, res) => {
    try {
      await serve(req, res);
    } catch (error) {
      // A sandbox bug must show up in the test that hit it, not crash the server for every test.
      sendJson(res, 500, { error: `sandbox failed: ${error instanceof Error ? error.message : String(error)}` });
    }
  };
}
