import { type LocalCloudBase, startLocalCloudBase } from '../../../scripts/local/cloudbase';

// The real wx-server-sdk, configured as inside SCF (reference/cloudbase.md §4.5), talking to the local CloudBase.
type Started = LocalCloudBase & { url: string; port: number };

const SCF_ENV = {
  TENCENTCLOUD_RUNENV: 'SCF',
  SCF_NAMESPACE: 'local-env',
  TCB_ENV: 'local-env',
  TENCENTCLOUD_REGION: 'ap-shanghai',
  TENCENTCLOUD_SECRETID: 'local-secret-id',
  TENCENTCLOUD_SECRETKEY: 'local-secret-key',
  TCB_CONTEXT_KEYS: 'TCB_ENV,TCB_SEQID,TRIGGER_SRC,TCB_SESSIONTOKEN,TCB_SOURCE',
  TCB_SOURCE: 'wx_client',
  TRIGGER_SRC: 'tcb',
};

const savedEnv = { ...process.env };
let clockMs = 1_700_000_000_000;
let cloudBase: Started;
let invocations: { name: string; data: unknown; source: string }[];
const cloud = require('wx-server-sdk');
let db: any;

async function restart(options: { lockWaitMs?: number; transactionTimeoutMs?: number } = {}): Promise<void> {
  await cloudBase?.close();
  invocations = [];
  cloudBase = await startLocalCloudBase({
    now: () => clockMs,
    ...options,
    invokeFunction: async (call) => {
      invocations.push(call);
      if (call.name === 'broken') return { ok: false, message: 'TypeError: boom' };
      return { ok: true, result: { echoed: call.data } };
    },
  });
  process.env.TCB_CONTEXT_CNFG = JSON.stringify({ URL: cloudBase.url });
  await cloudBase.createCollection('items');
}

/** Runs `work` in db.runTransaction, starting over when the service reported a write conflict (bounded). */
async function withConflictRetry<T>(work: () => Promise<T>): Promise<{ value: T; conflicts: number }> {
  for (let conflicts = 0; conflicts < 200; conflicts += 1) {
    try {
      return { value: await work(), conflicts };
    } catch (error) {
      // wx-server-sdk turns an op-level conflict into errCode -501001 and keeps only the server message, so
      // @cloudbase/database's runTransaction (which retries on `error.code`) does not retry it; the caller must.
      if (!String((error as { errMsg?: string; message?: string }).errMsg ?? error).includes('WriteConflict')) throw error;
    }
  }
  throw new Error('too many conflicts');
}

