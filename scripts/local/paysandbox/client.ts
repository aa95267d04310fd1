/**
 * The mini-program client's `wx.sendBizRedPacket`, played by the sandbox: it checks what the
 * product hands the client exactly as reference §8 describes (paySign over appId, nonceStr,
 * the URL-encoded package and timeStamp; signType not signed), then opens the packet.
 */
import { SandboxInputError, expectRecord } from '../sandbox/validate';
import { bizRedPacketPaySign, safeEqual } from './sign';
import { receive, settlePackets, type PacketRecord, type PayState } from './state';

/** The arguments of wx.sendBizRedPacket, as the product returns them to the mini-program. */
export interface SendBizRedPacketInput {
  appId: string;
  timeStamp: string;
  nonceStr: string;
  /** The `package` of the sendminiprogramhb reply, URL-encoded. */
  package: string;
  signType: string;
  paySign: string;
}

/** What the client's success or fail callback receives. */
export type SendBizRedPacketResult =
  | { errMsg: 'sendBizRedPacket:ok' }
  | { errMsg: 'sendBizRedPacket:fail'; retcode: number; retmsg: string };

/**
 * The failures the client reports. The retmsg texts are the documented ones (PAY-bizredpacket);
 * the retcode numbers are not documented, so these are the sandbox's own: branch on retmsg.
 */
export const BizRedPacketFailure = {
  SIGN: { retcode: 1, retmsg: '签名失败' },
  FORMAT: { retcode: 2, retmsg: '参数格式校验错误' },
  ALREADY_BOUND: { retcode: 3, retmsg: '已经绑定过红包' },
  EXPIRED: { retcode: 4, retmsg: '已经过期' },
  // Not a documented text: the packet was accepted but is still SENDING (sendingDelayMs).
  NOT_READY: { retcode: 5, retmsg: '红包发放中' },
} as const;

const INPUT_KEYS = ['appId', 'timeStamp', 'nonceStr', 'package', 'signType', 'paySign'] as const;

/** Plays wx.sendBizRedPacket; bad input shape (not an object, unknown keys) throws {@link SandboxInputError}. */
export function sendBizRedPacket(state: PayState, input: SendBizRedPacketInput): SendBizRedPacketResult {
  const record = expectRecord(input, 'sendBizRedPacket input', INPUT_KEYS);
  settlePackets(state);
  const params = Object.fromEntries(INPUT_KEYS.map((key) => [key, record[key]])) as Record<(typeof INPUT_KEYS)[number], unknown>;
  const { appId, timeStamp, nonceStr, signType, paySign } = params;
  const encodedPackage = params.package;
  if (
    typeof appId !== 'string' || typeof timeStamp !== 'string' || !/^[0-9]{1,20}$/.test(timeStamp) ||
    typeof nonceStr !== 'string' || nonceStr === '' || nonceStr.length > 32 || signType !== 'MD5' ||
    typeof paySign !== 'string' || typeof encodedPackage !== 'string'
  ) {
    return fail(BizRedPacketFailure.FORMAT);
  }
  const packet = issuedPacket(state, encodedPackage, appId);
  if (packet === undefined) return fail(BizRedPacketFailure.FORMAT);
  const merchant = state.config.merchants.get(packet.mchId);
  if (merchant === undefined) throw new SandboxInputError(`merchant ${packet.mchId} is gone`);
  const expected = bizRedPacketPaySign({ appId, nonceStr, package: encodedPackage, timeStamp }, merchant.apiKey);
  if (!safeEqual(paySign, expected)) return fail(BizRedPacketFailure.SIGN);
  if (packet.status === 'RECEIVED') return fail(BizRedPacketFailure.ALREADY_BOUND);
  // settlePackets above has already refunded every packet past its 24 hours.
  if (packet.status === 'REFUND') return fail(BizRedPacketFailure.EXPIRED);
  if (packet.status !== 'SENT') return fail(BizRedPacketFailure.NOT_READY);
  receive(state, packet);
  return { errMsg: 'sendBizRedPacket:ok' };
}

/**
 * The packet behind a URL-encoded package, if this sandbox issued exactly that package for a
 * mini-program packet of `appId`. A raw (not URL-encoded) package is refused: its `&` and `=`
 * would make the client's signature string ambiguous, which is why WeChat asks for encoding.
 */
function issuedPacket(state: PayState, encodedPackage: string, appId: string): PacketRecord | undefined {
  if (/[&=]/.test(encodedPackage)) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(encodedPackage);
  } catch {
    return undefined;
  }
  const sendId = new URLSearchParams(decoded).get('sendid');
  const packet = sendId === null ? undefined : state.packetsBySendId.get(sendId);
  if (packet === undefined || packet.package !== decoded || packet.appid !== appId) return undefined;
  return packet;
}

function fail(failure: { retcode: number; retmsg: string }): SendBizRedPacketResult {
  return { errMsg: 'sendBizRedPacket:fail', retcode: failure.retcode, retmsg: failure.retmsg };
}
