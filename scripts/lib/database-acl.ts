/**
 * A collection's database permission (简易权限), read and set through the Tencent Cloud API
 * (tcb 2018-06-08 DescribeDatabaseACL / ModifyDatabaseACL), which tcb CLI v2 has no command for.
 * @see https://cloud.tencent.com/document/api/876/34821 (DescribeDatabaseACL), …/34819 (ModifyDatabaseACL)
 */
import { callCloudApi, type CloudApiCall } from './tencentcloud';

/** As CloudBase names them; CUSTOM means security rules (安全规则). */
export type DatabaseAclTag = 'READONLY' | 'PRIVATE' | 'ADMINWRITE' | 'ADMINONLY' | 'CUSTOM';

/** The two calls deploy makes, as a port (the cloud's management API has no local stand-in in the product). */
export interface DatabaseAclApi {
  describe(collection: string): Promise<DatabaseAclTag | string>;
  modify(collection: string, aclTag: DatabaseAclTag): Promise<void>;
}

export function cloudDatabaseAcl(target: Pick<CloudApiCall, 'credentials' | 'region' | 'endpoint'> & { envId: string }): DatabaseAclApi {
  const call = <T extends Record<string, unknown>>(action: string, params: Record<string, unknown>) =>
    callCloudApi<T>({
      credentials: target.credentials,
      service: 'tcb',
      action,
      version: '2018-06-08',
      region: target.region,
      params: { EnvId: target.envId, ...params },
      ...(target.endpoint === undefined ? {} : { endpoint: target.endpoint }),
    });
  return {
    describe: async (collection) => (await call<{ AclTag?: string }>('DescribeDatabaseACL', { CollectionName: collection })).AclTag ?? 'UNKNOWN',
    modify: async (collection, aclTag) => {
      await call('ModifyDatabaseACL', { CollectionName: collection, AclTag: aclTag });
    },
  };
}
