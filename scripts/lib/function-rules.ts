/**
 * CloudBase's security rules for cloud functions (云函数安全规则): which functions a client
 * (`wx.cloud.callFunction`, the web SDK) may invoke at all. The second lock behind each
 * function's own caller check: a client never reaches getToken or getTicket, even if a
 * handler's check were wrong. Server-side calls (functions, admin API, timers, HTTP access)
 * are outside the rules and keep working (docs.cloudbase.net/cloud-function/security-rules;
 * developers.weixin.qq.com/miniprogram/dev/wxcloud/guide/functions/security-rules.html).
 *
 * Syntax: one JSON object for the environment; `"*"` (required) for every function not named;
 * per function `{"invoke": true | false | "auth != null"}`, the only values the mini-program
 * docs allow. Set by the TCB API `ModifySecurityRule {EnvId, ResourceType:'FUNCTION',
 * AclTag:'CUSTOM', Rule}` (what @cloudbase/manager-node's commonService and CloudBase-MCP's
 * writeSecurityRule call; the tcb CLI has no command for it), or pasted in the console.
 */
import { isDeepStrictEqual } from 'node:util';
import { callCloudApi, type CloudApiCall } from './tencentcloud';

/**
 * The functions a signed-in mini-program user may invoke: exactly those whose handler allows a
 * `miniprogram` caller (a test holds the two together). Never getToken or getTicket; never an HTTP-access function (they answer HTTP only).
 */
export const CLIENT_CALLABLE_FUNCTIONS = ['signCard', 'decryptCode', 'consumeCode', 'sendRedPacket', 'claimPageToken'] as const;

/** Functions no client may ever be allowed to invoke, whatever the list above says. */
export const NEVER_CLIENT_CALLABLE: readonly string[] = ['getToken', 'getTicket'];

export type FunctionRules = Record<string, { invoke: boolean | 'auth != null' }>;

/** The rules for this bundle: nothing by default, signed-in users for the client-callable functions. */
export function functionSecurityRules(clientCallable: readonly string[] = CLIENT_CALLABLE_FUNCTIONS): FunctionRules {
  const refused = clientCallable.filter((name) => NEVER_CLIENT_CALLABLE.includes(name));
  if (refused.length > 0) throw new Error(`${refused.join(', ')} must never be callable from a client`);
  const rules: FunctionRules = { '*': { invoke: false } };
  for (const name of clientCallable) rules[name] = { invoke: 'auth != null' };
  return rules;
}

/** Where to paste the rules by hand. */
export const RULES_CONSOLE_PATH = '云开发控制台 → 云函数 → 权限控制 (Security rules / 安全规则)';

export interface ApplyRulesOptions {
  envId: string;
  credentials: CloudApiCall['credentials'];
  region: string;
  endpoint?: string;
  now?: () => number;
}

/** Writes the rules with the TCB API, reads them back, and throws unless they are what was written. */
export async function applyFunctionSecurityRules(rules: FunctionRules, options: ApplyRulesOptions): Promise<void> {
  const base = {
    credentials: options.credentials,
    service: 'tcb',
    version: '2018-06-08',
    region: options.region,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.now === undefined ? {} : { now: options.now }),
  };
  const rule = JSON.stringify(rules);
  await callCloudApi({ ...base, action: 'ModifySecurityRule', params: { EnvId: options.envId, ResourceType: 'FUNCTION', AclTag: 'CUSTOM', Rule: rule } });
  const current = await callCloudApi<{ Rule?: string; AclTag?: string }>({ ...base, action: 'DescribeSecurityRule', params: { EnvId: options.envId, ResourceType: 'FUNCTION' } });
  let readBack: unknown;
  try {
    readBack = JSON.parse(current.Rule ?? 'null');
  } catch {
    readBack = current.Rule;
  }
  if (!isDeepStrictEqual(readBack, rules)) {
    throw new Error(`the function security rules read back differ from what was written: ${String(current.Rule).slice(0, 300)}`);
  }
}
