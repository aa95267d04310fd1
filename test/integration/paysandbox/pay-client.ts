/**
 * A small Pay v2 client for the sandbox tests: real HTTPS with a real client certificate (p12
 * or PEM), request XML written here and reply XML parsed with xml2js directly, so the
 * sandbox's own XML code is checked rather than reused.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseStringPromise } from 'xml2js';
import { ensureTestCertificates, type TestCertificates } from '../../../scripts/local/certs';
import {
  GETHBINFO_PATH, SENDMINIPROGRAMHB_PATH, SENDREDPACK_PATH, payV2Sign, startPaySandbox,
  type PaySandbox, type PaySandboxOptions, type PaySignType,
} from '../../../scripts/local/paysandbox';

export { GETHBINFO_PATH, SENDMINIPROGRAMHB_PATH, SENDREDPACK_PATH };

export const MCH_ID = '1900000109';
export const OTHER_MCH_ID = '1900000110';
export const API_KEY = 'SandboxApiKey0000000000000000001';
export const OTHER_API_KEY = 'SandboxApiKey0000000000000000002';
export const OA_APPID = 'wx0a00000000000oa1';
export const MP_APPID = 'wx0b00000000000mp1';
export const OA_OPENID = 'oOAuser_000000000000000001';
export const MP_OPENID = 'oMPuser_000000000000000001';
export const BASE_MS = Date.parse('2025-03-01T10:00:00+08:00');
export const INITIAL_BALANCE_FEN = 1_000_000;

// One folder for every test file: the folder lock lets parallel workers share one CA.
const CERT_DIR = path.join(os.tmpdir(), 'wx-paysandbox-test-certs');

/** A client identity: the p12 as WeChat issues it, or the PEM pair. */
export type ClientCert = { pfx: Buffer; passphrase: string } | { cert: string; key: string } | Record<string, never>;

/** The shared test CA with certificates for both merchants. */
export async function testCertificates(): Promise<{ main: TestCertificates; other: TestCertificates }> {
  const main = await ensureTestCertificates(CERT_DIR, { mchId: MCH_ID });
  const other = await ensureTestCertificates(CERT_DIR, { mchId: OTHER_MCH_ID });
  return { main, other };
}

export function p12Of(certs: TestCertificates, passphrase = MCH_ID): ClientCert {
  return { pfx: Buffer.from(certs.merchantP12Base64, 'base64'), passphrase };
}

/** Options with both merchants, a frozen clock and a rate limit no ordinary test reaches. */
export function sandboxOptions(certs: TestCertificates, overrides: Partial<PaySandboxOptions> = {}): PaySandboxOptions {
  return {
    merchants: [
      { mchId: MCH_ID, apiKey: API_KEY, balanceFen: INITIAL_BALANCE_FEN, appIds: { officialAccount: [OA_APPID], miniProgram: [MP_APPID] } },
      { mchId: OTHER_MCH_ID, apiKey: OTHER_API_KEY, balanceFen: INITIAL_BALANCE_FEN, appIds: { officialAccount: [OA_APPID], miniProgram: [] } },
    ],
    tls: { caPem: certs.caPem, certPem: certs.serverCertPem, keyPem: certs.serverKeyPem },
    rateLimitPerSecond: 10_000,
    now: () => BASE_MS,
    ...overrides,
  };
}

/** A sandbox, its CA, and a plain-HTTP server that mounts `handleControl` like the stack does. */
export interface TestPaySandbox {
  sandbox: PaySandbox;
  caPem: string;
  controlUrl: string;
  close(): Promise<void>;
}

