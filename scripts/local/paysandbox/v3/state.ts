/**
 * The APIv3 state of the Pay sandbox (merchant transfers) and the money rules that act on it:
 * bills and their timed states, the 运营账户 balances, daily limits, rate windows, faults,
 * notifies and counters — plain data in Maps and Sets. The clock and the user registry are the
 * Pay sandbox's (`PayState`), so `POST /__sandbox/pay/clock` moves transfers too and an openid
 * belongs to one appid for packets and transfers alike. Every check-then-change is synchronous.
 *
 *   create ─► ACCEPTED ─(acceptedMs)─► PROCESSING ─(processingMs)─► WAIT_USER_CONFIRM ──(user confirms)─► TRANSFERING ─(transferingMs)─► SUCCESS
 *                 └───────────────┴────────────────────────┴──(closeAfterMs after creation)─► FAIL (funds back)
 *                 └───────────────┴────────────────────────┴──(cancel)─► CANCELING ─(cancelingMs)─► CANCELLED (funds back)
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { isUserOf, payNowMs, utc8DayKey, type PayState } from '../state';
import type { V3Config, V3MerchantConfig } from './options';
import { aesGcmEncrypt, randomNonce } from './sign';
import type { V3Fault } from './faults';

/** A bill's states (reference §1.5). */
export const TRANSFER_STATES = ['ACCEPTED', 'PROCESSING', 'WAIT_USER_CONFIRM', 'TRANSFERING', 'SUCCESS', 'FAIL', 'CANCELING', 'CANCELLED'] as const;
export type TransferState = (typeof TRANSFER_STATES)[number];

/** The fail_reason of a bill nobody confirmed in time. UNVERIFIED (reference §1.5): change it here. */
export const OVERDUE_CLOSE_REASON = 'OVERDUE_CLOSE';
/** Queries only see bills of the last 30 days (T-out). */
export const QUERY_WINDOW_MS = 30 * 86_400_000;

/** One report-info entry as sent. */
export interface ReportInfo {
  readonly info_type: string;
  readonly info_content: string;
}

/** What makes two creates with one out_bill_no "the same bill". */
export interface BillParams {
  readonly appid: string;
  readonly openid: string;
  readonly amountFen: number;
  readonly sceneId: string;
  readonly remark: string;
  readonly reportInfos: readonly ReportInfo[];
  readonly userRecvPerception: string | null;
  readonly notifyUrl: string | null;
  /** Decrypted: OAEP is randomised, so two sends of one name carry different ciphertexts. */
  readonly userName: string | null;
}

/** One bill the sandbox accepted. */
export interface TransferBillRecord extends BillParams {
  readonly mchId: string;
  readonly outBillNo: string;
  readonly transferBillNo: string;
  readonly createdAtMs: number;
  /** When ACCEPTED turns PROCESSING, and PROCESSING turns WAIT_USER_CONFIRM. */
  readonly processingAtMs: number;
  readonly waitAtMs: number;
  /** When an unconfirmed bill closes. */
  readonly closeAtMs: number;
  state: TransferState;
  failReason: string | null;
  updatedAtMs: number;
  /** Issued with WAIT_USER_CONFIRM; live while the bill waits for the user. */
  packageInfo: string | null;
  confirmedAtMs: number | null;
  /** TRANSFERING → SUCCESS, CANCELING → CANCELLED. */
  successAtMs: number | null;
  cancelledAtMs: number | null;
  /** Whether the amount is held from the merchant's balance (given back on FAIL and CANCELLED). */
  fundsHeld: boolean;
}

/** One delivery attempt of a notify. */
export interface NotifyAttempt {
  /** Sandbox clock. */
  readonly atMs: number;
  /** The receiver's HTTP status, or null when it did not answer in time or refused the connection. */
  readonly status: number | null;
  readonly error: string | null;
  /** A control-API replay of an earlier attempt (same headers, same body). */
  readonly replay: boolean;
}

