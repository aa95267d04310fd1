import { LOCAL_MINI_PROGRAM, LOCAL_OFFICIAL_ACCOUNTS } from '../../scripts/local/stack';
import { ADMIN, adminDb, callFunction, FROM_FUNCTION, LOCAL_ACCOUNT, sandbox, startTestStack, upstreamCalls, user, type Stack } from '../helpers/stack';

const TOKEN_ID = `${LOCAL_ACCOUNT.officialAppId}:access_token`;
const CARD_TICKET_ID = `${LOCAL_ACCOUNT.officialAppId}:ticket:wx_card`;
const JSAPI_TICKET_ID = `${LOCAL_ACCOUNT.officialAppId}:ticket:jsapi`;

async function credentialDoc(stack: Stack, id: string): Promise<Record<string, any>> {
  const result = (await adminDb(stack).collection('wx_credentials').doc(id).get()) as { data: Record<string, any>[] };
  return result.data[0] ?? {};
}

async function setCredentialFields(stack: Stack, id: string, fields: Record<string, unknown>): Promise<void> {
  await adminDb(stack).collection('wx_credentials').doc(id).update(fields);
}

/** Asks getTicket for a jsapi ticket newer than the cached one, as a caller that saw it rejected would. */
async function freshJsapiTicketRequest(stack: Stack): Promise<Record<string, unknown>> {
  const doc = await credentialDoc(stack, JSAPI_TICKET_ID);
  return { type: 'jsapi', rejectedVersion: doc.version ?? 0 };
}

/** Every token and ticket value the sandbox handed out, for the "never in a log" checks. */
async function issuedSecrets(stack: Stack): Promise<string[]> {
  const doc = await Promise.all([TOKEN_ID, CARD_TICKET_ID, JSAPI_TICKET_ID].map((id) => credentialDoc(stack, id)));
  return doc.map((d) => d.value).filter((v): v is string => typeof v === 'string' && v.length > 0);
}

