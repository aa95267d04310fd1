import tcb from '@cloudbase/node-sdk';
import { startLocalCloudBase, type LocalCloudBase } from '../../../scripts/local/cloudbase';
import { AccountRegistry } from '../../../shared/accounts/registry';
import { removeAccount, saveAccount, seedAccount } from '../../../shared/accounts/store';
import { createNodeSdkStore } from '../../../shared/store/nodeSdk';
import { COLLECTIONS, type DocumentStore } from '../../../shared/store/port';

const ENV_APPID = 'wx10ca1000000000a1';
const ENV_SECRET = 'EnvironmentSecret000000000000001';
const SUB = 'wx10ca1000000000a2';
const SERVICE = 'wx10ca1000000000a4';
const KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const subscription = {
  appId: SUB, kind: 'subscription', verified: false, messageMode: 'safe', name: '订阅号甲',
  appSecret: 'SubscriptionSecret00000000000002', pushToken: 'SubToken', encodingAESKey: KEY, originalId: 'gh_10ca100000a2',
};

let cloudBase: LocalCloudBase & { url: string };
let store: DocumentStore;

beforeAll(async () => {
  cloudBase = await startLocalCloudBase({});
  store = createNodeSdkStore(tcb.init({ env: 'local-env', secretId: 'x', secretKey: 'y', serviceUrl: cloudBase.url } as never).database());
});
afterAll(() => cloudBase.close());

describe('AccountRegistry before the accounts collection exists', () => {
  it('serves the environment\'s account alone, as a verified service account with the environment\'s secret', async () => {
    const registry = new AccountRegistry({ store, environment: { appId: ENV_APPID, appSecret: ENV_SECRET } });
    await expect(registry.listActive()).resolves.toEqual([
      expect.objectContaining({ appId: ENV_APPID, kind: 'service', verified: true, appSecret: ENV_SECRET, isDefault: true, source: 'environment', active: true }),
    ]);
    await expect(registry.get(SUB)).resolves.toBeNull();
  });
});

