/**
 * The control operations tests steer the APIv3 side with: the bills, counters, the 运营账户
 * balances, faults (calls and notifies), the query lag, the notify URL, notify delivery and the
 * client's wx.requestMerchantTransfer. Every input is validated (bad input throws
 * {@link SandboxInputError}): the HTTP control API passes request bodies straight through.
 */
import { SandboxInputError, expectNonNegativeNumber, expectRecord, expectString } from '../../sandbox/validate';
import { expectBalanceFen } from '../options';
import { requestMerchantTransfer, type RequestMerchantTransferInput, type RequestMerchantTransferResult } from './client';
import { addNotifyFault, addV3Fault, type NotifyFaultInput, type V3Fault, type V3FaultInput } from './faults';
import type { Notifier } from './notify';
import { expectHttpUrl } from './options';
import { resetV3State, settleBills, type NotifyAttempt, type NotifyFault, type TransferBillRecord, type TransferState, type V3Context } from './state';

/** One bill as `GET /__sandbox/pay/transfers` shows it. */
export interface TransferView {
  outBillNo: string;
  transferBillNo: string;
  mchId: string;
  appid: string;
  openid: string;
  amountFen: number;
  state: TransferState;
  failReason: string | null;
  /** Live while the bill waits for the user (and while TRANSFERING); null otherwise. */
  packageInfo: string | null;
  /** The decrypted real name, when the create carried one. */
  userName: string | null;
  sceneId: string;
  remark: string;
  notifyUrl: string | null;
  createdAtMs: number;
  updatedAtMs: number;
  confirmedAtMs: number | null;
}

/** One notify as `GET /__sandbox/pay/transfers/notifies` shows it. */
export interface NotifyView {
  id: string;
  mchId: string;
  outBillNo: string;
  state: TransferState;
  url: string;
  delivered: boolean;
  lost: boolean;
  attempts: NotifyAttempt[];
  /** Sandbox clock of the next attempt, or null (delivered, lost, out of retries). */
  nextAttemptAtMs: number | null;
}

/** `GET /__sandbox/pay/transfers/stats`. */
export interface V3Stats {
  /** Requests per operation (create, queryByOutBillNo, queryByTransferBillNo, cancel). */
  calls: Record<string, number>;
  /** Outcomes per operation: SUCCESS, an error code, DROPPED, UNPARSEABLE, HTTP_<status>. */
  replies: Record<string, Record<string, number>>;
  /** Requests refused with 401 before anything was looked at. */
  signatureRefusals: number;
  notifyAttempts: number;
}

/** The APIv3 control operations, the same as the HTTP control API. */
export interface PayV3SandboxControl {
  /** Every bill, in creation order (time is let act first). */
  transfers(): TransferView[];
  stats(): V3Stats;
  /** The 运营账户 balance of each APIv3 merchant. */
  merchants(): Array<{ mchId: string; balanceFen: number }>;
  setBalance(input: { mchId: string; balanceFen: number }): { mchId: string; balanceFen: number };
  addFault(input: V3FaultInput): V3Fault;
  faults(): V3Fault[];
  clearFaults(): void;
  addNotifyFault(input: NotifyFaultInput): NotifyFault;
  notifyFaults(): NotifyFault[];
  clearNotifyFaults(): void;
  /** Queries answer 404 NOT_FOUND for `lagMs` (sandbox clock) after a bill's creation. */
  setQueryLag(input: { lagMs: number }): { lagMs: number };
  /** Where notifies of bills finishing from now on go (null: the bill's own notify_url). */
  setNotifyUrl(input: { url: string | null }): { url: string | null };
  notifies(): NotifyView[];
  /** Sends every due notify and waits for the answers. */
  flushNotifies(): Promise<NotifyView[]>;
  /** Sends a notify's last attempt again, byte for byte. */
  replayNotify(input: { id: string }): Promise<NotifyAttempt>;
  /** Plays the mini-program client's wx.requestMerchantTransfer. */
  requestMerchantTransfer(input: RequestMerchantTransferInput): RequestMerchantTransferResult;
  /** Back to the options (the Pay sandbox's reset calls it). */
  reset(): void;
}

const MAX_LAG_MS = 366 * 86_400_000;

