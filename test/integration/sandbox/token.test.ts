/**
 * The sandbox's access_token APIs over real HTTP: classic /cgi-bin/token and /cgi-bin/stable_token
 * (reference/wechat-api.md §1). The base clock is pinned, so every expiry below is reached by
 * advancing the sandbox clock, never by waiting.
 */
import got from 'got';
import { SandboxInputError, createWechatSandbox, startWechatSandbox, type RunningWechatSandbox, type WechatSandboxOptions } from '../../../scripts/local/sandbox';
import { normalizeRemoteAddress } from '../../../scripts/local/sandbox/http';

type Json = Record<string, unknown>;

const APPID = 'wx00000000000000a1';
const SECRET = 'secret-a1';
const OTHER_APPID = 'wx00000000000000b2';
const WHITELISTED_IP = '127.0.0.2';
const STRANGER_IP = '127.0.0.9';
// 10:00 in Beijing; quotas reset at midnight UTC+8.
const BASE_MS = Date.parse('2025-03-01T10:00:00+08:00');

const options: WechatSandboxOptions = {
  accounts: [{ appid: APPID, secret: SECRET }, { appid: OTHER_APPID, secret: 'secret-b2' }],
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

function client(target: RunningWechatSandbox = sandbox, localAddress = WHITELISTED_IP) {
  return got.extend({ prefixUrl: target.url, localAddress, retry: { limit: 0 }, throwHttpErrors: false });
}

function classicToken(query: Record<string, string> = {}, localAddress?: string, target?: RunningWechatSandbox): Promise<Json> {
  return client(target, localAddress)
    .get('cgi-bin/token', { searchParams: { grant_type: 'client_credential', appid: APPID, secret: SECRET, ...query } })
    .json<Json>();
}

function stableToken(body: Json = {}, localAddress?: string, target?: RunningWechatSandbox): Promise<Json> {
  return client(target, localAddress)
    .post('cgi-bin/stable_token', { json: { grant_type: 'client_credential', appid: APPID, secret: SECRET, ...body } })
    .json<Json>();
}

/** Uses a token the way every endpoint does (getticket runs the shared access_token check). */
async function useToken(accessToken: unknown): Promise<number> {
  const reply = await client()
    .get('cgi-bin/ticket/getticket', { searchParams: { access_token: String(accessToken), type: 'jsapi' } })
    .json<Json>();
  return reply.errcode as number;
}

async function tokenOf(reply: Promise<Json>): Promise<string> {
  const body = await reply;
  expect(typeof body.access_token).toBe('string');
  return body.access_token as string;
}

describe('GET /cgi-bin/token', () => {
  it('issues a 7200 s token of at least 64 URL-safe characters to a whitelisted caller', async () => {
    const reply = await classicToken();

    expect(reply).toEqual({ access_token: expect.stringMatching(/^[A-Za-z0-9_-]{64,}$/), expires_in: 7200 });
    expect(sandbox.control.stats().calls).toEqual({ '/cgi-bin/token': 1 });
  });

  it.each<{ case: string; query: Record<string, string>; localAddress?: string; errcode: number; errmsg: RegExp }>([
    { case: 'a wrong grant_type', query: { grant_type: 'password' }, errcode: 40002, errmsg: /^invalid grant_type rid: \S+$/ },
    { case: 'a missing appid', query: { appid: '' }, errcode: 41002, errmsg: /^appid missing rid: / },
    { case: 'a missing secret', query: { secret: '' }, errcode: 41004, errmsg: /^appsecret missing rid: / },
    { case: 'an unknown appid', query: { appid: 'wx-nobody' }, errcode: 40013, errmsg: /^invalid appid rid: / },
    { case: 'a wrong secret', query: { secret: 'guess' }, errcode: 40125, errmsg: /^invalid appsecret rid: / },
    {
      case: 'a caller outside the IP whitelist',
      query: {},
      localAddress: STRANGER_IP,
      errcode: 40164,
      errmsg: /^invalid ip 127\.0\.0\.9 ipv6 ::ffff:127\.0\.0\.9, not in whitelist rid: \S+$/,
    },
  ])('refuses $case with $errcode and issues nothing', async ({ query, localAddress, errcode, errmsg }) => {
    const reply = await classicToken(query, localAddress);

    expect(reply).toEqual({ errcode, errmsg: expect.stringMatching(errmsg) });
    expect(sandbox.control.tokens(APPID)).toEqual([]);
    expect(sandbox.control.stats()).toEqual({
      calls: { '/cgi-bin/token': 1 },
      detail: { '/cgi-bin/token': 1 },
      errors: { '/cgi-bin/token': { [String(errcode)]: 1 } },
    });
  });

  it('keeps the previous token working for exactly 5 minutes after a new one, then answers 40001', async () => {
    const first = await tokenOf(classicToken());
    sandbox.control.advanceClock(60_000);
    const second = await tokenOf(classicToken());

    sandbox.control.advanceClock(299_999);
    expect(await useToken(first)).toBe(0);
    sandbox.control.advanceClock(1);
    expect(await useToken(first)).toBe(40001);
    expect(await useToken(second)).toBe(0);
  });

  it('answers 42001 once a token reaches its 7200 s expiry', async () => {
    const token = await tokenOf(classicToken());

    sandbox.control.advanceClock(7_199_999);
    expect(await useToken(token)).toBe(0);
    sandbox.control.advanceClock(1);
    expect(await useToken(token)).toBe(42001);
  });

  it('lets a superseded token die of its own expiry (42001) when that comes before the overlap ends', async () => {
    const first = await tokenOf(classicToken());
    sandbox.control.advanceClock(7_100_000);
    await classicToken();
    sandbox.control.advanceClock(100_000);

    expect(await useToken(first)).toBe(42001);
  });

  it('keeps the tokens of different accounts apart', async () => {
    const mine = await tokenOf(classicToken());
    await classicToken({ appid: OTHER_APPID, secret: 'secret-b2' });
    sandbox.control.advanceClock(600_000);

    expect(await useToken(mine)).toBe(0);
  });
});

describe('POST /cgi-bin/stable_token', () => {
  it('returns the same token with its remaining lifetime in normal mode', async () => {
    const first = await stableToken();
    sandbox.control.advanceClock(1_000_000);
    const second = await stableToken({ force_refresh: false });

    expect(first).toEqual({ access_token: expect.stringMatching(/^[A-Za-z0-9_-]{64,}$/), expires_in: 7200 });
    expect(second).toEqual({ access_token: first.access_token, expires_in: 6200 });
    expect(sandbox.control.stats().calls).toEqual({ '/cgi-bin/stable_token': 2 });
  });

  it('hands out the next token when less than 300 s are left, and the old one lives to its own expiry', async () => {
    const old = await tokenOf(stableToken());
    sandbox.control.advanceClock(6_900_000);
    const atBoundary = await stableToken();
    sandbox.control.advanceClock(1);
    const next = await stableToken();

    expect(atBoundary).toEqual({ access_token: old, expires_in: 300 });
    expect(next).toEqual({ access_token: expect.not.stringMatching(old), expires_in: 7200 });
    sandbox.control.advanceClock(299_998);
    expect(await useToken(old)).toBe(0);
    sandbox.control.advanceClock(1);
    expect(await useToken(old)).toBe(42001);
    expect(await useToken(next.access_token)).toBe(0);
  });

  it('issues a new token on force_refresh and the previous one stops working at once', async () => {
    const old = await tokenOf(stableToken());
    const fresh = await stableToken({ force_refresh: true });

    expect(fresh).toEqual({ access_token: expect.not.stringMatching(old), expires_in: 7200 });
    expect(await useToken(old)).toBe(40001);
    expect(await useToken(fresh.access_token)).toBe(0);
    expect(sandbox.control.stats().detail).toEqual({
      '/cgi-bin/stable_token': 1,
      '/cgi-bin/stable_token?force_refresh=true': 1,
      '/cgi-bin/ticket/getticket?type=jsapi': 2,
    });
  });

  it('does not refresh on a force call less than 30 s after the last effective one', async () => {
    const forced = await tokenOf(stableToken({ force_refresh: true }));
    sandbox.control.advanceClock(29_999);
    const tooSoon = await stableToken({ force_refresh: true });
    sandbox.control.advanceClock(1);
    const later = await stableToken({ force_refresh: true });

    expect(tooSoon).toEqual({ access_token: forced, expires_in: 7170 });
    expect(later).toEqual({ access_token: expect.not.stringMatching(forced), expires_in: 7200 });
  });

  it('refuses the 21st force refresh of the day with 45009 while normal mode keeps working', async () => {
    for (let call = 0; call < 20; call += 1) {
      expect(await stableToken({ force_refresh: true })).toEqual({ access_token: expect.any(String), expires_in: 7200 });
      sandbox.control.advanceClock(30_000);
    }

    expect(await stableToken({ force_refresh: true })).toEqual({ errcode: 45009, errmsg: expect.stringMatching(/^reach max api daily quota limit rid: /) });
    expect(await stableToken()).toEqual({ access_token: expect.any(String), expires_in: expect.any(Number) });
  });

  it('keeps stable and classic tokens fully independent', async () => {
    const stable = await tokenOf(stableToken());
    const classic = await tokenOf(classicToken());
    await classicToken();
    sandbox.control.advanceClock(300_000);
    expect(await useToken(stable)).toBe(0);
    expect(await useToken(classic)).toBe(40001);

    const newClassic = await tokenOf(classicToken());
    await stableToken({ force_refresh: true });
    expect(await useToken(newClassic)).toBe(0);
  });

  it.each([
    { case: 'a wrong grant_type', body: { grant_type: 'client' }, errcode: 40002, errmsg: /^invalid grant_type rid: / },
    { case: 'an unknown appid', body: { appid: 'wx-nobody' }, errcode: 40013, errmsg: /^invalid appid rid: / },
    { case: 'a wrong secret', body: { secret: 'guess' }, errcode: 40125, errmsg: /^invalid appsecret rid: / },
    { case: 'a non-boolean force_refresh', body: { force_refresh: 'yes' }, errcode: 40097, errmsg: /^invalid args rid: / },
    {
      case: 'a caller outside the IP whitelist',
      body: {},
      localAddress: STRANGER_IP,
      errcode: 40164,
      errmsg: /^invalid ip 127\.0\.0\.9 ipv6 ::ffff:127\.0\.0\.9, not in whitelist rid: /,
    },
  ])('refuses $case with $errcode', async ({ body, localAddress, errcode, errmsg }) => {
    expect(await stableToken(body, localAddress)).toEqual({ errcode, errmsg: expect.stringMatching(errmsg) });
    expect(sandbox.control.tokens(APPID)).toEqual([]);
  });

  it.each([
    { case: 'a body that is not JSON', send: { body: 'grant_type=client_credential' }, errcode: 47001 },
    { case: 'a JSON array', send: { json: [APPID] }, errcode: 47001 },
    { case: 'an empty body', send: {}, errcode: 47001 },
  ])('answers $case with $errcode instead of failing', async ({ send, errcode }) => {
    const reply = await client().post('cgi-bin/stable_token', send).json<Json>();

    expect(reply).toEqual({ errcode, errmsg: expect.stringMatching(/^data format error rid: /) });
  });

  it('answers a GET with 43002 (POST only)', async () => {
    const reply = await client().get('cgi-bin/stable_token').json<Json>();

    expect(reply).toEqual({ errcode: 43002, errmsg: expect.stringMatching(/^require POST method rid: /) });
    expect(sandbox.control.stats().calls).toEqual({ '/cgi-bin/stable_token': 1 });
  });
});

describe('daily quotas', () => {
  // 23:59 in Beijing: one minute before the quotas reset.
  const lateMs = Date.parse('2025-03-01T23:59:00+08:00');
  let quotaSandbox: RunningWechatSandbox;

  beforeAll(async () => {
    quotaSandbox = await startWechatSandbox({ ...options, tokenDailyQuota: 2, stableTokenDailyQuota: 2, now: () => lateMs });
  });
  afterAll(async () => {
    await quotaSandbox.close();
  });
  beforeEach(() => {
    quotaSandbox.control.reset();
  });

  it.each([
    { case: 'cgi-bin/token', call: () => classicToken({}, undefined, quotaSandbox) },
    { case: 'cgi-bin/stable_token', call: () => stableToken({}, undefined, quotaSandbox) },
  ])('answers 45009 past the quota of $case until midnight UTC+8', async ({ call }) => {
    expect(await call()).toHaveProperty('access_token');
    expect(await call()).toHaveProperty('access_token');
    expect(await call()).toEqual({ errcode: 45009, errmsg: expect.stringMatching(/^reach max api daily quota limit rid: /) });

    quotaSandbox.control.advanceClock(59_999);
    expect(await call()).toMatchObject({ errcode: 45009 });
    quotaSandbox.control.advanceClock(1);
    expect(await call()).toHaveProperty('access_token');
  });

  it('counts classic fetches by other systems against the same per-account quota', async () => {
    quotaSandbox.control.otherSystemFetch(APPID);
    quotaSandbox.control.otherSystemFetch(APPID);

    expect(await classicToken({}, undefined, quotaSandbox)).toMatchObject({ errcode: 45009 });
    expect(() => quotaSandbox.control.otherSystemFetch(APPID)).toThrow(/quota/);
  });

  it('does not count refused calls against the quota', async () => {
    await classicToken({ secret: 'guess' }, undefined, quotaSandbox);
    await classicToken({}, STRANGER_IP, quotaSandbox);

    expect(await classicToken({}, undefined, quotaSandbox)).toHaveProperty('access_token');
    expect(await classicToken({}, undefined, quotaSandbox)).toHaveProperty('access_token');
  });
});

describe('normalizeRemoteAddress', () => {
  it.each([
    { case: 'an IPv4-mapped IPv6 address', address: '::ffff:127.0.0.2', expected: '127.0.0.2' },
    { case: 'an upper-case mapped prefix', address: '::FFFF:10.1.2.3', expected: '10.1.2.3' },
    { case: 'a plain IPv4 address', address: '127.0.0.2', expected: '127.0.0.2' },
    { case: 'a real IPv6 address', address: '::1', expected: '::1' },
    { case: 'no address (a destroyed socket)', address: undefined, expected: '' },
  ])('turns $case into the whitelist form', ({ address, expected }) => {
    expect(normalizeRemoteAddress(address)).toBe(expected);
  });
});

describe('createWechatSandbox options', () => {
  it.each([
    { case: 'an unknown option', options: { ...options, ipWhitelists: [] } },
    { case: 'a duplicate appid', options: { ...options, accounts: [{ appid: APPID, secret: 'a' }, { appid: APPID, secret: 'b' }] } },
    { case: 'an account without a secret', options: { ...options, accounts: [{ appid: APPID }] } },
    { case: 'a whitelist entry that is not an IP', options: { ...options, ipWhitelist: ['localhost'] } },
    { case: 'a zero quota', options: { ...options, tokenDailyQuota: 0 } },
  ])('rejects $case', ({ options: bad }) => {
    expect(() => createWechatSandbox(bad as WechatSandboxOptions)).toThrow(SandboxInputError);
  });
});