describe('AccountRegistry over wx_accounts', () => {
  let nowMs = 1_000_000;
  const clock = () => nowMs;
  beforeAll(async () => {
    await cloudBase.createCollection(COLLECTIONS.accounts);
    await cloudBase.createCollection(COLLECTIONS.credentials);
  });
  beforeEach(async () => {
    for (const doc of cloudBase.dump(COLLECTIONS.accounts)) await store.remove(COLLECTIONS.accounts, String(doc._id));
    await saveAccount(store, subscription, { defaultAppId: ENV_APPID });
  });

  it('answers a warm instance from memory, without a database request', async () => {
    const registry = new AccountRegistry({ store, environment: { appId: ENV_APPID }, now: clock });
    await registry.require(SUB);
    cloudBase.resetStats();
    for (let i = 0; i < 20; i += 1) {
      await registry.require(SUB);
      await registry.pushSettings(SUB);
      await registry.isActive(ENV_APPID);
    }
    expect(cloudBase.stats().total).toBe(0);
  });

  it('sees an operator\'s change once its copy is older than the TTL, not before', async () => {
    const registry = new AccountRegistry({ store, environment: { appId: ENV_APPID }, ttlMs: 30_000, now: clock });
    await expect(registry.pushSettings(SUB)).resolves.toMatchObject({ mode: 'safe', token: 'SubToken' });
    await saveAccount(store, { appId: SUB, messageMode: 'compatible', pushToken: 'NewToken' }, { defaultAppId: ENV_APPID });
    nowMs += 29_000;
    await expect(registry.pushSettings(SUB)).resolves.toMatchObject({ mode: 'safe', token: 'SubToken' });
    nowMs += 1_000;
    await expect(registry.pushSettings(SUB)).resolves.toMatchObject({ mode: 'compatible', token: 'NewToken', encodingAESKey: KEY });
  });

  it('refuses a removed account\'s pushes and stops listing it once its copy is renewed', async () => {
    const registry = new AccountRegistry({ store, environment: { appId: ENV_APPID }, now: clock });
    await expect(registry.isActive(SUB)).resolves.toBe(true);
    await removeAccount(store, SUB, { defaultAppId: ENV_APPID });
    nowMs += 30_000;
    await expect(registry.isActive(SUB)).resolves.toBe(false);
    await expect(registry.pushSettings(SUB)).resolves.toBeNull();
    await expect(registry.require(SUB)).rejects.toThrow(`${SUB} was removed`);
    expect((await registry.listActive()).map((account) => account.appId)).toEqual([ENV_APPID]);
    // The removal erased its secrets from the registry.
    await expect(store.get(COLLECTIONS.accounts, SUB)).resolves.toMatchObject({ status: 'removed', appSecret: null, pushToken: null, encodingAESKey: null });
  });

  it('looks again for an appid it does not know, at most once a second', async () => {
    const registry = new AccountRegistry({ store, environment: { appId: ENV_APPID }, now: clock });
    await expect(registry.get(SERVICE)).resolves.toBeNull();
    await saveAccount(store, { ...subscription, appId: SERVICE, kind: 'service', verified: true }, { defaultAppId: ENV_APPID });
    cloudBase.resetStats();
    await expect(registry.get(SERVICE)).resolves.toBeNull();
    expect(cloudBase.stats().total).toBe(0);
    nowMs += 1_000;
    await expect(registry.get(SERVICE)).resolves.toMatchObject({ appId: SERVICE, kind: 'service', active: true });
  });

  it('merges the environment\'s account with its registry entry, the registry\'s AppSecret winning', async () => {
    const registry = new AccountRegistry({ store, environment: { appId: ENV_APPID, appSecret: ENV_SECRET }, now: clock });
    await saveAccount(store, { appId: ENV_APPID, kind: 'service', verified: true, messageMode: 'plain', pushToken: 'EnvToken' }, { defaultAppId: ENV_APPID });
    nowMs += 30_000;
    await expect(registry.require()).resolves.toMatchObject({ appSecret: ENV_SECRET, pushToken: 'EnvToken', source: 'environment+registry' });
    await saveAccount(store, { appId: ENV_APPID, appSecret: 'RotatedWithoutARedeploy000000001' }, { defaultAppId: ENV_APPID });
    nowMs += 30_000;
    await expect(registry.require()).resolves.toMatchObject({ appSecret: 'RotatedWithoutARedeploy000000001' });
    await expect(removeAccount(store, ENV_APPID, { defaultAppId: ENV_APPID })).rejects.toThrow(/environment's own account/);
  });

  it('finds the verified service account for OAuth and claim pages', async () => {
    const unverifiedEnv = new AccountRegistry({ store, environment: { appId: ENV_APPID }, now: clock });
    await saveAccount(store, { appId: ENV_APPID, kind: 'service', verified: false, messageMode: 'plain', pushToken: 'EnvToken' }, { defaultAppId: ENV_APPID });
    nowMs += 30_000;
    await expect(unverifiedEnv.serviceAccount()).rejects.toThrow(/No verified service account/);
    await saveAccount(store, { ...subscription, appId: SERVICE, kind: 'service', verified: true }, { defaultAppId: ENV_APPID });
    nowMs += 30_000;
    await expect(unverifiedEnv.serviceAccount()).resolves.toMatchObject({ appId: SERVICE });
  });

  it('seeds only what the registry has never held', async () => {
    const doc = (await store.get(COLLECTIONS.accounts, SUB)) as never;
    await expect(seedAccount(store, { ...(doc as object), name: 'seeded again' } as never)).resolves.toBe(false);
    await expect(store.get(COLLECTIONS.accounts, SUB)).resolves.toMatchObject({ name: '订阅号甲' });
  });
});
