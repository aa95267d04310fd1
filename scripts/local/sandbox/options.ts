/** The sandbox's options, validated once at creation. */
import { SandboxInputError, expectIp, expectOptionalBoolean, expectPositiveInteger, expectRecord, expectString } from './validate';

/** 服务号, 订阅号, or a mini-program: which APIs WeChat gives the account (see permissions.ts). */
export type SandboxAccountKind = 'service' | 'subscription' | 'miniprogram';
export const SANDBOX_ACCOUNT_KINDS: readonly SandboxAccountKind[] = ['service', 'subscription', 'miniprogram'];
export type SandboxMessageMode = 'plain' | 'compatible' | 'safe';
const MESSAGE_MODES: readonly SandboxMessageMode[] = ['plain', 'compatible', 'safe'];

/** An account's server URL settings (服务器配置), as its operator entered them in WeChat's console. */
export interface SandboxPushConfig {
  token: string;
  encodingAESKey: string;
  mode: SandboxMessageMode;
  /** Where WeChat delivers the account's pushes. */
  url: string;
}

/** One account as WeChat knows it. Plain data: the state persists as it is. */
export interface SandboxAccount {
  appid: string;
  secret: string;
  kind: SandboxAccountKind;
  /** 微信认证: decides the APIs an official account has. */
  verified: boolean;
  /** 原始ID (gh_…), the `ToUserName` of its pushes. */
  originalId: string;
  name: string;
  push: SandboxPushConfig | null;
  /** The Open Platform (开放平台) account it is bound to: users get one unionid across all its apps. null = not bound. */
  openPlatformId: string | null;
  /** The account's own IP whitelist; null = the sandbox-wide one. Mini-programs have none ("不要求 IP 地址在白名单内"). */
  ipWhitelist: string[] | null;
  /**
   * 网页授权域名 and JS接口安全域名 (hosts, with the port on the local stack): OAuth's redirect_uri
   * and a wx.config page must be on one. Absent (older snapshots) or null: not checked.
   */
  webDomains?: string[] | null;
}

/** What options and the control API accept for an account: appid and secret, the rest defaults (a verified service account). */
export type SandboxAccountInput = { appid: string; secret: string } & Partial<Omit<SandboxAccount, 'appid' | 'secret'>>;

/** Options of {@link createWechatSandbox}. */
export interface WechatSandboxOptions {
  /** Accounts that can get tokens: official accounts (公众号/服务号) and mini-programs. */
  accounts: SandboxAccountInput[];
  /** Remote addresses allowed to fetch tokens (the IP whitelist), e.g. ['127.0.0.2']. Empty = nobody. */
  ipWhitelist: string[];
  /** Daily quota of cgi-bin/token per account; default 2000 (a test account has 200). */
  tokenDailyQuota?: number;
  /** Daily quota of cgi-bin/stable_token per account; default 500000. */
  stableTokenDailyQuota?: number;
  /** Daily quota of cgi-bin/ticket/getticket per account; WeChat publishes no figure ("非常有限"), default 1000. */
  ticketDailyQuota?: number;
  /** Base clock in epoch ms; the sandbox adds its own advanceable offset on top. Default `Date.now`. */
  now?: () => number;
  /** How long a push delivery waits for the server URL before retrying: WeChat's 5000 ms by default. */
  pushTimeoutMs?: number;
}

/** Validated options: what `reset` restores. */
export interface SandboxConfig {
  readonly accounts: ReadonlyMap<string, SandboxAccount>;
  readonly ipWhitelist: readonly string[];
  readonly tokenDailyQuota: number;
  readonly stableTokenDailyQuota: number;
  readonly ticketDailyQuota: number;
  readonly baseNowMs: () => number;
  readonly pushTimeoutMs: number;
}

const MAX_QUOTA = 1_000_000_000;

/** Validates options strictly (unknown keys, duplicate appids and bad IPs throw {@link SandboxInputError}). */
export function normalizeOptions(options: WechatSandboxOptions): SandboxConfig {
  const record = expectRecord(options, 'sandbox options', [
    'accounts', 'ipWhitelist', 'tokenDailyQuota', 'stableTokenDailyQuota', 'ticketDailyQuota', 'now', 'pushTimeoutMs',
  ]);
  if (!Array.isArray(record.accounts)) throw new SandboxInputError('sandbox options.accounts must be an array');
  const accounts = new Map<string, SandboxAccount>();
  record.accounts.forEach((entry: unknown, index) => {
    const account = parseAccount(entry, `sandbox options.accounts[${index}]`);
    if (accounts.has(account.appid)) throw new SandboxInputError(`sandbox options.accounts has appid ${account.appid} twice`);
    accounts.set(account.appid, account);
  });
  if (!Array.isArray(record.ipWhitelist)) throw new SandboxInputError('sandbox options.ipWhitelist must be an array');
  const ipWhitelist = expectIpList(record.ipWhitelist, 'sandbox options.ipWhitelist');
  const quota = (key: string, fallback: number): number =>
    record[key] === undefined ? fallback : expectPositiveInteger(record[key], `sandbox options.${key}`, MAX_QUOTA);
  const now = record.now;
  if (now !== undefined && typeof now !== 'function') throw new SandboxInputError('sandbox options.now must be a function');
  return {
    accounts,
    ipWhitelist,
    tokenDailyQuota: quota('tokenDailyQuota', 2000),
    stableTokenDailyQuota: quota('stableTokenDailyQuota', 500_000),
    ticketDailyQuota: quota('ticketDailyQuota', 1000),
    baseNowMs: now === undefined ? Date.now : (now as () => number),
    pushTimeoutMs: record.pushTimeoutMs === undefined ? 5000 : expectPositiveInteger(record.pushTimeoutMs, 'sandbox options.pushTimeoutMs', 60_000),
  };
}

