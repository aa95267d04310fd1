/** Options of the Pay sandbox's APIv3 (merchant transfers), validated once at start: a typo fails loudly. */
import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import {
  SandboxInputError, expectNonNegativeNumber, expectPositiveInteger, expectRecord, expectString,
} from '../../sandbox/validate';
import { expectBalanceFen, type PayConfig } from '../options';

/** A merchant's APIv3 side. The merchant must also be a merchant of the Pay sandbox: its bound appids apply. */
export interface PayV3SandboxMerchant {
  mchId: string;
  /** The APIv3 key (32 characters) notify resources are encrypted with. */
  apiV3Key: string;
  /** The merchant API certificate: requests must be signed with its key and carry its serial. */
  merchantCertPem: string;
  /** The 运营账户 balance transfers draw on (not the balance red packets use). */
  balanceFen: number;
  /** Transfer scenes the merchant has opened; default ["1000"] (现金营销). */
  sceneIds?: string[];
}

/** WeChat Pay's keys in the sandbox. */
export interface PayV3SandboxWechatPay {
  /** 微信支付公钥 mode: its `PUB_KEY_ID_…` and the private half the sandbox signs with. */
  publicKeyId: string;
  privateKeyPem: string;
  /** The older platform-certificate mode, alongside (a merchant in migration has both). */
  platformCertPem?: string;
  platformKeyPem?: string;
  /** What signs notifies, and answers to requests whose Wechatpay-Serial names no sandbox key. Default "publicKey". */
  signWith?: 'publicKey' | 'platformCertificate';
}

/** Options of the APIv3 side; timings are on the sandbox clock, in milliseconds. */
export interface PayV3SandboxOptions {
  merchants: PayV3SandboxMerchant[];
  wechatPay: PayV3SandboxWechatPay;
  /** Where notifies go whatever notify_url the bill names (the local stack's /pay/notify); unset = the bill's notify_url. */
  notifyUrl?: string;
  /** How long a new bill stays ACCEPTED, then PROCESSING, before WAIT_USER_CONFIRM (defaults 0: answered WAIT_USER_CONFIRM). */
  acceptedMs?: number;
  processingMs?: number;
  /** How long a confirmed bill stays TRANSFERING before SUCCESS (default 0). */
  transferingMs?: number;
  /** How long a cancelled bill stays CANCELING before CANCELLED (default 0). */
  cancelingMs?: number;
  /** An unconfirmed bill closes (FAIL) this long after creation (default 24 h, T-faq). */
  closeAfterMs?: number;
  /** Queries answer 404 NOT_FOUND for this long after a bill was created (default 0). */
  queryLagMs?: number;
  /** Per-bill range; defaults 10 fen (fixed for 现金营销) to 20000 fen (the 200 元 reported default for scene 1000, UNVERIFIED). */
  minAmountFen?: number;
  maxAmountFen?: number;
  /** Per payee and per merchant per day (Beijing); beyond → the bill FAILs. Defaults 10 bills, 2,000,000 fen (2万 元), 10,000,000 fen (10万 元), UNVERIFIED. */
  userDailyCount?: number;
  userDailyAmountFen?: number;
  merchantDailyAmountFen?: number;
  /** Calls per merchant per second (sandbox clock): defaults 100 creates, 100 queries (T-create, T-out), 20 cancels (T-pfaq). */
  createsPerSecond?: number;
  queriesPerSecond?: number;
  cancelsPerSecond?: number;
  /** Wall-clock time a notify receiver has to answer (default 5000, "5秒内"). */
  notifyTimeoutMs?: number;
  /** Sandbox-clock delays between notify attempts after a failed one (default WeChat's: 15 s ×10, 300 s ×10, 1800 s ×44). */
  notifyRetryDelaysMs?: number[];
  /** Wall-clock period of the background loop that lets time act and delivers due notifies (default 1000; 0 = none, tests flush). */
  tickMs?: number;
}

