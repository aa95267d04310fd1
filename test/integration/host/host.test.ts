import { createFunctionHost, type FunctionHost, type FunctionHostOptions, type InvocationResult } from '../../../scripts/local/host';
import { buildDist, hosted, serve, startRecorder } from './fixtures/support';

type Probe = {
  wxContext: Record<string, unknown>;
  env: Record<string, string | undefined>;
  envKeys: string[];
  event: unknown;
  context: Record<string, unknown>;
  pid: number;
};

let dist: Awaited<ReturnType<typeof buildDist>>;
let recorder: Awaited<ReturnType<typeof startRecorder>>;
const hosts: FunctionHost[] = [];

beforeAll(async () => {
  dist = await buildDist(['probe', 'fixed'], {
    broken: "throw new Error('boom at load');",
    nomain: 'exports.handler = async () => 1;',
  });
  recorder = await startRecorder();
});

afterEach(async () => {
  recorder.release();
  await Promise.all(hosts.splice(0).map((host) => host.close()));
  recorder.requests.length = 0;
});

afterAll(async () => {
  await recorder.close();
  await dist.remove();
});

function startHost(overrides: Partial<FunctionHostOptions> = {}): FunctionHost {
  const host = createFunctionHost({
    distDir: dist.distDir,
    functions: [
      hosted('probe', { envVariables: { APP_SETTING: 'from-cloudbaserc', TCB_ENV: 'overridden-by-platform' } }),
      hosted('fixed', { fixedEgressIp: true }),
      hosted('broken'),
      hosted('nomain'),
      hosted('unbuilt'),
    ],
    instancesPerFunction: 2,
    envId: 'env-1',
    cloudbaseUrl: `${recorder.url}/admin`,
    fixedEgressAddress: '127.0.0.2',
    timers: false,
    onLog: () => undefined,
    ...overrides,
  });
  hosts.push(host);
  return host;
}

function probeOf(result: InvocationResult): Probe {
  if (!result.ok) throw new Error(`invocation failed: ${result.errorType} ${result.message}`);
  return result.result as Probe;
}

describe('FunctionHost.invoke: the WX context', () => {
  it.each([
    {
      case: 'a mini-program user',
      caller: { type: 'miniprogram' as const, openid: 'o-user', appid: 'wx-app', unionid: 'u-user', clientIp: '10.0.0.9' },
      wxContext: { OPENID: 'o-user', APPID: 'wx-app', UNIONID: 'u-user', CLIENTIP: '10.0.0.9', ENV: 'env-1', SOURCE: 'wx_client' },
      triggerSrc: 'tcb',
      event: { step: 1, userInfo: { appId: 'wx-app', openId: 'o-user' } },
    },
    {
      case: 'a timer',
      caller: { type: 'timer' as const, trigger: 'refresh' },
      wxContext: { ENV: 'env-1', SOURCE: 'wx_trigger' },
      triggerSrc: 'timer',
      event: { Type: 'Timer', TriggerName: 'refresh', Time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/), Message: '' },
    },
    {
      case: 'another function',
      caller: { type: 'function' as const, source: 'wx_client,scf' },
      wxContext: { ENV: 'env-1', SOURCE: 'wx_client,scf' },
      triggerSrc: 'tcb',
      event: { step: 1 },
    },
    {
      case: 'an admin call',
      caller: { type: 'admin' as const },
      wxContext: {},
      triggerSrc: 'tcb',
      event: { step: 1 },
    },
    {
      case: "a call through WeChat's HTTP API",
      caller: { type: 'context' as const, source: 'wx_http' },
      wxContext: { ENV: 'env-1', SOURCE: 'wx_http' },
      triggerSrc: 'tcb',
      event: { step: 1 },
    },
  ])("gives $case what the real wx-server-sdk's getWXContext() reads", async ({ caller, wxContext, triggerSrc, event }) => {
    const host = startHost();

    const result = await host.invoke('probe', { step: 1 }, caller);

    const probe = probeOf(result);
    expect(probe.wxContext).toEqual(wxContext);
    expect(probe.env.TRIGGER_SRC).toBe(triggerSrc);
    expect(probe.event).toMatchObject(event);
  });

  it('removes every key of the previous caller before the next invocation on the same instance', async () => {
    const host = startHost({ instancesPerFunction: 1 });

    const first = await host.invoke('probe', {}, { type: 'miniprogram', openid: 'o-1', appid: 'wx-app', unionid: 'u-1' });
    const second = await host.invoke('probe', {}, { type: 'admin' });

    expect(second).toMatchObject({ ok: true, cold: false, instance: 1 });
    expect(probeOf(second).pid).toBe(probeOf(first).pid);
    expect(probeOf(second).wxContext).toEqual({});
    expect(probeOf(second).envKeys.filter((key) => key.startsWith('WX_') || key === 'TCB_SOURCE')).toEqual([]);
  });

  it('gives the SCF context argument with the invocation keys in environ', async () => {
    const host = startHost();

    const probe = probeOf(await host.invoke('probe', {}, { type: 'function', source: 'wx_client,scf' }));

    expect(probe.context).toEqual({
      request_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      function_name: 'probe',
      memory_limit_in_mb: 256,
      time_limit_in_ms: 10_000,
      environ:
        'WX_CONTEXT_KEYS=WX_OPENID,WX_APPID,WX_UNIONID,WX_CLIENTIP,WX_CLIENTIPV6;' +
        'TCB_CONTEXT_KEYS=TCB_ENV,TCB_SEQID,TRIGGER_SRC,TCB_SOURCE;' +
        `TCB_ENV=env-1;TCB_SEQID=${probe.env.TCB_SEQID};TRIGGER_SRC=tcb;TCB_SOURCE=wx_client,scf;`,
    });
  });
});

