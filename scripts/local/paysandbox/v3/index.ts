/**
 * The Pay sandbox's APIv3: merchant transfers (商家转账) under WeChat's real paths on the Pay
 * sandbox's HTTPS port, notifies to a configurable URL, and the control API under
 * `/__sandbox/pay/transfers…` and `/__sandbox/pay/client/request-merchant-transfer`:
 *
 *   GET  transfers                 GET transfers/stats            GET transfers/merchants
 *   POST transfers/balance {mchId, balanceFen}
 *   GET|POST|DELETE transfers/faults {operation, outBillNo?, code?, status?, message?, unparseable?, drop?, signature?, accept?, delayMs?, times?}
 *   GET|POST|DELETE transfers/notify-faults {outBillNo?, lose? | duplicate?, times?}
 *   POST transfers/query-lag {lagMs}          POST transfers/notify-url {url | null}
 *   GET  transfers/notifies        POST transfers/notifies/flush  POST transfers/notifies/replay {id}
 *   POST client/request-merchant-transfer {appId, mchId, package, openid, action: "confirm" | "cancel"}
 *
 * The clock (`POST clock`), the user registry (`POST users`) and `POST reset` are the Pay sandbox's.
 */
import type http from 'node:http';
import { persistState, touchingHandler, touchingMethods, type SnapshotFileOptions } from '../../persist';
import { BodyTooLargeError, parseJsonBody, readBody, sendJson } from '../../sandbox/http';
import { SandboxInputError } from '../../sandbox/validate';
import type { PayConfig } from '../options';
import type { PayState } from '../state';
import { createV3ApiHandler } from './api';
import { createPayV3Control, type PayV3SandboxControl } from './control';
import { createNotifier } from './notify';
import { normalizeV3Options, type PayV3SandboxOptions } from './options';
import { V3_STATE_SCHEMA, createV3State, settleBills, type V3Context } from './state';

export { TRANSFER_BILLS_PATH } from './api';
export type { RequestMerchantTransferInput, RequestMerchantTransferResult } from './client';
export type { NotifyView, PayV3SandboxControl, TransferView, V3Stats } from './control';
export { V3_CODE_STATUS, type NotifyFaultInput, type SignatureFault, type V3Fault, type V3FaultInput, type V3Operation } from './faults';
export type { PayV3SandboxMerchant, PayV3SandboxOptions, PayV3SandboxWechatPay } from './options';
export { OVERDUE_CLOSE_REASON, type NotifyAttempt, type TransferState } from './state';

/** The APIv3 side of a running Pay sandbox. */
export interface PayV3Sandbox {
  /** Serves a request whose path starts with `/v3/`. */
  handleApi(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
  /** Whether a control path (prefix included) is the APIv3 side's. */
  ownsControlPath(pathname: string): boolean;
  handleControl(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
  control: PayV3SandboxControl;
  /** Lets time act (after the Pay sandbox's clock moved) and sends what became due. */
  settle(): void;
  close(): void;
}

const CONTROL_PREFIX = '/__sandbox/pay';
const CONTROL_BODY_LIMIT_BYTES = 64 * 1024;

/**
 * Starts the APIv3 side over the Pay sandbox's state (clock, users); options are validated
 * strictly. With `persistence` its state (bills, packages, balances, notifies and their retries)
 * is restored from its own snapshot file and saved after every call and every background step.
 */
export function createPayV3Sandbox(options: PayV3SandboxOptions, pay: PayState, payConfig: PayConfig, persistence?: SnapshotFileOptions): PayV3Sandbox {
  const config = normalizeV3Options(options, payConfig);
  const ctx: V3Context = { config, pay, state: createV3State(config, pay) };
  // Restored before the notifier and the control capture the state; the state holds no config.
  const persisted = persistence === undefined ? undefined : persistState(ctx.state, {
    ...persistence, schema: V3_STATE_SCHEMA, transientKeys: [], label: 'Pay sandbox (APIv3)',
  });
  const notifier = createNotifier(ctx);
  const control = touchingMethods(createPayV3Control(ctx, notifier), persisted);
  const ok = { ok: true };
  type Operation = (body: unknown) => unknown;
  const operations: Record<string, Partial<Record<string, Operation>>> = {
    '/transfers': { GET: () => ({ transfers: control.transfers() }) },
    '/transfers/stats': { GET: () => control.stats() },
    '/transfers/merchants': { GET: () => ({ merchants: control.merchants() }) },
    '/transfers/balance': { POST: (body) => control.setBalance(body as never) },
    '/transfers/faults': {
      GET: () => ({ faults: control.faults() }),
      POST: (body) => control.addFault(body as never),
      DELETE: () => (control.clearFaults(), ok),
    },
    '/transfers/notify-faults': {
      GET: () => ({ faults: control.notifyFaults() }),
      POST: (body) => control.addNotifyFault(body as never),
      DELETE: () => (control.clearNotifyFaults(), ok),
    },
    '/transfers/query-lag': { POST: (body) => control.setQueryLag(body as never) },
    '/transfers/notify-url': { POST: (body) => control.setNotifyUrl(body as never) },
    '/transfers/notifies': { GET: () => ({ notifies: control.notifies() }) },
    '/transfers/notifies/flush': { POST: async () => ({ notifies: await control.flushNotifies() }) },
    '/transfers/notifies/replay': { POST: (body) => control.replayNotify(body as never) },
    '/client/request-merchant-transfer': { POST: (body) => control.requestMerchantTransfer(body as never) },
  };
  return {
    handleApi: touchingHandler(createV3ApiHandler(ctx, () => notifier.deliverDue()), persisted),
    ownsControlPath: (pathname) => pathname.startsWith(CONTROL_PREFIX) && operations[pathname.slice(CONTROL_PREFIX.length)] !== undefined,
    async handleControl(req, res) {
      try {
        const { pathname } = new URL(req.url ?? '/', 'http://sandbox');
        const byMethod = operations[pathname.slice(CONTROL_PREFIX.length)];
        const operation = byMethod?.[req.method ?? 'GET'];
        if (byMethod === undefined || operation === undefined) {
          sendJson(res, byMethod === undefined ? 404 : 405, { error: `${pathname} accepts ${Object.keys(byMethod ?? {}).join(', ')}` });
          return;
        }
        const raw = await readBody(req, CONTROL_BODY_LIMIT_BYTES);
        const body = raw.length === 0 ? undefined : parseJsonBody(raw);
        if (raw.length > 0 && body === undefined) throw new SandboxInputError('the request body is not JSON');
        sendJson(res, 200, await operation(body));
      } catch (error) {
        if (error instanceof SandboxInputError) sendJson(res, 400, { error: error.message });
        else if (error instanceof BodyTooLargeError) sendJson(res, 413, { error: error.message });
        else sendJson(res, 500, { error: `pay sandbox v3 control failed: ${error instanceof Error ? error.message : String(error)}` });
      }
    },
    control,
    settle() {
      settleBills(ctx);
      notifier.deliverDue();
      persisted?.touch();
    },
    close() {
      notifier.close();
      persisted?.close();
    },
  };
}
