/**
 * Fault injection for the APIv3 transfer calls, as for v2: the next N calls of an operation
 * (optionally for one out_bill_no) get an error (code and HTTP status), an empty gateway error,
 * an unparseable body, a dropped connection, a broken answer signature and/or a delay — either
 * instead of being handled (`accept: false`) or after being handled for real (`accept: true`:
 * the bill IS created or cancelled, then the answer lies or never arrives). Notify loss and
 * duplication are injected separately ({@link addNotifyFault}).
 */
import {
  SandboxInputError, expectNonNegativeNumber, expectOptionalBoolean, expectPositiveInteger, expectRecord, expectString,
} from '../../sandbox/validate';
import type { NotifyFault, V3Context } from './state';

/** The operations faults may target. */
export const V3_OPERATIONS = ['create', 'queryByOutBillNo', 'queryByTransferBillNo', 'cancel'] as const;
export type V3Operation = (typeof V3_OPERATIONS)[number];

/** How an answer's signature is broken: none, a wrong one, a key the client does not know, or a timestamp 10 minutes old. */
export const SIGNATURE_FAULTS = ['missing', 'invalid', 'unknown-serial', 'stale'] as const;
export type SignatureFault = (typeof SIGNATURE_FAULTS)[number];

/** What `POST /__sandbox/pay/transfers/faults` accepts. */
export interface V3FaultInput {
  operation: V3Operation;
  /** Only calls for this out_bill_no (create: the body's; cancel and query: the path's). */
  outBillNo?: string;
  /** Answer with this WeChat error `code` (any upper-case code: unknown ones are a case clients must handle). */
  code?: string;
  /** The HTTP status; defaults per code (429 FREQUENCY_LIMITED, 403 NOT_ENOUGH, 500 SYSTEM_ERROR…). Alone: an empty body, as a gateway answers. */
  status?: number;
  /** The error `message`; defaults to WeChat's text for the code. */
  message?: string;
  /** A 200 whose JSON is cut off (signed, so only the parse fails). */
  unparseable?: boolean;
  /** Destroy the connection without an answer. */
  drop?: boolean;
  /** Break the answer's signature (with or without another fault's answer). */
  signature?: SignatureFault;
  /** Handle the call for real first, then apply the fault. Default false. */
  accept?: boolean;
  /** Wall-clock delay: before handling (accept false) or between handling and answering (accept true). */
  delayMs?: number;
  /** How many matching calls it applies to; default 1. */
  times?: number;
}

/** A pending fault, as `GET /__sandbox/pay/transfers/faults` shows it. */
export interface V3Fault {
  readonly id: number;
  readonly operation: V3Operation;
  readonly outBillNo: string | undefined;
  readonly code: string | undefined;
  readonly status: number | undefined;
  readonly message: string | undefined;
  readonly unparseable: boolean;
  readonly drop: boolean;
  readonly signature: SignatureFault | undefined;
  readonly accept: boolean;
  readonly delayMs: number;
  remaining: number;
}

/** What `POST /__sandbox/pay/transfers/notify-faults` accepts. */
export interface NotifyFaultInput {
  /** Only the notify of this bill. */
  outBillNo?: string;
  /** The notify is never sent ("delivery is not guaranteed", T-notify). */
  lose?: boolean;
  /** The notify is delivered twice (duplicates are normal, T-notify). */
  duplicate?: boolean;
  times?: number;
}

/** The HTTP status WeChat uses for each code (reference §1.9). */
export const V3_CODE_STATUS: Readonly<Record<string, number>> = {
  PARAM_ERROR: 400,
  INVALID_REQUEST: 400,
  SIGN_ERROR: 401,
  NO_AUTH: 403,
  NOT_ENOUGH: 403,
  USER_ERROR: 403,
  NOT_FOUND: 404,
  FREQUENCY_LIMITED: 429,
  FREQUENCY_LIMIT_EXCEED: 429,
  SYSTEM_ERROR: 500,
};

/** WeChat's message per code (for humans; clients branch on the code). */
export const V3_CODE_MESSAGE: Readonly<Record<string, string>> = {
  PARAM_ERROR: '参数错误',
  INVALID_REQUEST: '请求不合法',
  SIGN_ERROR: '错误的签名，验签失败',
  NO_AUTH: '当前商户号没有相关权限，暂不支持使用',
  NOT_ENOUGH: '商户运营账户资金不足，充值后可以原单号发起重试，请勿更换商户单号',
  USER_ERROR: '当前商户存在异常，暂时无法进行转账。',
  NOT_FOUND: '记录不存在',
  FREQUENCY_LIMITED: '频率超限，请降低请求频率',
  FREQUENCY_LIMIT_EXCEED: '频率超限，请降低请求频率',
  SYSTEM_ERROR: '系统繁忙，请稍后重试',
};

const MAX_DELAY_MS = 120_000;
const MAX_TIMES = 1_000_000;
const CODE_PATTERN = /^[A-Z][A-Z0-9_]{1,63}$/;

