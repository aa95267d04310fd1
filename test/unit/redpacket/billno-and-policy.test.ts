import { PayAction, payActionFor } from '../../../shared/pay/policy';
import { MCH_BILLNO_LENGTH, mchBillnoFor } from '../../../shared/claims/payout/redpacket';

describe('mchBillnoFor', () => {
  it('derives 28 characters of [0-9A-Za-z] from the claim and the attempt, the same every time', () => {
    const billno = mchBillnoFor('spring-2026:uUNION_1', 1);
    expect(billno).toMatch(/^[0-9A-Za-z]{28}$/);
    expect(billno).toHaveLength(MCH_BILLNO_LENGTH);
    expect(mchBillnoFor('spring-2026:uUNION_1', 1)).toBe(billno);
    // Golden value: a change of the derivation would orphan every billno already in flight.
    expect(billno).toBe(GOLDEN_BILLNO);
  });

  it('gives another billno for another attempt or another claim', () => {
    const billnos = new Set([
      mchBillnoFor('spring-2026:uUNION_1', 1),
      mchBillnoFor('spring-2026:uUNION_1', 2),
      mchBillnoFor('spring-2026:uUNION_2', 1),
      mchBillnoFor('spring-2027:uUNION_1', 1),
    ]);
    expect(billnos.size).toBe(4);
  });

  it.each([{ case: 'zero', attempt: 0 }, { case: 'a fraction', attempt: 1.5 }])('refuses an attempt of $case', ({ attempt }) => {
    expect(() => mchBillnoFor('c:u', attempt)).toThrow('attempt must be a positive integer');
  });
});

describe('payActionFor (reference/wechat-api.md §7 retry policy)', () => {
  it.each([
    { case: 'SYSTEMERROR', errCode: 'SYSTEMERROR', action: PayAction.RETRY_SAME_BILLNO },
    { case: 'no err_code (return_code FAIL)', errCode: undefined, action: PayAction.RETRY_SAME_BILLNO },
    { case: 'an unknown err_code', errCode: 'SOMETHING_NEW', action: PayAction.RETRY_SAME_BILLNO },
    { case: 'an inherited property name', errCode: 'constructor', action: PayAction.RETRY_SAME_BILLNO },
    { case: 'PROCESSING', errCode: 'PROCESSING', action: PayAction.QUERY },
    { case: 'NOTENOUGH', errCode: 'NOTENOUGH', action: PayAction.BACKOFF_SAME_BILLNO },
    { case: 'FREQ_LIMIT', errCode: 'FREQ_LIMIT', action: PayAction.BACKOFF_SAME_BILLNO },
    { case: 'SEND_FAILED', errCode: 'SEND_FAILED', action: PayAction.NOT_PAID },
    { case: 'SENDNUM_LIMIT', errCode: 'SENDNUM_LIMIT', action: PayAction.FINAL },
    { case: 'RCVDAMOUNT_LIMIT', errCode: 'RCVDAMOUNT_LIMIT', action: PayAction.FINAL },
    { case: 'SENDAMOUNT_LIMIT', errCode: 'SENDAMOUNT_LIMIT', action: PayAction.FINAL },
    { case: 'NO_AUTH', errCode: 'NO_AUTH', action: PayAction.FINAL },
    { case: 'FATAL_ERROR (the billno exists with other parameters)', errCode: 'FATAL_ERROR', action: PayAction.BILLNO_CONFLICT },
    { case: 'CA_ERROR', errCode: 'CA_ERROR', action: PayAction.FIX_CONFIG },
  ])('maps $case to $action', ({ errCode, action }) => {
    expect(payActionFor(errCode)).toBe(action);
  });

  it('says "not paid" for SEND_FAILED only', () => {
    const codes = ['SYSTEMERROR', 'PROCESSING', 'SEND_FAILED', 'NOTENOUGH', 'FREQ_LIMIT', 'SENDNUM_LIMIT', 'NO_AUTH', 'FATAL_ERROR', 'XML_ERROR', 'NOT_FOUND', 'X'];
    expect(codes.filter((code) => payActionFor(code) === PayAction.NOT_PAID)).toEqual(['SEND_FAILED']);
  });
});

// Computed outside this code: SHA-256 of "spring-2026:uUNION_1:1" as a big-endian integer, least significant base-62 digit first.
const GOLDEN_BILLNO = 'VRdsZRoqrvq2eOCMhE6SjelmrR9b';
