import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLocalCloudBase } from '../../../scripts/local/cloudbase';

// Persistence in dataDir: an append-only journal per collection, compacted on open and close.
let dataDir: string;

async function send(cloudBase: Awaited<ReturnType<typeof createLocalCloudBase>>, body: unknown): Promise<any> {
  // handle() is driven directly with minimal request/response stand-ins: no socket needed to test persistence.
  const { Readable } = await import('node:stream');
  const req = Object.assign(Readable.from([Buffer.from(JSON.stringify(body))]), { method: 'POST', url: '/admin?env=e&seqId=1', headers: {} });
  let written = '';
  const res = {
    writeHead() {
      return res;
    },
    end(chunk: string) {
      written = chunk;
    },
  };
  await cloudBase.handle(req as never, res as never);
  return JSON.parse(written);
}

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'local-cloudbase-'));
});

afterEach(() => {
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('persistence in dataDir', () => {
  it('keeps every acknowledged write, update and delete across close and reopen', async () => {
    const first = await createLocalCloudBase({ dataDir });
    await first.createCollection('items');
    await first.createCollection('empty');
    for (let n = 0; n < 300; n += 1) {
      await send(first, { action: 'database.insertDocument', collectionName: 'items', data: [JSON.stringify({ _id: `d${n}`, n, at: { $date: '2024-01-01T00:00:00Z' } })] });
    }
    await send(first, { action: 'database.modifyDocument', collectionName: 'items', queryType: 'WHERE', query: '{"n":{"$lt":10}}', data: '{"$inc":{"n":1000}}', multi: true, merge: true });
    await send(first, { action: 'database.removeDocument', collectionName: 'items', queryType: 'WHERE', query: '{"n":{"$gte":290,"$lt":1000}}', multi: true });
    const before = first.dump('items');
    await first.close();

    const second = await createLocalCloudBase({ dataDir });

    expect(second.listCollections()).toEqual(['empty', 'items']);
    expect(second.dump('items')).toEqual(before);
    expect(before).toHaveLength(290);
    expect(second.dump('items')[0]).toEqual({ _id: 'd0', n: 1000, at: new Date('2024-01-01T00:00:00Z') });
    await second.close();
  });

  it('compacts the journal to one line per live document', async () => {
    const cloudBase = await createLocalCloudBase({ dataDir });
    await cloudBase.createCollection('items');
    for (let n = 0; n < 5; n += 1) {
      await send(cloudBase, { action: 'database.modifyDocument', collectionName: 'items', queryType: 'DOC', query: '{"_id":"a"}', data: JSON.stringify({ n }), merge: false, upsert: true });
    }
    expect(fs.readFileSync(path.join(dataDir, 'items.jsonl'), 'utf8').trim().split('\n')).toHaveLength(5);

    await cloudBase.close();

    expect(fs.readFileSync(path.join(dataDir, 'items.jsonl'), 'utf8')).toBe('{"put":{"_id":"a","n":{"$numberInt":"4"}}}\n');
  });

  it('ignores a torn last journal line left by a crash', async () => {
    fs.writeFileSync(path.join(dataDir, 'items.jsonl'), '{"put":{"_id":"a","n":1}}\n{"put":{"_id":"b","n"');

    const cloudBase = await createLocalCloudBase({ dataDir });

    expect(cloudBase.dump('items')).toEqual([{ _id: 'a', n: 1 }]);
    await cloudBase.close();
  });

  it('refuses to open a journal damaged before its last line', async () => {
    fs.writeFileSync(path.join(dataDir, 'items.jsonl'), '{"put":{"_id":"a"\n{"put":{"_id":"b","n":1}}\n');

    await expect(createLocalCloudBase({ dataDir })).rejects.toThrow(/corrupt journal .*items\.jsonl at line 1/);
  });

  it('keeps only committed transaction writes across a reopen', async () => {
    const first = await createLocalCloudBase({ dataDir });
    await first.createCollection('items');
    const committed = (await send(first, { action: 'database.startTransaction' })).transactionId;
    const pending = (await send(first, { action: 'database.startTransaction' })).transactionId;
    await send(first, { action: 'database.insertDocument', collectionName: 'items', data: ['{"_id":"kept"}'], transactionId: committed });
    await send(first, { action: 'database.insertDocument', collectionName: 'items', data: ['{"_id":"lost"}'], transactionId: pending });
    await send(first, { action: 'database.commitTransaction', transactionId: committed });
    await first.close();

    const second = await createLocalCloudBase({ dataDir });

    expect(second.dump('items')).toEqual([{ _id: 'kept' }]);
    await second.close();
  });
});
