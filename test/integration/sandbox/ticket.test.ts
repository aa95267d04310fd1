/**
 * The sandbox's ticket API over real HTTP (reference/wechat-api.md §2), and the shared
 * access_token check every later endpoint reuses.
 */
import got from 'got';
import { isValidTicket, requireAccessToken, startWechatSandbox, type RunningWechatSandbox, type WechatSandboxOptions } from '../../../scripts/local/sandbox';

type Json = Record<string, unknown>;

const APPID = 'wx00000000000000a1';
const SECRET = 'secret-a1';
const OTHER_APPID = 'wx00000000000000b2';
const WHITELISTED_IP = '127.0.0.2';
const STRANGER_IP = '127.0.0.9';
const BASE_MS = Date.parse('2025-03-01T10:00:00+08:00');

const options: WechatSandboxOptions = {
  accounts: [{ appid: APPID, secret: SECRET }, { appid: OTHER_APPID, secret: 'secret-b2' }],
  ipWhitelist: [WHITELISTED_IP],
  ticketDailyQuota: 3,
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

async function accessToken(appid = APPID, secret = SECRET): Promise<string> {
  const reply = await client()
    .get('cgi-bin/token', { searchParams: { grant_type: 'client_credential', appid, secret } })
    .json<Json>();
  expect(typeof reply.access_token).toBe('string');
  return reply.access_token as string;
}

function getTicket(searchParams: Record<string, string>, localAddress?: string): Promise<Json> {
  return client(localAddress).get('cgi-bin/ticket/getticket', { searchParams }).json<Json>();
}

async function ticketOf(reply: Promise<Json>): Promise<string> {
  const body = await reply;
  expect(typeof body.ticket).toBe('string');
  return body.ticket as string;
}

describe('GET /cgi-bin/ticket/getticket', () => {
  it.each([
    { case: 'the card api_ticket', type: 'wx_card' as const, otherType: 'jsapi' as const },
    { case: 'the JS-SDK ticket', type: 'jsapi' as const, otherType: 'wx_card' as const },
  ])('issues $case, valid for that account and type only', async ({ type, otherType }) => {
    const reply = await getTicket({ access_token: await accessToken(), type });

    expect(reply).toEqual({ errcode: 0, errmsg: 'ok', ticket: expect.stringMatching(/^[A-Za-z0-9_-]{64,}$/), expires_in: 7200 });
    const ticket = reply.ticket as string;
    expect(isValidTicket(sandbox.state, APPID, type, ticket)).toBe(true);
    expect(isValidTicket(sandbox.state, APPID, otherType, ticket)).toBe(false);
    expect(isValidTicket(sandbox.state, OTHER_APPID, type, ticket)).toBe(false);
    expect(isValidTicket(sandbox.state, APPID, type, `${ticket}x`)).toBe(false);
  });

  it.each<{ case: string; query: Record<string, string>; errcode: number; errmsg: RegExp }>([
    { case: 'no access_token', query: { type: 'wx_card' }, errcode: 41001, errmsg: /^access_token missing rid: / },
    { case: 'an empty access_token', query: { access_token: '', type: 'wx_card' }, errcode: 41001, errmsg: /^access_token missing rid: / },
    { case: 'an unknown access_token', query: { access_token: 'forged', type: 'wx_card' }, errcode: 40001, errmsg: /^invalid credential, access_token is invalid or not latest rid: / },
    { case: 'an unknown type', query: { access_token: 'LIVE', type: 'card' }, errcode: 40097, errmsg: /^invalid args rid: / },
    { case: 'no type', query: { access_token: 'LIVE' }, errcode: 40097, errmsg: /^invalid args rid: / },
  ])('refuses $case with $errcode', async ({ query, errcode, errmsg }) => {
    const token = await accessToken();
    const searchParams = query.access_token === 'LIVE' ? { ...query, access_token: token } : query;

    const reply = await getTicket(searchParams);

    expect(reply).toEqual({ errcode, errmsg: expect.stringMatching(errmsg) });
    expect(sandbox.state.tickets.size).toBe(0);
  });

  it.each([
    {
      case: 'invalidated by a force refresh elsewhere',
      act: () => sandbox.control.invalidateTokens(APPID),
      errcode: 40001,
      errmsg: /^invalid credential, access_token is invalid or not latest rid: /,
    },
    { case: 'expired through the control API', act: () => sandbox.control.expireTokens(APPID), errcode: 42001, errmsg: /^access_token expired rid: / },
    { case: 'expired by the clock', act: () => sandbox.control.advanceClock(7_200_000), errcode: 42001, errmsg: /^access_token expired rid: / },
  ])('refuses a token $case with $errcode', async ({ act, errcode, errmsg }) => {
    const token = await accessToken();
    act();

    expect(await getTicket({ access_token: token, type: 'wx_card' })).toEqual({ errcode, errmsg: expect.stringMatching(errmsg) });
  });

  it('issues a new ticket on every call and keeps earlier ones valid until their own expiry', async () => {
    const token = await accessToken();
    const first = await ticketOf(getTicket({ access_token: token, type: 'wx_card' }));
    sandbox.control.advanceClock(100_000);
    const second = await ticketOf(getTicket({ access_token: token, type: 'wx_card' }));

    expect(second).not.toBe(first);
    sandbox.control.advanceClock(7_099_999);
    expect(isValidTicket(sandbox.state, APPID, 'wx_card', first)).toBe(true);
    sandbox.control.advanceClock(1);
    expect(isValidTicket(sandbox.state, APPID, 'wx_card', first)).toBe(false);
    expect(isValidTicket(sandbox.state, APPID, 'wx_card', second)).toBe(true);
  });

  it('does not check the IP whitelist', async () => {
    const token = await accessToken();

    expect(await getTicket({ access_token: token, type: 'jsapi' }, STRANGER_IP)).toMatchObject({ errcode: 0, errmsg: 'ok' });
  });

  it('answers 45009 past the daily quota, counted per account across both types, until midnight UTC+8', async () => {
    const token = await accessToken();
    const otherToken = await accessToken(OTHER_APPID, 'secret-b2');
    await ticketOf(getTicket({ access_token: token, type: 'wx_card' }));
    await ticketOf(getTicket({ access_token: token, type: 'jsapi' }));
    await ticketOf(getTicket({ access_token: token, type: 'wx_card' }));

    expect(await getTicket({ access_token: token, type: 'jsapi' })).toEqual({
      errcode: 45009,
      errmsg: expect.stringMatching(/^reach max api daily quota limit rid: /),
    });
    expect(await getTicket({ access_token: otherToken, type: 'jsapi' })).toMatchObject({ errcode: 0 });
    // 10:00 + 14 h = midnight in Beijing; the token is refreshed because 14 h outlive it.
    sandbox.control.advanceClock(14 * 3_600_000);
    expect(await getTicket({ access_token: await accessToken(), type: 'jsapi' })).toMatchObject({ errcode: 0 });
  });

  it('counts calls per type in the stats detail', async () => {
    const token = await accessToken();
    await getTicket({ access_token: token, type: 'wx_card' });
    await getTicket({ access_token: token, type: 'wx_card' });
    await getTicket({ access_token: token, type: 'jsapi' });

    expect(sandbox.control.stats()).toEqual({
      calls: { '/cgi-bin/token': 1, '/cgi-bin/ticket/getticket': 3 },
      detail: { '/cgi-bin/token': 1, '/cgi-bin/ticket/getticket?type=wx_card': 2, '/cgi-bin/ticket/getticket?type=jsapi': 1 },
      errors: {},
    });
  });
});

describe('requireAccessToken', () => {
  it('names the account of a live token for any future endpoint', async () => {
    const token = await accessToken(OTHER_APPID, 'secret-b2');

    const check = requireAccessToken(sandbox.state, new URL(`http://sandbox/card/create?access_token=${token}`));

    expect(check).toMatchObject({ ok: true, appid: OTHER_APPID });
  });

  it('returns the WeChat error instead of throwing', () => {
    const check = requireAccessToken(sandbox.state, new URL('http://sandbox/card/create'));

    expect(check).toEqual({ ok: false, error: { errcode: 41001, errmsg: expect.stringMatching(/^access_token missing rid: /) } });
  });
});
