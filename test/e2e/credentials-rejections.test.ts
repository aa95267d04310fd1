import { ADMIN, adminDb, callFunction, FROM_FUNCTION, LOCAL_ACCOUNT, sandbox, startTestStack, upstreamCalls, type Stack } from '../helpers/stack';

const TOKEN_ID = `${LOCAL_ACCOUNT.officialAppId}:access_token`;

async function credentialDoc(stack: Stack, id: string): Promise<Record<string, any>> {
  const result = (await adminDb(stack).collection('wx_credentials').doc(id).get()) as { data: Record<string, any>[] };
  return result.data[0] ?? {};
}

describe.each([
  { mode: 'stable' as const, path: '/cgi-bin/stable_token', versionAfter: 1 },
  { mode: 'classic' as const, path: '/cgi-bin/token', versionAfter: 2 },
])('rejections of the live access_token ($mode mode)', ({ mode, path, versionAfter }) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({ tokenMode: mode, instancesPerFunction: 8 });
  });
  afterAll(() => stack.close());

  it('costs one upstream fetch for 100 concurrent callers reporting the live version rejected', async () => {
    await expect(callFunction(stack, 'getToken', {}, ADMIN)).resolves.toMatchObject({ ok: true, data: { version: 1 } });
    const results = await Promise.all(
      Array.from({ length: 100 }, () => callFunction(stack, 'getToken', { rejectedVersion: 1 }, FROM_FUNCTION)),
    );
    for (const result of results) expect(result).toMatchObject({ ok: true, data: { version: versionAfter } });
    expect((await upstreamCalls(stack))[path]).toBe(2);
  });

  it('answers a rejection of the version it just confirmed or fetched without looping', async () => {
    const before = (await upstreamCalls(stack))[path]!;
    const again = await Promise.all(
      Array.from({ length: 20 }, () => callFunction(stack, 'getToken', { rejectedVersion: versionAfter }, FROM_FUNCTION)),
    );
    // stable: WeChat confirmed version 1 moments ago, so it is served as it is. classic: version 2
    // is news to nobody yet, so this one rejection buys exactly one more token, shared by all 20.
    const expected = mode === 'stable' ? { version: 1, calls: before } : { version: 3, calls: before + 1 };
    for (const result of again) expect(result).toMatchObject({ ok: true, data: { version: expected.version } });
    expect((await upstreamCalls(stack))[path]).toBe(expected.calls);
  });
});
