/**
 * The HTTP control API under `/__sandbox/`: JSON in, JSON out, bad input → 400 `{error}`,
 * unknown operation → 404, wrong method → 405, never a crash.
 *
 *   GET  stats                      GET  stats/accounts         POST stats/reset            POST reset {keepAccounts?}
 *   GET  clock                      POST clock {advanceMs}
 *   GET  accounts                   POST accounts {appid, secret, kind?, verified?, originalId?, name?, push?, openPlatformId?, ipWhitelist?}
 *   POST whitelist {ips, appid?}    GET  tokens?appid=          POST tokens/expire {appid}
 *   POST tokens/invalidate {appid, kind?}                       POST tokens/other-system-fetch {appid}
 *   POST faults {path, errcode?, errmsg?, delayMs?, drop?, times?}   GET faults   DELETE faults
 *   GET  cards?appid=               POST cards/status {card_id, status}
 *   POST client/add-card {appid, openid, cardList}   → wx.addCard's result (errMsg addCard:ok / addCard:fail …)
 *   POST client/delete-card {appid, openid, cardId, code}
 *   GET  users?user=                POST users/follow {user, appid, scene?|ticket?, addScene?, timestampSkewSeconds?, duplicate?}
 *   POST users/unfollow {user, appid, timestampSkewSeconds?, duplicate?}   POST users/message {user, appid, text, …}
 *        → {id, delivered, attempts, status, answer, reply, replyError}
 *   GET  pushes?appid=              POST pushes/replay {id, ageSeconds?}     POST pushes/settings {timeoutMs}
 *   POST pushes/flush               (waits for WeChat's own pushes: card events)
 *   POST browser/open {user, url, method?, form?, clientIp?}   → {status, url, headers, body} (WeChat's in-app browser, OAuth included)
 *   POST browser/jsapi/verify {appId, timestamp, nonceStr, signature, url, jsApiList}   → {errMsg} (what wx.config gets)
 *   GET  browser/jsapi/verifications   POST users/snapshot {user, on}   POST tickets/invalidate {appid, type?}
 *   POST risk {user|openid, appid?, rank?, visited?}   → {appid, openid, rank, visitedAtMs, lastAsked} (wxa/getuserriskrank's answer for that user)
 *   GET  risk?openid=&appid=        → {user: … | null}
 *   GET  jweixin-1.6.0.js           (the JS-SDK stand-in: served by index.ts, not JSON)
 */
import type http from 'node:http';
import type { ClientAddCardInput, ClientDeleteCardInput } from './client';
import type { SandboxControl } from './control';
import type { CardStatus } from './card-state';
import type { FaultInput } from './faults';
import { BodyTooLargeError, parseJsonBody, readBody, sendJson } from './http';
import type { TokenKind } from './state';
import { SandboxInputError, expectRecord } from './validate';

const CONTROL_PREFIX = '/__sandbox';
// A cardList of a few dozen signed items fits many times over.
const CONTROL_BODY_LIMIT_BYTES = 64 * 1024;

type Operation = (body: unknown, url: URL) => unknown;

