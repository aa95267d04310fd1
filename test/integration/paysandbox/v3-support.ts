/**
 * A raw APIv3 caller for the sandbox tests: requests signed here with node:crypto (not with the
 * product's shared/signing), answers checked here, and a notify receiver — so the sandbox is
 * tested on its own terms and the product's client is tested against it separately
 * (test/integration/pay-v3/).
 */
import { constants, createPrivateKey, createPublicKey, createDecipheriv, publicEncrypt, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ensurePayV3TestKeys, type PayV3TestKeys, type TestCertificates } from '../../../scripts/local/certs';
import { startPaySandbox, type PaySandbox, type PayV3SandboxControl, type PayV3SandboxOptions } from '../../../scripts/local/paysandbox';
import { BASE_MS, INITIAL_BALANCE_FEN, MCH_ID, MP_APPID, MP_OPENID, OA_APPID, OTHER_MCH_ID, sandboxOptions, testCertificates } from './pay-client';

export { BASE_MS, MCH_ID, MP_APPID, MP_OPENID, OA_APPID, OTHER_MCH_ID };

export const API_V3_KEY = 'SandboxApiV3Key00000000000000001';
export const OTHER_API_V3_KEY = 'SandboxApiV3Key00000000000000002';
export const BILLS = '/v3/fund-app/mch-transfer/transfer-bills';
export const BASE_SECONDS = Math.floor(BASE_MS / 1000);
// The folder pay-client.ts uses: its CA signs the platform certificate, its lock lets parallel workers share it.
const CERT_DIR_OF_TESTS = path.join(os.tmpdir(), 'wx-paysandbox-test-certs');

/** Everything a v3 test needs: both merchants' certificates and WeChat Pay's keys. */
export interface V3Material {
  certs: { main: TestCertificates; other: TestCertificates };
  wechat: PayV3TestKeys;
  merchantKey: KeyObject;
  merchantSerial: string;
  otherKey: KeyObject;
  otherSerial: string;
  wechatPublic: KeyObject;
  platformPublic: KeyObject;
  platformSerial: string;
}

export async function v3Material(): Promise<V3Material> {
  const certs = await testCertificates();
  const wechat = await ensurePayV3TestKeys(CERT_DIR_OF_TESTS);
  const platform = new X509Certificate(wechat.platformCertPem);
  return {
    certs,
    wechat,
    merchantKey: createPrivateKey(certs.main.merchantKeyPem),
    merchantSerial: new X509Certificate(certs.main.merchantCertPem).serialNumber,
    otherKey: createPrivateKey(certs.other.merchantKeyPem),
    otherSerial: new X509Certificate(certs.other.merchantCertPem).serialNumber,
    wechatPublic: createPublicKey(wechat.publicKeyPem),
    platformPublic: platform.publicKey,
    platformSerial: platform.serialNumber,
  };
}

/** v3 options: both merchants, WeChat's public key and platform certificate, no background loop (tests flush). */
export function v3Options(material: V3Material, overrides: Partial<PayV3SandboxOptions> = {}): PayV3SandboxOptions {
  return {
    merchants: [
      { mchId: MCH_ID, apiV3Key: API_V3_KEY, merchantCertPem: material.certs.main.merchantCertPem, balanceFen: INITIAL_BALANCE_FEN },
      { mchId: OTHER_MCH_ID, apiV3Key: OTHER_API_V3_KEY, merchantCertPem: material.certs.other.merchantCertPem, balanceFen: INITIAL_BALANCE_FEN },
    ],
    wechatPay: {
      publicKeyId: material.wechat.publicKeyId,
      privateKeyPem: material.wechat.privateKeyPem,
      platformCertPem: material.wechat.platformCertPem,
      platformKeyPem: material.wechat.platformKeyPem,
    },
    tickMs: 0,
    ...overrides,
  };
}

/** A sandbox with v3, and a plain-HTTP server mounting its control API like the stack does. */
export interface TestV3Sandbox {
  sandbox: PaySandbox;
  transfers: PayV3SandboxControl;
  controlUrl: string;
  caPem: string;
  close(): Promise<void>;
}

export async function startV3Sandbox(material: V3Material, overrides: Partial<PayV3SandboxOptions> = {}): Promise<TestV3Sandbox> {
  const sandbox = await startPaySandbox({ ...sandboxOptions(material.certs.main), v3: v3Options(material, overrides) });
  const controlServer = http.createServer((req, res) => {
    void sandbox.handleControl(req, res);
  });
  await new Promise<void>((resolve) => controlServer.listen(0, '127.0.0.1', () => resolve()));
  const { port } = controlServer.address() as AddressInfo;
  return {
    sandbox,
    transfers: sandbox.transfers!,
    controlUrl: `http://127.0.0.1:${port}`,
    caPem: material.certs.main.caPem,
    async close() {
      controlServer.closeAllConnections();
      await new Promise<void>((resolve) => controlServer.close(() => resolve()));
      await sandbox.close();
    },
  };
}

/** How a raw request is signed; every part can be spoiled on purpose. */
export interface SignAs {
  mchId?: string;
  serial?: string;
  key?: KeyObject;
  timestamp?: number;
  nonce?: string;
  /** Sign this URL line instead of the one sent. */
  signedUrl?: string;
  /** Sign this body instead of the one sent. */
  signedBody?: string;
  /** Sign exactly this string instead of the five lines. */
  signedMessage?: string;
  /** Replace the whole Authorization header (null: none). */
  authorization?: string | null;
  wechatpaySerial?: string | null;
}

