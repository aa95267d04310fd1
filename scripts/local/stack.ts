import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { COLLECTIONS } from '../../shared/store/port';
import { DIST_DIR } from '../build';
import { hasFixedEgressIp, loadCloudbaseRc, ROOT } from '../lib/cloudbaserc';
import { createLocalCloudBase, type LocalCloudBase } from './cloudbase';
import { createFunctionHost, type Caller, type FunctionHost, type InvocationResult } from './host';
import { createWechatSandbox, type WechatSandbox } from './sandbox';

/**
 * The values the local stack runs with. They are not secrets: the sandbox knows them and
 * nothing else accepts them. Real values live in `.env` and are used only by `npm run deploy`.
 */
export const LOCAL_ACCOUNT = {
  envId: 'local-dev',
  officialAppId: 'wx10ca1000000000a1',
  officialAppSecret: 'LocalSandboxAppSecret0000000001',
  miniProgramAppId: 'wx10ca1000000000b2',
} as const;

/** The "fixed outbound IP" of the local environment: getToken's sockets leave from here. */
export const FIXED_EGRESS_ADDRESS = '127.0.0.2';

export interface StackOptions {
  /** Port on 127.0.0.1; 0 picks a free one (tests). Default: PORT or 3000. */
  port?: number;
  /** Where the local CloudBase keeps its documents; null keeps them in memory only. Default `.local/cloudbase`. */
  dataDir?: string | null;
  instancesPerFunction?: number;
  /** Fire the timer triggers of cloudbaserc.json on their schedule. */
  timers?: boolean;
  tokenMode?: 'stable' | 'classic';
  /** Print function logs (npm start) or keep them only in memory (tests). */
  quiet?: boolean;
  /** Overrides of the sandbox options (quotas, clock). */
  sandbox?: { tokenDailyQuota?: number; stableTokenDailyQuota?: number; ticketDailyQuota?: number };
}

export interface Stack {
  url: string;
  port: number;
  cloudbase: LocalCloudBase;
  host: FunctionHost;
  sandbox: WechatSandbox;
  /** Invokes a function as `caller` through the host (what POST /functions/<name> does). */
  invoke(name: string, data: unknown, caller: Caller): Promise<InvocationResult>;
  close(): Promise<void>;
}

export const DEFAULT_DATA_DIR = path.join(ROOT, '.local', 'cloudbase');

function readBody(req: http.IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    req.resume();
    req.on('end', resolve);
  });
}

/**
 * Starts the local CloudBase, the WeChat sandbox and the function host on one HTTP port:
 * `/admin` (the CloudBase protocol the bundles' wx-server-sdk speaks), `/functions/<name>`,
 * `/__sandbox/*` (control API), `/__local/stats`, and the WeChat API paths themselves.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  let cloudbase: LocalCloudBase | null = null;
  let host: FunctionHost | null = null;
  let sandbox: WechatSandbox | null = null;

  const server = http.createServer((req, res) => {
    const pathname = (req.url ?? '/').split('?')[0] ?? '/';
    const fail = (error: unknown): void => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { type: 'StackError', message: error instanceof Error ? error.message : String(error) } }));
    };
    if (!cloudbase || !host || !sandbox) {
      void readBody(req).then(() => {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end('{"error":{"type":"Starting","message":"the local stack is starting"}}');
      });
      return;
    }
    if (pathname === '/admin') cloudbase.handle(req, res).catch(fail);
    else if (pathname === '/functions' || pathname.startsWith('/functions/')) host.handle(req, res).catch(fail);
    else if (pathname.startsWith('/__sandbox')) sandbox.handleControl(req, res).catch(fail);
    else if (pathname === '/__local/stats') {
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
    server.once('error', reject);
    server.listen(requestedPort, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  const tokenMode = options.tokenMode ?? 'stable';
  const rc = loadCloudbaseRc({
    ENV_ID: LOCAL_ACCOUNT.envId,
    WX_OA_APPID: LOCAL_ACCOUNT.officialAppId,
    WX_OA_APPSECRET: LOCAL_ACCOUNT.officialAppSecret,
    WX_TOKEN_MODE: tokenMode,
    WX_API_BASE_URL: url,
  });

  sandbox = createWechatSandbox({
    accounts: [{ appid: LOCAL_ACCOUNT.officialAppId, secret: LOCAL_ACCOUNT.officialAppSecret }],
    ipWhitelist: [FIXED_EGRESS_ADDRESS],
    ...options.sandbox,
  });
  const dataDir = options.dataDir === undefined ? DEFAULT_DATA_DIR : options.dataDir;
  const hostRef: { current: FunctionHost | null } = { current: null };
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
  host = createFunctionHost({
    distDir: DIST_DIR,
    functions: rc.functions.map((entry) => ({
      name: entry.name,
      envVariables: entry.envVariables,
      timeoutSeconds: entry.timeout,
      triggers: entry.triggers.map(({ name, config }) => ({ name, config })),
      fixedEgressIp: hasFixedEgressIp(entry),
    })),
    instancesPerFunction: options.instancesPerFunction ?? 4,
    envId: LOCAL_ACCOUNT.envId,
    cloudbaseUrl: `${url}/admin`,
    fixedEgressAddress: FIXED_EGRESS_ADDRESS,
    timers: options.timers ?? false,
    ...(options.quiet ? { onLog: () => undefined } : {}),
  });
  hostRef.current = host;

  const running = { cloudbase, host, sandbox };
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
    },
  };
}
