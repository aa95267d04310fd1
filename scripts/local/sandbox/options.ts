/** The sandbox's options, validated once at creation. */
import { SandboxInputError, expectIp, expectPositiveInteger, expectRecord, expectString } from './validate';

/** Options of {@link createWechatSandbox}. */
export interface WechatSandboxOptions {
  /** Official accounts (公众号/服务号) that can get tokens: appid + secret. */
  accounts: Array<{ appid: string; secret: string }>;
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
}

/** Validated options: what `reset` restores. */
export interface SandboxConfig {
  readonly accounts: ReadonlyMap<string, string>;
  readonly ipWhitelist: readonly string[];
  readonly tokenDailyQuota: number;
  readonly stableTokenDailyQuota: number;
  readonly ticketDailyQuota: number;
  readonly baseNowMs: () => number;
}

const MAX_QUOTA = 1_000_000_000;

/** Validates options strictly (unknown keys, duplicate appids and bad IPs throw {@link SandboxInputError}). */
export function normalizeOptions(options: WechatSandboxOptions): SandboxConfig {
  const record = expectRecord(options, 'sandbox options', [
    'accounts', 'ipWhitelist', 'tokenDailyQuota', 'stableTokenDailyQuota', 'ticketDailyQuota', 'now',
  ]);
  if (!Array.isArray(record.accounts)) throw new SandboxInputError('sandbox options.accounts must be an array');
  const accounts = new Map<string, string>();
  record.accounts.forEach((entry: unknown, index) => {
    const account = parseAccount(entry, `sandbox options.accounts[${index}]`);
    if (accounts.has(account.appid)) throw new SandboxInputError(`sandbox options.accounts has appid ${account.appid} twice`);
    accounts.set(account.appid, account.secret);
  });
  if (!Array.isArray(record.ipWhitelist)) throw new SandboxInputError('sandbox options.ipWhitelist must be an array');
  const ipWhitelist = record.ipWhitelist.map((ip: unknown, index) => expectIp(ip, `sandbox options.ipWhitelist[${index}]`));
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
  };
}

/** One `{appid, secret}` entry, from options or from the control API. */
export function parseAccount(value: unknown, what: string): { appid: string; secret: string } {
  const record = expectRecord(value, what, ['appid', 'secret']);
  return { appid: expectString(record.appid, `${what}.appid`), secret: expectString(record.secret, `${what}.secret`) };
}
