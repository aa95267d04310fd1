/**
 * What the two Pay v2 red-packet payouts share (./miniprogram.ts, ./cash.ts): the mch_billno
 * format, the campaign's packet texts and amount range, and the policy tables that turn WeChat's
 * answers (shared/pay/policy.ts err_codes, gethbinfo statuses) into the engine's outcomes.
 *
 * A red packet's bill number, as WeChat sees it:
 *
 *   (unknown) ──send──▶ paid (SENT) ──user opens──▶ RECEIVED
 *       │                  └──24 h unopened──▶ RFUND_ING ──▶ REFUND
 *       └──SEND_FAILED──▶ FAILED (never paid; gethbinfo says FAILED)
 *   A resend of a paid billno pays nothing more; it may be answered with the same packet, with
 *   SEND_FAILED, or with another code. gethbinfo may answer NOT_FOUND for a while after paying.
 */
import { createHash } from 'node:crypto';
import { PayError, PayTransportError } from '../../pay/errors';
import { PayAction, RedPacketErrCode, TRANSIENT_ERR_CODES } from '../../pay/policy';
import type { HbInfo, HbStatus, RedPacketSendRequest, RedPacketSent } from '../../pay/redpacket';
import { RefusalReason } from '../errors';
import type { CampaignDoc, ClaimDoc } from '../model';
import { Outcome, type PayoutCampaignPlan, type PayoutReply } from './types';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** mch_billno is String(28) of [0-9A-Za-z] (PAY-redpack). */
export const MCH_BILLNO_LENGTH = 28;

/**
 * Deterministic mch_billno per (claim, attempt): 28 base-62 characters of SHA-256
 * (`<claimId>:<attempt>`), about 166 bits, so two claims never share one (the "mch_id + date +
 * 10 digits" format would collide by the birthday bound at ~10⁵ claims a day when the digits come
 * from a hash). WeChat pays a billno at most once, so a billno derived from the business event
 * makes every retry of it safe; a random one per try is how peers pay twice.
 */
export function mchBillnoFor(claimId: string, attempt: number): string {
  if (!Number.isSafeInteger(attempt) || attempt < 1) throw new RangeError('attempt must be a positive integer');
  let value = BigInt(`0x${createHash('sha256').update(`${claimId}:${attempt}`).digest('hex')}`);
  let out = '';
  for (let i = 0; i < MCH_BILLNO_LENGTH; i += 1) {
    out += BASE62[Number(value % 62n)];
    value /= 62n;
  }
  return out;
}

/** WeChat's per-packet range without scene_id: 1–200 元 (reference §7 total_amount). */
export const DEFAULT_MIN_PACKET_FEN = 100;
export const DEFAULT_MAX_PACKET_FEN = 20_000;
/**
 * With scene_id the range is whatever the merchant platform allows; the real ceiling is per
 * merchant and not pinned down, so this refuses more than 4,999 元 rather than guess higher.
 */
export const SCENE_MAX_PACKET_FEN = 499_900;
export const SCENE_IDS = ['PRODUCT_1', 'PRODUCT_2', 'PRODUCT_3', 'PRODUCT_4', 'PRODUCT_5', 'PRODUCT_6', 'PRODUCT_7', 'PRODUCT_8'] as const;

/** The campaign fields of a red packet. */
export const PACKET_CAMPAIGN_FIELDS = ['sendName', 'wishing', 'actName', 'remark', 'sceneId'] as const;

/** Validates the packet texts and scene, and gives the amount range they allow. */
export function planPacketCampaign(input: Readonly<Record<string, unknown>>, problems: string[]): PayoutCampaignPlan {
  // String(N) counts characters (the Pay docs' lengths; a Chinese send_name of 10 characters is fine).
  const sendName = text(input, 'sendName', problems, 32);
  const wishing = text(input, 'wishing', problems, 128);
  const actName = text(input, 'actName', problems, 32);
  const remark = text(input, 'remark', problems, 256);
  let sceneId: string | null = null;
  if (input.sceneId !== undefined) {
    if (typeof input.sceneId !== 'string' || !(SCENE_IDS as readonly string[]).includes(input.sceneId)) {
      problems.push(`sceneId must be one of ${SCENE_IDS.join(', ')}`);
    } else sceneId = input.sceneId;
  }
  return sceneId === null
    ? {
      fields: { sendName, wishing, actName, remark, sceneId },
      minAmountFen: DEFAULT_MIN_PACKET_FEN,
      maxAmountFen: DEFAULT_MAX_PACKET_FEN,
      rangeText: `${DEFAULT_MIN_PACKET_FEN}–${DEFAULT_MAX_PACKET_FEN} fen (1–200 元; set sceneId for other amounts)`,
    }
    : { fields: { sendName, wishing, actName, remark, sceneId }, minAmountFen: 1, maxAmountFen: SCENE_MAX_PACKET_FEN, rangeText: `1–${SCENE_MAX_PACKET_FEN} fen` };
}

