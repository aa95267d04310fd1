/**
 * The sandbox's control API over real HTTP under /__sandbox/ (and its programmatic twin):
 * counters, reset, clock, token events caused by other systems, faults, whitelist, accounts,
 * and the refusal of bad input.
 */
import got, { type Method } from 'got';
import { SandboxInputError, startWechatSandbox, type RunningWechatSandbox, type WechatSandboxOptions } from '../../../scripts/local/sandbox';

type Json = Record<string, unknown>;

const APPID = 'wx00000000000000a1';
const SECRET = 'secret-a1';
const WHITELISTED_IP = '127.0.0.2';
const STRANGER_IP = '127.0.0.9';
const BASE_MS = Date.parse('2025-03-01T10:00:00+08:00');

const options: WechatSandboxOptions = {
  accounts: [{ appid: APPID, secret: SECRET }],
  ipWhitelist: [WHITELISTED_IP],
  now: () => BASE_MS,
};

let sandbox: RunningWechatSandbox;

beforeAll(async () => {
  sandbox = await startWechatSandbox(options);
});
afterAll(async () => {
  await sandbox.close();
});
beforeEach(() => {
  sandbox.control.reset();
});

function client(localAddress = WHITELISTED_IP) {
  return got.extend({ prefixUrl: sandbox.url, localAddress, retry: { limit: 0 }, throwHttpErrors: false });
}

async function control(method: Method, path: string, json?: unknown): Promise<{ status: number; body: Json }> {
  const response = await client()(`__sandbox/${path}`, { method, ...(json === undefined ? {} : { json }) });
  return { status: response.statusCode, body: JSON.parse(response.body) as Json };
}

function classicToken(query: Record<string, string> = {}, localAddress?: string): Promise<Json> {
  return client(localAddress)
    .get('cgi-bin/token', { searchParams: { grant_type: 'client_credential', appid: APPID, secret: SECRET, ...query } })
    .json<Json>();
}

function stableToken(): Promise<Json> {
  return client().post('cgi-bin/stable_token', { json: { grant_type: 'client_credential', appid: APPID, secret: SECRET } }).json<Json>();
}

async function tokenOf(reply: Promise<Json>): Promise<string> {
  const body = await reply;
  expect(typeof body.access_token).toBe('string');
  return body.access_token as string;
}

function getTicket(accessToken: string, type = 'wx_card'): Promise<Json> {
  return client().get('cgi-bin/ticket/getticket', { searchParams: { access_token: accessToken, type } }).json<Json>();
}

describe('stats', () => {
  it('counts every upstream call per path and variant, refused ones included, with errors per errcode', async () => {
    const token = await tokenOf(classicToken());
    await classicToken({ secret: 'guess' });
    await getTicket(token);
    await getTicket(token, 'jsapi');
    await getTicket('forged');

    const { status, body } = await control('GET', 'stats');

    expect(status).toBe(200);
    expect(body).toEqual({
      calls: { '/cgi-bin/token': 2, '/cgi-bin/ticket/getticket': 3 },
      detail: { '/cgi-bin/token': 2, '/cgi-bin/ticket/getticket?type=wx_card': 2, '/cgi-bin/ticket/getticket?type=jsapi': 1 },
      errors: { '/cgi-bin/token': { '40125': 1 }, '/cgi-bin/ticket/getticket': { '40001': 1 } },
    });
  });

  it('resets the counters only, keeping tokens alive', async () => {
    const token = await tokenOf(classicToken());

    expect(await control('POST', 'stats/reset')).toEqual({ status: 200, body: { ok: true } });
    expect((await control('GET', 'stats')).body).toEqual({ calls: {}, detail: {}, errors: {} });
    expect(await getTicket(token)).toMatchObject({ errcode: 0 });
  });

  it('answers an unknown WeChat path with a 404 JSON and still counts it', async () => {
    const response = await client().get('cgi-bin/nope');

    expect(response.statusCode).toBe(404);
    expect(JSON.parse(response.body)).toEqual({ error: 'the sandbox has no WeChat API /cgi-bin/nope' });
    expect(sandbox.control.stats().calls).toEqual({ '/cgi-bin/nope': 1 });
  });
});

