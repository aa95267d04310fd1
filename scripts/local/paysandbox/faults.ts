/**
 * Fault injection for the Pay API: the next N requests on a path (optionally for one
 * mch_billno) get an err_code, an unparseable reply, a dropped connection and/or a delay,
 * either instead of being handled (`accept: false`) or after being handled for real
 * (`accept: true`: the packet IS created and paid, then the reply lies or never arrives).
 * Every err_code may take every position: `accept: true` with SEND_FAILED is the lie WeChat may
 * tell about a billno it paid, and SEND_FAILED without accepting a paid billno answers its resend.
 */
import {
  SandboxInputError, expectNonNegativeNumber, expectOptionalBoolean, expectPositiveInteger, expectRecord, expectString,
} from '../sandbox/validate';
import type { PayState } from './state';

/** What `POST /__sandbox/pay/faults` accepts. */
export interface PayFaultInput {
  /** A Pay API path, e.g. `/mmpaymkttransfers/sendredpack`. */
  path: string;
  /** Only requests carrying this mch_billno. */
  mchBillno?: string;
  /** Reply result_code FAIL with this err_code (any upper-case code: unknown codes are a case clients must handle). */
  errCode?: string;
  /** Defaults to the standard text of the err_code. */
  errCodeDes?: string;
  /** Reply with a truncated, unparseable body. */
  unparseable?: boolean;
  /** Destroy the connection without a reply. */
  drop?: boolean;
  /** Handle the request for real first (create and pay the packet), then apply the fault. Default false. */
  accept?: boolean;
  /** Wall-clock delay: before handling (accept false) or between handling and replying (accept true). */
  delayMs?: number;
  /** How many matching requests it applies to; default 1. */
  times?: number;
}

/** A pending fault, as `GET /__sandbox/pay/faults` shows it. */
export interface PayFault {
  readonly id: number;
  readonly path: string;
  readonly mchBillno: string | undefined;
  readonly errCode: string | undefined;
  readonly errCodeDes: string | undefined;
  readonly unparseable: boolean;
  readonly drop: boolean;
  readonly accept: boolean;
  readonly delayMs: number;
  remaining: number;
}

const MAX_DELAY_MS = 120_000;
const MAX_TIMES = 1_000_000;
const ERR_CODE_PATTERN = /^[A-Z][A-Z0-9_]{1,31}$/;

/** Validates and queues a fault; `knownPaths` makes a typo in the path fail instead of never firing. */
export function addPayFault(state: PayState, input: PayFaultInput, knownPaths: ReadonlySet<string>): PayFault {
  const record = expectRecord(input, 'fault', ['path', 'mchBillno', 'errCode', 'errCodeDes', 'unparseable', 'drop', 'accept', 'delayMs', 'times']);
  const path = expectString(record.path, 'fault.path');
  if (!knownPaths.has(path)) throw new SandboxInputError(`fault.path ${path} is not a Pay sandbox path; known: ${[...knownPaths].join(', ')}`);
  const mchBillno = record.mchBillno === undefined ? undefined : expectString(record.mchBillno, 'fault.mchBillno');
  const errCode = record.errCode === undefined ? undefined : expectString(record.errCode, 'fault.errCode');
  if (errCode !== undefined && (!ERR_CODE_PATTERN.test(errCode) || errCode === 'SUCCESS')) {
    throw new SandboxInputError('fault.errCode must be an upper-case err_code other than SUCCESS');
  }
  const errCodeDes = record.errCodeDes === undefined ? undefined : expectString(record.errCodeDes, 'fault.errCodeDes');
  if (errCodeDes !== undefined && errCode === undefined) throw new SandboxInputError('fault.errCodeDes needs fault.errCode');
  const unparseable = expectOptionalBoolean(record.unparseable, 'fault.unparseable') ?? false;
  const drop = expectOptionalBoolean(record.drop, 'fault.drop') ?? false;
  const accept = expectOptionalBoolean(record.accept, 'fault.accept') ?? false;
  const delayMs = record.delayMs === undefined ? 0 : expectNonNegativeNumber(record.delayMs, 'fault.delayMs', MAX_DELAY_MS);
  const outcomes = [errCode !== undefined, unparseable, drop].filter(Boolean).length;
  if (outcomes > 1) throw new SandboxInputError('fault.errCode, fault.unparseable and fault.drop exclude each other');
  if (outcomes === 0 && delayMs === 0) throw new SandboxInputError('a fault needs errCode, unparseable, drop or a positive delayMs');
  const times = record.times === undefined ? 1 : expectPositiveInteger(record.times, 'fault.times', MAX_TIMES);
  const fault: PayFault = { id: state.nextFaultId++, path, mchBillno, errCode, errCodeDes, unparseable, drop, accept, delayMs, remaining: times };
  state.faults.push(fault);
  return fault;
}

/** Takes one use of the oldest fault matching the path and the billno (if the fault names one). */
export function takePayFault(state: PayState, path: string, mchBillno: string | undefined): PayFault | undefined {
  const fault = state.faults.find((candidate) =>
    candidate.path === path && (candidate.mchBillno === undefined || candidate.mchBillno === mchBillno));
  if (fault === undefined) return undefined;
  fault.remaining -= 1;
  if (fault.remaining === 0) state.faults = state.faults.filter((candidate) => candidate !== fault);
  return fault;
}
