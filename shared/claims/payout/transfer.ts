/**
 * The merchant transfer (商家转账, Pay v3, user-confirm mode; reference/pay-v3-transfer.md): a bill
 * to the person's openid under the app they claim in. The client opens WeChat's confirm page with
 * wx.requestMerchantTransfer, whose arguments `{ mchId, appId, package }` are the whole answer,
 * and nothing is paid until the user confirms and the bill reaches SUCCESS.
 *
 * A bill, as WeChat moves it (shared/pay/v3/policy.ts TRANSFER_STATES):
 *
 *   create ─▶ ACCEPTED ─▶ PROCESSING ─▶ WAIT_USER_CONFIRM ──user confirms──▶ TRANSFERING ─▶ SUCCESS
 *     │          │            │              └──not confirmed, ~24 h──▶ FAIL (OVERDUE_CLOSE)
 *     │          └────────────┴──────────────┴──operator's cancel──▶ CANCELING ─▶ CANCELLED
 *     └──▶ FAIL at once (the payee's daily limit, risk control…)
 *
 * The claim (engine.ts) on the way:
 *
 *   SENDING ──create answered (any state but final)──▶ WAITING, package_info kept: every call of the
 *            person answers that package again, until the bill is final
 *   WAITING ──query / notify: SUCCESS──▶ RECEIVED (paid)
 *   WAITING ──query / notify / create answer: FAIL or CANCELLED──▶ FAILED; the amount goes back to
 *            the campaign in the same transaction (WeChat said final: the bill can never pay)
 *   WAITING without the package (ACCEPTED when created, or the create answer was lost, then a query
 *            says WAIT_USER_CONFIRM) ──▶ the identical create again: it answers the same bill and its package
 *   no usable answer (timeout, dropped, 5xx, SYSTEM_ERROR, an unknown code, an answer that does not
 *            verify) ──▶ UNKNOWN ──query──▶ the bill's state; NOT_FOUND ──▶ the identical create again
 *
 * The money rules: the create body is built once and persisted with the claim in the reservation,
 * so every retry of the bill sends the same bytes (same number + same body → the same bill at
 * WeChat, never a second one); only a bill state FAIL or CANCELLED — WeChat's signed word about
 * that bill — ends the claim, and then the claim ends for good: the person does not claim again
 * (README "Merchant transfers"), so no claim ever needs a second out_bill_no.
 */
import { InputError } from '../../errors';
import { PayV3Error, PayV3ApiError } from '../../pay/v3/errors';
import type { TransferBillNotice } from '../../pay/v3/notify';
import { TransferAction, type TransferState } from '../../pay/v3/policy';
import { buildTransferBill, USER_NAME_REQUIRED_FROM_FEN, type TransferBill } from '../../pay/v3/transfer';
import { ClaimPendingError, refusal, RefusalReason } from '../errors';
import type { CampaignDoc, ClaimDoc, TransferTerms } from '../model';
import type { BillNotice } from '../settlement';
import { mchBillnoFor } from './redpacket';
import { Outcome, type PayoutCampaignPlan, type PayoutModule, type PayoutReply } from './types';

/** What wx.requestMerchantTransfer takes (普通商户 mode), and all the client gets while the bill waits (reference §2). */
export interface MerchantTransferArgs {
  mchId: string;
  appId: string;
  package: string;
}

/** The scene of a red-packet replacement: 现金营销 (reference §1.3). */
export const DEFAULT_TRANSFER_SCENE_ID = '1000';
/** 现金营销's fixed minimum, 0.1 元 (T-faq, T-pfaq). */
export const MIN_TRANSFER_FEN = 10;
/** The per-bill maximum reported as scene 1000's default, 200 元 (UNVERIFIED); a merchant that raised it sets transferMaxFen. */
export const DEFAULT_MAX_TRANSFER_FEN = 20_000;
/** From 2,000 元 WeChat wants the payee's real name, which a claim does not have. */
export const MAX_TRANSFER_FEN = USER_NAME_REQUIRED_FROM_FEN - 1;

