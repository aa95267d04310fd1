/**
 * Injected faults over real mutual TLS: err_code replies with and without the packet really
 * paid, unparseable replies, "accepted, then the connection drops", drop before accepting,
 * delays, and their matching by path, billno and count.
 */
import type { TestCertificates } from '../../../scripts/local/certs';
import type { PayFaultInput } from '../../../scripts/local/paysandbox';
import {
  GETHBINFO_PATH, SENDMINIPROGRAMHB_PATH, SENDREDPACK_PATH, callPay, cashFields, control, miniProgramFields, p12Of, postRaw, queryFields,
  signed, startTestPaySandbox, testCertificates, toXml, type ClientCert, type TestPaySandbox,
} from './pay-client';

let certs: TestCertificates;
let cert: ClientCert;
let test: TestPaySandbox;

beforeAll(async () => {
  certs = (await testCertificates()).main;
  cert = p12Of(certs);
  test = await startTestPaySandbox(certs);
});
afterAll(async () => {
  await test.close();
});
beforeEach(() => {
  test.sandbox.control.reset();
});

const fault = (input: PayFaultInput) => test.sandbox.control.addFault(input);
const sendCash = (billno: string) => callPay(test, SENDREDPACK_PATH, cashFields(billno), cert);
const rawCash = (billno: string) => postRaw(test.sandbox.url, SENDREDPACK_PATH, toXml(signed(cashFields(billno))), cert, test.caPem);
const query = (billno: string) => callPay(test, GETHBINFO_PATH, queryFields(billno), cert);
const paidBillnos = () => test.sandbox.control.ledger().map((entry) => entry.mchBillno);

describe('err_code faults', () => {
  it.each([
    { case: 'SYSTEMERROR before accepting: nothing paid', errCode: 'SYSTEMERROR', accept: false, paid: [] },
    { case: 'SYSTEMERROR after accepting: paid but reported failed', errCode: 'SYSTEMERROR', accept: true, paid: ['FAULT00000001'] },
    { case: 'PROCESSING after accepting', errCode: 'PROCESSING', accept: true, paid: ['FAULT00000001'] },
    { case: 'NOTENOUGH before accepting', errCode: 'NOTENOUGH', accept: false, paid: [] },
    { case: 'FREQ_LIMIT before accepting', errCode: 'FREQ_LIMIT', accept: false, paid: [] },
    { case: 'NO_AUTH before accepting', errCode: 'NO_AUTH', accept: false, paid: [] },
    { case: 'SENDNUM_LIMIT before accepting', errCode: 'SENDNUM_LIMIT', accept: false, paid: [] },
    { case: 'an err_code WeChat has not documented', errCode: 'SOMETHING_NEW', accept: true, paid: ['FAULT00000001'] },
  ])('answers $case', async ({ errCode, accept, paid }) => {
    fault({ path: SENDREDPACK_PATH, errCode, accept });

    const reply = await sendCash('FAULT00000001');

    expect(reply).toMatchObject({ return_code: 'SUCCESS', result_code: 'FAIL', err_code: errCode, mch_billno: 'FAULT00000001' });
    expect(paidBillnos()).toEqual(paid);
    expect(test.sandbox.control.stats().replies).toEqual({ [SENDREDPACK_PATH]: { [errCode]: 1 } });
  });

  it('lets a same-billno retry after SYSTEMERROR-after-accepting return the one packet already paid', async () => {
    fault({ path: SENDREDPACK_PATH, errCode: 'SYSTEMERROR', accept: true });
    await sendCash('FAULT00000002');

    const retry = await sendCash('FAULT00000002');

    expect(retry.result_code).toBe('SUCCESS');
    expect(paidBillnos()).toEqual(['FAULT00000002']);
  });

  it('answers PROCESSING, and gethbinfo with the same billno finds the packet SENT', async () => {
    fault({ path: SENDREDPACK_PATH, errCode: 'PROCESSING', accept: true });
    await sendCash('FAULT00000003');

    expect(await query('FAULT00000003')).toMatchObject({ result_code: 'SUCCESS', status: 'SENT', mch_billno: 'FAULT00000003' });
  });

  it('makes SEND_FAILED definite: never paid, the same billno fails again, gethbinfo says FAILED, a new billno pays', async () => {
    fault({ path: SENDREDPACK_PATH, errCode: 'SEND_FAILED' });

    expect((await sendCash('FAILED0000001')).err_code).toBe('SEND_FAILED');
    expect((await sendCash('FAILED0000001')).err_code).toBe('SEND_FAILED');
    expect(await query('FAILED0000001')).toMatchObject({ status: 'FAILED', reason: '红包发放失败,请更换单号再重试' });
    expect((await sendCash('FAILED0000002')).result_code).toBe('SUCCESS');
    expect(paidBillnos()).toEqual(['FAILED0000002']);
  });

  it('takes SEND_FAILED after accepting: the packet IS paid, the reply says it failed, gethbinfo says SENT', async () => {
    fault({ path: SENDREDPACK_PATH, errCode: 'SEND_FAILED', accept: true });

    expect((await sendCash('FAILED0000003')).err_code).toBe('SEND_FAILED');

    expect(paidBillnos()).toEqual(['FAILED0000003']);
    expect(await query('FAILED0000003')).toMatchObject({ result_code: 'SUCCESS', status: 'SENT' });
  });

  it('answers SEND_FAILED for a billno already paid when told to, and the packet stays paid', async () => {
    await sendCash('FAILED0000004');
    fault({ path: SENDREDPACK_PATH, errCode: 'SEND_FAILED' });

    expect((await sendCash('FAILED0000004')).err_code).toBe('SEND_FAILED');

    expect(await query('FAILED0000004')).toMatchObject({ status: 'SENT' });
    expect(paidBillnos()).toEqual(['FAILED0000004']);
    expect(test.sandbox.control.faults()).toEqual([]);
  });
});

