/**
 * The control operations tests steer the Pay sandbox with: the ledger of paid packets, counters,
 * faults, the clock, users, user actions on packets (open, refund) and the client's
 * wx.sendBizRedPacket. Every input is validated (bad input throws {@link SandboxInputError}),
 * because the HTTP control API passes request bodies straight through.
 */
import { SandboxInputError, expectNonNegativeNumber, expectRecord, expectString } from '../sandbox/validate';
import { parseBehaviour, type PayBehaviourInput, type PayBehaviourView } from './behaviour';
import { sendBizRedPacket, type SendBizRedPacketInput, type SendBizRedPacketResult } from './client';
import { addPayFault, type PayFault, type PayFaultInput } from './faults';
import { expectBalanceFen } from './options';
import {
  payNowMs, receive, refund, resetPayState, settlePackets, type PacketKind, type PacketRecord, type PacketStatus, type PayState,
} from './state';
import { payStatsSnapshot, type PayStats } from './stats';

/** One paid packet as `GET /__sandbox/pay/ledger` shows it (FAILED billnos were never paid and are not listed). */
export interface PayLedgerEntry {
  mchBillno: string;
  mchId: string;
  kind: PacketKind;
  appid: string;
  openid: string;
  amountFen: number;
  status: Exclude<PacketStatus, 'FAILED'>;
  sendListid: string;
  createdAtMs: number;
  sentAtMs: number;
  receivedAtMs: number | null;
  refundedAtMs: number | null;
}

/** A merchant as `GET /__sandbox/pay/merchants` shows it (never its API key). */
export interface PayMerchantView {
  mchId: string;
  balanceFen: number;
  appIds: { officialAccount: string[]; miniProgram: string[] };
}

/** The sandbox clock. */
export interface PayClockView {
  nowMs: number;
  offsetMs: number;
}

/** Names a packet: the billno, and the merchant when two merchants used the same billno. */
export interface PacketRef {
  mch_billno: string;
  mch_id?: string;
}

/** The control operations, the same as the HTTP control API under `/__sandbox/pay/`. */
export interface PaySandboxControl {
  /** Every paid packet, in creation order. */
  ledger(): PayLedgerEntry[];
  stats(): PayStats;
  addFault(input: PayFaultInput): PayFault;
  faults(): PayFault[];
  clearFaults(): void;
  /** How unkind the sandbox is: the default switches and the per-billno overrides. */
  behaviour(): PayBehaviourView;
  /** Sets switches for every billno, or (with `mchBillno`) for that billno only; answers the new view. */
  setBehaviour(input: PayBehaviourInput): PayBehaviourView;
  /** Back to the options' switches, without overrides. */
  clearBehaviour(): void;
  clock(): PayClockView;
  /** Moves the sandbox clock forward (never back); packets past 24 h are refunded. */
  advanceClock(advanceMs: number): PayClockView;
  /** Balances from the options; no packets, users, faults, counters or clock offset. */
  reset(): void;
  /** Makes `openid` a user of `appid` (an openid belongs to exactly one appid). */
  registerUser(user: { appid: string; openid: string }): void;
  /** The user opens a cash packet: SENT → RECEIVED. Mini-program packets are opened with {@link sendBizRedPacket}. */
  receivePacket(ref: PacketRef): PayLedgerEntry;
  /** The packet is refunded now: SENT → REFUND, the merchant credited. */
  refundPacket(ref: PacketRef): PayLedgerEntry;
  merchants(): PayMerchantView[];
  /** Sets a merchant's balance (a top-up in the merchant platform). */
  setBalance(input: { mchId: string; balanceFen: number }): PayMerchantView;
  /** Plays the mini-program client's wx.sendBizRedPacket. */
  sendBizRedPacket(input: SendBizRedPacketInput): SendBizRedPacketResult;
}

// Ten years: far enough for any test, small enough to keep dates representable.
const MAX_ADVANCE_MS = 10 * 366 * 86_400_000;