/** The texts as they are at reservation: every resend of a billno carries the same parameters. */
export function packetClaimFields(campaign: CampaignDoc): Partial<ClaimDoc> {
  const { sendName, wishing, actName, remark, sceneId } = campaign;
  return { sendName, wishing, actName, remark, sceneId };
}

/** The send request of a claim's current billno. */
export function packetRequest(claim: ClaimDoc): RedPacketSendRequest {
  return {
    mchBillno: claim.mchBillno,
    appId: claim.appId,
    openid: claim.openid,
    amountFen: claim.amountFen,
    sendName: claim.sendName,
    wishing: claim.wishing,
    actName: claim.actName,
    remark: claim.remark,
    sceneId: claim.sceneId,
  };
}

/**
 * A send's FAIL (or missing) reply, by WeChat's action for its err_code, as the engine's outcome.
 * Waits: the same billno no sooner than 1 s later ("同笔订单最短重试时间 1s"); PROCESSING is queried
 * later; a configuration problem needs a person.
 */
const SEND_FAILURES: Readonly<Record<PayAction, { outcome: Outcome; retryAfterMs: number }>> = {
  [PayAction.RETRY_SAME_BILLNO]: { outcome: Outcome.UNKNOWN, retryAfterMs: 1_000 },
  [PayAction.QUERY]: { outcome: Outcome.IN_PROGRESS, retryAfterMs: 2_000 },
  [PayAction.BACKOFF_SAME_BILLNO]: { outcome: Outcome.REFUSED, retryAfterMs: 1_000 },
  [PayAction.NOT_PAID]: { outcome: Outcome.NOT_PAID, retryAfterMs: 0 },
  [PayAction.FINAL]: { outcome: Outcome.FINAL, retryAfterMs: 0 },
  [PayAction.FIX_CONFIG]: { outcome: Outcome.REFUSED, retryAfterMs: 300_000 },
  [PayAction.BILLNO_CONFLICT]: { outcome: Outcome.UNKNOWN, retryAfterMs: 300_000 },
};

/** Codes whose wait differs from their action's. */
const RETRY_AFTER_MS_BY_CODE: Readonly<Record<string, number>> = {
  // A balance needs a top-up by a person: asking every second helps nobody.
  [RedPacketErrCode.NOTENOUGH]: 60_000,
};

/** What a person must hear about final refusals. */
const FINAL_REFUSALS: Readonly<Record<string, RefusalReason>> = {
  [RedPacketErrCode.SENDNUM_LIMIT]: RefusalReason.USER_DAILY_LIMIT,
  [RedPacketErrCode.RCVDAMOUNT_LIMIT]: RefusalReason.USER_DAILY_LIMIT,
  [RedPacketErrCode.SENDAMOUNT_LIMIT]: RefusalReason.MERCHANT_LIMIT,
  [RedPacketErrCode.NO_AUTH]: RefusalReason.RISK_BLOCKED,
};

/** What an operator must do, per code (the rest of FIX_CONFIG gets a generic line). */
const OPERATOR_ACTIONS: Readonly<Record<string, string>> = {
  [RedPacketErrCode.NOTENOUGH]: 'the merchant balance is too low: top it up in 商户平台, then run `campaign.ts settle`',
  [RedPacketErrCode.CA_ERROR]: 'the merchant certificate was refused: store the right one with `campaign.ts cert`',
  [RedPacketErrCode.SIGN_ERROR]: 'the signature was refused: check PAY_API_KEY against 商户平台 → API安全',
  [RedPacketErrCode.FATAL_ERROR]: 'this billno exists at WeChat with other parameters: a bug; the claim keeps its billno until someone looks',
  [RedPacketErrCode.API_METHOD_CLOSED]: 'red packets are switched off for the merchant (商户平台 → 产品中心)',
};

/** A send's answer as the engine's reply. */
export function sendReply(result: { sent: RedPacketSent } | { error: PayError }): PayoutReply {
  if ('sent' in result) {
    const { sent } = result;
    return {
      outcome: Outcome.PAID,
      code: 'SUCCESS',
      retryAfterMs: 0,
      transient: false,
      receipt: { orderId: sent.sendListid, wechatStatus: 'SENT', ...(sent.package === undefined ? {} : { package: sent.package }) },
    };
  }
  const { error } = result;
  const code = error.errCode ?? (error instanceof PayTransportError ? error.reason : `return_code ${error.returnCode}`);
  const failure = SEND_FAILURES[error.action];
  const alert = alertFor(error, code);
  return {
    outcome: failure.outcome,
    code,
    retryAfterMs: RETRY_AFTER_MS_BY_CODE[code] ?? failure.retryAfterMs,
    transient: error instanceof PayTransportError || TRANSIENT_ERR_CODES.has(code),
    ...(alert === undefined ? {} : { alert }),
  };
}