/** A notify of a final state, with its delivery history. */
export interface NotifyRecord {
  /** The notify `id`, the same on every retry. */
  readonly id: string;
  readonly mchId: string;
  readonly outBillNo: string;
  readonly state: TransferState;
  readonly url: string;
  /** The JSON body, resource encrypted, exactly as sent on every attempt. */
  readonly body: string;
  readonly createdAtMs: number;
  attempts: NotifyAttempt[];
  /** Sandbox clock of the next attempt; null once delivered, lost or out of retries. */
  nextAttemptAtMs: number | null;
  delivered: boolean;
  /** An injected loss: never sent. */
  readonly lost: boolean;
  /** Extra deliveries after the first success (an injected duplication). */
  duplicatesLeft: number;
  /** The headers of the last attempt, for a replay. */
  lastHeaders: Record<string, string> | null;
}

/** `POST /__sandbox/pay/transfers/notify-faults`: the next notifies (of one bill, or any) are lost or duplicated. */
export interface NotifyFault {
  readonly id: number;
  readonly outBillNo: string | undefined;
  readonly lose: boolean;
  readonly duplicate: boolean;
  remaining: number;
}

/** Calls and outcomes per operation. */
export interface V3Counters {
  calls: Map<string, number>;
  replies: Map<string, Map<string, number>>;
  /** Requests refused with 401 (signature, serial, timestamp, Authorization format). */
  signatureRefusals: number;
  notifyAttempts: number;
}

/**
 * The whole APIv3 state; plain data only, so it persists as a whole (`.local/sandbox/pay-v3.json`,
 * the contract in `../../persist.ts`): a field added here is saved and restored with no other
 * change. Options (keys, timings) stay in {@link V3Context.config}, rebuilt at every start.
 */
export interface V3State {
  /** By `${mchId} ${outBillNo}`. */
  bills: Map<string, TransferBillRecord>;
  /** transfer_bill_no → bill key. */
  billsByTransferNo: Map<string, string>;
  /** package_info → bill key. */
  billsByPackage: Map<string, string>;
  /** Keys of bills not yet final: the only ones time can move. */
  openBills: Set<string>;
  balancesFen: Map<string, number>;
  daily: { dayKey: number; perUser: Map<string, { count: number; amountFen: number }>; perMerchantFen: Map<string, number> };
  /** `${mchId} ${operation}` → the second being counted. */
  rate: Map<string, { secondKey: number; count: number }>;
  faults: V3Fault[];
  nextFaultId: number;
  notifyFaults: NotifyFault[];
  nextNotifyFaultId: number;
  /** By notify id, in creation order. */
  notifies: Map<string, NotifyRecord>;
  queryLagMs: number;
  notifyUrl: string | null;
  counters: V3Counters;
}

/** The snapshot's schema: bump it when a change makes older snapshots unreadable (they are then set aside). */
export const V3_STATE_SCHEMA = 'pay-sandbox-v3/1';

/** What every v3 function works on: validated options, the Pay sandbox's state (clock, users) and the v3 state. */
export interface V3Context {
  readonly config: V3Config;
  readonly pay: PayState;
  readonly state: V3State;
}

export function createV3State(config: V3Config, pay: PayState): V3State {
  const state: V3State = {
    bills: new Map(),
    billsByTransferNo: new Map(),
    billsByPackage: new Map(),
    openBills: new Set(),
    balancesFen: new Map(),
    daily: { dayKey: 0, perUser: new Map(), perMerchantFen: new Map() },
    rate: new Map(),
    faults: [],
    nextFaultId: 1,
    notifyFaults: [],
    nextNotifyFaultId: 1,
    notifies: new Map(),
    queryLagMs: 0,
    notifyUrl: null,
    counters: emptyV3Counters(),
  };
  resetV3State({ config, pay, state });
  return state;
}

/** Back to the options: balances, no bills, faults, notifies or counters. */
export function resetV3State(ctx: V3Context): void {
  const { state, config } = ctx;
  state.bills.clear();
  state.billsByTransferNo.clear();
  state.billsByPackage.clear();
  state.openBills.clear();
  state.balancesFen = new Map([...config.merchants.values()].map((merchant) => [merchant.mchId, merchant.initialBalanceFen]));
  state.daily = { dayKey: utc8DayKey(v3NowMs(ctx)), perUser: new Map(), perMerchantFen: new Map() };
  state.rate.clear();
  state.faults = [];
  state.notifyFaults = [];
  state.notifies.clear();
  state.queryLagMs = config.queryLagMs;
  state.notifyUrl = config.notifyUrl;
  state.counters = emptyV3Counters();
}

