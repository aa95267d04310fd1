/**
 * Mutual TLS in front of the Pay API: the handshake itself refuses a missing or untrusted client
 * certificate; a trusted certificate of another merchant reaches the API and gets CA_ERROR.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureTestCertificates, type TestCertificates } from '../../../scripts/local/certs';
import {
  MCH_ID, OTHER_API_KEY, SENDREDPACK_PATH, callPay, cashFields, control, p12Of, postRaw, signed, startTestPaySandbox, testCertificates, toXml,
  type ClientCert, type TestPaySandbox,
} from './pay-client';

let certs: { main: TestCertificates; other: TestCertificates };
let strangerDir: string;
let stranger: TestCertificates;
let test: TestPaySandbox;

beforeAll(async () => {
  certs = await testCertificates();
  strangerDir = await mkdtemp(path.join(os.tmpdir(), 'paysandbox-stranger-ca-'));
  // Same mch_id, but issued by a CA the sandbox does not trust.
  stranger = await ensureTestCertificates(strangerDir, { mchId: MCH_ID });
  test = await startTestPaySandbox(certs.main);
});
afterAll(async () => {
  await test.close();
  await rm(strangerDir, { recursive: true, force: true });
});
beforeEach(() => {
  test.sandbox.control.reset();
});

function send(cert: ClientCert, billno: string): Promise<{ status: number; text: string }> {
  return postRaw(test.sandbox.url, SENDREDPACK_PATH, toXml(signed(cashFields(billno))), cert, test.caPem);
}

describe('client certificate', () => {
  it.each([
    { case: 'the merchant p12 with passphrase mch_id', cert: (): ClientCert => p12Of(certs.main) },
    { case: 'the merchant PEM pair', cert: (): ClientCert => ({ cert: certs.main.merchantCertPem, key: certs.main.merchantKeyPem }) },
  ])('accepts $case', async ({ cert }) => {
    const reply = await callPay(test, SENDREDPACK_PATH, cashFields('TLS0000000001'), cert());

    expect(reply).toMatchObject({ return_code: 'SUCCESS', result_code: 'SUCCESS', mch_billno: 'TLS0000000001' });
  });

  it.each([
    { case: 'no certificate', cert: (): ClientCert => ({}) },
    { case: 'a certificate from another CA', cert: (): ClientCert => p12Of(stranger) },
  ])('refuses the handshake with $case, and nothing is paid', async ({ cert }) => {
    await expect(send(cert(), 'TLS0000000002')).rejects.toThrow(/certificate|socket hang up|ECONNRESET|alert/i);

    expect(test.sandbox.control.ledger()).toEqual([]);
    expect(test.sandbox.control.stats()).toEqual({ calls: {}, replies: {}, tlsHandshakeFailures: 1 });
  });

  it('answers CA_ERROR when the certificate belongs to another merchant than mch_id', async () => {
    const reply = await callPay(test, SENDREDPACK_PATH, cashFields('TLS0000000003'), p12Of(certs.other, '1900000110'));

    expect(reply).toMatchObject({ return_code: 'SUCCESS', result_code: 'FAIL', err_code: 'CA_ERROR', mch_billno: 'TLS0000000003', mch_id: MCH_ID });
    expect((await control(test, 'GET', 'ledger')).body).toEqual({ packets: [] });
  });

  it('checks the certificate before the signature: the other merchant signing with its own key still gets CA_ERROR', async () => {
    const fields = cashFields('TLS0000000004');
    const reply = await callPay(test, SENDREDPACK_PATH, fields, p12Of(certs.other, '1900000110'), { apiKey: OTHER_API_KEY });

    expect(reply.err_code).toBe('CA_ERROR');
  });
});
