import http from 'node:http';
import tcb from '@cloudbase/node-sdk';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { AccountDoc } from '../../shared/accounts/model';
import { seedAccount } from '../../shared/accounts/store';
import { COLLECTIONS, type DocumentStore } from '../../shared/store/port';
import { createNodeSdkStore } from '../../shared/store/nodeSdk';
import { DIST_DIR } from '../build';
import { hasFixedEgressIp, loadCloudbaseRc, ROOT } from '../lib/cloudbaserc';
import { createLocalCloudBase, type LocalCloudBase } from './cloudbase';
import { createFunctionHost, type Caller, type FunctionHost, type InvocationResult } from './host';
import { createWechatSandbox, JSSDK_STAND_IN_PATH, type WechatSandbox } from './sandbox';
import { ensurePayV3TestKeys, ensureTestCertificates } from './certs';
import { PAY_CONTROL_PREFIX, startPaySandbox, type PayBehaviour, type PaySandbox, type PayV3SandboxOptions } from './paysandbox';

/**
 * The values the local stack runs with. They are not secrets: the sandbox knows them and
 * nothing else accepts them. Real values live in `.env` and are used only by `npm run deploy`.
 */
export const LOCAL_ACCOUNT = {
  envId: 'local-dev',
  officialAppId: 'wx10ca1000000000a1',
  officialAppSecret: 'LocalSandboxAppSecret0000000001',
  miniProgramAppId: 'wx10ca1000000000b2',
  /** The local WeChat Pay merchant (商户号) and its APIv2 key; the Pay sandbox knows only these. */
  mchId: '1900000109',
  payApiKey: 'LocalSandboxPayApiKey00000000001',
  /** The merchant's APIv3 key (notify resources are encrypted with it). */
  payApiV3Key: 'LocalSandboxPayApiV3Key000000001',
  /** REF_SIGNING_SECRET: signs the references signCard puts in outer_str (and receivePush verifies). */
  refSigningSecret: 'LocalSandboxRefSigningSecret00000000001',
} as const;

/** The one local Open Platform (开放平台) the accounts and the mini-program are bound to: a user has one unionid across them. */
export const LOCAL_OPEN_PLATFORM_ID = 'local-open-platform';

/** The local mini-program as WeChat knows it (its secret matters only to the sandbox). */
export const LOCAL_MINI_PROGRAM = {
  appId: LOCAL_ACCOUNT.miniProgramAppId,
  appSecret: 'LocalSandboxMiniProgramSecret01',
  name: '本地小程序',
} as const;

/**
 * The local official accounts: the environment's verified service account (WX_OA_APPID, its
 * AppSecret in WX_OA_APPSECRET as before) and two unverified subscription accounts from the
 * registry, one per message mode. Local values, not secrets; `GET /__sandbox/accounts` lists them.
 */
export const LOCAL_OFFICIAL_ACCOUNTS = [
  {
    appId: LOCAL_ACCOUNT.officialAppId, kind: 'service', verified: true, name: '本地服务号', originalId: 'gh_10ca100000a1',
    messageMode: 'safe', appSecret: LOCAL_ACCOUNT.officialAppSecret, pushToken: 'LocalPushTokenA1', encodingAESKey: 'LocalSandboxEncodingAESKeyOfAccountA1000000',
  },
  {
    appId: 'wx10ca1000000000a2', kind: 'subscription', verified: false, name: '本地订阅号甲', originalId: 'gh_10ca100000a2',
    messageMode: 'compatible', appSecret: 'LocalSandboxAppSecret0000000002', pushToken: 'LocalPushTokenA2', encodingAESKey: 'LocalSandboxEncodingAESKeyOfAccountA2000000',
  },
  {
    appId: 'wx10ca1000000000a3', kind: 'subscription', verified: false, name: '本地订阅号乙', originalId: 'gh_10ca100000a3',
    messageMode: 'plain', appSecret: 'LocalSandboxAppSecret0000000003', pushToken: 'LocalPushTokenA3', encodingAESKey: 'LocalSandboxEncodingAESKeyOfAccountA3000000',
  },
] as const;