/** The control operations over one state; `knownPaths` are the Pay paths faults may target. */
export function createPayControl(state: PayState, knownPaths: ReadonlySet<string>): PaySandboxControl {
  const clockView = (): PayClockView => ({ nowMs: payNowMs(state), offsetMs: state.clockOffsetMs });
  const merchantView = (mchId: string): PayMerchantView => {
    const merchant = state.config.merchants.get(mchId);
    if (merchant === undefined) throw new SandboxInputError(`mchId ${mchId} is not a sandbox merchant`);
    return {
      mchId,
      balanceFen: state.balancesFen.get(mchId) ?? 0,
      appIds: { officialAccount: [...merchant.officialAccountAppIds], miniProgram: [...merchant.miniProgramAppIds] },
    };
  };
  const behaviourView = (): PayBehaviourView => ({
    default: { ...state.behaviour },
    byBillno: Object.fromEntries([...state.behaviourByBillno].map(([billno, override]) => [billno, { ...override }])),
  });
  const findPacket = (ref: PacketRef, what: string): PacketRecord => {
    const record = expectRecord(ref, what, ['mch_billno', 'mch_id']);
    const mchBillno = expectString(record.mch_billno, `${what}.mch_billno`);
    const mchId = record.mch_id === undefined ? undefined : expectString(record.mch_id, `${what}.mch_id`);
    settlePackets(state);
    const matches = [...state.packets.values()].filter(
      (packet) => packet.mchBillno === mchBillno && (mchId === undefined || packet.mchId === mchId) && packet.status !== 'FAILED',
    );
    const [packet] = matches;
    if (packet === undefined) throw new SandboxInputError(`no paid packet with mch_billno ${mchBillno}`);
    if (matches.length > 1) throw new SandboxInputError(`mch_billno ${mchBillno} exists at several merchants: give mch_id`);
    return packet;
  };
  const expectSent = (packet: PacketRecord, action: string): void => {
    if (packet.status !== 'SENT') throw new SandboxInputError(`packet ${packet.mchBillno} is ${packet.status}, only a SENT packet can be ${action}`);
  };
  return {
    ledger() {
      settlePackets(state);
      return [...state.packets.values()].filter((packet) => packet.status !== 'FAILED').map(ledgerEntry);
    },
    stats: () => payStatsSnapshot(state),
    addFault: (input) => addPayFault(state, input, knownPaths),
    faults: () => state.faults.map((fault) => ({ ...fault })),
    clearFaults() {
      state.faults = [];
    },
    behaviour: () => behaviourView(),
    setBehaviour(input) {
      const { behaviour, mchBillno } = parseBehaviour(input, 'behaviour', true);
      if (mchBillno === undefined) state.behaviour = { ...state.behaviour, ...behaviour };
      else state.behaviourByBillno.set(mchBillno, { ...state.behaviourByBillno.get(mchBillno), ...behaviour });
      return behaviourView();
    },
    clearBehaviour() {
      state.behaviour = state.config.behaviour;
      state.behaviourByBillno.clear();
    },
    clock: clockView,
    advanceClock(advanceMs) {
      state.clockOffsetMs += expectNonNegativeNumber(advanceMs, 'advanceMs', MAX_ADVANCE_MS);
      settlePackets(state);
      return clockView();
    },
    reset: () => resetPayState(state),
    registerUser(user) {
      const record = expectRecord(user, 'user', ['appid', 'openid']);
      const appid = expectString(record.appid, 'user.appid');
      const openid = expectString(record.openid, 'user.openid');
      if (openid.length > 32) throw new SandboxInputError('user.openid must be at most 32 characters (String(32))');
      const bound = [...state.config.merchants.values()].some(
        (merchant) => merchant.officialAccountAppIds.has(appid) || merchant.miniProgramAppIds.has(appid),
      );
      if (!bound) throw new SandboxInputError(`appid ${appid} is not bound to any sandbox merchant`);
      const owner = state.users.get(openid);
      if (owner !== undefined && owner !== appid) throw new SandboxInputError(`openid ${openid} already belongs to appid ${owner}`);
      state.users.set(openid, appid);
    },
    receivePacket(ref) {
      const packet = findPacket(ref, 'receive body');
      if (packet.kind !== 'cash') {
        throw new SandboxInputError(`packet ${packet.mchBillno} is a mini-program packet: open it with client/send-biz-red-packet`);
      }
      expectSent(packet, 'received');
      receive(state, packet);
      return ledgerEntry(packet);
    },
    refundPacket(ref) {
      const packet = findPacket(ref, 'refund body');
      expectSent(packet, 'refunded');
      refund(state, packet, payNowMs(state));
      return ledgerEntry(packet);
    },
    merchants() {
      settlePackets(state);
      return [...state.config.merchants.keys()].map(merchantView);
    },
    setBalance(input) {
      const record = expectRecord(input, 'balance body', ['mchId', 'balanceFen']);
      const mchId = expectString(record.mchId, 'balance body.mchId');
      merchantView(mchId);
      state.balancesFen.set(mchId, expectBalanceFen(record.balanceFen, 'balance body.balanceFen'));
      return merchantView(mchId);
    },
    sendBizRedPacket: (input) => sendBizRedPacket(state, input),
  };
}

function ledgerEntry(packet: PacketRecord): PayLedgerEntry {
  return {
    mchBillno: packet.mchBillno,
    mchId: packet.mchId,
    kind: packet.kind,
    appid: packet.appid,
    openid: packet.openid,
    amountFen: packet.amountFen,
    status: packet.status as PayLedgerEntry['status'],
    sendListid: packet.sendListid,
    createdAtMs: packet.createdAtMs,
    sentAtMs: packet.sentAtMs,
    receivedAtMs: packet.receivedAtMs ?? null,
    refundedAtMs: packet.refundedAtMs ?? null,
  };
}
