/**
 * The Pay API side of the sandbox: one route table (send, query). Every request is counted,
 * parsed, matched against faults, authenticated (client certificate CN = mch_id, then the
 * signature) and handed to its route. Route handlers are synchronous on purpose: between the
 * idempotency check and the debit nothing else may run.
 */
import type http from 'node:http';
import type { TLSSocket } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { BodyTooLargeError, readBody } from '../../sandbox/http';
import { takePayFault, type PayFault } from '../faults';
import type { MerchantConfig } from '../options';
import { PAY_ERR_CODE_DES, PayErrCode, PayRefusal } from '../pay-errors';
import { PAY_SIGN_TYPES, payV2Sign, safeEqual, type PaySignType } from '../sign';
import { settlePackets, takeRate, type PayState } from '../state';
import { ReplyOutcome, recordPayCall, recordPayReply } from '../stats';
import { PayXmlError, buildPayXml, parsePayXml, type XmlNode } from '../xml';

/** What a route sees of an authenticated request. */
export interface PayRequest {
  readonly fields: Readonly<Record<string, string>>;
  readonly merchant: MerchantConfig;
}

/** One Pay endpoint. */
export interface PayRoute {
  readonly path: string;
  /** Sends count against the merchant's per-second limit; queries do not. */
  readonly rateLimited: boolean;
  /** The request fields a FAIL reply echoes (WeChat echoes mch_billno, mch_id, …). */
  echo(fields: Readonly<Record<string, string>>): XmlNode;
  /** The SUCCESS reply; refusals throw {@link PayRefusal}. Must not await. */
  handle(state: PayState, request: PayRequest): XmlNode;
  /** An injected SEND_FAILED on a billno WeChat never saw: remember it as FAILED, as WeChat would (a paid one stays paid). */
  recordSendFailed?(state: PayState, fields: Readonly<Record<string, string>>, reason: string): void;
}

// Pay requests are a few hundred bytes; this only stops a runaway client.
const PAY_BODY_LIMIT_BYTES = 64 * 1024;
// A reply cut off mid-CDATA: what a proxy error or a truncated read looks like to an XML parser.
const UNPARSEABLE_REPLY = '<xml>\n<return_code><![CDATA[SUCCESS]]></return_code>\n<return_msg><![CDATA[';