/**
 * The report infos each scene takes (`info_type`, exact strings, reference §1.3) and the labels it
 * may show (`user_recv_perception`; only 1000's are documented, T-1000). A scene not listed takes
 * any report infos and any label: what it needs is UNVERIFIED, WeChat's PARAM_ERROR will say.
 */
export const TRANSFER_SCENES: Readonly<Record<string, { reportTypes: readonly string[]; perceptions?: readonly string[]; name: string }>> = {
  '1000': { name: '现金营销', reportTypes: ['活动名称', '奖励说明'], perceptions: ['现金奖励', '活动奖励'] },
  '1002': { name: '行政补贴', reportTypes: ['补贴类型'] },
  '1004': { name: '保险理赔', reportTypes: ['保险产品备案编号', '保险名称', '保险操作单号'] },
  '1005': { name: '佣金报酬', reportTypes: ['岗位类型', '报酬说明'] },
  '1009': { name: '采购货款', reportTypes: ['采购商品名称'] },
  '1010': { name: '二手回收', reportTypes: ['回收商品名称'] },
  '1011': { name: '企业赔付', reportTypes: ['赔付原因'] },
  '1013': { name: '公益补助', reportTypes: ['公益活动名称', '公益活动备案编号'] },
};

/** The campaign JSON fields of a transfer. */
export const TRANSFER_CAMPAIGN_FIELDS = ['transferSceneId', 'reportInfos', 'transferRemark', 'userRecvPerception', 'transferMaxFen'] as const;

/** How long a bill in one state is left alone before the next look: the first wait, doubling per look, up to the last. */
interface Watch {
  firstMs: number;
  maxMs: number;
}

/**
 * Each bill state as the engine's outcome, and when to look again (reference §1.5). A waiting user
 * is looked at rarely — the notify brings SUCCESS, and the close comes after ~24 h — while states
 * WeChat moves by itself are looked at soon.
 */
export const BILL_STATE_POLICY: Readonly<Record<TransferState, { outcome: Outcome; watch?: Watch; refetch?: 'always' | 'without-package'; source: string }>> = {
  ACCEPTED: { outcome: Outcome.WAITING, watch: { firstMs: 2_000, maxMs: 600_000 }, refetch: 'always',
    source: 'T-out: 转账已受理, the original request may be retried; T-guide: same number, same body, after checking funds' },
  PROCESSING: { outcome: Outcome.WAITING, watch: { firstMs: 2_000, maxMs: 600_000 },
    source: 'T-out: 锁定资金中; stuck here usually means the 运营账户 is low' },
  WAIT_USER_CONFIRM: { outcome: Outcome.WAITING, watch: { firstMs: 60_000, maxMs: 2 * 3_600_000 }, refetch: 'without-package',
    source: 'T-create: package_info only with WAIT_USER_CONFIRM, only in the create answer; T-faq: closed about 24 h after creation' },
  TRANSFERING: { outcome: Outcome.WAITING, watch: { firstMs: 2_000, maxMs: 600_000 },
    source: 'T-out: 转账中, the confirm page may be reopened' },
  CANCELING: { outcome: Outcome.WAITING, watch: { firstMs: 2_000, maxMs: 600_000 },
    source: 'T-cancel: a cancel success only means accepted; query for the result' },
  SUCCESS: { outcome: Outcome.RECEIVED, source: 'T-out: 转账成功, final' },
  FAIL: { outcome: Outcome.CLOSED, source: 'T-out: 转账失败, final; the only state (with CANCELLED) after which nothing can pay' },
  CANCELLED: { outcome: Outcome.CLOSED, source: 'T-out: 转账撤销完成, funds returned, final' },
};

