import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DIST_DIR, type BuiltFunction } from '../../scripts/build';
import { loadCloudbaseRc, nodeTargetOf, ROOT, templateVariables } from '../../scripts/lib/cloudbaserc';
import { checkDeploySettings, featuresOff, parseDeployArgs, SERVER_ONLY_COLLECTIONS } from '../../scripts/deploy';
import { perFunctionConfig } from '../../scripts/lib/tcb-cli';
import { COLLECTIONS } from '../../shared/store/port';

// globalSetup has built dist/ with `npm run build`'s code.
const report = JSON.parse(readFileSync(path.join(DIST_DIR, 'build-report.json'), 'utf8')) as BuiltFunction[];
const rc = loadCloudbaseRc({});

describe('cloudbaserc.json', () => {
  it('declares a prebuilt-bundle deploy for every function folder', () => {
    const folders = execFileSync('ls', [path.join(ROOT, 'cloudfunctions')], { encoding: 'utf8' }).trim().split('\n').sort();
    expect(rc.functions.map((fn) => fn.name).sort()).toEqual(folders);
    for (const fn of rc.functions) {
      expect(fn).toMatchObject({ installDependency: false, handler: 'index.main', runtime: expect.stringMatching(/^Nodejs\d+\.\d+$/) });
      expect(fn.timeout).toBeGreaterThanOrEqual(10);
    }
  });

  it('uses 7-field cron timers with valid names', () => {
    for (const fn of rc.functions) {
      for (const trigger of fn.triggers) {
        expect(trigger.config.trim().split(/\s+/)).toHaveLength(7);
        expect(trigger.name).toMatch(/^[A-Za-z][A-Za-z0-9_-]{0,59}$/);
        expect(trigger.type).toBe('timer');
      }
    }
  });

  it('gives the AppSecret to getToken only, and the fixed outbound IP to getToken and the paying function only', () => {
    const rendered = loadCloudbaseRc({ WX_OA_APPSECRET: 'THE-APP-SECRET' });
    for (const fn of rendered.functions) {
      const hasSecret = Object.values(fn.envVariables).includes('THE-APP-SECRET');
      // claimPage exchanges OAuth codes, which needs the service account's AppSecret (sns/oauth2/access_token; no token is fetched with it).
      expect({ name: fn.name, hasSecret }).toEqual({ name: fn.name, hasSecret: fn.name === 'getToken' || fn.name === 'claimPage' });
    }
    const raw = JSON.parse(readFileSync(path.join(ROOT, 'cloudbaserc.json'), 'utf8')) as { functions: Array<{ name: string; envVariables?: Record<string, string> }> };
    expect(raw.functions.find((fn) => fn.name === 'getToken')?.envVariables?.WX_OA_APPSECRET).toBe('{{env.WX_OA_APPSECRET}}');
    // getToken for the official accounts' IP whitelist, sendRedPacket and claimPage for the merchant's API allow-list (transfers).
    expect(rc.functions.filter((fn) => fn.publicNetConfig).map((fn) => fn.name)).toEqual(['getToken', 'sendRedPacket', 'claimPage']);
  });

  it('gives payNotify its HTTP-access route and nothing but the merchant id', () => {
    expect(rc.functions.find((fn) => fn.name === 'payNotify')).toMatchObject({ path: '/pay/notify', envVariables: { PAY_MCH_ID: '' }, triggers: [] });
    expect(Object.keys(rc.functions.find((fn) => fn.name === 'payNotify')!.envVariables)).toEqual(['PAY_MCH_ID']);
  });

  it('documents every templated variable in .env.example', () => {
    const example = readFileSync(path.join(ROOT, '.env.example'), 'utf8');
    for (const name of new Set(['ENV_ID', ...templateVariables()])) expect(example).toMatch(new RegExp(`^${name}=`, 'm'));
  });
});

