/**
 * The sandbox as unkind as WeChat (issue 8 §1): how a resend of an already-paid billno is
 * answered, a gethbinfo that lags behind a payment, and a gethbinfo that refuses one of the
 * merchant's two kinds of appid — by default, for one billno, from the options and the control API.
 */
import type { TestCertificates } from '../../../scripts/local/certs';
import {
  GETHBINFO_PATH, MP_APPID, OA_APPID, SENDMINIPROGRAMHB_PATH, SENDREDPACK_PATH, callPay, cashFields, control, miniProgramFields,
  p12Of, queryFields, startTestPaySandbox, testCertificates, type ClientCert, type TestPaySandbox,
} from './pay-client';

let certs: TestCertificates;
let cert: ClientCert;
let test: TestPaySandbox;

beforeAll(async () => {
  certs = (await testCertificates()).main;
  cert = p12Of(certs);
  test = await startTestPaySandbox(certs);
});
afterAll(() => test.close());
beforeEach(() => test.sandbox.control.reset());

const sendCash = (billno: string) => callPay(test, SENDREDPACK_PATH, cashFields(billno), cert);
const sendMiniProgram = (billno: string) => callPay(test, SENDMINIPROGRAMHB_PATH, miniProgramFields(billno), cert);
const query = (billno: string, appid = OA_APPID) => callPay(test, GETHBINFO_PATH, queryFields(billno, { appid }), cert);
const paidBillnos = () => test.sandbox.control.ledger().map((entry) => entry.mchBillno);

describe('a resend of an already-paid billno', () => {
  it.each([
    { case: 'the same packet again (the documented default)', paidResend: undefined, reply: { result_code: 'SUCCESS', mch_billno: 'RESEND0000001' } },
    { case: 'SEND_FAILED', paidResend: 'SEND_FAILED', reply: { result_code: 'FAIL', err_code: 'SEND_FAILED', err_code_des: '红包发放失败,请更换单号再重试' } },
    { case: 'an err_code nobody documented', paidResend: 'ODD_NEW_CODE', reply: { result_code: 'FAIL', err_code: 'ODD_NEW_CODE' } },
  ])('is answered with $case, and nothing more is paid', async ({ paidResend, reply }) => {
    if (paidResend !== undefined) test.sandbox.control.setBehaviour({ paidResend });
    expect((await sendCash('RESEND0000001')).result_code).toBe('SUCCESS');

    expect(await sendCash('RESEND0000001')).toMatchObject(reply);

    expect(paidBillnos()).toEqual(['RESEND0000001']);
    expect(await query('RESEND0000001')).toMatchObject({ status: 'SENT' });
  });

  it('gives a mini-program resend the same package only when answering the same packet', async () => {
    const first = await sendMiniProgram('RESEND0000002');
    expect((await sendMiniProgram('RESEND0000002')).package).toBe(first.package);

    test.sandbox.control.setBehaviour({ paidResend: 'SEND_FAILED' });
    const refused = await sendMiniProgram('RESEND0000002');

    expect(refused).toMatchObject({ result_code: 'FAIL', err_code: 'SEND_FAILED' });
    expect(refused.package).toBeUndefined();
  });

  it('applies a billno override to that billno only', async () => {
    test.sandbox.control.setBehaviour({ mchBillno: 'RESEND0000003', paidResend: 'SEND_FAILED' });
    await sendCash('RESEND0000003');
    await sendCash('RESEND0000004');

    expect((await sendCash('RESEND0000003')).err_code).toBe('SEND_FAILED');
    expect((await sendCash('RESEND0000004')).result_code).toBe('SUCCESS');
  });

  it('still answers SEND_FAILED for a billno that really failed, and never pays it', async () => {
    test.sandbox.control.addFault({ path: SENDREDPACK_PATH, errCode: 'SEND_FAILED' });
    await sendCash('RESEND0000005');

    expect((await sendCash('RESEND0000005')).err_code).toBe('SEND_FAILED');
    expect(await query('RESEND0000005')).toMatchObject({ status: 'FAILED' });
    expect(paidBillnos()).toEqual([]);
  });
});

