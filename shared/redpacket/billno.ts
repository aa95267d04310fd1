/**
 * Deterministic mch_billno per (claim, attempt). WeChat pays a billno at most once ("可用同一商户
 * 单号再次调用，只会发放一个红包"), so a billno derived from the business event makes every retry
 * of it safe; a random one per try is how peers pay twice.
 */
import { createHash } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** mch_billno is String(28) of [0-9A-Za-z] (PAY-redpack). */
export const MCH_BILLNO_LENGTH = 28;

/**
 * 28 base-62 characters of SHA-256(`<claimId>:<attempt>`): about 166 bits, so two claims never
 * share a billno (the "mch_id + date + 10 digits" format would collide by the birthday bound
 * at ~10⁵ claims a day when the digits come from a hash).
 */
export function mchBillnoFor(claimId: string, attempt: number): string {
  if (!Number.isSafeInteger(attempt) || attempt < 1) throw new RangeError('attempt must be a positive integer');
  let value = BigInt(`0x${createHash('sha256').update(`${claimId}:${attempt}`).digest('hex')}`);
  let out = '';
  for (let i = 0; i < MCH_BILLNO_LENGTH; i += 1) {
    out += BASE62[Number(value % 62n)];
    value /= 62n;
  }
  return out;
}
