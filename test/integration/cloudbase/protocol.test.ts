import { type LocalCloudBase, startLocalCloudBase } from '../../../scripts/local/cloudbase';

// The /admin wire format as captured from the real SDK (reference/cloudbase.md §4.6), checked byte for byte.
const NOW_MS = 1_700_000_000_000;
let cloudBase: LocalCloudBase & { url: string; port: number };
let calls: { name: string; data: unknown; source: string }[];

async function post(body: unknown, init: { path?: string; headers?: Record<string, string> } = {}): Promise<any> {
  const url = init.path === undefined ? `${cloudBase.url}?env=local-env&seqId=1` : `http://127.0.0.1:${cloudBase.port}${init.path}`;
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...init.headers },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return response.json();
}

beforeEach(async () => {
  calls = [];
  cloudBase = await startLocalCloudBase({
    now: () => NOW_MS,
    invokeFunction: async (call) => {
      calls.push(call);
      return call.name === 'fails' ? { ok: false, message: 'Error: exploded' } : { ok: true, result: undefined };
    },
  });
  await cloudBase.createCollection('items');
});

afterEach(async () => {
  await cloudBase.close();
});

describe('the /admin endpoint', () => {
  it.each([
    { case: 'a GET', method: 'GET', path: '/admin' },
    { case: 'another path', method: 'POST', path: '/other' },
  ])('answers 404 to $case', async ({ method, path }) => {
    const response = await fetch(`http://127.0.0.1:${cloudBase.port}${path}`, { method });

    expect(response.status).toBe(404);
    expect(cloudBase.stats()).toEqual({ total: 0, byAction: {} });
  });

  it('answers EJSON strings with canonical numbers and dates, server dates from its clock', async () => {
    const inserted = await post({
      action: 'database.insertDocument',
      collectionName: 'items',
      data: ['{"_id":"a","n":{"$numberInt":"3"},"at":{"$tcb_server_date":{"offset":{"$numberInt":"1000"}}}}'],
    });
    const found = await post({ action: 'database.getDocument', collectionName: 'items', queryType: 'DOC', query: '{"_id":"a"}', multi: false });

    expect(inserted).toEqual({ requestId: expect.any(String), data: { insertedIds: ['a'] } });
    expect(found).toEqual({
      requestId: expect.any(String),
      data: { list: [`{"_id":"a","n":{"$numberInt":"3"},"at":{"$date":{"$numberLong":"${NOW_MS + 1000}"}}}`] },
    });
  });

  it('applies the default limit of 100, caps limit at 1000 and honours offset and order', async () => {
    const documents = Array.from({ length: 1005 }, (unused, n) => JSON.stringify({ _id: `d${n}`, n }));
    await post({ action: 'database.insertDocument', collectionName: 'items', data: documents });

    const byDefault = await post({ action: 'database.getDocument', collectionName: 'items', queryType: 'WHERE' });
    const capped = await post({ action: 'database.getDocument', collectionName: 'items', queryType: 'WHERE', limit: 5000 });
    const page = await post({
      action: 'database.getDocument', collectionName: 'items', queryType: 'WHERE',
      query: '{"n":{"$gte":{"$numberInt":"10"}}}', order: '{"n":{"$numberInt":"-1"}}', offset: 2, limit: 2, projection: '{"n":1,"_id":0}',
    });

    expect(byDefault.data.list).toHaveLength(100);
    expect(capped.data.list).toHaveLength(1000);
    expect(page.data.list).toEqual(['{"n":{"$numberInt":"1002"}}', '{"n":{"$numberInt":"1001"}}']);
  });

  it('counts with calculateDocument and removes with removeDocument', async () => {
    await post({ action: 'database.insertDocument', collectionName: 'items', data: ['{"_id":"a","k":1}', '{"_id":"b","k":1}', '{"_id":"c","k":2}'] });

    await expect(post({ action: 'database.calculateDocument', collectionName: 'items', queryType: 'WHERE', query: '{"k":1}' }))
      .resolves.toEqual({ requestId: expect.any(String), data: { total: 2 } });
    await expect(post({ action: 'database.removeDocument', collectionName: 'items', queryType: 'WHERE', query: '{"k":1}', multi: false }))
      .resolves.toEqual({ requestId: expect.any(String), data: { deleted: 1 } });
    await expect(post({ action: 'database.removeDocument', collectionName: 'items', queryType: 'WHERE', query: '{"k":{"$gte":1}}', multi: true }))
      .resolves.toEqual({ requestId: expect.any(String), data: { deleted: 2 } });
  });

  it.each([
    { case: 'a missing collection', body: { action: 'database.getDocument', collectionName: 'nope', queryType: 'WHERE' }, code: 'DATABASE_COLLECTION_NOT_EXIST' },
    { case: 'an unknown action', body: { action: 'database.dropEverything' }, code: 'INVALID_PARAM' },
    { case: 'an unknown update operator', body: { action: 'database.modifyDocument', collectionName: 'items', queryType: 'WHERE', query: '{}', data: '{"$explode":{"a":1}}', merge: true, multi: true }, code: 'DATABASE_REQUEST_FAILED' },
    { case: 'an unknown transaction', body: { action: 'database.commitTransaction', transactionId: 'nope' }, code: 'DATABASE_TRANSACTION_FAIL' },
    { case: 'a where() inside a transaction', body: { action: 'database.modifyDocument', collectionName: 'items', queryType: 'WHERE', query: '{}', data: '{"$set":{"a":1}}', multi: true, transactionId: 'any' }, code: 'DATABASE_TRANSACTION_FAIL' },
  ])('answers $case with HTTP 200 and {code, message, requestId}', async ({ body, code }) => {
    await post({ action: 'database.insertDocument', collectionName: 'items', data: ['{"_id":"a"}'] });

    await expect(post(body)).resolves.toEqual({ code, message: expect.any(String), requestId: expect.any(String) });
  });

  it('modifies with operators, counts modified documents and reports upserts', async () => {
    await post({ action: 'database.insertDocument', collectionName: 'items', data: ['{"_id":"a","n":1,"o":{"x":1}}'] });
    const modify = (query: string, data: string, extra: Record<string, unknown> = {}) =>
      post({ action: 'database.modifyDocument', collectionName: 'items', queryType: 'DOC', query, data, multi: false, merge: true, upsert: false, ...extra });

    await expect(modify('{"_id":"a"}', '{"$inc":{"n":{"$numberInt":"2"}},"$set":{"o.y":true},"$push":{"list":"v"}}'))
      .resolves.toEqual({ requestId: expect.any(String), data: { updated: 1 } });
    await expect(modify('{"_id":"a"}', '{"$unset":{"o.x":""}}')).resolves.toEqual({ requestId: expect.any(String), data: { updated: 1 } });
    await expect(modify('{"_id":"a"}', '{"n":{"$numberInt":"3"}}')).resolves.toEqual({ requestId: expect.any(String), data: { updated: 0 } });
    await expect(modify('{"_id":"b"}', '{"n":1}', { merge: false, upsert: true }))
      .resolves.toEqual({ requestId: expect.any(String), data: { updated: 0, upsert_id: 'b' } });
    expect(cloudBase.dump('items')).toEqual([{ _id: 'a', n: 3, o: { y: true }, list: ['v'] }, { _id: 'b', n: 1 }]);
  });

  it('counts requests by action until reset', async () => {
    await post({ action: 'database.calculateDocument', collectionName: 'items', queryType: 'WHERE' });
    await post({ action: 'database.calculateDocument', collectionName: 'items', queryType: 'WHERE' });
    await post({ action: 'database.startTransaction' });

    expect(cloudBase.stats()).toEqual({ total: 3, byAction: { 'database.calculateDocument': 2, 'database.startTransaction': 1 } });
    cloudBase.resetStats();
    expect(cloudBase.stats()).toEqual({ total: 0, byAction: {} });
  });
});

describe('functions.invokeFunction', () => {
  it('passes the parsed request_data and X-TCB-Source, and answers response_data as a JSON string', async () => {
    const reply = await post(
      { action: 'functions.invokeFunction', function_name: 'sendRedPacket', request_data: '{"amountFen":100}' },
      { headers: { 'X-TCB-Source': 'wx_client,scf' } },
    );

    expect(reply).toEqual({ requestId: expect.any(String), data: { response_data: 'null' } });
    expect(calls).toEqual([{ name: 'sendRedPacket', data: { amountFen: 100 }, source: 'wx_client,scf' }]);
  });

  it('answers FUNCTIONS_EXECUTE_FAIL with the failure message', async () => {
    await expect(post({ action: 'functions.invokeFunction', function_name: 'fails', request_data: '{}' }))
      .resolves.toEqual({ code: 'FUNCTIONS_EXECUTE_FAIL', message: 'Error: exploded', requestId: expect.any(String) });
  });
});
