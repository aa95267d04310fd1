/**
 * WeChat Pay v2 red-packet calls (reference/wechat-api.md §7–§8): sendredpack, sendminiprogramhb
 * and gethbinfo over mutual TLS. One send is exactly one HTTP request: no retries in here, because
 * whether and how to retry depends on the claim's state (see shared/claims/engine.ts). Every
 * send takes its `mchBillno` from the caller; nothing in this file invents one.
 */
import type https from 'node:https';
import { lazyGot } from '../wechat/http';
import { createNonce } from '../signing/nonce';
import { PayXmlError } from '../errors';
import { parsePayXml, signedPayXml, type PayXmlFields } from './xml';
import { PayError, PayReplyError, PayTransportError, type PayEndpoint } from './errors';
import { RedPacketErrCode } from './policy';

/** Where and as whom the calls are made. */
export interface PayClientOptions {
  /** https://api.mch.weixin.qq.com, or a sandbox. */
  baseUrl: string;
  mchId: string;
  /** The APIv2 key; red-packet requests are signed with MD5. */
  apiKey: string;
  /** The agent presenting the merchant certificate ({@link createMerchantAgent}). */
  agent: https.Agent;
  /** Whole-request timeout (default 5000). A timeout is "outcome unknown": the same billno is retried. */
  timeoutMs?: number;
}

/** The fields both send APIs share. Texts are WeChat's limits: send_name/act_name ≤ 32, wishing ≤ 128, remark ≤ 256. */
export interface RedPacketSendRequest {
  /** The claim's idempotency key: 28 chars of [0-9A-Za-z], the same on every retry of one attempt. */
  mchBillno: string;
  /** wxappid: the official account (cash) or the mini-program (sendminiprogramhb). */
  appId: string;
  /** re_openid: the user's openid under `appId`. */
  openid: string;
  amountFen: number;
  sendName: string;
  wishing: string;
  actName: string;
  remark: string;
  /** PRODUCT_1…PRODUCT_8; required outside 1–200 元. */
  sceneId?: string | null;
}

/** A send WeChat accepted. */
export interface RedPacketSent {
  mchBillno: string;
  /** WeChat's order number. */
  sendListid: string;
  amountFen: number;
  /** sendminiprogramhb only: the raw package for wx.sendBizRedPacket (not URL-encoded). */
  package?: string;
}

/** gethbinfo statuses, plus NOT_FOUND ("may still be in flight": never proof of non-payment). */
export type HbStatus = 'SENDING' | 'SENT' | 'FAILED' | 'RECEIVED' | 'RFUND_ING' | 'REFUND' | 'NOT_FOUND';

/** What gethbinfo says about one billno. */
export interface HbInfo {
  mchBillno: string;
  status: HbStatus;
  amountFen: number | undefined;
  /** Why it FAILED, when it did. */
  reason: string | undefined;
  detailId: string | undefined;
}

/** The three red-packet calls. */
export interface RedPacketPayClient {
  readonly mchId: string;
  /** Loads what the calls need (HTTP layer, certificate) so a configuration problem shows before a claim is marked SENDING. */
  prepare(): Promise<void>;
  /** sendredpack: a cash packet to an official-account openid. https://pay.weixin.qq.com/doc/v2/merchant/4011974053 */
  sendCash(request: RedPacketSendRequest & { clientIp: string }): Promise<RedPacketSent>;
  /** sendminiprogramhb: a packet the user opens with wx.sendBizRedPacket. https://pay.weixin.qq.com/doc/v2/partner/4011941282 */
  sendMiniProgram(request: RedPacketSendRequest): Promise<RedPacketSent>;
  /** gethbinfo: the packet behind a billno; `appId` is any appid bound to the merchant. */
  query(mchBillno: string, appId: string): Promise<HbInfo>;
}

const SENDREDPACK: PayEndpoint = '/mmpaymkttransfers/sendredpack';
const SENDMINIPROGRAMHB: PayEndpoint = '/mmpaymkttransfers/sendminiprogramhb';
const GETHBINFO: PayEndpoint = '/mmpaymkttransfers/gethbinfo';
const MCH_BILLNO = /^[0-9A-Za-z]{1,28}$/;
const HB_STATUSES: ReadonlySet<string> = new Set(['SENDING', 'SENT', 'FAILED', 'RECEIVED', 'RFUND_ING', 'REFUND']);

