import { randomUUID } from 'node:crypto';
import { AccountRegistry } from '../../shared/accounts/registry';
import { readOptionalAppId } from '../../shared/accounts/validate';
import { envReader, readMiniProgramTokenConfig, readTokenFetcherConfig } from '../../shared/config';
import { AccountTokenOwners } from '../../shared/credentials/accounts';
import { toInfo } from '../../shared/credentials/services';
import { cloudPlatform } from '../../shared/platform';
import { allowOnlyFields, defineHandler, readEnum, readOptionalInt } from '../../shared/runtime';

type Input =
  | { action: 'refresh' }
  | { action: 'get'; appid?: string; rejectedVersion?: number }
  | { action: 'status'; appid?: string };

/**
 * getToken: the only fetcher of the official accounts' access_tokens (`appid`, default the
 * environment's account) and of the mini-program's (WX_MP_APPSECRET set: its own APIs, risk checks). Runs on the environment's fixed outbound IP; its timer refreshes every
 * active account ahead of expiry; it answers other functions and admins with the cached version's
 * metadata (the value stays in `wx_credentials`), and never a client.
 */
export const main = defineHandler({
  name: 'getToken',
  allow: ['timer', 'function', 'admin'],
  wxContext: () => cloudPlatform().getWXContext(),
  init: (log) => {
    const env = envReader(process.env);
    const config = readTokenFetcherConfig(env);
    const miniProgram = readMiniProgramTokenConfig(env);
    env.done();
    const { store } = cloudPlatform();
    const registry = new AccountRegistry({ store, environment: { appId: config.appId, appSecret: config.appSecret } });
    return new AccountTokenOwners(registry, { ...config, miniProgram }, { store, log, instanceId: randomUUID() });
  },
  parse: (event, caller): Input => {
    if (caller.type === 'timer') return { action: 'refresh' };
    allowOnlyFields(event, ['action', 'appid', 'rejectedVersion']);
    const action = readEnum(event, 'action', ['get', 'status'] as const, 'get');
    const appid = readOptionalAppId(event);
    const account = appid === undefined ? {} : { appid };
    if (action === 'status') return { action, ...account };
    const rejectedVersion = readOptionalInt(event, 'rejectedVersion', 0, Number.MAX_SAFE_INTEGER);
    return { action, ...account, ...(rejectedVersion === undefined ? {} : { rejectedVersion }) };
  },
  run: async (input, { deps: owners }) => {
    switch (input.action) {
      case 'refresh':
        return owners.refreshAll();
      case 'get': {
        const owner = await owners.owner(input.appid);
        return toInfo('access_token', await owner.get(input.rejectedVersion === undefined ? {} : { rejectedVersion: input.rejectedVersion }));
      }
      case 'status':
        return (await owners.owner(input.appid)).status();
    }
  },
});
