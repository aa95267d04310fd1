/**
 * MCHTRANSFER.BILL.FINISHED notifies from the Pay sandbox: sent for final states only, to the
 * configured URL, signed by WeChat Pay's key over the exact body, resource AES-256-GCM under the
 * merchant's APIv3 key; retried on WeChat's schedule (sandbox clock) until a 2xx; lost, duplicated
 * or replayed on request.
 */
import {
  API_V3_KEY, MCH_ID, MP_APPID, MP_OPENID, cancel, control, create, decryptResource, signedBy, startNotifyReceiver, startV3Sandbox,
  v3Material, type NotifyReceiver, type TestV3Sandbox, type V3Material,
} from './v3-support';

let material: V3Material;
let test: TestV3Sandbox;
let receiver: NotifyReceiver;

beforeAll(async () => {
  material = await v3Material();
  receiver = await startNotifyReceiver();
  test = await startV3Sandbox(material, { notifyUrl: receiver.url });
});
afterAll(async () => {
  await test.close();
  await receiver.close();
});
beforeEach(() => {
  test.sandbox.control.reset();
  receiver.received = [];
  receiver.answers = [];
});

async function confirmed(outBillNo: string): Promise<void> {
  const created = await create(test, material, outBillNo);
  await control(test, 'POST', 'client/request-merchant-transfer', { appId: MP_APPID, mchId: MCH_ID, package: created.json.package_info, openid: MP_OPENID, action: 'confirm' });
}

const flush = async (): Promise<any[]> => (await control(test, 'POST', 'transfers/notifies/flush')).body.notifies;

describe('delivery', () => {
  it('sends one signed, encrypted notify when a bill succeeds, to the configured URL', async () => {
    await confirmed('NOTE0001');
    const notifies = await flush();

    expect(receiver.received).toHaveLength(1);
    const [{ headers, body }] = receiver.received as [{ headers: Record<string, any>; body: string }];
    expect(headers).toMatchObject({
      'wechatpay-serial': material.wechat.publicKeyId,
      'wechatpay-signature-type': 'WECHATPAY2-SHA256-RSA2048',
      'content-type': 'application/json',
      'wechatpay-nonce': expect.stringMatching(/^[0-9A-Za-z]{32}$/),
    });
    expect(signedBy(headers, body, material.wechatPublic)).toBe(true);
    const notify = JSON.parse(body);
    expect(notify).toMatchObject({
      resource_type: 'encrypt-resource', event_type: 'MCHTRANSFER.BILL.FINISHED', summary: '商家转账单据终态通知',
      resource: { original_type: 'mch_payment', algorithm: 'AEAD_AES_256_GCM', associated_data: 'mch_payment', nonce: expect.stringMatching(/^[0-9A-Za-z]{12}$/) },
    });
    expect(decryptResource(API_V3_KEY, notify.resource)).toEqual({
      mch_id: MCH_ID, out_bill_no: 'NOTE0001', transfer_bill_no: expect.any(String), transfer_amount: 100, state: 'SUCCESS', openid: MP_OPENID,
      create_time: '2025-03-01T10:00:00+08:00', update_time: '2025-03-01T10:00:00+08:00',
    });
    expect(notifies).toEqual([expect.objectContaining({ id: notify.id, outBillNo: 'NOTE0001', state: 'SUCCESS', delivered: true, nextAttemptAtMs: null })]);
  });

  it('notifies CANCELLED and the 24 h FAIL (with fail_reason), never the states in between', async () => {
    await create(test, material, 'NOTE0002');
    await cancel(test, material, 'NOTE0002');
    await create(test, material, 'NOTE0003');
    await control(test, 'POST', 'clock', { advanceMs: 86_400_000 });
    await flush();

    const resources = receiver.received.map(({ body }) => decryptResource(API_V3_KEY, JSON.parse(body).resource));
    expect(resources.map((resource) => [resource.out_bill_no, resource.state, resource.fail_reason])).toEqual([
      ['NOTE0002', 'CANCELLED', undefined], ['NOTE0003', 'FAIL', 'OVERDUE_CLOSE'],
    ]);
  });

  it('sends nothing for a bill created without notify_url ("Omit it and you get no notify")', async () => {
    const created = await create(test, material, 'NOTE0004', { notify_url: undefined });
    await control(test, 'POST', 'client/request-merchant-transfer', { appId: MP_APPID, mchId: MCH_ID, package: created.json.package_info, openid: MP_OPENID, action: 'confirm' });

    expect(await flush()).toEqual([]);
    expect(receiver.received).toEqual([]);
  });

  it('retries a refused notify on WeChat\'s schedule (15 s, 15 s…) by the sandbox clock, with the same id and body', async () => {
    receiver.answers = [500, 503];
    await confirmed('RETRY001');
    const afterFirst = await flush();
    await control(test, 'POST', 'clock', { advanceMs: 14_999 });
    await flush();
    await control(test, 'POST', 'clock', { advanceMs: 1 });
    await flush();
    await control(test, 'POST', 'clock', { advanceMs: 15_000 });
    const [record] = await flush();

    expect(afterFirst[0]).toMatchObject({ delivered: false, nextAttemptAtMs: Date.parse('2025-03-01T10:00:15+08:00') });
    expect(record.attempts.map((attempt: { status: number }) => attempt.status)).toEqual([500, 503, 200]);
    expect(record).toMatchObject({ delivered: true, nextAttemptAtMs: null });
    expect(new Set(receiver.received.map(({ body }) => body)).size).toBe(1);
    expect(new Set(receiver.received.map(({ headers }) => headers['wechatpay-nonce'])).size).toBe(3);
  });

  it('counts a receiver that does not answer within the notify timeout as a failure', async () => {
    const hasty = await startV3Sandbox(material, { notifyUrl: receiver.url, notifyTimeoutMs: 100 });
    try {
      receiver.answers = [0];
      const created = await create(hasty, material, 'SLOW0001');
      await control(hasty, 'POST', 'client/request-merchant-transfer', { appId: MP_APPID, mchId: MCH_ID, package: created.json.package_info, openid: MP_OPENID, action: 'confirm' });
      const [record] = (await control(hasty, 'POST', 'transfers/notifies/flush')).body.notifies;

      expect(record.attempts).toEqual([expect.objectContaining({ status: null, error: 'timeout' })]);
      expect(record.nextAttemptAtMs).not.toBeNull();
    } finally {
      await hasty.close();
    }
  });

  it('counts a refused connection as a failure', async () => {
    const slow = await startV3Sandbox(material, { notifyUrl: 'http://127.0.0.1:9/unreachable' });
    try {
      const created = await create(slow, material, 'RETRY002');
      await control(slow, 'POST', 'client/request-merchant-transfer', { appId: MP_APPID, mchId: MCH_ID, package: created.json.package_info, openid: MP_OPENID, action: 'confirm' });
      const [record] = (await control(slow, 'POST', 'transfers/notifies/flush')).body.notifies;

      expect(record.attempts).toEqual([expect.objectContaining({ status: null, error: 'ECONNREFUSED' })]);
      expect(record.delivered).toBe(false);
    } finally {
      await slow.close();
    }
  });

  it('sends to the URL set through the control API for bills finishing from then on', async () => {
    const other = await startNotifyReceiver();
    try {
      await control(test, 'POST', 'transfers/notify-url', { url: other.url });
      await confirmed('URL00001');
      await flush();

      expect(other.received).toHaveLength(1);
      expect(receiver.received).toHaveLength(0);
    } finally {
      await other.close();
    }
  });
});

