import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { envReader, readTokenFetcherConfig } from '../shared/config';
import { TRANSFER_NOTIFY_URL_SETTING } from '../shared/claims/config';
import { expectNotifyUrl } from '../shared/pay/v3/transfer';
import { REF_SIGNING_SECRET_PATTERN } from '../shared/cards/reference';
import { COLLECTIONS } from '../shared/store/port';
import { buildFunctions, DIST_DIR } from './build';
import { cloudDatabaseAcl, type DatabaseAclApi } from './lib/database-acl';
import { RC_PATH, ROOT, templateVariables } from './lib/cloudbaserc';
import { findTcbCli, functionDefaultConfigSupport, perFunctionConfig, type TcbCli } from './lib/tcb-cli';
import { applyFunctionSecurityRules, functionSecurityRules, RULES_CONSOLE_PATH, type FunctionRules } from './lib/function-rules';

/** Variables cloudbaserc.json may leave unset: their defaults are passed to tcb explicitly. */
const DEFAULTS: Record<string, string> = {
  WX_TOKEN_MODE: 'stable',
  WX_API_BASE_URL: 'https://api.weixin.qq.com',
  CARD_RATE_LIMIT_PER_MINUTE: '20',
};

/**
 * Settings of optional features: deploy goes ahead without them, and says what will not work.
 * sendRedPacket answers CONFIG_INVALID until they are set (cards and credentials do not need them).
 * Red packets and transfers share the merchant and the mini-program; a merchant admitted after
 * 2026-06-18 has transfers only, so each is on or off by the settings only it has.
 */
export const OPTIONAL_FEATURES: Record<string, { feature: string; variables: string[] }> = {
  redPackets: { feature: 'red packets (sendRedPacket)', variables: ['WX_MP_APPID', 'PAY_MCH_ID', 'PAY_API_KEY'] },
  transfers: { feature: 'merchant transfers (sendRedPacket, payNotify)', variables: ['WX_MP_APPID', 'PAY_MCH_ID', TRANSFER_NOTIFY_URL_SETTING] },
  claimPages: { feature: 'claim pages (claimPage, claimPageToken, and follow campaigns\' links in receivePush)', variables: ['CLAIM_PAGE_ORIGIN'] },
  riskChecks: { feature: 'campaigns\' risk checks (getToken keeps the mini-program\'s access_token)', variables: ['WX_MP_APPID', 'WX_MP_APPSECRET'] },
};
const OPTIONAL = new Set(Object.values(OPTIONAL_FEATURES).flatMap((feature) => feature.variables));
/** Settings a feature may do without (the claim pages' extra hosts and verification files). */
const MAY_BE_UNSET: ReadonlySet<string> = new Set(['CLAIM_PAGE_HOSTS', 'WX_VERIFY_FILES']);

/**
 * Whether each feature is off: none of its settings given, or another feature that shares settings
 * with it complete and none of the settings only this one has given. Anything between is half a
 * feature, worth stopping for.
 */
function offFeatures(env: Record<string, string | undefined>): Set<string> {
  const features = Object.entries(OPTIONAL_FEATURES);
  const complete = features.filter(([, { variables }]) => variables.every((name) => env[name]));
  return new Set(features.filter(([key, { variables }]) => {
    if (variables.every((name) => !env[name])) return true;
    const own = variables.filter((name) => features.every(([other, entry]) => other === key || !entry.variables.includes(name)));
    return complete.some(([other, entry]) => other !== key && entry.variables.some((name) => variables.includes(name))) && own.every((name) => !env[name]);
  }).map(([key]) => key));
}

/** The features left off, and the settings that would turn each on. */
export function featuresOff(given: Record<string, string | undefined>): string[] {
  const off = offFeatures(given);
  return Object.entries(OPTIONAL_FEATURES)
    .filter(([key]) => off.has(key))
    .map(([, { feature, variables }]) => `${feature}: ${variables.filter((name) => !given[name]).join(', ')} not set`);
}

interface Args {
  dryRun: boolean;
  envFiles: string[];
  skipCollections: boolean;
}

const USAGE = 'Usage: npm run deploy -- [--dry-run] [--dotenv FILE]… [--skip-collections]';

