/**
 * What to do after a transfer-bills answer, as plain data (reference/pay-v3-transfer.md §1.8–§1.9).
 * The rule that protects the money: no answer to a create, however it reads, proves that nothing
 * will be paid. A new `out_bill_no` is allowed only once a (verified) query says the old bill is
 * FAIL or CANCELLED ({@link mayReplaceTransferBill}); everything else keeps the same number and
 * the identical body.
 */

/** The next step after an answer (or no answer). */
export const TransferAction = {
  /** Transient: send the identical request again (create: same out_bill_no, same body). */
  RETRY_SAME_BILL: 'retry_same_bill',
  /** Refused for now (balance, rate): wait, then the identical request. */
  BACKOFF_SAME_BILL: 'backoff_same_bill',
  /** Outcome unknown (no usable answer, an unknown code): query by out_bill_no before anything else. */
  QUERY_FIRST: 'query_first',
  /** Refused because of our configuration or request: hold until an operator fixes it, query, then the identical request. */
  FIX_CONFIG: 'fix_config',
  /** This operation is refused for good (a cancel of a bill that can no longer be cancelled); query for the bill's state. */
  FINAL: 'final',
  /** Query only: WeChat does not know the bill (yet). Never proof that it does not exist (reference §8 q.2): query later. */
  NOT_FOUND: 'not_found',
} as const;
export type TransferAction = (typeof TransferAction)[keyof typeof TransferAction];

/** The three calls, as the policy tells them apart. */
export type TransferOperation = 'create' | 'query' | 'cancel';

/** The `code`s this product knows for transfer-bills (reference §1.9; the official table was not available: incomplete). */
export const TransferErrCode = {
  PARAM_ERROR: 'PARAM_ERROR',
  INVALID_REQUEST: 'INVALID_REQUEST',
  SIGN_ERROR: 'SIGN_ERROR',
  NO_AUTH: 'NO_AUTH',
  NOT_ENOUGH: 'NOT_ENOUGH',
  FREQUENCY_LIMITED: 'FREQUENCY_LIMITED',
  FREQUENCY_LIMIT_EXCEED: 'FREQUENCY_LIMIT_EXCEED',
  SYSTEM_ERROR: 'SYSTEM_ERROR',
  USER_ERROR: 'USER_ERROR',
  NOT_FOUND: 'NOT_FOUND',
} as const;
export type TransferErrCode = (typeof TransferErrCode)[keyof typeof TransferErrCode];

/** One rule: an operation (or any), an HTTP status (or any), a code (or any) → an action, and where it comes from. */
export interface TransferPolicyRow {
  readonly operation: TransferOperation | '*';
  readonly status: number | '*';
  readonly code: string | '*';
  readonly action: TransferAction;
  readonly source: string;
}

