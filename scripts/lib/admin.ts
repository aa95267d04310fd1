import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import tcb from '@cloudbase/node-sdk';
import { APPID_PATTERN } from '../../shared/config';
import { unwrapEnvelope } from '../../shared/platform';
import { createNodeSdkStore } from '../../shared/store/nodeSdk';
import { COLLECTIONS, type DocumentStore } from '../../shared/store/port';
import type { CredentialDoc } from '../../shared/credentials/model';
import { ROOT } from './cloudbaserc';

/**
 * What an operator script needs: the environment's database, a way to call its functions, and the
 * access_token — obtained by calling the deployed getToken (a laptop is not on the whitelisted IP)
 * and then reading the value from `wx_credentials`, where getToken keeps it.
 */
export interface AdminContext {
  store: DocumentStore;
  officialAppId: string;
  apiBaseUrl: string;
  callFunction<T>(name: string, data: Record<string, unknown>): Promise<T>;
  accessToken(): Promise<string>;
  describe: string;
}

export interface AdminTarget {
  /** The local stack's URL (npm start), or undefined for the deployed environment from .env. */
  localUrl?: string;
}

function fileEnv(): Record<string, string | undefined> {
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
  if (target.localUrl) {
    // Skips node-sdk's probe of metadata.tencentyun.com: the local stack is all on loopback.
    process.env.TENCENTCLOUD = 'true';
    // The local stack's values: see scripts/local/stack.ts LOCAL_ACCOUNT.
    app = tcb.init({ env: 'local-dev', secretId: 'local', secretKey: 'local', serviceUrl: `${target.localUrl}/admin` } as never);
    officialAppId = 'wx10ca1000000000a1';
    apiBaseUrl = target.localUrl;
    describe = `local stack at ${target.localUrl}`;
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
  }
  const store = createNodeSdkStore(app.database());
  const callFunction = async <T>(name: string, data: Record<string, unknown>): Promise<T> => {
    const response = (await app.callFunction({ name, data })) as { result?: unknown; code?: string; message?: string };
    if (response.code) throw new Error(`calling ${name} failed: ${response.code} ${response.message ?? ''}`);
    return unwrapEnvelope<T>(name, response.result);
  };
  return {
    store,
    officialAppId,
    apiBaseUrl,
    describe,
    callFunction,
    async accessToken() {
      await callFunction('getToken', { action: 'get' });
      const doc = await store.get<CredentialDoc>(COLLECTIONS.credentials, `${officialAppId}:access_token`);
      if (!doc?.value) throw new Error('getToken answered but wx_credentials holds no access_token: check getToken\'s logs');
      return doc.value;
    },
  };
}