const ACCOUNT_FIELDS = ['appid', 'secret', 'kind', 'verified', 'originalId', 'name', 'push', 'openPlatformId', 'ipWhitelist', 'webDomains'];

/**
 * One account entry, from options or from the control API. Over `existing` (the control API
 * changing an account), fields left out keep their value; a new account is a verified service
 * account unless told otherwise, with a 原始ID derived from its appid.
 */
export function parseAccount(value: unknown, what: string, existing?: SandboxAccount): SandboxAccount {
  const record = expectRecord(value, what, ACCOUNT_FIELDS);
  const appid = expectString(record.appid, `${what}.appid`);
  const kind = record.kind === undefined ? (existing?.kind ?? 'service') : record.kind;
  if (!SANDBOX_ACCOUNT_KINDS.includes(kind as SandboxAccountKind)) {
    throw new SandboxInputError(`${what}.kind must be one of ${SANDBOX_ACCOUNT_KINDS.join(', ')}`);
  }
  const verified = expectOptionalBoolean(record.verified, `${what}.verified`) ?? existing?.verified ?? true;
  const optionalText = (key: string, fallback: string): string => (record[key] === undefined ? fallback : expectString(record[key], `${what}.${key}`));
  const ipWhitelist = record.ipWhitelist === undefined
    ? (existing?.ipWhitelist ?? null)
    : record.ipWhitelist === null ? null : expectIpList(record.ipWhitelist, `${what}.ipWhitelist`);
  return {
    appid,
    secret: expectString(record.secret, `${what}.secret`),
    kind: kind as SandboxAccountKind,
    verified,
    originalId: optionalText('originalId', existing?.originalId ?? `gh_${appid.replace(/[^0-9a-f]/g, '').slice(-12).padStart(12, '0')}`),
    name: optionalText('name', existing?.name ?? appid),
    push: record.push === undefined ? (existing?.push ?? null) : record.push === null ? null : parsePush(record.push, `${what}.push`),
    openPlatformId: record.openPlatformId === undefined ? (existing?.openPlatformId ?? null) : record.openPlatformId === null ? null : expectString(record.openPlatformId, `${what}.openPlatformId`),
    ipWhitelist,
    webDomains: record.webDomains === undefined ? (existing?.webDomains ?? null) : record.webDomains === null ? null : expectHostList(record.webDomains, `${what}.webDomains`),
  };
}

function expectHostList(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.some((host) => typeof host !== 'string' || !/^[a-z0-9.-]+(:[0-9]{1,5})?$/i.test(host))) {
    throw new SandboxInputError(`${what} must be a list of hosts (host or host:port)`);
  }
  return (value as string[]).map((host) => host.toLowerCase());
}

function parsePush(value: unknown, what: string): SandboxPushConfig {
  const record = expectRecord(value, what, ['token', 'encodingAESKey', 'mode', 'url']);
  const mode = record.mode;
  if (!MESSAGE_MODES.includes(mode as SandboxMessageMode)) throw new SandboxInputError(`${what}.mode must be one of ${MESSAGE_MODES.join(', ')}`);
  const encodingAESKey = expectString(record.encodingAESKey, `${what}.encodingAESKey`);
  if (!/^[A-Za-z0-9]{43}$/.test(encodingAESKey)) throw new SandboxInputError(`${what}.encodingAESKey must be 43 letters and digits`);
  const url = expectString(record.url, `${what}.url`);
  if (!/^https?:\/\//.test(url)) throw new SandboxInputError(`${what}.url must be an http(s) URL`);
  return { token: expectString(record.token, `${what}.token`), encodingAESKey, mode: mode as SandboxMessageMode, url };
}

/** A list of IP addresses (a whitelist). */
export function expectIpList(value: unknown, what: string): string[] {
  if (!Array.isArray(value)) throw new SandboxInputError(`${what} must be an array of IP addresses`);
  return value.map((ip: unknown, index) => expectIp(ip, `${what}[${index}]`));
}