describe('reset', () => {
  it('forgets tokens, counters, faults and the clock offset, and restores the whitelist', async () => {
    const token = await tokenOf(classicToken());
    await control('POST', 'clock', { advanceMs: 5_000 });
    await control('POST', 'faults', { path: '/cgi-bin/token', errcode: -1 });
    await control('POST', 'whitelist', { ips: [STRANGER_IP] });

    expect(await control('POST', 'reset')).toEqual({ status: 200, body: { ok: true } });

    expect(await getTicket(token)).toMatchObject({ errcode: 40001 });
    expect((await control('GET', 'clock')).body).toEqual({ nowMs: BASE_MS, offsetMs: 0 });
    expect((await control('GET', 'faults')).body).toEqual({ faults: [] });
    expect(await classicToken()).toHaveProperty('access_token');
    expect(sandbox.control.stats().calls).toEqual({ '/cgi-bin/token': 1, '/cgi-bin/ticket/getticket': 1 });
  });

  it.each([
    { case: 'drops accounts added since start by default', body: undefined, errcode: 40013 },
    { case: 'keeps them with keepAccounts', body: { keepAccounts: true }, errcode: undefined },
  ])('$case', async ({ body, errcode }) => {
    await control('POST', 'accounts', { appid: 'wx-added', secret: 's' });

    await control('POST', 'reset', body);
    const reply = await classicToken({ appid: 'wx-added', secret: 's' });

    expect(reply.errcode).toBe(errcode);
  });
});

describe('clock', () => {
  it('shows and advances the sandbox clock', async () => {
    expect(await control('GET', 'clock')).toEqual({ status: 200, body: { nowMs: BASE_MS, offsetMs: 0 } });
    expect(await control('POST', 'clock', { advanceMs: 90_000 })).toEqual({ status: 200, body: { nowMs: BASE_MS + 90_000, offsetMs: 90_000 } });
    expect(sandbox.control.clock()).toEqual({ nowMs: BASE_MS + 90_000, offsetMs: 90_000 });
  });
});

describe('tokens', () => {
  it('lists the live tokens of an account with their kind and validity', async () => {
    const classic = await tokenOf(classicToken());
    const stable = await tokenOf(stableToken());

    const { body } = await control('GET', `tokens?appid=${APPID}`);

    expect(body).toEqual({
      tokens: [
        { kind: 'classic', access_token: classic, issuedAtMs: BASE_MS, expiresAtMs: BASE_MS + 7_200_000, validUntilMs: BASE_MS + 7_200_000 },
        { kind: 'stable', access_token: stable, issuedAtMs: BASE_MS, expiresAtMs: BASE_MS + 7_200_000, validUntilMs: BASE_MS + 7_200_000 },
      ],
    });
  });

  it('expires every live token of the account now, a superseded one in its overlap too: 42001 afterwards', async () => {
    const superseded = await tokenOf(classicToken());
    const classic = await tokenOf(classicToken());
    const stable = await tokenOf(stableToken());

    expect(await control('POST', 'tokens/expire', { appid: APPID })).toEqual({ status: 200, body: { expired: 3 } });
    // Past the overlap the superseded one would otherwise end in 40001: expiry came first.
    sandbox.control.advanceClock(300_000);

    expect(await getTicket(superseded)).toMatchObject({ errcode: 42001 });
    expect(await getTicket(classic)).toMatchObject({ errcode: 42001 });
    expect(await getTicket(stable)).toMatchObject({ errcode: 42001 });
    const fresh = await tokenOf(stableToken());
    expect(fresh).not.toBe(stable);
  });

  it.each([
    { case: 'classic', kind: 'classic', classicErrcode: 40001, stableErrcode: 0 },
    { case: 'stable', kind: 'stable', classicErrcode: 0, stableErrcode: 40001 },
    { case: 'all', kind: 'all', classicErrcode: 40001, stableErrcode: 40001 },
    { case: 'all (the default)', kind: undefined, classicErrcode: 40001, stableErrcode: 40001 },
  ])('invalidates the $case tokens as a force refresh elsewhere would', async ({ kind, classicErrcode, stableErrcode }) => {
    const classic = await tokenOf(classicToken());
    const stable = await tokenOf(stableToken());

    const { status } = await control('POST', 'tokens/invalidate', { appid: APPID, ...(kind === undefined ? {} : { kind }) });

    expect(status).toBe(200);
    expect(await getTicket(classic)).toMatchObject({ errcode: classicErrcode });
    expect(await getTicket(stable)).toMatchObject({ errcode: stableErrcode });
  });

  it('simulates another system fetching a classic token: ours dies 5 minutes later, without an upstream call of ours', async () => {
    const ours = await tokenOf(classicToken());

    const { status, body } = await control('POST', 'tokens/other-system-fetch', { appid: APPID });

    expect(status).toBe(200);
    expect(body).toMatchObject({ kind: 'classic', issuedAtMs: BASE_MS, validUntilMs: BASE_MS + 7_200_000 });
    expect(sandbox.control.tokens(APPID).find((token) => token.access_token === ours)?.validUntilMs).toBe(BASE_MS + 300_000);
    sandbox.control.advanceClock(299_999);
    expect(await getTicket(ours)).toMatchObject({ errcode: 0 });
    sandbox.control.advanceClock(1);
    expect(await getTicket(ours)).toMatchObject({ errcode: 40001 });
    expect(await getTicket(body.access_token as string)).toMatchObject({ errcode: 0 });
    expect(sandbox.control.stats().calls['/cgi-bin/token']).toBe(1);
  });
});