describe('getToken and getTicket on the local stack (stable_token mode)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 8 });
  });
  afterAll(() => stack.close());

  it('serves 200 concurrent cold calls needing the token and the card ticket with exactly one fetch of each', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, () => callFunction(stack, 'getTicket', { type: 'wx_card' }, FROM_FUNCTION)),
    );
    for (const result of results) expect(result).toMatchObject({ ok: true, data: { kind: 'ticket:wx_card', version: 1 } });
    expect(await upstreamCalls(stack)).toEqual({ '/cgi-bin/stable_token': 1, '/cgi-bin/ticket/getticket': 1 });
    const stats = stack.host.stats();
    expect(stats.getTicket?.instances).toBeGreaterThan(1);
  });

  it('answers with metadata only: the value stays in wx_credentials', async () => {
    const result = await callFunction(stack, 'getToken', {}, ADMIN);
    expect(result).toEqual({ ok: true, data: { kind: 'access_token', version: 1, expiresAtMs: expect.any(Number) } });
    const doc = await credentialDoc(stack, TOKEN_ID);
    expect(doc).toMatchObject({ version: 1, source: 'demand', leaseOwner: null });
    expect(typeof doc.value).toBe('string');
    expect(JSON.stringify(result)).not.toContain(doc.value);
  });

  it('does not call WeChat on the warm path', async () => {
    const before = await upstreamCalls(stack);
    for (let i = 0; i < 5; i += 1) {
      await expect(callFunction(stack, 'getToken', {}, FROM_FUNCTION)).resolves.toMatchObject({ ok: true });
      await expect(callFunction(stack, 'getTicket', { type: 'wx_card' }, ADMIN)).resolves.toMatchObject({ ok: true });
    }
    expect(await upstreamCalls(stack)).toEqual(before);
  });

  it('refuses mini-program users with FORBIDDEN and does no work for them', async () => {
    const before = await upstreamCalls(stack);
    for (const name of ['getToken', 'getTicket']) {
      const result = await callFunction(stack, name, { type: 'wx_card' }, user('o-mallory'));
      expect(result).toEqual({ ok: false, error: { code: 'FORBIDDEN', message: `${name} may not be called by a mini-program user` } });
    }
    expect(await upstreamCalls(stack)).toEqual(before);
  });

  it.each([
    { case: 'an unknown ticket type', name: 'getTicket', data: { type: 'wx_cards' }, code: 'INVALID_INPUT' },
    { case: 'a missing ticket type', name: 'getTicket', data: {}, code: 'INVALID_INPUT' },
    { case: 'an unknown field', name: 'getToken', data: { action: 'get', force: true }, code: 'INVALID_INPUT' },
    { case: 'a bad rejectedVersion', name: 'getToken', data: { rejectedVersion: 'x' }, code: 'INVALID_INPUT' },
    { case: 'a non-object event', name: 'getToken', data: 'token please', code: 'INVALID_INPUT' },
  ])('answers $case with a typed error', async ({ name, data, code }) => {
    const result = await callFunction(stack, name, data, ADMIN);
    expect(result).toMatchObject({ ok: false, error: { code } });
  });

  it('refreshes every account ahead of expiry on the timer, and only then', async () => {
    const [a1, a2, a3] = LOCAL_OFFICIAL_ACCOUNTS.map((account) => account.appId);
    const timer = { type: 'timer', trigger: 'refreshToken' } as const;
    // The environment's token is fresh; the two registry accounts and the mini-program (WX_MP_APPSECRET) have none yet.
    const first = await callFunction(stack, 'getToken', {}, timer);
    expect(first).toEqual({
      ok: true,
      data: [
        { appId: a1, kind: 'access_token', ok: true, refreshed: false, version: 1, expiresAtMs: expect.any(Number) },
        { appId: a2, kind: 'access_token', ok: true, refreshed: true, version: 1, expiresAtMs: expect.any(Number) },
        { appId: a3, kind: 'access_token', ok: true, refreshed: true, version: 1, expiresAtMs: expect.any(Number) },
        { appId: LOCAL_MINI_PROGRAM.appId, kind: 'access_token', ok: true, refreshed: true, version: 1, expiresAtMs: expect.any(Number) },
      ],
    });
    const before = await upstreamCalls(stack);
    const idle = await callFunction(stack, 'getToken', {}, timer);
    expect(idle.data.map((line: { refreshed: boolean }) => line.refreshed)).toEqual([false, false, false, false]);
    expect(await upstreamCalls(stack)).toEqual(before);

    // Four minutes left in our cache: inside the five-minute refresh window.
    const shortened = Date.now() + 240_000;
    await setCredentialFields(stack, TOKEN_ID, { expiresAtMs: shortened });
    const due = await callFunction(stack, 'getToken', {}, timer);
    // WeChat's stable_token still has most of its life, so it answers the same token: same version, later expiry.
    expect(due.data[0]).toMatchObject({ appId: a1, ok: true, refreshed: true, version: 1 });
    expect(due.data.slice(1).map((line: { refreshed: boolean }) => line.refreshed)).toEqual([false, false, false]);
    expect(due.data[0].expiresAtMs).toBeGreaterThan(shortened + 60 * 60_000);
    expect((await credentialDoc(stack, TOKEN_ID)).source).toBe('timer');
    const after = await upstreamCalls(stack);
    expect(after['/cgi-bin/stable_token']).toBe((before['/cgi-bin/stable_token'] ?? 0) + 1);
  });

  it('refreshes the tickets of every account on getTicket\'s timer: the card ticket only where cards are allowed', async () => {
    const [a1, a2, a3] = LOCAL_OFFICIAL_ACCOUNTS.map((account) => account.appId);
    await setCredentialFields(stack, CARD_TICKET_ID, { expiresAtMs: Date.now() + 60_000 });
    const cardTicketCalls = async (): Promise<number> =>
      (await sandbox<{ detail: Record<string, number> }>(stack, 'GET', 'stats')).detail['/cgi-bin/ticket/getticket?type=wx_card'] ?? 0;
    const cardTicketsBefore = await cardTicketCalls();
    const result = await callFunction(stack, 'getTicket', {}, { type: 'timer', trigger: 'refreshTickets' });
    expect(result).toEqual({
      ok: true,
      data: [
        expect.objectContaining({ appId: a1, kind: 'ticket:wx_card', ok: true, refreshed: true }),
        expect.objectContaining({ appId: a1, kind: 'ticket:jsapi', ok: true, refreshed: true }),
        // Unverified subscription accounts have no card rights: WeChat would answer 48001.
        expect.objectContaining({ appId: a2, kind: 'ticket:jsapi', ok: true, refreshed: true }),
        expect.objectContaining({ appId: a3, kind: 'ticket:jsapi', ok: true, refreshed: true }),
      ],
    });
    expect(await cardTicketCalls()).toBe(cardTicketsBefore + 1);
  });

  it('recovers once from a token WeChat expired (42001) through getToken', async () => {
    const tokenBefore = await credentialDoc(stack, TOKEN_ID);
    await sandbox(stack, 'POST', 'tokens/expire', { appid: LOCAL_ACCOUNT.officialAppId });
    const request = await freshJsapiTicketRequest(stack);
    const before = await upstreamCalls(stack);
    const result = await callFunction(stack, 'getTicket', request, FROM_FUNCTION);
    expect(result).toMatchObject({ ok: true, data: { kind: 'ticket:jsapi' } });
    const after = await upstreamCalls(stack);
    // One rejected ticket call, one token fetch, one successful ticket call.
    expect(after['/cgi-bin/ticket/getticket']).toBe((before['/cgi-bin/ticket/getticket'] ?? 0) + 2);
    expect(after['/cgi-bin/stable_token']).toBe((before['/cgi-bin/stable_token'] ?? 0) + 1);
    const tokenAfter = await credentialDoc(stack, TOKEN_ID);
    expect(tokenAfter.version).toBe(tokenBefore.version + 1);
    expect(tokenAfter.source).toBe('recover');
  });

  it('force-refreshes only when stable_token hands back the rejected token, within the 30 s spacing', async () => {
    // WeChat rejects a token that stable_token (normal mode) still returns: only force_refresh replaces it.
    await sandbox(stack, 'POST', 'faults', { path: '/cgi-bin/ticket/getticket', errcode: 40001, errmsg: 'invalid credential, access_token is invalid or not latest', times: 1 });
    const ok = await callFunction(stack, 'getTicket', await freshJsapiTicketRequest(stack), FROM_FUNCTION);
    expect(ok).toMatchObject({ ok: true });
    const quota = await credentialDoc(stack, `${LOCAL_ACCOUNT.officialAppId}:force_refresh`);
    expect(quota).toMatchObject({ count: 1 });
  });

  it('keeps a token stable_token stands by in service when no force refresh is allowed, retries once, and records it', async () => {
    // Within 30 s of the force refresh above: another 40001 cannot buy a new token.
    await sandbox(stack, 'POST', 'faults', { path: '/cgi-bin/ticket/getticket', errcode: 40001, errmsg: 'invalid credential', times: 1 });
    const tokenBefore = await credentialDoc(stack, TOKEN_ID);
    const before = await upstreamCalls(stack);
    const result = await callFunction(stack, 'getTicket', await freshJsapiTicketRequest(stack), FROM_FUNCTION);
    expect(result).toMatchObject({ ok: true, data: { kind: 'ticket:jsapi' } });
    const after = await upstreamCalls(stack);
    // One normal stable_token call (it answered the same token), no force refresh; the refused ticket call and its retry.
    expect(after['/cgi-bin/stable_token']).toBe(before['/cgi-bin/stable_token']! + 1);
    expect(after['/cgi-bin/ticket/getticket']).toBe(before['/cgi-bin/ticket/getticket']! + 2);
    expect(await credentialDoc(stack, `${LOCAL_ACCOUNT.officialAppId}:force_refresh`)).toMatchObject({ count: 1 });
    const tokenAfter = await credentialDoc(stack, TOKEN_ID);
    expect(tokenAfter).toMatchObject({
      version: tokenBefore.version,
      rejectedAtMs: 0,
      contradictions: 1,
      lastContradiction: { version: tokenBefore.version, message: expect.stringMatching(/force_refresh is not allowed now/) },
    });
    expect(tokenAfter.expiresAtMs).toBeGreaterThan(Date.now() + 60 * 60_000);
    // Every other caller keeps getting it, without asking WeChat again.
    await expect(callFunction(stack, 'getToken', {}, FROM_FUNCTION)).resolves.toMatchObject({ ok: true, data: { version: tokenBefore.version } });
    await expect(callFunction(stack, 'getToken', { rejectedVersion: tokenBefore.version }, FROM_FUNCTION)).resolves.toMatchObject({ ok: true, data: { version: tokenBefore.version } });
    expect((await upstreamCalls(stack))['/cgi-bin/stable_token']).toBe(after['/cgi-bin/stable_token']);
    const status = await callFunction(stack, 'getToken', { action: 'status' }, ADMIN);
    expect(status.data).toMatchObject({ contradictions: 1, hasValue: true });
  });

  it('never writes a token, ticket or the AppSecret into a function log', async () => {
    const secrets = [...(await issuedSecrets(stack)), LOCAL_ACCOUNT.officialAppSecret, LOCAL_MINI_PROGRAM.appSecret];
    expect(secrets.length).toBeGreaterThanOrEqual(3);
    const logs = stack.host.logs().map((entry) => entry.text).join('\n');
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of secrets) expect(logs).not.toContain(secret);
  });
});

