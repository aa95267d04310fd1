import { ConfigError, ErrorCode, ForbiddenError, InputError, WechatApiError } from '../../shared/errors';
import { allowOnlyFields, defineHandler, errorEnvelope, identifyCaller, type Caller } from '../../shared/runtime';
import { AccountNotLinkedError } from '../../shared/users/links';

describe('identifyCaller', () => {
  const timerEvent = { Type: 'Timer', TriggerName: 'refreshToken', Time: '2026-11-21T00:00:00Z', Message: '' };
  const user = { OPENID: 'o1', APPID: 'wxb' };

  it.each<{ case: string; ctx: Record<string, unknown>; env: Record<string, string>; event?: Record<string, unknown>; expected: Caller }>([
    { case: 'a mini-program user', ctx: { ...user, UNIONID: 'u1', SOURCE: 'wx_client' }, env: { TRIGGER_SRC: 'tcb' }, expected: { type: 'miniprogram', openid: 'o1', appid: 'wxb', unionid: 'u1' } },
    { case: 'a mini-program user in the developer tools', ctx: { ...user, SOURCE: 'wx_devtools' }, env: {}, expected: { type: 'miniprogram', openid: 'o1', appid: 'wxb' } },
    { case: 'another function called from a mini-program call', ctx: { SOURCE: 'wx_client,scf' }, env: { TRIGGER_SRC: 'tcb' }, expected: { type: 'function', source: 'wx_client,scf' } },
    { case: 'another function even with a propagated OPENID', ctx: { OPENID: 'o1', SOURCE: 'wx_client,scf' }, env: {}, expected: { type: 'function', source: 'wx_client,scf' } },
    { case: 'another function called from a timer run', ctx: { SOURCE: 'wx_trigger,scf' }, env: {}, expected: { type: 'function', source: 'wx_trigger,scf' } },
    { case: 'another function whose own caller had no SOURCE', ctx: {}, env: { TCB_SOURCE: ',scf' }, expected: { type: 'function', source: ',scf' } },
    { case: 'the timer (both signals)', ctx: { SOURCE: 'wx_trigger' }, env: { TRIGGER_SRC: 'timer' }, event: timerEvent, expected: { type: 'timer', trigger: 'refreshToken' } },
    { case: 'the timer (TRIGGER_SRC only)', ctx: {}, env: { TRIGGER_SRC: 'timer' }, event: timerEvent, expected: { type: 'timer', trigger: 'refreshToken' } },
    { case: 'the timer (SOURCE only)', ctx: { SOURCE: 'wx_trigger' }, env: {}, event: timerEvent, expected: { type: 'timer', trigger: 'refreshToken' } },
    { case: 'an admin through tcb fn invoke (no context at all)', ctx: {}, env: {}, expected: { type: 'admin' } },
    { case: 'an admin through CloudBase with TRIGGER_SRC=tcb', ctx: {}, env: { TRIGGER_SRC: 'tcb' }, expected: { type: 'admin' } },
    { case: 'an admin script on a laptop (node-sdk run-env tag)', ctx: {}, env: { TCB_SOURCE: ',unknown', TRIGGER_SRC: 'tcb' }, expected: { type: 'admin' } },
    { case: 'an admin script on a CVM', ctx: { SOURCE: ',tencentcloud' }, env: {}, expected: { type: 'admin' } },
  ])('recognises $case', ({ ctx, env, event, expected }) => {
    expect(identifyCaller(ctx, env, event ?? {})).toEqual(expected);
  });

  it.each<{ case: string; ctx: Record<string, unknown>; env: Record<string, string>; event?: Record<string, unknown> }>([
    { case: "WeChat's HTTP API (wx_http)", ctx: { SOURCE: 'wx_http' }, env: {} },
    { case: 'the crawler (wx_crawler)', ctx: { SOURCE: 'wx_crawler' }, env: {} },
    { case: 'the crawler with an OPENID', ctx: { ...user, SOURCE: 'wx_crawler' }, env: {} },
    { case: 'an unknown WeChat source (wx_unknown)', ctx: { SOURCE: 'wx_unknown' }, env: {} },
    { case: 'a Pay callback (wx_paycallback)', ctx: { SOURCE: 'wx_paycallback' }, env: {} },
    { case: 'local debugging in the IDE (wx_localdebug)', ctx: { SOURCE: 'wx_localdebug' }, env: {} },
    { case: 'local debugging with a user', ctx: { ...user, SOURCE: 'wx_localdebug' }, env: {} },
    { case: 'a client call without a user', ctx: { SOURCE: 'wx_client' }, env: {} },
    { case: 'a devtools call without a user', ctx: { SOURCE: 'wx_devtools' }, env: {} },
    { case: 'a source nobody listed', ctx: { SOURCE: 'wx_somethingnew' }, env: {} },
    { case: 'a non-WeChat source nobody listed', ctx: { SOURCE: 'apigw' }, env: {} },
    { case: 'a chain with an unlisted tag', ctx: { SOURCE: ',unknown,mystery' }, env: {} },
    { case: 'an OPENID with no SOURCE', ctx: user, env: {} },
    { case: 'an OPENID without an APPID', ctx: { OPENID: 'o1', SOURCE: 'wx_client' }, env: {} },
    { case: 'a user on a timer source', ctx: { ...user, SOURCE: 'wx_trigger' }, env: {}, event: timerEvent },
    { case: 'a user on the timer trigger', ctx: { ...user, SOURCE: 'wx_client' }, env: { TRIGGER_SRC: 'timer' }, event: timerEvent },
    { case: 'a timer trigger with a client source', ctx: { SOURCE: 'wx_client' }, env: { TRIGGER_SRC: 'timer' }, event: timerEvent },
    { case: 'a timer source on another trigger', ctx: { SOURCE: 'wx_trigger' }, env: { TRIGGER_SRC: 'cos' }, event: timerEvent },
    { case: 'another trigger without a source (COS, message queue…)', ctx: {}, env: { TRIGGER_SRC: 'cos' } },
    { case: 'getWXContext and TCB_SOURCE disagreeing', ctx: { SOURCE: ',unknown' }, env: { TCB_SOURCE: 'wx_http' } },
    { case: 'a client sending a timer-shaped event', ctx: { ...user, SOURCE: 'wx_http' }, env: {}, event: timerEvent },
    { case: 'an HTTP-access event with an admin-looking context', ctx: {}, env: {}, event: { httpMethod: 'GET', headers: {}, path: '/' } },
  ])('refuses $case with FORBIDDEN', ({ ctx, env, event }) => {
    expect(() => identifyCaller(ctx, env, event ?? {})).toThrow(ForbiddenError);
  });

  it('does not believe a client that sends a timer-shaped event', () => {
    expect(identifyCaller({ ...user, SOURCE: 'wx_client' }, {}, timerEvent)).toEqual({ type: 'miniprogram', openid: 'o1', appid: 'wxb' });
  });

  it('refuses a timer context whose event is not a timer event', () => {
    expect(() => identifyCaller({}, { TRIGGER_SRC: 'timer' }, { action: 'get' })).toThrow(InputError);
  });

  it('names the refused SOURCE, cut short', () => {
    expect(() => identifyCaller({ SOURCE: 'wx_http' }, {}, {})).toThrow(/SOURCE wx_http/);
    const long = `wx_${'x'.repeat(10_000)}`;
    expect(() => identifyCaller({ SOURCE: long }, {}, {})).toThrow(/^.{0,300}$/);
  });
});