export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any;
}

/** Signs (here, with node:crypto) and sends one APIv3 request to the sandbox. */
export function callV3(test: TestV3Sandbox, material: V3Material, method: 'GET' | 'POST', path: string, body = '', as: SignAs = {}): Promise<RawAnswer> {
  const timestamp = String(as.timestamp ?? BASE_SECONDS);
  const nonce = as.nonce ?? 'n0nce0000000000000000000000000001';
  const message = as.signedMessage ?? `${method}\n${as.signedUrl ?? path}\n${timestamp}\n${nonce}\n${as.signedBody ?? body}\n`;
  const signature = sign('sha256', Buffer.from(message, 'utf8'), as.key ?? material.merchantKey).toString('base64');
  const authorization = as.authorization === undefined
    ? `WECHATPAY2-SHA256-RSA2048 mchid="${as.mchId ?? MCH_ID}",nonce_str="${nonce}",signature="${signature}",timestamp="${timestamp}",serial_no="${as.serial ?? material.merchantSerial}"`
    : as.authorization;
  const headers: Record<string, string | number> = {
    accept: 'application/json',
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...(authorization === null ? {} : { authorization }),
  };
  const wechatpaySerial = as.wechatpaySerial === undefined ? material.wechat.publicKeyId : as.wechatpaySerial;
  if (wechatpaySerial !== null) headers['wechatpay-serial'] = wechatpaySerial;
  return new Promise((resolve, reject) => {
    const request = https.request(`${test.sandbox.url}${path}`, { method, ca: test.caPem, agent: false, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: response.statusCode ?? 0, headers: response.headers, text, json });
      });
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** Whether an answer (or notify) carries a valid signature by `publicKey` over `timestamp\nnonce\nbody\n`. */
export function signedBy(headers: http.IncomingHttpHeaders, text: string, publicKey: KeyObject): boolean {
  const { 'wechatpay-timestamp': timestamp, 'wechatpay-nonce': nonce, 'wechatpay-signature': signature } = headers;
  if (typeof timestamp !== 'string' || typeof nonce !== 'string' || typeof signature !== 'string') return false;
  return verify('sha256', Buffer.from(`${timestamp}\n${nonce}\n${text}\n`, 'utf8'), publicKey, Buffer.from(signature, 'base64'));
}

/** RSA-OAEP SHA-1 for WeChat's key, as a merchant encrypts user_name. */
export function encryptName(name: string, publicKey: KeyObject): string {
  return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from(name, 'utf8')).toString('base64');
}

/** AES-256-GCM decryption of a notify resource, written here. */
export function decryptResource(apiV3Key: string, resource: { ciphertext: string; nonce: string; associated_data: string }): any {
  const data = Buffer.from(resource.ciphertext, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(apiV3Key, 'utf8'), Buffer.from(resource.nonce, 'utf8'));
  decipher.setAAD(Buffer.from(resource.associated_data, 'utf8'));
  decipher.setAuthTag(data.subarray(data.length - 16));
  return JSON.parse(Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]).toString('utf8'));
}

/** A complete, valid scene-1000 create body (the reference §5 V3 example, with the test's appid and openid). */
export function createBody(outBillNo: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    appid: MP_APPID,
    out_bill_no: outBillNo,
    transfer_scene_id: '1000',
    openid: MP_OPENID,
    transfer_amount: 100,
    transfer_remark: '新会员有礼',
    notify_url: 'https://merchant.example.com/pay/notify',
    user_recv_perception: '现金奖励',
    transfer_scene_report_infos: [{ info_type: '活动名称', info_content: '新会员有礼' }, { info_type: '奖励说明', info_content: '注册会员抽奖一等奖' }],
    ...overrides,
  };
}

/** Creates a bill and returns the answer. */
export function create(test: TestV3Sandbox, material: V3Material, outBillNo: string, overrides: Record<string, unknown> = {}, as: SignAs = {}): Promise<RawAnswer> {
  return callV3(test, material, 'POST', BILLS, JSON.stringify(createBody(outBillNo, overrides)), as);
}

export function query(test: TestV3Sandbox, material: V3Material, outBillNo: string): Promise<RawAnswer> {
  return callV3(test, material, 'GET', `${BILLS}/out-bill-no/${outBillNo}`);
}

export function cancel(test: TestV3Sandbox, material: V3Material, outBillNo: string, body = ''): Promise<RawAnswer> {
  return callV3(test, material, 'POST', `${BILLS}/out-bill-no/${outBillNo}/cancel`, body);
}

/** The control API over HTTP. */
export async function control<T = any>(test: TestV3Sandbox, method: 'GET' | 'POST' | 'DELETE', op: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${test.controlUrl}/__sandbox/pay/${op}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

/** A notify receiver: records every request and answers with the next queued status (default 200). */
export interface NotifyReceiver {
  url: string;
  received: Array<{ headers: http.IncomingHttpHeaders; body: string }>;
  /** Statuses for the next requests, in order (0: hang without answering). */
  answers: number[];
  close(): Promise<void>;
}

export async function startNotifyReceiver(): Promise<NotifyReceiver> {
  const receiver: NotifyReceiver = { url: '', received: [], answers: [], close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      receiver.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const status = receiver.answers.shift() ?? 200;
      // 0: never answer (a receiver that hangs past WeChat's timeout).
      if (status === 0) return;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status < 300 ? '' : '{"code":"FAIL","message":"busy"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/pay/notify`;
  receiver.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return receiver;
}