describe('getToken failure handling', () => {
  let stack: Stack;
  beforeEach(async () => {
    stack = await startTestStack({ instancesPerFunction: 2 });
  });
  afterEach(() => stack.close());

  it('names the rejected IP and the fix on 40164', async () => {
    await sandbox(stack, 'POST', 'whitelist', { ips: ['10.0.0.1'] });
    const result = await callFunction(stack, 'getToken', {}, ADMIN);
    expect(result).toMatchObject({ ok: false, error: { code: 'IP_NOT_WHITELISTED' } });
    expect(result.error.message).toMatch(/from IP 127\.0\.0\.2/);
    expect(result.error.message).toMatch(/getToken/);
    expect(result.error.message).toMatch(/固定出口IP/);
    // A mini-program user reaching a function that needs the token would see no internals.
  });

  it('backs off after 45009 instead of hammering WeChat', async () => {
    await sandbox(stack, 'POST', 'faults', { path: '/cgi-bin/stable_token', errcode: 45009, errmsg: 'reach max api daily quota limit', times: 5 });
    const first = await callFunction(stack, 'getToken', {}, ADMIN);
    expect(first).toMatchObject({ ok: false, error: { code: 'UPSTREAM_QUOTA_EXCEEDED' } });
    for (let i = 0; i < 3; i += 1) {
      const again = await callFunction(stack, 'getToken', {}, FROM_FUNCTION);
      expect(again).toMatchObject({ ok: false, error: { code: 'UPSTREAM_QUOTA_EXCEEDED', message: expect.stringMatching(/next attempt in/) } });
    }
    expect((await upstreamCalls(stack))['/cgi-bin/stable_token']).toBe(1);
  });

  it('surfaces -1 as UPSTREAM_BUSY and succeeds once the back-off has passed', async () => {
    await sandbox(stack, 'POST', 'faults', { path: '/cgi-bin/stable_token', errcode: -1, errmsg: 'system error', times: 1 });
    await expect(callFunction(stack, 'getToken', {}, ADMIN)).resolves.toMatchObject({ ok: false, error: { code: 'UPSTREAM_BUSY' } });
    await expect(callFunction(stack, 'getToken', {}, ADMIN)).resolves.toMatchObject({ ok: false, error: { code: 'UPSTREAM_BUSY' } });
    expect((await upstreamCalls(stack))['/cgi-bin/stable_token']).toBe(1);
    await setCredentialFields(stack, TOKEN_ID, { backoffUntilMs: 0 });
    await expect(callFunction(stack, 'getToken', {}, ADMIN)).resolves.toMatchObject({ ok: true, data: { version: 1 } });
  });

  it('treats a dropped connection as transient', async () => {
    await sandbox(stack, 'POST', 'faults', { path: '/cgi-bin/stable_token', drop: true, times: 1 });
    await expect(callFunction(stack, 'getToken', {}, ADMIN)).resolves.toMatchObject({ ok: false, error: { code: 'UPSTREAM_BUSY' } });
    await setCredentialFields(stack, TOKEN_ID, { backoffUntilMs: 0 });
    await expect(callFunction(stack, 'getToken', {}, ADMIN)).resolves.toMatchObject({ ok: true });
  });

  it('reports status without the value', async () => {
    await callFunction(stack, 'getToken', {}, ADMIN);
    const status = await callFunction(stack, 'getToken', { action: 'status' }, ADMIN);
    expect(status).toMatchObject({ ok: true, data: { hasValue: true, version: 1, kind: 'access_token' } });
    expect(status.data).not.toHaveProperty('value');
  });
});