describe('npm run build', () => {
  it('writes one self-contained bundle per function that loads with no node_modules', () => {
    const isolated = mkdtempSync(path.join(os.tmpdir(), 'bundle-'));
    try {
      for (const fn of report) {
        const target = path.join(isolated, fn.name, 'index.js');
        mkdirSync(path.dirname(target), { recursive: true });
        copyFileSync(fn.outfile, target);
        const out = execFileSync(process.execPath, ['-e', `const m = require(${JSON.stringify(target)}); process.stdout.write(typeof m.main)`], {
          cwd: isolated,
          encoding: 'utf8',
          env: { PATH: process.env.PATH ?? '' },
        });
        expect(out).toBe('function');
      }
    } finally {
      rmSync(isolated, { recursive: true, force: true });
    }
  });

  it('targets the runtime cloudbaserc.json names, and the running Node satisfies it', () => {
    const runtime = rc.functions[0]!.runtime;
    const [major] = nodeTargetOf(runtime).replace('node', '').split('.').map(Number);
    expect(Number(process.versions.node.split('.')[0])).toBe(major);
  });

  it('puts only what each function uses into its bundle', () => {
    const byName = Object.fromEntries(report.map((fn) => [fn.name, fn]));
    for (const name of ['getToken', 'getTicket']) {
      const packages = Object.keys(byName[name]!.packages);
      expect(packages).toEqual(expect.arrayContaining(['wx-server-sdk', 'got', 'shared/credentials/owner.ts']));
      // The credential functions carry none of the signing, Pay XML or nonce code.
      expect(packages.filter((p) => p.startsWith('shared/signing/') || p.startsWith('shared/pay/') || p === 'nanoid')).toEqual([]);
      const bundle = readFileSync(byName[name]!.outfile, 'utf8');
      expect(bundle).not.toContain('cardExtSignature');
    }
    // payNotify verifies, decrypts and records: no HTTP client, no claim engine, no red-packet code.
    const notify = Object.keys(byName.payNotify!.packages);
    expect(notify).toEqual(expect.arrayContaining(['shared/pay/v3/notify.ts', 'shared/claims/settlement.ts', 'shared/http/handler.ts']));
    expect(notify.filter((p) => ['got', 'shared/claims/engine.ts', 'shared/pay/redpacket.ts', 'shared/pay/v3/http.ts', 'shared/claims/config.ts'].includes(p))).toEqual([]);
  });

  it('keeps the console (its pages, weui, uPlot) in opsConsole\'s bundle and out of every other', () => {
    const consoleInputs = (packages: Record<string, number>) => Object.keys(packages).filter((p) => p.startsWith('shared/console/') || p === 'weui' || p === 'uplot' || p.startsWith('browser-script:'));
    // The claim page has weui and a script of its own, and nothing of the console's.
    const claimPage = report.find((entry) => entry.name === 'claimPage')!;
    expect(consoleInputs(claimPage.packages).filter((p) => p !== 'weui' && !p.endsWith('shared/claimpage/assets/claim.ts'))).toEqual([]);
    for (const fn of report.filter((entry) => entry.name !== 'opsConsole' && entry.name !== 'claimPage')) expect(consoleInputs(fn.packages)).toEqual([]);
    const opsConsole = report.find((entry) => entry.name === 'opsConsole')!;
    expect(consoleInputs(opsConsole.packages)).toEqual(expect.arrayContaining(['shared/console/app.ts', 'weui', 'uplot']));
    // weui's stylesheet, uPlot, the pages: about 0.3 MB on top of wx-server-sdk.
    expect(opsConsole.bytes).toBeLessThan(2 * 1024 * 1024);
  });
});