describe('transport faults', () => {
  it('drops the connection after accepting: the packet IS paid, and a same-billno retry gets it', async () => {
    fault({ path: SENDREDPACK_PATH, drop: true, accept: true });

    await expect(rawCash('DROP000000001')).rejects.toThrow(/socket hang up|ECONNRESET/);

    expect(paidBillnos()).toEqual(['DROP000000001']);
    const retry = await sendCash('DROP000000001');
    expect(retry.result_code).toBe('SUCCESS');
    expect(test.sandbox.control.ledger()).toHaveLength(1);
    expect(test.sandbox.control.stats().replies).toEqual({ [SENDREDPACK_PATH]: { DROPPED: 1, SUCCESS: 1 } });
  });

  it('drops the connection before accepting: nothing is paid', async () => {
    fault({ path: SENDREDPACK_PATH, drop: true });

    await expect(rawCash('DROP000000002')).rejects.toThrow(/socket hang up|ECONNRESET/);

    expect(paidBillnos()).toEqual([]);
  });

  it.each([
    { case: 'after accepting (paid)', accept: true, paid: ['GARBLE0000001'] },
    { case: 'before accepting (not paid)', accept: false, paid: [] },
  ])('answers an unparseable body $case', async ({ accept, paid }) => {
    fault({ path: SENDREDPACK_PATH, unparseable: true, accept });

    const { status, text } = await rawCash('GARBLE0000001');

    expect(status).toBe(200);
    await expect(import('xml2js').then(({ parseStringPromise }) => parseStringPromise(text))).rejects.toThrow();
    expect(paidBillnos()).toEqual(paid);
  });

  it('delays the reply of an accepted request: the packet is paid before the reply arrives', async () => {
    fault({ path: SENDREDPACK_PATH, delayMs: 1500, accept: true });
    let replied = false;
    const pending = sendCash('DELAY00000001').then((reply) => {
      replied = true;
      return reply;
    });

    // Bounded poll: the packet appears as soon as the request is handled, well inside the delay.
    for (let attempt = 0; attempt < 100 && paidBillnos().length === 0; attempt += 1) await new Promise((resolve) => setTimeout(resolve, 10));

    expect(paidBillnos()).toEqual(['DELAY00000001']);
    expect(replied).toBe(false);
    expect((await pending).result_code).toBe('SUCCESS');
  });

  it('delays a request before handling it when not accepting: nothing is paid until the reply', async () => {
    fault({ path: SENDREDPACK_PATH, delayMs: 1000 });
    const pending = sendCash('DELAY00000002');
    const arrived = () => test.sandbox.control.stats().calls[SENDREDPACK_PATH] === 1;
    for (let attempt = 0; attempt < 100 && !arrived(); attempt += 1) await new Promise((resolve) => setTimeout(resolve, 10));

    expect(arrived()).toBe(true);
    expect(paidBillnos()).toEqual([]);
    expect((await pending).result_code).toBe('SUCCESS');
    expect(paidBillnos()).toEqual(['DELAY00000002']);
  });
});

