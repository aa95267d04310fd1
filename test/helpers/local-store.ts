import tcb from '@cloudbase/node-sdk';
import { startLocalCloudBase, type LocalCloudBase } from '../../scripts/local/cloudbase';
import { createNodeSdkStore } from '../../shared/store/nodeSdk';
import { COLLECTIONS, type DocumentStore } from '../../shared/store/port';

/** The local CloudBase with every collection of the code, and the node-sdk store on it. */
export interface LocalStore {
  cloudBase: LocalCloudBase & { url: string };
  store: DocumentStore;
}

/** Starts a local CloudBase for the file's tests (beforeAll) and stops it after them; read its fields inside tests. */
export function useLocalStore(): LocalStore {
  const local = {} as LocalStore;
  beforeAll(async () => {
    local.cloudBase = await startLocalCloudBase({});
    for (const name of Object.values(COLLECTIONS)) await local.cloudBase.createCollection(name);
    local.store = createNodeSdkStore(tcb.init({ env: 'local-env', secretId: 'x', secretKey: 'y', serviceUrl: local.cloudBase.url } as never).database());
  });
  afterAll(() => local.cloudBase.close());
  return local;
}
