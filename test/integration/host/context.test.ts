import { buildInvocation, parseCaller, type Caller } from '../../../scripts/local/host/context';
import { nextFirings, validateTrigger } from '../../../scripts/local/host/cron';

const base = {
  functionName: 'signCard',
  envId: 'env-1',
  timeoutSeconds: 3,
  requestId: 'req-1',
  seqId: 'seq-1',
  now: new Date('2026-03-04T05:06:07.890Z'),
};

describe('buildInvocation', () => {
  it.each<{ case: string; caller: Caller; data: unknown; env: Record<string, string>; event: unknown }>([
    {
      case: 'a mini-program user gets the WX keys, wx_client and an injected userInfo',
      caller: { type: 'miniprogram', openid: 'o-1', appid: 'wx-app', unionid: 'u-1', clientIp: '10.1.2.3' },
      data: { cardId: 'c1' },
      env: {
        WX_CONTEXT_KEYS: 'WX_OPENID,WX_APPID,WX_UNIONID,WX_CLIENTIP,WX_CLIENTIPV6',
        WX_OPENID: 'o-1',
        WX_APPID: 'wx-app',
        WX_UNIONID: 'u-1',
        WX_CLIENTIP: '10.1.2.3',
        TCB_CONTEXT_KEYS: 'TCB_ENV,TCB_SEQID,TRIGGER_SRC,TCB_SOURCE',
        TCB_ENV: 'env-1',
        TCB_SEQID: 'seq-1',
        TRIGGER_SRC: 'tcb',
        TCB_SOURCE: 'wx_client',
      },
      event: { cardId: 'c1', userInfo: { appId: 'wx-app', openId: 'o-1' } },
    },
    {
      case: 'a mini-program user without unionid or IP gets no WX_UNIONID and the loopback IP',
      caller: { type: 'miniprogram', openid: 'o-1', appid: 'wx-app' },
      data: undefined,
      env: {
        WX_CONTEXT_KEYS: 'WX_OPENID,WX_APPID,WX_UNIONID,WX_CLIENTIP,WX_CLIENTIPV6',
        WX_OPENID: 'o-1',
        WX_APPID: 'wx-app',
        WX_CLIENTIP: '127.0.0.1',
        TCB_CONTEXT_KEYS: 'TCB_ENV,TCB_SEQID,TRIGGER_SRC,TCB_SOURCE',
        TCB_ENV: 'env-1',
        TCB_SEQID: 'seq-1',
        TRIGGER_SRC: 'tcb',
        TCB_SOURCE: 'wx_client',
      },
      event: { userInfo: { appId: 'wx-app', openId: 'o-1' } },
    },
    {
      case: 'a timer gets TRIGGER_SRC=timer, wx_trigger and the platform timer event, ignoring data',
      caller: { type: 'timer', trigger: 'refresh' },
      data: { forged: true },
      env: {
        WX_CONTEXT_KEYS: 'WX_OPENID,WX_APPID,WX_UNIONID,WX_CLIENTIP,WX_CLIENTIPV6',
        TCB_CONTEXT_KEYS: 'TCB_ENV,TCB_SEQID,TRIGGER_SRC,TCB_SOURCE',
        TCB_ENV: 'env-1',
        TCB_SEQID: 'seq-1',
        TRIGGER_SRC: 'timer',
        TCB_SOURCE: 'wx_trigger',
      },
      event: { Type: 'Timer', TriggerName: 'refresh', Time: '2026-03-04T05:06:07Z', Message: '' },
    },
    {
      case: 'another function gets its source chain and the data as event',
      caller: { type: 'function', source: 'wx_client,scf' },
      data: { name: 'x' },
      env: {
        WX_CONTEXT_KEYS: 'WX_OPENID,WX_APPID,WX_UNIONID,WX_CLIENTIP,WX_CLIENTIPV6',
        TCB_CONTEXT_KEYS: 'TCB_ENV,TCB_SEQID,TRIGGER_SRC,TCB_SOURCE',
        TCB_ENV: 'env-1',
        TCB_SEQID: 'seq-1',
        TRIGGER_SRC: 'tcb',
        TCB_SOURCE: 'wx_client,scf',
      },
      event: { name: 'x' },
    },
    {
      case: 'an admin call gets no WX keys and no TCB_SOURCE',
      caller: { type: 'admin' },
      data: [1, 2],
      env: { TCB_CONTEXT_KEYS: 'TCB_ENV,TCB_SEQID,TRIGGER_SRC', TCB_ENV: 'env-1', TCB_SEQID: 'seq-1', TRIGGER_SRC: 'tcb' },
      event: [1, 2],
    },
    {
      case: 'an HTTP-access request gets no WX keys, no OPENID and no SOURCE: the context proves nothing',
      caller: { type: 'http' },
      data: { path: '/wx/push', httpMethod: 'GET' },
      env: { TCB_CONTEXT_KEYS: 'TCB_ENV,TCB_SEQID,TRIGGER_SRC', TCB_ENV: 'env-1', TCB_SEQID: 'seq-1', TRIGGER_SRC: 'tcb' },
      event: { path: '/wx/push', httpMethod: 'GET' },
    },
    {
      case: 'another platform context gets exactly the values given',
      caller: { type: 'context', source: 'wx_localdebug', openid: 'o-dev', appid: 'wx-app', triggerSrc: 'tcb' },
      data: { a: 1 },
      env: {
        WX_CONTEXT_KEYS: 'WX_OPENID,WX_APPID,WX_UNIONID,WX_CLIENTIP,WX_CLIENTIPV6',
        WX_OPENID: 'o-dev',
        WX_APPID: 'wx-app',
        TCB_CONTEXT_KEYS: 'TCB_ENV,TCB_SEQID,TRIGGER_SRC,TCB_SOURCE',
        TCB_ENV: 'env-1',
        TCB_SEQID: 'seq-1',
        TRIGGER_SRC: 'tcb',
        TCB_SOURCE: 'wx_localdebug',
      },
      event: { a: 1 },
    },
  ])('$case', ({ caller, data, env, event }) => {
    const invocation = buildInvocation({ ...base, caller, data });

    expect(invocation.env).toEqual(env);
    expect(invocation.event).toEqual(event);
    expect(invocation.context).toEqual({
      request_id: 'req-1',
      function_name: 'signCard',
      memory_limit_in_mb: 256,
      time_limit_in_ms: 3000,
      environ: Object.entries(env)
        .map(([key, value]) => `${key}=${value};`)
        .join(''),
    });
  });

  it('overwrites a userInfo the mini-program client put into its data', () => {
    const invocation = buildInvocation({
      ...base,
      caller: { type: 'miniprogram', openid: 'real', appid: 'wx-app' },
      data: { userInfo: { openId: 'forged', appId: 'other' } },
    });

    expect(invocation.event).toEqual({ userInfo: { appId: 'wx-app', openId: 'real' } });
  });

  it('rejects a mini-program call whose data is not an object', () => {
    expect(() => buildInvocation({ ...base, caller: { type: 'miniprogram', openid: 'o', appid: 'a' }, data: 'text' })).toThrow(
      'a mini-program call needs an object as data',
    );
  });
});