/** The Pay API request handler over a route table. */
export function createPayApiHandler(state: PayState, routes: readonly PayRoute[]): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> {
  const byPath = new Map(routes.map((route) => [route.path, route]));

  const serve = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'https://api.mch.weixin.qq.com').pathname;
    const route = byPath.get(path);
    let body: Buffer;
    try {
      body = await readBody(req, PAY_BODY_LIMIT_BYTES);
    } catch (error) {
      if (error instanceof BodyTooLargeError) sendText(res, 413, error.message);
      else req.socket.destroy();
      return;
    }
    if (route === undefined) {
      sendText(res, 404, `the Pay sandbox has no API ${path}`);
      return;
    }
    recordPayCall(state, path);
    let fields: Record<string, string> | undefined;
    let xmlError: PayXmlError | undefined;
    try {
      fields = await parsePayXml(body);
    } catch (error) {
      if (!(error instanceof PayXmlError)) throw error;
      xmlError = error;
    }
    // Any fault in any position, SEND_FAILED included: WeChat may answer SEND_FAILED for a billno it already paid.
    const fault = takePayFault(state, path, fields?.mch_billno);

    if (fault !== undefined && !fault.accept) {
      if (fault.delayMs > 0) await sleep(fault.delayMs, undefined, { ref: false });
      if (applyFaultOutcome(state, route, fault, fields, req, res)) return;
    }
    // From here to the reply decision nothing awaits: the state change and its reply are one step.
    const { reply, outcome } = xmlError !== undefined || fields === undefined
      ? { reply: { return_code: 'FAIL', return_msg: xmlError?.message ?? 'XML格式错误' }, outcome: PayErrCode.XML_ERROR }
      : handleFields(state, route, fields, req);
    if (fault !== undefined && fault.accept) {
      if (fault.delayMs > 0) await sleep(fault.delayMs, undefined, { ref: false });
      if (applyFaultOutcome(state, route, fault, fields, req, res)) return;
    }
    recordPayReply(state, path, outcome);
    sendXml(res, reply);
  };

  return async (req, res) => {
    try {
      await serve(req, res);
    } catch (error) {
      // A sandbox bug must show up in the test that hit it, not crash the server for every test.
      sendText(res, 500, `pay sandbox failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
}

/** Authenticates and runs the route; every refusal becomes a FAIL reply. */
function handleFields(state: PayState, route: PayRoute, fields: Record<string, string>, req: http.IncomingMessage): { reply: XmlNode; outcome: string } {
  try {
    settlePackets(state);
    const merchant = authenticate(state, fields, req);
    if (route.rateLimited && !takeRate(state, merchant.mchId)) throw new PayRefusal(PayErrCode.FREQ_LIMIT);
    return { reply: route.handle(state, { fields, merchant }), outcome: ReplyOutcome.SUCCESS };
  } catch (error) {
    if (!(error instanceof PayRefusal)) throw error;
    return { reply: failReply(error.errCode, error.errCodeDes, route.echo(fields)), outcome: error.errCode };
  }
}

/** The client certificate must be the merchant's (CN = mch_id), then the signature must verify with its key. */
function authenticate(state: PayState, fields: Readonly<Record<string, string>>, req: http.IncomingMessage): MerchantConfig {
  const mchId = fields.mch_id;
  if (mchId === undefined || mchId === '') throw new PayRefusal(PayErrCode.PARAM_ERROR, '参数错误:mch_id字段必填');
  // The TLS layer already refused certificates not signed by the CA; what is left is whose certificate it is.
  const peer = (req.socket as TLSSocket).getPeerCertificate?.();
  const commonName = peer?.subject?.CN;
  if (commonName !== mchId) throw new PayRefusal(PayErrCode.CA_ERROR, '证书与商户号不匹配');
  const merchant = state.config.merchants.get(mchId);
  if (merchant === undefined) throw new PayRefusal(PayErrCode.PARAM_ERROR, '参数错误:商户号不存在');
  const signType = fields.sign_type ?? 'MD5';
  if (!(PAY_SIGN_TYPES as readonly string[]).includes(signType)) throw new PayRefusal(PayErrCode.SIGN_ERROR, '签名类型错误');
  const sign = fields.sign;
  if (sign === undefined || sign === '' || !safeEqual(sign, payV2Sign(fields, merchant.apiKey, signType as PaySignType))) {
    throw new PayRefusal(PayErrCode.SIGN_ERROR);
  }
  return merchant;
}

/** Answers per the fault; false when the fault only delayed and normal handling continues. */
function applyFaultOutcome(
  state: PayState,
  route: PayRoute,
  fault: PayFault,
  fields: Record<string, string> | undefined,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): boolean {
  if (fault.drop) {
    recordPayReply(state, route.path, ReplyOutcome.DROPPED);
    req.socket.destroy();
    return true;
  }
  if (fault.unparseable) {
    recordPayReply(state, route.path, ReplyOutcome.UNPARSEABLE);
    sendRaw(res, UNPARSEABLE_REPLY);
    return true;
  }
  if (fault.errCode !== undefined) {
    const errCodeDes = fault.errCodeDes ?? PAY_ERR_CODE_DES[fault.errCode] ?? 'sandbox injected error';
    if (fault.errCode === PayErrCode.SEND_FAILED && fields !== undefined) route.recordSendFailed?.(state, fields, errCodeDes);
    recordPayReply(state, route.path, fault.errCode);
    sendXml(res, failReply(fault.errCode, errCodeDes, fields === undefined ? {} : route.echo(fields)));
    return true;
  }
  return false;
}

function failReply(errCode: string, errCodeDes: string, echo: XmlNode): XmlNode {
  return { return_code: 'SUCCESS', return_msg: errCodeDes, result_code: 'FAIL', err_code: errCode, err_code_des: errCodeDes, ...echo };
}

function sendXml(res: http.ServerResponse, reply: XmlNode): void {
  sendRaw(res, buildPayXml(reply));
}

// Pay answers every API outcome with HTTP 200 and XML; only transport problems use other statuses.
function sendRaw(res: http.ServerResponse, payload: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

function sendText(res: http.ServerResponse, status: number, text: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