export async function startTestPaySandbox(certs: TestCertificates, overrides: Partial<PaySandboxOptions> = {}): Promise<TestPaySandbox> {
  const sandbox = await startPaySandbox(sandboxOptions(certs, overrides));
  const controlServer = http.createServer((req, res) => {
    void sandbox.handleControl(req, res);
  });
  await new Promise<void>((resolve) => controlServer.listen(0, '127.0.0.1', () => resolve()));
  const { port } = controlServer.address() as AddressInfo;
  return {
    sandbox,
    caPem: certs.caPem,
    controlUrl: `http://127.0.0.1:${port}`,
    async close() {
      controlServer.closeAllConnections();
      await new Promise<void>((resolve) => controlServer.close(() => resolve()));
      await sandbox.close();
    },
  };
}

/** `<xml>` with every value in CDATA, as a merchant would send. */
export function toXml(fields: Record<string, string>): string {
  return `<xml>${Object.entries(fields).map(([name, value]) => `<${name}><![CDATA[${value}]]></${name}>`).join('')}</xml>`;
}

/** Fields plus their `sign` (and `sign_type` when not MD5). */
export function signed(fields: Record<string, string>, apiKey = API_KEY, signType: PaySignType = 'MD5'): Record<string, string> {
  const withType = signType === 'MD5' ? fields : { ...fields, sign_type: signType };
  return { ...withType, sign: payV2Sign(withType, apiKey, signType) };
}

/** A complete, valid sendredpack request for `billno`. */
export function cashFields(billno: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    nonce_str: 'n0nce5tr1ng0000000000000000000AB',
    mch_billno: billno,
    mch_id: MCH_ID,
    wxappid: OA_APPID,
    send_name: '天虹百货',
    re_openid: OA_OPENID,
    total_amount: '1000',
    total_num: '1',
    wishing: '感谢您参加猜灯谜活动，祝您元宵节快乐！',
    client_ip: '192.168.0.1',
    act_name: '猜灯谜抢红包活动',
    remark: '猜越多得越多，快来抢！',
    ...overrides,
  };
}

/** A complete, valid sendminiprogramhb request for `billno`. */
export function miniProgramFields(billno: string, overrides: Record<string, string> = {}): Record<string, string> {
  const { client_ip: _unused, ...rest } = cashFields(billno, { wxappid: MP_APPID, re_openid: MP_OPENID });
  return { ...rest, notify_way: 'MINI_PROGRAM_JSAPI', ...overrides };
}

export function queryFields(billno: string, overrides: Record<string, string> = {}): Record<string, string> {
  return { nonce_str: 'queryNonce0000000000000000000001', mch_billno: billno, mch_id: MCH_ID, appid: OA_APPID, bill_type: 'MCHT', ...overrides };
}

/** POSTs a raw body over mutual TLS; rejects on a TLS or socket failure. */
export function postRaw(url: string, apiPath: string, body: string, cert: ClientCert, caPem: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = https.request(`${url}${apiPath}`, {
      method: 'POST',
      ca: caPem,
      // A fresh connection per request: a pooled one would hide handshake behaviour.
      agent: false,
      headers: { 'content-type': 'text/xml; charset=utf-8', 'content-length': Buffer.byteLength(body) },
      ...cert,
    }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** Parses a Pay reply with xml2js (not the sandbox's parser): leaf values as strings. */
export async function parseReply(text: string): Promise<Record<string, any>> {
  const parsed = (await parseStringPromise(text, { explicitArray: false })) as { xml: Record<string, any> };
  return parsed.xml;
}

/** Signs `fields`, posts them, parses the reply. */
export async function callPay(
  test: TestPaySandbox,
  apiPath: string,
  fields: Record<string, string>,
  cert: ClientCert,
  options: { apiKey?: string; signType?: PaySignType } = {},
): Promise<Record<string, any>> {
  const { text, status } = await postRaw(test.sandbox.url, apiPath, toXml(signed(fields, options.apiKey, options.signType)), cert, test.caPem);
  expect(status).toBe(200);
  return parseReply(text);
}

/** The control API over HTTP. */
export async function control<T = any>(test: TestPaySandbox, method: 'GET' | 'POST' | 'DELETE', op: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${test.controlUrl}/__sandbox/pay/${op}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as T };
}