/** An unconfirmed bill closes about this long after its creation (T-faq); closing may take longer (T-concept). */
const EXPECTED_CLOSE_MS = 24 * 3_600_000;
/** After the expected close, a bill still waiting is looked at this often. */
const AFTER_CLOSE_WATCH_MS = 10 * 60_000;
/** Looks at a PROCESSING bill (2 s, doubling: about two minutes) after which the operator hears of it. */
const STUCK_PROCESSING_LOOKS = 6;

/**
 * What an error answer means for the claim, by the action shared/pay/v3/policy.ts gives it. No
 * error ever ends a claim or allows a new number: a refusal is retried with the same bill, an
 * unknown outcome is queried first.
 */
const ERROR_OUTCOMES: Readonly<Record<TransferAction, { outcome: Outcome; retryAfterMs: number; transient: boolean }>> = {
  [TransferAction.RETRY_SAME_BILL]: { outcome: Outcome.UNKNOWN, retryAfterMs: 1_000, transient: true },
  [TransferAction.BACKOFF_SAME_BILL]: { outcome: Outcome.REFUSED, retryAfterMs: 1_000, transient: true },
  [TransferAction.QUERY_FIRST]: { outcome: Outcome.UNKNOWN, retryAfterMs: 1_000, transient: true },
  [TransferAction.FIX_CONFIG]: { outcome: Outcome.REFUSED, retryAfterMs: 300_000, transient: false },
  [TransferAction.FINAL]: { outcome: Outcome.UNKNOWN, retryAfterMs: 1_000, transient: true },
  [TransferAction.NOT_FOUND]: { outcome: Outcome.NOT_FOUND, retryAfterMs: 2_000, transient: false },
};

/** Codes whose wait differs from their action's. */
const RETRY_AFTER_MS_BY_CODE: Readonly<Record<string, number>> = {
  // A top-up needs a person: asking every second helps nobody.
  NOT_ENOUGH: 60_000,
};

/** What the operator must do, per code; other FIX_CONFIG refusals get a generic line. */
const OPERATOR_ACTIONS: Readonly<Record<string, string>> = {
  NOT_ENOUGH: 'the 运营账户 (not the 基本账户) is too low: top it up in 商户平台, then run `campaign.ts settle`; the same bills go through',
  NO_AUTH: 'merchant transfers are not enabled for the merchant, or it has the older product: 商户平台 → 产品中心 → 商家转账',
  SIGN_ERROR: 'WeChat Pay refused the request signature: store the right merchant key and certificate with `campaign.ts v3-keys`',
  USER_ERROR: 'WeChat Pay suspended transfers for the merchant: see 商户平台 → 违约记录',
};

/**
 * FAIL reasons (IM webhook list, reference §3) as what the user is told; the rest are
 * TRANSFER_DECLINED. Every one is final for the claim: a closed bill never pays.
 */
const FAIL_REFUSALS: Readonly<Record<string, RefusalReason>> = {
  OVERDUE_CLOSE: RefusalReason.TRANSFER_EXPIRED,
  CANCELLED: RefusalReason.TRANSFER_CANCELLED,
  MCH_CANCEL: RefusalReason.TRANSFER_CANCELLED,
  DAY_RECEIVED_COUNT_EXCEED: RefusalReason.USER_DAILY_LIMIT,
  DAY_RECEIVED_QUOTA_EXCEED: RefusalReason.USER_DAILY_LIMIT,
  REALNAME_ACCOUNT_RECEIVED_QUOTA_EXCEED: RefusalReason.USER_DAILY_LIMIT,
  BLOCK_B2C_USERLIMITAMOUNT_MONTH: RefusalReason.USER_DAILY_LIMIT,
  BLOCK_B2C_USERLIMITAMOUNT_BSRULE_MONTH: RefusalReason.USER_DAILY_LIMIT,
  TRANSFER_QUOTA_EXCEED: RefusalReason.MERCHANT_LIMIT,
  TRANSFER_RISK: RefusalReason.RISK_BLOCKED,
};