describe('FunctionHost.invoke: the process environment', () => {
  afterEach(() => {
    delete process.env.HOST_ONLY_SECRET;
  });

  it("sets the platform's variables and the function's, and inherits nothing else from the host", async () => {
    process.env.HOST_ONLY_SECRET = 'must-not-reach-a-function';
    const host = startHost();

    const probe = probeOf(await host.invoke('probe', {}, { type: 'admin' }));

    const inherited = Object.keys(process.env).filter(
      (key) => key === 'PATH' || key === 'HOME' || (key.startsWith('NODE_') && key !== 'NODE_OPTIONS'),
    );
    const platform = [
      'APP_SETTING', 'SCF_FUNCTION_NAME', 'SCF_NAMESPACE', 'TCB_CONTEXT_CNFG', 'TCB_ENV', 'TENCENTCLOUD_REGION',
      'TENCENTCLOUD_RUNENV', 'TENCENTCLOUD_SECRETID', 'TENCENTCLOUD_SECRETKEY', 'TENCENTCLOUD_SESSIONTOKEN',
    ];
    const perInvocation = ['TCB_CONTEXT_KEYS', 'TCB_SEQID', 'TRIGGER_SRC'];
    expect(probe.envKeys).toEqual([...new Set([...inherited, ...platform, ...perInvocation])].sort());
    expect(probe.env).toMatchObject({
      APP_SETTING: 'from-cloudbaserc',
      TCB_ENV: 'env-1',
      SCF_NAMESPACE: 'env-1',
      SCF_FUNCTION_NAME: 'probe',
      TENCENTCLOUD_RUNENV: 'SCF',
      TENCENTCLOUD_REGION: 'ap-shanghai',
      TCB_CONTEXT_CNFG: JSON.stringify({ URL: `${recorder.url}/admin` }),
    });
  });

  it('sends the SDK to the local CloudBase URL with the caller chain in X-TCB-Source', async () => {
    const host = startHost();

    const result = await host.invoke('probe', { action: 'callFunction' }, { type: 'miniprogram', openid: 'o-1', appid: 'wx-app' });

    expect(result).toMatchObject({ ok: true, result: { calleeSawAddress: expect.stringMatching(/^127\.0\.1\.\d+$/) } });
    expect(recorder.requests).toHaveLength(1);
    const request = recorder.requests[0];
    expect(request?.url).toMatch(/^\/admin\?env=env-1&seqId=/);
    expect(request?.headers['x-tcb-source']).toBe('wx_client,scf');
    expect(JSON.parse(request?.body ?? '{}')).toMatchObject({
      action: 'functions.invokeFunction',
      function_name: 'other',
      request_data: JSON.stringify({ from: 'probe' }),
    });
  });
});

describe('FunctionHost.invoke: the egress address', () => {
  it('makes a fixed-IP function connect from the fixed address, through got and through the SDK', async () => {
    const host = startHost();

    const viaGot = await host.invoke('fixed', { action: 'fetch', url: `${recorder.url}/echo` }, { type: 'admin' });
    const viaSdk = await host.invoke('fixed', { action: 'callFunction' }, { type: 'admin' });

    expect(viaGot).toMatchObject({ ok: true, result: { body: '127.0.0.2' } });
    expect(viaSdk).toMatchObject({ ok: true, result: { calleeSawAddress: '127.0.0.2' } });
  });

  it('gives every instance of a dynamic-IP function its own address, never the fixed one', async () => {
    const host = startHost();
    const gate = { action: 'fetch', url: `${recorder.url}/gate` };

    const calls = [host.invoke('probe', gate, { type: 'admin' }), host.invoke('probe', gate, { type: 'admin' })];
    await recorder.heldGates(2);
    recorder.release();
    const results = await Promise.all(calls);

    const addresses = recorder.requests.map((request) => request.remoteAddress);
    expect(addresses).toEqual([expect.stringMatching(/^127\.0\.1\.\d+$/), expect.stringMatching(/^127\.0\.1\.\d+$/)]);
    expect(new Set(addresses).size).toBe(2);
    expect(results.map((result) => result.ok && result.instance).sort()).toEqual([1, 2]);
  });
});