/** The sandbox's `handleControl`: the URL path includes the `/__sandbox` prefix. */
export function createControlHandler(control: SandboxControl): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> {
  const ok = { ok: true };
  const field = (body: unknown, what: string, keys: readonly string[]): Record<string, unknown> =>
    expectRecord(body ?? {}, what, keys);
  const operations: Record<string, Partial<Record<string, Operation>>> = {
    '/stats': { GET: () => control.stats() },
    '/stats/accounts': { GET: () => control.accountStats() },
    '/stats/reset': { POST: () => (control.resetStats(), ok) },
    '/reset': { POST: (body) => (control.reset(field(body, 'reset body', ['keepAccounts'])), ok) },
    '/clock': {
      GET: () => control.clock(),
      POST: (body) => control.advanceClock(field(body, 'clock body', ['advanceMs']).advanceMs as number),
    },
    '/accounts': {
      GET: () => control.accounts(),
      POST: (body) => (control.setAccount(body as { appid: string; secret: string }), ok),
    },
    '/whitelist': {
      POST: (body) => {
        const record = field(body, 'whitelist body', ['ips', 'appid']);
        return { ips: control.setWhitelist(record.ips as string[] | null, record.appid as string | undefined) };
      },
    },
    '/tokens': { GET: (_body, url) => ({ tokens: control.tokens(url.searchParams.get('appid') as string) }) },
    '/tokens/expire': { POST: (body) => control.expireTokens(field(body, 'expire body', ['appid']).appid as string) },
    '/tokens/invalidate': {
      POST: (body) => {
        const record = field(body, 'invalidate body', ['appid', 'kind']);
        return control.invalidateTokens(record.appid as string, record.kind as TokenKind | 'all' | undefined);
      },
    },
    '/tokens/other-system-fetch': {
      POST: (body) => control.otherSystemFetch(field(body, 'other-system-fetch body', ['appid']).appid as string),
    },
    '/faults': {
      GET: () => ({ faults: control.faults() }),
      POST: (body) => control.addFault(body as FaultInput),
      DELETE: () => (control.clearFaults(), ok),
    },
    '/cards': { GET: (_body, url) => ({ cards: control.cards(url.searchParams.get('appid') ?? undefined) }) },
    '/cards/status': { POST: (body) => control.setCardStatus(body as { card_id: string; status: CardStatus }) },
    '/client/add-card': { POST: (body) => control.addCard(body as ClientAddCardInput) },
    '/client/delete-card': {
      POST: async (body) => {
        control.deleteCard(body as ClientDeleteCardInput);
        await control.users.flush();
        return ok;
      },
    },
    '/users': { GET: (_body, url) => control.users.user(url.searchParams.get('user')) },
    '/users/follow': { POST: (body) => control.users.follow(body) },
    '/users/unfollow': { POST: (body) => control.users.unfollow(body) },
    '/users/message': { POST: (body) => control.users.message(body) },
    '/pushes': { GET: (_body, url) => ({ pushes: control.users.pushes(url.searchParams.get('appid') ?? undefined) }) },
    '/pushes/replay': { POST: (body) => control.users.replay(body) },
    '/pushes/settings': { POST: (body) => control.users.setPushTimeout(body) },
    '/pushes/flush': { POST: async () => (await control.users.flush(), ok) },
    '/browser/open': { POST: (body) => control.browser.open(body) },
    '/browser/jsapi/verify': { POST: (body) => control.browser.verifyJsapi(body) },
    '/browser/jsapi/verifications': { GET: () => control.browser.verifications() },
    '/users/snapshot': { POST: (body) => control.browser.setSnapshot(body) },
    '/tickets/invalidate': { POST: (body) => control.browser.invalidateTickets(body) },
    '/risk': {
      GET: (_body, url) => ({ user: control.riskUser({ openid: url.searchParams.get('openid'), appid: url.searchParams.get('appid') }) }),
      POST: (body) => control.setRiskUser(body),
    },
  };
  return async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://sandbox');
      const byMethod = url.pathname.startsWith(`${CONTROL_PREFIX}/`) ? operations[url.pathname.slice(CONTROL_PREFIX.length)] : undefined;
      if (byMethod === undefined) {
        sendJson(res, 404, { error: `no sandbox control operation ${url.pathname}` });
        return;
      }
      const operation = byMethod[req.method ?? 'GET'];
      if (operation === undefined) {
        sendJson(res, 405, { error: `${url.pathname} accepts ${Object.keys(byMethod).join(', ')}` });
        return;
      }
      const raw = await readBody(req, CONTROL_BODY_LIMIT_BYTES);
      const body = raw.length === 0 ? undefined : parseJsonBody(raw);
      if (raw.length > 0 && body === undefined) throw new SandboxInputError('the request body is not JSON');
      sendJson(res, 200, await operation(body, url));
    } catch (error) {
      if (error instanceof SandboxInputError) sendJson(res, 400, { error: error.message });
      else if (error instanceof BodyTooLargeError) sendJson(res, 413, { error: error.message });
      else sendJson(res, 500, { error: `sandbox control failed: ${error instanceof Error ? error.message : String(error)}` });
    }
  };
}