/** A WeChat Pay key of the sandbox. */
export interface SandboxWechatKey {
  readonly serial: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** A validated APIv3 merchant. */
export interface V3MerchantConfig {
  readonly mchId: string;
  readonly apiV3Key: string;
  readonly serialNo: string;
  readonly publicKey: KeyObject;
  readonly initialBalanceFen: number;
  readonly sceneIds: ReadonlySet<string>;
  /** Every appid bound to the merchant (official accounts and mini-programs alike may pay transfers). */
  readonly appIds: ReadonlySet<string>;
}

/** Validated options: what `reset` restores. */
export interface V3Config {
  readonly merchants: ReadonlyMap<string, V3MerchantConfig>;
  /** By serial / public key id. */
  readonly wechatKeys: ReadonlyMap<string, SandboxWechatKey>;
  readonly defaultKey: SandboxWechatKey;
  readonly notifyUrl: string | null;
  readonly acceptedMs: number;
  readonly processingMs: number;
  readonly transferingMs: number;
  readonly cancelingMs: number;
  readonly closeAfterMs: number;
  readonly queryLagMs: number;
  readonly minAmountFen: number;
  readonly maxAmountFen: number;
  readonly userDailyCount: number;
  readonly userDailyAmountFen: number;
  readonly merchantDailyAmountFen: number;
  readonly createsPerSecond: number;
  readonly queriesPerSecond: number;
  readonly cancelsPerSecond: number;
  readonly notifyTimeoutMs: number;
  readonly notifyRetryDelaysMs: readonly number[];
  readonly tickMs: number;
}

const DAY_MS = 86_400_000;
const MAX_DURATION_MS = 366 * DAY_MS;
const MAX_LIMIT = 1_000_000_000;
const API_V3_KEY = /^[\x21-\x7e]{32}$/;
const PUBLIC_KEY_ID = /^PUB_KEY_ID_[0-9A-Za-z]{8,64}$/;
const SCENE_ID = /^[0-9]{1,36}$/;
/** After a failed attempt: 15 s ×10, 300 s ×10, 1800 s ×44 (IM webhook "0s/15s/…"; the first attempt is the 0 s; official page not read). */
const WECHAT_RETRY_DELAYS_MS: readonly number[] = [
  ...Array.from({ length: 10 }, () => 15_000), ...Array.from({ length: 10 }, () => 300_000), ...Array.from({ length: 44 }, () => 1_800_000),
];
const KEYS = [
  'merchants', 'wechatPay', 'notifyUrl', 'acceptedMs', 'processingMs', 'transferingMs', 'cancelingMs', 'closeAfterMs', 'queryLagMs',
  'minAmountFen', 'maxAmountFen', 'userDailyCount', 'userDailyAmountFen', 'merchantDailyAmountFen', 'createsPerSecond', 'queriesPerSecond',
  'cancelsPerSecond', 'notifyTimeoutMs', 'notifyRetryDelaysMs', 'tickMs',
];

/** Validates the APIv3 options against the sandbox's merchants; bad ones throw {@link SandboxInputError}. */
export function normalizeV3Options(options: PayV3SandboxOptions, payConfig: PayConfig): V3Config {
  const what = 'pay sandbox options.v3';
  const record = expectRecord(options, what, KEYS);
  if (!Array.isArray(record.merchants) || record.merchants.length === 0) throw new SandboxInputError(`${what}.merchants must be a non-empty array`);
  const merchants = new Map<string, V3MerchantConfig>();
  record.merchants.forEach((entry: unknown, index) => {
    const merchant = parseMerchant(entry, `${what}.merchants[${index}]`, payConfig);
    if (merchants.has(merchant.mchId)) throw new SandboxInputError(`${what}.merchants has mchId ${merchant.mchId} twice`);
    merchants.set(merchant.mchId, merchant);
  });
  const { keys, defaultKey } = parseWechatPay(record.wechatPay, `${what}.wechatPay`);
  for (const merchant of merchants.values()) {
    if (keys.has(merchant.serialNo)) throw new SandboxInputError(`${what}: the merchant certificate of ${merchant.mchId} is also a WeChat Pay key`);
  }
  const duration = (key: string, fallback: number): number =>
    record[key] === undefined ? fallback : expectNonNegativeNumber(record[key], `${what}.${key}`, MAX_DURATION_MS);
  const limit = (key: string, fallback: number): number =>
    record[key] === undefined ? fallback : expectPositiveInteger(record[key], `${what}.${key}`, MAX_LIMIT);
  const notifyUrl = record.notifyUrl === undefined ? null : expectHttpUrl(record.notifyUrl, `${what}.notifyUrl`);
  const minAmountFen = limit('minAmountFen', 10);
  const maxAmountFen = limit('maxAmountFen', 20_000);
  if (minAmountFen > maxAmountFen) throw new SandboxInputError(`${what}.minAmountFen must not exceed maxAmountFen`);
  const retryDelays = record.notifyRetryDelaysMs;
  if (retryDelays !== undefined && !Array.isArray(retryDelays)) throw new SandboxInputError(`${what}.notifyRetryDelaysMs must be an array`);
  return {
    merchants,
    wechatKeys: keys,
    defaultKey,
    notifyUrl,
    acceptedMs: duration('acceptedMs', 0),
    processingMs: duration('processingMs', 0),
    transferingMs: duration('transferingMs', 0),
    cancelingMs: duration('cancelingMs', 0),
    closeAfterMs: duration('closeAfterMs', DAY_MS),
    queryLagMs: duration('queryLagMs', 0),
    minAmountFen,
    maxAmountFen,
    userDailyCount: limit('userDailyCount', 10),
    userDailyAmountFen: limit('userDailyAmountFen', 2_000_000),
    merchantDailyAmountFen: limit('merchantDailyAmountFen', 10_000_000),
    createsPerSecond: limit('createsPerSecond', 100),
    queriesPerSecond: limit('queriesPerSecond', 100),
    cancelsPerSecond: limit('cancelsPerSecond', 20),
    notifyTimeoutMs: record.notifyTimeoutMs === undefined ? 5000 : expectPositiveInteger(record.notifyTimeoutMs, `${what}.notifyTimeoutMs`, 120_000),
    notifyRetryDelaysMs: retryDelays === undefined
      ? WECHAT_RETRY_DELAYS_MS
      : retryDelays.map((delay: unknown, index) => expectNonNegativeNumber(delay, `${what}.notifyRetryDelaysMs[${index}]`, MAX_DURATION_MS)),
    tickMs: record.tickMs === undefined ? 1000 : expectNonNegativeNumber(record.tickMs, `${what}.tickMs`, 60_000),
  };
}

/** An http(s) URL (the control API sets the notify URL with it too). */
export function expectHttpUrl(value: unknown, what: string): string {
  const text = expectString(value, what);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SandboxInputError(`${what} must be an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SandboxInputError(`${what} must be http:// or https://`);
  return text;
}

function parseMerchant(value: unknown, what: string, payConfig: PayConfig): V3MerchantConfig {
  const record = expectRecord(value, what, ['mchId', 'apiV3Key', 'merchantCertPem', 'balanceFen', 'sceneIds']);
  const mchId = expectString(record.mchId, `${what}.mchId`);
  const payMerchant = payConfig.merchants.get(mchId);
  if (payMerchant === undefined) throw new SandboxInputError(`${what}.mchId ${mchId} is not a merchant of the Pay sandbox`);
  const apiV3Key = expectString(record.apiV3Key, `${what}.apiV3Key`);
  if (!API_V3_KEY.test(apiV3Key)) throw new SandboxInputError(`${what}.apiV3Key must be 32 printable characters`);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(expectString(record.merchantCertPem, `${what}.merchantCertPem`));
  } catch (error) {
    if (error instanceof SandboxInputError) throw error;
    throw new SandboxInputError(`${what}.merchantCertPem is not a PEM certificate`);
  }
  const sceneList = record.sceneIds === undefined ? ['1000'] : record.sceneIds;
  if (!Array.isArray(sceneList) || sceneList.length === 0) throw new SandboxInputError(`${what}.sceneIds must be a non-empty array`);
  const sceneIds = new Set(sceneList.map((scene: unknown, index) => {
    const id = expectString(scene, `${what}.sceneIds[${index}]`);
    if (!SCENE_ID.test(id)) throw new SandboxInputError(`${what}.sceneIds[${index}] must be digits`);
    return id;
  }));
  return {
    mchId,
    apiV3Key,
    serialNo: certificate.serialNumber.toUpperCase(),
    publicKey: certificate.publicKey,
    initialBalanceFen: expectBalanceFen(record.balanceFen, `${what}.balanceFen`),
    sceneIds,
    appIds: new Set([...payMerchant.officialAccountAppIds, ...payMerchant.miniProgramAppIds]),
  };
}

function parseWechatPay(value: unknown, what: string): { keys: Map<string, SandboxWechatKey>; defaultKey: SandboxWechatKey } {
  const record = expectRecord(value, what, ['publicKeyId', 'privateKeyPem', 'platformCertPem', 'platformKeyPem', 'signWith']);
  const publicKeyId = expectString(record.publicKeyId, `${what}.publicKeyId`);
  if (!PUBLIC_KEY_ID.test(publicKeyId)) throw new SandboxInputError(`${what}.publicKeyId must look like PUB_KEY_ID_ + digits`);
  const privateKey = readPrivateKey(record.privateKeyPem, `${what}.privateKeyPem`);
  const publicKeyMode: SandboxWechatKey = { serial: publicKeyId, privateKey, publicKey: createPublicKey(privateKey) };
  const keys = new Map([[publicKeyId, publicKeyMode]]);
  let platform: SandboxWechatKey | undefined;
  if (record.platformCertPem !== undefined || record.platformKeyPem !== undefined) {
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(expectString(record.platformCertPem, `${what}.platformCertPem`));
    } catch (error) {
      if (error instanceof SandboxInputError) throw error;
      throw new SandboxInputError(`${what}.platformCertPem is not a PEM certificate`);
    }
    const platformKey = readPrivateKey(record.platformKeyPem, `${what}.platformKeyPem`);
    if (!certificate.checkPrivateKey(platformKey)) throw new SandboxInputError(`${what}.platformKeyPem does not belong to platformCertPem`);
    platform = { serial: certificate.serialNumber.toUpperCase(), privateKey: platformKey, publicKey: certificate.publicKey };
    keys.set(platform.serial, platform);
  }
  const signWith = record.signWith ?? 'publicKey';
  if (signWith !== 'publicKey' && signWith !== 'platformCertificate') throw new SandboxInputError(`${what}.signWith must be publicKey or platformCertificate`);
  if (signWith === 'platformCertificate' && platform === undefined) throw new SandboxInputError(`${what}.signWith platformCertificate needs platformCertPem and platformKeyPem`);
  return { keys, defaultKey: signWith === 'platformCertificate' ? platform! : publicKeyMode };
}

function readPrivateKey(value: unknown, what: string): KeyObject {
  const pem = expectString(value, what);
  try {
    return createPrivateKey(pem);
  } catch {
    throw new SandboxInputError(`${what} is not a PEM private key`);
  }
}