describe('faults', () => {
  it('answers the next N matching requests with the errcode and WeChat text, then serves normally', async () => {
    await control('POST', 'faults', { path: '/cgi-bin/token', errcode: -1, times: 2 });

    expect(await classicToken()).toEqual({ errcode: -1, errmsg: expect.stringMatching(/^system error rid: /) });
    expect(await classicToken()).toEqual({ errcode: -1, errmsg: expect.stringMatching(/^system error rid: /) });
    expect(await classicToken()).toHaveProperty('access_token');
    expect(sandbox.control.stats()).toMatchObject({ calls: { '/cgi-bin/token': 3 }, errors: { '/cgi-bin/token': { '-1': 2 } } });
  });

  it('applies a fault before normal handling, whatever the request', async () => {
    await control('POST', 'faults', { path: '/cgi-bin/token', errcode: 45009, errmsg: 'api freq out of limit' });

    expect(await classicToken({ secret: 'guess' })).toEqual({ errcode: 45009, errmsg: expect.stringMatching(/^api freq out of limit rid: /) });
    expect(sandbox.control.tokens(APPID)).toEqual([]);
  });

  it('targets one variant through its stats detail key', async () => {
    const token = await tokenOf(classicToken());
    await control('POST', 'faults', { path: '/cgi-bin/ticket/getticket?type=wx_card', errcode: -1 });

    expect(await getTicket(token, 'jsapi')).toMatchObject({ errcode: 0 });
    expect(await getTicket(token, 'wx_card')).toMatchObject({ errcode: -1 });
    expect(await getTicket(token, 'wx_card')).toMatchObject({ errcode: 0 });
  });

  it('hits every variant when it targets the bare path', async () => {
    const token = await tokenOf(classicToken());
    await control('POST', 'faults', { path: '/cgi-bin/ticket/getticket', errcode: -1, times: 2 });

    expect(await getTicket(token, 'jsapi')).toMatchObject({ errcode: -1 });
    expect(await getTicket(token, 'wx_card')).toMatchObject({ errcode: -1 });
    expect(await getTicket(token, 'wx_card')).toMatchObject({ errcode: 0 });
  });

  it('answers normally after a delay-only fault, which is then used up', async () => {
    await control('POST', 'faults', { path: '/cgi-bin/token', delayMs: 20 });

    expect(await classicToken()).toHaveProperty('access_token');
    expect(sandbox.control.faults()).toEqual([]);
  });

  it('drops the connection without an answer', async () => {
    await control('POST', 'faults', { path: '/cgi-bin/stable_token', drop: true });

    await expect(stableToken()).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(await stableToken()).toHaveProperty('access_token');
    expect(sandbox.control.stats().calls).toEqual({ '/cgi-bin/stable_token': 2 });
  });

  it('lists pending faults with what is left of them, and clears them', async () => {
    const added = await control('POST', 'faults', { path: '/cgi-bin/token', errcode: 40001, times: 3 });
    await classicToken();

    expect(added).toEqual({
      status: 200,
      body: { id: expect.any(Number), path: '/cgi-bin/token', errcode: 40001, delayMs: 0, drop: false, remaining: 3 },
    });
    expect((await control('GET', 'faults')).body).toEqual({ faults: [{ ...added.body, remaining: 2 }] });
    expect(await control('DELETE', 'faults')).toEqual({ status: 200, body: { ok: true } });
    expect((await control('GET', 'faults')).body).toEqual({ faults: [] });
    expect(await classicToken()).toHaveProperty('access_token');
  });
});

