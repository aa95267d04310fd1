/**
 * sendredpack (cash red packet to a 公众号 openid) and sendminiprogramhb (mini-program red packet,
 * opened with wx.sendBizRedPacket). Reference/wechat-api.md §7–§8: field rules, the 1–200 元
 * range without scene_id, idempotency on mch_billno, per-user and merchant limits, balance.
 */
import { isIPv4 } from 'node:net';
import { behaviourFor } from '../behaviour';
import { PayErrCode, PayRefusal } from '../pay-errors';
import {
  MERCHANT_DAILY_AMOUNT_FEN, createPaidPacket, dailyTotals, isUserOf, packetKey, recordFailedPacket,
  type PacketKind, type PacketRecord, type PayState,
} from '../state';
import type { XmlNode } from '../xml';
import { MCH_BILLNO_RULE, checkFields, type FieldRule } from './fields';
import type { PayRequest, PayRoute } from './router';

/** The sendredpack path. */
export const SENDREDPACK_PATH = '/mmpaymkttransfers/sendredpack';
/** The sendminiprogramhb path. */
export const SENDMINIPROGRAMHB_PATH = '/mmpaymkttransfers/sendminiprogramhb';

/** Without scene_id a packet must be 1–200 元. */
export const DEFAULT_MIN_AMOUNT_FEN = 100;
export const DEFAULT_MAX_AMOUNT_FEN = 20_000;
/**
 * With scene_id the merchant may have raised the range in the merchant platform. The real
 * ceiling is per merchant and not pinned down; the sandbox allows 1 fen to 4,999 元.
 */
export const SCENE_MAX_AMOUNT_FEN = 499_900;
const SCENE_IDS = new Set(['PRODUCT_1', 'PRODUCT_2', 'PRODUCT_3', 'PRODUCT_4', 'PRODUCT_5', 'PRODUCT_6', 'PRODUCT_7', 'PRODUCT_8']);
const NOTIFY_WAY = 'MINI_PROGRAM_JSAPI';

const COMMON_RULES: readonly FieldRule[] = [
  { name: 'nonce_str', required: true, maxLength: 32 },
  MCH_BILLNO_RULE,
  { name: 'mch_id', required: true, maxLength: 32 },
  { name: 'wxappid', required: true, maxLength: 32 },
  { name: 'send_name', required: true, maxLength: 32 },
  { name: 're_openid', required: true, maxLength: 32 },
  { name: 'total_amount', required: true, maxLength: 10, pattern: /^[0-9]+$/, patternText: '必须为整数(分)' },
  { name: 'total_num', required: true, maxLength: 10, pattern: /^1$/, patternText: '必须为1' },
  { name: 'wishing', required: true, maxLength: 128 },
  { name: 'act_name', required: true, maxLength: 32 },
  { name: 'remark', required: true, maxLength: 256 },
  { name: 'scene_id', required: false, maxLength: 32 },
];
const CASH_RULES: readonly FieldRule[] = [
  ...COMMON_RULES,
  { name: 'client_ip', required: true, maxLength: 15 },
  { name: 'risk_info', required: false, maxLength: 128 },
];
const MINI_PROGRAM_RULES: readonly FieldRule[] = [...COMMON_RULES, { name: 'notify_way', required: true, maxLength: 32 }];
// Service-provider mode fields: the sandbox has no sub-merchants, so it says so instead of ignoring them.
const UNSUPPORTED_FIELDS = ['msgappid', 'sub_mch_id', 'consume_mch_id'];

/** The two send routes. */
export const sendRoutes: readonly PayRoute[] = [sendRoute(SENDREDPACK_PATH, 'cash'), sendRoute(SENDMINIPROGRAMHB_PATH, 'miniProgram')];

function sendRoute(path: string, kind: PacketKind): PayRoute {
  return {
    path,
    rateLimited: true,
    echo: (fields) => ({
      mch_billno: fields.mch_billno,
      mch_id: fields.mch_id,
      wxappid: fields.wxappid,
      re_openid: fields.re_openid,
      total_amount: asNumberIfInteger(fields.total_amount),
    }),
    handle: (state, request) => send(state, request, kind),
    recordSendFailed(state, fields, reason) {
      const { mch_id: mchId, mch_billno: mchBillno } = fields;
      if (mchId === undefined || mchBillno === undefined || state.packets.has(packetKey(mchId, mchBillno))) return;
      recordFailedPacket(state, {
        kind,
        mchId,
        mchBillno,
        appid: fields.wxappid ?? '',
        openid: fields.re_openid ?? '',
        amountFen: Number(fields.total_amount ?? 0),
        sendName: fields.send_name ?? '',
        wishing: fields.wishing ?? '',
        actName: fields.act_name ?? '',
        remark: fields.remark ?? '',
        failReason: reason,
      });
    },
  };
}

