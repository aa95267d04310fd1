/**
 * The sandbox's wxa/getuserriskrank (api/risk.ts), through the product's own client
 * (shared/wechat/risk.ts) wherever a rule allows: the mini-program's token only, 61010 without a
 * recent visit, the rank a test set, and state that outlives a restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import got from 'got';
import { startWechatSandbox, type RunningWechatSandbox } from '../../../scripts/local/sandbox';
import { createWechatHttp } from '../../../shared/wechat/http';
import { getUserRiskRank, RiskScene } from '../../../shared/wechat/risk';

type Json = Record<string, any>;
const MP = 'wx00000000000000b2';
const SERVICE = 'wx00000000000000a1';
const OPTIONS = {
  accounts: [
    { appid: SERVICE, secret: 'secret-a1' },
    { appid: MP, secret: 'secret-b2', kind: 'miniprogram' as const },
  ],
  ipWhitelist: ['127.0.0.1'],
};

describe('the sandbox\'s getuserriskrank', () => {
  let dir: string;
  let sandbox: RunningWechatSandbox;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'risk-sandbox-'));
    sandbox = await startWechatSandbox(OPTIONS, { file: path.join(dir, 'wechat.json') });
  });
  afterAll(async () => {
    await sandbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const control = async (method: 'GET' | 'POST', route: string, json?: unknown): Promise<{ statusCode: number; body: Json }> =>
    (await got(`${sandbox.url}/__sandbox/${route}`, { method, ...(json === undefined ? {} : { json }), responseType: 'json', throwHttpErrors: false, retry: { limit: 0 } })) as never;
  const token = async (appid: string): Promise<string> =>
    ((await got.post(`${sandbox.url}/cgi-bin/stable_token`, { json: { grant_type: 'client_credential', appid, secret: `secret-${appid.slice(-2)}` }, responseType: 'json' })).body as Json).access_token;
  const raw = async (accessToken: string, json: unknown): Promise<Json> =>
    JSON.parse((await got.post(`${sandbox.url}/wxa/getuserriskrank?access_token=${accessToken}`, { json, throwHttpErrors: false })).body) as Json;
  const rankOf = async (openid: string, accessToken?: string) =>
    getUserRiskRank(createWechatHttp({ baseUrl: sandbox.url }), accessToken ?? (await token(MP)), { appId: MP, openid, scene: RiskScene.MARKETING, clientIp: '203.0.113.7' });

  it('answers the rank a test set for a user who visited, 0 by default, and records what it was asked', async () => {
    const ranked = (await control('POST', 'risk', { user: 'rita', rank: 3 })).body;
    const plain = (await control('POST', 'risk', { openid: 'oPlainUser' })).body;

    await expect(rankOf(ranked.openid)).resolves.toEqual({ riskRank: 3, requestId: expect.any(Number) });
    await expect(rankOf('oPlainUser')).resolves.toMatchObject({ riskRank: 0 });
    expect(plain).toMatchObject({ appid: MP, openid: 'oPlainUser', rank: 0, visitedAtMs: expect.any(Number) });
    expect((await control('GET', `risk?openid=${ranked.openid}`)).body.user).toMatchObject({ rank: 3, lastAsked: { clientIp: '203.0.113.7', scene: 1 } });
  });

  it('answers 61010 for a user without a visit in the last 2 hours, unless is_test', async () => {
    await control('POST', 'risk', { openid: 'oVisitedLongAgo', rank: 4 });
    await control('POST', 'risk', { openid: 'oNeverVisited', visited: false });
    await control('POST', 'clock', { advanceMs: 2 * 3_600_000 + 1_000 });

    for (const openid of ['oVisitedLongAgo', 'oNeverVisited', 'oNobodyNamed']) await expect(rankOf(openid)).rejects.toMatchObject({ errcode: 61010 });
    const test = await raw(await token(MP), { appid: MP, openid: 'oVisitedLongAgo', scene: 1, client_ip: '1.2.3.4', is_test: true });
    expect(test).toMatchObject({ errcode: 0, risk_rank: 4 });
  });

  it.each([
    { case: 'an official account\'s token', appid: SERVICE, body: { appid: SERVICE, openid: 'o1', scene: 1, client_ip: '1.2.3.4' }, errcode: 48001 },
    { case: 'another appid than the token\'s', appid: MP, body: { appid: SERVICE, openid: 'o1', scene: 1, client_ip: '1.2.3.4' }, errcode: 40013 },
    { case: 'no client_ip', appid: MP, body: { appid: MP, openid: 'o1', scene: 1 }, errcode: 47001 },
    { case: 'an unknown scene', appid: MP, body: { appid: MP, openid: 'o1', scene: 7, client_ip: '1.2.3.4' }, errcode: 47001 },
    { case: 'no openid', appid: MP, body: { appid: MP, scene: 1, client_ip: '1.2.3.4' }, errcode: 47001 },
  ])('refuses $case', async ({ appid, body, errcode }) => {
    await expect(raw(await token(appid), body)).resolves.toMatchObject({ errcode });
  });

  it('answers 40001 for a token that is not (or no longer) valid, and 43104 for another app\'s openid', async () => {
    await expect(raw('not-a-token', { appid: MP, openid: 'o1', scene: 1, client_ip: '1.2.3.4' })).resolves.toMatchObject({ errcode: 40001 });
    const serviceOpenid = (await control('GET', 'users?user=olga')).body.openids[SERVICE];
    await expect(rankOf(serviceOpenid)).rejects.toMatchObject({ errcode: 43104 });
  });

  it('refuses control input it cannot use', async () => {
    expect((await control('POST', 'risk', { openid: 'o1', rank: 5 })).statusCode).toBe(400);
    expect((await control('POST', 'risk', { openid: 'o1', appid: SERVICE })).statusCode).toBe(400);
    expect((await control('POST', 'risk', { rank: 1 })).statusCode).toBe(400);
  });

  it('keeps ranks and visits across a restart', async () => {
    await control('POST', 'risk', { openid: 'oKeeps', rank: 2 });
    await sandbox.close();
    sandbox = await startWechatSandbox(OPTIONS, { file: path.join(dir, 'wechat.json') });

    await expect(rankOf('oKeeps')).resolves.toMatchObject({ riskRank: 2 });
  });
});