/** FAIL reasons that say something about the merchant's set-up: the operator hears of them. */
const FAIL_ALERTS: Readonly<Record<string, string>> = {
  TRANSFER_QUOTA_EXCEED: 'the merchant reached its transfer quota for the day (商户平台 → 商家转账 → 转账额度)',
  BUDGET_NOT_ENOUGH: 'the transfer budget of the merchant is spent (商户平台 → 商家转账)',
  PAYER_ACCOUNT_ABNORMAL: 'WeChat Pay reports the merchant account as abnormal (商户平台)',
  TRANSFER_SCENE_INVALID: 'the campaign\'s transferSceneId is not a scene the merchant holds (商户平台 → 产品中心 → 商家转账)',
  TRANSFER_SCENE_UNAVAILABLE: 'the campaign\'s transfer scene is unavailable for the merchant (商户平台 → 产品中心 → 商家转账)',
  PRODUCT_AUTH_CHECK_FAIL: 'the merchant\'s transfer product failed WeChat\'s check (商户平台 → 产品中心 → 商家转账)',
  TRANSFER_REMARK_SET_FAIL: 'WeChat refused the campaign\'s transferRemark',
};

/** Validates a transfer campaign's fields (pushing every problem) and gives the amounts it may pay. */
export function planTransferCampaign(input: Readonly<Record<string, unknown>>, problems: string[]): PayoutCampaignPlan {
  const sceneId = input.transferSceneId ?? DEFAULT_TRANSFER_SCENE_ID;
  const scene = typeof sceneId === 'string' ? TRANSFER_SCENES[sceneId] : undefined;
  if (typeof sceneId !== 'string' || !/^[0-9]{1,36}$/.test(sceneId)) problems.push('transferSceneId must be the digits of a transfer scene, e.g. "1000" (现金营销)');
  const remark = boundedText(input.transferRemark, 'transferRemark', 32, problems, 'the remark the user sees');
  const reportInfos: TransferTerms['reportInfos'] = [];
  const infos = input.reportInfos;
  if (infos === null || typeof infos !== 'object' || Array.isArray(infos) || Object.keys(infos).length === 0) {
    problems.push(`reportInfos must be an object of info_type → text${scene ? `: scene ${sceneId} (${scene.name}) takes ${scene.reportTypes.join(', ')}` : ''}`);
  } else {
    for (const [infoType, infoContent] of Object.entries(infos as Record<string, unknown>)) {
      if ([...infoType].length > 15) problems.push(`reportInfos key ${JSON.stringify(infoType.slice(0, 20))} must be at most 15 characters`);
      const content = boundedText(infoContent, `reportInfos.${infoType}`, 32, problems, 'text');
      reportInfos.push({ infoType, infoContent: content });
    }
    if (scene !== undefined) {
      const given = reportInfos.map((info) => info.infoType);
      const missing = scene.reportTypes.filter((type) => !given.includes(type));
      const extra = given.filter((type) => !scene.reportTypes.includes(type));
      if (missing.length > 0 || extra.length > 0) {
        problems.push(`reportInfos of scene ${sceneId} (${scene.name}) must be exactly ${scene.reportTypes.join(', ')}` +
          `${missing.length > 0 ? `; missing ${missing.join(', ')}` : ''}${extra.length > 0 ? `; not for this scene: ${extra.join(', ')}` : ''}`);
      }
    }
  }
  let perception: string | null = null;
  if (input.userRecvPerception !== undefined) {
    perception = boundedText(input.userRecvPerception, 'userRecvPerception', 32, problems, 'the label the user sees');
    if (scene?.perceptions !== undefined && !scene.perceptions.includes(perception)) {
      problems.push(`userRecvPerception of scene ${sceneId} must be one of ${scene.perceptions.join(', ')} (or left out: WeChat's default)`);
    }
  }
  let maxFen = DEFAULT_MAX_TRANSFER_FEN;
  if (input.transferMaxFen !== undefined) {
    const value = input.transferMaxFen;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < MIN_TRANSFER_FEN || value > MAX_TRANSFER_FEN) {
      problems.push(`transferMaxFen must be a whole number of fen from ${MIN_TRANSFER_FEN} to ${MAX_TRANSFER_FEN} (the per-bill maximum set in 商户平台 → 商家转账 → 转账额度; from 2,000 元 WeChat wants the payee's real name)`);
    } else maxFen = value;
  }
  const transfer: TransferTerms = { sceneId: typeof sceneId === 'string' ? sceneId : DEFAULT_TRANSFER_SCENE_ID, reportInfos, remark, userRecvPerception: perception };
  return {
    fields: { transfer, sendName: '', wishing: '', actName: '', remark: '', sceneId: null },
    minAmountFen: MIN_TRANSFER_FEN,
    maxAmountFen: maxFen,
    rangeText: `${MIN_TRANSFER_FEN}–${maxFen} fen (0.1 元 to the per-bill maximum; set transferMaxFen if the merchant raised it above 200 元)`,
  };
}

