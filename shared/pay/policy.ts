/**
 * What a red-packet reply means, as plain data (reference/wechat-api.md §7 err_code table and
 * retry policy, PAY-redpack). The rule that protects the money: only WeChat saying that THIS billno
 * failed (SEND_FAILED, or gethbinfo FAILED) allows a new mch_billno, and a SEND_FAILED counts only
 * for a billno never sent before with an uncertain outcome — a resend of a billno WeChat already
 * paid may be answered SEND_FAILED or any other code (issue 8 §1). The claim engine applies that
 * second half (shared/claims/engine.ts); this file says what each code means.
 */

/** The next step for a claim after a reply (or no reply). */
export const PayAction = {
  /** Outcome unknown or a transient error: send again with the SAME billno (WeChat pays it at most once). */
  RETRY_SAME_BILLNO: 'retry_same_billno',
  /** Accepted, not settled: ask gethbinfo with the same billno; do not resend yet. */
  QUERY: 'query',
  /** Refused for now (balance, rate): wait, then the SAME billno. */
  BACKOFF_SAME_BILLNO: 'backoff_same_billno',
  /** WeChat says this send failed: a NEW billno is allowed, unless an earlier send of this billno had an uncertain outcome. */
  NOT_PAID: 'not_paid',
  /** Definitely not paid and never will be for this user (daily limits, risk control): the claim fails. */
  FINAL: 'final',
  /** Refused because of our configuration (certificate, sign, appid, amount range): held until an operator fixes it, then the SAME billno. */
  FIX_CONFIG: 'fix_config',
  /** The billno exists with other parameters (FATAL_ERROR): it may be paid. A bug to fix; never a new billno. */
  BILLNO_CONFLICT: 'billno_conflict',
} as const;
export type PayAction = (typeof PayAction)[keyof typeof PayAction];

/** The red-packet err_codes this product knows (reference §7). */
export const RedPacketErrCode = {
  SYSTEMERROR: 'SYSTEMERROR',
  PROCESSING: 'PROCESSING',
  SEND_FAILED: 'SEND_FAILED',
  NOTENOUGH: 'NOTENOUGH',
  FREQ_LIMIT: 'FREQ_LIMIT',
  SECOND_OVER_LIMITED: 'SECOND_OVER_LIMITED',
  DAY_OVER_LIMITED: 'DAY_OVER_LIMITED',
  SENDNUM_LIMIT: 'SENDNUM_LIMIT',
  SENDAMOUNT_LIMIT: 'SENDAMOUNT_LIMIT',
  RCVDAMOUNT_LIMIT: 'RCVDAMOUNT_LIMIT',
  MONEY_LIMIT: 'MONEY_LIMIT',
  NO_AUTH: 'NO_AUTH',
  ILLEGAL_APPID: 'ILLEGAL_APPID',
  OPENID_ERROR: 'OPENID_ERROR',
  FATAL_ERROR: 'FATAL_ERROR',
  CA_ERROR: 'CA_ERROR',
  SIGN_ERROR: 'SIGN_ERROR',
  XML_ERROR: 'XML_ERROR',
  PARAM_ERROR: 'PARAM_ERROR',
  API_METHOD_CLOSED: 'API_METHOD_CLOSED',
  MSGAPPID_ERROR: 'MSGAPPID_ERROR',
  ACCEPTMODE_ERROR: 'ACCEPTMODE_ERROR',
  NOT_FOUND: 'NOT_FOUND',
} as const;
export type RedPacketErrCode = (typeof RedPacketErrCode)[keyof typeof RedPacketErrCode];

/** The action per known err_code. Anything not listed is "unknown": same billno, never a new one. */
export const PAY_ERR_CODE_ACTIONS: Readonly<Record<string, PayAction>> = {
  // "请不要更换商户订单号，一定要使用原商户订单号重试"
  [RedPacketErrCode.SYSTEMERROR]: PayAction.RETRY_SAME_BILLNO,
  [RedPacketErrCode.PROCESSING]: PayAction.QUERY,
  // "红包发放失败,请更换单号再重试" — but only trustworthy for a billno that cannot have been paid before.
  [RedPacketErrCode.SEND_FAILED]: PayAction.NOT_PAID,
  [RedPacketErrCode.NOTENOUGH]: PayAction.BACKOFF_SAME_BILLNO,
  [RedPacketErrCode.FREQ_LIMIT]: PayAction.BACKOFF_SAME_BILLNO,
  [RedPacketErrCode.SECOND_OVER_LIMITED]: PayAction.BACKOFF_SAME_BILLNO,
  [RedPacketErrCode.DAY_OVER_LIMITED]: PayAction.BACKOFF_SAME_BILLNO,
  [RedPacketErrCode.SENDNUM_LIMIT]: PayAction.FINAL,
  [RedPacketErrCode.RCVDAMOUNT_LIMIT]: PayAction.FINAL,
  [RedPacketErrCode.SENDAMOUNT_LIMIT]: PayAction.FINAL,
  [RedPacketErrCode.NO_AUTH]: PayAction.FINAL,
  [RedPacketErrCode.MONEY_LIMIT]: PayAction.FIX_CONFIG,
  [RedPacketErrCode.ILLEGAL_APPID]: PayAction.FIX_CONFIG,
  [RedPacketErrCode.OPENID_ERROR]: PayAction.FIX_CONFIG,
  // A billno reused with other parameters: a bug here, never a reason to pay under another billno.
  [RedPacketErrCode.FATAL_ERROR]: PayAction.BILLNO_CONFLICT,
  [RedPacketErrCode.CA_ERROR]: PayAction.FIX_CONFIG,
  [RedPacketErrCode.SIGN_ERROR]: PayAction.FIX_CONFIG,
  [RedPacketErrCode.XML_ERROR]: PayAction.FIX_CONFIG,
  [RedPacketErrCode.PARAM_ERROR]: PayAction.FIX_CONFIG,
  [RedPacketErrCode.API_METHOD_CLOSED]: PayAction.FIX_CONFIG,
  [RedPacketErrCode.MSGAPPID_ERROR]: PayAction.FIX_CONFIG,
  [RedPacketErrCode.ACCEPTMODE_ERROR]: PayAction.FIX_CONFIG,
};

/**
 * Answers that say nothing about the billno (busy, too fast): a resend that gets one has learnt
 * nothing, so it neither settles nor contradicts anything. Unknown codes are not among them.
 */
export const TRANSIENT_ERR_CODES: ReadonlySet<string> = new Set([
  RedPacketErrCode.SYSTEMERROR, RedPacketErrCode.FREQ_LIMIT, RedPacketErrCode.SECOND_OVER_LIMITED, RedPacketErrCode.DAY_OVER_LIMITED,
]);

/** The action for a FAIL reply's err_code; unknown codes keep the billno ("请商户务必不要换单重试"). */
export function payActionFor(errCode: string | undefined): PayAction {
  if (errCode === undefined) return PayAction.RETRY_SAME_BILLNO;
  return Object.hasOwn(PAY_ERR_CODE_ACTIONS, errCode) ? PAY_ERR_CODE_ACTIONS[errCode]! : PayAction.RETRY_SAME_BILLNO;
}