describe('whitelist and accounts', () => {
  it('replaces the IP whitelist', async () => {
    expect(await control('POST', 'whitelist', { ips: ['::ffff:127.0.0.9'] })).toEqual({ status: 200, body: { ips: [STRANGER_IP] } });

    expect(await classicToken({}, STRANGER_IP)).toHaveProperty('access_token');
    expect(await classicToken()).toMatchObject({ errcode: 40164 });
  });

  it('treats an empty whitelist as nobody', async () => {
    await control('POST', 'whitelist', { ips: [] });

    expect(await classicToken()).toMatchObject({ errcode: 40164 });
  });

  it('changes an account secret, as a reset AppSecret would', async () => {
    await control('POST', 'accounts', { appid: APPID, secret: 'rotated' });

    expect(await classicToken()).toMatchObject({ errcode: 40125 });
    expect(await classicToken({ secret: 'rotated' })).toHaveProperty('access_token');
  });
});

describe('bad control input', () => {
  it.each([
    { case: 'a clock move backwards', method: 'POST' as const, path: 'clock', json: { advanceMs: -1 }, error: /advanceMs/ },
    { case: 'a clock move as a string', method: 'POST' as const, path: 'clock', json: { advanceMs: '60000' }, error: /advanceMs/ },
    { case: 'a misspelt field', method: 'POST' as const, path: 'clock', json: { advance: 1 }, error: /unknown field\(s\) advance/ },
    { case: 'an unknown appid', method: 'POST' as const, path: 'tokens/expire', json: { appid: 'wx-nobody' }, error: /wx-nobody/ },
    { case: 'a missing appid', method: 'POST' as const, path: 'tokens/other-system-fetch', json: {}, error: /appid/ },
    { case: 'a token listing without appid', method: 'GET' as const, path: 'tokens', json: undefined, error: /appid/ },
    { case: 'an unknown token kind', method: 'POST' as const, path: 'tokens/invalidate', json: { appid: APPID, kind: 'jsapi' }, error: /kind/ },
    { case: 'a fault on an unknown path', method: 'POST' as const, path: 'faults', json: { path: '/cgi-bin/tokens', errcode: -1 }, error: /\/cgi-bin\/tokens/ },
    { case: 'a fault that does nothing', method: 'POST' as const, path: 'faults', json: { path: '/cgi-bin/token' }, error: /errcode, drop or a positive delayMs/ },
    { case: 'a fault with errcode 0', method: 'POST' as const, path: 'faults', json: { path: '/cgi-bin/token', errcode: 0 }, error: /errcode/ },
    { case: 'a fault used zero times', method: 'POST' as const, path: 'faults', json: { path: '/cgi-bin/token', errcode: -1, times: 0 }, error: /times/ },
    { case: 'a whitelist entry that is not an IP', method: 'POST' as const, path: 'whitelist', json: { ips: ['example.com'] }, error: /ips\[0\]/ },
    { case: 'a whitelist that is not a list', method: 'POST' as const, path: 'whitelist', json: { ips: '127.0.0.2' }, error: /ips/ },
    { case: 'a body that is a list', method: 'POST' as const, path: 'faults', json: [1], error: /JSON object/ },
  ])('answers $case with 400 and a JSON error', async ({ method, path, json, error }) => {
    const { status, body } = await control(method, path, json);

    expect(status).toBe(400);
    expect(body).toEqual({ error: expect.stringMatching(error) });
  });

  it('answers a body that is not JSON with 400', async () => {
    const response = await client().post('__sandbox/clock', { body: '{advanceMs: 1', headers: { 'content-type': 'application/json' } });

    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body)).toEqual({ error: 'the request body is not JSON' });
  });

  it.each([
    { case: 'an unknown operation', method: 'GET' as const, path: 'tickets', status: 404 },
    { case: 'a wrong method', method: 'DELETE' as const, path: 'clock', status: 405 },
  ])('answers $case with $status', async ({ method, path, status }) => {
    const response = await control(method, path);

    expect(response).toEqual({ status, body: { error: expect.any(String) } });
  });

  it('leaves the sandbox untouched after bad input', async () => {
    await control('POST', 'clock', { advanceMs: -1 });
    await control('POST', 'faults', { path: '/cgi-bin/token' });

    expect(sandbox.control.clock().offsetMs).toBe(0);
    expect(sandbox.control.faults()).toEqual([]);
  });

  it.each([
    { case: 'advanceClock', act: () => sandbox.control.advanceClock(Number.NaN) },
    { case: 'expireTokens', act: () => sandbox.control.expireTokens('wx-nobody') },
    { case: 'addFault', act: () => sandbox.control.addFault({ path: '/cgi-bin/token', errcode: -1, drop: true }) },
    { case: 'setWhitelist', act: () => sandbox.control.setWhitelist(['not-an-ip']) },
  ])('throws SandboxInputError from the programmatic $case', ({ act }) => {
    expect(act).toThrow(SandboxInputError);
  });
});
