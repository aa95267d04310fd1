/**
 * sendRedPacket's settings, read once per instance from the environment, and the claim engine's
 * dependencies built from them. The merchant certificate (red packets) and the APIv3 keys
 * (transfers) are loaded — from the environment, else the database — on the first Pay call of
 * their kind and kept for the life of the warm instance. Each payout's settings are needed only
 * by campaigns that use it: a transfer-only merchant sets no APIv2 key.
 */
import { isIPv4 } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { APPID_PATTERN, type EnvReader } from '../config';
import { ConfigError } from '../errors';
import { registerSecret, type Logger } from '../log';
import { onceSucceeded } from '../memo';
import { certificateFrom, createMerchantAgent, loadMerchantCertificate, type MerchantCertificate } from '../pay/certificate';
import { createRedPacketPayClient, type RedPacketPayClient } from '../pay/redpacket';
import { loadPayV3Keys, payV3KeysFrom, payV3KeyValuesFromEnv, type PayV3Keys } from '../pay/v3/keys';
import { createTransferBillsClient, expectNotifyUrl, type TransferBillsClient } from '../pay/v3/transfer';
import type { DocumentStore } from '../store/port';
import { createTokenReader, type InvokeFunction } from '../credentials/services';
import { createWechatHttp } from '../wechat/http';
import { createRiskRanker } from './risk';
import { ClaimMemory, type ClaimDeps, type ClaimSettings } from './engine';
import type { PayoutName } from './model';
import { PAYOUTS } from './payout';
import { GETHBINFO_APPID_SETTING } from './payout/miniprogram';
import type { Payout, PayoutSettings } from './payout/types';

/** Everything sendRedPacket reads from its environment. */
export interface ClaimFunctionConfig {
  settings: ClaimSettings;
  payout: PayoutSettings;
  pay: {
    baseUrl: string;
    mchId: string;
    timeoutMs: number;
    /** Extra CA for the Pay server (the local sandbox); unset in production. */
    caPem: string | undefined;
    /** From the environment; undefined = read `pay_merchant_certs/<mchId>` from the database. */
    certificate: MerchantCertificate | undefined;
    /** The APIv3 keys from the environment (checked); undefined = read `pay_v3_keys/<mchId>` from the database. */
    v3Keys: PayV3Keys | undefined;
  };
  /** Claims one reconciler run looks at, at most. */
  reconcileBatch: number;
  /** WeChat's API (campaigns' risk checks: wxa/getuserriskrank with the mini-program's token). */
  wechatApiBaseUrl: string;
}

const MCH_ID_PATTERN = /^[0-9]{6,16}$/;
const API_KEY_PATTERN = /^[0-9A-Za-z]{32}$/;

/** Reads and checks the settings; one ConfigError names every problem. */
export function readClaimConfig(reader: EnvReader, nowMs: number = Date.now()): ClaimFunctionConfig {
  const mchId = reader.string('PAY_MCH_ID', { pattern: MCH_ID_PATTERN, hint: 'the merchant id (商户号), digits' });
  // Red packets only: a merchant admitted after 2026-06-18 has transfers and no packets, so no APIv2 key.
  const apiKey = reader.optionalString('PAY_API_KEY') === undefined
    ? ''
    : reader.string('PAY_API_KEY', { pattern: API_KEY_PATTERN, hint: 'the APIv2 key, 32 letters and digits' });
  const transferNotifyUrl = reader.optionalString(TRANSFER_NOTIFY_URL_SETTING);
  if (transferNotifyUrl !== undefined) {
    try {
      expectNotifyUrl(transferNotifyUrl);
    } catch {
      reader.string(TRANSFER_NOTIFY_URL_SETTING, { pattern: /^$/, hint: 'the payNotify route\'s public https:// URL, at most 256 characters, no query string' });
    }
  }
  const clientIp = reader.optionalString('PAY_CLIENT_IP') ?? '127.0.0.1';
  const officialAppId = reader.string('WX_OA_APPID', { pattern: APPID_PATTERN, hint: 'the official account AppID, wx + 16 hex digits' });
  const miniProgramAppId = reader.string('WX_MP_APPID', { pattern: APPID_PATTERN, hint: 'the mini-program AppID, wx + 16 hex digits' });
  // The docs ask gethbinfo for the official account's appid; peers pass the mini-program's. The docs are the default.
  const queryAppIdMode = reader.oneOf(GETHBINFO_APPID_SETTING, ['official', 'miniprogram'] as const, 'official');
  const settings: ClaimSettings = {
    sendsPerSecond: reader.int('PAY_SENDS_PER_SECOND', { fallback: 30, min: 1, max: 1800 }),
    claimLeaseMs: reader.int('RP_CLAIM_LEASE_MS', { fallback: 30_000, min: 5_000, max: 600_000 }),
    miniProgramAppId,
    officialAppId,
  };
  const payout: PayoutSettings = {
    officialAppId,
    miniProgramAppId,
    apiKey,
    clientIp,
    miniProgramQueryAppId: { mode: queryAppIdMode, appId: queryAppIdMode === 'official' ? officialAppId : miniProgramAppId },
    mchId,
    transferNotifyUrl,
    transfersPerSecond: reader.int('PAY_TRANSFERS_PER_SECOND', { fallback: 90, min: 1, max: 1800 }),
  };
  const baseUrl = reader.url('PAY_API_BASE_URL', 'https://api.mch.weixin.qq.com');
  const timeoutMs = reader.int('PAY_TIMEOUT_MS', { fallback: 5_000, min: 200, max: 30_000 });
  const reconcileBatch = reader.int('RP_RECONCILE_BATCH', { fallback: 50, min: 1, max: 500 });
  const wechatApiBaseUrl = reader.url('WX_API_BASE_URL', 'https://api.weixin.qq.com');
  const caPem = reader.optionalString('PAY_CA_PEM');
  const values = {
    p12Base64: reader.optionalString('PAY_MCH_P12_BASE64'),
    passphrase: reader.optionalString('PAY_MCH_P12_PASSPHRASE'),
    certPem: reader.optionalString('PAY_MCH_CERT_PEM'),
    keyPem: reader.optionalString('PAY_MCH_KEY_PEM'),
  };
  if (!isIPv4(clientIp)) reader.string('PAY_CLIENT_IP', { pattern: /^$/, hint: 'an IPv4 address' });
  const v3Values = payV3KeyValuesFromEnv(reader);
  reader.done();
  registerSecret(apiKey);
  const source = values.p12Base64 ? 'PAY_MCH_P12_BASE64' : 'PAY_MCH_CERT_PEM/PAY_MCH_KEY_PEM';
  return {
    settings,
    payout,
    pay: {
      baseUrl, mchId, timeoutMs, caPem,
      certificate: certificateFrom(values, mchId, source),
      v3Keys: payV3KeysFrom(v3Values, mchId, 'the PAY_V3_* environment variables', nowMs),
    },
    reconcileBatch,
    wechatApiBaseUrl,
  };
}

