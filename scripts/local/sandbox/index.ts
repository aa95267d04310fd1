/**
 * The WeChat API sandbox: a faithful local stand-in for api.weixin.qq.com (tokens, tickets,
 * image upload, cards and card codes; one module per API family in `api/`), plus the control
 * API tests steer it with, which also plays the WeChat client's wx.addCard. Mount `handleApi`
 * at the root and `handleControl` under `/__sandbox/`, or use {@link startWechatSandbox} in tests.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { persistState, touchingHandler, touchingMethods, type SnapshotFileOptions } from '../persist';
import { cardRoutes } from './api/card';
import { JSSDK_STAND_IN } from './browser';
import { uploadImageRoute } from './api/media';
import { customSendRoute } from './api/message';
import { oauthRoutes } from './api/oauth';
import { qrCodeRoutes } from './api/qrcode';
import { riskRankRoute } from './api/risk';
import { ticketRoute } from './api/ticket';
import { userInfoRoute } from './api/user';
import { tokenRoutes } from './api/token';
import { createApiHandler, requiring, type ApiRoute } from './api/router';
import { createSandboxControl, type SandboxControl } from './control';
import { createControlHandler } from './control-http';
import { normalizeOptions, type WechatSandboxOptions } from './options';
import { createSandboxState, SANDBOX_STATE_SCHEMA, SANDBOX_TRANSIENT_KEYS, type SandboxState } from './state';

export { requireAccessToken, type AccessTokenCheck } from './access';
export type { CardDateInfo, CardStatus, CardType, UserCardStatus } from './card-state';
export type { AddCardResult, AddCardResultItem, ClientAddCardInput, ClientDeleteCardInput } from './client';
export type { SandboxAccountsView, SandboxAccountView, SandboxCardView, SandboxClockView, SandboxControl, SandboxTokenView, SandboxUserCardView } from './control';
export type { Fault, FaultInput } from './faults';
export type { SandboxAccount, SandboxAccountInput, SandboxAccountKind, SandboxPushConfig, WechatSandboxOptions } from './options';
export { isValidTicket, type SandboxState, type TicketType, type TokenKind } from './state';
export type { SandboxAccountStats, SandboxStats } from './stats';
export { SandboxInputError } from './validate';
export type { DeliveryResult, SandboxUserView } from './users';
export { WechatErrcode } from './wechat-errors';

/** One sandbox: its handlers, its control operations and its state (for sibling modules and tests). */
export interface WechatSandbox {
  /** Serves the WeChat API paths (/cgi-bin/..., /card/...). Resolves after responding. Unknown path → 404 JSON. */
  handleApi(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
  /** Serves the control API; the URL path includes the "/__sandbox" prefix. */
  handleControl(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
  /** The same control operations, programmatically (for tests). */
  control: SandboxControl;
  /** The state every endpoint shares, e.g. for `isValidTicket(sandbox.state, …)`. */
  state: SandboxState;
  /** Writes the state to its snapshot file, if it has one (see `../persist.ts`); later changes are not saved. */
  close(): Promise<void>;
}

/** A sandbox listening on its own loopback port. */
export interface RunningWechatSandbox extends WechatSandbox {
  /** Base URL, e.g. `http://127.0.0.1:40123`; WeChat paths and `/__sandbox/…` hang off it. */
  url: string;
  close(): Promise<void>;
}

/** Where the JS-SDK stand-in is served (the local stack's JSSDK_SCRIPT_URL). */
export const JSSDK_STAND_IN_PATH = '/__sandbox/jweixin-1.6.0.js';

// The route table: each WeChat API family contributes its endpoints here.
const API_ROUTES: readonly ApiRoute[] = [
  ...tokenRoutes, ticketRoute, uploadImageRoute, ...cardRoutes.map((route) => requiring(route, 'cards')),
  ...qrCodeRoutes, userInfoRoute, customSendRoute, ...oauthRoutes, riskRankRoute,
];

/**
 * Creates a sandbox; options are validated strictly (a bad option throws SandboxInputError).
 * With `persistence`, the state is restored from its snapshot file and saved after every API and
 * control call, so tokens, tickets, cards and codes outlive a restart; without, it lives in memory.
 */
export function createWechatSandbox(options: WechatSandboxOptions, persistence?: SnapshotFileOptions): WechatSandbox {
  const state = createSandboxState(normalizeOptions(options));
  // Restored before the control and the handlers capture the state.
  const persisted = persistence === undefined ? undefined : persistState(state, {
    ...persistence, schema: SANDBOX_STATE_SCHEMA, transientKeys: SANDBOX_TRANSIENT_KEYS, label: 'WeChat sandbox',
  });
  const control = touchingMethods(createSandboxControl(state, new Set(API_ROUTES.map((route) => route.path))), persisted);
  const controlHandler = touchingHandler(createControlHandler(control), persisted);
  return {
    handleApi: touchingHandler(createApiHandler(state, API_ROUTES), persisted),
    handleControl: async (req, res) => {
      // The JS-SDK stand-in is a script, not a JSON operation.
      if ((req.url ?? '').split('?')[0] === JSSDK_STAND_IN_PATH) {
        req.resume();
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' }).end(JSSDK_STAND_IN);
        return;
      }
      await controlHandler(req, res);
    },
    control,
    state,
    close: async () => persisted?.close(),
  };
}

/** For tests: an http server on 127.0.0.1 (port 0) serving both the WeChat API and the control API. */
export async function startWechatSandbox(options: WechatSandboxOptions, persistence?: SnapshotFileOptions): Promise<RunningWechatSandbox> {
  const sandbox = createWechatSandbox(options, persistence);
  const server = http.createServer((req, res) => {
    const isControl = (req.url ?? '/').startsWith('/__sandbox/');
    void (isControl ? sandbox.handleControl(req, res) : sandbox.handleApi(req, res));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    ...sandbox,
    url: `http://127.0.0.1:${port}`,
    async close() {
      await new Promise<void>((resolve, reject) => {
        // Keep-alive sockets of test clients would otherwise hold close() open.
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      });
      await sandbox.close();
    },
  };
}