/** Why a transfer claim that ended unpaid is refused, by the bill's fail_reason (or CANCELLED). */
export function transferRefusalFor(failedErrCode: string | null): RefusalReason {
  return (failedErrCode === null ? undefined : FAIL_REFUSALS[failedErrCode]) ?? RefusalReason.TRANSFER_DECLINED;
}

/**
 * What a bill's state means for the claim, and when to look again. `refetch` asks for the identical
 * create when the bill waits for the person and only create gives their package back.
 */
export function billReply(
  bill: { state: TransferState; transferBillNo?: string | undefined; failReason?: string | undefined; packageInfo?: string | undefined },
  claim: Pick<ClaimDoc, 'package' | 'queryCount' | 'createdAtMs'>,
  nowMs: number,
): PayoutReply {
  const policy = BILL_STATE_POLICY[bill.state];
  const receipt = {
    wechatStatus: bill.state,
    ...(bill.transferBillNo === undefined ? {} : { orderId: bill.transferBillNo }),
    ...(bill.packageInfo === undefined ? {} : { package: bill.packageInfo }),
  };
  if (policy.outcome === Outcome.CLOSED) {
    const code = bill.state === 'CANCELLED' ? 'CANCELLED' : bill.failReason ?? 'FAIL';
    const alert = FAIL_ALERTS[code];
    return { outcome: Outcome.CLOSED, code, retryAfterMs: 0, transient: false, receipt, ...(alert === undefined ? {} : { alert: `${code}: ${alert}` }) };
  }
  if (policy.outcome === Outcome.RECEIVED) return { outcome: Outcome.RECEIVED, code: bill.state, retryAfterMs: 0, transient: false, receipt };
  const watch = policy.watch!;
  let retryAfterMs = Math.min(watch.maxMs, watch.firstMs * 2 ** Math.min(claim.queryCount, 16));
  if (bill.state === 'WAIT_USER_CONFIRM') {
    // Look again right after the expected close, where the next state (FAIL) gives the amount back.
    const closesAtMs = claim.createdAtMs + EXPECTED_CLOSE_MS + 60_000;
    retryAfterMs = nowMs < closesAtMs ? Math.min(retryAfterMs, closesAtMs - nowMs) : AFTER_CLOSE_WATCH_MS;
  }
  const hasPackage = bill.packageInfo !== undefined || claim.package !== null;
  const refetch = policy.refetch === 'always' || (policy.refetch === 'without-package' && !hasPackage);
  // WeChat locks the funds within seconds; a bill that stays PROCESSING usually waits for a top-up (T-out).
  const alert = bill.state === 'PROCESSING' && claim.queryCount >= STUCK_PROCESSING_LOOKS
    ? 'PROCESSING: a transfer bill has been locking its funds for minutes, which usually means the 运营账户 is too low: top it up in 商户平台'
    : undefined;
  return {
    outcome: Outcome.WAITING, code: bill.state, retryAfterMs, transient: false, receipt,
    ...(refetch ? { refetch: true as const } : {}), ...(alert === undefined ? {} : { alert }),
  };
}

