import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main as accountsCli } from '../../scripts/accounts';
import { LOCAL_OFFICIAL_ACCOUNTS } from '../../scripts/local/stack';
import { callFunction, LOCAL_ACCOUNT, sandbox, startTestStack, type Stack } from '../helpers/stack';

const [A1, A2, A3] = LOCAL_OFFICIAL_ACCOUNTS.map((account) => account.appId) as [string, string, string];
const A4 = 'wx10ca1000000000a4';
const A4_SECRET = 'OperatorTypedThisSecret000000004';
const A4_TOKEN = 'PushTokenOfA4';
const A4_KEY = 'OperatorsEncodingAESKeyForAccountA400000000';

describe('npm run accounts (scripts/accounts.ts --local)', () => {
  let stack: Stack;
  let dir: string;
  const printed: string[] = [];
  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 2 });
    dir = mkdtempSync(path.join(os.tmpdir(), 'accounts-cli-'));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await stack.close();
  });

  async function cli(...args: string[]): Promise<{ code: number; output: string }> {
    const lines: string[] = [];
    const code = await accountsCli(['--local', stack.url, ...args], (line) => lines.push(line));
    printed.push(...lines);
    return { code, output: lines.join('\n') };
  }

  it('lists the local accounts with their secrets as set or missing only', async () => {
    const { code, output } = await cli('list', '--json');
    expect(code).toBe(0);
    const { accounts } = JSON.parse(output) as { accounts: Array<Record<string, unknown>> };
    expect(accounts).toEqual([
      expect.objectContaining({ appId: A1, kind: 'service', verified: true, messageMode: 'safe', active: true, isDefault: true, source: 'environment+registry', appSecret: 'set', pushToken: 'set', encodingAESKey: 'set' }),
      expect.objectContaining({ appId: A2, kind: 'subscription', verified: false, messageMode: 'compatible', active: true, appSecret: 'set', capabilities: [] }),
      expect.objectContaining({ appId: A3, kind: 'subscription', verified: false, messageMode: 'plain', active: true }),
    ]);
    await expect(cli('list')).resolves.toEqual({ code: 0, output: expect.stringMatching(new RegExp(`^${A2}\\s+subscription\\s+unverified\\s+compatible\\s+active`, 'm')) });
  });

  it('refuses an invalid account, naming every problem, and writes nothing', async () => {
    const file = path.join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ appId: A4, kind: 'enterprise', messageMode: 'safe', pushToken: 'x', appSecret: 'nope' }));
    await expect(cli('add', file)).rejects.toThrow(/Invalid account:[\s\S]*kind must be one of[\s\S]*verified is required[\s\S]*appSecret is malformed[\s\S]*pushToken must be[\s\S]*encodingAESKey is required in safe mode/);
    await expect(cli('show', A4)).rejects.toThrow(`${A4} is not an account of`);
    await expect(cli('add', '--secret-env', 'NO_SUCH_VARIABLE_SET')).rejects.toThrow(/NO_SUCH_VARIABLE_SET is not set/);
  });

  it('adds an account from a file and environment variables, and getToken serves it at once', async () => {
    // The account exists on WeChat's side with this secret (the operator copied it from the console).
    await sandbox(stack, 'POST', 'accounts', { appid: A4, secret: A4_SECRET, kind: 'subscription', verified: true });
    const file = path.join(dir, 'a4.json');
    writeFileSync(file, JSON.stringify({ appId: A4, kind: 'subscription', verified: true, name: '订阅号丙', originalId: 'gh_10ca100000a4', messageMode: 'safe', encodingAESKey: A4_KEY }));
    process.env.TEST_A4_SECRET = A4_SECRET;
    process.env.TEST_A4_TOKEN = A4_TOKEN;
    const added = await cli('add', file, '--secret-env', 'TEST_A4_SECRET', '--push-token-env', 'TEST_A4_TOKEN');
    expect(added.output).toContain(`Added ${A4} (verified subscription account, safe mode)`);
    expect(added.output).toContain(`server URL for WeChat: ${stack.url}/wx/push/${A4}`);
    expect(added.output).toContain('getToken holds its access_token (version 1)');
    await expect(callFunction(stack, 'getTicket', { type: 'jsapi', appid: A4 }, { type: 'function', source: 'wx_client,scf' })).resolves.toMatchObject({ ok: true });
  });

  it('changes an account without asking for its secrets again, and shows it without them', async () => {
    await expect(cli('add', '--appid', A4, '--mode', 'plain', '--name', '订阅号丙（新）')).resolves.toEqual({ code: 0, output: expect.stringContaining(`Changed ${A4}: name, messageMode.`) });
    const { output } = await cli('show', A4, '--json');
    const shown = JSON.parse(output) as { account: Record<string, unknown>; credentials: Array<Record<string, unknown>> };
    expect(shown.account).toMatchObject({ appId: A4, messageMode: 'plain', name: '订阅号丙（新）', appSecret: 'set', pushToken: 'set', capabilities: ['userInfo', 'customMessage', 'jsapiShare', 'cards'] });
    expect(shown.credentials).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'access_token', version: 1, hasValue: true }), expect.objectContaining({ kind: 'ticket:jsapi', hasValue: true })]));
    expect(output).not.toMatch(/"value"/);
    await expect(cli('show', A4)).resolves.toEqual({ code: 0, output: expect.stringContaining('secrets       AppSecret set, push token set, EncodingAESKey set') });
  });

  it('removes an account: no longer refreshed, and the environment\'s own account cannot be removed', async () => {
    await expect(cli('remove', A4)).resolves.toMatchObject({ code: 0, output: expect.stringContaining(`Removed ${A4}`) });
    const timer = await callFunction(stack, 'getToken', {}, { type: 'timer', trigger: 'refreshToken' });
    // The officials left, and the mini-program (WX_MP_APPSECRET), which no registry change touches.
    expect(timer.data.map((entry: { appId: string }) => entry.appId)).toEqual([A1, A2, A3, LOCAL_ACCOUNT.miniProgramAppId]);
    await expect(cli('list', '--json')).resolves.toMatchObject({ output: expect.stringContaining(`"appId":"${A4}","kind":"subscription","verified":true,"name":"订阅号丙（新）","originalId":"gh_10ca100000a4","messageMode":"plain","active":false`) });
    await expect(cli('remove', A4)).rejects.toThrow(`${A4} was removed already`);
    await expect(cli('remove', LOCAL_ACCOUNT.officialAppId)).rejects.toThrow(/environment's own account/);
  });

  it('never printed a secret', () => {
    const all = printed.join('\n');
    expect(all.length).toBeGreaterThan(0);
    const secrets = [A4_SECRET, A4_TOKEN, A4_KEY, LOCAL_ACCOUNT.officialAppSecret, ...LOCAL_OFFICIAL_ACCOUNTS.flatMap((account) => [account.appSecret, account.pushToken, account.encodingAESKey])];
    for (const secret of secrets) expect(all).not.toContain(secret);
  });
});

