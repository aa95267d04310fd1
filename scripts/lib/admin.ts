import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import tcb from '@cloudbase/node-sdk';
import { APPID_PATTERN } from '../../shared/config';
import { unwrapEnvelope } from '../../shared/platform';
import { createNodeSdkStore } from '../../shared/store/nodeSdk';
import type { DocumentStore } from '../../shared/store/port';
import { CredentialReader, withAccessToken } from '../../shared/credentials/reader';
import type { CredentialInfo } from '../../shared/credentials/services';
import { ROOT } from './cloudbaserc';

/**
 * What an operator script needs: the environment's database, a way to call its functions, and
 * WeChat calls with an access_token. The token comes the way every function gets it: from
 * `wx_credentials`, through the deployed getToken when missing or rejected (a laptop is not on the
 * whitelisted IP, and a second fetcher would knock out the functions' token), never from WeChat.
 */
export interface AdminContext {
  store: DocumentStore;
  officialAppId: string;
  apiBaseUrl: string;
  callFunction<T>(name: string, data: Record<string, unknown>): Promise<T>;
  /**
   * Runs `call` with the access_token of `appId` (default: the environment's official account).
   * A rejected token (40001/40014/42001) is compare-and-expired and replaced once through getToken.
   */
  withAccessToken<T>(call: (accessToken: string) => Promise<T>, appId?: string): Promise<T>;
  /** Whether the environment's account has its AppSecret in the functions' environment (WX_OA_APPSECRET). */
  environmentHasAppSecret: boolean;
  /** Where WeChat should push an account's messages: its server URL (服务器地址). */
  pushUrlOf(appId: string): string;
  describe: string;
}

export interface AdminTarget {
  /** The local stack's URL (npm start), or undefined for the deployed environment from .env. */
  localUrl?: string;
}

/** `.env`, `.env.local`, then the process environment on top: where operator scripts read settings. */
export function fileEnv(): Record<string, string | undefined> {
  const merged: Record<string, string | undefined> = {};
  for (const file of ['.env', '.env.local']) {
    const full = path.join(ROOT, file);
    if (existsSync(full)) Object.assign(merged, parseEnv(readFileSync(full, 'utf8')));
  }
  return { ...merged, ...process.env };
}

export function connectAdmin(target: AdminTarget): AdminContext {
  let app: ReturnType<typeof tcb.init>;
  let officialAppId: string;
  let apiBaseUrl: string;
  let describe: string;
  let environmentHasAppSecret: boolean;
  let pushBaseUrl: string | null;
  if (target.localUrl) {
    // Skips node-sdk's probe of metadata.tencentyun.com: the local stack is all on loopback.
    process.env.TENCENTCLOUD = 'true';
    // The local stack's values: see scripts/local/stack.ts LOCAL_ACCOUNT.
    app = tcb.init({ env: 'local-dev', secretId: 'local', secretKey: 'local', serviceUrl: `${target.localUrl}/admin` } as never);
    officialAppId = 'wx10ca1000000000a1';
    apiBaseUrl = target.localUrl;
    describe = `local stack at ${target.localUrl}`;
    environmentHasAppSecret = true;
    pushBaseUrl = target.localUrl;
  } else {
    const env = fileEnv();
    const missing = ['ENV_ID', 'WX_OA_APPID', 'TENCENTCLOUD_SECRETID', 'TENCENTCLOUD_SECRETKEY'].filter((name) => !env[name]);
    if (missing.length > 0) {
      throw new Error(`Set ${missing.join(', ')} in .env (see .env.example), or pass --local [URL] to use the local stack`);
    }
    if (!APPID_PATTERN.test(env.WX_OA_APPID!)) throw new Error('WX_OA_APPID is malformed (wx + 16 hex digits)');
    app = tcb.init({ env: env.ENV_ID!, secretId: env.TENCENTCLOUD_SECRETID!, secretKey: env.TENCENTCLOUD_SECRETKEY! });
    officialAppId = env.WX_OA_APPID!;
    apiBaseUrl = env.WX_API_BASE_URL || 'https://api.weixin.qq.com';
    describe = `CloudBase environment ${env.ENV_ID}`;
    environmentHasAppSecret = Boolean(env.WX_OA_APPSECRET);
    // The HTTP access service's domain is the operator's (a custom domain in production).
    pushBaseUrl = null;
  }
  const store = createNodeSdkStore(app.database());
  const callFunction = async <T>(name: string, data: Record<string, unknown>): Promise<T> => {
    const response = (await app.callFunction({ name, data })) as { result?: unknown; code?: string; message?: string };
    if (response.code) throw new Error(`calling ${name} failed: ${response.code} ${response.message ?? ''}`);
    return unwrapEnvelope<T>(name, response.result);
  };
  const readers = new Map<string, CredentialReader>();
  const tokensOf = (appId: string): CredentialReader => {
    let reader = readers.get(appId);
    if (!reader) {
      reader = new CredentialReader({
        store,
        appId,
        kind: 'access_token',
        askOwner: (request) => callFunction<CredentialInfo>('getToken', { action: 'get', appid: appId, ...request }),
      });
      readers.set(appId, reader);
    }
    return reader;
  };
  return {
    store,
    officialAppId,
    apiBaseUrl,
    describe,
    callFunction,
    withAccessToken: (call, appId = officialAppId) => withAccessToken(tokensOf(appId), call),
    environmentHasAppSecret,
    pushUrlOf: (appId) => `${pushBaseUrl ?? 'https://<your HTTP access domain>'}/wx/push/${appId}`,
  };
}
