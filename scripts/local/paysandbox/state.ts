/**
 * The one state object of the Pay sandbox and the money rules that act on it: clock, balances,
 * packets and their lifecycle, the user registry, daily limits, the rate limit, faults and
 * counters. Endpoints and the control API change it only through these functions. Every
 * check-then-change here is synchronous, so two concurrent requests can never both pass a check
 * that only one of them should (Node runs one handler step at a time).
 */
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import type { PayBehaviour } from './behaviour';
import type { PayFault } from './faults';
import type { MerchantConfig, PayConfig } from './options';

/** gethbinfo's statuses. RFUND_ING (sic) is skipped: the sandbox refunds in one step. */
export type PacketStatus = 'SENDING' | 'SENT' | 'FAILED' | 'RECEIVED' | 'REFUND';
/** Which API sent the packet. */
export type PacketKind = 'cash' | 'miniProgram';

/** Unclaimed packets go back to the merchant after 24 h (reference §7: 24 h per imooc, 72 h in older docs). */
export const PACKET_REFUND_AFTER_MS = 86_400_000;
/** Merchant daily funding cap: 1,000,000 元 (PAY-redpack). */
export const MERCHANT_DAILY_AMOUNT_FEN = 100_000_000;
/** What auto-registration accepts as an openid: real ones are 28 characters starting with "o". */
export const OPENID_PATTERN = /^o[A-Za-z0-9_-]{10,}$/;

const UTC8_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;
const SECOND_MS = 1000;

/** The parameters that make two sends with one mch_billno "the same packet". */
export interface PacketParams {
  readonly kind: PacketKind;
  readonly appid: string;
  readonly openid: string;
  readonly amountFen: number;
}

/** One packet the sandbox accepted (or, for FAILED, definitely refused to pay). */
export interface PacketRecord extends PacketParams {
  readonly mchId: string;
  readonly mchBillno: string;
  /** WeChat's order number: send_listid in the send reply, detail_id in gethbinfo. */
  readonly sendListid: string;
  readonly sendName: string;
  readonly wishing: string;
  readonly actName: string;
  readonly remark: string;
  /** The sendminiprogramhb `package` (raw, not URL-encoded); undefined for cash packets. */
  readonly package: string | undefined;
  readonly createdAtMs: number;
  /** When SENDING turns SENT. */
  readonly sentAtMs: number;
  status: PacketStatus;
  receivedAtMs: number | undefined;
  refundedAtMs: number | undefined;
  /** Why it FAILED (gethbinfo `reason`). */
  failReason: string | undefined;
}

/** Calls and replies per Pay path, as `GET stats` shows them. */
export interface PayCounters {
  calls: Map<string, number>;
  replies: Map<string, Map<string, number>>;
  tlsHandshakeFailures: number;
}

/**
 * The whole mutable state of one Pay sandbox. It persists as a whole (`.local/sandbox/pay.json`,
 * see the contract in `../persist.ts`): a field added here is saved and restored with no other
 * change, provided it holds data (Maps, Sets, arrays, plain objects, primitives, Dates, Buffers),
 * not functions or class instances; a key the sandbox makes for itself is kept as a Buffer or a
 * PEM string so what it signed before a restart verifies after it. Only {@link PAY_TRANSIENT_KEYS}
 * are left out.
 */
export interface PayState {
  readonly config: PayConfig;
  /** Signs the `package` of mini-program packets, so a forged package is recognised; persisted, so old packages still open. */
  readonly packageSecret: Buffer;
  clockOffsetMs: number;
  balancesFen: Map<string, number>;
  /** By `${mchId} ${mchBillno}`. */
  packets: Map<string, PacketRecord>;
  packetsBySendId: Map<string, PacketRecord>;
  /** SENDING and SENT packets: the only ones the clock can move. */
  openPackets: Set<PacketRecord>;
  /** openid → the appid it belongs to (an openid exists under exactly one appid). */
  users: Map<string, string>;
  daily: { dayKey: number; perUser: Map<string, { count: number; amountFen: number }>; perMerchantFen: Map<string, number> };
  /** Per merchant: the second (sandbox clock) being counted and the sends in it. */
  rate: Map<string, { secondKey: number; count: number }>;
  faults: PayFault[];
  nextFaultId: number;
  /** How unkind the sandbox is now (options, then the control API), and per-billno overrides. */
  behaviour: PayBehaviour;
  behaviourByBillno: Map<string, Partial<PayBehaviour>>;
  counters: PayCounters;
}