describe('classic token mode', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({ tokenMode: 'classic', instancesPerFunction: 2 });
  });
  afterAll(() => stack.close());

  it('recovers when another system fetched a new token and ours died after the overlap', async () => {
    await expect(callFunction(stack, 'getTicket', { type: 'wx_card' }, FROM_FUNCTION)).resolves.toMatchObject({ ok: true });
    expect(await upstreamCalls(stack)).toEqual({ '/cgi-bin/token': 1, '/cgi-bin/ticket/getticket': 1 });

    await sandbox(stack, 'POST', 'tokens/other-system-fetch', { appid: LOCAL_ACCOUNT.officialAppId });
    await sandbox(stack, 'POST', 'clock', { advanceMs: 6 * 60_000 });
    const result = await callFunction(stack, 'getTicket', { type: 'jsapi' }, FROM_FUNCTION);
    expect(result).toMatchObject({ ok: true, data: { kind: 'ticket:jsapi' } });
    const calls = await upstreamCalls(stack);
    // Ours and our recovery (the other system's fetch is not ours); one rejected and one good jsapi call.
    expect(calls['/cgi-bin/token']).toBe(2);
    expect(calls['/cgi-bin/ticket/getticket']).toBe(3);
    expect(await credentialDoc(stack, TOKEN_ID)).toMatchObject({ version: 2, source: 'recover' });
  });
});