/** An error answer (or none) of a transfer-bills call as the engine's reply. */
export function errorReply(error: PayV3Error, prefix = ''): PayoutReply {
  const code = error instanceof PayV3ApiError ? error.errCode : `${error.endpoint} ${(error as { reason?: string }).reason ?? 'failed'}`;
  const mapped = ERROR_OUTCOMES[error.action];
  const action = OPERATOR_ACTIONS[code];
  const alert = action !== undefined
    ? `${code}: ${action}`
    : error.action === TransferAction.FIX_CONFIG && error instanceof PayV3ApiError
      ? `${code} (HTTP ${error.status} ${error.errMessage}): WeChat Pay refused the transfer for a reason of the set-up or the campaign; fix it, then run \`campaign.ts settle\``
      : undefined;
  return {
    outcome: mapped.outcome,
    code: `${prefix}${code}`,
    retryAfterMs: RETRY_AFTER_MS_BY_CODE[code] ?? mapped.retryAfterMs,
    transient: mapped.transient,
    ...(alert === undefined ? {} : { alert }),
  };
}

/** Whether a bill WeChat describes is the claim's: same number, amount, payee and app (a mix-up must not be recorded as ours). */
export function billMismatch(bill: Pick<TransferBill, 'outBillNo' | 'amountFen' | 'openid' | 'appId'>, claim: Pick<ClaimDoc, 'mchBillno' | 'amountFen' | 'openid' | 'appId'>): string | null {
  if (bill.outBillNo !== claim.mchBillno) return `out_bill_no ${bill.outBillNo}, not ${claim.mchBillno}`;
  if (bill.amountFen !== claim.amountFen) return `transfer_amount ${bill.amountFen}, not ${claim.amountFen}`;
  if (bill.openid !== undefined && bill.openid !== claim.openid) return `another openid`;
  if (bill.appId !== '' && bill.appId !== claim.appId) return `appid ${bill.appId}, not ${claim.appId}`;
  return null;
}

/** A verified MCHTRANSFER.BILL.FINISHED notice as the claim's notice (../settlement.ts recordBillNotice): the same codes a query gives. */
export function transferBillNotice(notice: TransferBillNotice): BillNotice {
  const { bill } = notice;
  const reply = billReply(bill, { package: null, queryCount: 0, createdAtMs: 0 }, 0);
  return {
    payout: 'transfer',
    billno: bill.outBillNo,
    // Only final states are notified (parseTransferBillNotify refuses others): SUCCESS, or FAIL/CANCELLED.
    outcome: reply.outcome === Outcome.RECEIVED ? 'received' : 'closed',
    code: reply.code,
    wechatStatus: bill.state,
    orderId: bill.transferBillNo,
    amountFen: bill.amountFen,
    openid: bill.openid,
  };
}

