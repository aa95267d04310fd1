/**
 * The HTTP control API of the Pay sandbox under `/__sandbox/pay/`: JSON in, JSON out, bad input
 * → 400 `{error}`, unknown operation → 404, wrong method → 405, never a crash.
 *
 *   GET  ledger     GET stats      GET merchants     POST merchants/balance {mchId, balanceFen}
 *   GET  faults     POST faults {path, mchBillno?, errCode?, errCodeDes?, unparseable?, drop?, accept?, delayMs?, times?}
 *   DELETE faults   GET clock      POST clock {advanceMs}     POST reset     POST users {appid, openid}
 *   GET  behaviour  POST behaviour {paidResend?, queryLagMs?, queryAppids?, mchBillno?}   DELETE behaviour
 *   POST packets/receive {mch_billno, mch_id?}      POST packets/refund {mch_billno, mch_id?}
 *   POST client/send-biz-red-packet {appId, timeStamp, nonceStr, package, signType, paySign}
 */
import type http from 'node:http';
import { BodyTooLargeError, parseJsonBody, readBody, sendJson } from '../sandbox/http';
import { SandboxInputError, expectRecord } from '../sandbox/validate';
import type { SendBizRedPacketInput } from './client';
import type { PacketRef, PaySandboxControl } from './control';
import type { PayBehaviourInput } from './behaviour';
import type { PayFaultInput } from './faults';

/** Where the lead mounts the Pay control API on the stack's plain-HTTP port. */
export const PAY_CONTROL_PREFIX = '/__sandbox/pay';
const CONTROL_BODY_LIMIT_BYTES = 64 * 1024;

type Operation = (body: unknown) => unknown;

/** The Pay sandbox's `handleControl`: the URL path includes the `/__sandbox/pay` prefix. */
export function createPayControlHandler(control: PaySandboxControl): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> {
  const ok = { ok: true };
  const operations: Record<string, Partial<Record<string, Operation>>> = {
    '/ledger': { GET: () => ({ packets: control.ledger() }) },
    '/stats': { GET: () => control.stats() },
    '/merchants': { GET: () => ({ merchants: control.merchants() }) },
    '/merchants/balance': { POST: (body) => control.setBalance(body as { mchId: string; balanceFen: number }) },
    '/faults': {
      GET: () => ({ faults: control.faults() }),
      POST: (body) => control.addFault(body as PayFaultInput),
      DELETE: () => (control.clearFaults(), ok),
    },
    '/behaviour': {
      GET: () => control.behaviour(),
      POST: (body) => control.setBehaviour(body as PayBehaviourInput),
      DELETE: () => (control.clearBehaviour(), ok),
    },
    '/clock': {
      GET: () => control.clock(),
      POST: (body) => control.advanceClock(expectRecord(body ?? {}, 'clock body', ['advanceMs']).advanceMs as number),
    },
    '/reset': { POST: () => (control.reset(), ok) },
    '/users': { POST: (body) => (control.registerUser(body as { appid: string; openid: string }), ok) },
    '/packets/receive': { POST: (body) => control.receivePacket(body as PacketRef) },
    '/packets/refund': { POST: (body) => control.refundPacket(body as PacketRef) },
    '/client/send-biz-red-packet': { POST: (body) => control.sendBizRedPacket(body as SendBizRedPacketInput) },
  };
  return async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://sandbox');
      const byMethod = url.pathname.startsWith(`${PAY_CONTROL_PREFIX}/`) ? operations[url.pathname.slice(PAY_CONTROL_PREFIX.length)] : undefined;
      if (byMethod === undefined) {
        sendJson(res, 404, { error: `no pay sandbox control operation ${url.pathname}` });
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
      sendJson(res, 200, operation(body));
    } catch (error) {
      if (error instanceof SandboxInputError) sendJson(res, 400, { error: error.message });
      else if (error instanceof BodyTooLargeError) sendJson(res, 413, { error: error.message });
      else sendJson(res, 500, { error: `pay sandbox control failed: ${error instanceof Error ? error.message : String(error)}` });
    }
  };
}
