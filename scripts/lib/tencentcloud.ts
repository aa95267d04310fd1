/**
 * A Tencent Cloud API 3.0 call (TC3-HMAC-SHA256), for the one management action the tcb CLI has
 * no command for: the cloud functions' security rules. The signature is the documented one
 * ("Signature v3", cloud.tencent.com/document/api/213/30654; its CVM example is the test's
 * golden vector) and is a pure function of its inputs, the clock included.
 */
import { createHash, createHmac } from 'node:crypto';

export interface Tc3Input {
  secretId: string;
  secretKey: string;
  /** e.g. `tcb` */
  service: string;
  /** e.g. `tcb.tencentcloudapi.com` */
  host: string;
  /** The exact JSON text sent. */
  payload: string;
  timestampSeconds: number;
  /** Sent and signed exactly as given. */
  contentType?: string;
}

const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
const hmac = (key: Buffer | string, text: string): Buffer => createHmac('sha256', key).update(text, 'utf8').digest();

/** The `Authorization` header of a POST with a JSON body, signing content-type and host. */
export function tc3Authorization(input: Tc3Input): string {
  const contentType = input.contentType ?? 'application/json; charset=utf-8';
  const date = new Date(input.timestampSeconds * 1000).toISOString().slice(0, 10);
  const canonicalRequest = ['POST', '/', '', `content-type:${contentType}\nhost:${input.host}\n`, 'content-type;host', sha256Hex(input.payload)].join('\n');
  const scope = `${date}/${input.service}/tc3_request`;
  const stringToSign = ['TC3-HMAC-SHA256', String(input.timestampSeconds), scope, sha256Hex(canonicalRequest)].join('\n');
  const signingKey = hmac(hmac(hmac(`TC3${input.secretKey}`, date), input.service), 'tc3_request');
  const signature = createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest('hex');
  return `TC3-HMAC-SHA256 Credential=${input.secretId}/${scope}, SignedHeaders=content-type;host, Signature=${signature}`;
}

export interface CloudApiCall {
  credentials: { secretId: string; secretKey: string; sessionToken?: string };
  service: string;
  action: string;
  version: string;
  region: string;
  params: Record<string, unknown>;
  /** Default `https://<service>.tencentcloudapi.com` (tests point it at a local server). */
  endpoint?: string;
  now?: () => number;
}

/** An API error answered as `{Response:{Error:{Code, Message}}}`. */
export class CloudApiError extends Error {
  readonly code: string;
  constructor(action: string, code: string, message: string) {
    super(`${action} failed: ${code} ${message}`);
    this.name = 'CloudApiError';
    this.code = code;
  }
}

/** Calls one action and answers its `Response` (without RequestId's wrapper). */
export async function callCloudApi<T extends Record<string, unknown>>(call: CloudApiCall): Promise<T> {
  const endpoint = call.endpoint ?? `https://${call.service}.tencentcloudapi.com`;
  const host = new URL(endpoint).host;
  const payload = JSON.stringify(call.params);
  const timestampSeconds = Math.floor((call.now ?? Date.now)() / 1000);
  const contentType = 'application/json; charset=utf-8';
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      authorization: tc3Authorization({ ...call.credentials, service: call.service, host, payload, timestampSeconds, contentType }),
      'content-type': contentType,
      'x-tc-action': call.action,
      'x-tc-version': call.version,
      'x-tc-region': call.region,
      'x-tc-timestamp': String(timestampSeconds),
      ...(call.credentials.sessionToken ? { 'x-tc-token': call.credentials.sessionToken } : {}),
    },
    body: payload,
  });
  const text = await response.text();
  let body: { Response?: T & { Error?: { Code?: string; Message?: string } } };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new CloudApiError(call.action, `HTTP_${response.status}`, text.slice(0, 200));
  }
  const error = body.Response?.Error;
  if (error) throw new CloudApiError(call.action, error.Code ?? 'Unknown', error.Message ?? '');
  if (!body.Response) throw new CloudApiError(call.action, `HTTP_${response.status}`, 'no Response in the answer');
  return body.Response;
}
