import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ACCOUNTS_ACL_HOWTO, ensureAccountsPermission } from '../../scripts/deploy';
import { cloudDatabaseAcl } from '../../scripts/lib/database-acl';
import { CloudApiError, tc3Authorization } from '../../scripts/lib/tencentcloud';

/**
 * A stand-in for tcb.tencentcloudapi.com's two database-permission actions: it checks each
 * request's signature (TC3, whose algorithm test/unit/function-rules.test.ts pins to the official
 * example) and answers as the API reference documents (Response.AclTag, Response.Error).
 */
async function startCloudApi(initialAcl: string, options: { ignoreModify?: boolean } = {}) {
  const acl = new Map([['wx_accounts', initialAcl]]);
  const actions: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const action = String(req.headers['x-tc-action']);
      const expected = tc3Authorization({
        secretId: 'AKIDlocal', secretKey: 'local-secret-key', service: 'tcb', host: String(req.headers.host), payload: body,
        timestampSeconds: Number(req.headers['x-tc-timestamp']),
      });
      const params = JSON.parse(body) as { EnvId: string; CollectionName: string; AclTag?: string };
      let response: Record<string, unknown>;
      if (req.headers.authorization !== expected || req.headers['x-tc-version'] !== '2018-06-08' || req.headers['x-tc-region'] !== 'ap-shanghai') {
        response = { Error: { Code: 'AuthFailure.SignatureFailure', Message: 'The provided credentials could not be validated.' } };
      } else if (params.EnvId !== 'prod-1a2b3c') {
        response = { Error: { Code: 'ResourceNotFound', Message: 'env not found' } };
      } else if (action === 'DescribeDatabaseACL') {
        response = { AclTag: acl.get(params.CollectionName) };
      } else if (action === 'ModifyDatabaseACL') {
        if (!options.ignoreModify) acl.set(params.CollectionName, params.AclTag!);
        response = {};
      } else {
        response = { Error: { Code: 'InvalidAction', Message: action } };
      }
      actions.push(action);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ Response: { ...response, RequestId: 'local' } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, acl, actions, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('npm run deploy: the accounts registry\'s database permission', () => {
  const credentials = { secretId: 'AKIDlocal', secretKey: 'local-secret-key' };
  const target = (url: string, keys = credentials) => ({ envId: 'prod-1a2b3c', credentials: keys, region: 'ap-shanghai', endpoint: url });

  it.each([
    { case: 'already ADMINONLY', initial: 'ADMINONLY', actions: ['DescribeDatabaseACL'], report: 'permission ADMINONLY (仅管理端可读写), no client can read it' },
    { case: 'readable by every user', initial: 'READONLY', actions: ['DescribeDatabaseACL', 'ModifyDatabaseACL', 'DescribeDatabaseACL'], report: 'permission was READONLY, set to ADMINONLY' },
    { case: 'the default PRIVATE', initial: 'PRIVATE', actions: ['DescribeDatabaseACL', 'ModifyDatabaseACL', 'DescribeDatabaseACL'], report: 'permission was PRIVATE, set to ADMINONLY' },
    { case: 'a custom security rule', initial: 'CUSTOM', actions: ['DescribeDatabaseACL', 'ModifyDatabaseACL', 'DescribeDatabaseACL'], report: 'permission was CUSTOM, set to ADMINONLY' },
  ])('leaves the collection ADMINONLY when it was $case', async ({ initial, actions, report }) => {
    const api = await startCloudApi(initial);
    try {
      await expect(ensureAccountsPermission(cloudDatabaseAcl(target(api.url)))).resolves.toContain(report);
      expect(api.actions).toEqual(actions);
      expect(api.acl.get('wx_accounts')).toBe('ADMINONLY');
    } finally {
      await api.close();
    }
  });

  it('fails, saying what to set by hand, when the permission does not stick', async () => {
    const api = await startCloudApi('READONLY', { ignoreModify: true });
    try {
      await expect(ensureAccountsPermission(cloudDatabaseAcl(target(api.url)))).rejects.toThrow('still has permission READONLY');
      expect(ACCOUNTS_ACL_HOWTO).toMatch(/数据库 → wx_accounts → 数据权限 → 仅管理端可读写.*tcb permission set collection:wx_accounts --level adminonly/);
    } finally {
      await api.close();
    }
  });

  it('keeps the cloud API\'s error code when it refuses the keys', async () => {
    const api = await startCloudApi('ADMINONLY');
    try {
      const wrongKeys = cloudDatabaseAcl(target(api.url, { ...credentials, secretKey: 'wrong' }));
      await expect(ensureAccountsPermission(wrongKeys)).rejects.toThrow(CloudApiError);
      await expect(ensureAccountsPermission(wrongKeys)).rejects.toThrow('DescribeDatabaseACL failed: AuthFailure.SignatureFailure');
    } finally {
      await api.close();
    }
  });
});
