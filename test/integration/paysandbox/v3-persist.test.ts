/**
 * The APIv3 side survives a restart of the Pay sandbox (its own snapshot beside `pay.json`): the
 * bills, their packages, the 运营账户 balance and notifies still waiting for a retry are all there,
 * so what the product's database refers to still exists upstream.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startPaySandbox } from '../../../scripts/local/paysandbox';
import { sandboxOptions } from './pay-client';
import {
  MCH_ID, MP_APPID, MP_OPENID, control, create, query, startNotifyReceiver, v3Material, v3Options, type NotifyReceiver, type TestV3Sandbox,
  type V3Material,
} from './v3-support';

let material: V3Material;
let dir: string;
let receiver: NotifyReceiver;

beforeAll(async () => {
  material = await v3Material();
  dir = await mkdtemp(path.join(os.tmpdir(), 'paysandbox-v3-persist-'));
  receiver = await startNotifyReceiver();
});
afterAll(async () => {
  await receiver.close();
  await rm(dir, { recursive: true, force: true });
});

/** A sandbox on the snapshot file, with the control API reachable the way the helpers expect. */
async function start(): Promise<TestV3Sandbox> {
  const sandbox = await startPaySandbox({ ...sandboxOptions(material.certs.main), v3: v3Options(material, { notifyUrl: receiver.url }) }, { file: path.join(dir, 'pay.json') });
  const server = http.createServer((req, res) => {
    void sandbox.handleControl(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    sandbox,
    transfers: sandbox.transfers!,
    controlUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    caPem: material.certs.main.caPem,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await sandbox.close();
    },
  };
}

it('keeps bills, packages, balances and pending notify retries across a restart', async () => {
  const first = await start();
  const waiting = await create(first, material, 'KEEP0001');
  const paid = await create(first, material, 'KEEP0002');
  receiver.answers = [500];
  await control(first, 'POST', 'client/request-merchant-transfer', { appId: MP_APPID, mchId: MCH_ID, package: paid.json.package_info, openid: MP_OPENID, action: 'confirm' });
  await control(first, 'POST', 'transfers/notifies/flush');
  await first.close();

  const second = await start();
  try {
    expect((await readdir(dir)).sort()).toEqual(['pay-v3.json', 'pay.json']);
    expect((await query(second, material, 'KEEP0001')).json.state).toBe('WAIT_USER_CONFIRM');
    expect(second.transfers.merchants().find((merchant) => merchant.mchId === MCH_ID)?.balanceFen).toBe(1_000_000 - 200);
    const shown = await control(second, 'POST', 'client/request-merchant-transfer', { appId: MP_APPID, mchId: MCH_ID, package: waiting.json.package_info, openid: MP_OPENID, action: 'confirm' });
    await control(second, 'POST', 'clock', { advanceMs: 15_000 });
    const notifies = (await control(second, 'POST', 'transfers/notifies/flush')).body.notifies;

    expect(shown.body).toEqual({ errMsg: 'requestMerchantTransfer:ok' });
    expect(notifies.find((notify: { outBillNo: string }) => notify.outBillNo === 'KEEP0002')).toMatchObject({
      delivered: true, attempts: [expect.objectContaining({ status: 500 }), expect.objectContaining({ status: 200 })],
    });
    expect(notifies.find((notify: { outBillNo: string }) => notify.outBillNo === 'KEEP0001')).toMatchObject({ delivered: true });
  } finally {
    await second.close();
  }
});
