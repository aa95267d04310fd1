import { LOCAL_OFFICIAL_ACCOUNTS } from '../../scripts/local/stack';
import { removeAccount } from '../../shared/accounts/store';
import { createNodeSdkStore } from '../../shared/store/nodeSdk';
import { ADMIN, adminDb, callFunction, FROM_FUNCTION, LOCAL_ACCOUNT, sandbox, startTestStack, type Stack } from '../helpers/stack';

const [A1, A2, A3] = LOCAL_OFFICIAL_ACCOUNTS.map((account) => account.appId) as [string, string, string];
const TIMER = { type: 'timer', trigger: 'refreshToken' } as const;

async function callsByAccount(stack: Stack): Promise<Record<string, Record<string, number>>> {
  return (await sandbox<{ byAppid: Record<string, Record<string, number>> }>(stack, 'GET', 'stats/accounts')).byAppid;
}

describe('credentials of several official accounts', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 8 });
  });
  afterAll(() => stack.close());

  it('costs exactly one token and one ticket fetch per account for a cold burst across three accounts', async () => {
    const results = await Promise.all(
      Array.from({ length: 150 }, (_, i) => callFunction(stack, 'getTicket', { type: 'jsapi', appid: [A1, A2, A3][i % 3] }, FROM_FUNCTION)),
    );
    for (const result of results) expect(result).toMatchObject({ ok: true, data: { kind: 'ticket:jsapi', version: 1 } });
    expect(await callsByAccount(stack)).toEqual({
      [A1]: { '/cgi-bin/stable_token': 1, '/cgi-bin/ticket/getticket': 1 },
      [A2]: { '/cgi-bin/stable_token': 1, '/cgi-bin/ticket/getticket': 1 },
      [A3]: { '/cgi-bin/stable_token': 1, '/cgi-bin/ticket/getticket': 1 },
    });
    expect(stack.host.stats().getTicket?.instances).toBeGreaterThan(1);
    expect(stack.host.stats().getToken?.instances).toBeGreaterThan(1);
  });

  it('keeps each account\'s token in its own cache document, the environment\'s account by default', async () => {
    const tokens = await Promise.all([{}, { appid: A1 }, { appid: A2 }, { appid: A3 }].map((data) => callFunction(stack, 'getToken', data, ADMIN)));
    for (const token of tokens) expect(token).toMatchObject({ ok: true, data: { kind: 'access_token', version: 1 } });
    const docs = (await adminDb(stack).collection('wx_credentials').where({ kind: 'access_token' }).get()) as { data: Array<{ _id: string; value: string }> };
    expect(docs.data.map((doc) => doc._id).sort()).toEqual([A1, A2, A3].map((appid) => `${appid}:access_token`));
    expect(new Set(docs.data.map((doc) => doc.value)).size).toBe(3);
  });

  it.each([
    { case: 'an appid the environment does not know', data: { appid: 'wx10ca1000000000f9' }, code: 'NOT_FOUND', message: /not an official account of this environment/ },
    { case: 'a malformed appid', data: { appid: 'gh_10ca100000a2' }, code: 'INVALID_INPUT', message: /appid must be an AppID/ },
  ])('refuses $case', async ({ data, code, message }) => {
    await expect(callFunction(stack, 'getToken', data, ADMIN)).resolves.toMatchObject({ ok: false, error: { code, message: expect.stringMatching(message) } });
  });

  it('lists the local accounts as WeChat knows them, with local push settings', async () => {
    const { accounts, miniPrograms } = await sandbox<{ accounts: Array<Record<string, unknown>>; miniPrograms: Array<Record<string, unknown>> }>(stack, 'GET', 'accounts');
    expect(accounts).toEqual(
      LOCAL_OFFICIAL_ACCOUNTS.map((account) => ({
        appid: account.appId, kind: account.kind, verified: account.verified, mode: account.messageMode, token: account.pushToken,
        encodingAESKey: account.encodingAESKey, pushUrl: `${stack.url}/wx/push/${account.appId}`, originalId: account.originalId,
        name: account.name, openPlatformId: 'local-open-platform',
      })),
    );
    expect(miniPrograms).toEqual([{ appid: LOCAL_ACCOUNT.miniProgramAppId, name: expect.any(String), openPlatformId: 'local-open-platform' }]);
  });

  it('refuses a card ticket for an account without card rights, without asking WeChat', async () => {
    const before = await callsByAccount(stack);
    const result = await callFunction(stack, 'getTicket', { type: 'wx_card', appid: A2 }, FROM_FUNCTION);
    expect(result).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', message: expect.stringMatching(/unverified subscription account/) } });
    expect(await callsByAccount(stack)).toEqual(before);
  });
});

