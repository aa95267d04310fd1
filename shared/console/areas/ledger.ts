/**
 * The ledger area: money that left the merchant — paid packets today, merchant transfers when
 * that payout lands — as one list of rows, filterable and exported as CSV. Each kind of payment is
 * one {@link LedgerSource}; a new payout adds its source to `ledgerSources` in opsConsole's handler.
 */
import { COLLECTIONS, type Condition, type DocumentStore, type Where } from '../../store/port';
import type { CsvCell } from '../csv';

export interface LedgerFilter {
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
  settledAtMs: number | null;
  updatedAtMs: number;
}

/** Paid red packets: claims SENT (delivered) or RECEIVED (opened). */
export const redPacketLedger: LedgerSource = {
  name: 'red packets',
  async rows(store, filter) {
    const where: Where = { status: { in: ['SENT', 'RECEIVED'] } };
    if (filter.campaignId) where.campaignId = filter.campaignId;
    if (filter.openid) where.openid = filter.openid;
    const range: Array<Condition> = [];
    if (filter.fromMs !== undefined) range.push({ gte: filter.fromMs });
    if (filter.toMs !== undefined) range.push({ lt: filter.toMs });
    // The port ANDs one condition per field: a closed range filters its upper end after the query.
    if (range.length > 0) where.settledAtMs = range[0]!;
    const claims = await store.find<PaidClaim>(COLLECTIONS.redPacketClaims, where, { limit: filter.limit, orderBy: { field: 'settledAtMs', direction: 'desc' } });
    return claims
      .filter((claim) => filter.toMs === undefined || (claim.settledAtMs ?? claim.updatedAtMs) < filter.toMs)
      .map((claim) => ({
        paidAtMs: claim.settledAtMs ?? claim.updatedAtMs,
        kind: `red packet (${claim.payout ?? claim.kind ?? 'miniprogram'})`,
        campaignId: claim.campaignId,
        claimId: claim._id,
        openid: claim.openid,
        appId: claim.appId,
        amountFen: claim.amountFen,
        billNo: claim.mchBillno,
        wechatNo: claim.sendListid ?? '',
        status: claim.status,
      }));
  },
};

/** Every source's rows for the filter, newest first, with their sum. */
export async function ledgerView(store: DocumentStore, filter: LedgerFilter, sources: readonly LedgerSource[]): Promise<{ rows: LedgerRow[]; totalFen: number; truncated: boolean }> {
  const perSource = await Promise.all(sources.map((source) => source.rows(store, filter)));
  const truncated = perSource.some((rows) => rows.length >= filter.limit);
  const rows = perSource.flat().sort((a, b) => b.paidAtMs - a.paidAtMs).slice(0, filter.limit);
  return { rows, totalFen: rows.reduce((sum, row) => sum + row.amountFen, 0), truncated };
}

export const LEDGER_CSV_HEADER = ['paid_at_utc8', 'kind', 'campaign', 'claim', 'openid', 'appid', 'amount_yuan', 'amount_fen', 'bill_no', 'wechat_no', 'status'] as const;

export function ledgerCsvRow(row: LedgerRow): CsvCell[] {
  const paidAt = new Date(row.paidAtMs + 8 * 3_600_000).toISOString().replace('T', ' ').slice(0, 19);
  return [paidAt, row.kind, row.campaignId, row.claimId, row.openid, row.appId, (row.amountFen / 100).toFixed(2), row.amountFen, row.billNo, row.wechatNo, row.status];
}