/** The control operations over one APIv3 state and its notifier. */
export function createPayV3Control(ctx: V3Context, notifier: Notifier): PayV3SandboxControl {
  const merchantView = (mchId: string): { mchId: string; balanceFen: number } => {
    if (!ctx.config.merchants.has(mchId)) throw new SandboxInputError(`mchId ${mchId} is not an APIv3 merchant of the sandbox`);
    return { mchId, balanceFen: ctx.state.balancesFen.get(mchId) ?? 0 };
  };
  const notifyViews = (): NotifyView[] => [...ctx.state.notifies.values()].map((record) => ({
    id: record.id,
    mchId: record.mchId,
    outBillNo: record.outBillNo,
    state: record.state,
    url: record.url,
    delivered: record.delivered,
    lost: record.lost,
    attempts: record.attempts.map((attempt) => ({ ...attempt })),
    nextAttemptAtMs: record.nextAttemptAtMs,
  }));
  return {
    transfers() {
      settleBills(ctx);
      notifier.deliverDue();
      return [...ctx.state.bills.values()].map(transferView);
    },
    stats() {
      const { calls, replies, signatureRefusals, notifyAttempts } = ctx.state.counters;
      return {
        calls: Object.fromEntries(calls),
        replies: Object.fromEntries([...replies].map(([operation, outcomes]) => [operation, Object.fromEntries(outcomes)])),
        signatureRefusals,
        notifyAttempts,
      };
    },
    merchants() {
      settleBills(ctx);
      return [...ctx.config.merchants.keys()].map(merchantView);
    },
    setBalance(input) {
      const record = expectRecord(input, 'balance body', ['mchId', 'balanceFen']);
      const mchId = expectString(record.mchId, 'balance body.mchId');
      merchantView(mchId);
      ctx.state.balancesFen.set(mchId, expectBalanceFen(record.balanceFen, 'balance body.balanceFen'));
      return merchantView(mchId);
    },
    addFault: (input) => addV3Fault(ctx, input),
    faults: () => ctx.state.faults.map((fault) => ({ ...fault })),
    clearFaults() {
      ctx.state.faults = [];
    },
    addNotifyFault: (input) => addNotifyFault(ctx, input),
    notifyFaults: () => ctx.state.notifyFaults.map((fault) => ({ ...fault })),
    clearNotifyFaults() {
      ctx.state.notifyFaults = [];
    },
    setQueryLag(input) {
      const record = expectRecord(input, 'query-lag body', ['lagMs']);
      ctx.state.queryLagMs = expectNonNegativeNumber(record.lagMs, 'query-lag body.lagMs', MAX_LAG_MS);
      return { lagMs: ctx.state.queryLagMs };
    },
    setNotifyUrl(input) {
      const record = expectRecord(input, 'notify-url body', ['url']);
      ctx.state.notifyUrl = record.url === null ? null : expectHttpUrl(record.url, 'notify-url body.url');
      return { url: ctx.state.notifyUrl };
    },
    notifies: notifyViews,
    async flushNotifies() {
      await notifier.flush();
      return notifyViews();
    },
    async replayNotify(input) {
      const record = expectRecord(input, 'replay body', ['id']);
      const notify = ctx.state.notifies.get(expectString(record.id, 'replay body.id'));
      if (notify === undefined) throw new SandboxInputError(`no notify ${String(record.id)}`);
      if (notify.attempts.length === 0) throw new SandboxInputError(`notify ${notify.id} was never sent: nothing to replay`);
      return notifier.replay(notify);
    },
    requestMerchantTransfer(input) {
      const result = requestMerchantTransfer(ctx, input);
      notifier.deliverDue();
      return result;
    },
    reset: () => resetV3State(ctx),
  };
}

function transferView(bill: TransferBillRecord): TransferView {
  return {
    outBillNo: bill.outBillNo,
    transferBillNo: bill.transferBillNo,
    mchId: bill.mchId,
    appid: bill.appid,
    openid: bill.openid,
    amountFen: bill.amountFen,
    state: bill.state,
    failReason: bill.failReason,
    packageInfo: bill.packageInfo !== null && (bill.state === 'WAIT_USER_CONFIRM' || bill.state === 'TRANSFERING') ? bill.packageInfo : null,
    userName: bill.userName,
    sceneId: bill.sceneId,
    remark: bill.remark,
    notifyUrl: bill.notifyUrl,
    createdAtMs: bill.createdAtMs,
    updatedAtMs: bill.updatedAtMs,
    confirmedAtMs: bill.confirmedAtMs,
  };
}
