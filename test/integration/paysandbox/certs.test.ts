/** ensureTestCertificates: what the openssl CLI produces, that Node's tls loads it, and that files are reused. */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { ensureTestCertificates, type TestCertificates } from '../../../scripts/local/certs';

const MCH_ID = '1900000109';
let dir: string;
let certs: TestCertificates;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'paysandbox-certs-'));
  certs = await ensureTestCertificates(dir, { mchId: MCH_ID });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ensureTestCertificates', () => {
  it('issues a server certificate for IP 127.0.0.1 and a merchant client certificate with CN = mch_id, both signed by the CA', () => {
    const ca = new X509Certificate(certs.caPem);
    const server = new X509Certificate(certs.serverCertPem);
    const merchant = new X509Certificate(certs.merchantCertPem);

    expect(ca.ca).toBe(true);
    expect(server.subjectAltName).toBe('IP Address:127.0.0.1');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(merchant.subject).toContain(`CN=${MCH_ID}`);
    expect(merchant.verify(ca.publicKey)).toBe(true);
    expect(merchant.checkPrivateKey(createPrivateKey(certs.merchantKeyPem))).toBe(true);
  });

  it('writes a p12 that Node 20 tls loads with the passphrase mch_id, without the legacy provider', () => {
    const pfx = Buffer.from(certs.merchantP12Base64, 'base64');

    expect(() => tls.createSecureContext({ pfx, passphrase: MCH_ID })).not.toThrow();
    expect(() => tls.createSecureContext({ pfx, passphrase: 'wrong' })).toThrow(/mac verify failure|bad decrypt/i);
  });

  it('reuses the files it finds instead of making a new CA', async () => {
    const again = await ensureTestCertificates(dir, { mchId: MCH_ID });

    expect(again).toEqual(certs);
  });

  it('issues a second merchant from the same CA and regenerates a missing leaf only', async () => {
    await rm(path.join(dir, 'server.pem'));
    const other = await ensureTestCertificates(dir, { mchId: '1900000110' });

    expect(other.caPem).toBe(certs.caPem);
    expect(other.serverCertPem).not.toBe(certs.serverCertPem);
    expect(new X509Certificate(other.merchantCertPem).subject).toContain('CN=1900000110');
    expect((await readdir(dir)).sort()).toEqual([
      'ca.key', 'ca.pem', 'merchant-1900000109.key', 'merchant-1900000109.p12', 'merchant-1900000109.pem',
      'merchant-1900000110.key', 'merchant-1900000110.p12', 'merchant-1900000110.pem', 'server.key', 'server.pem',
    ]);
  });

  it('gives concurrent callers on an empty folder one CA (the folder lock)', async () => {
    const fresh = await mkdtemp(path.join(os.tmpdir(), 'paysandbox-certs-race-'));
    try {
      const results = await Promise.all([1, 2, 3].map(() => ensureTestCertificates(fresh, { mchId: MCH_ID })));

      expect(new Set(results.map((result) => result.caPem)).size).toBe(1);
      expect(new Set(results.map((result) => result.merchantP12Base64)).size).toBe(1);
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  });

  it('refuses an mch_id that cannot be a file name or subject', async () => {
    await expect(ensureTestCertificates(dir, { mchId: '../evil' })).rejects.toThrow(/mchId must match/);
  });
});
