/** Errors of the WeChat Pay red-packet calls: the upstream codes verbatim, plus what to do next. */
import { AppError, ErrorCode } from '../errors';
import { payActionFor, PayAction } from './policy';

/** The Pay endpoints this product calls. */
export type PayEndpoint = '/mmpaymkttransfers/sendredpack' | '/mmpaymkttransfers/sendminiprogramhb' | '/mmpaymkttransfers/gethbinfo';

/**
 * A red-packet call answered FAIL (return_code or result_code). `errCode` is WeChat's err_code
 * verbatim (undefined when return_code was FAIL without one); `action` says whether the same
 * billno may be retried, queried, or replaced. Never shown to a client as it is.
 */
export class PayError extends AppError {
  readonly endpoint: PayEndpoint;
  readonly returnCode: string;
  readonly resultCode: string | undefined;
  readonly errCode: string | undefined;
  readonly errCodeDes: string | undefined;
  readonly action: PayAction;

  constructor(
    endpoint: PayEndpoint,
    reply: { returnCode: string; returnMsg?: string; resultCode?: string; errCode?: string; errCodeDes?: string },
    options: { cause?: unknown; action?: PayAction } = {},
  ) {
    const what = reply.errCode ?? `return_code ${reply.returnCode}`;
    super(ErrorCode.PAY, `WeChat Pay ${endpoint} failed: ${what} ${reply.errCodeDes ?? reply.returnMsg ?? ''}`.trim(), options);
    this.endpoint = endpoint;
    this.returnCode = reply.returnCode;
    this.resultCode = reply.resultCode;
    this.errCode = reply.errCode;
    this.errCodeDes = reply.errCodeDes;
    this.action = options.action ?? payActionFor(reply.errCode);
  }
}

/**
 * No usable reply: timeout, dropped connection, TLS failure, a non-200 status or an
 * unparseable body. Whether WeChat acted is unknown, so the only safe step is the same billno.
 */
export class PayTransportError extends PayError {
  readonly reason: string;
  constructor(endpoint: PayEndpoint, reason: string, options: { cause?: unknown } = {}) {
    super(endpoint, { returnCode: 'UNKNOWN', returnMsg: `no usable reply: ${reason}` }, { ...options, action: PayAction.RETRY_SAME_BILLNO });
    this.reason = reason;
  }
}

/**
 * WeChat answered SUCCESS, but not with our packet: another mch_billno, or a mini-program packet
 * without its package. Paid or not is unknown (same billno), and unlike a lost reply this is an
 * answer: a resend meant to fetch a paid packet's package that gets it has failed.
 */
export class PayReplyError extends PayError {
  readonly reason: string;
  constructor(endpoint: PayEndpoint, reason: string) {
    super(endpoint, { returnCode: 'SUCCESS', resultCode: 'SUCCESS', errCode: 'UNUSABLE_REPLY', errCodeDes: reason }, { action: PayAction.RETRY_SAME_BILLNO });
    this.reason = reason;
  }
}
