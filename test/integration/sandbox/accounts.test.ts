/**
 * The sandbox's accounts: kinds, verification and push settings (GET/POST /__sandbox/accounts),
 * each account's own IP whitelist, 48001 for APIs an account type does not have
 * (reference/official-accounts.md §1), and calls counted per account.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import got from 'got';
import { startWechatSandbox, type RunningWechatSandbox, type WechatSandboxOptions } from '../../../scripts/local/sandbox';

type Json = Record<string, any>;

const SERVICE = 'wx00000000000000a1';
const SUBSCRIPTION = 'wx00000000000000a2';
const MINI_PROGRAM = 'wx00000000000000b2';
const WHITELISTED_IP = '127.0.0.2';
const STRANGER_IP = '127.0.0.9';
const KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';

const options: WechatSandboxOptions = {
  accounts: [
    { appid: SERVICE, secret: 'secret-a1', originalId: 'gh_00000000a1a1', name: '服务号', openPlatformId: 'op-1', push: { token: 'tokenA1', encodingAESKey: KEY, mode: 'safe', url: 'http://127.0.0.1:9/wx/push/a1' } },
    { appid: SUBSCRIPTION, secret: 'secret-a2', kind: 'subscription', verified: false, push: { token: 'tokenA2', encodingAESKey: KEY, mode: 'plain', url: 'http://127.0.0.1:9/wx/push/a2' } },
    { appid: MINI_PROGRAM, secret: 'secret-b2', kind: 'miniprogram', openPlatformId: 'op-1' },
  ],
  ipWhitelist: [WHITELISTED_IP],
};

let sandbox: RunningWechatSandbox;
beforeAll(async () => {
  sandbox = await startWechatSandbox(options);
});
afterAll(() => sandbox.close());
beforeEach(() => sandbox.control.reset());

function client(localAddress = WHITELISTED_IP) {
  return got.extend({ prefixUrl: sandbox.url, localAddress, retry: { limit: 0 }, throwHttpErrors: false });
}

function control(method: 'GET' | 'POST', path: string, json?: unknown): Promise<{ statusCode: number; body: Json }> {
  return client()(`__sandbox/${path}`, { method, ...(json === undefined ? {} : { json }), responseType: 'json' }) as never;
}

async function token(appid: string, secret: string, localAddress?: string): Promise<Json> {
  return client(localAddress).post('cgi-bin/stable_token', { json: { grant_type: 'client_credential', appid, secret } }).json<Json>();
}

describe('GET /__sandbox/accounts', () => {
  it('lists the official accounts with their push settings, and the mini-programs apart', async () => {
    const { statusCode, body } = await control('GET', 'accounts');
    expect(statusCode).toBe(200);
    expect(body).toEqual({
      accounts: [
        { appid: SERVICE, kind: 'service', verified: true, mode: 'safe', token: 'tokenA1', encodingAESKey: KEY, pushUrl: 'http://127.0.0.1:9/wx/push/a1', originalId: 'gh_00000000a1a1', name: '服务号', openPlatformId: 'op-1' },
        { appid: SUBSCRIPTION, kind: 'subscription', verified: false, mode: 'plain', token: 'tokenA2', encodingAESKey: KEY, pushUrl: 'http://127.0.0.1:9/wx/push/a2', originalId: 'gh_0000000000a2', name: SUBSCRIPTION, openPlatformId: null },
      ],
      miniPrograms: [{ appid: MINI_PROGRAM, name: MINI_PROGRAM, openPlatformId: 'op-1' }],
    });
  });

  it('changes an account keeping what is not given, and refuses a bad one', async () => {
    await expect(control('POST', 'accounts', { appid: SUBSCRIPTION, secret: 'rotated', verified: true })).resolves.toMatchObject({ statusCode: 200 });
    const { body } = await control('GET', 'accounts');
    expect(body.accounts[1]).toMatchObject({ appid: SUBSCRIPTION, kind: 'subscription', verified: true, mode: 'plain', token: 'tokenA2' });
    await expect(token(SUBSCRIPTION, 'rotated')).resolves.toMatchObject({ access_token: expect.any(String) });
    await expect(control('POST', 'accounts', { appid: 'wx-x', secret: 's', kind: 'enterprise' })).resolves.toMatchObject({
      statusCode: 400, body: { error: expect.stringMatching(/kind must be one of service, subscription, miniprogram/) },
    });
  });
});

describe('IP whitelists per account', () => {
  it('checks each official account against its own whitelist, and never a mini-program', async () => {
    await control('POST', 'whitelist', { appid: SUBSCRIPTION, ips: [STRANGER_IP] });
    await expect(token(SUBSCRIPTION, 'secret-a2')).resolves.toMatchObject({ errcode: 40164 });
    await expect(token(SUBSCRIPTION, 'secret-a2', STRANGER_IP)).resolves.toMatchObject({ access_token: expect.any(String) });
    await expect(token(SERVICE, 'secret-a1')).resolves.toMatchObject({ access_token: expect.any(String) });
    await expect(token(SERVICE, 'secret-a1', STRANGER_IP)).resolves.toMatchObject({ errcode: 40164 });
    await expect(token(MINI_PROGRAM, 'secret-b2', STRANGER_IP)).resolves.toMatchObject({ access_token: expect.any(String) });
  });

  it('restores every account\'s whitelist on reset', async () => {
    await control('POST', 'whitelist', { appid: SERVICE, ips: [STRANGER_IP] });
    sandbox.control.reset({ keepAccounts: true });
    await expect(token(SERVICE, 'secret-a1')).resolves.toMatchObject({ access_token: expect.any(String) });
  });
});

describe('48001 for APIs an account does not have', () => {
  it.each([
    { case: 'the card api_ticket', path: 'cgi-bin/ticket/getticket', query: { type: 'wx_card' } },
    { case: 'card colours', path: 'card/getcolors', query: {} },
  ])('answers $case for an unverified subscription account with 48001, and serves the verified service account', async ({ path, query }) => {
    const sub = (await token(SUBSCRIPTION, 'secret-a2')).access_token as string;
    const service = (await token(SERVICE, 'secret-a1')).access_token as string;
    await expect(client().get(path, { searchParams: { access_token: sub, ...query } }).json<Json>()).resolves.toEqual({
      errcode: 48001, errmsg: expect.stringMatching(/^api unauthorized rid: /),
    });
    await expect(client().get(path, { searchParams: { access_token: service, ...query } }).json<Json>()).resolves.toMatchObject({ errcode: 0 });
  });

  it('gives every account the JS-SDK ticket, and checks the token before the right', async () => {
    const sub = (await token(SUBSCRIPTION, 'secret-a2')).access_token as string;
    await expect(client().get('cgi-bin/ticket/getticket', { searchParams: { access_token: sub, type: 'jsapi' } }).json<Json>()).resolves.toMatchObject({ errcode: 0, ticket: expect.any(String) });
    sandbox.control.invalidateTokens(SUBSCRIPTION);
    await expect(client().get('cgi-bin/ticket/getticket', { searchParams: { access_token: sub, type: 'wx_card' } }).json<Json>()).resolves.toMatchObject({ errcode: 40001 });
  });
});

describe('GET /__sandbox/stats/accounts', () => {
  it('counts calls per account: the appid a token API named, or the account of the token sent', async () => {
    const sub = (await token(SUBSCRIPTION, 'secret-a2')).access_token as string;
    await token(SERVICE, 'secret-a1');
    await token(SERVICE, 'wrong');
    await client().get('cgi-bin/ticket/getticket', { searchParams: { access_token: sub, type: 'jsapi' } });
    await client().get('cgi-bin/ticket/getticket', { searchParams: { access_token: 'forged', type: 'jsapi' } });
    await expect(control('GET', 'stats/accounts')).resolves.toMatchObject({
      body: { byAppid: { [SUBSCRIPTION]: { '/cgi-bin/stable_token': 1, '/cgi-bin/ticket/getticket': 1 }, [SERVICE]: { '/cgi-bin/stable_token': 2 } } },
    });
    expect(sandbox.control.stats().calls['/cgi-bin/ticket/getticket']).toBe(2);
  });
});

describe('accounts across a restart of the sandbox', () => {
  it('keeps an account changed through the control API, its own whitelist included', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sandbox-accounts-'));
    const problems: string[] = [];
    const persistence = { file: path.join(dir, 'wechat.json'), report: (message: string) => problems.push(message) };
    try {
      const first = await startWechatSandbox(options, persistence);
      first.control.setAccount({ appid: SUBSCRIPTION, secret: 'rotated', verified: true });
      first.control.setWhitelist([STRANGER_IP], SERVICE);
      await first.close();
      const second = await startWechatSandbox(options, persistence);
      try {
        expect(second.control.accounts().accounts).toEqual([
          expect.objectContaining({ appid: SERVICE, mode: 'safe' }),
          expect.objectContaining({ appid: SUBSCRIPTION, verified: true, token: 'tokenA2' }),
        ]);
        expect(second.state.accounts.get(SUBSCRIPTION)?.secret).toBe('rotated');
        expect(second.state.accounts.get(SERVICE)?.ipWhitelist).toEqual([STRANGER_IP]);
      } finally {
        await second.close();
      }
      expect(problems).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
