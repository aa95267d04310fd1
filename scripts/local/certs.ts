/**
 * Test certificates for the local WeChat Pay sandbox, made with the `openssl` CLI: a test CA, a
 * server certificate for 127.0.0.1, and a merchant API certificate signed by the CA (CN = mch_id)
 * with its p12, shaped like the `apiclient_cert.p12` WeChat Pay issues (passphrase = mch_id).
 * Files are reused when present, so `npm start` and repeated test runs keep one CA.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** PEM and p12 material for both ends of the Pay sandbox's mutual TLS. */
export interface TestCertificates {
  caPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  merchantCertPem: string;
  merchantKeyPem: string;
  /** The merchant certificate and key as PKCS#12, base64; passphrase = mch_id (as WeChat issues it). */
  merchantP12Base64: string;
}

/** `openssl` exited non-zero or could not be started. */
export class OpensslError extends Error {
  constructor(args: readonly string[], detail: string) {
    super(`openssl ${args[0] ?? ''} failed: ${detail}`);
    this.name = 'OpensslError';
  }
}

// Ten years: long enough that a reused local CA never expires under a developer.
const VALIDITY_DAYS = '3650';
// RSA 2048 like the merchant certificates WeChat Pay issues.
const KEY_ALGORITHM = 'rsa:2048';
// Another process (a parallel jest worker, npm start) may be generating into the same folder.
const LOCK_WAIT_LIMIT_MS = 60_000;
const LOCK_POLL_MS = 50;
const MCH_ID_PATTERN = /^[0-9A-Za-z_-]{1,32}$/;

/**
 * Returns the test CA, the 127.0.0.1 server certificate and the merchant certificate for
 * `mchId` from `dir`, generating whatever is missing (a new CA re-issues everything it signs).
 */
export async function ensureTestCertificates(dir: string, options: { mchId: string }): Promise<TestCertificates> {
  const { mchId } = options;
  // The mch_id becomes a file name and a certificate subject: keep it to what a mch_id looks like.
  if (!MCH_ID_PATTERN.test(mchId)) throw new Error(`mchId must match ${MCH_ID_PATTERN}, got ${JSON.stringify(mchId)}`);
  await mkdir(dir, { recursive: true });
  const file = (name: string): string => path.join(dir, name);
  const names = {
    caCert: file('ca.pem'),
    caKey: file('ca.key'),
    serverCert: file('server.pem'),
    serverKey: file('server.key'),
    merchantCert: file(`merchant-${mchId}.pem`),
    merchantKey: file(`merchant-${mchId}.key`),
    merchantP12: file(`merchant-${mchId}.p12`),
  };
  return withFolderLock(file('.certs.lock'), async () => {
    const caIsNew = !(await allExist([names.caCert, names.caKey]));
    if (caIsNew) {
      await openssl(dir, [
        'req', '-x509', '-newkey', KEY_ALGORITHM, '-nodes', '-keyout', names.caKey, '-out', names.caCert,
        '-days', VALIDITY_DAYS, '-subj', '/O=Local Sandbox/CN=Local Sandbox Test CA',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      ]);
    }
    if (caIsNew || !(await allExist([names.serverCert, names.serverKey]))) {
      await issueLeaf(dir, names, names.serverCert, names.serverKey, '/CN=127.0.0.1', [
        'subjectAltName=IP:127.0.0.1', 'extendedKeyUsage=serverAuth', 'keyUsage=critical,digitalSignature,keyEncipherment',
      ]);
    }
    if (caIsNew || !(await allExist([names.merchantCert, names.merchantKey, names.merchantP12]))) {
      await issueLeaf(dir, names, names.merchantCert, names.merchantKey, `/O=Tenpay.com/OU=Local Sandbox/CN=${mchId}`, [
        'extendedKeyUsage=clientAuth', 'keyUsage=critical,digitalSignature,keyEncipherment',
      ]);
      const p12Temp = `${names.merchantP12}.${randomBytes(4).toString('hex')}.tmp`;
      // AES-256 + SHA-256 explicitly: OpenSSL 1.1's default (RC2/3DES) needs Node's legacy provider to load.
      // The passphrase goes through the environment so it is not on the process list.
      await openssl(dir, [
        'pkcs12', '-export', '-in', names.merchantCert, '-inkey', names.merchantKey, '-out', p12Temp, '-name', mchId,
        '-keypbe', 'AES-256-CBC', '-certpbe', 'AES-256-CBC', '-macalg', 'sha256', '-passout', 'env:PAY_SANDBOX_P12_PASS',
      ], { PAY_SANDBOX_P12_PASS: mchId });
      await rename(p12Temp, names.merchantP12);
    }
    const [caPem, serverCertPem, serverKeyPem, merchantCertPem, merchantKeyPem, p12] = await Promise.all([
      readFile(names.caCert, 'utf8'), readFile(names.serverCert, 'utf8'), readFile(names.serverKey, 'utf8'),
      readFile(names.merchantCert, 'utf8'), readFile(names.merchantKey, 'utf8'), readFile(names.merchantP12),
    ]);
    return { caPem, serverCertPem, serverKeyPem, merchantCertPem, merchantKeyPem, merchantP12Base64: p12.toString('base64') };
  });
}

/** WeChat Pay's side of APIv3 in the sandbox: the 微信支付公钥 it signs with, and a platform certificate (the older mode). */
export interface PayV3TestKeys {
  /** `PUB_KEY_ID_` + 28 digits, like the id 商户平台 shows next to the public key. */
  publicKeyId: string;
  publicKeyPem: string;
  privateKeyPem: string;
  /** A platform certificate signed by the test CA, and its key; its serial is what `Wechatpay-Serial` names in that mode. */
  platformCertPem: string;
  platformKeyPem: string;
}

