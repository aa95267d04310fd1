/**
 * Fault injection: the next N requests matching a path get an errcode, a delay, or a dropped
 * connection before normal handling. One mechanism for every endpoint, present and future.
 */
import type { SandboxState } from './state';
import {
  SandboxInputError, expectNonNegativeNumber, expectOptionalBoolean, expectPositiveInteger, expectRecord, expectString,
} from './validate';

/** What `POST /__sandbox/faults` accepts. */
export interface FaultInput {
  /** A WeChat API path (`/cgi-bin/token`), or a stats detail key (`/cgi-bin/ticket/getticket?type=wx_card`). */
  path: string;
  errcode?: number;
  /** Defaults to WeChat's text for the errcode. */
  errmsg?: string;
  /** Wall-clock delay before answering (or dropping); independent of the sandbox clock. */
  delayMs?: number;
  /** Destroy the socket without answering. */
  drop?: boolean;
  /** How many matching requests it applies to; default 1. */
  times?: number;
}

/** A pending fault, as `GET /__sandbox/faults` shows it. */
export interface Fault {
  readonly id: number;
  readonly path: string;
  readonly errcode: number | undefined;
  readonly errmsg: string | undefined;
  readonly delayMs: number;
  readonly drop: boolean;
  remaining: number;
}

const MAX_DELAY_MS = 120_000;
const MAX_TIMES = 1_000_000;

/** Validates and queues a fault; `knownPaths` makes a typo in the path fail instead of never firing. */
export function addFault(state: SandboxState, input: FaultInput, knownPaths: ReadonlySet<string>): Fault {
  const record = expectRecord(input, 'fault', ['path', 'errcode', 'errmsg', 'delayMs', 'drop', 'times']);
  const path = expectString(record.path, 'fault.path');
  const routePath = path.split('?')[0] ?? path;
  if (!knownPaths.has(routePath)) {
    throw new SandboxInputError(`fault.path ${path} is not a sandbox WeChat API path; known: ${[...knownPaths].join(', ')}`);
  }
  const errcode = record.errcode;
  if (errcode !== undefined && (typeof errcode !== 'number' || !Number.isInteger(errcode) || errcode === 0)) {
    throw new SandboxInputError('fault.errcode must be a non-zero integer');
  }
  const errmsg = record.errmsg === undefined ? undefined : expectString(record.errmsg, 'fault.errmsg');
  if (errmsg !== undefined && errcode === undefined) throw new SandboxInputError('fault.errmsg needs fault.errcode');
  const delayMs = record.delayMs === undefined ? 0 : expectNonNegativeNumber(record.delayMs, 'fault.delayMs', MAX_DELAY_MS);
  const drop = expectOptionalBoolean(record.drop, 'fault.drop') ?? false;
  if (drop && errcode !== undefined) throw new SandboxInputError('fault.drop and fault.errcode exclude each other');
  if (!drop && errcode === undefined && delayMs === 0) {
    throw new SandboxInputError('a fault needs errcode, drop or a positive delayMs');
  }
  const times = record.times === undefined ? 1 : expectPositiveInteger(record.times, 'fault.times', MAX_TIMES);
  const fault: Fault = { id: state.nextFaultId++, path, errcode, errmsg, delayMs, drop, remaining: times };
  state.faults.push(fault);
  return fault;
}

/** Takes one use of the oldest fault matching the request's path or detail key. */
export function takeFault(state: SandboxState, path: string, detailKey: string): Fault | undefined {
  const fault = state.faults.find((candidate) => candidate.path === path || candidate.path === detailKey);
  if (fault === undefined) return undefined;
  fault.remaining -= 1;
  if (fault.remaining === 0) state.faults = state.faults.filter((candidate) => candidate !== fault);
  return fault;
}
