import type { TokenMode, WechatAccountConfig } from '../config';
import { ErrorCode, WechatApiError, WxErrcode } from '../errors';
import { registerSecret, type Logger } from '../log';
import type { DocumentStore } from '../store/port';
import { createWechatHttp, type WechatHttp } from '../wechat/http';
import { fetchTicket, TICKET_TYPES, type TicketType } from '../wechat/ticket';
import { fetchClassicToken, fetchStableToken, type FetchedCredential } from '../wechat/token';
import type { Credential, CredentialKind, CredentialTiming } from './model';
import { CredentialOwner } from './owner';
import { CredentialReader, withAccessToken, type CredentialSourcePort } from './reader';

/** What getToken and getTicket answer: never the value itself (see AskOwner). */
export interface CredentialInfo {
  kind: CredentialKind;
  version: number;
  expiresAtMs: number;
}

export function toInfo(kind: CredentialKind, credential: Credential): CredentialInfo {
  return { kind, version: credential.version, expiresAtMs: credential.expiresAtMs };
}

/** Calls another function of the environment and returns its `data`. */
export type InvokeFunction = <T>(name: string, data: Record<string, unknown>) => Promise<T>;

interface CommonOptions {
  store: DocumentStore;
  log: Logger;
  instanceId: string;
  timing?: Partial<CredentialTiming>;
  now?: () => number;
  http?: WechatHttp;
}

/**
 * 40164 means WeChat saw the request come from an IP outside the account's whitelist. The
 * message names that IP and the one fix: only getToken fetches tokens, on the fixed outbound IP.
 */
export async function explainIpRefusal<T>(call: () => Promise<T>, appId?: string): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof WechatApiError && error.errcode === WxErrcode.IP_NOT_WHITELISTED) {
      const ip = /invalid ip ([^\s,]+)/.exec(error.errmsg)?.[1] ?? 'unknown';
      throw new WechatApiError(error.endpoint, error.errcode, error.errmsg, {
        code: ErrorCode.IP_NOT_WHITELISTED,
        cause: error,
        message:
          `WeChat refused the access_token request from IP ${ip} (errcode 40164: not in the IP whitelist). ` +
          `Add ${ip} to the whitelist of ${appId === undefined ? 'the official account' : `official account ${appId}`} (公众平台 → 设置与开发 → 基本配置 → IP白名单). ` +
          `Only the getToken function fetches tokens, and it must run with the environment's fixed outbound IP ` +
          `(云函数 → getToken → 固定出口IP) so that this address does not change.`,
      });
    }
    throw error;
  }
}

/** What getToken needs to fetch one account's token. The secret is asked for at each fetch, so a rotated one is used without a redeploy. */
export interface TokenAccountConfig {
  appId: string;
  apiBaseUrl: string;
  tokenMode: TokenMode;
  appSecret: string | (() => Promise<string>);
}

/** getToken's owner of an account's access_token: the only code that calls WeChat's token endpoints. */
export function createTokenOwner(config: TokenAccountConfig, options: CommonOptions): CredentialOwner {
  const secretOf = typeof config.appSecret === 'string' ? (() => Promise.resolve(config.appSecret as string)) : config.appSecret;
  const http = options.http ?? createWechatHttp({ baseUrl: config.apiBaseUrl });
  const fetch = async ({ forceRefresh }: { forceRefresh: boolean }): Promise<FetchedCredential> => {
    const appSecret = await secretOf();
    registerSecret(appSecret);
    return explainIpRefusal(
      () =>
        config.tokenMode === 'stable'
          ? fetchStableToken(http, config.appId, appSecret, forceRefresh)
          : fetchClassicToken(http, config.appId, appSecret),
      config.appId,
    );
  };
  return new CredentialOwner({
    store: options.store,
    appId: config.appId,
    kind: 'access_token',
    fetch,
    supportsForceRefresh: config.tokenMode === 'stable',
    instanceId: options.instanceId,
    log: options.log,
    ...(options.timing ? { timing: options.timing } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
}

/** Which account a reader reads: any object with its appid (a WechatAccountConfig will do). */
export interface AccountRef {
  appId: string;
}

interface ReaderOptions {
  store: DocumentStore;
  invoke: InvokeFunction;
  timing?: Partial<CredentialTiming>;
  now?: () => number;
}

/** An account's access_token as every function but getToken sees it: memory, then the cache, then getToken. */
export function createTokenReader(account: AccountRef, options: ReaderOptions): CredentialReader {
  return new CredentialReader({
    store: options.store,
    appId: account.appId,
    kind: 'access_token',
    askOwner: (request) => options.invoke<CredentialInfo>('getToken', { action: 'get', appid: account.appId, ...request }),
    ...(options.timing ? { timing: options.timing } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
}

export function ticketKind(type: TicketType): CredentialKind {
  return `ticket:${type}`;
}

/** getTicket's owners of one account's two api_tickets; they fetch with that account's access_token from `tokens`. */
export function createTicketOwners(
  config: WechatAccountConfig,
  tokens: CredentialSourcePort,
  options: CommonOptions,
): Record<TicketType, CredentialOwner> {
  const http = options.http ?? createWechatHttp({ baseUrl: config.apiBaseUrl });
  const owners = {} as Record<TicketType, CredentialOwner>;
  for (const type of TICKET_TYPES) {
    owners[type] = new CredentialOwner({
      store: options.store,
      appId: config.appId,
      kind: ticketKind(type),
      fetch: () => withAccessToken(tokens, (accessToken) => fetchTicket(http, accessToken, type)),
      supportsForceRefresh: false,
      instanceId: options.instanceId,
      log: options.log,
      ...(options.timing ? { timing: options.timing } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
  }
  return owners;
}

/** An account's api_ticket as every function but getTicket sees it (signCard uses `wx_card`). */
export function createTicketReader(account: AccountRef, type: TicketType, options: ReaderOptions): CredentialReader {
  return new CredentialReader({
    store: options.store,
    appId: account.appId,
    kind: ticketKind(type),
    askOwner: (request) => options.invoke<CredentialInfo>('getTicket', { type, appid: account.appId, ...request }),
    ...(options.timing ? { timing: options.timing } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
}