/** Where WeChat delivers an account's pushes on the local stack (the receivePush route). */
export function localPushUrl(stackUrl: string, appId: string): string {
  return `${stackUrl}/wx/push/${appId}`;
}

/**
 * Writes the local accounts into the registry (`wx_accounts`) where it has never held them: a
 * restart keeps an operator's changes and removals. The environment's account keeps its
 * AppSecret in the environment, as a deployment does.
 */
export async function seedLocalAccounts(store: DocumentStore, nowMs: number = Date.now()): Promise<void> {
  for (const account of LOCAL_OFFICIAL_ACCOUNTS) {
    const doc: AccountDoc = {
      _id: account.appId,
      ...account,
      appSecret: account.appId === LOCAL_ACCOUNT.officialAppId ? null : account.appSecret,
      previousEncodingAESKey: null,
      status: 'active',
      createdAtMs: nowMs,
      updatedAtMs: nowMs,
      removedAtMs: 0,
    };
    await seedAccount(store, doc);
  }
}

/** The "fixed outbound IP" of the local environment: getToken's sockets leave from here. */
export const FIXED_EGRESS_ADDRESS = '127.0.0.2';

export interface StackOptions {
  /** Port on 127.0.0.1; 0 picks a free one (tests). Default: PORT or 3000. */
  port?: number;
  /**
   * Runs once the port and the data folder are ours, before the sandboxes and the host start (`npm start` builds
   * `dist/` here), so a second stack on a busy port or on data in use fails before it touches dist/. Requests meanwhile get 503.
   */
  prepare?: () => Promise<void>;
  /** Where the local CloudBase keeps its documents; null keeps everything (sandboxes too) in memory only. Default `.local/cloudbase`. */
  dataDir?: string | null;
  /**
   * Where the WeChat and Pay sandboxes keep their state (`wechat.json`, `pay.json`), so that what the database holds
   * still exists upstream after a restart. Default: `sandbox` beside `dataDir` (`.local/sandbox`); unused when dataDir is null.
   */
  sandboxDataDir?: string;
  /** Where the sandboxes report a snapshot they had to set aside or could not write; default `console.warn`. */
  onPersistenceProblem?: (message: string) => void;
  instancesPerFunction?: number;
  /** Fire the timer triggers of cloudbaserc.json on their schedule. */
  timers?: boolean;
  tokenMode?: 'stable' | 'classic';
  /** Print function logs (npm start) or keep them only in memory (tests). */
  quiet?: boolean;
  /** Overrides of the sandbox options (quotas, clock). */
  sandbox?: { tokenDailyQuota?: number; stableTokenDailyQuota?: number; ticketDailyQuota?: number };
  /** Where the Pay sandbox's test CA and certificates live (reused when present). Default `.local/certs`, or a temp folder when dataDir is null. */
  certsDir?: string;
  /** The Pay sandbox: the merchant's starting balance and WeChat's limits (defaults: 1,000,000 fen, 30/s, 10 and 100000 fen per user a day). */
  paySandbox?: {
    balanceFen?: number; rateLimitPerSecond?: number; userDailyCount?: number; userDailyAmountFen?: number; sendingDelayMs?: number;
    /** How unkind it is (paid resends, gethbinfo lag and appids); default kind. */
    behaviour?: Partial<PayBehaviour>;
  };
  /** The Pay sandbox's APIv3 transfers: timings, limits, query lag (defaults: WeChat's; notifies to `/pay/notify` of this stack). */
  payTransfers?: Omit<PayV3SandboxOptions, 'merchants' | 'wechatPay'>;
  /** receivePush's settings on this stack (env PUSH_REPLY_BUDGET_MS, PUSH_TIMESTAMP_WINDOW_SECONDS). */
  push?: { replyBudgetMs?: number; timestampWindowSeconds?: number };
  /** sendRedPacket's settings on this stack (env PAY_SENDS_PER_SECOND, RP_CLAIM_LEASE_MS, PAY_TIMEOUT_MS, PAY_GETHBINFO_APPID; the certificate as p12 or PEM). */
  redPacket?: { sendsPerSecond?: number; claimLeaseMs?: number; payTimeoutMs?: number; certificate?: 'p12' | 'pem'; gethbinfoAppid?: 'official' | 'miniprogram' };
  /**
   * Transfers on this stack: where sendRedPacket and payNotify find the APIv3 keys (default the
   * environment, PAY_V3_*; `database`: nothing in it, store them with `campaign.ts v3-keys`), and
   * PAY_TRANSFERS_PER_SECOND.
   */
  transfer?: { keys?: 'environment' | 'database'; transfersPerSecond?: number };
}