/** Left out of the snapshot: rebuilt from the options at every start (merchants, keys, TLS, the clock function). */
export const PAY_TRANSIENT_KEYS = ['config'] as const satisfies readonly (keyof PayState)[];
/** The snapshot's schema: bump it when a change makes older snapshots unreadable (they are then set aside). */
export const PAY_STATE_SCHEMA = 'pay-sandbox/1';

/** A fresh state from validated options. */
export function createPayState(config: PayConfig): PayState {
  const state: PayState = {
    config,
    packageSecret: randomBytes(32),
    clockOffsetMs: 0,
    balancesFen: new Map(),
    packets: new Map(),
    packetsBySendId: new Map(),
    openPackets: new Set(),
    users: new Map(),
    daily: { dayKey: 0, perUser: new Map(), perMerchantFen: new Map() },
    rate: new Map(),
    faults: [],
    nextFaultId: 1,
    behaviour: config.behaviour,
    behaviourByBillno: new Map(),
    counters: emptyPayCounters(),
  };
  resetPayState(state);
  return state;
}

/** Back to the options: balances and behaviour; no packets, users, faults, behaviour overrides, counters or clock offset. */
export function resetPayState(state: PayState): void {
  state.clockOffsetMs = 0;
  state.balancesFen = new Map([...state.config.merchants.values()].map((merchant) => [merchant.mchId, merchant.initialBalanceFen]));
  state.packets.clear();
  state.packetsBySendId.clear();
  state.openPackets.clear();
  state.users.clear();
  state.daily = { dayKey: utc8DayKey(payNowMs(state)), perUser: new Map(), perMerchantFen: new Map() };
  state.rate.clear();
  state.faults = [];
  state.behaviour = state.config.behaviour;
  state.behaviourByBillno.clear();
  state.counters = emptyPayCounters();
}

export function emptyPayCounters(): PayCounters {
  return { calls: new Map(), replies: new Map(), tlsHandshakeFailures: 0 };
}

/** The sandbox clock: the base clock plus the advanceable offset. */
export function payNowMs(state: PayState): number {
  return state.config.baseNowMs() + state.clockOffsetMs;
}

/** WeChat's daily limits reset at midnight Beijing time. */
export function utc8DayKey(epochMs: number): number {
  return Math.floor((epochMs + UTC8_OFFSET_MS) / DAY_MS);
}