export function parseDeployArgs(argv: string[]): Args {
  const args: Args = { dryRun: false, envFiles: [], skipCollections: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--dry-run') args.dryRun = true;
    else if (arg === '--skip-collections') args.skipCollections = true;
    else if (arg === '--dotenv' && argv[i + 1]) args.envFiles.push(argv[(i += 1)]!);
    // Node reads --env-file itself (node --env-file=…), so the settings file has its own flag.
    else if (arg === '--env-file' || arg?.startsWith('--env-file=')) throw new Error(`--env-file is now --dotenv FILE (Node takes --env-file for itself). ${USAGE}`);
    else throw new Error(`Unknown argument ${arg}. ${USAGE}`);
  }
  if (args.envFiles.length === 0) args.envFiles = ['.env', '.env.local'];
  return args;
}

/**
 * .env files, then the process environment on top (as tcb itself merges them). The default files
 * may be absent; a file named with --dotenv must exist (a typo would otherwise deploy without it).
 */
function collectEnv(envFiles: string[], named: boolean): Record<string, string | undefined> {
  const merged: Record<string, string | undefined> = { ...DEFAULTS };
  for (const file of envFiles) {
    const full = path.resolve(ROOT, file);
    if (existsSync(full)) Object.assign(merged, parseEnv(readFileSync(full, 'utf8')));
    else if (named) throw new Error(`No settings file ${file} (given with --dotenv). ${USAGE}`);
  }
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && value !== '') merged[key] = value;
  return merged;
}

/**
 * A CloudBase environment id: `<name>-<suffix>`, lower-case. node-sdk puts it into the API host
 * name only when it matches /^[a-z0-9_-]{1,40}$/ (reference/cloudbase.md §4.4); the console
 * generates ids that start with a letter or digit.
 */
export const ENV_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{2,39}$/;