describe('fault matching', () => {
  it('applies a billno fault only to that billno, and only to its path', async () => {
    fault({ path: SENDREDPACK_PATH, mchBillno: 'MATCH00000002', errCode: 'SYSTEMERROR' });

    expect((await sendCash('MATCH00000001')).result_code).toBe('SUCCESS');
    expect((await callPay(test, SENDMINIPROGRAMHB_PATH, miniProgramFields('MATCH00000002'), cert)).result_code).toBe('SUCCESS');
    expect((await sendCash('MATCH00000003')).result_code).toBe('SUCCESS');
    expect(test.sandbox.control.faults()).toHaveLength(1);
  });

  it('applies a fault `times` times, then answers normally', async () => {
    fault({ path: SENDREDPACK_PATH, errCode: 'SYSTEMERROR', times: 2 });

    const codes = [];
    for (let attempt = 0; attempt < 3; attempt += 1) codes.push((await sendCash('TIMES00000001')).err_code);

    expect(codes).toEqual(['SYSTEMERROR', 'SYSTEMERROR', 'SUCCESS']);
  });

  it('faults gethbinfo too: NOT_FOUND for a packet that exists', async () => {
    await sendCash('QUERY00000001');
    fault({ path: GETHBINFO_PATH, errCode: 'NOT_FOUND' });

    expect(await query('QUERY00000001')).toMatchObject({ result_code: 'FAIL', err_code: 'NOT_FOUND', mch_billno: 'QUERY00000001' });
    expect((await query('QUERY00000001')).status).toBe('SENT');
  });

  it.each([
    { case: 'an unknown path', input: { path: '/mmpaymkttransfers/sendgroupredpack', errCode: 'SYSTEMERROR' }, error: /not a Pay sandbox path/ },
    { case: 'no effect at all', input: { path: SENDREDPACK_PATH }, error: /needs errCode, unparseable, drop or a positive delayMs/ },
    { case: 'two outcomes', input: { path: SENDREDPACK_PATH, drop: true, unparseable: true }, error: /exclude each other/ },
    { case: 'a lower-case err_code', input: { path: SENDREDPACK_PATH, errCode: 'systemerror' }, error: /upper-case/ },
    { case: 'a misspelt option', input: { path: SENDREDPACK_PATH, errCode: 'SYSTEMERROR', acept: true }, error: /unknown field\(s\) acept/ },
  ])('refuses a fault with $case', async ({ input, error }) => {
    const { status, body } = await control(test, 'POST', 'faults', input);

    expect(status).toBe(400);
    expect(body.error).toMatch(error);
  });

  it('lists and clears faults through the control API', async () => {
    await control(test, 'POST', 'faults', { path: SENDREDPACK_PATH, errCode: 'SYSTEMERROR', times: 3 });

    expect((await control(test, 'GET', 'faults')).body).toEqual({
      faults: [{
        id: expect.any(Number), path: SENDREDPACK_PATH, errCode: 'SYSTEMERROR', unparseable: false, drop: false, accept: false, delayMs: 0, remaining: 3,
      }],
    });
    expect((await control(test, 'DELETE', 'faults')).body).toEqual({ ok: true });
    expect((await sendCash('CLEAR00000001')).result_code).toBe('SUCCESS');
  });
});
