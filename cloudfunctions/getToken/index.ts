import { randomUUID } from 'node:crypto';
import { envReader, readTokenFetcherConfig } from '../../shared/config';
import { toInfo } from '../../shared/credentials/services';
import { createTokenOwner } from '../../shared/credentials/services';
import { cloudPlatform } from '../../shared/platform';
import { allowOnlyFields, defineHandler, readEnum, readOptionalInt } from '../../shared/runtime';

type Input = { action: 'refresh' } | { action: 'get'; rejectedVersion?: number } | { action: 'status' };

/**
 * getToken: the only fetcher of the official account's access_token. Runs on the environment's
 * fixed outbound IP; its timer refreshes ahead of expiry; it answers other functions and admins
 * with the cached version's metadata (the value stays in `wx_credentials`), and never a client.
 */
export const main = defineHandler({
  name: 'getToken',
  allow: ['timer', 'function', 'admin'],
  wxContext: () => cloudPlatform().getWXContext(),
  init: (log) => {
    const env = envReader(process.env);
    const config = readTokenFetcherConfig(env);
    env.done();
    return createTokenOwner(config, { store: cloudPlatform().store, log, instanceId: randomUUID() });
  },
  parse: (event, caller): Input => {
    if (caller.type === 'timer') return { action: 'refresh' };
    allowOnlyFields(event, ['action', 'rejectedVersion']);
    const action = readEnum(event, 'action', ['get', 'status'] as const, 'get');
    if (action === 'status') return { action };
    const rejectedVersion = readOptionalInt(event, 'rejectedVersion', 0, Number.MAX_SAFE_INTEGER);
    return rejectedVersion === undefined ? { action } : { action, rejectedVersion };
  },
  run: async (input, { deps: owner }) => {
    switch (input.action) {
      case 'refresh': {
        const outcome = await owner.refreshIfDue();
        return { refreshed: outcome.refreshed, ...toInfo('access_token', outcome.credential) };
      }
      case 'get':
        return toInfo('access_token', await owner.get(input.rejectedVersion === undefined ? {} : { rejectedVersion: input.rejectedVersion }));
      case 'status':
        return owner.status();
    }
  },
});