export interface Stack {
  url: string;
  port: number;
  cloudbase: LocalCloudBase;
  host: FunctionHost;
  sandbox: WechatSandbox;
  /** The WeChat Pay sandbox (its Pay API on its own HTTPS port; control API under `/__sandbox/pay/`). */
  pay: PaySandbox;
  /** Invokes a function as `caller` through the host (what POST /functions/<name> does). */
  invoke(name: string, data: unknown, caller: Caller): Promise<InvocationResult>;
  close(): Promise<void>;
}

export const DEFAULT_DATA_DIR = path.join(ROOT, '.local', 'cloudbase');
/** The sandboxes' state for `npm start`, beside the database (`.local/sandbox/wechat.json`, `pay.json`). */
export const DEFAULT_SANDBOX_DATA_DIR = path.join(ROOT, '.local', 'sandbox');
/** The Pay sandbox's test CA and certificates for `npm start` (ignored by git with the rest of .local). */
export const DEFAULT_CERTS_DIR = path.join(ROOT, '.local', 'certs');

/** The stack's port is taken; the message says which and how to choose another. */
export class PortInUseError extends Error {
  constructor(readonly port: number) {
    super(
      `port ${port} on 127.0.0.1 is already in use, so the local stack cannot start. If it is another \`npm start\`, `
      + `stop it (Ctrl-C in its terminal); otherwise choose another port: PORT=${port + 1} npm start`,
    );
    this.name = 'PortInUseError';
  }
}

function readBody(req: http.IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    req.resume();
    req.on('end', resolve);
  });
}

function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > 4096) req.destroy(new Error('body too large'));
    });
    req.on('end', () => {
      try {
        resolve(text === '' ? {} : JSON.parse(text));
      } catch (error) {
        reject(error as Error);
      }
    });
    req.on('error', reject);
  });
}

/** The local CloudBase as operator scripts see it (@cloudbase/node-sdk with admin keys). */
function adminStore(stackUrl: string): DocumentStore {
  return createNodeSdkStore(tcb.init({ env: LOCAL_ACCOUNT.envId, secretId: 'local', secretKey: 'local', serviceUrl: `${stackUrl}/admin` } as never).database());
}