/** Validates and queues a fault. */
export function addV3Fault(ctx: V3Context, input: V3FaultInput): V3Fault {
  const record = expectRecord(input, 'fault', ['operation', 'outBillNo', 'code', 'status', 'message', 'unparseable', 'drop', 'signature', 'accept', 'delayMs', 'times']);
  const operation = expectString(record.operation, 'fault.operation');
  if (!(V3_OPERATIONS as readonly string[]).includes(operation)) throw new SandboxInputError(`fault.operation must be one of ${V3_OPERATIONS.join(', ')}`);
  const outBillNo = record.outBillNo === undefined ? undefined : expectString(record.outBillNo, 'fault.outBillNo');
  const code = record.code === undefined ? undefined : expectString(record.code, 'fault.code');
  if (code !== undefined && !CODE_PATTERN.test(code)) throw new SandboxInputError('fault.code must be an upper-case code such as SYSTEM_ERROR');
  const status = record.status === undefined ? undefined : expectPositiveInteger(record.status, 'fault.status', 599);
  if (status !== undefined && (status < 300 || status > 599)) throw new SandboxInputError('fault.status must be an error status (300–599)');
  if (code !== undefined && status === undefined && V3_CODE_STATUS[code] === undefined) {
    throw new SandboxInputError(`fault.status is needed for code ${code} (known defaults: ${Object.keys(V3_CODE_STATUS).join(', ')})`);
  }
  const message = record.message === undefined ? undefined : expectString(record.message, 'fault.message');
  if (message !== undefined && code === undefined) throw new SandboxInputError('fault.message needs fault.code');
  const unparseable = expectOptionalBoolean(record.unparseable, 'fault.unparseable') ?? false;
  const drop = expectOptionalBoolean(record.drop, 'fault.drop') ?? false;
  const signature = record.signature === undefined ? undefined : expectString(record.signature, 'fault.signature');
  if (signature !== undefined && !(SIGNATURE_FAULTS as readonly string[]).includes(signature)) {
    throw new SandboxInputError(`fault.signature must be one of ${SIGNATURE_FAULTS.join(', ')}`);
  }
  const accept = expectOptionalBoolean(record.accept, 'fault.accept') ?? false;
  const delayMs = record.delayMs === undefined ? 0 : expectNonNegativeNumber(record.delayMs, 'fault.delayMs', MAX_DELAY_MS);
  const answers = [code !== undefined || status !== undefined, unparseable, drop].filter(Boolean).length;
  if (answers > 1) throw new SandboxInputError('fault.code/status, fault.unparseable and fault.drop exclude each other');
  if (drop && signature !== undefined) throw new SandboxInputError('a dropped connection has no signature to break');
  if (answers === 0 && signature === undefined && delayMs === 0) throw new SandboxInputError('a fault needs code, status, unparseable, drop, signature or a positive delayMs');
  const times = record.times === undefined ? 1 : expectPositiveInteger(record.times, 'fault.times', MAX_TIMES);
  const fault: V3Fault = {
    id: ctx.state.nextFaultId++, operation: operation as V3Operation, outBillNo, code, status, message, unparseable, drop,
    signature: signature as SignatureFault | undefined, accept, delayMs, remaining: times,
  };
  ctx.state.faults.push(fault);
  return fault;
}

/** Takes one use of the oldest fault matching the operation and the out_bill_no (if the fault names one). */
export function takeV3Fault(ctx: V3Context, operation: V3Operation, outBillNo: string | undefined): V3Fault | undefined {
  const fault = ctx.state.faults.find((candidate) =>
    candidate.operation === operation && (candidate.outBillNo === undefined || candidate.outBillNo === outBillNo));
  if (fault === undefined) return undefined;
  fault.remaining -= 1;
  if (fault.remaining === 0) ctx.state.faults = ctx.state.faults.filter((candidate) => candidate !== fault);
  return fault;
}

/** Validates and queues a notify fault; it applies to the next notifies created. */
export function addNotifyFault(ctx: V3Context, input: NotifyFaultInput): NotifyFault {
  const record = expectRecord(input, 'notify fault', ['outBillNo', 'lose', 'duplicate', 'times']);
  const outBillNo = record.outBillNo === undefined ? undefined : expectString(record.outBillNo, 'notify fault.outBillNo');
  const lose = expectOptionalBoolean(record.lose, 'notify fault.lose') ?? false;
  const duplicate = expectOptionalBoolean(record.duplicate, 'notify fault.duplicate') ?? false;
  if (lose === duplicate) throw new SandboxInputError('a notify fault is either lose or duplicate');
  const times = record.times === undefined ? 1 : expectPositiveInteger(record.times, 'notify fault.times', MAX_TIMES);
  const fault: NotifyFault = { id: ctx.state.nextNotifyFaultId++, outBillNo, lose, duplicate, remaining: times };
  ctx.state.notifyFaults.push(fault);
  return fault;
}