describe('parseCaller', () => {
  it.each<{ case: string; value: unknown; expected: ReturnType<typeof parseCaller> }>([
    {
      case: 'a full mini-program caller',
      value: { type: 'miniprogram', openid: 'o', appid: 'a', unionid: 'u', clientIp: '1.2.3.4', extra: 1 },
      expected: { caller: { type: 'miniprogram', openid: 'o', appid: 'a', unionid: 'u', clientIp: '1.2.3.4' } },
    },
    { case: 'a timer', value: { type: 'timer', trigger: 'refresh' }, expected: { caller: { type: 'timer', trigger: 'refresh' } } },
    { case: 'a function', value: { type: 'function', source: 'wx_client,scf' }, expected: { caller: { type: 'function', source: 'wx_client,scf' } } },
    { case: 'an admin', value: { type: 'admin' }, expected: { caller: { type: 'admin' } } },
    { case: 'no caller', value: undefined, expected: { problem: 'caller must be an object with a "type"' } },
    { case: 'a platform context', value: { type: 'context', source: 'wx_http', openid: 'o', extra: 1 }, expected: { caller: { type: 'context', source: 'wx_http', openid: 'o' } } },
    { case: 'a platform context with a numeric source', value: { type: 'context', source: 7 }, expected: { problem: 'caller.source must be a string' } },
    { case: 'the HTTP-access caller, which only the HTTP routes may use', value: { type: 'http' }, expected: { problem: 'unknown caller type "http" (miniprogram, timer, function, admin or context)' } },
    { case: 'a mini-program caller without openid', value: { type: 'miniprogram', appid: 'a' }, expected: { problem: 'caller.openid must be a non-empty string' } },
    { case: 'a mini-program caller with a numeric unionid', value: { type: 'miniprogram', openid: 'o', appid: 'a', unionid: 1 }, expected: { problem: 'caller.unionid must be a string' } },
    { case: 'a timer without trigger', value: { type: 'timer' }, expected: { problem: 'caller.trigger must be a non-empty string' } },
    { case: 'a function with an empty source', value: { type: 'function', source: '' }, expected: { problem: 'caller.source must be a non-empty string' } },
  ])('reads $case', ({ value, expected }) => {
    expect(parseCaller(value)).toEqual(expected);
  });
});

