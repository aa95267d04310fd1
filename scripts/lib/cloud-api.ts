import { createHash, createHmac } from 'node:crypto';

/**
 * Tencent Cloud API 3.0 calls, signed with TC3-HMAC-SHA256, for what the tcb CLI v2 cannot do:
 * reading and setting a collection's database permission (DescribeDatabaseACL /
 * ModifyDatabaseACL, tcb 2018-06-08). Only `npm run deploy` uses it, from the operator's machine.
 * @see https://cloud.tencent.com/document/api/213/30654 (signature v3)
 * @see https://cloud.tencent.com/document/api/876/34821 (DescribeDatabaseACL), …/34819 (ModifyDatabaseACL)
 */

export interface CloudApiCredentials {
  secretId: string;
  secretKey: string;
  /** TENCENTCLOUD_SESSIONTOKEN of temporary keys. */
  sessionToken?: string;
}

const CONTENT_TYPE = 'application/json; charset=utf-8';

const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
const hmac = (key: string | Buffer, text: string): Buffer => createHmac('sha256', key).update(text, 'utf8').digest();

/** The Authorization header of a POST with a JSON body (content-type and host signed), as the signature v3 doc builds it. */
export function tc3Authorization(input: { secretId: string; secretKey: string; service: string; host: string; payload: string; timestampSeconds: number }): string {
  const date = new Date(input.timestampSeconds * 1000).toISOString().slice(0, 10);
  const canonicalRequest = ['POST', '/', '', `content-type:${CONTENT_TYPE}\nhost:${input.host}\n`, 'content-type;host', sha256Hex(input.payload)].join('\n');
  const scope = `${date}/${input.service}/tc3_request`;
  const stringToSign = ['TC3-HMAC-SHA256', String(input.timestampSeconds), scope, sha256Hex(canonicalRequest)].join('\n');
  const signingKey = hmac(hmac(hmac(`TC3${input.secretKey}`, date), input.service), 'tc3_request');
  const signature = createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest('hex');
  return `TC3-HMAC-SHA256 Credential=${input.secretId}/${scope}, SignedHeaders=content-type;host, Signature=${signature}`;
}

/** A refusal from the cloud API (`Response.Error`), with its code kept. */
export class CloudApiError extends Error {
  constructor(readonly action: string, readonly code: string, message: string) {
    super(`${action} failed: ${code} ${message}`);
    this.name = 'CloudApiError';
  }
}

export interface CloudApiCall {
  service: string;
  /** Default `<service>.tencentcloudapi.com`; tests point it at a local server with `endpoint`. */
  endpoint?: string;
  action: string;
  version: string;
  body: Record<string, unknown>;
  nowMs?: number;
}

export async function callCloudApi<T>(credentials: CloudApiCredentials, call: CloudApiCall): Promise<T> {
  const endpoint = call.endpoint ?? `https://${call.service}.tencentcloudapi.com`;
  const host = new URL(endpoint).host;
  const payload = JSON.stringify(call.body);
  const timestampSeconds = Math.floor((call.nowMs ?? Date.now()) / 1000);
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      authorization: tc3Authorization({ ...credentials, service: call.service, host, payload, timestampSeconds }),
      // fetch sends Host from the URL: the value signed above.
      'content-type': CONTENT_TYPE,
      'x-tc-action': call.action,
      'x-tc-version': call.version,
      'x-tc-timestamp': String(timestampSeconds),
      ...(credentials.sessionToken ? { 'x-tc-token': credentials.sessionToken } : {}),
    },
    body: payload,
    signal: AbortSignal.timeout(15_000),
  });
  const parsed = (await response.json().catch(() => null)) as { Response?: T & { Error?: { Code?: string; Message?: string } } } | null;
  const answer = parsed?.Response;
  if (!answer) throw new CloudApiError(call.action, `HTTP${response.status}`, 'the answer is not a cloud API response');
  if (answer.Error) throw new CloudApiError(call.action, answer.Error.Code ?? 'Unknown', answer.Error.Message ?? '');
  return answer;
}

/** A collection's simple permission (简易权限) as CloudBase names it; CUSTOM means security rules. */
export type DatabaseAclTag = 'READONLY' | 'PRIVATE' | 'ADMINWRITE' | 'ADMINONLY' | 'CUSTOM';

/** The two calls deploy makes, as a port (the cloud has no local stand-in for its management API). */
export interface DatabaseAclApi {
  describe(collection: string): Promise<DatabaseAclTag | string>;
  modify(collection: string, aclTag: DatabaseAclTag): Promise<void>;
}

export function cloudDatabaseAcl(credentials: CloudApiCredentials, envId: string, endpoint?: string): DatabaseAclApi {
  const call = <T>(action: string, body: Record<string, unknown>) =>
    callCloudApi<T>(credentials, { service: 'tcb', action, version: '2018-06-08', body: { EnvId: envId, ...body }, ...(endpoint ? { endpoint } : {}) });
  return {
    describe: async (collection) => (await call<{ AclTag?: string }>('DescribeDatabaseACL', { CollectionName: collection })).AclTag ?? 'UNKNOWN',
    modify: async (collection, aclTag) => {
      await call('ModifyDatabaseACL', { CollectionName: collection, AclTag: aclTag });
    },
  };
}
