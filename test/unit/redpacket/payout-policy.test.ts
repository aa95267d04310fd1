/**
 * The red-packet payouts' policy tables (shared/claims/payout/redpacket.ts): every WeChat answer
 * to a send or a gethbinfo, and the absence of one, as the engine's outcome — with the wait, whether
 * it says anything about the billno, and what the operator must do.
 */
import { PayError, PayReplyError, PayTransportError } from '../../../shared/pay/errors';
import type { HbStatus } from '../../../shared/pay/redpacket';
import { Outcome } from '../../../shared/claims/payout/types';
import { packetRefusalFor, queryReply, sendReply } from '../../../shared/claims/payout/redpacket';

const SEND = '/mmpaymkttransfers/sendredpack' as const;
const QUERY = '/mmpaymkttransfers/gethbinfo' as const;
const fail = (errCode: string, endpoint: typeof SEND | typeof QUERY = SEND) =>
  new PayError(endpoint, { returnCode: 'SUCCESS', resultCode: 'FAIL', errCode, errCodeDes: `${errCode} des` });

describe('sendReply', () => {
  it('turns a SUCCESS into PAID with the order number and the package', () => {
    expect(sendReply({ sent: { mchBillno: 'B', sendListid: 'L1', amountFen: 100, package: 'sendid=1' } })).toEqual({
      outcome: Outcome.PAID, code: 'SUCCESS', retryAfterMs: 0, transient: false, receipt: { orderId: 'L1', wechatStatus: 'SENT', package: 'sendid=1' },
    });
  });

  it.each([
    { case: 'SYSTEMERROR', error: fail('SYSTEMERROR'), outcome: Outcome.UNKNOWN, retryAfterMs: 1_000, transient: true },
    { case: 'a dropped connection', error: new PayTransportError(SEND, 'ECONNRESET'), outcome: Outcome.UNKNOWN, retryAfterMs: 1_000, transient: true },
    { case: 'an unknown err_code', error: fail('BRAND_NEW'), outcome: Outcome.UNKNOWN, retryAfterMs: 1_000, transient: false },
    { case: 'a SUCCESS without the package', error: new PayReplyError(SEND, 'SUCCESS without package'), outcome: Outcome.UNKNOWN, retryAfterMs: 1_000, transient: false },
    { case: 'PROCESSING', error: fail('PROCESSING'), outcome: Outcome.IN_PROGRESS, retryAfterMs: 2_000, transient: false },
    { case: 'FREQ_LIMIT', error: fail('FREQ_LIMIT'), outcome: Outcome.REFUSED, retryAfterMs: 1_000, transient: true },
    { case: 'NOTENOUGH', error: fail('NOTENOUGH'), outcome: Outcome.REFUSED, retryAfterMs: 60_000, transient: false },
    { case: 'SEND_FAILED', error: fail('SEND_FAILED'), outcome: Outcome.NOT_PAID, retryAfterMs: 0, transient: false },
    { case: 'SENDNUM_LIMIT', error: fail('SENDNUM_LIMIT'), outcome: Outcome.FINAL, retryAfterMs: 0, transient: false },
    { case: 'CA_ERROR', error: fail('CA_ERROR'), outcome: Outcome.REFUSED, retryAfterMs: 300_000, transient: false },
    { case: 'FATAL_ERROR (the billno exists with other parameters)', error: fail('FATAL_ERROR'), outcome: Outcome.UNKNOWN, retryAfterMs: 300_000, transient: false },
  ])('maps $case to $outcome', ({ error, outcome, retryAfterMs, transient }) => {
    expect(sendReply({ error })).toMatchObject({ outcome, retryAfterMs, transient });
  });

  it.each([
    { case: 'NOTENOUGH', errCode: 'NOTENOUGH', alert: /balance is too low: top it up .*campaign\.ts settle/ },
    { case: 'CA_ERROR', errCode: 'CA_ERROR', alert: /campaign\.ts cert/ },
    { case: 'a configuration refusal without its own advice', errCode: 'MONEY_LIMIT', alert: /^MONEY_LIMIT \(MONEY_LIMIT des\): WeChat refused the request for a configuration reason/ },
  ])('tells the operator what to do about $case', ({ errCode, alert }) => {
    expect(sendReply({ error: fail(errCode) }).alert).toMatch(alert);
  });

  it('alerts nobody about answers that need no person', () => {
    expect(['SYSTEMERROR', 'SEND_FAILED', 'FREQ_LIMIT', 'NO_AUTH', 'BRAND_NEW'].map((code) => sendReply({ error: fail(code) }).alert)).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });
});

describe('queryReply', () => {
  const appIdAlert = (des: string | undefined) => `appid refused: ${des}`;

  it.each([
    { status: 'SENDING', outcome: Outcome.IN_PROGRESS },
    { status: 'SENT', outcome: Outcome.PAID },
    { status: 'RECEIVED', outcome: Outcome.RECEIVED },
    { status: 'FAILED', outcome: Outcome.NOT_PAID },
    { status: 'RFUND_ING', outcome: Outcome.REFUNDED },
    { status: 'REFUND', outcome: Outcome.REFUNDED },
    { status: 'NOT_FOUND', outcome: Outcome.NOT_FOUND },
  ] as Array<{ status: HbStatus; outcome: Outcome }>)('maps gethbinfo $status to $outcome', ({ status, outcome }) => {
    expect(queryReply({ info: { mchBillno: 'B', status, amountFen: 100, reason: undefined, detailId: 'D1' } }, appIdAlert)).toMatchObject({ outcome, code: status });
  });

  it('says a failed query tells nothing about the packet', () => {
    expect(queryReply({ error: new PayTransportError(QUERY, 'ETIMEDOUT') }, appIdAlert)).toEqual({
      outcome: Outcome.UNKNOWN, code: 'gethbinfo ETIMEDOUT', retryAfterMs: 2_000, transient: true,
    });
  });

  it('turns ILLEGAL_APPID into the payout\'s alert, which names the setting, and waits for a person', () => {
    expect(queryReply({ error: fail('ILLEGAL_APPID', QUERY) }, appIdAlert)).toMatchObject({
      outcome: Outcome.UNKNOWN, alert: 'gethbinfo: appid refused: ILLEGAL_APPID des', retryAfterMs: 300_000,
    });
  });
});

describe('packetRefusalFor', () => {
  it.each([
    { errCode: 'SENDNUM_LIMIT', reason: 'user_daily_limit' },
    { errCode: 'RCVDAMOUNT_LIMIT', reason: 'user_daily_limit' },
    { errCode: 'SENDAMOUNT_LIMIT', reason: 'merchant_limit' },
    { errCode: 'NO_AUTH', reason: 'risk_blocked' },
    { errCode: null, reason: 'risk_blocked' },
  ])('tells a user refused for good with $errCode: $reason', ({ errCode, reason }) => {
    expect(packetRefusalFor(errCode)).toBe(reason);
  });
});
