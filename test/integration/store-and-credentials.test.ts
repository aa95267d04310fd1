import { startLocalCloudBase, type LocalCloudBase } from '../../scripts/local/cloudbase';
import { startWechatSandbox, type RunningWechatSandbox } from '../../scripts/local/sandbox';
import { CredentialError } from '../../shared/errors';
import { createLogger } from '../../shared/log';
import { chinaDayKey } from '../../shared/credentials/model';
import { CredentialOwner } from '../../shared/credentials/owner';
import { CredentialReader, withAccessToken } from '../../shared/credentials/reader';
import { createTokenOwner } from '../../shared/credentials/services';
import { createCloudBaseStore, type CloudDatabase } from '../../shared/store/cloudbase';
import { createNodeSdkStore } from '../../shared/store/nodeSdk';
import tcb from '@cloudbase/node-sdk';
import { COLLECTIONS, type DocumentStore } from '../../shared/store/port';
import { WechatApiError } from '../../shared/errors';

// The real wx-server-sdk, configured as inside SCF (reference/cloudbase.md §4.5), against the local CloudBase.
const SCF_ENV = {
  TENCENTCLOUD_RUNENV: 'SCF',
  SCF_NAMESPACE: 'local-env',
  TCB_ENV: 'local-env',
  TENCENTCLOUD_REGION: 'ap-shanghai',
  TENCENTCLOUD_SECRETID: 'local-secret-id',
  TENCENTCLOUD_SECRETKEY: 'local-secret-key',
};
const savedEnv = { ...process.env };
const cloud = require('wx-server-sdk');
const quiet = createLogger({}, { write: () => undefined });

let cloudBase: LocalCloudBase & { url: string };
let store: DocumentStore;
const adapters: Record<string, () => DocumentStore> = {
  'wx-server-sdk (functions)': () => store,
  '@cloudbase/node-sdk (scripts)': () =>
    createNodeSdkStore(tcb.init({ env: 'local-env', secretId: 'x', secretKey: 'y', serviceUrl: cloudBase.url } as never).database()),
};

beforeAll(async () => {
  Object.assign(process.env, SCF_ENV);
  cloudBase = await startLocalCloudBase({});
  process.env.TCB_CONTEXT_CNFG = JSON.stringify({ URL: cloudBase.url });
  cloud.init({ env: cloud.DYNAMIC_CURRENT_ENV });
  store = createCloudBaseStore(cloud.database({ throwOnNotFound: false }) as CloudDatabase);
  await cloudBase.createCollection('things');
  await cloudBase.createCollection(COLLECTIONS.credentials);
});
afterAll(async () => {
  await cloudBase.close();
  process.env = savedEnv;
});

describe.each(Object.keys(adapters))('DocumentStore over %s', (adapter) => {
  let store: DocumentStore;
  beforeAll(async () => {
    store = adapters[adapter]!();
    for (const doc of cloudBase.dump('things')) await store.remove('things', String(doc._id));
  });

  it('inserts with a unique _id and refuses a duplicate without writing', async () => {
    await expect(store.insert('things', { _id: 'a', n: 1 })).resolves.toBe(true);
    await expect(store.insert('things', { _id: 'a', n: 2 })).resolves.toBe(false);
    await expect(store.get('things', 'a')).resolves.toEqual({ _id: 'a', n: 1 });
  });

  it('returns null for a missing document', async () => {
    await expect(store.get('things', 'missing')).resolves.toBeNull();
  });

  it('replaces with put and creates when absent', async () => {
    await store.put('things', { _id: 'p', a: 1, nested: { x: 1 } });
    await store.put('things', { _id: 'p', b: 2 });
    await expect(store.get('things', 'p')).resolves.toEqual({ _id: 'p', b: 2 });
  });

  it('applies set/inc/unset and replaces nested objects whole', async () => {
    await store.insert('things', { _id: 'u', count: 1, gone: true, obj: { a: 1, b: 2 } });
    const changed = await store.update('things', { _id: 'u' }, { set: { obj: { c: 3 } }, inc: { count: 2 }, unset: ['gone'] });
    expect(changed).toBe(1);
    await expect(store.get('things', 'u')).resolves.toEqual({ _id: 'u', count: 3, obj: { c: 3 } });
  });

  it.each([
    { case: 'eq', where: { _id: 'c', v: 5 }, changed: 1 },
    { case: 'neq', where: { _id: 'c', v: { neq: 5 } }, changed: 0 },
    { case: 'lt', where: { _id: 'c', v: { lt: 5 } }, changed: 0 },
    { case: 'lte', where: { _id: 'c', v: { lte: 5 } }, changed: 1 },
    { case: 'gt', where: { _id: 'c', v: { gt: 4 } }, changed: 1 },
    { case: 'gte', where: { _id: 'c', v: { gte: 6 } }, changed: 0 },
    { case: 'in', where: { _id: 'c', v: { in: [1, 5] } }, changed: 1 },
  ])('updates only when the $case guard holds', async ({ where, changed }) => {
    await store.put('things', { _id: 'c', v: 5, touched: 0 });
    await expect(store.update('things', where, { inc: { touched: 1 } })).resolves.toBe(changed);
  });

  it('gives a conditional update to exactly one of many concurrent callers', async () => {
    await store.put('things', { _id: 'lease', until: 0, owner: null });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.update('things', { _id: 'lease', until: { lte: 0 } }, { set: { until: 1, owner: `i${i}` } })),
    );
    expect(results.filter((n) => n === 1)).toHaveLength(1);
  });

  it('finds, orders, limits, counts and removes', async () => {
    for (const n of [3, 1, 2]) await store.put('things', { _id: `f${n}`, group: 'f', n });
    const found = await store.find<{ _id: string; n: number }>('things', { group: 'f' }, { orderBy: { field: 'n', direction: 'desc' }, limit: 2 });
    expect(found.map((doc) => doc.n)).toEqual([3, 2]);
    await expect(store.count('things', { group: 'f' })).resolves.toBe(3);
    await expect(store.remove('things', 'f1')).resolves.toBe(true);
    await expect(store.remove('things', 'f1')).resolves.toBe(false);
  });

  it('wraps service errors in a StoreError that keeps the service message', async () => {
    await expect(store.get('no_such_collection', 'x')).rejects.toThrow(/get on no_such_collection failed: .*collection no_such_collection does not exist/);
  });
});

