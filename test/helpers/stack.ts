import tcb from '@cloudbase/node-sdk';
import { LOCAL_ACCOUNT, startStack, type Stack, type StackOptions } from '../../scripts/local/stack';

export { LOCAL_ACCOUNT };
export type { Stack };

export type TestCaller =
  | { type: 'miniprogram'; openid: string; appid: string; unionid?: string; clientIp?: string }
  | { type: 'timer'; trigger: string }
  | { type: 'function'; source: string }
  | { type: 'admin' }
  /** Exactly these platform values (wx_http, wx_crawler, a user from wx_localdebug…): see scripts/local/host/context.ts. */
  | { type: 'context'; source?: string; triggerSrc?: string; openid?: string; appid?: string; unionid?: string };

export const ADMIN: TestCaller = { type: 'admin' };
export const FROM_FUNCTION: TestCaller = { type: 'function', source: 'wx_client,scf' };
export const user = (openid: string, unionid?: string): TestCaller => ({
  type: 'miniprogram',
  openid,
  appid: LOCAL_ACCOUNT.miniProgramAppId,
  ...(unionid ? { unionid } : {}),
});

/** A stack on a random port with its data in memory, quiet. */
export function startTestStack(options: StackOptions = {}): Promise<Stack> {
  return startStack({ port: 0, dataDir: null, quiet: true, ...options });
}

/** Calls a function the way a user of `npm start` does: POST /functions/<name>. */
export async function callFunction<T = any>(stack: Stack, name: string, data: unknown, caller: TestCaller): Promise<T> {
  const response = await fetch(`${stack.url}/functions/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ data, caller }),
  });
  const body = (await response.json()) as T;
  if (response.status !== 200) throw new Error(`POST /functions/${name} answered ${response.status}: ${JSON.stringify(body)}`);
  return body;
}

/** The sandbox's control API. */
export async function sandbox<T = any>(stack: Stack, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${stack.url}/__sandbox/${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const parsed = (await response.json()) as T;
  if (response.status >= 400) throw new Error(`${method} /__sandbox/${path} answered ${response.status}: ${JSON.stringify(parsed)}`);
  return parsed;
}

/** Upstream calls per WeChat endpoint path. */
export async function upstreamCalls(stack: Stack): Promise<Record<string, number>> {
  return (await sandbox<{ calls: Record<string, number> }>(stack, 'GET', 'stats')).calls;
}

/** The local CloudBase database as an operator script sees it: @cloudbase/node-sdk with admin keys. */
export function adminDb(stack: Stack) {
  const app = tcb.init({ env: LOCAL_ACCOUNT.envId, secretId: 'local', secretKey: 'local', serviceUrl: `${stack.url}/admin` } as never);
  return app.database();
}
