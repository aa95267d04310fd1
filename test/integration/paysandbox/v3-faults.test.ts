/**
 * Faults of the Pay sandbox's APIv3, as for v2: errors by code and HTTP status, a gateway's
 * empty error, cut-off bodies, dropped connections, broken answer signatures and delays, either
 * instead of the real handling or after it (`accept`: the bill exists although the answer says
 * otherwise or never comes).
 */
import {
  BILLS, callV3, control, create, query, signedBy, startV3Sandbox, v3Material, type TestV3Sandbox, type V3Material,
} from './v3-support';

let material: V3Material;
let test: TestV3Sandbox;

beforeAll(async () => {
  material = await v3Material();
  test = await startV3Sandbox(material);
});
afterAll(() => test.close());
beforeEach(() => test.sandbox.control.reset());

const fault = (body: Record<string, unknown>): Promise<{ status: number; body: any }> => control(test, 'POST', 'transfers/faults', body);

describe('injected errors', () => {
  it.each([
    { code: 'FREQUENCY_LIMITED', status: 429, message: '频率超限，请降低请求频率' },
    { code: 'NOT_ENOUGH', status: 403, message: '商户运营账户资金不足，充值后可以原单号发起重试，请勿更换商户单号' },
    { code: 'SYSTEM_ERROR', status: 500, message: '系统繁忙，请稍后重试' },
    { code: 'NO_AUTH', status: 403, message: '当前商户号没有相关权限，暂不支持使用' },
  ])('answers $code with HTTP $status, signed, without creating the bill', async ({ code, status, message }) => {
    await fault({ operation: 'create', code });
    const answer = await create(test, material, 'FAULT001');

    expect(answer.status).toBe(status);
    expect(answer.json).toEqual({ code, message });
    expect(signedBy(answer.headers, answer.text, material.wechatPublic)).toBe(true);
    expect(test.transfers.transfers()).toEqual([]);
    expect(test.transfers.stats().replies.create).toEqual({ [code]: 1 });
  });

  it('creates the bill and then answers 500 SYSTEM_ERROR when the fault is accepted: an error that does not mean "not paid"', async () => {
    await fault({ operation: 'create', code: 'SYSTEM_ERROR', accept: true });
    const answer = await create(test, material, 'FAULT002');
    const retried = await create(test, material, 'FAULT002');

    expect(answer.status).toBe(500);
    expect(retried.json.state).toBe('WAIT_USER_CONFIRM');
    expect(test.transfers.transfers()).toHaveLength(1);
  });

  it('answers an unknown code with the status given', async () => {
    await fault({ operation: 'create', code: 'BRAND_NEW_CODE', status: 400, message: '新的错误' });
    expect((await create(test, material, 'FAULT003')).json).toEqual({ code: 'BRAND_NEW_CODE', message: '新的错误' });
  });

  it('answers a gateway 502 with an empty, unsigned body', async () => {
    await fault({ operation: 'create', status: 502, accept: true });
    const answer = await create(test, material, 'FAULT004');

    expect(answer).toMatchObject({ status: 502, text: '' });
    expect(answer.headers['wechatpay-signature']).toBeUndefined();
    expect(test.transfers.transfers()).toHaveLength(1);
  });

  it('targets one out_bill_no only', async () => {
    await fault({ operation: 'create', outBillNo: 'FAULT006', code: 'SYSTEM_ERROR' });

    expect((await create(test, material, 'FAULT005')).status).toBe(200);
    expect((await create(test, material, 'FAULT006')).status).toBe(500);
  });

  it('applies to queries and cancels by the out_bill_no in the path', async () => {
    await create(test, material, 'FAULT007');
    await fault({ operation: 'queryByOutBillNo', outBillNo: 'FAULT007', code: 'NOT_FOUND', times: 2 });
    await fault({ operation: 'cancel', code: 'FREQUENCY_LIMIT_EXCEED' });

    expect((await query(test, material, 'FAULT007')).status).toBe(404);
    expect((await query(test, material, 'FAULT007')).status).toBe(404);
    expect((await query(test, material, 'FAULT007')).json.state).toBe('WAIT_USER_CONFIRM');
    expect((await callV3(test, material, 'POST', `${BILLS}/out-bill-no/FAULT007/cancel`)).status).toBe(429);
  });
});