/**
 * Returns WeChat Pay's APIv3 keys for the sandbox from `dir` (the folder of
 * {@link ensureTestCertificates}, whose CA signs the platform certificate), generating whatever
 * is missing. The merchant side needs nothing new: APIv3 signs with the same merchant API
 * certificate the v2 calls present over TLS.
 */
export async function ensurePayV3TestKeys(dir: string): Promise<PayV3TestKeys> {
  await mkdir(dir, { recursive: true });
  const file = (name: string): string => path.join(dir, name);
  const names = {
    caCert: file('ca.pem'),
    caKey: file('ca.key'),
    publicKeyId: file('wechatpay-public-key-id.txt'),
    publicKey: file('wechatpay-public-key.pem'),
    privateKey: file('wechatpay-private-key.pem'),
    platformCert: file('wechatpay-platform.pem'),
    platformKey: file('wechatpay-platform.key'),
  };
  return withFolderLock(file('.certs.lock'), async () => {
    if (!(await allExist([names.caCert, names.caKey]))) throw new Error(`no test CA in ${dir}: call ensureTestCertificates first`);
    if (!(await allExist([names.publicKeyId, names.publicKey, names.privateKey]))) {
      const suffix = `.${randomBytes(4).toString('hex')}.tmp`;
      try {
        await openssl(dir, ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', names.privateKey + suffix]);
        await openssl(dir, ['pkey', '-in', names.privateKey + suffix, '-pubout', '-out', names.publicKey + suffix]);
        const digits = Array.from(randomBytes(28), (byte) => String(byte % 10)).join('');
        await writeFile(names.publicKeyId + suffix, `PUB_KEY_ID_${digits}\n`);
        await rename(names.privateKey + suffix, names.privateKey);
        await rename(names.publicKey + suffix, names.publicKey);
        await rename(names.publicKeyId + suffix, names.publicKeyId);
      } finally {
        await Promise.all([names.privateKey, names.publicKey, names.publicKeyId].map((leftover) => rm(leftover + suffix, { force: true })));
      }
    }
    if (!(await allExist([names.platformCert, names.platformKey]))) {
      await issueLeaf(dir, names, names.platformCert, names.platformKey, '/O=Tenpay.com/OU=Local Sandbox/CN=Tenpay.com Platform Certificate', [
        'keyUsage=critical,digitalSignature,keyEncipherment',
      ]);
    }
    const [publicKeyId, publicKeyPem, privateKeyPem, platformCertPem, platformKeyPem] = await Promise.all([
      readFile(names.publicKeyId, 'utf8'), readFile(names.publicKey, 'utf8'), readFile(names.privateKey, 'utf8'),
      readFile(names.platformCert, 'utf8'), readFile(names.platformKey, 'utf8'),
    ]);
    return { publicKeyId: publicKeyId.trim(), publicKeyPem, privateKeyPem, platformCertPem, platformKeyPem };
  });
}

/** A key and a certificate signed by the CA; written under temporary names, then renamed, so no half file survives a crash. */
async function issueLeaf(
  dir: string,
  names: { caCert: string; caKey: string },
  certPath: string,
  keyPath: string,
  subject: string,
  extensions: readonly string[],
): Promise<void> {
  const suffix = `.${randomBytes(4).toString('hex')}.tmp`;
  const csrPath = `${certPath}${suffix}.csr`;
  const extPath = `${certPath}${suffix}.ext`;
  try {
    await openssl(dir, ['req', '-new', '-newkey', KEY_ALGORITHM, '-nodes', '-keyout', keyPath + suffix, '-out', csrPath, '-subj', subject]);
    await writeFile(extPath, `${extensions.join('\n')}\n`);
    await openssl(dir, [
      'x509', '-req', '-in', csrPath, '-CA', names.caCert, '-CAkey', names.caKey,
      // An explicit random serial: `-CAcreateserial` would leave a .srl file shared between runs.
      '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', VALIDITY_DAYS, '-sha256', '-extfile', extPath, '-out', certPath + suffix,
    ]);
    await rename(keyPath + suffix, keyPath);
    await rename(certPath + suffix, certPath);
  } finally {
    await Promise.all([csrPath, extPath, keyPath + suffix, certPath + suffix].map((leftover) => rm(leftover, { force: true })));
  }
}

function openssl(cwd: string, args: readonly string[], env: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      // Bounded: openssl's own messages are short, and nothing here prints key material.
      if (stderr.length < 4000) stderr += chunk;
    });
    child.once('error', (error) => reject(new OpensslError(args, error.message)));
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new OpensslError(args, `exit ${code ?? signal}: ${stderr.trim()}`));
    });
  });
}

async function allExist(paths: readonly string[]): Promise<boolean> {
  const results = await Promise.all(paths.map((candidate) => stat(candidate).then(() => true, () => false)));
  return results.every(Boolean);
}

/**
 * Runs `work` while holding an exclusive lock file, so two processes cannot both create a CA
 * and leave certificates signed by different ones. A lock older than the wait limit is stale
 * (its holder died) and is taken over.
 */
async function withFolderLock<T>(lockPath: string, work: () => Promise<T>): Promise<T> {
  const startedAtMs = Date.now();
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const lockAgeMs = await stat(lockPath).then((info) => Date.now() - info.mtimeMs, () => 0);
      if (lockAgeMs > LOCK_WAIT_LIMIT_MS) await rm(lockPath, { force: true });
      else if (Date.now() - startedAtMs > LOCK_WAIT_LIMIT_MS) throw new Error(`timed out waiting for the certificate lock ${lockPath}`);
      else await sleep(LOCK_POLL_MS);
    }
  }
  try {
    return await work();
  } finally {
    await rm(lockPath, { force: true });
  }
}
