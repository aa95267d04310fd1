import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { ensureFunctionSecurityRules } from '../../scripts/deploy';
import { ROOT } from '../../scripts/lib/cloudbaserc';
import { CLIENT_CALLABLE_FUNCTIONS, functionSecurityRules, NEVER_CLIENT_CALLABLE } from '../../scripts/lib/function-rules';
import { tc3Authorization } from '../../scripts/lib/tencentcloud';
import type { CallableHandler } from '../../shared/runtime';

describe('tc3Authorization', () => {
  // Tencent Cloud API 3.0 "Signature v3" doc, its CVM DescribeInstances example (a doc copy is
  // code index id 428192154): hashed payload 35e9c5b0…, hashed canonical request 5ffe6a04…,
  // signature 72e494ea….
  it('reproduces the official example', () => {
    const authorization = tc3Authorization({
      secretId: 'AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE',
      secretKey: 'Gu5t9xGARNpq86cd98joQYCN3EXAMPLE',
      service: 'cvm',
      host: 'cvm.tencentcloudapi.com',
      payload: '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}',
      timestampSeconds: 1551113065,
    });
    expect(authorization).toBe(
      'TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, ' +
        'Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168',
    );
  });
});

describe('the function security rules', () => {
  it('let signed-in users invoke the client-facing functions and nothing else', () => {
    expect(functionSecurityRules()).toEqual({
      '*': { invoke: false },
      signCard: { invoke: 'auth != null' },
      decryptCode: { invoke: 'auth != null' },
      consumeCode: { invoke: 'auth != null' },
      sendRedPacket: { invoke: 'auth != null' },
      claimPageToken: { invoke: 'auth != null' },
    });
  });

  it('refuse to open getToken or getTicket to clients', () => {
    for (const name of NEVER_CLIENT_CALLABLE) expect(() => functionSecurityRules([...CLIENT_CALLABLE_FUNCTIONS, name])).toThrow('must never be callable from a client');
  });

  it('list exactly the functions whose handler accepts a mini-program user', () => {
    const names = readdirSync(path.join(ROOT, 'cloudfunctions'));
    const acceptingUsers = names.filter((name) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { main } = require(path.join(ROOT, 'cloudfunctions', name, 'index.ts')) as { main: Partial<CallableHandler<unknown>> };
      return main.allow?.includes('miniprogram') ?? false;
    });
    expect([...CLIENT_CALLABLE_FUNCTIONS].sort()).toEqual(acceptingUsers.sort());
  });
});

describe('npm run deploy: the function security rules', () => {
  let server: http.Server;
  let url: string;
  const received: Array<{ headers: http.IncomingHttpHeaders; body: Record<string, unknown> }> = [];
  let stored: string | null = null;
  let failWith: string | null = null;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let text = '';
      req.on('data', (chunk) => (text += chunk));
      req.on('end', () => {
        const body = JSON.parse(text) as Record<string, unknown>;
        received.push({ headers: req.headers, body });
        res.setHeader('content-type', 'application/json');
        if (failWith) return res.end(JSON.stringify({ Response: { RequestId: 'r', Error: { Code: failWith, Message: 'no permission' } } }));
        if (req.headers['x-tc-action'] === 'ModifySecurityRule') stored = body.Rule as string;
        res.end(JSON.stringify({ Response: { RequestId: 'r', AclTag: 'CUSTOM', Rule: stored } }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    received.length = 0;
    stored = null;
    failWith = null;
  });

  const keys = { ENV_ID: 'prod-1a2b3c', TENCENTCLOUD_SECRETID: 'AKIDtest', TENCENTCLOUD_SECRETKEY: 'test-key', TENCENTCLOUD_REGION: 'ap-guangzhou' };

  it('writes them with ModifySecurityRule, signed, and reads them back', async () => {
    const lines: string[] = [];
    await expect(ensureFunctionSecurityRules(keys, { endpoint: url, print: (line) => void lines.push(line) })).resolves.toBe(true);

    expect(received.map((request) => request.headers['x-tc-action'])).toEqual(['ModifySecurityRule', 'DescribeSecurityRule']);
    const [write] = received;
    expect(write!.body).toEqual({ EnvId: 'prod-1a2b3c', ResourceType: 'FUNCTION', AclTag: 'CUSTOM', Rule: JSON.stringify(functionSecurityRules()) });
    expect(write!.headers).toMatchObject({
      'x-tc-version': '2018-06-08',
      'x-tc-region': 'ap-guangzhou',
      'x-tc-timestamp': expect.stringMatching(/^\d{10}$/),
      'content-type': 'application/json; charset=utf-8',
      authorization: expect.stringMatching(/^TC3-HMAC-SHA256 Credential=AKIDtest\/\d{4}-\d\d-\d\d\/tcb\/tc3_request, SignedHeaders=content-type;host, Signature=[0-9a-f]{64}$/),
    });
    expect(received[1]!.body).toEqual({ EnvId: 'prod-1a2b3c', ResourceType: 'FUNCTION' });
    expect(lines.join('\n')).toContain('function security rules: applied');
    expect(lines.join('\n')).not.toContain('test-key');
  });

  it('fails the deploy and prints the rules to paste when the API refuses', async () => {
    failWith = 'UnauthorizedOperation';
    const lines: string[] = [];
    await expect(ensureFunctionSecurityRules(keys, { endpoint: url, print: (line) => void lines.push(line) })).resolves.toBe(false);
    expect(lines.join('\n')).toMatch(/could NOT be applied \(ModifySecurityRule failed: UnauthorizedOperation no permission\)/);
    expect(lines.join('\n')).toContain('权限控制');
    expect(lines.join('\n')).toContain('"signCard"');
  });

  it('prints them and where to paste them when no keys are set', async () => {
    const lines: string[] = [];
    await expect(ensureFunctionSecurityRules({ ENV_ID: 'prod-1a2b3c' }, { endpoint: url, print: (line) => void lines.push(line) })).resolves.toBe(true);
    expect(received).toEqual([]);
    expect(lines.join('\n')).toContain('云开发控制台 → 云函数 → 权限控制');
    expect(JSON.parse(lines.join('\n').slice(lines.join('\n').indexOf('{')))).toEqual(functionSecurityRules());
  });
});