/** The red-packet client over one HTTP layer (got, loaded on the first call to keep cold starts cheap). */
export function createRedPacketPayClient(options: PayClientOptions): RedPacketPayClient {
  const client = lazyGot({
    baseUrl: options.baseUrl,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    extend: { agent: { https: options.agent }, headers: { 'content-type': 'text/xml; charset=utf-8' } },
  });

  async function post(endpoint: PayEndpoint, params: Record<string, string | number | undefined>): Promise<PayXmlFields> {
    const body = signedPayXml(params, options.apiKey);
    let text: string;
    let status: number;
    try {
      const got = await client();
      const response = await got.post(endpoint.slice(1), { body });
      text = response.body;
      status = response.statusCode;
    } catch (error) {
      // got's errors carry the system code: ETIMEDOUT, ECONNRESET (dropped), EPROTO (TLS)…
      const code = (error as { code?: unknown }).code;
      throw new PayTransportError(endpoint, typeof code === 'string' ? code : 'request failed', { cause: plainError(error) });
    }
    if (status !== 200) throw new PayTransportError(endpoint, `HTTP ${status}`);
    try {
      return parsePayXml(text);
    } catch (error) {
      if (error instanceof PayXmlError) throw new PayTransportError(endpoint, 'unparseable reply', { cause: error });
      throw error;
    }
  }

  /** FAIL at either level becomes a PayError; SUCCESS/SUCCESS returns the fields. */
  function successOf(endpoint: PayEndpoint, reply: PayXmlFields): PayXmlFields {
    if (reply.return_code !== 'SUCCESS') {
      throw new PayError(endpoint, { returnCode: reply.return_code ?? 'MISSING', returnMsg: reply.return_msg, errCode: reply.err_code });
    }
    if (reply.result_code !== 'SUCCESS') {
      throw new PayError(endpoint, {
        returnCode: reply.return_code,
        resultCode: reply.result_code,
        errCode: reply.err_code,
        errCodeDes: reply.err_code_des,
      });
    }
    return reply;
  }

  function sendParams(request: RedPacketSendRequest): Record<string, string | number | undefined> {
    if (!MCH_BILLNO.test(request.mchBillno)) throw new TypeError('mchBillno must be 1–28 characters of [0-9A-Za-z]');
    if (!Number.isSafeInteger(request.amountFen) || request.amountFen <= 0) throw new TypeError('amountFen must be a positive whole number');
    return {
      nonce_str: createNonce(),
      mch_billno: request.mchBillno,
      mch_id: options.mchId,
      wxappid: request.appId,
      send_name: request.sendName,
      re_openid: request.openid,
      total_amount: request.amountFen,
      total_num: 1,
      wishing: request.wishing,
      act_name: request.actName,
      remark: request.remark,
      scene_id: request.sceneId ?? undefined,
    };
  }

  function sentOf(endpoint: PayEndpoint, request: RedPacketSendRequest, reply: PayXmlFields): RedPacketSent {
    const ok = successOf(endpoint, reply);
    // A SUCCESS for another billno or amount would be a mix-up we must not record as our packet.
    if (ok.mch_billno !== undefined && ok.mch_billno !== request.mchBillno) {
      throw new PayReplyError(endpoint, 'reply names another mch_billno');
    }
    const sent: RedPacketSent = { mchBillno: request.mchBillno, sendListid: ok.send_listid ?? '', amountFen: request.amountFen };
    if (endpoint === SENDMINIPROGRAMHB) {
      // Without the package the user cannot open the packet; a resend of the same billno returns it.
      if (!ok.package) throw new PayReplyError(endpoint, 'SUCCESS without package');
      sent.package = ok.package;
    }
    return sent;
  }

  return {
    mchId: options.mchId,
    async prepare() {
      await client();
    },
    async sendCash(request) {
      const params = { ...sendParams(request), client_ip: request.clientIp };
      return sentOf(SENDREDPACK, request, await post(SENDREDPACK, params));
    },
    async sendMiniProgram(request) {
      const params = { ...sendParams(request), notify_way: 'MINI_PROGRAM_JSAPI' };
      return sentOf(SENDMINIPROGRAMHB, request, await post(SENDMINIPROGRAMHB, params));
    },
    async query(mchBillno, appId) {
      if (!MCH_BILLNO.test(mchBillno)) throw new TypeError('mchBillno must be 1–28 characters of [0-9A-Za-z]');
      const reply = await post(GETHBINFO, {
        nonce_str: createNonce(),
        mch_billno: mchBillno,
        mch_id: options.mchId,
        appid: appId,
        bill_type: 'MCHT',
      });
      if (reply.return_code === 'SUCCESS' && reply.result_code !== 'SUCCESS' && reply.err_code === RedPacketErrCode.NOT_FOUND) {
        return { mchBillno, status: 'NOT_FOUND', amountFen: undefined, reason: undefined, detailId: undefined };
      }
      const ok = successOf(GETHBINFO, reply);
      const status = ok.status ?? '';
      if (!HB_STATUSES.has(status)) throw new PayTransportError(GETHBINFO, `unknown packet status ${JSON.stringify(status)}`);
      const amount = Number(ok.total_amount);
      return {
        mchBillno,
        status: status as HbStatus,
        amountFen: Number.isSafeInteger(amount) ? amount : undefined,
        reason: ok.reason,
        detailId: ok.detail_id,
      };
    },
  };
}

/** got errors hold the request options (the agent with the certificate): keep only name and message. */
function plainError(error: unknown): Error {
  const plain = new Error(error instanceof Error ? error.message : 'request failed');
  plain.name = error instanceof Error ? error.name : 'Error';
  return plain;
}