describe('npm run deploy', () => {
  const complete = {
    ENV_ID: 'prod-1a2b3c',
    WX_OA_APPID: 'wx0123456789abcdef',
    WX_OA_APPSECRET: '0123456789abcdef0123456789abcdef',
    WX_TOKEN_MODE: 'stable',
    WX_API_BASE_URL: 'https://api.weixin.qq.com',
    REF_SIGNING_SECRET: 'a-random-server-secret-of-32-chars-or-more',
    CLAIM_PAGE_ORIGIN: 'https://h5.example.com',
  };

  const redPackets = { WX_MP_APPID: 'wx00000000000000b2', PAY_MCH_ID: '1900000109', PAY_API_KEY: '0123456789abcdef0123456789abcdef' };
  const transfers = { WX_MP_APPID: 'wx00000000000000b2', PAY_MCH_ID: '1900000109', PAY_V3_NOTIFY_URL: 'https://prod-1a2b3c-1300000000.ap-shanghai.app.tcloudbase.com/pay/notify' };
  const riskChecks = { WX_MP_APPID: 'wx00000000000000b2', WX_MP_APPSECRET: '0123456789abcdef0123456789abcdef' };
  const riskOff = 'campaigns\' risk checks (getToken keeps the mini-program\'s access_token): WX_MP_APPSECRET not set';

  it('accepts complete settings', () => {
    expect(checkDeploySettings({ ...complete, ...redPackets, ...transfers, ...riskChecks })).toEqual([]);
    expect(featuresOff({ ...complete, ...redPackets, ...transfers, ...riskChecks })).toEqual([]);
  });

  it('deploys without red packets and transfers when none of their settings is given, and says so', () => {
    expect(checkDeploySettings(complete)).toEqual([]);
    expect(featuresOff(complete)).toEqual([
      'red packets (sendRedPacket): WX_MP_APPID, PAY_MCH_ID, PAY_API_KEY not set',
      'merchant transfers (sendRedPacket, payNotify): WX_MP_APPID, PAY_MCH_ID, PAY_V3_NOTIFY_URL not set',
      'campaigns\' risk checks (getToken keeps the mini-program\'s access_token): WX_MP_APPID, WX_MP_APPSECRET not set',
    ]);
  });

  it.each([
    { case: 'red packets without transfers', settings: redPackets, off: ['merchant transfers (sendRedPacket, payNotify): PAY_V3_NOTIFY_URL not set', riskOff] },
    // A merchant admitted after 2026-06-18 has transfers only, and no APIv2 key.
    { case: 'transfers without red packets', settings: transfers, off: ['red packets (sendRedPacket): PAY_API_KEY not set', riskOff] },
    { case: 'red packets with risk checks', settings: { ...redPackets, ...riskChecks }, off: ['merchant transfers (sendRedPacket, payNotify): PAY_V3_NOTIFY_URL not set'] },
  ])('deploys $case, and says which feature is off', ({ settings, off }) => {
    expect(checkDeploySettings({ ...complete, ...settings })).toEqual([]);
    expect(featuresOff({ ...complete, ...settings })).toEqual(off);
  });

  it('keeps the merchant\'s Pay keys from every client (ADMINONLY, like the accounts registry)', () => {
    expect(SERVER_ONLY_COLLECTIONS).toEqual(expect.arrayContaining(['pay_v3_keys', 'pay_merchant_certs', 'wx_accounts']));
  });

  it('stops on half of a feature\'s settings', () => {
    expect(checkDeploySettings({ ...complete, PAY_MCH_ID: '1900000109' })).toEqual([
      "WX_MP_APPID is missing (set it in .env; see .env.example) — or leave all of its feature's settings unset",
      "PAY_API_KEY is missing (set it in .env; see .env.example) — or leave all of its feature's settings unset",
      "PAY_V3_NOTIFY_URL is missing (set it in .env; see .env.example) — or leave all of its feature's settings unset",
    ]);
  });

  it.each([
    { case: 'plain http', url: 'http://prod.example.com/pay/notify' },
    { case: 'a query string', url: 'https://prod.example.com/pay/notify?mch=1' },
    { case: 'another route than payNotify\'s', url: 'https://prod.example.com/notify' },
  ])('refuses a transfer notify URL with $case', ({ url }) => {
    expect(checkDeploySettings({ ...complete, ...transfers, PAY_V3_NOTIFY_URL: url })).toEqual([
      'PAY_V3_NOTIFY_URL must be payNotify\'s public URL: https://<your HTTP access domain>/pay/notify (https, no query string, at most 256 characters)',
    ]);
  });

  it('refuses a REF_SIGNING_SECRET too short to sign with', () => {
    expect(checkDeploySettings({ ...complete, REF_SIGNING_SECRET: 'short' })).toEqual(['REF_SIGNING_SECRET is malformed (32-128 printable characters, the same for signCard and receivePush)']);
  });

  it('names every missing or unusable setting', () => {
    const problems = checkDeploySettings({ ...complete, ENV_ID: '', WX_OA_APPSECRET: undefined, WX_OA_APPID: 'wx"bad' });
    expect(problems).toEqual([
      'ENV_ID is missing (set it in .env; see .env.example)',
      'WX_OA_APPID contains a quote, backslash or newline, which tcb\'s templating cannot carry',
      'WX_OA_APPSECRET is missing (set it in .env; see .env.example)',
    ]);
  });

  it('fails before building or calling tcb when settings are missing, and says which', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'deploy-'));
    const envFile = path.join(dir, 'env');
    writeFileSync(envFile, 'WX_OA_APPID=wx0123456789abcdef\n');
    const bin = fakeTcbCli(dir, { merges: true });
    const env = { PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? '' };
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/deploy.ts', '--dry-run', '--dotenv', envFile], { cwd: ROOT, encoding: 'utf8', env });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/ENV_ID is missing/);
    expect(result.stderr).toMatch(/WX_OA_APPSECRET is missing/);
    // A dry run still checks the rest, so one run names everything to fix.
    expect(result.stdout).toContain('✓ tcb CLI 2.12.10 at ');

    const typo = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/deploy.ts', '--dry-run', '--dotenv', `${envFile}.prod`], { cwd: ROOT, encoding: 'utf8', env });
    expect(typo.status).toBe(1);
    expect(typo.stderr).toContain(`No settings file ${envFile}.prod (given with --dotenv)`);

    writeFileSync(envFile, Object.entries(complete).map(([k, v]) => `${k}=${v}`).join('\n'));
    const ok = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/deploy.ts', '--dry-run', '--dotenv', envFile], { cwd: ROOT, encoding: 'utf8', env });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('tcb fn deploy --all --force --envId prod-1a2b3c');
    expect(ok.stdout + ok.stderr).not.toContain(complete.WX_OA_APPSECRET);
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a malformed ENV_ID, and --env-file (which Node takes for itself) with the flag to use instead', () => {
    expect(checkDeploySettings({ ...complete, ENV_ID: 'My Prod Env' })[0]).toMatch(/^ENV_ID is malformed: .*e\.g\. prod-1a2b3c/);
    // Node 20 reads --env-file wherever it stands on the command line, even after the script: the script may never see it.
    expect(() => parseDeployArgs(['--dry-run', '--env-file', '.env.prod'])).toThrow('--env-file is now --dotenv FILE');
    expect(parseDeployArgs(['--dry-run', '--dotenv', '.env.prod'])).toEqual({ dryRun: true, envFiles: ['.env.prod'], skipCollections: false });
  });

  describe('--dry-run', () => {
    const run = (bin: string | null) => spawnSync(process.execPath, ['--import', 'tsx', 'scripts/deploy.ts', '--dry-run'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { PATH: [bin, path.dirname(process.execPath), '/usr/bin', '/bin'].filter(Boolean).join(path.delimiter), HOME: process.env.HOME ?? '', ...complete },
    });

    it('names the tcb CLI and its version, confirms from its source that it applies functionDefaultConfig, and lists every collection', () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'deploy-'));
      const result = run(fakeTcbCli(dir, { merges: true }));

      expect(result.status).toBe(0);
      expect(result.stdout).toContain('✓ tcb CLI 2.12.10 at ');
      expect(result.stdout).toMatch(/✓ this CLI applies functionDefaultConfig to every function \(it merges it in .*cli\.js:3\)/);
      expect(result.stdout).toContain(`✓ ${Object.values(COLLECTIONS).length} collections the code uses (shared/store/port.ts COLLECTIONS), created by deploy with Tencent Cloud keys: ${Object.values(COLLECTIONS).join(', ')}`);
      rmSync(dir, { recursive: true, force: true });
    });

    it('says when the CLI does not apply functionDefaultConfig, and what deploy does instead', () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'deploy-'));
      const result = run(fakeTcbCli(dir, { merges: false }));

      expect(result.status).toBe(0);
      expect(result.stdout).toContain('! this CLI may not apply functionDefaultConfig');
      expect(result.stdout).toContain('deploy writes those settings into each function (dist/cloudbaserc.json)');
      rmSync(dir, { recursive: true, force: true });
    });

    it('fails without the tcb CLI and says how to install it', () => {
      const result = run(null);

      expect(result.status).toBe(1);
      expect(result.stdout).toContain('✗ the tcb CLI is not installed (npm install -g @cloudbase/cli@2');
    });
  });

  it('writes the defaults into each function for a CLI that does not merge them, the function\'s own settings winning', () => {
    const config = JSON.parse(perFunctionConfig(readFileSync(path.join(ROOT, 'cloudbaserc.json'), 'utf8')));

    expect(config.functionDefaultConfig).toBeUndefined();
    for (const entry of config.functions) expect(entry).toMatchObject({ runtime: 'Nodejs20.19', installDependency: false, handler: 'index.main' });
    expect(config.functions.find((entry: { name: string }) => entry.name === 'opsConsole')).toMatchObject({ memorySize: 256, path: '/console' });
    expect(config.envId).toBe('{{env.ENV_ID}}');
  });
});

