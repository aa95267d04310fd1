/**
 * The caller check through the real bundles: every context the platform can give reaches the
 * function host's public entry (POST /functions/<name>), and only the listed ones get through.
 */
import tcb from '@cloudbase/node-sdk';
import { ADMIN, callFunction, FROM_FUNCTION, LOCAL_ACCOUNT, startTestStack, upstreamCalls, user, type Stack, type TestCaller } from '../helpers/stack';

const MP = LOCAL_ACCOUNT.miniProgramAppId;

describe('who may call: server callers are proven, not assumed', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 2 });
  });
  afterAll(() => stack.close());

  it.each<{ case: string; caller: TestCaller }>([
    { case: "WeChat's invokecloudfunction HTTP API (wx_http)", caller: { type: 'context', source: 'wx_http' } },
    { case: 'the mini-program crawler (wx_crawler)', caller: { type: 'context', source: 'wx_crawler' } },
    { case: 'the crawler with an openid', caller: { type: 'context', source: 'wx_crawler', openid: 'o-bot', appid: MP } },
    { case: 'an unknown WeChat source (wx_unknown)', caller: { type: 'context', source: 'wx_unknown' } },
    { case: 'a Pay callback (wx_paycallback)', caller: { type: 'context', source: 'wx_paycallback' } },
    { case: 'IDE local debugging (wx_localdebug) with a user', caller: { type: 'context', source: 'wx_localdebug', openid: 'o-dev', appid: MP } },
    { case: 'a source nobody listed', caller: { type: 'context', source: 'wx_future_source' } },
    { case: 'a client call without a user', caller: { type: 'context', source: 'wx_client' } },
    { case: 'another trigger', caller: { type: 'context', triggerSrc: 'cos' } },
  ])('refuses $case on getToken before any work', async ({ caller }) => {
    const before = await upstreamCalls(stack);
    const result = await callFunction(stack, 'getToken', { action: 'status' }, caller);
    expect(result).toMatchObject({ ok: false, error: { code: 'FORBIDDEN', message: expect.stringMatching(/does not identify an accepted caller/) } });
    expect(await upstreamCalls(stack)).toEqual(before);
  });

  it.each<{ case: string; caller: TestCaller }>([
    { case: 'an admin (tcb fn invoke)', caller: ADMIN },
    { case: 'another function', caller: FROM_FUNCTION },
    { case: 'an operator script through the node-sdk', caller: { type: 'function', source: ',unknown' } },
  ])('serves $case', async ({ caller }) => {
    await expect(callFunction(stack, 'getToken', { action: 'status' }, caller)).resolves.toMatchObject({ ok: true });
  });

  it('serves an operator script calling through the real @cloudbase/node-sdk as an admin', async () => {
    const app = tcb.init({ env: LOCAL_ACCOUNT.envId, secretId: 'local', secretKey: 'local', serviceUrl: `${stack.url}/admin` } as never);
    const { result } = (await app.callFunction({ name: 'getToken', data: { action: 'status' } })) as { result: unknown };
    expect(result).toMatchObject({ ok: true, data: { hasValue: expect.any(Boolean) } });
  });

  it('serves the timer only with the timer context', async () => {
    await expect(callFunction(stack, 'getTicket', {}, { type: 'timer', trigger: 'refreshTickets' })).resolves.toMatchObject({ ok: true });
    const forged = { type: 'context', source: 'wx_http' } as const;
    await expect(callFunction(stack, 'getTicket', { Type: 'Timer', TriggerName: 'refreshTickets', Time: '2026-01-01T00:00:00Z', Message: '' }, forged)).resolves.toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
  });

  it('keeps a mini-program user a user, and refuses a user from a source other than the app', async () => {
    await expect(callFunction(stack, 'getToken', {}, user('o-mallory'))).resolves.toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    const debug = { type: 'context', source: 'wx_localdebug', openid: 'o-dev', appid: MP } as const;
    await expect(callFunction(stack, 'signCard', { cards: [{ cardId: 'p000000000000000000000000000' }] }, debug)).resolves.toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
  });

  it('refuses an HTTP-access-shaped event whatever the context', async () => {
    const event = { path: '/getToken', httpMethod: 'GET', headers: { host: 'example.com' }, queryStringParameters: {}, body: '', isBase64Encoded: false };
    await expect(callFunction(stack, 'getToken', event, ADMIN)).resolves.toMatchObject({ ok: false, error: { code: 'FORBIDDEN', message: expect.stringMatching(/HTTP access/) } });
  });

  it('answers a 1 MB field name with a short message and writes no long log line', async () => {
    const name = 'k'.repeat(1024 * 1024);
    const response = await fetch(`${stack.url}/functions/signCard`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ data: { [name]: 1 }, caller: user('o-flood') }),
    });
    const text = await response.text();
    expect(text.length).toBeLessThan(500);
    expect(JSON.parse(text)).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', message: expect.stringMatching(/^Unknown field\(s\): k{48}…\(1048576 chars\)$/) } });
    const lines = stack.host.logs('signCard');
    expect(lines.length).toBeGreaterThan(0);
    expect(Math.max(...lines.map((line) => line.text.length))).toBeLessThan(20_000);
  });
});
