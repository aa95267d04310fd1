/**
 * The WeChat Pay sandbox: a faithful local stand-in for api.mch.weixin.qq.com's red-packet APIs
 * (sendredpack, sendminiprogramhb, gethbinfo) over mutual TLS, and, with `v3` options, its APIv3
 * merchant transfers (v3/), plus the control API tests steer it with. The Pay API listens on its
 * own HTTPS port; mount `handleControl` under `/__sandbox/pay/` on the plain-HTTP stack port.
 */
import https from 'node:https';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { persistState, touchingHandler, touchingMethods, type SnapshotFileOptions } from '../persist';
import { SandboxInputError, expectNonNegativeNumber } from '../sandbox/validate';
import { queryRoute } from './api/query';
import { createPayApiHandler, type PayRoute } from './api/router';
import { sendRoutes } from './api/send';
import { createPayControl, type PaySandboxControl } from './control';
import { createPayControlHandler } from './control-http';
import { normalizePayOptions, type PaySandboxOptions } from './options';
import { createPayState, PAY_STATE_SCHEMA, PAY_TRANSIENT_KEYS } from './state';
import { createPayV3Sandbox, type PayV3SandboxControl, type PayV3SandboxOptions } from './v3';

export { GETHBINFO_PATH } from './api/query';
export { SENDMINIPROGRAMHB_PATH, SENDREDPACK_PATH } from './api/send';
export type { PayBehaviour, PayBehaviourInput, PayBehaviourView, QueryAppids } from './behaviour';
export { BizRedPacketFailure, type SendBizRedPacketInput, type SendBizRedPacketResult } from './client';
export type { PacketRef, PayClockView, PayLedgerEntry, PayMerchantView, PaySandboxControl } from './control';
export { PAY_CONTROL_PREFIX } from './control-http';
export type { PayFault, PayFaultInput } from './faults';
export type { PaySandboxMerchant, PaySandboxOptions } from './options';
export { PayErrCode } from './pay-errors';
export { BIZ_RED_PACKET_PAYSIGN_CASE, bizRedPacketPaySign, payStringSignTemp, payV2Sign, type PaySignType } from './sign';
export { OPENID_PATTERN, PACKET_REFUND_AFTER_MS, type PacketKind, type PacketStatus } from './state';
export type { PayStats } from './stats';
export * from './v3';

/** A running Pay sandbox. */
export interface PaySandbox {
  /** HTTPS server (own port on 127.0.0.1, requestCert + rejectUnauthorized against caPem): the Pay API. */
  url: string;
  /** Control API, mounted by the lead under `/__sandbox/pay/` on the plain-HTTP stack port (path includes the prefix). */
  handleControl(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
  /** The same operations programmatically. */
  control: PaySandboxControl;
  /** The APIv3 transfers' control operations (undefined without `v3` options). */
  transfers: PayV3SandboxControl | undefined;
  /** Stops the Pay API and writes the state to its snapshot file, if it has one. */
  close(): Promise<void>;
}

// The route table: each Pay API contributes its endpoint here.
const PAY_ROUTES: readonly PayRoute[] = [...sendRoutes, queryRoute];
const MAX_PORT = 65_535;

/**
 * Starts the Pay API on 127.0.0.1 (`port`, default 0 = a free one); options are validated strictly.
 * With `persistence`, the state (balances, packets, users, limits, the package signing secret) is
 * restored from its snapshot file and saved after every API and control call; without, it lives in memory.
 * The APIv3 side keeps its own snapshot beside it (`pay.json` → `pay-v3.json`).
 */
export async function startPaySandbox(
  options: PaySandboxOptions & { port?: number; v3?: PayV3SandboxOptions },
  persistence?: SnapshotFileOptions,
): Promise<PaySandbox> {
  const { v3: v3Options, ...payOptions } = options;
  const config = normalizePayOptions(payOptions);
  const port = options.port === undefined ? 0 : expectNonNegativeNumber(options.port, 'pay sandbox options.port', MAX_PORT);
  if (!Number.isInteger(port)) throw new SandboxInputError('pay sandbox options.port must be an integer');
  const state = createPayState(config);
  // Restored before the control and the handler capture the state.
  const persisted = persistence === undefined ? undefined : persistState(state, {
    ...persistence, schema: PAY_STATE_SCHEMA, transientKeys: PAY_TRANSIENT_KEYS, label: 'Pay sandbox',
  });
  const v3 = v3Options === undefined
    ? undefined
    : createPayV3Sandbox(v3Options, state, config, persistence === undefined ? undefined : { ...persistence, file: v3SnapshotFile(persistence.file) });
  const v2Control = createPayControl(state, new Set(PAY_ROUTES.map((route) => route.path)));
  // The Pay sandbox's reset and clock act on transfers too.
  const control = touchingMethods<PaySandboxControl>({
    ...v2Control,
    reset() {
      v2Control.reset();
      v3?.control.reset();
    },
    advanceClock(advanceMs) {
      const view = v2Control.advanceClock(advanceMs);
      v3?.settle();
      return view;
    },
  }, persisted);
  const handleApi = touchingHandler(createPayApiHandler(state, PAY_ROUTES), persisted);
  const handleV2Control = touchingHandler(createPayControlHandler(control), persisted);
  const server = https.createServer({
    ca: config.tls.caPem,
    cert: config.tls.certPem,
    key: config.tls.keyPem,
    // One port for both API generations, as api.mch.weixin.qq.com: APIv3 presents no client
    // certificate, so the handshake asks for one without insisting, and v2 insists below.
    requestCert: true,
    rejectUnauthorized: false,
  }, (req, res) => {
    if (v3 !== undefined && (req.url ?? '').startsWith('/v3/')) {
      void v3.handleApi(req, res);
      return;
    }
    // WeChat Pay refuses red-packet calls without the merchant certificate (or with an untrusted one).
    if (!(req.socket as TLSSocket).authorized) {
      state.counters.tlsHandshakeFailures += 1;
      persisted?.touch();
      req.socket.destroy();
      return;
    }
    void handleApi(req, res);
  });
  server.on('tlsClientError', () => {
    state.counters.tlsHandshakeFailures += 1;
    persisted?.touch();
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  } catch (error) {
    v3?.close();
    persisted?.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${address.port}`,
    async handleControl(req, res) {
      const pathname = new URL(req.url ?? '/', 'http://sandbox').pathname;
      if (v3?.ownsControlPath(pathname)) await v3.handleControl(req, res);
      else await handleV2Control(req, res);
    },
    control,
    transfers: v3?.control,
    async close() {
      await new Promise<void>((resolve, reject) => {
        // Keep-alive sockets of clients would otherwise hold close() open.
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      });
      v3?.close();
      persisted?.close();
    },
  };
}

/** The APIv3 side's snapshot beside the Pay sandbox's: `pay.json` → `pay-v3.json`. */
function v3SnapshotFile(file: string): string {
  return path.join(path.dirname(file), `${path.basename(file, '.json')}-v3.json`);
}
