/** The Pay sandbox's options, validated once at start (a typo must fail loudly, not run with defaults). */
import {
  SandboxInputError, expectNonNegativeNumber, expectOptionalBoolean, expectPositiveInteger, expectRecord, expectString,
} from '../sandbox/validate';
import { KIND_BEHAVIOUR, parseBehaviour, type PayBehaviour } from './behaviour';

/** One merchant (商户号) of the sandbox. */
export interface PaySandboxMerchant {
  mchId: string;
  /** The APIv2 key (32 characters) both sides sign with. */
  apiKey: string;
  balanceFen: number;
  /** Appids bound to the merchant: 公众号 appids may use sendredpack, mini-program appids sendminiprogramhb. */
  appIds: { officialAccount: string[]; miniProgram: string[] };
}

/** Options of {@link startPaySandbox}. */
export interface PaySandboxOptions {
  merchants: PaySandboxMerchant[];
  /** Server side of the mutual TLS; clients must present a certificate signed by `caPem`. */
  tls: { caPem: string; certPem: string; keyPem: string };
  /** Sends per merchant per second (sandbox clock); beyond → FREQ_LIMIT. Default 30 ("默认30次/秒"). */
  rateLimitPerSecond?: number;
  /** Packets one openid may get per day; beyond → SENDNUM_LIMIT. Default 10. */
  userDailyCount?: number;
  /** Fen one openid may get per day; beyond → RCVDAMOUNT_LIMIT. Default 100000 (1000 元). */
  userDailyAmountFen?: number;
  /** How long an accepted packet stays SENDING before it is SENT (sandbox clock); default 0 (immediately). */
  sendingDelayMs?: number;
  /**
   * Default true: an openid matching /^o[A-Za-z0-9_-]{10,}$/ that the sandbox has not seen is
   * registered under the appid of the first request that names it. False: only openids
   * registered through the control API exist.
   */
  autoRegisterUsers?: boolean;
  /** How unkind the sandbox is by default (see behaviour.ts): paid resends, gethbinfo lag, gethbinfo's appids. Default: kind. */
  behaviour?: Partial<PayBehaviour>;
  /** Base clock in epoch ms; the control API advances an offset on top. Default `Date.now`. */
  now?: () => number;
}

/** A validated merchant. */
export interface MerchantConfig {
  readonly mchId: string;
  readonly apiKey: string;
  readonly initialBalanceFen: number;
  readonly officialAccountAppIds: ReadonlySet<string>;
  readonly miniProgramAppIds: ReadonlySet<string>;
}

/** Validated options: what `reset` restores. */
export interface PayConfig {
  readonly merchants: ReadonlyMap<string, MerchantConfig>;
  readonly tls: { readonly caPem: string; readonly certPem: string; readonly keyPem: string };
  readonly rateLimitPerSecond: number;
  readonly userDailyCount: number;
  readonly userDailyAmountFen: number;
  readonly sendingDelayMs: number;
  readonly autoRegisterUsers: boolean;
  readonly behaviour: PayBehaviour;
  readonly baseNowMs: () => number;
}

const API_KEY_PATTERN = /^[0-9A-Za-z]{32}$/;
const MAX_LIMIT = 1_000_000_000;
// 1,000,000 元, far beyond any test, small enough to stay an exact integer sum.
const MAX_BALANCE_FEN = 100_000_000_000;
const MAX_SENDING_DELAY_MS = 86_400_000;

