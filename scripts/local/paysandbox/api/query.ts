/**
 * gethbinfo: a packet's status, amounts, times and `hblist` by mch_billno (reference §7).
 * An unknown billno is NOT_FOUND, which per the reference does not mean "not paid" — and with
 * behaviour.queryLagMs a paid packet is NOT_FOUND too for a while, as WeChat's query lags.
 */
import { behaviourFor } from '../behaviour';
import { PayErrCode, PayRefusal } from '../pay-errors';
import { formatBeijingTime, packetKey, payNowMs, type PacketRecord, type PayState } from '../state';
import type { XmlNode } from '../xml';
import { MCH_BILLNO_RULE, checkFields, type FieldRule } from './fields';
import type { PayRequest, PayRoute } from './router';

/** The gethbinfo path. */
export const GETHBINFO_PATH = '/mmpaymkttransfers/gethbinfo';

const QUERY_RULES: readonly FieldRule[] = [
  { name: 'nonce_str', required: true, maxLength: 32 },
  MCH_BILLNO_RULE,
  { name: 'mch_id', required: true, maxLength: 32 },
  { name: 'appid', required: true, maxLength: 32 },
  { name: 'bill_type', required: true, maxLength: 32, pattern: /^MCHT$/, patternText: '必须为MCHT' },
];

/** The query route. */
export const queryRoute: PayRoute = {
  path: GETHBINFO_PATH,
  rateLimited: false,
  echo: (fields) => ({ mch_billno: fields.mch_billno, mch_id: fields.mch_id }),
  handle: query,
};

function query(state: PayState, { fields, merchant }: PayRequest): XmlNode {
  checkFields(fields, QUERY_RULES);
  const appid = fields.appid ?? '';
  if (!merchant.officialAccountAppIds.has(appid) && !merchant.miniProgramAppIds.has(appid)) {
    throw new PayRefusal(PayErrCode.ILLEGAL_APPID, '非法appid，该appid未与商户号绑定');
  }
  const behaviour = behaviourFor(state, fields.mch_billno);
  // The docs ask for the official account's appid, peers pass the sending one: either may be the one WeChat refuses.
  if (behaviour.queryAppids === 'officialAccount' && !merchant.officialAccountAppIds.has(appid)) {
    throw new PayRefusal(PayErrCode.ILLEGAL_APPID, '非法appid，请确认是否为公众号的appid');
  }
  if (behaviour.queryAppids === 'miniProgram' && !merchant.miniProgramAppIds.has(appid)) {
    throw new PayRefusal(PayErrCode.ILLEGAL_APPID, '非法appid，请确认是否为小程序的appid');
  }
  const packet = state.packets.get(packetKey(merchant.mchId, fields.mch_billno ?? ''));
  if (packet === undefined) throw new PayRefusal(PayErrCode.NOT_FOUND);
  if (packet.status !== 'FAILED' && payNowMs(state) < packet.createdAtMs + behaviour.queryLagMs) throw new PayRefusal(PayErrCode.NOT_FOUND);
  return infoReply(packet);
}

function infoReply(packet: PacketRecord): XmlNode {
  return {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    result_code: 'SUCCESS',
    err_code: 'SUCCESS',
    err_code_des: 'OK',
    mch_billno: packet.mchBillno,
    mch_id: packet.mchId,
    detail_id: packet.sendListid,
    status: packet.status,
    send_type: 'API',
    hb_type: 'NORMAL',
    total_num: 1,
    total_amount: packet.amountFen,
    reason: packet.status === 'FAILED' ? packet.failReason : undefined,
    send_time: formatBeijingTime(packet.createdAtMs),
    refund_time: packet.refundedAtMs === undefined ? undefined : formatBeijingTime(packet.refundedAtMs),
    refund_amount: packet.refundedAtMs === undefined ? undefined : packet.amountFen,
    wishing: packet.wishing,
    remark: packet.remark,
    act_name: packet.actName,
    // The receipt record exists once the user has opened the packet.
    hblist: packet.status === 'RECEIVED' && packet.receivedAtMs !== undefined
      ? { hbinfo: [{ openid: packet.openid, amount: packet.amountFen, rcv_time: formatBeijingTime(packet.receivedAtMs) }] }
      : undefined,
  };
}
