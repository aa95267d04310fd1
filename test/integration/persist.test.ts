import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  decodeSnapshotValue, encodeSnapshotValue, markStateChanged, persistState, SnapshotError, type PersistStateOptions,
} from '../../scripts/local/persist';

// The sandboxes' snapshot files: a generic codec for whole state objects, merged into a fresh state on start.
const roundTrip = (value: unknown): unknown => decodeSnapshotValue(JSON.parse(JSON.stringify(encodeSnapshotValue(value))));

describe('the snapshot codec', () => {
  it.each([
    { case: 'a Map with non-string keys', value: new Map<unknown, unknown>([[1, 'a'], ['1', 'b'], [true, new Set([1])]]) },
    { case: 'a Set of records', value: new Set([{ a: 1 }, { a: 2 }]) },
    { case: 'a Buffer', value: { secret: Buffer.from([0, 1, 254, 255]) } },
    { case: 'a Date', value: { at: new Date(1_700_000_000_123) } },
    { case: 'undefined kept as a present key', value: { revokedAtMs: undefined, list: [undefined, 1] } },
    { case: 'numbers JSON cannot spell', value: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 1.5] },
    { case: 'a bigint', value: { n: 12345678901234567890n } },
    { case: 'keys that look like tags', value: { $map: 1, $ref: { $id: 2 }, plain: { $set: [] } } },
    { case: 'a __proto__ key', value: JSON.parse('{"__proto__":{"polluted":true},"a":1}') as unknown },
    { case: 'a null-prototype dictionary', value: Object.assign(Object.create(null) as object, { a: 1 }) },
    { case: 'nested containers', value: { a: [new Map([['k', [new Set(['x'])]]])], b: { c: { d: 'e' } } } },
  ])('restores $case exactly', ({ value }) => {
    const restored = roundTrip(value);

    expect(restored).toStrictEqual(value);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('restores an object reached from two places as one object, and cycles', () => {
    const packet: Record<string, unknown> = { billno: 'b1', status: 'SENT' };
    const state = { packets: new Map([['b1', packet]]), open: new Set([packet]), self: undefined as unknown };
    state.self = state;

    const restored = roundTrip(state) as typeof state;
    (restored.packets.get('b1') as Record<string, unknown>).status = 'RECEIVED';

    expect([...restored.open][0]).toBe(restored.packets.get('b1'));
    expect([...restored.open][0]).toEqual({ billno: 'b1', status: 'RECEIVED' });
    expect(restored.self).toBe(restored);
  });

  it.each([
    { case: 'a function', value: { config: { now: () => 1 } }, path: 'state.config.now: a function' },
    { case: 'a class instance', value: { timers: new Map([['t', new (class Lease {})()]]) }, path: 'state.timers.get("t"): a Lease' },
    { case: 'a symbol', value: { list: [Symbol('s')] }, path: 'state.list[0]: a symbol' },
    { case: 'a typed array that is not a Buffer', value: { bytes: new Uint8Array(2) }, path: 'state.bytes: a Uint8Array' },
  ])('refuses $case, naming its path', ({ value, path: where }) => {
    expect(() => encodeSnapshotValue(value)).toThrow(SnapshotError);
    expect(() => encodeSnapshotValue(value)).toThrow(where);
  });

  it('refuses a value nested deeper than it can walk safely', () => {
    let deep: unknown = 1;
    for (let level = 0; level < 10_000; level += 1) deep = [deep];

    expect(() => encodeSnapshotValue({ deep })).toThrow(/nested deeper than/);
  });

  it.each([
    { case: 'an unknown tag', data: { a: { $weird: 1 } }, error: /state\.a: unknown tag/ },
    { case: 'a dangling reference', data: { a: { $ref: 7 } }, error: /dangling reference/ },
    { case: 'a bad number', data: { a: { $number: 'lots' } }, error: /invalid number/ },
    { case: 'a malformed map', data: { a: { $map: [[1]] } }, error: /invalid \$map entry/ },
  ])('refuses malformed data: $case', ({ data, error }) => {
    expect(() => decodeSnapshotValue(data)).toThrow(error);
  });
});

interface TestState {
  config: { now: () => number; label: string };
  tokens: Map<string, { value: string; expiresAtMs: number | undefined }>;
  accounts: Map<string, string>;
  quota: { dayKey: number; used: Map<string, number> };
  secret: Buffer;
  clockOffsetMs: number;
}

describe('persistState', () => {
  let dir: string;
  let file: string;
  let reports: string[];
  const freshState = (accounts: Array<[string, string]> = [['wx-a', 'secret-a']]): TestState => ({
    config: { now: () => 0, label: 'from options' },
    tokens: new Map(),
    accounts: new Map(accounts),
    quota: { dayKey: 1, used: new Map() },
    secret: Buffer.from('fresh'),
    clockOffsetMs: 0,
  });
  const options = (overrides: Partial<PersistStateOptions<TestState>> = {}): PersistStateOptions<TestState> => ({
    file, schema: 'test/1', transientKeys: ['config'], label: 'Test sandbox', report: (message) => reports.push(message), ...overrides,
  });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'persist-'));
    file = path.join(dir, 'nested', 'test.json');
    reports = [];
  });
  afterEach(() => {
    jest.useRealTimers();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('restores every field but the transient ones into a fresh state, secrets included', () => {
    const first = freshState();
    const persistence = persistState(first, options());
    first.tokens.set('t1', { value: 'token-1', expiresAtMs: undefined });
    first.quota.used.set('wx-a token', 3);
    first.secret = Buffer.from('generated at first start');
    first.clockOffsetMs = 60_000;
    persistence.close();

    const second = freshState();
    const load = persistState(second, options()).load;

    expect(load).toEqual({ outcome: 'restored', savedAtMs: expect.any(Number) });
    expect(second.tokens).toEqual(new Map([['t1', { value: 'token-1', expiresAtMs: undefined }]]));
    expect(Object.hasOwn(second.tokens.get('t1')!, 'expiresAtMs')).toBe(true);
    expect(second.quota.used.get('wx-a token')).toBe(3);
    expect(second.secret.toString()).toBe('generated at first start');
    expect(second.clockOffsetMs).toBe(60_000);
    expect(second.config.label).toBe('from options');
    expect(fs.readFileSync(file, 'utf8')).not.toContain('from options');
    expect(reports).toEqual([]);
  });

  it('keeps fresh defaults for fields the snapshot lacks and adds option entries to restored Maps', () => {
    const first = freshState();
    persistState(first, options()).close();
    const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
    delete saved.state.quota.used; // as written before `used` existed
    delete saved.state.clockOffsetMs;
    fs.writeFileSync(file, JSON.stringify(saved));

    const second = freshState([['wx-a', 'secret-a'], ['wx-b', 'added to the options since']]);
    persistState(second, options()).close();

    expect(second.quota).toEqual({ dayKey: 1, used: new Map() });
    expect(second.clockOffsetMs).toBe(0);
    expect(second.accounts).toEqual(new Map([['wx-a', 'secret-a'], ['wx-b', 'added to the options since']]));
  });

  it('completes a Map entry the options fill with the fields added since the snapshot', () => {
    type AccountState = { accounts: Map<string, { secret: string; pushToken?: string }> };
    const accountOptions = { file, schema: 'test/1', transientKeys: [], label: 'Test sandbox', report: (message: string) => reports.push(message) };
    const first: AccountState = { accounts: new Map([['wx-a', { secret: 'changed through the control API' }]]) };
    persistState(first, accountOptions).close();

    const second: AccountState = { accounts: new Map([['wx-a', { secret: 'secret-a', pushToken: 'token-a' }]]) };
    persistState(second, accountOptions).close();

    expect(second.accounts.get('wx-a')).toEqual({ secret: 'changed through the control API', pushToken: 'token-a' });
    expect(reports).toEqual([]);
  });

  it('writes atomically, once the changes pause, and no later than the longest delay', () => {
    jest.useFakeTimers();
    const state = freshState();
    const persistence = persistState(state, options({ debounceMs: 100, maxDelayMs: 1000 }));
    const savedOffset = (): unknown => (fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')).state.clockOffsetMs : undefined);

    state.clockOffsetMs = 1;
    persistence.touch();
    jest.advanceTimersByTime(99);
    expect(savedOffset()).toBeUndefined();
    jest.advanceTimersByTime(1);
    expect(savedOffset()).toBe(1);

    for (let step = 2; step <= 30; step += 1) {
      state.clockOffsetMs = step;
      persistence.touch();
      jest.advanceTimersByTime(50);
    }
    // 29 changes 50 ms apart never pause for 100 ms, yet the file is at most 1000 ms behind.
    expect(savedOffset()).toBeGreaterThanOrEqual(20);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['test.json']);
    persistence.close();
  });

  it('saves on close, and through markStateChanged for changes made outside a request', () => {
    jest.useFakeTimers();
    const state = freshState();
    const persistence = persistState(state, options());
    state.clockOffsetMs = 5;
    markStateChanged(state);
    jest.runOnlyPendingTimers();
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).state.clockOffsetMs).toBe(5);

    state.clockOffsetMs = 6;
    persistence.close();
    state.clockOffsetMs = 7;
    markStateChanged(state);
    jest.runOnlyPendingTimers();

    expect(JSON.parse(fs.readFileSync(file, 'utf8')).state.clockOffsetMs).toBe(6);
  });

  it('reports a value that cannot be saved once, naming it, and keeps the last good snapshot', () => {
    const state = freshState() as TestState & { pending?: unknown };
    const persistence = persistState(state, options());
    persistence.flush();
    const good = fs.readFileSync(file, 'utf8');
    state.pending = { retry: () => undefined };

    persistence.flush();
    persistence.flush();

    expect(reports).toEqual([expect.stringContaining('state.pending.retry: a function cannot be persisted')]);
    expect(fs.readFileSync(file, 'utf8')).toBe(good);
    delete state.pending;
    persistence.close();
  });

  it.each([
    { case: 'a torn file', content: () => '{"format":"local-sandbox-snapshot","formatVersion":1,', reason: /not JSON/ },
    { case: 'another file', content: () => '{"hello":"world"}', reason: /not a local-sandbox-snapshot file/ },
    { case: 'a newer format', content: () => JSON.stringify({ format: 'local-sandbox-snapshot', formatVersion: 2, schema: 'test/1', state: {} }), reason: /format version 2/ },
    { case: 'another schema', content: () => JSON.stringify({ format: 'local-sandbox-snapshot', formatVersion: 1, schema: 'test/0', state: {} }), reason: /written for test\/0, this sandbox is test\/1/ },
    {
      case: 'a field whose kind changed',
      content: () => JSON.stringify({ format: 'local-sandbox-snapshot', formatVersion: 1, schema: 'test/1', state: { tokens: [] } }),
      reason: /state\.tokens was saved as array, this version keeps map/,
    },
    {
      case: 'a number that became a string',
      content: () => JSON.stringify({ format: 'local-sandbox-snapshot', formatVersion: 1, schema: 'test/1', state: { secret: { $buffer: '' }, clockOffsetMs: '5' } }),
      reason: /state\.clockOffsetMs was saved as string, this version keeps number/,
    },
    {
      case: 'an options-filled Map entry whose shape changed',
      content: () => JSON.stringify({ format: 'local-sandbox-snapshot', formatVersion: 1, schema: 'test/1', state: { accounts: { $map: [['wx-a', { secret: 'secret-a' }]] } } }),
      reason: /state\.accounts\.get\("wx-a"\) was saved as object, this version keeps string/,
    },
    {
      case: 'damaged encoding',
      content: () => JSON.stringify({ format: 'local-sandbox-snapshot', formatVersion: 1, schema: 'test/1', state: { tokens: { $map: 3 } } }),
      reason: /invalid \$map/,
    },
  ])('sets aside $case, says so, and starts empty', ({ content, reason }) => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content());
    const state = freshState();

    const persistence = persistState(state, options());

    expect(persistence.load).toEqual({ outcome: 'rejected', reason: expect.stringMatching(reason), movedTo: expect.stringMatching(/test\.json\.rejected-\d+$/) });
    expect(fs.readFileSync((persistence.load as { movedTo: string }).movedTo, 'utf8')).toBe(content());
    expect(fs.existsSync(file)).toBe(false);
    expect(state.tokens.size).toBe(0);
    expect(reports).toEqual([expect.stringMatching(/Test sandbox: its saved state .* could not be used .* moved to .*rejected/)]);
    persistence.close();
    const next = persistState(freshState(), options());
    expect(next.load).toEqual({ outcome: 'restored', savedAtMs: expect.any(Number) });
    next.close();
  });
});