export function emptyV3Counters(): V3Counters {
  return { calls: new Map(), replies: new Map(), signatureRefusals: 0, notifyAttempts: 0 };
}

/** The Pay sandbox clock (advanced by `POST /__sandbox/pay/clock`): what bill timings use. */
export function v3NowMs(ctx: V3Context): number {
  return payNowMs(ctx.pay);
}

/**
 * The clock signatures are stamped with: the base clock WITHOUT the test offset. The product's
 * instances run on real time; answers stamped 24 h ahead would be refused by every client, while
 * WeChat's clock and the merchant's agree.
 */
export function v3WallNowMs(ctx: V3Context): number {
  return ctx.pay.config.baseNowMs();
}

export function billKey(mchId: string, outBillNo: string): string {
  return `${mchId} ${outBillNo}`;
}

/** RFC 3339 in Beijing time, as WeChat writes times: `2025-01-22T15:44:23+08:00`. */
export function formatRfc3339(epochMs: number): string {
  return `${new Date(epochMs + 8 * 3_600_000).toISOString().slice(0, 19)}+08:00`;
}

/** Lets time act on every open bill (ACCEPTED → … → WAIT_USER_CONFIRM, closing, TRANSFERING → SUCCESS, CANCELING → CANCELLED). */
export function settleBills(ctx: V3Context): void {
  const nowMs = v3NowMs(ctx);
  for (const key of [...ctx.state.openBills]) {
    const bill = ctx.state.bills.get(key);
    if (bill !== undefined) advanceBill(ctx, bill, nowMs);
  }
}

/** Applies every transition of `bill` due by `nowMs`, each at its own time, in order. */
export function advanceBill(ctx: V3Context, bill: TransferBillRecord, nowMs: number): void {
  for (;;) {
    const next = nextTransition(bill);
    if (next === undefined || next.atMs > nowMs) return;
    next.apply(ctx, bill, next.atMs);
  }
}

function nextTransition(bill: TransferBillRecord): { atMs: number; apply: (ctx: V3Context, bill: TransferBillRecord, atMs: number) => void } | undefined {
  const closing = { atMs: bill.closeAtMs, apply: (ctx: V3Context, b: TransferBillRecord, atMs: number) => finish(ctx, b, 'FAIL', atMs, OVERDUE_CLOSE_REASON) };
  switch (bill.state) {
    case 'ACCEPTED':
      return bill.processingAtMs < bill.closeAtMs ? { atMs: bill.processingAtMs, apply: (_ctx, b, atMs) => move(b, 'PROCESSING', atMs) } : closing;
    case 'PROCESSING':
      return bill.waitAtMs < bill.closeAtMs ? { atMs: bill.waitAtMs, apply: (ctx, b, atMs) => waitForUser(ctx, b, atMs) } : closing;
    case 'WAIT_USER_CONFIRM':
      return closing;
    case 'TRANSFERING':
      return bill.successAtMs === null ? undefined : { atMs: bill.successAtMs, apply: (ctx, b, atMs) => finish(ctx, b, 'SUCCESS', atMs, null) };
    case 'CANCELING':
      return bill.cancelledAtMs === null ? undefined : { atMs: bill.cancelledAtMs, apply: (ctx, b, atMs) => finish(ctx, b, 'CANCELLED', atMs, null) };
    default:
      return undefined;
  }
}

function move(bill: TransferBillRecord, state: TransferState, atMs: number): void {
  bill.state = state;
  bill.updatedAtMs = atMs;
}

function waitForUser(ctx: V3Context, bill: TransferBillRecord, atMs: number): void {
  move(bill, 'WAIT_USER_CONFIRM', atMs);
  // Opaque to the merchant like WeChat's (156 base64 characters in a real sample, reference §1.4).
  bill.packageInfo = randomBytes(117).toString('base64');
  ctx.state.billsByPackage.set(bill.packageInfo, billKey(bill.mchId, bill.outBillNo));
}