describe('FunctionHost.invoke: logs', () => {
  it("captures the invocation's stdout and stderr lines, including the cold start's", async () => {
    const lines: Array<{ fn: string; instance: number; stream: string; text: string }> = [];
    const host = startHost({ onLog: (line) => lines.push(line) });

    const result = await host.invoke('probe', { action: 'log', lines: ['first', 'second'] }, { type: 'admin' });

    expect(result.ok).toBe(true);
    // stdout and stderr are separate pipes: their relative order is not defined.
    expect([...result.logs].sort()).toEqual(['first', 'no newline at the end', 'probe loaded', 'second', 'to stderr']);
    expect(result.logs.filter((line) => line !== 'to stderr')).toEqual(['probe loaded', 'first', 'second', 'no newline at the end']);
    expect(lines).toContainEqual({ fn: 'probe', instance: 1, stream: 'stderr', text: 'to stderr' });
    expect(lines).toContainEqual({ fn: 'probe', instance: 1, stream: 'stdout', text: 'first' });
    expect(lines).toHaveLength(5);
    expect(host.logs('probe').map((line) => line.text).sort()).toEqual([...result.logs].sort());
    expect(host.logs('fixed')).toEqual([]);
  });

  it("keeps one invocation's lines out of the next one's record", async () => {
    const host = startHost({ instancesPerFunction: 1 });

    await host.invoke('probe', { action: 'log', lines: ['one'] }, { type: 'admin' });
    const second = await host.invoke('probe', { action: 'log', lines: ['two'] }, { type: 'admin' });

    expect([...second.logs].sort()).toEqual(['no newline at the end', 'to stderr', 'two']);
    expect(host.logs().filter((line) => line.text === 'to stderr')).toHaveLength(2);
  });
});

describe('FunctionHost.invoke: failures', () => {
  it.each([
    {
      case: 'a function that throws',
      name: 'probe',
      data: { action: 'throw', message: 'card not found' },
      expected: { ok: false, errorType: 'threw', message: 'card not found', instance: 1 },
    },
    {
      case: 'a return value that is not JSON',
      name: 'probe',
      data: { action: 'unserialisable' },
      expected: { ok: false, errorType: 'threw', message: expect.stringContaining('circular structure') },
    },
    {
      case: 'a process that exits mid-invocation',
      name: 'probe',
      data: { action: 'exit', code: 3 },
      expected: { ok: false, errorType: 'crashed', message: 'instance 1 of probe exited (code 3) during the invocation' },
    },
    {
      case: 'a bundle that throws while loading',
      name: 'broken',
      data: {},
      expected: { ok: false, errorType: 'crashed', message: 'function broken failed to initialise: boom at load' },
    },
    {
      case: 'a bundle without main',
      name: 'nomain',
      data: {},
      expected: { ok: false, errorType: 'crashed', message: expect.stringMatching(/nomain\/index\.js does not export main/) },
    },
    {
      case: 'an undeclared function',
      name: 'nope',
      data: {},
      expected: { ok: false, errorType: 'not_found', message: 'function nope is not deployed', logs: [] },
    },
    {
      case: 'a declared function that was not built',
      name: 'unbuilt',
      data: {},
      expected: { ok: false, errorType: 'not_found', message: expect.stringContaining('unbuilt/index.js is missing (npm run build)') },
    },
  ])('reports $case', async ({ name, data, expected }) => {
    const host = startHost();

    await expect(host.invoke(name, data, { type: 'admin' })).resolves.toMatchObject(expected);
  });

  it('replaces a crashed instance on the next call', async () => {
    const host = startHost({ instancesPerFunction: 1 });

    const crashed = await host.invoke('probe', { action: 'exit', code: 1 }, { type: 'admin' });
    const next = await host.invoke('probe', {}, { type: 'admin' });

    expect(crashed).toMatchObject({ ok: false, errorType: 'crashed', instance: 1 });
    expect(next).toMatchObject({ ok: true, cold: true, instance: 2 });
    expect(host.stats().probe).toEqual({ instances: 1, busy: 0, invocations: 2, coldStarts: 2 });
  });

  it('kills a timed-out instance with the SCF message and starts a fresh one for the next call', async () => {
    const host = startHost({ functions: [hosted('probe', { timeoutSeconds: 1 })] });

    const timedOut = await host.invoke('probe', { action: 'hang' }, { type: 'admin' });
    const statsAfterTimeout = host.stats().probe;
    const next = await host.invoke('probe', {}, { type: 'admin' });

    expect(timedOut).toEqual({
      ok: false,
      errorType: 'timeout',
      message: 'Invoking task timed out after 1 seconds',
      instance: 1,
      logs: ['probe loaded'],
    });
    expect(statsAfterTimeout).toEqual({ instances: 0, busy: 0, invocations: 1, coldStarts: 1 });
    expect(next).toMatchObject({ ok: true, cold: true, instance: 2 });
  });

  it('rejects a mini-program call whose data is not an object', async () => {
    const host = startHost();

    await expect(host.invoke('probe', ['list'], { type: 'miniprogram', openid: 'o', appid: 'a' })).rejects.toThrow(
      'a mini-program call needs an object as data',
    );
  });
});

