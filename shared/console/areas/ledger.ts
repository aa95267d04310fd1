/**
 * The ledger area: money that left the merchant — paid red packets and merchant transfers — as one
 * list of rows, filterable (by kind too) and exported as CSV. Each kind of payment is one
 * {@link LedgerSource}; a new payout adds its source to `ledgerSources` in opsConsole's handler.
 */
import { COLLECTIONS, type Condition, type DocumentStore, type Where } from '../../store/port';
import type { CsvCell } from '../csv';

export interface LedgerFilter {
  /** One source's {@link LedgerSource.kind}; every source when absent. */
  kind?: string;
  campaignId?: string;
  openid?: string;
  /** Paid at or after (epoch ms). */
  fromMs?: number;
  /** Paid before (epoch ms). */
  toMs?: number;
  /** Rows read at most (each source). */
  limit: number;
}

export interface LedgerRow {
  paidAtMs: number;
  /** `red packet` (mini-program or cash), `transfer`… */
  kind: string;
  campaignId: string;
  claimId: string;
  openid: string;
  appId: string;
  amountFen: number;
  /** The merchant's bill number (mch_billno, out_bill_no). */
  billNo: string;
  /** WeChat's own number for it (send_listid, transfer_bill_no). */
  wechatNo: string;
  status: string;
}

/** One kind of payment. */
export interface LedgerSource {
  /** What the kind filter says (`redpacket`, `transfer`): letters only. */
  kind: string;
  /** What the operator reads in the filter. */
  name: string;
  rows(store: DocumentStore, filter: LedgerFilter): Promise<LedgerRow[]>;
}

interface PaidClaim {
  _id: string;
  campaignId: string;
  kind?: string;
  payout?: string;
  openid: string;
  appId: string;
  amountFen: number;
  mchBillno: string;
  sendListid: string | null;
  status: string;
  wechatStatus?: string | null;
  settledAtMs: number | null;
  updatedAtMs: number;
}

/** The paid claims matching `paid` and the filter, newest payment first. */
async function paidClaims(store: DocumentStore, paid: Where, filter: LedgerFilter): Promise<PaidClaim[]> {
  const where: Where = { ...paid };
  if (filter.campaignId) where.campaignId = filter.campaignId;
  if (filter.openid) where.openid = filter.openid;
  const range: Array<Condition> = [];
  if (filter.fromMs !== undefined) range.push({ gte: filter.fromMs });
  if (filter.toMs !== undefined) range.push({ lt: filter.toMs });
  // The port ANDs one condition per field: a closed range filters its upper end after the query.
  if (range.length > 0) where.settledAtMs = range[0]!;
  const claims = await store.find<PaidClaim>(COLLECTIONS.redPacketClaims, where, { limit: filter.limit, orderBy: { field: 'settledAtMs', direction: 'desc' } });
  return claims.filter((claim) => filter.toMs === undefined || (claim.settledAtMs ?? claim.updatedAtMs) < filter.toMs);
}

function rowOf(claim: PaidClaim, kind: string, status: string): LedgerRow {
  return {
    paidAtMs: claim.settledAtMs ?? claim.updatedAtMs,
    kind,
    campaignId: claim.campaignId,
    claimId: claim._id,
    openid: claim.openid,
    appId: claim.appId,
    amountFen: claim.amountFen,
    billNo: claim.mchBillno,
    wechatNo: claim.sendListid ?? '',
    status,
  };
}

/** Paid red packets: claims SENT (delivered) or RECEIVED (opened), transfers excepted (older claims have no payout: packets). */
export const redPacketLedger: LedgerSource = {
  kind: 'redpacket',
  name: 'Red packets',
  async rows(store, filter) {
    const claims = await paidClaims(store, { status: { in: ['SENT', 'RECEIVED'] }, payout: { neq: 'transfer' } }, filter);
    return claims.map((claim) => rowOf(claim, `red packet (${claim.payout ?? claim.kind ?? 'miniprogram'})`, claim.status));
  },
};

/**
 * Paid merchant transfers: claims RECEIVED, which a transfer reaches only when WeChat's bill is
 * SUCCESS (shared/claims/payout/transfer.ts); the bill number is the out_bill_no, WeChat's the
 * transfer_bill_no. Waiting and closed bills paid nothing and are not in the ledger.
 */
export const transferLedger: LedgerSource = {
  kind: 'transfer',
  name: 'Transfers',
  async rows(store, filter) {
    const claims = await paidClaims(store, { status: 'RECEIVED', payout: 'transfer' }, filter);
    return claims.map((claim) => rowOf(claim, 'transfer', claim.wechatStatus ?? 'SUCCESS'));
  },
};

/** Every source's rows for the filter (one source's when it names a kind), newest first, with their sum. */
export async function ledgerView(store: DocumentStore, filter: LedgerFilter, sources: readonly LedgerSource[]): Promise<{ rows: LedgerRow[]; totalFen: number; truncated: boolean }> {
  const chosen = filter.kind === undefined ? sources : sources.filter((source) => source.kind === filter.kind);
  const perSource = await Promise.all(chosen.map((source) => source.rows(store, filter)));
  const truncated = perSource.some((rows) => rows.length >= filter.limit);
  const rows = perSource.flat().sort((a, b) => b.paidAtMs - a.paidAtMs).slice(0, filter.limit);
  return { rows, totalFen: rows.reduce((sum, row) => sum + row.amountFen, 0), truncated };
}

export const LEDGER_CSV_HEADER = ['paid_at_utc8', 'kind', 'campaign', 'claim', 'openid', 'appid', 'amount_yuan', 'amount_fen', 'bill_no', 'wechat_no', 'status'] as const;

export function ledgerCsvRow(row: LedgerRow): CsvCell[] {
  const paidAt = new Date(row.paidAtMs + 8 * 3_600_000).toISOString().replace('T', ' ').slice(0, 19);
  return [paidAt, row.kind, row.campaignId, row.claimId, row.openid, row.appId, (row.amountFen / 100).toFixed(2), row.amountFen, row.billNo, row.wechatNo, row.status];
}
