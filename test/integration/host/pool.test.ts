import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { createFunctionHost, type FunctionHost, type FunctionHostOptions } from '../../../scripts/local/host';
import { buildDist, hosted, processExists, startRecorder } from './fixtures/support';

let dist: Awaited<ReturnType<typeof buildDist>>;
let recorder: Awaited<ReturnType<typeof startRecorder>>;
const hosts: FunctionHost[] = [];

beforeAll(async () => {
  dist = await buildDist(['probe', 'other'], { broken: "throw new Error('boom at load');" });
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
    functions: [hosted('probe'), hosted('other')],
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

const gate = () => ({ action: 'fetch', url: `${recorder.url}/gate` });

describe('FunctionHost instances', () => {
  it('spawns instances lazily up to the limit and queues the calls beyond it', async () => {
    const host = startHost();
    expect(host.stats().probe).toEqual({ instances: 0, busy: 0, invocations: 0, coldStarts: 0 });

    const calls = [0, 1, 2].map(() => host.invoke('probe', gate(), { type: 'admin' }));
    await recorder.heldGates(2);
    const whileHeld = host.stats();
    recorder.release();
    await recorder.heldGates(1);
    recorder.release();
    const results = await Promise.all(calls);

    expect(whileHeld).toEqual({
      probe: { instances: 2, busy: 2, invocations: 2, coldStarts: 2 },
      other: { instances: 0, busy: 0, invocations: 0, coldStarts: 0 },
    });
    expect(results.map((result) => result.ok && result.cold)).toEqual([true, true, false]);
    expect(host.stats().probe).toEqual({ instances: 2, busy: 0, invocations: 3, coldStarts: 2 });
  });

  it('reuses an idle warm instance instead of spawning another', async () => {
    const host = startHost();

    const first = await host.invoke('probe', {}, { type: 'admin' });
    const second = await host.invoke('probe', {}, { type: 'admin' });

    expect(first).toMatchObject({ ok: true, cold: true, instance: 1 });
    expect(second).toMatchObject({ ok: true, cold: false, instance: 1 });
    expect(host.stats().probe).toEqual({ instances: 1, busy: 0, invocations: 2, coldStarts: 1 });
  });

  it('runs different functions in different instances', async () => {
    const host = startHost({ instancesPerFunction: 1 });

    const calls = [host.invoke('probe', gate(), { type: 'admin' }), host.invoke('other', gate(), { type: 'admin' })];
    await recorder.heldGates(2);
    recorder.release();

    await expect(Promise.all(calls)).resolves.toMatchObject([{ ok: true, instance: 1 }, { ok: true, instance: 1 }]);
  });
});

describe('FunctionHost.killBusy', () => {
  it('kills the instance in the middle of an invocation, which then reports a crash', async () => {
    const host = startHost();
    const call = host.invoke('probe', gate(), { type: 'admin' });
    await recorder.heldGates(1);

    const killed = host.killBusy('probe');
    const result = await call;

    expect(killed).toBe(1);
    expect(result).toEqual({
      ok: false,
      errorType: 'crashed',
      message: 'instance 1 of probe was killed during the invocation',
      instance: 1,
      logs: ['probe loaded'],
    });
    expect(host.stats().probe).toEqual({ instances: 0, busy: 0, invocations: 1, coldStarts: 1 });
    await expect(host.invoke('probe', {}, { type: 'admin' })).resolves.toMatchObject({ ok: true, cold: true, instance: 2 });
  });

  it('kills nothing when no invocation of the function is running', async () => {
    const host = startHost();
    await host.invoke('probe', {}, { type: 'admin' });

    expect(host.killBusy('probe')).toBe(0);
    expect(host.killBusy('nope')).toBe(0);
    expect(host.stats().probe).toMatchObject({ instances: 1, busy: 0 });
  });
});

describe('FunctionHost.close', () => {
  it('leaves no worker process behind and settles running and queued calls', async () => {
    const host = startHost({ instancesPerFunction: 1 });
    const warm = await Promise.all([host.invoke('probe', {}, { type: 'admin' }), host.invoke('other', {}, { type: 'admin' })]);
    const pids = warm.map((result) => (result.ok ? (result.result as { pid: number }).pid : 0));
    const running = host.invoke('probe', gate(), { type: 'admin' });
    const queued = host.invoke('probe', {}, { type: 'admin' });
    await recorder.heldGates(1);

    await host.close();

    expect(pids.map(processExists)).toEqual([false, false]);
    await expect(running).resolves.toMatchObject({ ok: false, errorType: 'crashed', message: 'the function host closed during the invocation' });
    await expect(queued).resolves.toEqual({ ok: false, errorType: 'crashed', message: 'the function host closed', logs: [] });
    await expect(host.invoke('probe', {}, { type: 'admin' })).resolves.toMatchObject({ ok: false, message: 'the function host is closed' });
    expect(host.stats().probe).toMatchObject({ instances: 0, busy: 0 });
  });
});

describe('a host process that dies without close()', () => {
  it('takes its workers with it', async () => {
    const script = path.join(__dirname, 'fixtures', 'abandon.ts');
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, dist.distDir], {
      cwd: path.join(__dirname, '..', '..', '..'),
    });
    const pid = JSON.parse(stdout) as number;
    expect(typeof pid).toBe('number');

    // The worker notices the closed IPC channel on its own event loop; wait for it, bounded.
    let alive = processExists(pid);
    for (let attempt = 0; alive && attempt < 100; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      alive = processExists(pid);
    }

    expect(alive).toBe(false);
  });
});

describe('FunctionHost timers', () => {
  it('refuses a trigger with a 5-field cron at construction, naming the function and trigger', () => {
    expect(() =>
      startHost({ functions: [hosted('getToken', { triggers: [{ name: 'refresh', config: '*/30 * * * *' }] })] }),
    ).toThrow('function getToken, trigger refresh: invalid cron "*/30 * * * *"');
  });

  it('fires a cron trigger with the timer context when timers are on', async () => {
    let resolveFired: (text: string) => void = () => undefined;
    const fired = new Promise<string>((resolve) => {
      resolveFired = resolve;
    });
    const host = startHost({
      functions: [hosted('probe', { triggers: [{ name: 'everySecond', config: '* * * * * * *' }] })],
      timers: true,
      onLog: (line) => {
        if (line.text.startsWith('{"timerEvent"')) resolveFired(line.text);
      },
    });

    const report = JSON.parse(await fired) as { timerEvent: Record<string, unknown>; TRIGGER_SRC: string };

    expect(report).toEqual({
      timerEvent: { Type: 'Timer', TriggerName: 'everySecond', Time: expect.stringMatching(/Z$/), Message: '' },
      TRIGGER_SRC: 'timer',
    });
    expect(host.stats().probe?.invocations).toBeGreaterThanOrEqual(1);
  });

  it('logs a failed timer invocation', async () => {
    let resolveFailure: (line: { fn: string; stream: string; text: string }) => void = () => undefined;
    const failure = new Promise<{ fn: string; stream: string; text: string }>((resolve) => {
      resolveFailure = resolve;
    });
    startHost({
      functions: [hosted('broken', { triggers: [{ name: 'everySecond', config: '* * * * * * *' }] })],
      timers: true,
      onLog: (line) => {
        if (line.text.startsWith('timer trigger')) resolveFailure(line);
      },
    });

    await expect(failure).resolves.toEqual({
      fn: 'broken',
      instance: 1,
      stream: 'stderr',
      text: 'timer trigger everySecond failed (crashed): function broken failed to initialise: boom at load',
    });
  });

});