describe('CredentialOwner across instances', () => {
  let sandbox: RunningWechatSandbox;
  const appId = 'wx10ca1000000000c3';
  const appSecret = 'IntegrationSecret00000000000001';
  beforeAll(async () => {
    sandbox = await startWechatSandbox({ accounts: [{ appid: appId, secret: appSecret }], ipWhitelist: ['127.0.0.1'] });
  });
  afterAll(() => sandbox.close());
  beforeEach(async () => {
    sandbox.control.reset({ keepAccounts: true });
    for (const doc of cloudBase.dump(COLLECTIONS.credentials)) await store.remove(COLLECTIONS.credentials, String(doc._id));
  });

  const owner = (instance: string, timing = {}) =>
    createTokenOwner(
      { appId, appSecret, apiBaseUrl: sandbox.url, tokenMode: 'stable' },
      { store, log: quiet, instanceId: instance, timing: { pollMs: 20, ...timing } },
    );

  it('makes exactly one upstream fetch for 24 cold instances asking at once', async () => {
    const owners = Array.from({ length: 24 }, (_, i) => owner(`instance-${i}`));
    const credentials = await Promise.all(owners.map((o) => o.get()));
    expect(new Set(credentials.map((c) => c.value)).size).toBe(1);
    expect(credentials.every((c) => c.version === 1)).toBe(true);
    expect(sandbox.control.stats().calls).toEqual({ '/cgi-bin/stable_token': 1 });
  });

  it('lets waiters give up with a clear error when the lease holder hangs, and takes over an expired lease', async () => {
    sandbox.control.addFault({ path: '/cgi-bin/stable_token', delayMs: 1500, times: 1 });
    const slow = owner('slow', { leaseMs: 300 }).get();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await expect(owner('impatient', { waitMs: 100, leaseMs: 300 }).get()).rejects.toThrow(CredentialError);
    // The slow holder's lease has run out: another instance takes over instead of waiting forever.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await expect(owner('successor', { leaseMs: 300 }).get()).resolves.toMatchObject({ version: 1 });
    await expect(slow).resolves.toBeDefined();
  });

  it('compare-and-expires only the rejected version and recovers through the owner once', async () => {
    const tokenOwner = owner('owner');
    const asked: Array<{ rejectedVersion?: number }> = [];
    const reader = new CredentialReader({
      store,
      appId,
      kind: 'access_token',
      askOwner: async (request) => {
        asked.push(request);
        return tokenOwner.get(request);
      },
    });
    const first = await reader.get();
    let calls = 0;
    const result = await withAccessToken(reader, async (token) => {
      calls += 1;
      if (token === first.value) throw new WechatApiError('/card/code/decrypt', 40001, 'invalid credential');
      return 'done';
    });
    expect(result).toBe('done');
    expect(calls).toBe(2);
    expect(asked).toEqual([{}, { rejectedVersion: 1 }]);
    // stable_token returned the same (rejected) token, so exactly one force refresh was spent.
    const quota = await store.get<{ _id: string; count: number }>(COLLECTIONS.credentials, `${appId}:force_refresh`);
    expect(quota?.count).toBe(1);
    expect(sandbox.control.stats().detail).toMatchObject({ '/cgi-bin/stable_token?force_refresh=true': 1 });

    // An instance still holding version 1 must not expire version 2.
    await reader.recover(first).catch(() => undefined);
    const doc = await store.get<{ _id: string; version: number; expiresAtMs: number }>(COLLECTIONS.credentials, `${appId}:access_token`);
    expect(doc?.version).toBe(2);
    expect(doc!.expiresAtMs).toBeGreaterThan(Date.now());
  });

  it('does not retry a second rejection: bounded, no loop', async () => {
    const tokenOwner = owner('owner');
    const reader = new CredentialReader({ store, appId, kind: 'access_token', askOwner: (request) => tokenOwner.get(request) });
    let calls = 0;
    const always = withAccessToken(reader, async () => {
      calls += 1;
      throw new WechatApiError('/card/code/decrypt', 42001, 'access_token expired');
    });
    await expect(always).rejects.toMatchObject({ errcode: 42001 });
    expect(calls).toBe(2);
  });

  it('keeps a rejected token in service for every instance when stable_token stands by it and force_refresh is spent', async () => {
    const tokenOwner = owner('owner');
    const first = await tokenOwner.get();
    // Today's 20 force refreshes are spent.
    await store.put(COLLECTIONS.credentials, { _id: `${appId}:force_refresh`, appId, kind: 'force_refresh_quota', dayKey: chinaDayKey(Date.now()), count: 20, lastAtMs: 0 });
    const delays: number[] = [];
    const readers = Array.from({ length: 10 }, () => new CredentialReader({ store, appId, kind: 'access_token', askOwner: (request) => tokenOwner.get(request) }));
    const results = await Promise.all(
      readers.map(async (reader) => {
        let calls = 0;
        return withAccessToken(
          reader,
          async (token) => {
            calls += 1;
            if (calls === 1) throw new WechatApiError('/card/code/decrypt', 40001, 'invalid credential');
            return token;
          },
          { retryDelayMs: 250, sleep: async (ms) => void delays.push(ms) },
        );
      }),
    );
    expect(new Set(results)).toEqual(new Set([first.value]));
    expect(delays).toEqual(Array(10).fill(250));
    expect(sandbox.control.stats().detail).toEqual({ '/cgi-bin/stable_token': 2 });
    const doc = await store.get<Record<string, any> & { _id: string }>(COLLECTIONS.credentials, `${appId}:access_token`);
    expect(doc).toMatchObject({ version: 1, rejectedAtMs: 0, contradictions: 1, lastContradiction: { version: 1, message: expect.stringMatching(/at most 20 per day/) } });
    expect(doc!.expiresAtMs).toBeGreaterThan(Date.now());
  });

  it('recovers through a cache document written before confirmations existed', async () => {
    const tokenOwner = owner('owner');
    const first = await tokenOwner.get();
    const legacy = (await store.get<Record<string, unknown> & { _id: string }>(COLLECTIONS.credentials, `${appId}:access_token`))!;
    const { confirmedAtMs: _c, contradictions: _n, lastContradiction: _l, ...old } = legacy;
    await store.put(COLLECTIONS.credentials, old);
    sandbox.control.invalidateTokens(appId, 'stable');
    const reader = new CredentialReader({ store, appId, kind: 'access_token', askOwner: (request) => owner('another').get(request) });
    const token = await withAccessToken(reader, async (value) => {
      if (value === first.value) throw new WechatApiError('/card/code/decrypt', 40001, 'invalid credential');
      return value;
    });
    expect(token).not.toBe(first.value);
    await expect(store.get(COLLECTIONS.credentials, `${appId}:access_token`)).resolves.toMatchObject({ version: 2, confirmedAtMs: 0 });
  });

  it('reads from instance memory without touching the database while fresh', async () => {
    const tokenOwner: CredentialOwner = owner('owner');
    const reader = new CredentialReader({ store, appId, kind: 'access_token', askOwner: (request) => tokenOwner.get(request) });
    await reader.get();
    cloudBase.resetStats();
    for (let i = 0; i < 50; i += 1) await reader.get();
    expect(cloudBase.stats().total).toBe(0);
  });
});
