import { type LocalCloudBase, startLocalCloudBase } from '../../../scripts/local/cloudbase';

// The real @cloudbase/node-sdk as admin scripts use it (reference/cloudbase.md §4.4), outside SCF.
const savedEnv = { ...process.env };
const tcb = require('@cloudbase/node-sdk');
let cloudBase: LocalCloudBase & { url: string; port: number };
let db: any;

beforeAll(() => {
  // Skips node-sdk's 30 ms metadata probe of metadata.tencentyun.com.
  process.env.TENCENTCLOUD = 'true';
  delete process.env.TENCENTCLOUD_RUNENV;
  delete process.env.TCB_CONTEXT_CNFG;
});

beforeEach(async () => {
  cloudBase = await startLocalCloudBase({
    invokeFunction: async (call) => ({ ok: true, result: { name: call.name, data: call.data } }),
  });
  const app = tcb.init({ env: 'local-env', secretId: 'local-id', secretKey: 'local-key', serviceUrl: cloudBase.url });
  db = app.database();
});

afterEach(async () => {
  await cloudBase.close();
});

afterAll(() => {
  process.env = savedEnv;
});

describe('collections through node-sdk', () => {
  it('creates a collection with db.createCollection and refuses to create it twice', async () => {
    await expect(db.createCollection('tokens')).resolves.toEqual({ requestId: expect.any(String) });

    await expect(db.createCollection('tokens')).rejects.toMatchObject({ code: 'DATABASE_COLLECTION_ALREADY_EXIST' });
    expect(cloudBase.listCollections()).toEqual(['tokens']);
  });

  it('answers DATABASE_COLLECTION_NOT_EXIST for an operation on a missing collection', async () => {
    await expect(db.collection('missing').add({ n: 1 })).rejects.toMatchObject({ code: 'DATABASE_COLLECTION_NOT_EXIST' });
  });
});

describe('documents through node-sdk', () => {
  it('returns node-sdk shaped results for get, set, update and remove', async () => {
    await cloudBase.createCollection('tokens');
    const doc = db.collection('tokens').doc('t1');

    await expect(doc.get()).resolves.toEqual({ data: [], requestId: expect.any(String) });
    await expect(doc.set({ value: 'a' })).resolves.toEqual({ updated: 0, upsertedId: 't1', requestId: expect.any(String) });
    await expect(doc.update({ value: 'b', hits: db.command.inc(1) })).resolves.toEqual({ updated: 1, requestId: expect.any(String) });
    await expect(doc.get()).resolves.toEqual({ data: [{ _id: 't1', value: 'b', hits: 1 }], requestId: expect.any(String) });
    await expect(doc.remove()).resolves.toEqual({ deleted: 1, requestId: expect.any(String) });
  });

  it('throws a duplicate _id as DATABASE_DUPLICATE_WRITE with the E11000 text', async () => {
    await cloudBase.createCollection('tokens');
    await db.collection('tokens').add({ _id: 'x' });

    await expect(db.collection('tokens').add({ _id: 'x' })).rejects.toMatchObject({
      code: 'DATABASE_DUPLICATE_WRITE',
      message: expect.stringMatching(/E11000 duplicate key error.*_id/),
    });
  });
});

describe('transactions through node-sdk', () => {
  it('retries op-level conflicts in runTransaction so two loops of N increments end at 2N', async () => {
    await cloudBase.createCollection('counters');
    await db.collection('counters').add({ _id: 'c', n: 0 });
    const perLoop = 15;
    const loop = async () => {
      for (let i = 0; i < perLoop; i += 1) {
        // node-sdk throws the conflict with its string code, which runTransaction retries (4 attempts); the
        // bounded outer loop covers the rare case where one side loses every attempt.
        for (let attempt = 0; attempt < 50; attempt += 1) {
          const done = await db.runTransaction(async (transaction: any) => {
            const { data } = await transaction.collection('counters').doc('c').get();
            await transaction.collection('counters').doc('c').update({ n: data.n + 1 });
            return true;
          }).catch((error: { code?: string }) => {
            if (error.code !== 'DATABASE_TRANSACTION_CONFLICT') throw error;
            return false;
          });
          if (done) break;
        }
      }
    };

    await Promise.all([loop(), loop()]);

    expect(cloudBase.dump('counters')).toEqual([{ _id: 'c', n: 2 * perLoop }]);
    expect(cloudBase.stats().byAction['database.commitTransaction']).toBeGreaterThanOrEqual(2 * perLoop);
  });

  it('returns the rollback reason and writes nothing when the callback rolls back', async () => {
    await cloudBase.createCollection('counters');
    await db.collection('counters').add({ _id: 'c', n: 0 });

    await expect(db.runTransaction(async (transaction: any) => {
      await transaction.collection('counters').doc('c').update({ n: 5 });
      await transaction.rollback('not enough stock');
    })).rejects.toBe('not enough stock');
    expect(cloudBase.dump('counters')).toEqual([{ _id: 'c', n: 0 }]);
  });
});

describe('callFunction through node-sdk', () => {
  it('sends an empty event when called without data', async () => {
    await expect(tcb.init({ env: 'local-env', secretId: 'i', secretKey: 'k', serviceUrl: cloudBase.url }).callFunction({ name: 'f' }))
      .resolves.toEqual({ result: { name: 'f', data: {} }, requestId: expect.any(String) });
  });
});