/**
 * Starts the local CloudBase, the WeChat sandbox and the function host on one HTTP port:
 * `/admin` (the CloudBase protocol the bundles' wx-server-sdk speaks), `/functions/<name>`,
 * `/__sandbox/*` (control API), `/__local/stats`, and the WeChat API paths themselves.
 *
 * Start-up order: the port first (a busy one fails with {@link PortInUseError} before anything is
 * touched), then the database (which takes its folder's lock), then `prepare`, then the sandboxes
 * restore their state, then the function host. A failure closes what was already started.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  let cloudbase: LocalCloudBase | null = null;
  let host: FunctionHost | null = null;
  let sandbox: WechatSandbox | null = null;
  let pay: PaySandbox | null = null;

  const server = http.createServer((req, res) => {
    const pathname = (req.url ?? '/').split('?')[0] ?? '/';
    const fail = (error: unknown): void => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { type: 'StackError', message: error instanceof Error ? error.message : String(error) } }));
    };
    if (!cloudbase || !host || !sandbox || !pay) {
      void readBody(req).then(() => {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end('{"error":{"type":"Starting","message":"the local stack is starting"}}');
      });
      return;
    }
    if (pathname === '/admin') cloudbase.handle(req, res).catch(fail);
    else if (pathname === '/functions' || pathname.startsWith('/functions/')) host.handle(req, res).catch(fail);
    // HTTP access (a function's cloudbaserc `path`, e.g. /wx/push/<appid>): served by the host as CloudBase's gateway would.
    else if (host.servesHttpPath(pathname)) host.handle(req, res).catch(fail);
    else if (pathname.startsWith(`${PAY_CONTROL_PREFIX}/`)) pay.handleControl(req, res).catch(fail);
    else if (pathname.startsWith('/__sandbox')) sandbox.handleControl(req, res).catch(fail);
    else if (pathname === '/__local/latency') {
      // POST {"delayMs","collection"?,"times"?} slows the local CloudBase; DELETE clears it.
      void readJson(req).then((body) => {
        cloudbase!.setLatency(req.method === 'DELETE' ? null : (body as { delayMs: number; collection?: string; times?: number }));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      }).catch(fail);
    } else if (pathname === '/__local/stats') {
      void readBody(req).then(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ database: cloudbase!.stats(), functions: host!.stats() }));
      });
    } else sandbox.handleApi(req, res).catch(fail);
  });
  // Function instances keep connections open; a long keep-alive avoids reconnect noise in benchmarks.
  server.keepAliveTimeout = 30_000;

  const requestedPort = options.port ?? Number(process.env.PORT ?? 3000);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'EADDRINUSE' ? new PortInUseError(requestedPort) : error));
    server.listen(requestedPort, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  const closeStarted = async (): Promise<void> => {
    await host?.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await cloudbase?.close();
    await pay?.close();
    await sandbox?.close();
  };
  const tokenMode = options.tokenMode ?? 'stable';
  const rc = loadCloudbaseRc({
    ENV_ID: LOCAL_ACCOUNT.envId,
    WX_OA_APPID: LOCAL_ACCOUNT.officialAppId,
    WX_OA_APPSECRET: LOCAL_ACCOUNT.officialAppSecret,
    WX_TOKEN_MODE: tokenMode,
    WX_API_BASE_URL: url,
    WX_MP_APPID: LOCAL_ACCOUNT.miniProgramAppId,
    WX_MP_APPSECRET: LOCAL_MINI_PROGRAM.appSecret,
    PAY_MCH_ID: LOCAL_ACCOUNT.mchId,
    PAY_API_KEY: LOCAL_ACCOUNT.payApiKey,
    // What a bill names as its notify_url (WeChat wants https); the Pay sandbox delivers to this stack's /pay/notify whatever it says.
    PAY_V3_NOTIFY_URL: `https://127.0.0.1:${port}/pay/notify`,
    REF_SIGNING_SECRET: LOCAL_ACCOUNT.refSigningSecret,
    // The claim pages are served by this stack; plain http is allowed for loopback only.
    CLAIM_PAGE_ORIGIN: url,
  });
  const dataDir = options.dataDir === undefined ? DEFAULT_DATA_DIR : options.dataDir;
  const sandboxDataDir = dataDir === null
    ? null
    : options.sandboxDataDir ?? (options.dataDir === undefined ? DEFAULT_SANDBOX_DATA_DIR : path.join(path.dirname(dataDir), 'sandbox'));
  const snapshotFile = (name: string) => (sandboxDataDir === null
    ? undefined
    : { file: path.join(sandboxDataDir, `${name}.json`), ...(options.onPersistenceProblem ? { report: options.onPersistenceProblem } : {}) });
  const certsDir = options.certsDir ?? (dataDir === null ? path.join(os.tmpdir(), 'wx-local-stack-certs') : DEFAULT_CERTS_DIR);
  const hostRef: { current: FunctionHost | null } = { current: null };

  try {
    // The database first: it takes its folder's lock, so a second stack on the same data stops before anything else.
    cloudbase = await createLocalCloudBase({
      ...(dataDir === null ? {} : { dataDir }),
      invokeFunction: async ({ name, data, source }) => {
        const result = await hostRef.current!.invoke(name, data, { type: 'function', source });
        return result.ok ? { ok: true, result: result.result } : { ok: false, message: result.message };
      },
    });
    for (const collection of Object.values(COLLECTIONS)) {
      if (!cloudbase.listCollections().includes(collection)) await cloudbase.createCollection(collection);
    }
    // After the lock, before the rest: a second stack on the same data stops before it rebuilds dist/ under the first.
    await options.prepare?.();
    sandbox = createWechatSandbox({
      accounts: [
        ...LOCAL_OFFICIAL_ACCOUNTS.map((account) => ({
          appid: account.appId,
          secret: account.appSecret,
          kind: account.kind,
          verified: account.verified,
          originalId: account.originalId,
          name: account.name,
          push: { token: account.pushToken, encodingAESKey: account.encodingAESKey, mode: account.messageMode, url: localPushUrl(url, account.appId) },
          openPlatformId: LOCAL_OPEN_PLATFORM_ID,
          // 网页授权域名 and JS接口安全域名: this stack's host (a real account lists the claim page's domain).
          webDomains: [new URL(url).host],
        })),
        { appid: LOCAL_MINI_PROGRAM.appId, secret: LOCAL_MINI_PROGRAM.appSecret, kind: 'miniprogram' as const, name: LOCAL_MINI_PROGRAM.name, openPlatformId: LOCAL_OPEN_PLATFORM_ID },
      ],
      ipWhitelist: [FIXED_EGRESS_ADDRESS],
      ...options.sandbox,
    }, snapshotFile('wechat'));
    const certs = await ensureTestCertificates(certsDir, { mchId: LOCAL_ACCOUNT.mchId });
    const v3Keys = await ensurePayV3TestKeys(certsDir);
    const { balanceFen, ...payLimits } = options.paySandbox ?? {};
    pay = await startPaySandbox({
      merchants: [{
        mchId: LOCAL_ACCOUNT.mchId,
        apiKey: LOCAL_ACCOUNT.payApiKey,
        balanceFen: balanceFen ?? 1_000_000,
        appIds: { officialAccount: [LOCAL_ACCOUNT.officialAppId], miniProgram: [LOCAL_ACCOUNT.miniProgramAppId] },
      }],
      tls: { caPem: certs.caPem, certPem: certs.serverCertPem, keyPem: certs.serverKeyPem },
      ...payLimits,
      // APIv3 signs with the same merchant API certificate; WeChat's side is the sandbox's key pair,
      // and notifies go to this stack's payNotify route (HTTP access `/pay/notify`).
      v3: {
        merchants: [{ mchId: LOCAL_ACCOUNT.mchId, apiV3Key: LOCAL_ACCOUNT.payApiV3Key, merchantCertPem: certs.merchantCertPem, balanceFen: balanceFen ?? 1_000_000 }],
        wechatPay: {
          publicKeyId: v3Keys.publicKeyId,
          privateKeyPem: v3Keys.privateKeyPem,
          platformCertPem: v3Keys.platformCertPem,
          platformKeyPem: v3Keys.platformKeyPem,
        },
        notifyUrl: `${url}/pay/notify`,
        ...options.payTransfers,
      },
    }, snapshotFile('pay'));

    // Only the local stack trusts the sandbox's CA and hands the certificate over in the environment;
    // a deployment leaves PAY_CA_PEM unset and keeps the certificate in the database (README).
    const redPacket = options.redPacket ?? {};
    const localPayEnv: Record<string, string> = {
      PAY_API_BASE_URL: pay.url,
      PAY_CA_PEM: certs.caPem,
      PAY_SENDS_PER_SECOND: String(redPacket.sendsPerSecond ?? 30),
      PAY_TIMEOUT_MS: String(redPacket.payTimeoutMs ?? 2000),
      RP_CLAIM_LEASE_MS: String(redPacket.claimLeaseMs ?? 30_000),
      ...(redPacket.gethbinfoAppid === undefined ? {} : { PAY_GETHBINFO_APPID: redPacket.gethbinfoAppid }),
      ...(redPacket.certificate === 'pem'
        ? { PAY_MCH_CERT_PEM: certs.merchantCertPem, PAY_MCH_KEY_PEM: certs.merchantKeyPem }
        : { PAY_MCH_P12_BASE64: certs.merchantP12Base64 }),
    };
    // The APIv3 keys as a deployment could set them in the console (PEM text); `database` leaves them to `campaign.ts v3-keys`.
    const transfer = options.transfer ?? {};
    const localV3Env: Record<string, string> = transfer.keys === 'database' ? {} : {
      PAY_V3_MCH_KEY_PEM: certs.merchantKeyPem,
      PAY_V3_MCH_CERT_PEM: certs.merchantCertPem,
      PAY_V3_API_KEY: LOCAL_ACCOUNT.payApiV3Key,
      PAY_V3_PUBLIC_KEY_ID: v3Keys.publicKeyId,
      PAY_V3_PUBLIC_KEY_PEM: v3Keys.publicKeyPem,
    };
    if (transfer.transfersPerSecond !== undefined) localPayEnv.PAY_TRANSFERS_PER_SECOND = String(transfer.transfersPerSecond);
        const localPushEnv: Record<string, string> = {
      ...(options.push?.replyBudgetMs === undefined ? {} : { PUSH_REPLY_BUDGET_MS: String(options.push.replyBudgetMs) }),
      ...(options.push?.timestampWindowSeconds === undefined ? {} : { PUSH_TIMESTAMP_WINDOW_SECONDS: String(options.push.timestampWindowSeconds) }),
    };
    // The claim page pays like sendRedPacket; its browsers authorize at this stack's WeChat sandbox and load its JS-SDK stand-in.
    const localClaimPageEnv: Record<string, string> = { ...localPayEnv, ...localV3Env, WX_OAUTH_BASE_URL: url, JSSDK_SCRIPT_URL: `${url}${JSSDK_STAND_IN_PATH}` };
    const localEnvOf: Record<string, Record<string, string>> = {
      sendRedPacket: { ...localPayEnv, ...localV3Env }, payNotify: localV3Env, receivePush: localPushEnv, claimPage: localClaimPageEnv,
    };
    host = createFunctionHost({
      distDir: DIST_DIR,
      functions: rc.functions.map((entry) => ({
        name: entry.name,
        envVariables: { ...entry.envVariables, ...localEnvOf[entry.name] },
        timeoutSeconds: entry.timeout,
        triggers: entry.triggers.map(({ name, config }) => ({ name, config })),
        fixedEgressIp: hasFixedEgressIp(entry),
        ...(entry.path === undefined ? {} : { httpPath: entry.path }),
      })),
      instancesPerFunction: options.instancesPerFunction ?? 4,
      envId: LOCAL_ACCOUNT.envId,
      cloudbaseUrl: `${url}/admin`,
      fixedEgressAddress: FIXED_EGRESS_ADDRESS,
      timers: options.timers ?? false,
      ...(options.quiet ? { onLog: () => undefined } : {}),
    });
    hostRef.current = host;
    // Through the /admin protocol like an operator's script, now that the stack answers requests.
    await seedLocalAccounts(adminStore(url));
  } catch (error) {
    await closeStarted();
    throw error;
  }

  const running = { cloudbase, host, sandbox, pay };
  return {
    url,
    port,
    ...running,
    invoke: (name, data, caller) => running.host.invoke(name, data, caller),
    async close() {
      await running.host.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await running.cloudbase.close();
      await running.pay.close();
      await running.sandbox.close();
    },
  };
}
