import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../../scripts/lib/cloudbaserc';
import { adminDb, LOCAL_ACCOUNT, sandbox, startTestStack, upstreamCalls, type Stack } from '../helpers/stack';

const TOKEN_ID = `${LOCAL_ACCOUNT.officialAppId}:access_token`;

/** Runs `npm run cards -- --local URL …` as an operator would, and collects its output. */
function cards(stack: Stack, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', 'cards.ts'), '--local', stack.url, ...args], {
      cwd: ROOT,
      env: { ...process.env, TENCENTCLOUD: 'true' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function tokenDoc(stack: Stack): Promise<Record<string, any>> {
  const result = (await adminDb(stack).collection('wx_credentials').doc(TOKEN_ID).get()) as { data: Record<string, any>[] };
  return result.data[0] ?? {};
}

describe('the operator CLI (npm run cards) and the access_token', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startTestStack({ instancesPerFunction: 1 });
  });
  afterAll(() => stack.close());

  it('gets its token through getToken, never from WeChat itself', async () => {
    const run = await cards(stack, 'colors');
    expect(run).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Color010 {2}#/m) });
    expect(await upstreamCalls(stack)).toEqual({ '/cgi-bin/stable_token': 1, '/card/getcolors': 1 });
    // getToken's fetch left from the fixed outbound IP: the sandbox whitelists nothing else.
    expect(await tokenDoc(stack)).toMatchObject({ version: 1, source: 'demand' });
  });

  it('recovers from a token another system knocked out, the way the functions do', async () => {
    await sandbox(stack, 'POST', 'tokens/invalidate', { appid: LOCAL_ACCOUNT.officialAppId, kind: 'stable' });
    const run = await cards(stack, 'colors');
    expect(run).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Color010 {2}#/m) });
    const calls = await upstreamCalls(stack);
    // The refused call, one replacement through getToken (rejectedVersion), the retry.
    expect(calls).toEqual({ '/cgi-bin/stable_token': 2, '/card/getcolors': 3 });
    expect(await tokenDoc(stack)).toMatchObject({ version: 2, source: 'recover' });
  });
});