/** A final state: the package dies, held funds go back unless paid, and a notify is queued. */
function finish(ctx: V3Context, bill: TransferBillRecord, state: 'SUCCESS' | 'FAIL' | 'CANCELLED', atMs: number, failReason: string | null): void {
  move(bill, state, atMs);
  bill.failReason = failReason;
  if (bill.packageInfo !== null) ctx.state.billsByPackage.delete(bill.packageInfo);
  if (bill.fundsHeld && state !== 'SUCCESS') {
    ctx.state.balancesFen.set(bill.mchId, (ctx.state.balancesFen.get(bill.mchId) ?? 0) + bill.amountFen);
    bill.fundsHeld = false;
  }
  if (state === 'SUCCESS') bill.fundsHeld = false;
  ctx.state.openBills.delete(billKey(bill.mchId, bill.outBillNo));
  queueNotify(ctx, bill, atMs);
}

/** Whether an openid exists under the appid (the Pay sandbox's registry, auto-registration included). */
export function isPayeeOf(ctx: V3Context, appid: string, openid: string): boolean {
  return isUserOf(ctx.pay, appid, openid);
}

/** Today's per-payee and per-merchant totals, rolled over at Beijing midnight. */
export function v3DailyTotals(ctx: V3Context): V3State['daily'] {
  const dayKey = utc8DayKey(v3NowMs(ctx));
  if (dayKey !== ctx.state.daily.dayKey) ctx.state.daily = { dayKey, perUser: new Map(), perMerchantFen: new Map() };
  return ctx.state.daily;
}

/** Counts one call against a per-merchant, per-operation, per-second window; false when the second is full. */
export function takeV3Rate(ctx: V3Context, mchId: string, operation: string, limitPerSecond: number): boolean {
  const secondKey = Math.floor(v3NowMs(ctx) / 1000);
  const key = `${mchId} ${operation}`;
  const window = ctx.state.rate.get(key);
  if (window === undefined || window.secondKey !== secondKey) {
    ctx.state.rate.set(key, { secondKey, count: 1 });
    return true;
  }
  if (window.count >= limitPerSecond) return false;
  window.count += 1;
  return true;
}

/**
 * Creates a bill: ACCEPTED with the funds held, or at once FAIL with `limitFailReason` (a daily
 * limit: nothing held). Time then moves it; the caller has checked the balance.
 */
export function createBill(ctx: V3Context, merchant: V3MerchantConfig, outBillNo: string, params: BillParams, limitFailReason: string | null): TransferBillRecord {
  const { config, state } = ctx;
  const nowMs = v3NowMs(ctx);
  const processingAtMs = nowMs + config.acceptedMs;
  const bill: TransferBillRecord = {
    ...params,
    mchId: merchant.mchId,
    outBillNo,
    transferBillNo: newTransferBillNo(nowMs),
    createdAtMs: nowMs,
    processingAtMs,
    waitAtMs: processingAtMs + config.processingMs,
    closeAtMs: nowMs + config.closeAfterMs,
    state: 'ACCEPTED',
    failReason: null,
    updatedAtMs: nowMs,
    packageInfo: null,
    confirmedAtMs: null,
    successAtMs: null,
    cancelledAtMs: null,
    fundsHeld: limitFailReason === null,
  };
  const key = billKey(merchant.mchId, outBillNo);
  state.bills.set(key, bill);
  state.billsByTransferNo.set(bill.transferBillNo, key);
  if (limitFailReason !== null) {
    finish(ctx, bill, 'FAIL', nowMs, limitFailReason);
    return bill;
  }
  state.balancesFen.set(merchant.mchId, (state.balancesFen.get(merchant.mchId) ?? 0) - params.amountFen);
  const daily = v3DailyTotals(ctx);
  const user = daily.perUser.get(params.openid) ?? { count: 0, amountFen: 0 };
  daily.perUser.set(params.openid, { count: user.count + 1, amountFen: user.amountFen + params.amountFen });
  daily.perMerchantFen.set(merchant.mchId, (daily.perMerchantFen.get(merchant.mchId) ?? 0) + params.amountFen);
  state.openBills.add(key);
  advanceBill(ctx, bill, nowMs);
  return bill;
}