/** The public HTTPS URL of payNotify's route, given to WeChat as each transfer's notify_url. */
export const TRANSFER_NOTIFY_URL_SETTING = 'PAY_V3_NOTIFY_URL';

/** The engine's dependencies for one instance. */
export function createClaimDeps(
  config: ClaimFunctionConfig,
  options: { store: DocumentStore; log: Logger; now?: () => number; invoke?: InvokeFunction },
): ClaimDeps {
  const { pay } = config;
  const now = options.now ?? Date.now;
  const build = async (): Promise<RedPacketPayClient> => {
    if (config.payout.apiKey === '') throw new ConfigError(['PAY_API_KEY is missing: red packets sign with the APIv2 key (商户平台 → 账户中心 → API安全)']);
    const certificate = pay.certificate ?? (await loadMerchantCertificate(options.store, pay.mchId));
    const agent = createMerchantAgent(certificate, pay.caPem === undefined ? {} : { caPem: pay.caPem });
    return createRedPacketPayClient({ baseUrl: pay.baseUrl, mchId: pay.mchId, apiKey: config.payout.apiKey, agent, timeoutMs: pay.timeoutMs });
  };
  const buildTransfers = async (): Promise<TransferBillsClient> => {
    const keys = pay.v3Keys ?? (await loadPayV3Keys(options.store, pay.mchId, now()));
    return createTransferBillsClient({ baseUrl: pay.baseUrl, keys, timeoutMs: pay.timeoutMs, ...(pay.caPem === undefined ? {} : { caPem: pay.caPem }) });
  };
  const context = {
    settings: config.payout,
    log: options.log,
    redPackets: lazyPayClient(pay.mchId, build),
    transfers: lazyTransfersClient(pay.mchId, buildTransfers),
    now,
  };
  const payouts = Object.fromEntries(Object.values(PAYOUTS).map((module) => [module.name, module.create(context)])) as Record<PayoutName, Payout>;
  return {
    store: options.store,
    log: options.log,
    now,
    sleep: (ms: number) => sleep(ms),
    settings: config.settings,
    payouts,
    memory: new ClaimMemory(),
    // The mini-program's token through getToken (WX_MP_APPSECRET is getToken's alone); a short timeout: a user is waiting.
    ...(options.invoke === undefined ? {} : {
      risk: createRiskRanker(
        createWechatHttp({ baseUrl: config.wechatApiBaseUrl, timeoutMs: RISK_TIMEOUT_MS }),
        createTokenReader({ appId: config.settings.miniProgramAppId }, { store: options.store, invoke: options.invoke }),
      ),
    }),
  };
}

/** How long a claim waits for WeChat's risk rank before the campaign's `onError` decides. */
const RISK_TIMEOUT_MS = 3_000;

/**
 * A client built on first use and kept; a failed build (a broken certificate) is not kept, so
 * fixing the database document takes effect without a redeploy.
 */
export function lazyPayClient(mchId: string, build: () => Promise<RedPacketPayClient>): RedPacketPayClient {
  const client = onceSucceeded(build).get;
  return {
    mchId,
    prepare: async () => (await client()).prepare(),
    sendCash: async (request) => (await client()).sendCash(request),
    sendMiniProgram: async (request) => (await client()).sendMiniProgram(request),
    query: async (mchBillno, appId) => (await client()).query(mchBillno, appId),
  };
}

/** The transfer-bills client built on first use and kept; a failed build (no keys yet, broken keys) is not kept. */
export function lazyTransfersClient(mchId: string, build: () => Promise<TransferBillsClient>): TransferBillsClient {
  const built = onceSucceeded(build);
  const client = built.get;
  return {
    mchId,
    prepare: async () => (await client()).prepare(),
    create: async (bill) => (await client()).create(bill),
    queryByOutBillNo: async (outBillNo) => (await client()).queryByOutBillNo(outBillNo),
    queryByTransferBillNo: async (transferBillNo) => (await client()).queryByTransferBillNo(transferBillNo),
    cancel: async (outBillNo) => (await client()).cancel(outBillNo),
    close() {
      void built.peek()?.then((transfers) => transfers.close(), () => undefined);
    },
  };
}
