import { startLocalCloudBase, type LocalCloudBase } from '../../../scripts/local/cloudbase';
import { createCloudBaseStore, type CloudDatabase } from '../../../shared/store/cloudbase';
import { createNodeSdkStore } from '../../../shared/store/nodeSdk';
import { TransactionConflictError, type DocumentStore } from '../../../shared/store/port';

// The real SDKs against the local CloudBase: wx-server-sdk as inside SCF, node-sdk as the operator CLI.
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
const tcb = require('@cloudbase/node-sdk');

let cloudBase: LocalCloudBase & { url: string };
const adapters: Array<{ name: string; store: () => DocumentStore }> = [];

beforeAll(async () => {
  cloudBase = await startLocalCloudBase({});
  Object.assign(process.env, SCF_ENV, { TCB_CONTEXT_CNFG: JSON.stringify({ URL: cloudBase.url }) });
  cloud.init({ env: cloud.DYNAMIC_CURRENT_ENV });
  const wxStore = createCloudBaseStore(cloud.database({ throwOnNotFound: false }) as CloudDatabase);
  // node-sdk outside SCF: no metadata probe, the local URL given explicitly.
  const app = tcb.init({ env: 'local-env', secretId: 'local-id', secretKey: 'local-key', serviceUrl: cloudBase.url });
  const nodeStore = createNodeSdkStore(app.database());
  adapters.push({ name: 'wx-server-sdk', store: () => wxStore }, { name: 'node-sdk', store: () => nodeStore });
  await cloudBase.createCollection('things');
});
afterAll(async () => {
  await cloudBase.close();
  process.env = savedEnv;
});

describe.each([{ adapter: 'wx-server-sdk' }, { adapter: 'node-sdk' }])('DocumentStore.transaction over $adapter', ({ adapter }) => {
  const store = (): DocumentStore => adapters.find((entry) => entry.name === adapter)!.store();
  const id = (name: string): string => `${adapter}-${name}`;

  it('commits reads and writes of several documents together', async () => {
    await store().put('things', { _id: id('stock'), left: 2 });

    const value = await store().transaction(async (tx) => {
      const stock = await tx.get<{ _id: string; left: number }>('things', id('stock'));
      await tx.insert('things', { _id: id('order'), item: 'x' });
      await tx.update('things', id('stock'), { inc: { left: -1 }, set: { last: id('order') } });
      await tx.put('things', { _id: id('note'), text: 'hello' });
      return stock?.left;
    });

    expect(value).toBe(2);
    await expect(store().get('things', id('stock'))).resolves.toEqual({ _id: id('stock'), left: 1, last: id('order') });
    await expect(store().get('things', id('order'))).resolves.toEqual({ _id: id('order'), item: 'x' });
    await expect(store().get('things', id('note'))).resolves.toEqual({ _id: id('note'), text: 'hello' });
  });

  it('reads a missing document as null', async () => {
    await expect(store().transaction((tx) => tx.get('things', id('missing')))).resolves.toBeNull();
  });

  it('rolls back and rethrows what the work throws, without retrying it', async () => {
    await store().put('things', { _id: id('kept'), n: 1 });
    let runs = 0;

    await expect(store().transaction(async (tx) => {
      runs += 1;
      await tx.update('things', id('kept'), { set: { n: 2 } });
      await tx.insert('things', { _id: id('orphan') });
      throw new Error('sold out');
    })).rejects.toThrow('sold out');

    expect(runs).toBe(1);
    await expect(store().get('things', id('kept'))).resolves.toEqual({ _id: id('kept'), n: 1 });
    await expect(store().get('things', id('orphan'))).resolves.toBeNull();
  });

  it('retries write conflicts itself, so concurrent increments all land exactly once', async () => {
    await store().put('things', { _id: id('counter'), n: 0 });
    const increments = 12;

    await Promise.all(Array.from({ length: increments }, () => store().transaction(async (tx) => {
      const doc = await tx.get<{ _id: string; n: number }>('things', id('counter'));
      await tx.update('things', id('counter'), { set: { n: (doc?.n ?? 0) + 1 } });
    }, { maxAttempts: 50, backoffMs: 5 })));

    await expect(store().get('things', id('counter'))).resolves.toEqual({ _id: id('counter'), n: increments });
  });

  it('refuses an insert of an existing _id and leaves the transaction unapplied', async () => {
    await store().put('things', { _id: id('taken'), n: 1 });
    await expect(store().transaction(async (tx) => {
      await tx.update('things', id('taken'), { set: { n: 5 } });
      await tx.insert('things', { _id: id('taken'), n: 2 });
    })).rejects.toThrow(/duplicate/i);
    await expect(store().get('things', id('taken'))).resolves.toEqual({ _id: id('taken'), n: 1 });
  });

  it('gives up after maxAttempts conflicts with a TransactionConflictError', async () => {
    await store().put('things', { _id: id('hot'), n: 0 });
    let runs = 0;

    const attempt = store().transaction(async (tx) => {
      runs += 1;
      await tx.get('things', id('hot'));
      // Another writer changes the document this transaction read: first committer wins, this one conflicts.
      await store().update('things', { _id: id('hot') }, { inc: { n: 1 } });
      await tx.update('things', id('hot'), { set: { n: -1 } });
    }, { maxAttempts: 3, backoffMs: 1 });

    await expect(attempt).rejects.toThrow(TransactionConflictError);
    await expect(attempt).rejects.toThrow('The transaction lost 3 write conflicts in a row');
    expect(runs).toBe(3);
    await expect(store().get('things', id('hot'))).resolves.toEqual({ _id: id('hot'), n: 3 });
  });
});