/** Runs a send and turns its answer, or its PayError, into the engine's reply. */
export async function sendAndReply(send: () => Promise<RedPacketSent>): Promise<PayoutReply> {
  try {
    return sendReply({ sent: await send() });
  } catch (error) {
    if (!(error instanceof PayError)) throw error;
    return sendReply({ error });
  }
}

/** Runs a gethbinfo query and turns its answer, or its PayError, into the engine's reply. */
export async function queryAndReply(query: () => Promise<HbInfo>, appIdAlert: (errCodeDes: string | undefined) => string): Promise<PayoutReply> {
  try {
    return queryReply({ info: await query() }, appIdAlert);
  } catch (error) {
    if (!(error instanceof PayError)) throw error;
    return queryReply({ error }, appIdAlert);
  }
}

/** Why a claim that failed for good with `errCode` is refused. */
export function packetRefusalFor(errCode: string | null): RefusalReason {
  return (errCode === null ? undefined : FINAL_REFUSALS[errCode]) ?? RefusalReason.RISK_BLOCKED;
}

/** gethbinfo's statuses as outcomes (reference §7). NOT_FOUND "may still be in flight": never "not paid". */
const HB_STATUS_OUTCOMES: Readonly<Record<HbStatus, Outcome>> = {
  SENDING: Outcome.IN_PROGRESS,
  SENT: Outcome.PAID,
  RECEIVED: Outcome.RECEIVED,
  FAILED: Outcome.NOT_PAID,
  RFUND_ING: Outcome.REFUNDED,
  REFUND: Outcome.REFUNDED,
  NOT_FOUND: Outcome.NOT_FOUND,
};

const QUERY_RETRY_AFTER_MS = 2_000;

/** A gethbinfo answer as the engine's reply; a failed query tells nothing about the packet. */
export function queryReply(result: { info: HbInfo } | { error: PayError }, appIdAlert: (errCodeDes: string | undefined) => string): PayoutReply {
  if ('info' in result) {
    const { info } = result;
    const outcome = HB_STATUS_OUTCOMES[info.status];
    return {
      outcome,
      code: info.status,
      retryAfterMs: QUERY_RETRY_AFTER_MS,
      transient: false,
      ...(outcome === Outcome.PAID || outcome === Outcome.RECEIVED || outcome === Outcome.REFUNDED
        ? { receipt: { wechatStatus: info.status, ...(info.detailId === undefined ? {} : { orderId: info.detailId }) } }
        : {}),
    };
  }
  const { error } = result;
  const code = error.errCode ?? (error instanceof PayTransportError ? error.reason : `return_code ${error.returnCode}`);
  const alert = code === RedPacketErrCode.ILLEGAL_APPID ? appIdAlert(error.errCodeDes) : alertFor(error, code);
  return {
    outcome: Outcome.UNKNOWN,
    code: `gethbinfo ${code}`,
    retryAfterMs: error.action === PayAction.FIX_CONFIG ? SEND_FAILURES[PayAction.FIX_CONFIG].retryAfterMs : QUERY_RETRY_AFTER_MS,
    transient: true,
    ...(alert === undefined ? {} : { alert: `gethbinfo: ${alert}` }),
  };
}

function alertFor(error: PayError, code: string): string | undefined {
  const action = OPERATOR_ACTIONS[code];
  if (action !== undefined) return `${code}: ${action}`;
  if (error.action !== PayAction.FIX_CONFIG) return undefined;
  return `${code} (${error.errCodeDes ?? error.message}): WeChat refused the request for a configuration reason; fix it, then run \`campaign.ts settle\``;
}

function text(input: Readonly<Record<string, unknown>>, field: string, problems: string[], maxChars: number): string {
  const value = input[field];
  if (typeof value !== 'string' || value.trim() === '') {
    problems.push(`${field} is required (text, at most ${maxChars} characters)`);
    return '';
  }
  if ([...value].length > maxChars) problems.push(`${field} must be at most ${maxChars} characters`);
  // XML 1.0 cannot carry control characters; WeChat would answer XML_ERROR for every packet.
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(value)) problems.push(`${field} contains control characters`);
  return value;
}