export const merchantTransfer: PayoutModule = {
  name: 'transfer',
  campaignFields: TRANSFER_CAMPAIGN_FIELDS,
  planCampaign: planTransferCampaign,
  // 28 base-62 characters: inside out_bill_no's ^[0-9A-Za-z]{1,32}$.
  billnoFor: mchBillnoFor,
  refusalFor: transferRefusalFor,
  givesBack: true,
  claimFields: (campaign: CampaignDoc) => (campaign.transfer === undefined ? {} : { transfer: campaign.transfer }),
  create({ settings, transfers, now, log }) {
    const { mchId } = settings;
    return {
      // The app the person claims in: the mini-program's users confirm in the mini-program, a page's
      // in the service account's web view (wx.requestMerchantTransfer / WeixinJSBridge, reference §2).
      payeeAppId: (eligibility) => (eligibility === 'miniprogram' ? settings.miniProgramAppId : settings.officialAppId),
      pacingKey: `pace-transfer:${mchId}`,
      sendsPerSecond: settings.transfersPerSecond,
      prepare: () => transfers.prepare(),
      billFields(claim) {
        if (claim.transfer === undefined) throw new InputError(`claim ${claim._id} has no transfer terms`, 'transfer');
        const { sceneId, reportInfos, remark, userRecvPerception } = claim.transfer;
        const { body } = buildTransferBill({
          outBillNo: claim.mchBillno,
          appId: claim.appId,
          openid: claim.openid,
          amountFen: claim.amountFen,
          transferSceneId: sceneId,
          transferRemark: remark,
          reportInfos,
          ...(userRecvPerception === null ? {} : { userRecvPerception }),
          ...(settings.transferNotifyUrl === undefined ? {} : { notifyUrl: settings.transferNotifyUrl }),
        });
        return { billBody: body };
      },
      async send(claim) {
        // Persisted in the reservation (engine.ts): a claim without it would send a body nobody kept.
        if (claim.billBody === null) throw new Error(`claim ${claim._id} has no persisted transfer body`);
        try {
          const created = await transfers.create({ outBillNo: claim.mchBillno, amountFen: claim.amountFen, body: claim.billBody });
          return billReply(created, claim, now());
        } catch (error) {
          if (!(error instanceof PayV3Error)) throw error;
          return errorReply(error);
        }
      },
      async query(claim) {
        try {
          const lookup = await transfers.queryByOutBillNo(claim.mchBillno);
          if (!lookup.found) return { outcome: Outcome.NOT_FOUND, code: 'NOT_FOUND', retryAfterMs: 2_000, transient: false };
          const mismatch = billMismatch(lookup.bill, claim);
          if (mismatch !== null) {
            log.error('transfer query describes another bill', { claimId: claim._id, outBillNo: claim.mchBillno, mismatch });
            return {
              outcome: Outcome.UNKNOWN, code: 'BILL_MISMATCH', retryAfterMs: 300_000, transient: true,
              alert: `the bill WeChat holds under ${claim.mchBillno} differs from the claim (${mismatch}): nothing is recorded until someone looks`,
            };
          }
          return billReply(lookup.bill, claim, now());
        } catch (error) {
          if (!(error instanceof PayV3Error)) throw error;
          return errorReply(error, 'query ');
        }
      },
      async cancel(claim) {
        try {
          const cancelled = await transfers.cancel(claim.mchBillno);
          return { outcome: Outcome.WAITING, code: cancelled.state, retryAfterMs: 0, transient: false, receipt: { wechatStatus: cancelled.state } };
        } catch (error) {
          if (!(error instanceof PayV3Error)) throw error;
          return errorReply(error, 'cancel ');
        }
      },
      // The client's package comes from create (refetch); a received transfer needs nothing more.
      lacksDelivery: () => false,
      answer(claim): MerchantTransferArgs {
        if (claim.status === 'RECEIVED') throw refusal(RefusalReason.TRANSFER_RECEIVED);
        // Reserved, being created, or accepted without its package yet: the client calls again shortly.
        if (claim.package === null) throw new ClaimPendingError(Math.max(1_000, claim.nextAttemptAtMs - now()));
        return { mchId, appId: claim.appId, package: claim.package };
      },
    };
  },
};

function boundedText(value: unknown, field: string, maxChars: number, problems: string[], what: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    problems.push(`${field} is required (${what}, at most ${maxChars} characters)`);
    return '';
  }
  if ([...value].length > maxChars) problems.push(`${field} must be at most ${maxChars} characters`);
  if (/[\u0000-\u001f\u007f]/.test(value)) problems.push(`${field} contains control characters`);
  return value;
}