/** The user confirmed on the confirm page: TRANSFERING, then SUCCESS after `transferingMs`. */
export function confirmBill(ctx: V3Context, bill: TransferBillRecord): void {
  const nowMs = v3NowMs(ctx);
  move(bill, 'TRANSFERING', nowMs);
  bill.confirmedAtMs = nowMs;
  bill.successAtMs = nowMs + ctx.config.transferingMs;
  // The package stays live while TRANSFERING: "the confirm page may be reopened" (reference §1.5).
  advanceBill(ctx, bill, nowMs);
}

/** The merchant cancelled: CANCELING, then CANCELLED (funds back) after `cancelingMs`. */
export function cancelBill(ctx: V3Context, bill: TransferBillRecord): void {
  const nowMs = v3NowMs(ctx);
  move(bill, 'CANCELING', nowMs);
  if (bill.packageInfo !== null) ctx.state.billsByPackage.delete(bill.packageInfo);
  bill.cancelledAtMs = nowMs + ctx.config.cancelingMs;
  advanceBill(ctx, bill, nowMs);
}

/**
 * Queues the MCHTRANSFER.BILL.FINISHED notify of a final bill (only when the bill named a
 * notify_url: "Omit it and you get no notify"). The body is built once: every retry of one
 * notify carries the same id and resource.
 */
function queueNotify(ctx: V3Context, bill: TransferBillRecord, atMs: number): void {
  if (bill.notifyUrl === null) return;
  const { state, config } = ctx;
  const merchant = config.merchants.get(bill.mchId);
  if (merchant === undefined) return;
  const fault = state.notifyFaults.find((candidate) => candidate.outBillNo === undefined || candidate.outBillNo === bill.outBillNo);
  if (fault !== undefined) {
    fault.remaining -= 1;
    if (fault.remaining === 0) state.notifyFaults = state.notifyFaults.filter((candidate) => candidate !== fault);
  }
  const resource = JSON.stringify({
    mch_id: bill.mchId,
    out_bill_no: bill.outBillNo,
    transfer_bill_no: bill.transferBillNo,
    transfer_amount: bill.amountFen,
    state: bill.state,
    openid: bill.openid,
    ...(bill.failReason === null ? {} : { fail_reason: bill.failReason }),
    create_time: formatRfc3339(bill.createdAtMs),
    update_time: formatRfc3339(bill.updatedAtMs),
  });
  const nonce = randomNonce(12);
  const id = randomUUID();
  const body = JSON.stringify({
    id,
    create_time: formatRfc3339(atMs),
    resource_type: 'encrypt-resource',
    event_type: 'MCHTRANSFER.BILL.FINISHED',
    summary: '商家转账单据终态通知',
    resource: {
      original_type: 'mch_payment',
      algorithm: 'AEAD_AES_256_GCM',
      ciphertext: aesGcmEncrypt(merchant.apiV3Key, nonce, 'mch_payment', resource),
      associated_data: 'mch_payment',
      nonce,
    },
  });
  const lost = fault?.lose ?? false;
  state.notifies.set(id, {
    id,
    mchId: bill.mchId,
    outBillNo: bill.outBillNo,
    state: bill.state,
    url: state.notifyUrl ?? bill.notifyUrl,
    body,
    createdAtMs: atMs,
    attempts: [],
    nextAttemptAtMs: lost ? null : atMs,
    delivered: false,
    lost,
    duplicatesLeft: fault?.duplicate ? 1 : 0,
    lastHeaders: null,
  });
}

// WeChat's transfer_bill_no is string(64) of digits in samples; 40 digits with the Beijing date inside.
function newTransferBillNo(nowMs: number): string {
  const date = formatRfc3339(nowMs).slice(0, 10).replaceAll('-', '');
  return `1330${date}${Array.from({ length: 28 }, () => randomInt(10)).join('')}`;
}