describe('errorEnvelope', () => {
  const user: Caller = { type: 'miniprogram', openid: 'o', appid: 'a' };
  const admin: Caller = { type: 'admin' };
  it('hides internal messages from mini-program users but shows them to server callers', () => {
    const error = new WechatApiError('/cgi-bin/token', 40164, 'invalid ip 1.2.3.4');
    expect(errorEnvelope(error, user)).toEqual({ ok: false, error: { code: ErrorCode.IP_NOT_WHITELISTED, message: 'The service is not configured correctly' } });
    expect(errorEnvelope(error, admin)).toEqual({ ok: false, error: { code: ErrorCode.IP_NOT_WHITELISTED, message: error.message } });
  });
  it('shows exposed errors to users and never a stack trace', () => {
    const envelope = errorEnvelope(new InputError('type must be one of: a, b', 'type'), user);
    expect(envelope).toEqual({ ok: false, error: { code: 'INVALID_INPUT', message: 'type must be one of: a, b' } });
    const internal = errorEnvelope(new TypeError('x is undefined'), user);
    expect(JSON.stringify(internal)).not.toMatch(/TypeError|at .*\.ts/);
  });
  it('gives a user the plain message of an error that carries operator advice, and the operator the advice', () => {
    const error = new AccountNotLinkedError('no_unionid');

    expect(errorEnvelope(error, user)).toEqual({ ok: false, error: { code: 'NOT_ELIGIBLE', message: 'This is not available for your WeChat account yet' } });
    expect(errorEnvelope(error, admin).ok === false && errorEnvelope(error, admin)).toMatchObject({ error: { message: expect.stringContaining('same Open Platform account') } });
  });
});