describe('validateTrigger', () => {
  it.each([
    { case: 'a 5-field cron', config: '*/30 * * * *', reason: "mode '7-part' requires exactly 7 parts" },
    { case: 'a 6-field cron', config: '0 */30 * * * *', reason: "mode '7-part' requires exactly 7 parts" },
    { case: 'a malformed year', config: '0 0 2 1 * * next', reason: 'illegal characters' },
    { case: 'an impossible hour', config: '0 0 25 * * * *', reason: 'Invalid value for hour: 25' },
  ])('rejects $case, naming the function and trigger', ({ config, reason }) => {
    expect(() => validateTrigger('getToken', { name: 'refresh', config })).toThrow(
      `function getToken, trigger refresh: invalid cron ${JSON.stringify(config)}`,
    );
    expect(() => validateTrigger('getToken', { name: 'refresh', config })).toThrow(reason);
  });

  it.each([
    { case: 'a name over 60 characters', name: `t${'x'.repeat(60)}` },
    { case: 'a name starting with a digit', name: '1refresh' },
    { case: 'a name with a dot', name: 'refresh.token' },
  ])('rejects $case', ({ name }) => {
    expect(() => validateTrigger('getToken', { name, config: '0 */30 * * * * *' })).toThrow(
      `function getToken: timer trigger name ${JSON.stringify(name)} must be 1-60 letters`,
    );
  });

  it('accepts the documented examples', () => {
    expect(() => validateTrigger('getToken', { name: 'refresh', config: '0 */30 * * * * *' })).not.toThrow();
    expect(() => validateTrigger('reconcile', { name: 'nightly-1', config: '0 0 2 1 * * *' })).not.toThrow();
  });
});

describe('nextFirings', () => {
  const from = new Date('2026-01-01T00:00:00Z'); // 08:00 on Jan 1 in UTC+8

  it.each([
    {
      case: 'reads hours in UTC+8',
      config: '0 0 2 1 * * *',
      expected: ['2026-01-31T18:00:00.000Z', '2026-02-28T18:00:00.000Z'],
    },
    {
      case: 'ORs day of month and weekday (Jan 5 2026 is a Monday)',
      config: '0 0 10 1 * 1 *',
      expected: ['2026-01-01T02:00:00.000Z', '2026-01-05T02:00:00.000Z', '2026-01-12T02:00:00.000Z'],
    },
    {
      case: 'honours the year field',
      config: '0 0 0 1 1 * 2028',
      expected: ['2027-12-31T16:00:00.000Z'],
    },
    {
      case: 'fires every 30 minutes on the half hour',
      config: '0 */30 * * * * *',
      expected: ['2026-01-01T00:30:00.000Z', '2026-01-01T01:00:00.000Z'],
    },
  ])('$case', ({ config, expected }) => {
    expect(nextFirings(config, expected.length, from).map((date) => date.toISOString())).toEqual(expected);
  });
});
