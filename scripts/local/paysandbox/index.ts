/**
 * The WeChat Pay sandbox: a faithful local stand-in for api.mch.weixin.qq.com's red-packet APIs
 * (sendredpack, sendminiprogramhb, gethbinfo) over mutual TLS, plus the control API tests steer
 * it with. The Pay API listens on its own HTTPS port; mount `handleControl` under
 * `/__sandbox/pay/` on the plain-HTTP stack port.
 */
import https from 'node:https';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SandboxInputError, expectNonNegativeNumber } from '../sandbox/validate';
import { queryRoute } from './api/query';
import { createPayApiHandler, type PayRoute } from './api/router';
import { sendRoutes } from './api/send';
import { createPayControl, type PaySandboxControl } from './control';
import { createPayControlHandler } from './control-http';
import { normalizePayOptions, type PaySandboxOptions } from './options';
import { createPayState } from './state';

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

/** A running Pay sandbox. */
export interface PaySandbox {
  /** HTTPS server (own port on 127.0.0.1, requestCert + rejectUnauthorized against caPem): the Pay API. */
  url: string;
  /** Control API, mounted by the lead under `/__sandbox/pay/` on the plain-HTTP stack port (path includes the prefix). */
  handleControl(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
  /** The same operations programmatically. */
  control: PaySandboxControl;
  close(): Promise<void>;
}

// The route table: each Pay API contributes its endpoint here.
const PAY_ROUTES: readonly PayRoute[] = [...sendRoutes, queryRoute];
const MAX_PORT = 65_535;

/** Starts the Pay API on 127.0.0.1 (`port`, default 0 = a free one); options are validated strictly. */
export async function startPaySandbox(options: PaySandboxOptions & { port?: number }): Promise<PaySandbox> {
  const config = normalizePayOptions(options);
  const port = options.port === undefined ? 0 : expectNonNegativeNumber(options.port, 'pay sandbox options.port', MAX_PORT);
  if (!Number.isInteger(port)) throw new SandboxInputError('pay sandbox options.port must be an integer');
  const state = createPayState(config);
  const control = createPayControl(state, new Set(PAY_ROUTES.map((route) => route.path)));
  const handleApi = createPayApiHandler(state, PAY_ROUTES);
  const server = https.createServer({
    ca: config.tls.caPem,
    cert: config.tls.certPem,
    key: config.tls.keyPem,
    // WeChat Pay refuses red-packet calls without the merchant certificate at the TLS layer.
    requestCert: true,
    rejectUnauthorized: true,
  }, (req, res) => {
    void handleApi(req, res);
  });
  server.on('tlsClientError', () => {
    state.counters.tlsHandshakeFailures += 1;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${address.port}`,
    handleControl: createPayControlHandler(control),
    control,
    close: () =>
      new Promise<void>((resolve, reject) => {
        // Keep-alive sockets of clients would otherwise hold close() open.
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