describe('the local stack\'s accounts across a restart', () => {
  it('seeds the registry once and keeps an operator\'s change and removal when it starts again', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'accounts-restart-'));
    try {
      // The certificates the in-memory test stacks share, not the repository's .local/certs.
      const certsDir = path.join(os.tmpdir(), 'wx-local-stack-certs');
      let stack = await startTestStack({ dataDir, certsDir, instancesPerFunction: 1 });
      const run = (...args: string[]) => accountsCli(['--local', stack.url, ...args], () => undefined);
      await run('add', '--appid', A2, '--name', 'renamed by the operator');
      await run('remove', A3);
      await stack.close();

      stack = await startTestStack({ dataDir, certsDir, instancesPerFunction: 1 });
      const lines: string[] = [];
      await accountsCli(['--local', stack.url, 'list', '--json'], (line) => lines.push(line));
      const { accounts } = JSON.parse(lines.join('')) as { accounts: Array<{ appId: string; name: string; active: boolean }> };
      expect(accounts.map(({ appId, name, active }) => ({ appId, name, active }))).toEqual([
        { appId: A1, name: '本地服务号', active: true },
        { appId: A2, name: 'renamed by the operator', active: true },
        { appId: A3, name: expect.any(String), active: false },
      ]);
      await stack.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