/** The rules, most specific first; the first match wins. Anything unmatched is {@link TransferAction.QUERY_FIRST}. */
export const TRANSFER_POLICY: readonly TransferPolicyRow[] = [
  // Query
  { operation: 'query', status: 404, code: TransferErrCode.NOT_FOUND, action: TransferAction.NOT_FOUND,
    source: 'T-out "只能查询最近30天" + reference §8 q.2: whether 404 after a failed create proves no bill is UNVERIFIED, and queries can lag a create' },
  { operation: 'query', status: 500, code: TransferErrCode.SYSTEM_ERROR, action: TransferAction.RETRY_SAME_BILL,
    source: 'T-guide "系统繁忙，请稍后重试": a query is idempotent' },
  // Cancel
  { operation: 'cancel', status: 400, code: TransferErrCode.INVALID_REQUEST, action: TransferAction.FINAL,
    source: 'community pay/000c4ad3a646e03149233e34561800 "单号错误，请检查": number or state not cancellable' },
  { operation: 'cancel', status: 404, code: TransferErrCode.NOT_FOUND, action: TransferAction.FINAL,
    source: 'T-cancel: there is no bill under this out_bill_no to cancel (query before concluding anything)' },
  { operation: 'cancel', status: 429, code: TransferErrCode.FREQUENCY_LIMIT_EXCEED, action: TransferAction.BACKOFF_SAME_BILL,
    source: 'T-pfaq: cancel is limited to 20/s with FREQUENCY_LIMIT_EXCEED (merchant figure UNVERIFIED)' },
  // Any call
  { operation: '*', status: 500, code: TransferErrCode.SYSTEM_ERROR, action: TransferAction.RETRY_SAME_BILL,
    source: 'T-guide: SYSTEM_ERROR "系统繁忙，请稍后重试" → same number and parameters' },
  { operation: '*', status: 429, code: TransferErrCode.FREQUENCY_LIMITED, action: TransferAction.BACKOFF_SAME_BILL,
    source: 'T-out 100 QPS; community pay/0006e032c70ea8198fee080375b000: not accepted, retry with the same number' },
  { operation: '*', status: 403, code: TransferErrCode.NOT_ENOUGH, action: TransferAction.BACKOFF_SAME_BILL,
    source: '"商户运营账户资金不足，充值后可以原单号发起重试，请勿更换商户单号" (community pay/000e66f75b8c40b47003f175e63400)' },
  { operation: '*', status: 403, code: TransferErrCode.NO_AUTH, action: TransferAction.FIX_CONFIG,
    source: 'T-faq: product not enabled, or the other product\'s API ("当前商户号接入升级版本功能…")' },
  { operation: '*', status: 401, code: TransferErrCode.SIGN_ERROR, action: TransferAction.FIX_CONFIG,
    source: 'SIGN: "错误的签名，验签失败" / "商户证书序列号有误" — the request was not executed (没有携带签名或者签名验证不通过的请求，都不会被执行)' },
  { operation: '*', status: 400, code: TransferErrCode.PARAM_ERROR, action: TransferAction.FIX_CONFIG,
    source: 'community pay/000ccef96d868053c813e092361400 (report infos), personal/oCJUswy2hVK2sqGWLQHq6-BnK0C8 (missing field), wechatpay-php#145 (user_name not encrypted)' },
  { operation: '*', status: 400, code: TransferErrCode.INVALID_REQUEST, action: TransferAction.FIX_CONFIG,
    source: 'T-faq: perception label, per-bill range, "单号已存在但信息不一致"; community pay/0000009f344640c8e4839ced36bc00: openid not of appid' },
  { operation: '*', status: '*', code: TransferErrCode.USER_ERROR, action: TransferAction.FIX_CONFIG,
    source: 'T-faq "当前商户存在异常，暂时无法进行转账。": merchant penalised, see 违约记录' },
];

/**
 * The action for an answer with this status and code. Unknown codes and unmatched statuses are
 * QUERY_FIRST (T-create, reference §1.8: after any non-200 or an unknown code, keep the number and
 * query first), never a reason to switch numbers.
 */
export function transferActionFor(operation: TransferOperation, status: number, code: string | undefined): TransferAction {
  const row = TRANSFER_POLICY.find((candidate) =>
    (candidate.operation === '*' || candidate.operation === operation) &&
    (candidate.status === '*' || candidate.status === status) &&
    (candidate.code === '*' || candidate.code === code));
  return row?.action ?? TransferAction.QUERY_FIRST;
}

/** The states of a bill (reference §1.5). */
export const TRANSFER_STATES = [
  'ACCEPTED', 'PROCESSING', 'WAIT_USER_CONFIRM', 'TRANSFERING', 'SUCCESS', 'FAIL', 'CANCELING', 'CANCELLED',
] as const;
export type TransferState = (typeof TRANSFER_STATES)[number];

/** SUCCESS, FAIL and CANCELLED: the only states a bill never leaves (and the only ones notified). */
export const FINAL_TRANSFER_STATES: ReadonlySet<TransferState> = new Set(['SUCCESS', 'FAIL', 'CANCELLED']);

export function isTransferState(value: unknown): value is TransferState {
  return typeof value === 'string' && (TRANSFER_STATES as readonly string[]).includes(value);
}

/**
 * Whether a bill's state allows the claim to use a NEW out_bill_no: only FAIL and CANCELLED, as
 * a query reported them (T-create: a new number only when the query clearly says FAIL; T-faq: a bill the
 * user never confirmed is cancelled or closed, confirmed CANCELLED/FAIL by query, then replaced).
 */
export function mayReplaceTransferBill(state: TransferState): boolean {
  return state === 'FAIL' || state === 'CANCELLED';
}