/** "2015-04-21 20:00:00" in Beijing time, as gethbinfo writes times. */
export function formatBeijingTime(epochMs: number): string {
  return new Date(epochMs + UTC8_OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ');
}

export function packetKey(mchId: string, mchBillno: string): string {
  return `${mchId} ${mchBillno}`;
}

/**
 * Lets time act: SENDING packets whose delay has passed become SENT, and SENT packets older
 * than 24 h are refunded. Called before anything reads or changes packets or balances.
 */
export function settlePackets(state: PayState): void {
  const nowMs = payNowMs(state);
  for (const packet of state.openPackets) {
    if (packet.status === 'SENDING' && nowMs >= packet.sentAtMs) packet.status = 'SENT';
    if (packet.status === 'SENT' && nowMs >= packet.sentAtMs + PACKET_REFUND_AFTER_MS) {
      refund(state, packet, packet.sentAtMs + PACKET_REFUND_AFTER_MS);
    }
  }
}

/** Marks a SENT packet refunded and credits the merchant. */
export function refund(state: PayState, packet: PacketRecord, atMs: number): void {
  packet.status = 'REFUND';
  packet.refundedAtMs = atMs;
  state.openPackets.delete(packet);
  state.balancesFen.set(packet.mchId, (state.balancesFen.get(packet.mchId) ?? 0) + packet.amountFen);
}

/** Marks a SENT packet received by its user. */
export function receive(state: PayState, packet: PacketRecord): void {
  packet.status = 'RECEIVED';
  packet.receivedAtMs = payNowMs(state);
  state.openPackets.delete(packet);
}

/** Counts one send against the merchant's per-second limit; false (nothing counted) when the second is full. */
export function takeRate(state: PayState, mchId: string): boolean {
  // Fixed one-second windows of the sandbox clock: with a frozen test clock, advancing it opens the next second.
  const secondKey = Math.floor(payNowMs(state) / SECOND_MS);
  const window = state.rate.get(mchId);
  if (window === undefined || window.secondKey !== secondKey) {
    state.rate.set(mchId, { secondKey, count: 1 });
    return true;
  }
  if (window.count >= state.config.rateLimitPerSecond) return false;
  window.count += 1;
  return true;
}

/** Today's per-user and per-merchant totals, rolled over at Beijing midnight. */
export function dailyTotals(state: PayState): PayState['daily'] {
  const dayKey = utc8DayKey(payNowMs(state));
  if (dayKey !== state.daily.dayKey) state.daily = { dayKey, perUser: new Map(), perMerchantFen: new Map() };
  return state.daily;
}

/**
 * Whether `openid` exists under `appid`: registered there, or (auto-registration on) a
 * well-formed openid seen for the first time, which is registered under `appid` now.
 */
export function isUserOf(state: PayState, appid: string, openid: string): boolean {
  const owner = state.users.get(openid);
  if (owner !== undefined) return owner === appid;
  if (!state.config.autoRegisterUsers || !OPENID_PATTERN.test(openid)) return false;
  state.users.set(openid, appid);
  return true;
}

/** Creates a paid packet: debits the merchant and counts the user's and merchant's daily totals. */
export function createPaidPacket(
  state: PayState,
  merchant: MerchantConfig,
  fields: Omit<PacketRecord, 'sendListid' | 'package' | 'createdAtMs' | 'sentAtMs' | 'status' | 'receivedAtMs' | 'refundedAtMs' | 'failReason' | 'mchId'>,
): PacketRecord {
  const nowMs = payNowMs(state);
  const sendListid = newSendListid(nowMs);
  const sendId = randomBytes(32).toString('hex');
  const packet: PacketRecord = {
    ...fields,
    mchId: merchant.mchId,
    sendListid,
    package: fields.kind === 'miniProgram' ? issuePackage(state, sendId, merchant.mchId, fields.appid) : undefined,
    createdAtMs: nowMs,
    sentAtMs: nowMs + state.config.sendingDelayMs,
    status: 'SENDING',
    receivedAtMs: undefined,
    refundedAtMs: undefined,
    failReason: undefined,
  };
  state.packets.set(packetKey(merchant.mchId, packet.mchBillno), packet);
  if (packet.package !== undefined) state.packetsBySendId.set(sendId, packet);
  state.openPackets.add(packet);
  state.balancesFen.set(merchant.mchId, (state.balancesFen.get(merchant.mchId) ?? 0) - packet.amountFen);
  const daily = dailyTotals(state);
  const user = daily.perUser.get(packet.openid) ?? { count: 0, amountFen: 0 };
  daily.perUser.set(packet.openid, { count: user.count + 1, amountFen: user.amountFen + packet.amountFen });
  daily.perMerchantFen.set(merchant.mchId, (daily.perMerchantFen.get(merchant.mchId) ?? 0) + packet.amountFen);
  settlePackets(state);
  return packet;
}

/** Records a billno WeChat definitely did not pay (SEND_FAILED): a resend of it fails again, gethbinfo says FAILED. */
export function recordFailedPacket(state: PayState, packet: Omit<PacketRecord, 'sendListid' | 'package' | 'createdAtMs' | 'sentAtMs' | 'status' | 'receivedAtMs' | 'refundedAtMs'>): PacketRecord {
  const nowMs = payNowMs(state);
  const record: PacketRecord = {
    ...packet,
    sendListid: newSendListid(nowMs),
    package: undefined,
    createdAtMs: nowMs,
    sentAtMs: nowMs,
    status: 'FAILED',
    receivedAtMs: undefined,
    refundedAtMs: undefined,
  };
  state.packets.set(packetKey(packet.mchId, packet.mchBillno), record);
  return record;
}

// The `sign` inside a package: WeChat's is opaque to merchants, so any keyed digest will do.
function packageSignature(state: PayState, sendId: string, mchId: string, appid: string): string {
  // 128 hex characters, the length of the sign in WeChat's example package.
  return createHmac('sha512', state.packageSecret).update(`${sendId}\n${mchId}\n${appid}`).digest('hex');
}

function issuePackage(state: PayState, sendId: string, mchId: string, appid: string): string {
  return `sendid=${sendId}&ver=8&sign=${packageSignature(state, sendId, mchId, appid)}&mchid=${mchId}&appid=${appid}`;
}

// 30 digits like WeChat's order numbers: a fixed prefix, the Beijing date, then random digits.
function newSendListid(nowMs: number): string {
  const date = formatBeijingTime(nowMs).slice(0, 10).replaceAll('-', '');
  const random = Array.from({ length: 12 }, () => randomInt(10)).join('');
  return `1000041701${date}${random}`;
}
