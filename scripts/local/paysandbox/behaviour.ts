/**
 * How unkind the sandbox is, because WeChat can be (issue 8 §1, reference §7): a billno is paid at
 * most once, but a resend of one already paid is not always answered with the same packet — it may
 * get SEND_FAILED or another code; gethbinfo may answer NOT_FOUND for a while after a packet was
 * paid; and gethbinfo's `appid` is the official account's per the docs, the sending appid per
 * peers, so one of them may be refused. Defaults are the kind, documented behaviour; a default can
 * be set at start (options) or at run time (control API), and overridden for one billno, so one
 * test stack can run every combination at once.
 */
import { SandboxInputError, expectNonNegativeNumber, expectRecord, expectString } from '../sandbox/validate';

/** Which appids gethbinfo accepts. */
export type QueryAppids = 'any' | 'officialAccount' | 'miniProgram';
export const QUERY_APPIDS: readonly QueryAppids[] = ['any', 'officialAccount', 'miniProgram'];

/** The switches. */
export interface PayBehaviour {
  /** A resend of an already-paid billno: `same` (the same packet again, as documented), or this err_code (SEND_FAILED, any code). */
  readonly paidResend: string;
  /** gethbinfo answers NOT_FOUND for a paid packet until this long after it was created (sandbox clock). */
  readonly queryLagMs: number;
  /** gethbinfo's appid: any appid bound to the merchant, or only its official accounts, or only its mini-programs. */
  readonly queryAppids: QueryAppids;
}

/** What `POST /__sandbox/pay/behaviour` takes: some switches, for every billno or only `mchBillno`. */
export interface PayBehaviourInput extends Partial<PayBehaviour> {
  mchBillno?: string;
}

/** `GET /__sandbox/pay/behaviour`. */
export interface PayBehaviourView {
  default: PayBehaviour;
  byBillno: Record<string, Partial<PayBehaviour>>;
}

export const KIND_BEHAVIOUR: PayBehaviour = { paidResend: 'same', queryLagMs: 0, queryAppids: 'any' };

const FIELDS = ['paidResend', 'queryLagMs', 'queryAppids'] as const;
const ERR_CODE_PATTERN = /^[A-Z][A-Z0-9_]{1,31}$/;
// A day: longer than any lag worth simulating, short enough that a typo in units shows.
const MAX_QUERY_LAG_MS = 86_400_000;

/** Validates some switches (options or control input); unknown fields and bad values throw. */
export function parseBehaviour(value: unknown, what: string, allowBillno: boolean): { behaviour: Partial<PayBehaviour>; mchBillno: string | undefined } {
  const record = expectRecord(value ?? {}, what, allowBillno ? [...FIELDS, 'mchBillno'] : FIELDS);
  const behaviour: { -readonly [K in keyof PayBehaviour]?: PayBehaviour[K] } = {};
  if (record.paidResend !== undefined) {
    const paidResend = expectString(record.paidResend, `${what}.paidResend`);
    if (paidResend !== 'same' && (!ERR_CODE_PATTERN.test(paidResend) || paidResend === 'SUCCESS')) {
      throw new SandboxInputError(`${what}.paidResend must be "same" or an upper-case err_code other than SUCCESS`);
    }
    behaviour.paidResend = paidResend;
  }
  if (record.queryLagMs !== undefined) behaviour.queryLagMs = expectNonNegativeNumber(record.queryLagMs, `${what}.queryLagMs`, MAX_QUERY_LAG_MS);
  if (record.queryAppids !== undefined) {
    if (!(QUERY_APPIDS as readonly unknown[]).includes(record.queryAppids)) {
      throw new SandboxInputError(`${what}.queryAppids must be one of ${QUERY_APPIDS.join(', ')}`);
    }
    behaviour.queryAppids = record.queryAppids as QueryAppids;
  }
  const mchBillno = record.mchBillno === undefined ? undefined : expectString(record.mchBillno, `${what}.mchBillno`);
  return { behaviour, mchBillno };
}

/** The switches that apply to `mchBillno`: its override over the default. */
export function behaviourFor(
  state: { behaviour: PayBehaviour; behaviourByBillno: Map<string, Partial<PayBehaviour>> },
  mchBillno: string | undefined,
): PayBehaviour {
  const override = mchBillno === undefined ? undefined : state.behaviourByBillno.get(mchBillno);
  return override === undefined ? state.behaviour : { ...state.behaviour, ...override };
}
