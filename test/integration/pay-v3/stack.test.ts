/**
 * The local stack's Pay sandbox serves APIv3 transfers on its HTTPS port next to the red-packet
 * APIs, with the keys `npm start` generates, the control API on the stack port, and notifies
 * aimed at the stack's `/pay/notify` (the payNotify route, not there yet: they are retried).
 */
import os from 'node:os';
import path from 'node:path';
import { ensurePayV3TestKeys, ensureTestCertificates } from '../../../scripts/local/certs';
import { checkPayV3Keys } from '../../../shared/pay/v3/keys';
import { buildTransferBill, createTransferBillsClient } from '../../../shared/pay/v3/transfer';
import { LOCAL_ACCOUNT, sandbox, startTestStack, type Stack } from '../../helpers/stack';
import { billRequest } from './support';

const CERTS_DIR = path.join(os.tmpdir(), 'wx-local-stack-certs');
let stack: Stack;

beforeAll(async () => {
  stack = await startTestStack({ certsDir: CERTS_DIR, payTransfers: { tickMs: 0 } });
});
afterAll(() => stack.close());

it('pays a transfer end to end on the local stack: create, the user confirms, SUCCESS, a notify to /pay/notify', async () => {
  const certs = await ensureTestCertificates(CERTS_DIR, { mchId: LOCAL_ACCOUNT.mchId });
  const wechat = await ensurePayV3TestKeys(CERTS_DIR);
  const keys = checkPayV3Keys({
    merchantKeyPem: certs.merchantKeyPem,
    merchantCertPem: certs.merchantCertPem,
    apiV3Key: LOCAL_ACCOUNT.payApiV3Key,
    publicKeyId: wechat.publicKeyId,
    publicKeyPem: wechat.publicKeyPem,
  }, LOCAL_ACCOUNT.mchId, 'local keys', Date.now());
  const client = createTransferBillsClient({ baseUrl: stack.pay.url, keys, caPem: certs.caPem });
  try {
    const created = await client.create(buildTransferBill(billRequest('STACK001', { appId: LOCAL_ACCOUNT.miniProgramAppId, openid: 'oLocalUser_000000000000001' }), keys));
    const shown = await sandbox(stack, 'POST', 'pay/client/request-merchant-transfer', {
      appId: LOCAL_ACCOUNT.miniProgramAppId, mchId: LOCAL_ACCOUNT.mchId, package: created.packageInfo, openid: 'oLocalUser_000000000000001', action: 'confirm',
    });
    const { notifies } = await sandbox(stack, 'POST', 'pay/transfers/notifies/flush');

    expect(shown).toEqual({ errMsg: 'requestMerchantTransfer:ok' });
    await expect(client.queryByOutBillNo('STACK001')).resolves.toMatchObject({ found: true, bill: { state: 'SUCCESS' } });
    expect((await sandbox(stack, 'GET', 'pay/transfers')).transfers).toEqual([
      expect.objectContaining({ outBillNo: 'STACK001', openid: 'oLocalUser_000000000000001', amountFen: 100, state: 'SUCCESS' }),
    ]);
    expect(notifies).toEqual([expect.objectContaining({ url: `${stack.url}/pay/notify`, delivered: false, attempts: [expect.objectContaining({ status: 404 })] })]);
  } finally {
    client.close();
  }
});
