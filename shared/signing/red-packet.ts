/**
 * Parameters for the mini-program `wx.sendBizRedPacket` (reference/wechat-api.md §8).
 * https://pay.weixin.qq.com/doc/v2/merchant/4011937428 (领取红包接口)
 */
import { InputError } from '../errors';
import { md5Hex } from './hash';
import { createNonce, unixSeconds } from './nonce';
import { requireCredential, requireNonce, requireOptions, requireSeconds, requireString } from './validate';

/** Hex case of the sendBizRedPacket paySign. */
export type BizRedPacketSignCase = 'lower' | 'upper';

/**
 * UNVERIFIED against WeChat: the official rule ("3.2.2节") could not be read. Lowercase comes
 * from community answers and gochat's MinipRedpackJSAPI (its test expects a lowercase value);
 * Pay v2 itself is uppercase. If a real sendBizRedPacket answers 签名失败, flip this constant
 * (or pass `paySignCase`) — nothing else depends on the case.
 */
export const BIZ_RED_PACKET_PAY_SIGN_CASE: BizRedPacketSignCase = 'lower';

/** Inputs of {@link bizRedPacketParams}. */
export interface BizRedPacketInput {
  /** The mini-program appid (the `wxappid` the packet was sent with). */
  appId: string;
  /** The raw `package` of the sendminiprogramhb reply (`sendid=…&ver=8&sign=…&mchid=…&appid=…`), not yet URL-encoded. */
  package: string;
  /** The APIv2 key. */
  apiKey: string;
  /** Unix seconds; defaults to now. */
  timeStamp?: number | string;
  /** 1–32 characters; defaults to a crypto-random 32-character nonce. */
  nonceStr?: string;
  /** Defaults to {@link BIZ_RED_PACKET_PAY_SIGN_CASE}. */
  paySignCase?: BizRedPacketSignCase;
}

/** Exactly the object `wx.sendBizRedPacket` takes. */
export interface BizRedPacketParams {
  timeStamp: string;
  nonceStr: string;
  /** URL-encoded. */
  package: string;
  signType: 'MD5';
  paySign: string;
}

/**
 * The `wx.sendBizRedPacket` arguments: `package` URL-encoded, and paySign = MD5 of
 * `appId=…&nonceStr=…&package=<encoded>&timeStamp=…&key=<APIv2 key>`. `signType` is not
 * signed (unlike wx.requestPayment, which signs all five fields).
 */
export function bizRedPacketParams(input: BizRedPacketInput): BizRedPacketParams {
  const options = requireOptions(
    input,
    ['appId', 'package', 'apiKey', 'timeStamp', 'nonceStr', 'paySignCase'],
    'bizRedPacketParams',
  );
  const appId = requireCredential(options.appId, 'appId');
  const apiKey = requireCredential(options.apiKey, 'apiKey');
  const encodedPackage = encodeRedPacketPackage(requireString(options.package, 'package'));
  const timeStamp = requireSeconds(options.timeStamp ?? unixSeconds(Date.now()), 'timeStamp');
  const nonceStr = requireNonce(options.nonceStr ?? createNonce(), 'nonceStr');
  const paySignCase = options.paySignCase ?? BIZ_RED_PACKET_PAY_SIGN_CASE;
  if (paySignCase !== 'lower' && paySignCase !== 'upper') throw new InputError('paySignCase must be lower or upper', 'paySignCase');

  // Keys are camelCase and already in ASCII order: appId < nonceStr < package < timeStamp.
  const digest = md5Hex(`appId=${appId}&nonceStr=${nonceStr}&package=${encodedPackage}&timeStamp=${timeStamp}&key=${apiKey}`);
  return {
    timeStamp,
    nonceStr,
    package: encodedPackage,
    signType: 'MD5',
    paySign: paySignCase === 'lower' ? digest : digest.toUpperCase(),
  };
}

/**
 * encodeURIComponent of the raw package. gochat uses Go's url.QueryEscape; the two agree on
 * every character a package carries ([0-9A-Za-z], `=`, `&`, `-`, `_`, `.`, `~`, `+`, `/`). They
 * differ only on space (QueryEscape `+`, here rejected) and on `!'()*` (left as they are here,
 * %-escaped by Go), none of which occurs in a WeChat package.
 */
function encodeRedPacketPackage(rawPackage: string): string {
  if (rawPackage.length === 0) throw new InputError('package must not be empty', 'package');
  if (/\s/.test(rawPackage)) throw new InputError('package must not contain whitespace', 'package');
  // The raw package never contains %, an encoded one always does (%3D): encoding twice would
  // produce a package WeChat cannot read.
  if (rawPackage.includes('%')) throw new InputError('package looks URL-encoded already; pass the raw value from the reply', 'package');
  return encodeURIComponent(rawPackage);
}