describe('gethbinfo lag', () => {
  it('answers NOT_FOUND for a paid packet until the lag has passed on the sandbox clock', async () => {
    test.sandbox.control.setBehaviour({ queryLagMs: 60_000 });
    await sendCash('LAG0000000001');

    expect(await query('LAG0000000001')).toMatchObject({ result_code: 'FAIL', err_code: 'NOT_FOUND' });
    test.sandbox.control.advanceClock(59_999);
    expect((await query('LAG0000000001')).err_code).toBe('NOT_FOUND');
    test.sandbox.control.advanceClock(1);
    expect(await query('LAG0000000001')).toMatchObject({ result_code: 'SUCCESS', status: 'SENT' });
    expect(paidBillnos()).toEqual(['LAG0000000001']);
  });

  it('does not lag a FAILED billno', async () => {
    test.sandbox.control.setBehaviour({ queryLagMs: 60_000 });
    test.sandbox.control.addFault({ path: SENDREDPACK_PATH, errCode: 'SEND_FAILED' });
    await sendCash('LAG0000000002');

    expect(await query('LAG0000000002')).toMatchObject({ status: 'FAILED' });
  });
});

describe("gethbinfo's appid", () => {
  it.each([
    { case: 'any bound appid by default', queryAppids: undefined, official: 'SUCCESS', miniProgram: 'SUCCESS' },
    { case: 'only the official account', queryAppids: 'officialAccount' as const, official: 'SUCCESS', miniProgram: 'ILLEGAL_APPID' },
    { case: 'only the mini-program', queryAppids: 'miniProgram' as const, official: 'ILLEGAL_APPID', miniProgram: 'SUCCESS' },
  ])('accepts $case', async ({ queryAppids, official, miniProgram }) => {
    if (queryAppids !== undefined) test.sandbox.control.setBehaviour({ queryAppids });
    await sendMiniProgram('APPID00000001');

    expect((await query('APPID00000001', OA_APPID)).err_code).toBe(official);
    expect((await query('APPID00000001', MP_APPID)).err_code).toBe(miniProgram);
  });
});

describe('the behaviour control API', () => {
  it('shows, sets per billno and clears the switches over HTTP', async () => {
    expect((await control(test, 'GET', 'behaviour')).body).toEqual({ default: { paidResend: 'same', queryLagMs: 0, queryAppids: 'any' }, byBillno: {} });

    await control(test, 'POST', 'behaviour', { queryLagMs: 5_000 });
    const { body } = await control(test, 'POST', 'behaviour', { mchBillno: 'B1', paidResend: 'SEND_FAILED' });

    expect(body).toEqual({ default: { paidResend: 'same', queryLagMs: 5_000, queryAppids: 'any' }, byBillno: { B1: { paidResend: 'SEND_FAILED' } } });
    expect((await control(test, 'DELETE', 'behaviour')).body).toEqual({ ok: true });
    expect((await control(test, 'GET', 'behaviour')).body).toEqual({ default: { paidResend: 'same', queryLagMs: 0, queryAppids: 'any' }, byBillno: {} });
  });

  it.each([
    { case: 'a lower-case paidResend', input: { paidResend: 'send_failed' }, error: /paidResend must be "same" or an upper-case err_code/ },
    { case: 'SUCCESS as paidResend', input: { paidResend: 'SUCCESS' }, error: /other than SUCCESS/ },
    { case: 'a negative lag', input: { queryLagMs: -1 }, error: /queryLagMs must be a number/ },
    { case: 'an unknown appid kind', input: { queryAppids: 'official' }, error: /queryAppids must be one of any, officialAccount, miniProgram/ },
    { case: 'a misspelt switch', input: { queryLag: 5 }, error: /unknown field\(s\) queryLag/ },
  ])('refuses $case', async ({ input, error }) => {
    const { status, body } = await control(test, 'POST', 'behaviour', input);

    expect(status).toBe(400);
    expect(body.error).toMatch(error);
  });

  it('takes the default switches from the options, and reset restores them', async () => {
    const unkind = await startTestPaySandbox(certs, { behaviour: { paidResend: 'SEND_FAILED', queryLagMs: 1_000 } });
    try {
      unkind.sandbox.control.setBehaviour({ paidResend: 'same' });
      unkind.sandbox.control.reset();
      expect(unkind.sandbox.control.behaviour().default).toEqual({ paidResend: 'SEND_FAILED', queryLagMs: 1_000, queryAppids: 'any' });
    } finally {
      await unkind.close();
    }
  });
});