describe('secrets of several accounts', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 2 });
  });
  afterAll(() => stack.close());

  it('never writes a token, a ticket, an AppSecret, a push token or an AES key into a function log', async () => {
    for (const appid of [A1, A2, A3]) {
      await expect(callFunction(stack, 'getTicket', { type: 'jsapi', appid }, FROM_FUNCTION)).resolves.toMatchObject({ ok: true });
    }
    await sandbox(stack, 'POST', 'accounts', { appid: A3, secret: 'ResetInTheConsole00000000000003' });
    await sandbox(stack, 'POST', 'tokens/expire', { appid: A3 });
    await callFunction(stack, 'getToken', { appid: A3, rejectedVersion: 1 }, FROM_FUNCTION);
    const docs = (await adminDb(stack).collection('wx_credentials').get()) as { data: Array<{ value?: string }> };
    const values = docs.data.map((doc) => doc.value).filter((value): value is string => typeof value === 'string' && value.length > 0);
    expect(values.length).toBeGreaterThanOrEqual(6);
    const secrets = [...values, ...LOCAL_OFFICIAL_ACCOUNTS.flatMap((account) => [account.appSecret, account.pushToken, account.encodingAESKey])];
    const logs = stack.host.logs().map((entry) => entry.text).join('\n');
    expect(logs).toContain('40125');
    for (const secret of secrets) expect(logs).not.toContain(secret);
  });
});

describe('one account\'s failures stay its own', () => {
  let stack: Stack;
  beforeEach(async () => {
    stack = await startTestStack({ instancesPerFunction: 4 });
  });
  afterEach(() => stack.close());

  it('keeps serving and refreshing the other accounts while one has a wrong AppSecret, and backs off for that one only', async () => {
    // The operator reset A2's AppSecret in WeChat's console but not in the registry.
    await sandbox(stack, 'POST', 'accounts', { appid: A2, secret: 'ResetInTheConsole00000000000002' });
    const refused = await callFunction(stack, 'getToken', { appid: A2 }, FROM_FUNCTION);
    expect(refused).toMatchObject({ ok: false, error: { code: 'UPSTREAM_ERROR', message: expect.stringMatching(/40125/) } });

    const others = await Promise.all([A1, A3, A1, A3].map((appid) => callFunction(stack, 'getToken', { appid }, FROM_FUNCTION)));
    for (const result of others) expect(result).toMatchObject({ ok: true, data: { version: 1 } });
    const timer = await callFunction(stack, 'getToken', {}, TIMER);
    expect(timer).toMatchObject({
      ok: true,
      data: [
        { appId: A1, ok: true },
        { appId: A2, ok: false, error: { code: 'UPSTREAM_ERROR', message: expect.stringMatching(/next attempt in/) } },
        { appId: A3, ok: true },
        // The mini-program's token (WX_MP_APPSECRET) is refreshed on its own too.
        { appId: LOCAL_ACCOUNT.miniProgramAppId, ok: true },
      ],
    });
    await expect(callFunction(stack, 'getToken', { appid: A2 }, FROM_FUNCTION)).resolves.toMatchObject({ ok: false });
    // One call for A2 in all: every later attempt met the recorded back-off.
    expect((await callsByAccount(stack))[A2]).toEqual({ '/cgi-bin/stable_token': 1 });
  });

  it('names the account and the IP on 40164, and leaves the accounts whose whitelist has it alone', async () => {
    await sandbox(stack, 'POST', 'whitelist', { appid: A3, ips: ['10.0.0.1'] });
    const refused = await callFunction(stack, 'getToken', { appid: A3 }, ADMIN);
    expect(refused).toMatchObject({ ok: false, error: { code: 'IP_NOT_WHITELISTED' } });
    expect(refused.error.message).toMatch(new RegExp(`from IP 127\\.0\\.0\\.2.*whitelist of official account ${A3}`, 's'));
    await expect(callFunction(stack, 'getToken', { appid: A2 }, ADMIN)).resolves.toMatchObject({ ok: true });
    await expect(callFunction(stack, 'getToken', {}, ADMIN)).resolves.toMatchObject({ ok: true });
  });

  it('stops refreshing an account the operator removed', async () => {
    await expect(callFunction(stack, 'getToken', {}, TIMER)).resolves.toMatchObject({ ok: true, data: [{ appId: A1 }, { appId: A2 }, { appId: A3 }, { appId: LOCAL_ACCOUNT.miniProgramAppId }] });
    const store = createNodeSdkStore(adminDb(stack));
    await removeAccount(store, A3, { defaultAppId: LOCAL_ACCOUNT.officialAppId });
    const before = await callsByAccount(stack);
    const after = await callFunction(stack, 'getToken', {}, TIMER);
    expect(after.data.map((line: { appId: string }) => line.appId)).toEqual([A1, A2, LOCAL_ACCOUNT.miniProgramAppId]);
    expect((await callsByAccount(stack))[A3]).toEqual(before[A3]);
    // Its cached token is gone from the database too.
    await expect(store.get('wx_credentials', `${A3}:access_token`)).resolves.toMatchObject({ value: null, expiresAtMs: 0 });
  });
});