async function waitForRequests(action: string, count: number): Promise<void> {
  for (let i = 0; i < 500 && (cloudBase.stats().byAction[action] ?? 0) < count; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  expect(cloudBase.stats().byAction[action]).toBe(count);
}

beforeAll(() => {
  Object.assign(process.env, SCF_ENV);
  cloud.init({ env: cloud.DYNAMIC_CURRENT_ENV });
  db = cloud.database();
});

beforeEach(async () => {
  await restart();
});

afterAll(async () => {
  await cloudBase.close();
  process.env = savedEnv;
});

describe('documents through wx-server-sdk', () => {
  it('adds, reads, updates, sets and removes a document with the shapes the SDK documents', async () => {
    const items = db.collection('items');

    await expect(items.add({ data: { _id: 'a', n: 1, at: db.serverDate({ offset: 500 }) } }))
      .resolves.toEqual({ _id: 'a', errMsg: 'collection.add:ok' });
    await expect(items.doc('a').get()).resolves.toEqual({
      data: { _id: 'a', n: 1, at: new Date(clockMs + 500) },
      errMsg: 'document.get:ok',
    });
    await expect(items.doc('a').update({ data: { n: db.command.inc(2), 'tags': ['x'] } }))
      .resolves.toEqual({ stats: { updated: 1 }, errMsg: 'document.update:ok' });
    await expect(items.doc('missing').update({ data: { n: 1 } }))
      .resolves.toEqual({ stats: { updated: 0 }, errMsg: 'document.update:ok' });
    await expect(items.doc('b').set({ data: { n: 5 } }))
      .resolves.toEqual({ _id: 'b', errMsg: 'document.set:ok', stats: { updated: 0, created: 1 } });
    await expect(items.doc('b').set({ data: { m: 6 } }))
      .resolves.toEqual({ _id: 'b', errMsg: 'document.set:ok', stats: { updated: 1, created: 0 } });
    await expect(items.doc('b').remove()).resolves.toEqual({ stats: { removed: 1 }, errMsg: 'document.remove:ok' });

    expect(cloudBase.dump('items')).toEqual([{ _id: 'a', n: 3, at: new Date(clockMs + 500), tags: ['x'] }]);
  });

  it('generates a 32-hex-character _id when add() gets none', async () => {
    const { _id } = await db.collection('items').add({ data: { n: 1 } });

    expect(_id).toMatch(/^[0-9a-f]{32}$/);
    expect(cloudBase.dump('items')).toEqual([{ _id, n: 1 }]);
  });

  it('counts as updated only the documents an update really changes', async () => {
    await db.collection('items').add({ data: [{ _id: 'a', n: 1 }, { _id: 'b', n: 2 }, { _id: 'c', n: 3 }] });

    await expect(db.collection('items').where({ n: db.command.gte(1) }).update({ data: { n: 2 } }))
      .resolves.toEqual({ stats: { updated: 2 }, errMsg: 'collection.update:ok' });
  });

  it('queries with where, orderBy, skip, limit, field and count', async () => {
    const _ = db.command;
    await db.collection('items').add({
      data: [1, 2, 3, 4, 5].map((n) => ({ _id: `d${n}`, n, group: n % 2 === 0 ? 'even' : 'odd', nested: { n } })),
    });

    await expect(
      db.collection('items').where({ group: 'odd', 'nested.n': _.gt(1) }).orderBy('n', 'desc').skip(1).limit(1)
        .field({ n: true }).get(),
    ).resolves.toEqual({ data: [{ _id: 'd3', n: 3 }], errMsg: 'collection.get:ok' });
    await expect(db.collection('items').where({ n: _.in([1, 4]) }).count())
      .resolves.toEqual({ total: 2, errMsg: 'collection.count:ok' });
    await expect(db.collection('items').where(_.or([{ n: 1 }, { n: 5 }])).remove())
      .resolves.toEqual({ stats: { removed: 2 }, errMsg: 'collection.remove:ok' });
  });

  it.each([
    { case: 'a duplicate _id', run: () => db.collection('items').add({ data: { _id: 'a' } }), errMsg: /E11000 duplicate key error.*_id/ },
    { case: 'a missing collection', run: () => db.collection('nope').doc('a').get(), errMsg: /-502005/ },
    { case: 'a missing document', run: () => db.collection('items').doc('zz').get(), errMsg: /document with _id zz does not exist/ },
  ])('rejects $case', async ({ run, errMsg }) => {
    await db.collection('items').add({ data: { _id: 'a' } });

    await expect(run()).rejects.toThrow(errMsg);
  });

  it('gives exactly one of 25 concurrent conditional updates the lease', async () => {
    const _ = db.command;
    await db.collection('items').add({ data: { _id: 'lease', leaseUntilMs: clockMs - 1, owner: 'nobody' } });

    const results = await Promise.all(Array.from({ length: 25 }, (unused, caller) =>
      db.collection('items').where({ _id: 'lease', leaseUntilMs: _.lt(clockMs) })
        .update({ data: { leaseUntilMs: clockMs + 30_000, owner: `caller-${caller}` } })));

    const winners = results.flatMap((result: { stats: { updated: number } }, caller: number) =>
      (result.stats.updated === 1 ? [`caller-${caller}`] : []));
    expect(winners).toHaveLength(1);
    expect(results.filter((result: { stats: { updated: number } }) => result.stats.updated === 0)).toHaveLength(24);
    expect(cloudBase.dump('items')).toEqual([{ _id: 'lease', leaseUntilMs: clockMs + 30_000, owner: winners[0] }]);
  });
});

describe('transactions through wx-server-sdk', () => {
  it('ends with exactly 2N after two concurrent loops of N runTransaction increments', async () => {
    const perLoop = 15;
    await db.collection('items').add({ data: { _id: 'counter', n: 0 } });
    const increment = () => withConflictRetry(() => db.runTransaction(async (transaction: any) => {
      const { data } = await transaction.collection('items').doc('counter').get();
      await transaction.collection('items').doc('counter').update({ data: { n: data.n + 1 } });
    }));
    const loop = async () => {
      for (let i = 0; i < perLoop; i += 1) await increment();
    };

    await Promise.all([loop(), loop()]);

    expect(cloudBase.dump('items')).toEqual([{ _id: 'counter', n: 2 * perLoop }]);
  });

  it('never over-allocates with concurrent reservations (read, check, insert, increment)', async () => {
    const capacity = 5;
    await db.collection('items').add({ data: { _id: 'stock', allocated: 0, capacity } });
    const reserve = (user: string) => withConflictRetry(() => db.runTransaction(async (transaction: any) => {
      const { data: stock } = await transaction.collection('items').doc('stock').get();
      if (stock.allocated >= stock.capacity) return 'sold-out';
      await transaction.collection('items').add({ data: { _id: `claim-${user}`, user } });
      await transaction.collection('items').doc('stock').update({ data: { allocated: db.command.inc(1) } });
      return 'reserved';
    }));

    const outcomes = await Promise.all(Array.from({ length: 12 }, (unused, i) => reserve(`u${i}`)));

    const claims = cloudBase.dump('items').filter((document) => String(document._id).startsWith('claim-'));
    expect(outcomes.filter((outcome) => outcome.value === 'reserved')).toHaveLength(capacity);
    expect(claims).toHaveLength(capacity);
    expect(cloudBase.dump('items').find((document) => document._id === 'stock')).toEqual({ _id: 'stock', allocated: capacity, capacity });
  });

  it('leaves nothing behind when the callback throws, and releases the locks', async () => {
    await restart({ lockWaitMs: 1000 });
    await db.collection('items').add({ data: { _id: 'counter', n: 0 } });

    await expect(db.runTransaction(async (transaction: any) => {
      await transaction.collection('items').add({ data: { _id: 'orphan' } });
      await transaction.collection('items').doc('counter').update({ data: { n: 1 } });
      throw new Error('business rule failed');
    })).rejects.toThrow('business rule failed');

    await expect(db.collection('items').doc('counter').update({ data: { n: 7 } })).resolves.toMatchObject({ stats: { updated: 1 } });
    expect(cloudBase.dump('items')).toEqual([{ _id: 'counter', n: 7 }]);
    expect(cloudBase.stats().byAction['database.abortTransaction']).toBe(1);
  });

  it('lets a transaction read its own writes while others still see the committed document', async () => {
    await db.collection('items').add({ data: { _id: 'a', n: 1 } });
    const transaction = await db.startTransaction();

    await transaction.collection('items').doc('a').update({ data: { n: 2 } });
    await transaction.collection('items').add({ data: { _id: 'b', n: 3 } });

    await expect(transaction.collection('items').doc('a').get()).resolves.toMatchObject({ data: { _id: 'a', n: 2 } });
    await expect(transaction.collection('items').doc('b').get()).resolves.toMatchObject({ data: { _id: 'b', n: 3 } });
    await expect(db.collection('items').doc('a').get()).resolves.toMatchObject({ data: { _id: 'a', n: 1 } });
    await transaction.commit();
    expect(cloudBase.dump('items')).toEqual([{ _id: 'a', n: 2 }, { _id: 'b', n: 3 }]);
  });

  it('discards the writes of a rolled back transaction', async () => {
    await db.collection('items').add({ data: { _id: 'a', n: 1 } });
    const transaction = await db.startTransaction();
    await transaction.collection('items').doc('a').set({ data: { n: 9 } });
    await transaction.collection('items').doc('a').remove();

    await transaction.rollback();

    expect(cloudBase.dump('items')).toEqual([{ _id: 'a', n: 1 }]);
  });

  it('answers a conflict to the second transaction writing a locked document', async () => {
    await db.collection('items').add({ data: { _id: 'a', n: 1 } });
    const first = await db.startTransaction();
    const second = await db.startTransaction();
    await first.collection('items').doc('a').update({ data: { n: 2 } });

    await expect(second.collection('items').doc('a').update({ data: { n: 3 } })).rejects.toThrow(/WriteConflict.*locked by another transaction/);
    await first.commit();
    expect(cloudBase.dump('items')).toEqual([{ _id: 'a', n: 2 }]);
  });

  it('fails the later writer when the document changed after its transaction started (first committer wins)', async () => {
    await db.collection('items').add({ data: { _id: 'a', n: 1 } });
    const first = await db.startTransaction();
    const second = await db.startTransaction();
    await second.collection('items').doc('a').get();
    await first.collection('items').doc('a').update({ data: { n: 2 } });
    await first.commit();

    await expect(second.collection('items').doc('a').update({ data: { n: 3 } })).rejects.toThrow(/WriteConflict.*changed after the transaction started/);
    expect(cloudBase.dump('items')).toEqual([{ _id: 'a', n: 2 }]);
  });

  it('fails the commit of a transaction whose read document was changed by a plain write', async () => {
    await db.collection('items').add({ data: [{ _id: 'a', n: 1 }, { _id: 'b', n: 1 }] });
    const transaction = await db.startTransaction();
    await transaction.collection('items').doc('a').get();
    await transaction.collection('items').doc('b').update({ data: { n: 2 } });
    await db.collection('items').doc('a').update({ data: { n: 5 } });

    // @cloudbase/database throws the raw service answer from commit, which is what runTransaction retries on.
    await expect(transaction.commit()).rejects.toMatchObject({ code: 'DATABASE_TRANSACTION_CONFLICT' });
    expect(cloudBase.dump('items')).toEqual([{ _id: 'a', n: 5 }, { _id: 'b', n: 1 }]);
  });

  it('retries a commit-time conflict inside runTransaction and then succeeds', async () => {
    await db.collection('items').add({ data: [{ _id: 'a', n: 1 }, { _id: 'b', n: 0 }] });
    let attempts = 0;

    await db.runTransaction(async (transaction: any) => {
      attempts += 1;
      const { data } = await transaction.collection('items').doc('a').get();
      await transaction.collection('items').doc('b').update({ data: { n: data.n } });
      if (attempts === 1) await db.collection('items').doc('a').update({ data: { n: 10 } });
    });

    expect(attempts).toBe(2);
    expect(cloudBase.dump('items')).toEqual([{ _id: 'a', n: 10 }, { _id: 'b', n: 10 }]);
  });

  it('makes a plain write wait for the lock and apply after the commit', async () => {
    await db.collection('items').add({ data: { _id: 'a', n: 0 } });
    const transaction = await db.startTransaction();
    await transaction.collection('items').doc('a').set({ data: { n: 10 } });

    const plainWrite = db.collection('items').doc('a').update({ data: { n: db.command.inc(1) } });
    await waitForRequests('database.modifyDocument', 2);
    await transaction.commit();

    await expect(plainWrite).resolves.toMatchObject({ stats: { updated: 1 } });
    expect(cloudBase.dump('items')).toEqual([{ _id: 'a', n: 11 }]);
  });

  it('fails a plain write that waits longer than lockWaitMs', async () => {
    await restart({ lockWaitMs: 50 });
    await db.collection('items').add({ data: { _id: 'a', n: 0 } });
    const transaction = await db.startTransaction();
    await transaction.collection('items').doc('a').update({ data: { n: 1 } });

    await expect(db.collection('items').doc('a').update({ data: { n: 2 } })).rejects.toThrow(/LockTimeout/);
    await transaction.rollback();
  });

  it('aborts an idle transaction after transactionTimeoutMs and releases its lock', async () => {
    await restart({ lockWaitMs: 100, transactionTimeoutMs: 10_000 });
    await db.collection('items').add({ data: { _id: 'a', n: 0 } });
    const transaction = await db.startTransaction();
    await transaction.collection('items').doc('a').update({ data: { n: 1 } });

    clockMs += 10_000;

    await expect(db.collection('items').doc('a').update({ data: { n: 2 } })).resolves.toMatchObject({ stats: { updated: 1 } });
    await expect(transaction.commit()).rejects.toMatchObject({
      code: 'DATABASE_TRANSACTION_FAIL',
      message: expect.stringContaining('TransactionNotExist'),
    });
    expect(cloudBase.dump('items')).toEqual([{ _id: 'a', n: 2 }]);
  });

  it('refuses a where() query inside a transaction', async () => {
    const transaction = await db.startTransaction();

    await expect(transaction.collection('items').where({ n: 1 }).get()).rejects.toThrow(/only single-document operations/);
    await transaction.rollback();
  });
});

describe('cloud.callFunction through wx-server-sdk', () => {
  it('passes name, data and the caller source to invokeFunction and returns its result', async () => {
    await expect(cloud.callFunction({ name: 'getToken', data: { appId: 'wx1' } }))
      .resolves.toMatchObject({ result: { echoed: { appId: 'wx1' } }, errMsg: 'callFunction:ok' });

    expect(invocations).toEqual([{ name: 'getToken', data: { appId: 'wx1' }, source: 'wx_client,scf' }]);
    expect(cloudBase.stats()).toEqual({ total: 1, byAction: { 'functions.invokeFunction': 1 } });
  });

  it('rejects with the failure message when the function fails', async () => {
    // node-sdk throws the FUNCTIONS_EXECUTE_FAIL answer as an Error, which wx-server-sdk reports with errCode -1.
    await expect(cloud.callFunction({ name: 'broken', data: {} }))
      .rejects.toMatchObject({ errCode: -1, errMsg: 'callFunction:fail TypeError: boom' });
  });
});