describe('loss, duplication and replay', () => {
  it('loses a notify on request: never sent, the bill final all the same', async () => {
    await control(test, 'POST', 'transfers/notify-faults', { outBillNo: 'LOST0001', lose: true });
    await confirmed('LOST0001');
    const [record] = await flush();

    expect(receiver.received).toEqual([]);
    expect(record).toMatchObject({ lost: true, delivered: false, attempts: [] });
    expect(test.transfers.transfers()[0]?.state).toBe('SUCCESS');
  });

  it('duplicates a notify on request: delivered twice, same id and body', async () => {
    await control(test, 'POST', 'transfers/notify-faults', { duplicate: true });
    await confirmed('DUP00001');
    await flush();

    expect(receiver.received).toHaveLength(2);
    expect(receiver.received[0]?.body).toBe(receiver.received[1]?.body);
  });

  it('replays the last attempt byte for byte: the same headers and signature', async () => {
    await confirmed('REPLAY01');
    const [record] = await flush();
    const replay = await control(test, 'POST', 'transfers/notifies/replay', { id: record.id });

    expect(replay.body).toMatchObject({ status: 200, replay: true });
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received[1]?.headers['wechatpay-signature']).toBe(receiver.received[0]?.headers['wechatpay-signature']);
    expect(receiver.received[1]?.body).toBe(receiver.received[0]?.body);
  });

  it.each([
    { case: 'a notify fault that is neither lose nor duplicate', op: 'transfers/notify-faults', body: { outBillNo: 'X' } },
    { case: 'a replay of an unknown notify', op: 'transfers/notifies/replay', body: { id: 'nope' } },
  ])('answers 400 to $case', async ({ op, body }) => {
    expect((await control(test, 'POST', op, body)).status).toBe(400);
  });
});