/** An npm-style install of a tcb CLI in `dir`: bin/tcb linked to the package, whose source merges functionDefaultConfig or not. */
function fakeTcbCli(dir: string, options: { merges: boolean }): string {
  const pkg = path.join(dir, 'lib', 'node_modules', '@cloudbase', 'cli');
  mkdirSync(path.join(pkg, 'bin'), { recursive: true });
  mkdirSync(path.join(pkg, 'dist', 'standalone'), { recursive: true });
  writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: '@cloudbase/cli', version: '2.12.10' }));
  writeFileSync(path.join(pkg, 'bin', 'tcb'), '#!/bin/sh\necho "CloudBase CLI 2.12.10"\n', { mode: 0o755 });
  // The shape of the statement in 2.12.10's cli.js (written here, not copied).
  const merge = options.merges ? 'config.functions = config.functions.map((rawConfig) => lodash_1.default.merge({}, config.functionDefaultConfig, rawConfig));' : 'config.functions = config.functions;';
  writeFileSync(path.join(pkg, 'dist', 'standalone', 'cli.js'), `// fake\nfunction load(config) {\n    ${merge}\n}\n`);
  const bin = path.join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  symlinkSync(path.join(pkg, 'bin', 'tcb'), path.join(bin, 'tcb'));
  return bin;
}