describe('FunctionHost.handle', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  let host: FunctionHost;

  beforeEach(async () => {
    host = startHost();
    server = await serve((req, res) => void host.handle(req, res));
  });

  afterEach(async () => {
    await server.close();
  });

  async function post(path: string, body: string): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    return { status: response.status, body: await response.json() };
  }

  it('answers 200 with the return value of the function', async () => {
    const response = await post('/functions/probe', JSON.stringify({ data: { step: 2 }, caller: { type: 'miniprogram', openid: 'o-h', appid: 'wx-h' } }));

    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      wxContext: { OPENID: 'o-h', APPID: 'wx-h', SOURCE: 'wx_client' },
      event: { step: 2, userInfo: { appId: 'wx-h', openId: 'o-h' } },
    });
  });

  it.each([
    { case: 'a body that is not JSON', path: '/functions/probe', body: '{data', status: 400, type: 'bad_request', message: /^body is not JSON/ },
    { case: 'a body that is not an object', path: '/functions/probe', body: '[1]', status: 400, type: 'bad_request', message: /^body must be a JSON object/ },
    { case: 'a missing caller', path: '/functions/probe', body: '{"data":{}}', status: 400, type: 'bad_request', message: /^caller must be an object/ },
    { case: 'an unknown caller type', path: '/functions/probe', body: '{"caller":{"type":"guest"}}', status: 400, type: 'bad_request', message: /^unknown caller type "guest"/ },
    { case: 'non-object data from a mini-program', path: '/functions/probe', body: '{"data":"x","caller":{"type":"miniprogram","openid":"o","appid":"a"}}', status: 400, type: 'bad_request', message: /needs an object as data$/ },
    { case: 'an unknown function', path: '/functions/nope', body: '{"caller":{"type":"admin"}}', status: 404, type: 'not_found', message: /^function nope is not deployed$/ },
    { case: 'a function that was not built', path: '/functions/unbuilt', body: '{"caller":{"type":"admin"}}', status: 404, type: 'not_found', message: /is missing/ },
    { case: 'a function that threw', path: '/functions/probe', body: '{"data":{"action":"throw","message":"nope"},"caller":{"type":"admin"}}', status: 502, type: 'threw', message: /^nope$/ },
    { case: 'a function that crashed', path: '/functions/probe', body: '{"data":{"action":"exit","code":2},"caller":{"type":"admin"}}', status: 502, type: 'crashed', message: /exited \(code 2\)/ },
    { case: 'an unknown route', path: '/other', body: '{}', status: 404, type: 'not_found', message: /^no route for \/other$/ },
  ])('answers $status for $case', async ({ path, body, status, type, message }) => {
    const response = await post(path, body);

    expect(response).toEqual({ status, body: { error: { type, message: expect.stringMatching(message) } } });
  });

  it('lists the functions and their instances on GET /functions', async () => {
    const probe = probeOf(await host.invoke('probe', {}, { type: 'admin' }));

    const response = await fetch(`${server.url}/functions`);

    expect(response.status).toBe(200);
    const listing = (await response.json()) as { functions: Array<Record<string, unknown>> };
    expect(listing.functions.map((fn) => fn.name)).toEqual(['probe', 'fixed', 'broken', 'nomain', 'unbuilt']);
    expect(listing.functions[0]).toEqual({
      name: 'probe',
      fixedEgressIp: false,
      timeoutSeconds: 10,
      triggers: [],
      queued: 0,
      invocations: 1,
      coldStarts: 1,
      abandoned: 0,
      instances: [{ instance: 1, pid: probe.pid, busy: false, invocations: 1, egressAddress: expect.stringMatching(/^127\.0\.1\.\d+$/) }],
    });
  });

  it('refuses GET on a function with 405', async () => {
    const response = await fetch(`${server.url}/functions/probe`);

    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });
});