/** Every problem with the settings, named; nothing is deployed while one remains. */
// Unset and empty both mean "not given": the default applies, or the setting is reported missing.
export function checkDeploySettings(given: Record<string, string | undefined>): string[] {
  const env = { ...DEFAULTS, ...Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined && value !== '')) };
  const problems: string[] = [];
  const offKeys = offFeatures(env);
  // A setting may go unset when every feature that needs it is off.
  const needed = new Set(Object.entries(OPTIONAL_FEATURES).filter(([key]) => !offKeys.has(key)).flatMap(([, { variables }]) => variables));
  const off = new Set([...OPTIONAL].filter((name) => !needed.has(name)));
  for (const name of new Set(['ENV_ID', ...templateVariables()])) {
    const value = env[name];
    if (value === undefined || value.trim() === '') {
      // A feature left off entirely is fine; half its settings is a mistake worth stopping for.
      if (!off.has(name) && !MAY_BE_UNSET.has(name)) problems.push(`${name} is missing (set it in .env; see .env.example)${OPTIONAL.has(name) ? ' — or leave all of its feature\'s settings unset' : ''}`);
    }
    // tcb substitutes values as raw text inside JSON: these characters would corrupt it.
    else if (/["\\\n\r]/.test(value)) problems.push(`${name} contains a quote, backslash or newline, which tcb's templating cannot carry`);
  }
  if (env.ENV_ID !== undefined && env.ENV_ID.trim() !== '' && !ENV_ID_PATTERN.test(env.ENV_ID)) {
    problems.unshift(`ENV_ID is malformed: it is the environment's id, e.g. prod-1a2b3c (lower-case letters, digits, - and _; 云开发控制台 → 环境 → 环境ID), not its name`);
  }
  const notifyUrl = env[TRANSFER_NOTIFY_URL_SETTING];
  if (notifyUrl) {
    try {
      expectNotifyUrl(notifyUrl);
      if (!new URL(notifyUrl).pathname.endsWith('/pay/notify')) throw new Error('path');
    } catch {
      problems.push(`${TRANSFER_NOTIFY_URL_SETTING} must be payNotify's public URL: https://<your HTTP access domain>/pay/notify (https, no query string, at most 256 characters)`);
    }
  }
  const origin = env.CLAIM_PAGE_ORIGIN;
  if (origin && !/^https:\/\/[a-z0-9.-]+(:[0-9]+)?$/i.test(origin)) {
    problems.push('CLAIM_PAGE_ORIGIN must be the claim page\'s https://<domain> (no path): a custom domain bound to HTTP access, also the 网页授权域名 and JS接口安全域名');
  }
  const reader = envReader(env);
  readTokenFetcherConfig(reader);
  if (env.REF_SIGNING_SECRET) reader.string('REF_SIGNING_SECRET', { pattern: REF_SIGNING_SECRET_PATTERN, hint: '32-128 printable characters, the same for signCard and receivePush' });
  try {
    reader.done();
  } catch (error) {
    for (const problem of (error as { problems?: string[] }).problems ?? []) {
      if (!problems.some((known) => known.startsWith(problem.split(' ')[0]!))) problems.push(problem);
    }
  }
  return problems;
}

const TCB_INSTALL = 'npm install -g @cloudbase/cli@2, then tcb login (or set TENCENTCLOUD_SECRETID/SECRETKEY)';

/**
 * What `--dry-run` checks, each as a line: the tcb CLI and its version, whether that version
 * applies functionDefaultConfig (read in its source), and every collection the code uses. Returns
 * false when something would stop a deploy.
 */
export function dryRunReport(cli: TcbCli | null, print: (line: string) => void): boolean {
  if (cli === null) {
    print(`✗ the tcb CLI is not installed (${TCB_INSTALL})`);
  } else {
    print(`✓ tcb CLI ${cli.version ?? '(version unknown)'} at ${cli.bin}`);
    const support = functionDefaultConfigSupport(cli);
    print(support.applied
      ? `✓ this CLI applies functionDefaultConfig to every function (it merges it in ${support.file}:${support.line})`
      : `! this CLI may not apply functionDefaultConfig (${support.reason}): deploy writes those settings into each function (dist/cloudbaserc.json)`);
  }
  const collections = Object.values(COLLECTIONS);
  print(`✓ ${collections.length} collections the code uses (shared/store/port.ts COLLECTIONS), created by deploy with Tencent Cloud keys: ${collections.join(', ')}`);
  return cli !== null;
}

/** The config file tcb gets: cloudbaserc.json itself, or a copy with the defaults written into each function. */
function configFileFor(cli: TcbCli): string | null {
  if (functionDefaultConfigSupport(cli).applied) return null;
  mkdirSync(DIST_DIR, { recursive: true });
  const file = `${DIST_DIR}/cloudbaserc.json`;
  writeFileSync(file, perFunctionConfig(readFileSync(RC_PATH, 'utf8')));
  return file;
}

async function ensureCollections(env: Record<string, string | undefined>): Promise<void> {
  if (!env.TENCENTCLOUD_SECRETID || !env.TENCENTCLOUD_SECRETKEY) {
    console.log(
      `Collections: TENCENTCLOUD_SECRETID/SECRETKEY are not set, so create these collections in the CloudBase console ` +
        `(数据库 → 新建集合) if they do not exist yet: ${Object.values(COLLECTIONS).join(', ')}`,
    );
    return;
  }
  const tcb = (await import('@cloudbase/node-sdk')).default;
  const app = tcb.init({ env: env.ENV_ID!, secretId: env.TENCENTCLOUD_SECRETID, secretKey: env.TENCENTCLOUD_SECRETKEY });
  const db = app.database();
  for (const name of Object.values(COLLECTIONS)) {
    const result = (await db.createCollection(name)) as { code?: string; message?: string };
    // An existing collection is what we want; only other errors stop the deploy.
    if (result?.code && !/ALREADY_EXIST/i.test(`${result.code} ${result.message ?? ''}`)) {
      throw new Error(`Could not create collection ${name}: ${result.code} ${result.message ?? ''}`);
    }
    console.log(`collection ${name}: ready`);
  }
}

/** The region of the TCB API calls that set the rules and check permissions (the environment's region). */
const DEFAULT_REGION = 'ap-shanghai';

/**
 * The accounts registry holds AppSecrets, push tokens and EncodingAESKeys: only server SDKs may
 * read it. CloudBase's 仅管理端可读写 (ADMINONLY) keeps every mini-program and web client out;
 * functions and operator scripts are the "管理端" and are not bound by it.
 */
export const ACCOUNTS_ACL = 'ADMINONLY';

/** What to do by hand when deploy cannot check or set the permission itself. */
export const ACCOUNTS_ACL_HOWTO =
  `set the database permission of collection ${COLLECTIONS.accounts} to 仅管理端可读写 (ADMINONLY): ` +
  `云开发控制台 → 数据库 → ${COLLECTIONS.accounts} → 数据权限 → 仅管理端可读写, ` +
  `or \`tcb permission set collection:${COLLECTIONS.accounts} --level adminonly\` with the tcb CLI 3+`;

/**
 * Makes sure no client can read the accounts registry: reads the collection's permission and
 * sets it to ADMINONLY when it is anything else (a custom security rule included), then reads it
 * back. Returns what it found and did; throws when the permission does not end up ADMINONLY.
 */
export async function ensureAccountsPermission(api: DatabaseAclApi, collection: string = COLLECTIONS.accounts): Promise<string> {
  const found = await api.describe(collection);
  if (found === ACCOUNTS_ACL) return `collection ${collection}: permission ${ACCOUNTS_ACL} (仅管理端可读写), no client can read it`;
  await api.modify(collection, ACCOUNTS_ACL);
  const after = await api.describe(collection);
  if (after !== ACCOUNTS_ACL) {
    throw new Error(`collection ${collection} still has permission ${after} after setting ${ACCOUNTS_ACL}: ${aclHowto(collection)}`);
  }
  return `collection ${collection}: permission was ${found}, set to ${ACCOUNTS_ACL} (仅管理端可读写)`;
}

/**
 * Collections no client may read, ADMINONLY like the accounts registry: the console's operators
 * (password hashes), sessions, sign-in limits and audit trail; the merchant's Pay keys (the
 * APIv3 keys and the merchant API private key in `pay_v3_keys`, the APIv2 certificate in
 * `pay_merchant_certs`); the pushes and the follow ledger (who follows which account, their openids
 * and unionids); the claim pages' links, sessions and page tokens. CloudBase's default for a new collection lets every client read it.
 */
export const SERVER_ONLY_COLLECTIONS: readonly string[] = [
  COLLECTIONS.accounts, COLLECTIONS.consoleOperators, COLLECTIONS.consoleSessions, COLLECTIONS.consoleSignInLimits, COLLECTIONS.consoleAudit,
  COLLECTIONS.payV3Keys, COLLECTIONS.payMerchantCerts,
  COLLECTIONS.pushEvents, COLLECTIONS.follows, COLLECTIONS.followCounters, COLLECTIONS.channels,
  COLLECTIONS.claimLinks, COLLECTIONS.claimSessions, COLLECTIONS.claimPageTokens,
];

function aclHowto(collection: string): string {
  return ACCOUNTS_ACL_HOWTO.split(COLLECTIONS.accounts).join(collection);
}

async function checkAccountsPermission(env: Record<string, string | undefined>): Promise<void> {
  if (!env.TENCENTCLOUD_SECRETID || !env.TENCENTCLOUD_SECRETKEY) {
    for (const collection of SERVER_ONLY_COLLECTIONS) console.log(`Database permission NOT CHECKED (TENCENTCLOUD_SECRETID/SECRETKEY are not set): ${aclHowto(collection)}.`);
    return;
  }
  const api = cloudDatabaseAcl({
    envId: env.ENV_ID!,
    credentials: { secretId: env.TENCENTCLOUD_SECRETID, secretKey: env.TENCENTCLOUD_SECRETKEY, ...(env.TENCENTCLOUD_SESSIONTOKEN ? { sessionToken: env.TENCENTCLOUD_SESSIONTOKEN } : {}) },
    region: env.TENCENTCLOUD_REGION || DEFAULT_REGION,
  });
  for (const collection of SERVER_ONLY_COLLECTIONS) {
    try {
      console.log(await ensureAccountsPermission(api, collection));
    } catch (error) {
      throw new Error(`Could not make sure no client can read ${collection} (${(error as Error).message}). Before using it, ${aclHowto(collection)}.`);
    }
  }
}

/**
 * Applies the function security rules with the Tencent Cloud keys, or prints them and where to
 * paste them. Answers false when they could not be applied (the deploy then fails: without
 * them a client may invoke any function, and the handlers' own checks are the only lock).
 */
export async function ensureFunctionSecurityRules(
  env: Record<string, string | undefined>,
  options: { rules?: FunctionRules; print?: (line: string) => void; endpoint?: string } = {},
): Promise<boolean> {
  const rules = options.rules ?? functionSecurityRules();
  const print = options.print ?? console.log;
  const text = JSON.stringify(rules, null, 2);
  if (!env.TENCENTCLOUD_SECRETID || !env.TENCENTCLOUD_SECRETKEY) {
    print(`Function security rules: TENCENTCLOUD_SECRETID/SECRETKEY are not set, so set them by hand in ${RULES_CONSOLE_PATH}:\n${text}`);
    return true;
  }
  try {
    await applyFunctionSecurityRules(rules, {
      envId: env.ENV_ID!,
      credentials: { secretId: env.TENCENTCLOUD_SECRETID, secretKey: env.TENCENTCLOUD_SECRETKEY, ...(env.TENCENTCLOUD_SESSIONTOKEN ? { sessionToken: env.TENCENTCLOUD_SESSIONTOKEN } : {}) },
      region: env.TENCENTCLOUD_REGION || DEFAULT_REGION,
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    });
    print(`function security rules: applied (${Object.keys(rules).filter((name) => name !== '*').join(', ')} callable by signed-in users; nothing else)`);
    return true;
  } catch (error) {
    print(`The function security rules could NOT be applied (${(error as Error).message}). Set them by hand in ${RULES_CONSOLE_PATH}:\n${text}`);
    return false;
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const args = parseDeployArgs(argv);
  const env = collectEnv(args.envFiles, argv.includes('--dotenv'));
  const problems = checkDeploySettings(env);
  if (problems.length > 0) {
    console.error(`Not deploying; fix these settings first:\n  - ${problems.join('\n  - ')}`);
    // A dry run goes on to check the rest, so one run names everything to fix.
    if (args.dryRun) dryRunReport(findTcbCli(ROOT, env.PATH ?? process.env.PATH), (line) => console.log(line));
    process.exit(1);
  }
  for (const notice of featuresOff(env)) console.log(`note: ${notice}; that feature stays off (its claims answer CONFIG_INVALID) until they are`);
  if (!offFeatures(env).has('transfers')) {
    console.log(
      'note: transfers read the APIv3 keys from the database unless PAY_V3_* are set in the functions\' environment: store them once with ' +
        '`npm run campaign -- v3-keys …` (checked before they are written), and put sendRedPacket\'s fixed outbound IP into ' +
        '商户平台 → 产品中心 → 商家转账 → 前往功能 → 接口安全 (README "Merchant transfers").',
    );
  }
  const command = ['fn', 'deploy', '--all', '--force', '--envId', env.ENV_ID!];
  const cli = findTcbCli(ROOT, env.PATH ?? process.env.PATH);
  if (args.dryRun) {
    console.log(`Deploy dry run: nothing is built or changed.\n✓ settings: ENV_ID ${env.ENV_ID}, official account ${env.WX_OA_APPID}`);
    const ready = dryRunReport(cli, (line) => console.log(line));
    console.log(`would build and run: tcb ${command.join(' ')}`);
    console.log(`then create the collections and check that ${SERVER_ONLY_COLLECTIONS.join(', ')} have permission ${ACCOUNTS_ACL} (仅管理端可读写)`);
    console.log(`and set the function security rules (${RULES_CONSOLE_PATH}):\n${JSON.stringify(functionSecurityRules(), null, 2)}`);
    if (!ready) process.exit(1);
    return;
  }
  if (cli === null) {
    console.error(`The tcb CLI is not installed: ${TCB_INSTALL}.`);
    process.exit(1);
  }
  const tcb = cli.bin;
  await buildFunctions();
  const configFile = configFileFor(cli);
  if (configFile !== null) command.push('--config-file', configFile);
  const childEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) childEnv[key] = value;
  const result = spawnSync(tcb, command, { cwd: ROOT, env: childEnv, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`tcb fn deploy failed (exit ${result.status ?? result.signal}). Nothing else was changed.`);
    process.exit(1);
  }
  if (!args.skipCollections) {
    await ensureCollections(env);
    await checkAccountsPermission(env);
  }
  if (!(await ensureFunctionSecurityRules(env))) process.exit(1);
  console.log(
    `\nDeployed. Check that getToken has the fixed outbound IP: CloudBase console → 云函数 → getToken → 函数配置 → 固定出口IP, ` +
      `and put the IP shown there into the official account's IP whitelist (公众平台 → 设置与开发 → 基本配置 → IP白名单). ` +
      `sendRedPacket has it too (one IP per environment): for transfers, the same IP goes into the merchant's API allow-list.`,
  );
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