describe('defineHandler', () => {
  const lines: string[] = [];
  beforeEach(() => {
    lines.length = 0;
    jest.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
    jest.spyOn(console, 'error').mockImplementation((line: string) => void lines.push(line));
  });
  afterEach(() => jest.restoreAllMocks());

  function handler(init: () => number, wxContext: Record<string, unknown> = {}) {
    return defineHandler({
      name: 'demo',
      allow: ['admin', 'function'],
      init,
      parse: (event) => ({ n: Number(event.n) }),
      run: async (input, { deps }) => input.n + deps,
      wxContext: () => wxContext,
      env: {},
    });
  }

  it('runs the core for an allowed caller and wraps the result', async () => {
    await expect(handler(() => 1)({ n: 41 })).resolves.toEqual({ ok: true, data: 42 });
  });

  it('refuses a caller type that is not allowed, before init', async () => {
    const init = jest.fn(() => 1);
    await expect(handler(init, { OPENID: 'o', APPID: 'a', SOURCE: 'wx_client' })({ n: 1 })).resolves.toEqual({
      ok: false,
      error: { code: 'FORBIDDEN', message: 'demo may not be called by a mini-program user' },
    });
    expect(init).not.toHaveBeenCalled();
  });

  it('names an admin caller with the right article', async () => {
    const onlyUsers = defineHandler({ name: 'demo', allow: ['miniprogram'], init: () => 1, parse: () => ({}), run: async () => 1, wxContext: () => ({}), env: {} });

    await expect(onlyUsers({})).resolves.toEqual({ ok: false, error: { code: 'FORBIDDEN', message: 'demo may not be called by an admin' } });
  });

  it('reads configuration once and reports a broken one on every call', async () => {
    const init = jest.fn((): number => {
      throw new ConfigError(['WX_OA_APPID is missing']);
    });
    const run = handler(init);
    for (let i = 0; i < 2; i += 1) {
      const envelope = await run({ n: 1 });
      expect(envelope).toMatchObject({ ok: false, error: { code: 'CONFIG_INVALID' } });
    }
    expect(init).toHaveBeenCalledTimes(1);
  });

  it('answers a non-object event with INVALID_INPUT', async () => {
    await expect(handler(() => 1)('nope')).resolves.toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
  });

  it('logs one line per invocation', async () => {
    await handler(() => 1)({ n: 1 });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', fn: 'demo', msg: 'ok', caller: 'admin' });
  });

  it('answers and logs a 1 MB unknown field name as a short prefix', async () => {
    const name = 'f'.repeat(1024 * 1024);
    const strict = defineHandler({
      name: 'strict',
      allow: ['admin'],
      init: () => 0,
      parse: (event) => allowOnlyFields(event, ['n']),
      run: async () => 0,
      wxContext: () => ({}),
      env: {},
    });

    const envelope = await strict({ [name]: 1, other: 2 });

    expect(envelope).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', message: expect.stringMatching(/^Unknown field\(s\): f{48}…\(1048576 chars\), other$/) } });
    expect(JSON.stringify(envelope).length).toBeLessThan(300);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.length).toBeLessThan(2_000);
  });
});

describe('allowOnlyFields', () => {
  it('lists a few unknown names and counts the rest', () => {
    const event = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`x${i}`, i]));
    expect(() => allowOnlyFields(event, [])).toThrow('Unknown field(s): x0, x1, x2, x3, x4 and 4 more');
  });

  it('ignores the userInfo the platform injects', () => {
    expect(() => allowOnlyFields({ userInfo: { openId: 'o' }, a: 1 }, ['a'])).not.toThrow();
  });
});
