import http from 'node:http';
import { ADMIN_BODY_LIMIT_BYTES, type LocalCloudBase, startLocalCloudBase } from '../../../scripts/local/cloudbase';

// One request must not take the local CloudBase down, nor make it answer something the real service never would.
let cloudBase: LocalCloudBase & { url: string; port: number };
let invoked: unknown[];

async function post(body: unknown): Promise<any> {
  const response = await fetch(`${cloudBase.url}?env=local-env&seqId=1`, { method: 'POST', body: JSON.stringify(body) });
  expect(response.status).toBe(200);
  return response.json();
}

function nested(levels: number, leaf = '1'): string {
  return `${'{"a":'.repeat(levels)}${leaf}${'}'.repeat(levels)}`;
}

/** One POST over `agent` (so tests can see whether the socket was reused); resolves with status, JSON body and reuse. */
function rawPost(agent: http.Agent, body: Buffer): Promise<{ status: number; body: any; reusedSocket: boolean }> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${cloudBase.url}?env=local-env&seqId=1`, { method: 'POST', agent, headers: { 'content-length': body.length } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString()), reusedSocket: request.reusedSocket }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

beforeEach(async () => {
  invoked = [];
  cloudBase = await startLocalCloudBase({ invokeFunction: async (call) => (invoked.push(call.data), { ok: true, result: null }) });
  await cloudBase.createCollection('items');
});

afterEach(async () => {
  await cloudBase.close();
});

describe('actions the local CloudBase does not have', () => {
  it.each([
    { case: 'constructor' }, { case: 'toString' }, { case: '__proto__' }, { case: 'hasOwnProperty' }, { case: 'valueOf' },
    { case: 'database.dropEverything' }, { case: '' },
  ])('refuses "$case" with the CloudBase error shape', async ({ case: action }) => {
    const reply = await post({ action, collectionName: 'items' });

    expect(reply).toEqual({ code: 'INVALID_PARAM', message: `unsupported action: ${JSON.stringify(action)}`, requestId: expect.any(String) });
    expect(cloudBase.stats()).toEqual({ total: 1, byAction: { '(unsupported)': 1 } });
  });

  it('echoes only the start of an enormous action name and counts all unknown names as one', async () => {
    const reply = await post({ action: 'x'.repeat(1_000_000) });
    await post({ action: 'y' });

    expect(reply.message.length).toBeLessThan(100);
    expect(cloudBase.stats()).toEqual({ total: 2, byAction: { '(unsupported)': 2 } });
  });
});

describe('a body over the limit', () => {
  it('is answered 413 after being read to its end, so the same connection serves the next request', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const tooLarge = await rawPost(agent, Buffer.alloc(ADMIN_BODY_LIMIT_BYTES + 1, 0x20));
      const next = await rawPost(agent, Buffer.from(JSON.stringify({ action: 'database.calculateDocument', collectionName: 'items' })));

      expect(tooLarge).toMatchObject({ status: 413, body: { code: 'INVALID_PARAM', message: expect.stringMatching(/larger than/), requestId: expect.any(String) } });
      expect(next).toEqual({ status: 200, body: { requestId: expect.any(String), data: { total: 0 } }, reusedSocket: true });
    } finally {
      agent.destroy();
    }
  });
});

describe('deeply nested EJSON', () => {
  it.each([
    { case: 'a document 10,000 levels deep', body: () => ({ action: 'database.insertDocument', collectionName: 'items', data: [`{"_id":"d","a":${nested(10_000)}}`] }) },
    { case: 'a document one level over MongoDB\'s 100', body: () => ({ action: 'database.insertDocument', collectionName: 'items', data: [`{"_id":"d","a":${nested(100)}}`] }) },
    { case: 'a query 10,000 levels deep', body: () => ({ action: 'database.getDocument', collectionName: 'items', queryType: 'WHERE', query: nested(10_000) }) },
    { case: 'an update 10,000 levels deep', body: () => ({ action: 'database.modifyDocument', collectionName: 'items', queryType: 'WHERE', query: '{}', data: nested(10_000), merge: true }) },
    { case: 'an order 10,000 levels deep', body: () => ({ action: 'database.getDocument', collectionName: 'items', queryType: 'WHERE', order: nested(10_000) }) },
    { case: 'function data 10,000 levels deep', body: () => ({ action: 'functions.invokeFunction', function_name: 'f', request_data: nested(10_000) }) },
  ])('refuses $case with INVALID_PARAM, and keeps serving', async ({ body }) => {
    const reply = await post(body());

    expect(reply).toEqual({ code: 'INVALID_PARAM', message: expect.stringMatching(/nested deeper than \d+ levels/), requestId: expect.any(String) });
    expect(invoked).toEqual([]);
    await expect(post({ action: 'database.calculateDocument', collectionName: 'items' })).resolves.toMatchObject({ data: { total: 0 } });
  });

  it('accepts a document exactly 100 levels deep, as MongoDB does, and reads it back', async () => {
    // The document is level 1; 99 more objects below it, the last holding a Date (a leaf, spelt two levels deep in EJSON).
    const document = `{"_id":"d","a":${nested(99, '{"$date":{"$numberLong":"1"}}')}}`;

    await expect(post({ action: 'database.insertDocument', collectionName: 'items', data: [document] })).resolves.toMatchObject({ data: { insertedIds: ['d'] } });
    const found = await post({ action: 'database.getDocument', collectionName: 'items', queryType: 'DOC', query: '{"_id":"d"}' });
    expect(found.data.list).toHaveLength(1);
  });

  it('refuses an update whose dotted path would nest the document too deep', async () => {
    await post({ action: 'database.insertDocument', collectionName: 'items', data: ['{"_id":"d"}'] });

    const path = Array.from({ length: 150 }, () => 'a').join('.');
    const reply = await post({ action: 'database.modifyDocument', collectionName: 'items', queryType: 'DOC', query: '{"_id":"d"}', data: JSON.stringify({ $set: { [path]: 1 } }), merge: true });

    expect(reply).toEqual({ code: 'DATABASE_REQUEST_FAILED', message: expect.stringMatching(/nested deeper than 100 levels/), requestId: expect.any(String) });
    expect(cloudBase.dump('items')).toEqual([{ _id: 'd' }]);
  });
});
