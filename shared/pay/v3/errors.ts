/** Errors of the APIv3 calls: WeChat's `code` verbatim, the HTTP status, and what to do next. */
import { AppError, ErrorCode } from '../../errors';
import { transferActionFor, TransferAction, type TransferOperation } from './policy';

/** The APIv3 calls this product makes, by the name errors and counters use. */
export type PayV3Endpoint = 'transfer-bills.create' | 'transfer-bills.query-by-out-bill-no' | 'transfer-bills.query-by-transfer-bill-no' | 'transfer-bills.cancel';

/** The policy's operation of an endpoint. */
export function payV3OperationOf(endpoint: PayV3Endpoint): TransferOperation {
  if (endpoint === 'transfer-bills.create') return 'create';
  if (endpoint === 'transfer-bills.cancel') return 'cancel';
  return 'query';
}

/** Base of both APIv3 errors: `action` says what the claim may do next. Never shown to a client as it is. */
export class PayV3Error extends AppError {
  readonly endpoint: PayV3Endpoint;
  readonly action: TransferAction;
  constructor(endpoint: PayV3Endpoint, message: string, action: TransferAction, options: { cause?: unknown } = {}) {
    super(ErrorCode.PAY, message, options);
    this.endpoint = endpoint;
    this.action = action;
  }
}

/**
 * WeChat answered with an error: `errCode` is its `code` verbatim (SYSTEM_ERROR, NOT_ENOUGH…),
 * `errMessage` its `message` (for humans: never branch on it), `detail` its `detail` as sent.
 * `verified` says whether the answer carried a valid WeChat Pay signature: WeChat signs every
 * answer to a request it authenticated, so a 401 and a proxy's error page are unsigned, and an
 * unsigned error decides nothing that could pay twice (no error permits a new out_bill_no).
 */
export class PayV3ApiError extends PayV3Error {
  readonly status: number;
  readonly errCode: string;
  readonly errMessage: string;
  readonly detail: unknown;
  readonly verified: boolean;
  readonly requestId: string | undefined;
  constructor(
    endpoint: PayV3Endpoint,
    answer: { status: number; errCode: string; errMessage: string; detail?: unknown; verified: boolean; requestId?: string | undefined },
  ) {
    super(
      endpoint,
      `WeChat Pay ${endpoint} failed: HTTP ${answer.status} ${answer.errCode} ${answer.errMessage}`.trim(),
      transferActionFor(payV3OperationOf(endpoint), answer.status, answer.errCode),
    );
    this.status = answer.status;
    this.errCode = answer.errCode;
    this.errMessage = answer.errMessage;
    this.detail = answer.detail;
    this.verified = answer.verified;
    this.requestId = answer.requestId;
  }
}

/**
 * No usable answer: a timeout, a dropped connection, a TLS failure, a 5xx without WeChat's JSON,
 * an unparseable body, or an answer whose signature does not verify (forged or damaged on the
 * way). Whether WeChat acted is unknown: never "failed" — query by out_bill_no first, and keep
 * the number.
 */
export class PayV3UnknownOutcomeError extends PayV3Error {
  readonly reason: string;
  readonly status: number | undefined;
  constructor(endpoint: PayV3Endpoint, reason: string, options: { cause?: unknown; status?: number } = {}) {
    super(endpoint, `WeChat Pay ${endpoint}: outcome unknown (${reason})`, TransferAction.QUERY_FIRST, options);
    this.reason = reason;
    this.status = options.status;
  }
}
