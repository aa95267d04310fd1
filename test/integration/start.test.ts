import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { DIST_DIR } from '../../scripts/build';
import { startBanner } from '../../scripts/lib/banner';
import { loadCloudbaseRc, ROOT } from '../../scripts/lib/cloudbaserc';

// `npm start` while another one runs: it must say which port is taken and how to pick another, and leave dist/ alone.
function distState(): Record<string, number> {
  const state: Record<string, number> = {};
  for (const entry of fs.readdirSync(DIST_DIR, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      const file = path.join(entry.parentPath, entry.name);
      state[path.relative(DIST_DIR, file)] = fs.statSync(file).mtimeMs;
    }
  }
  return state;
}

describe('npm start on a busy port', () => {
  let holder: net.Server;
  let port: number;
  beforeAll(async () => {
    holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    port = (holder.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => holder.close(() => resolve())));

  it('fails at once with a message naming the port and PORT=, before it builds anything', async () => {
    const before = distState();

    const outcome = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port) },
        // A start that got past the port would run until stopped; this bounds the test instead of hanging it.
        timeout: 60_000,
      }, (error, stdout, stderr) => resolve({ code: child.exitCode ?? (error ? -1 : 0), stdout, stderr }));
    });

    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
    expect(outcome.stderr).toContain(`PORT=${port + 1} npm start`);
    expect(outcome.stdout).not.toMatch(/built /);
    expect(distState()).toEqual(before);
  }, 70_000);
});

describe('the start banner', () => {
  const rc = loadCloudbaseRc({});
  const banner = startBanner({
    url: 'http://127.0.0.1:3000', payUrl: 'https://127.0.0.1:45678', functions: rc.functions, envId: 'local-dev',
    officialAppId: 'wx10ca1000000000a1', miniProgramAppId: 'wx10ca1000000000b2', mchId: '1900000109', fixedEgressAddress: '127.0.0.2',
    followDemo: { campaignId: 'follow-demo', open: true },
  });

  it('tells how to follow the demo follow campaign as a sandbox user and open its claim page', () => {
    expect(banner).toContain('Follow-to-claim (campaign follow-demo): claim pages at http://127.0.0.1:3000/claim/…');
    expect(banner).toContain(`curl -s -XPOST http://127.0.0.1:3000/__sandbox/users/follow -d '{"user":"amy","appid":"wx10ca1000000000a3"}'`);
    expect(banner).toContain('http://127.0.0.1:3000/__sandbox/browser/open');
  });

  it('lists every function and every HTTP route of cloudbaserc.json', () => {
    for (const fn of rc.functions) expect(banner).toContain(`POST http://127.0.0.1:3000/functions/${fn.name}`);
    const routes = rc.functions.filter((fn) => fn.path !== undefined);
    expect(routes.map((fn) => fn.name)).toContain('opsConsole');
    for (const fn of routes) expect(banner).toContain(`http://127.0.0.1:3000${fn.path}`);
  });

  it('gives the Pay sandbox\'s own port, both control APIs and the fault API\'s format', () => {
    expect(banner).toContain('WeChat Pay API  https://127.0.0.1:45678');
    expect(banner).toContain('control http://127.0.0.1:3000/__sandbox/pay/');
    expect(banner).toContain('POST http://127.0.0.1:3000/__sandbox/faults      {"path":"/cgi-bin/stable_token","errcode":-1,"times":1}');
    expect(banner).toContain('POST http://127.0.0.1:3000/__sandbox/pay/faults  {"path":"/mmpaymkttransfers/sendminiprogramhb","errCode":"SYSTEMERROR","times":1}');
    expect(banner).toContain('npm run demo');
  });
});
