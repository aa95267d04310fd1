import { ConfigError, ErrorCode, InputError, WechatApiError } from '../../shared/errors';
import { defineHandler, errorEnvelope, identifyCaller, type Caller } from '../../shared/runtime';

describe('identifyCaller', () => {
  const timerEvent = { Type: 'Timer', TriggerName: 'refreshToken', Time: '2026-11-21T00:00:00Z', Message: '' };
  it.each([
    { case: 'mini-program user', ctx: { OPENID: 'o1', APPID: 'wxb', UNIONID: 'u1', SOURCE: 'wx_client' }, env: {}, event: {}, expected: { type: 'miniprogram', openid: 'o1', appid: 'wxb', unionid: 'u1' } },
    { case: 'another function', ctx: { SOURCE: 'wx_client,scf' }, env: { TRIGGER_SRC: 'tcb' }, event: {}, expected: { type: 'function', source: 'wx_client,scf' } },
    { case: 'another function even with a propagated OPENID', ctx: { OPENID: 'o1', SOURCE: 'wx_client,scf' }, env: {}, event: {}, expected: { type: 'function', source: 'wx_client,scf' } },
    { case: 'timer', ctx: { SOURCE: 'wx_trigger' }, env: { TRIGGER_SRC: 'timer' }, event: timerEvent, expected: { type: 'timer', trigger: 'refreshToken' } },
    { case: 'admin (tcb fn invoke)', ctx: {}, env: {}, event: {}, expected: { type: 'admin' } },
  ])('recognises a $case', ({ ctx, env, event, expected }) => {
    expect(identifyCaller(ctx, env, event)).toEqual(expected);
  });

  it('does not believe a client that sends a timer-shaped event', () => {
    expect(identifyCaller({ OPENID: 'o1', APPID: 'wxb', SOURCE: 'wx_client' }, {}, timerEvent)).toEqual({ type: 'miniprogram', openid: 'o1', appid: 'wxb' });
  });

  it('refuses HTTP-access events and identity-less client calls', () => {
    expect(() => identifyCaller({}, {}, { httpMethod: 'GET', headers: {} })).toThrow(/HTTP access/);
    expect(() => identifyCaller({ SOURCE: 'wx_client' }, {}, {})).toThrow(/without a user identity/);
  });

  it('refuses a timer context whose event is not a timer event', () => {
    expect(() => identifyCaller({}, { TRIGGER_SRC: 'timer' }, { action: 'get' })).toThrow(InputError);
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
      error: { code: 'FORBIDDEN', message: 'demo may not be called by a miniprogram caller' },
    });
    expect(init).not.toHaveBeenCalled();
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
});
