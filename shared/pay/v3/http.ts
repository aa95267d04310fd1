/**
 * The APIv3 transport over the project's one HTTP layer (got, loaded on the first call): every
 * request signed `WECHATPAY2-SHA256-RSA2048` with the merchant API key, the body serialised once
 * by the caller and sent as exactly the signed string, every answer verified with WeChat Pay's
 * key named in `Wechatpay-Serial`. No retries in here: whether a repeat is safe is the claim's
 * decision (shared/pay/v3/policy.ts).
 */
import https from 'node:https';
import { lazyGot } from '../../wechat/http';
import { createNonce, unixSeconds } from '../../signing/nonce';
import { payV3Authorization, verifyPayV3Signature } from '../../signing/pay-v3';
import { PayV3ApiError, PayV3UnknownOutcomeError, type PayV3Endpoint } from './errors';
import type { PayV3Keys } from './keys';

/** Where and as whom the calls are made. */
export interface PayV3HttpOptions {
  /** https://api.mch.weixin.qq.com, or a sandbox. */
  baseUrl: string;
  keys: PayV3Keys;
  /** Whole-request timeout (default 5000). A timeout is "outcome unknown", never "failed". */
  timeoutMs?: number;
  /** Extra CA for the Pay server (the local sandbox); unset in production (system CAs). */
  caPem?: string;
  /** The clock requests are stamped with and answers are checked against (default Date.now). */
  now?: () => number;
  /** The request nonce (default 32 crypto-random characters). */
  nonce?: () => string;
}

/** One call: the body is the exact JSON text to sign and send ('' for GET and a body-less POST). */
export interface PayV3Call {
  endpoint: PayV3Endpoint;
  method: 'GET' | 'POST';
  /** Path (and query) below the base URL, starting with `/v3/`. */
  path: string;
  body: string;
  /** Wechatpay-Serial: the WeChat Pay key a sensitive field was encrypted for (default: the configured encryption key). */
  wechatpaySerial?: string;
}

/** A verified 2xx answer. */
export interface PayV3Answer {
  status: number;
  json: Record<string, unknown>;
  requestId: string | undefined;
}

/** The transport. */
export interface PayV3Http {
  /** Loads got, so a broken set-up shows before a claim is marked as sending. */
  prepare(): Promise<void>;
  /** One request; a verified 2xx resolves, a WeChat error rejects with PayV3ApiError, anything else with PayV3UnknownOutcomeError. */
  send(call: PayV3Call): Promise<PayV3Answer>;
  /** Closes kept-alive sockets (scripts and tests; a function instance keeps them). */
  close(): void;
}

const SIGNATURE_HEADERS = ['wechatpay-timestamp', 'wechatpay-nonce', 'wechatpay-signature', 'wechatpay-serial'] as const;

/** The APIv3 transport for one merchant. */
export function createPayV3Http(options: PayV3HttpOptions): PayV3Http {
  const { keys } = options;
  const now = options.now ?? Date.now;
  const nonce = options.nonce ?? (() => createNonce(32));
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  // Keep-alive: a claim makes a create, then queries; the TLS handshake is the slow part.
  const agent = new https.Agent({ keepAlive: true, maxSockets: 16, ...(options.caPem === undefined ? {} : { ca: normalizePem(options.caPem) }) });
  const client = lazyGot({
    baseUrl,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    extend: { agent: { https: agent } },
  });

  async function send(call: PayV3Call): Promise<PayV3Answer> {
    const { endpoint, method, path, body } = call;
    if (!path.startsWith('/v3/')) throw new TypeError('an APIv3 path starts with /v3/');
    if (method === 'GET' && body !== '') throw new TypeError('a GET has no body');
    // The URL line of the signature is the path and query exactly as the request line carries them.
    const target = new URL(`${baseUrl}${path}`);
    const authorization = payV3Authorization({
      method,
      url: `${target.pathname}${target.search}`,
      timestamp: unixSeconds(now()),
      nonce: nonce(),
      body,
      mchId: keys.mchId,
      serialNo: keys.merchantSerialNo,
      privateKey: keys.merchantPrivateKey,
    });
    let status: number;
    let rawBody: Buffer;
    let headers: Record<string, string | string[] | undefined>;
    try {
      const got = await client();
      const response = await got(path.slice(1), {
        method,
        responseType: 'buffer',
        headers: {
          authorization,
          accept: 'application/json',
          // Always named: WeChat signs the answer with the key the request names (reference §4.4 migration).
          'wechatpay-serial': call.wechatpaySerial ?? keys.encryptionKey.serial,
          ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
        },
        ...(method === 'POST' ? { body } : {}),
      });
      status = response.statusCode;
      rawBody = response.body;
      headers = response.headers;
    } catch (error) {
      // got's errors carry the system code: ETIMEDOUT, ECONNRESET (dropped), EPROTO (TLS)…
      const code = (error as { code?: unknown }).code;
      throw new PayV3UnknownOutcomeError(endpoint, typeof code === 'string' ? code : 'request failed', { cause: plainError(error) });
    }
    const requestId = headerValue(headers, 'request-id');
    const signed = SIGNATURE_HEADERS.some((name) => headerValue(headers, name) !== undefined);
    const success = status >= 200 && status < 300;
    // WeChat signs every answer to an authenticated request; an unsigned 2xx is forged or damaged
    // (签名验证: 没有携带签名的成功应答，应认为是伪造或被篡改的应答), and a bad signature on any answer
    // means nothing in it can be believed.
    if (success || signed) {
      const verification = verifyPayV3Signature({
        timestamp: headerValue(headers, 'wechatpay-timestamp'),
        nonce: headerValue(headers, 'wechatpay-nonce'),
        signature: headerValue(headers, 'wechatpay-signature'),
        serial: headerValue(headers, 'wechatpay-serial'),
        body: rawBody,
      }, { publicKeys: keys.verifyingKeys, nowMs: now() });
      if (!verification.ok) throw new PayV3UnknownOutcomeError(endpoint, `answer signature not verified: ${verification.reason}`, { status });
    }
    const json = parseObject(rawBody);
    if (success) {
      if (json === undefined) throw new PayV3UnknownOutcomeError(endpoint, 'answer is not a JSON object', { status });
      return { status, json, requestId };
    }
    if (json === undefined || typeof json.code !== 'string' || json.code === '') {
      throw new PayV3UnknownOutcomeError(endpoint, `HTTP ${status} without WeChat's error body`, { status });
    }
    throw new PayV3ApiError(endpoint, {
      status,
      errCode: json.code,
      errMessage: typeof json.message === 'string' ? json.message : '',
      detail: json.detail,
      verified: signed,
      requestId,
    });
  }

  return {
    async prepare() {
      await client();
    },
    send,
    close() {
      agent.destroy();
    },
  };
}

function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined || text === '' ? undefined : text;
}

function parseObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** got errors hold the request options (the Authorization header among them): keep only name and message. */
function plainError(error: unknown): Error {
  const plain = new Error(error instanceof Error ? error.message : 'request failed');
  plain.name = error instanceof Error ? error.name : 'Error';
  return plain;
}

function normalizePem(value: string): string {
  return value.includes('\\n') ? value.replaceAll('\\n', '\n') : value;
}