/** Validates options strictly; bad ones throw {@link SandboxInputError}. */
export function normalizePayOptions(options: PaySandboxOptions & { port?: number }): PayConfig {
  const record = expectRecord(options, 'pay sandbox options', [
    'merchants', 'tls', 'rateLimitPerSecond', 'userDailyCount', 'userDailyAmountFen', 'sendingDelayMs', 'autoRegisterUsers', 'behaviour', 'now', 'port',
  ]);
  if (!Array.isArray(record.merchants) || record.merchants.length === 0) {
    throw new SandboxInputError('pay sandbox options.merchants must be a non-empty array');
  }
  const merchants = new Map<string, MerchantConfig>();
  record.merchants.forEach((entry: unknown, index) => {
    const merchant = parseMerchant(entry, `pay sandbox options.merchants[${index}]`);
    if (merchants.has(merchant.mchId)) throw new SandboxInputError(`pay sandbox options.merchants has mchId ${merchant.mchId} twice`);
    merchants.set(merchant.mchId, merchant);
  });
  const tls = expectRecord(record.tls, 'pay sandbox options.tls', ['caPem', 'certPem', 'keyPem']);
  const limit = (key: string, fallback: number): number =>
    record[key] === undefined ? fallback : expectPositiveInteger(record[key], `pay sandbox options.${key}`, MAX_LIMIT);
  const now = record.now;
  if (now !== undefined && typeof now !== 'function') throw new SandboxInputError('pay sandbox options.now must be a function');
  return {
    merchants,
    tls: {
      caPem: expectString(tls.caPem, 'pay sandbox options.tls.caPem'),
      certPem: expectString(tls.certPem, 'pay sandbox options.tls.certPem'),
      keyPem: expectString(tls.keyPem, 'pay sandbox options.tls.keyPem'),
    },
    rateLimitPerSecond: limit('rateLimitPerSecond', 30),
    userDailyCount: limit('userDailyCount', 10),
    userDailyAmountFen: limit('userDailyAmountFen', 100_000),
    sendingDelayMs: record.sendingDelayMs === undefined
      ? 0
      : expectNonNegativeNumber(record.sendingDelayMs, 'pay sandbox options.sendingDelayMs', MAX_SENDING_DELAY_MS),
    autoRegisterUsers: expectOptionalBoolean(record.autoRegisterUsers, 'pay sandbox options.autoRegisterUsers') ?? true,
    behaviour: { ...KIND_BEHAVIOUR, ...parseBehaviour(record.behaviour, 'pay sandbox options.behaviour', false).behaviour },
    baseNowMs: now === undefined ? Date.now : (now as () => number),
  };
}

/** A balance in whole fen, as options and the control API give it. */
export function expectBalanceFen(value: unknown, what: string): number {
  const balanceFen = expectNonNegativeNumber(value, what, MAX_BALANCE_FEN);
  if (!Number.isInteger(balanceFen)) throw new SandboxInputError(`${what} must be whole fen`);
  return balanceFen;
}

function parseMerchant(value: unknown, what: string): MerchantConfig {
  const record = expectRecord(value, what, ['mchId', 'apiKey', 'balanceFen', 'appIds']);
  const apiKey = expectString(record.apiKey, `${what}.apiKey`);
  if (!API_KEY_PATTERN.test(apiKey)) throw new SandboxInputError(`${what}.apiKey must be 32 letters or digits (an APIv2 key)`);
  const appIds = expectRecord(record.appIds, `${what}.appIds`, ['officialAccount', 'miniProgram']);
  const appIdList = (key: 'officialAccount' | 'miniProgram'): Set<string> => {
    const list = appIds[key];
    if (!Array.isArray(list)) throw new SandboxInputError(`${what}.appIds.${key} must be an array`);
    return new Set(list.map((appid: unknown, index) => expectString(appid, `${what}.appIds.${key}[${index}]`)));
  };
  const officialAccountAppIds = appIdList('officialAccount');
  const miniProgramAppIds = appIdList('miniProgram');
  for (const appid of officialAccountAppIds) {
    if (miniProgramAppIds.has(appid)) throw new SandboxInputError(`${what}: appid ${appid} cannot be both an official account and a mini-program`);
  }
  return {
    mchId: expectString(record.mchId, `${what}.mchId`),
    apiKey,
    initialBalanceFen: expectBalanceFen(record.balanceFen, `${what}.balanceFen`),
    officialAccountAppIds,
    miniProgramAppIds,
  };
}
