/**
 * The product's notify parser on what the Pay sandbox really sends: a genuine notify verifies and
 * decrypts into the bill's final state; anything forged, altered, replayed late, probed or meant
 * for another key is refused with the reason, before its content is believed.
 */
import { CryptoError, InputError } from '../../../shared/errors';
import { PayV3NotifySignatureError, parseTransferBillNotify } from '../../../shared/pay/v3/notify';
import { rsaSha256Sign } from '../../../shared/signing/pay-v3';
import {
  control, startNotifyReceiver, startV3Sandbox, v3Material, type NotifyReceiver, type TestV3Sandbox, type V3Material,
} from '../paysandbox/v3-support';
import { BASE_MS, MCH_ID, MP_APPID, MP_OPENID, billRequest, clientFor, keysOf } from './support';
import { buildTransferBill } from '../../../shared/pay/v3/transfer';

let material: V3Material;
let test: TestV3Sandbox;
let receiver: NotifyReceiver;
let delivered: { headers: Record<string, string | string[] | undefined>; body: string };

beforeAll(async () => {
  material = await v3Material();
  receiver = await startNotifyReceiver();
  test = await startV3Sandbox(material, { notifyUrl: receiver.url });
  const keys = keysOf(material);
  const client = clientFor(test, keys);
  try {
    const created = await client.create(buildTransferBill(billRequest('NOTIFY01'), keys));
    await control(test, 'POST', 'client/request-merchant-transfer', { appId: MP_APPID, mchId: MCH_ID, package: created.packageInfo, openid: MP_OPENID, action: 'confirm' });
    await control(test, 'POST', 'transfers/notifies/flush');
  } finally {
    client.close();
  }
  delivered = receiver.received[0]!;
});
afterAll(async () => {
  await test.close();
  await receiver.close();
});

describe('parseTransferBillNotify', () => {
  it('verifies and decrypts the sandbox\'s notify into the final bill', () => {
    const notice = parseTransferBillNotify(delivered, keysOf(material), BASE_MS);

    expect(notice).toEqual({
      id: expect.any(String),
      createTime: '2025-03-01T10:00:00+08:00',
      summary: '商家转账单据终态通知',
      bill: {
        mchId: MCH_ID, outBillNo: 'NOTIFY01', transferBillNo: expect.any(String), state: 'SUCCESS', amountFen: 100, openid: MP_OPENID,
        failReason: undefined, createTime: '2025-03-01T10:00:00+08:00', updateTime: '2025-03-01T10:00:00+08:00',
      },
    });
  });

  it('reads headers in any case and the body as bytes', () => {
    const upper = Object.fromEntries(Object.entries(delivered.headers).map(([name, value]) => [name.toUpperCase(), value]));
    expect(parseTransferBillNotify({ headers: upper, body: Buffer.from(delivered.body, 'utf8') }, keysOf(material), BASE_MS).bill.state).toBe('SUCCESS');
  });

  it.each([
    { case: 'a re-serialised body', change: () => ({ body: JSON.stringify(JSON.parse(delivered.body), null, 2) }), reason: 'bad_signature' },
    { case: 'a body with another amount spliced in', change: () => ({ body: delivered.body.replace('"summary":"商家转账单据终态通知"', '"summary":"x"') }), reason: 'bad_signature' },
    { case: 'no signature headers (a proxy stripped them)', change: () => ({ headers: { 'content-type': 'application/json' } }), reason: 'missing_header' },
    { case: 'a WECHATPAY/SIGNTEST/ probe', change: () => ({ headers: { ...delivered.headers, 'wechatpay-signature': 'WECHATPAY/SIGNTEST/abc' } }), reason: 'probe' },
    { case: 'a serial the merchant never configured', change: () => ({ headers: { ...delivered.headers, 'wechatpay-serial': material.platformSerial } }), reason: 'unknown_serial' },
  ])('refuses $case: $reason', ({ change, reason }) => {
    const input = { ...delivered, ...change() };
    expect(() => parseTransferBillNotify(input, keysOf(material), BASE_MS)).toThrow(expect.objectContaining({ name: 'PayV3NotifySignatureError', reason }));
  });

  it('refuses the genuine notify replayed 5 minutes later', () => {
    expect(() => parseTransferBillNotify(delivered, keysOf(material), BASE_MS + 300_000)).toThrow(PayV3NotifySignatureError);
  });

  it('refuses to decrypt with another APIv3 key (a notify for another merchant), with a CryptoError', () => {
    const otherKey = keysOf(material, { apiV3Key: 'SandboxApiV3Key00000000000000009' });
    expect(() => parseTransferBillNotify(delivered, otherKey, BASE_MS)).toThrow(CryptoError);
  });

  it('refuses a correctly signed notify of another event', () => {
    const body = JSON.stringify({ ...JSON.parse(delivered.body), event_type: 'TRANSACTION.SUCCESS' });
    const timestamp = String(Math.floor(BASE_MS / 1000));
    const nonce = 'n0nce0000000000000000000000000009';
    const signature = rsaSha256Sign(`${timestamp}\n${nonce}\n${body}\n`, material.wechat.privateKeyPem);
    const headers = { 'wechatpay-timestamp': timestamp, 'wechatpay-nonce': nonce, 'wechatpay-signature': signature, 'wechatpay-serial': material.wechat.publicKeyId };

    expect(() => parseTransferBillNotify({ headers, body }, keysOf(material), BASE_MS)).toThrow(InputError);
  });
});