describe('lost and damaged answers', () => {
  it('drops the connection before handling: nothing is created', async () => {
    await fault({ operation: 'create', drop: true });
    await expect(create(test, material, 'DROP0001')).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(test.transfers.transfers()).toEqual([]);
  });

  it('creates the bill and then drops the connection when accepted: the bill exists, the answer never came', async () => {
    await fault({ operation: 'create', drop: true, accept: true });
    await expect(create(test, material, 'DROP0002')).rejects.toThrow(/socket hang up|ECONNRESET/);

    expect(test.transfers.transfers()).toEqual([expect.objectContaining({ outBillNo: 'DROP0002', state: 'WAIT_USER_CONFIRM' })]);
    expect(test.transfers.stats().replies.create).toEqual({ DROPPED: 1 });
  });

  it('cuts the body off (signed, unparseable)', async () => {
    await fault({ operation: 'create', unparseable: true, accept: true });
    const answer = await create(test, material, 'CUT00001');

    expect(answer.status).toBe(200);
    expect(answer.json).toBeUndefined();
    expect(signedBy(answer.headers, answer.text, material.wechatPublic)).toBe(true);
  });

  it.each([
    { signature: 'missing', check: (answer: any): void => expect(answer.headers['wechatpay-signature']).toBeUndefined() },
    { signature: 'invalid', check: (answer: any): void => expect(signedBy(answer.headers, answer.text, material.wechatPublic)).toBe(false) },
    { signature: 'unknown-serial', check: (answer: any): void => expect(answer.headers['wechatpay-serial']).toBe('PUB_KEY_ID_0000000000000000000000000000') },
    { signature: 'stale', check: (answer: any): void => expect(Number(answer.headers['wechatpay-timestamp'])).toBe(Math.floor(Date.parse('2025-03-01T10:00:00+08:00') / 1000) - 600) },
  ])('breaks the answer signature ($signature) of a real, handled create', async ({ signature, check }) => {
    await fault({ operation: 'create', signature });
    const answer = await create(test, material, 'SIGF0001');

    expect(answer.status).toBe(200);
    check(answer);
    expect(test.transfers.transfers()).toHaveLength(1);
  });
});

describe('fault control', () => {
  it('lists, then clears faults', async () => {
    await fault({ operation: 'create', code: 'SYSTEM_ERROR', times: 3 });
    const listed = await control(test, 'GET', 'transfers/faults');
    await control(test, 'DELETE', 'transfers/faults');

    expect(listed.body.faults).toEqual([expect.objectContaining({ operation: 'create', code: 'SYSTEM_ERROR', remaining: 3 })]);
    expect((await control(test, 'GET', 'transfers/faults')).body).toEqual({ faults: [] });
    expect((await create(test, material, 'CLEAR001')).status).toBe(200);
  });

  it.each([
    { case: 'an unknown operation', body: { operation: 'refund', code: 'SYSTEM_ERROR' } },
    { case: 'a code without a known status', body: { operation: 'create', code: 'BRAND_NEW_CODE' } },
    { case: 'drop and code together', body: { operation: 'create', drop: true, code: 'SYSTEM_ERROR' } },
    { case: 'a success status', body: { operation: 'create', status: 200 } },
    { case: 'nothing to do', body: { operation: 'create' } },
    { case: 'a typo', body: { operation: 'create', code: 'SYSTEM_ERROR', time: 2 } },
    { case: 'a dropped connection with a broken signature', body: { operation: 'create', drop: true, signature: 'invalid' } },
  ])('answers 400 to $case', async ({ body }) => {
    expect((await fault(body)).status).toBe(400);
  });

  it('counts calls per operation', async () => {
    await create(test, material, 'COUNT001');
    await query(test, material, 'COUNT001');
    await query(test, material, 'NOSUCH01');

    expect(test.transfers.stats()).toMatchObject({
      calls: { create: 1, queryByOutBillNo: 2 },
      replies: { create: { SUCCESS: 1 }, queryByOutBillNo: { SUCCESS: 1, NOT_FOUND: 1 } },
    });
  });
});
