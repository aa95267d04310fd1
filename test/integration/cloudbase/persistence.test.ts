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

  it('lets one process at a time own the folder, and takes over a lock its dead owner left', async () => {
    const first = await createLocalCloudBase({ dataDir });

    await expect(createLocalCloudBase({ dataDir })).rejects.toThrow(/in use by process \d+ \(this one\): stop the other stack first/);
    await first.close();
    fs.writeFileSync(path.join(dataDir, 'LOCK'), '999999999\n');
    const second = await createLocalCloudBase({ dataDir });
    expect(fs.readFileSync(path.join(dataDir, 'LOCK'), 'utf8')).toBe(`${process.pid}\n`);
    await second.close();
    expect(fs.existsSync(path.join(dataDir, 'LOCK'))).toBe(false);
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

  describe('a transaction\'s commit, when the process is killed while it writes', () => {
    // What a killed process leaves: the files as they are while the store is open (every write is in them already).
    let killedDir: string;
    beforeEach(async () => {
      const cloudBase = await createLocalCloudBase({ dataDir });
      await cloudBase.createCollection('claims');
      await cloudBase.createCollection('counters');
      await send(cloudBase, { action: 'database.insertDocument', collectionName: 'counters', data: ['{"_id":"campaign","claimed":0}'] });
      const transactionId = (await send(cloudBase, { action: 'database.startTransaction' })).transactionId;
      await send(cloudBase, { action: 'database.insertDocument', collectionName: 'claims', data: ['{"_id":"c1","amountFen":100}'], transactionId });
      await send(cloudBase, { action: 'database.modifyDocument', collectionName: 'counters', queryType: 'DOC', query: '{"_id":"campaign"}', data: '{"$inc":{"claimed":1}}', merge: true, transactionId });
      await expect(send(cloudBase, { action: 'database.commitTransaction', transactionId })).resolves.not.toHaveProperty('code');
      killedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'local-cloudbase-killed-'));
      for (const file of fs.readdirSync(dataDir)) if (file !== 'LOCK') fs.copyFileSync(path.join(dataDir, file), path.join(killedDir, file));
      await cloudBase.close();
    });
    afterEach(() => {
      fs.rmSync(killedDir, { recursive: true, force: true });
    });
    const dropLastLine = (file: string, keepPartOfIt = 0): void => {
      const lines = fs.readFileSync(path.join(killedDir, file), 'utf8').split('\n').filter((line) => line !== '');
      const last = lines.pop()!;
      fs.writeFileSync(path.join(killedDir, file), [...lines, ''].join('\n') + last.slice(0, keepPartOfIt));
    };
    const reopened = async (): Promise<Record<string, unknown[]>> => {
      const cloudBase = await createLocalCloudBase({ dataDir: killedDir });
      const documents = { claims: cloudBase.dump('claims'), counters: cloudBase.dump('counters') };
      await cloudBase.close();
      return documents;
    };

    it.each([
      { case: 'its marker was never written', tear: () => dropLastLine('transactions.log') },
      { case: 'its marker is torn', tear: () => dropLastLine('transactions.log', 12) },
      { case: 'the last journal was cut in the middle of its line', tear: () => (dropLastLine('transactions.log'), dropLastLine('counters.jsonl', 20)) },
      { case: 'the last journal was never written', tear: () => (dropLastLine('transactions.log'), dropLastLine('counters.jsonl')) },
    ])('rolls the whole transaction back when $case', async ({ tear }) => {
      tear();

      await expect(reopened()).resolves.toEqual({ claims: [], counters: [{ _id: 'campaign', claimed: 0 }] });
    });

    it('keeps the whole transaction when its marker is complete, and a second reopen agrees', async () => {
      await expect(reopened()).resolves.toEqual({ claims: [{ _id: 'c1', amountFen: 100 }], counters: [{ _id: 'campaign', claimed: 1 }] });
      await expect(reopened()).resolves.toEqual({ claims: [{ _id: 'c1', amountFen: 100 }], counters: [{ _id: 'campaign', claimed: 1 }] });
    });

    it('forgets the markers once every journal is compacted', async () => {
      await reopened();

      expect(fs.readFileSync(path.join(killedDir, 'transactions.log'), 'utf8')).toBe('');
      expect(fs.readFileSync(path.join(killedDir, 'counters.jsonl'), 'utf8')).toBe('{"put":{"_id":"campaign","claimed":{"$numberInt":"1"}}}\n');
    });
  });
});