function send(state: PayState, { fields, merchant }: PayRequest, kind: PacketKind): XmlNode {
  checkFields(fields, kind === 'cash' ? CASH_RULES : MINI_PROGRAM_RULES);
  const unsupported = UNSUPPORTED_FIELDS.find((name) => fields[name] !== undefined);
  if (unsupported !== undefined) throw new PayRefusal(PayErrCode.PARAM_ERROR, `参数错误:sandbox does not support service-provider field ${unsupported}`);
  const get = (name: string): string => fields[name] ?? '';
  const appid = get('wxappid');
  const openid = get('re_openid');
  const amountFen = Number(get('total_amount'));
  const sceneId = fields.scene_id;
  if (sceneId !== undefined && !SCENE_IDS.has(sceneId)) throw new PayRefusal(PayErrCode.PARAM_ERROR, '参数错误:scene_id取值PRODUCT_1至PRODUCT_8');
  if (kind === 'cash' && !isIPv4(get('client_ip'))) throw new PayRefusal(PayErrCode.PARAM_ERROR, '参数错误:client_ip格式错误');
  if (kind === 'miniProgram' && get('notify_way') !== NOTIFY_WAY) throw new PayRefusal(PayErrCode.PARAM_ERROR, `参数错误:notify_way必须为${NOTIFY_WAY}`);
  const [minFen, maxFen] = sceneId === undefined ? [DEFAULT_MIN_AMOUNT_FEN, DEFAULT_MAX_AMOUNT_FEN] : [1, SCENE_MAX_AMOUNT_FEN];
  if (amountFen < minFen || amountFen > maxFen) {
    throw new PayRefusal(PayErrCode.MONEY_LIMIT, sceneId === undefined ? '红包金额发放限制:每个红包的金额必须在1元到200元之间,其他金额请传scene_id' : '红包金额发放限制');
  }
  checkAppid(merchant.officialAccountAppIds, merchant.miniProgramAppIds, appid, kind);
  if (!isUserOf(state, appid, openid)) throw new PayRefusal(PayErrCode.OPENID_ERROR);

  const mchBillno = get('mch_billno');
  const existing = state.packets.get(packetKey(merchant.mchId, mchBillno));
  if (existing !== undefined) {
    if (existing.status === 'FAILED') throw new PayRefusal(PayErrCode.SEND_FAILED);
    if (existing.kind !== kind || existing.appid !== appid || existing.openid !== openid || existing.amountFen !== amountFen) {
      throw new PayRefusal(PayErrCode.FATAL_ERROR);
    }
    // "可用同一商户单号再次调用，只会发放一个红包": never a second packet. The documented answer is the same
    // packet again; WeChat may instead answer a failure (SEND_FAILED, another code) — behaviour.paidResend.
    const { paidResend } = behaviourFor(state, mchBillno);
    if (paidResend !== 'same') throw new PayRefusal(paidResend);
    return successReply(existing);
  }

  const daily = dailyTotals(state);
  const user = daily.perUser.get(openid) ?? { count: 0, amountFen: 0 };
  if (user.count >= state.config.userDailyCount) throw new PayRefusal(PayErrCode.SENDNUM_LIMIT);
  if (user.amountFen + amountFen > state.config.userDailyAmountFen) throw new PayRefusal(PayErrCode.RCVDAMOUNT_LIMIT);
  if ((daily.perMerchantFen.get(merchant.mchId) ?? 0) + amountFen > MERCHANT_DAILY_AMOUNT_FEN) throw new PayRefusal(PayErrCode.SENDAMOUNT_LIMIT);
  if ((state.balancesFen.get(merchant.mchId) ?? 0) < amountFen) throw new PayRefusal(PayErrCode.NOTENOUGH);

  return successReply(createPaidPacket(state, merchant, {
    kind, mchBillno, appid, openid, amountFen,
    sendName: get('send_name'), wishing: get('wishing'), actName: get('act_name'), remark: get('remark'),
  }));
}

function checkAppid(officialAccounts: ReadonlySet<string>, miniPrograms: ReadonlySet<string>, appid: string, kind: PacketKind): void {
  const allowed = kind === 'cash' ? officialAccounts : miniPrograms;
  if (allowed.has(appid)) return;
  const boundAsOther = (kind === 'cash' ? miniPrograms : officialAccounts).has(appid);
  if (!boundAsOther) throw new PayRefusal(PayErrCode.ILLEGAL_APPID, '非法appid，该appid未与商户号绑定');
  throw new PayRefusal(PayErrCode.ILLEGAL_APPID, kind === 'cash' ? '非法appid，请确认是否为公众号的appid' : '非法appid，请确认是否为小程序的appid');
}

function successReply(packet: PacketRecord): XmlNode {
  return {
    return_code: 'SUCCESS',
    return_msg: '发放成功',
    result_code: 'SUCCESS',
    err_code: 'SUCCESS',
    err_code_des: '发放成功',
    mch_billno: packet.mchBillno,
    mch_id: packet.mchId,
    wxappid: packet.appid,
    re_openid: packet.openid,
    total_amount: packet.amountFen,
    send_listid: packet.sendListid,
    package: packet.package,
  };
}

function asNumberIfInteger(value: string | undefined): string | number | undefined {
  return value !== undefined && /^[0-9]{1,10}$/.test(value) ? Number(value) : value;
}
