import { randomUUID } from 'node:crypto';
import { AccountRegistry } from '../../shared/accounts/registry';
import { readOptionalAppId } from '../../shared/accounts/validate';
import { envReader, readAccountConfig } from '../../shared/config';
import { AccountTicketOwners } from '../../shared/credentials/accounts';
import { ticketKind, toInfo } from '../../shared/credentials/services';
import { cloudPlatform } from '../../shared/platform';
import { allowOnlyFields, defineHandler, readEnum, readOptionalInt } from '../../shared/runtime';
import { TICKET_TYPES, type TicketType } from '../../shared/wechat/ticket';

type Input =
  | { action: 'refresh' }
  | { action: 'get'; type: TicketType; appid?: string; rejectedVersion?: number }
  | { action: 'status'; type: TicketType; appid?: string };

/**
 * getTicket: fetches and caches each account's `jsapi` ticket and, for accounts with card rights,
 * the `wx_card` api_ticket, with that account's access_token from the cache (through getToken on
 * a miss). Like getToken it answers with metadata only; signCard and others read the value from
 * `wx_credentials`.
 */
export const main = defineHandler({
  name: 'getTicket',
  allow: ['timer', 'function', 'admin'],
  wxContext: () => cloudPlatform().getWXContext(),
  init: (log) => {
    const env = envReader(process.env);
    const config = readAccountConfig(env);
    env.done();
    const platform = cloudPlatform();
    const registry = new AccountRegistry({ store: platform.store, environment: { appId: config.appId } });
    return new AccountTicketOwners(registry, config, {
      store: platform.store,
      log,
      instanceId: randomUUID(),
      invoke: (name, data) => platform.callFunction(name, data),
    });
  },
  parse: (event, caller): Input => {
    if (caller.type === 'timer') return { action: 'refresh' };
    allowOnlyFields(event, ['action', 'type', 'appid', 'rejectedVersion']);
    const action = readEnum(event, 'action', ['get', 'status'] as const, 'get');
    const type = readEnum(event, 'type', TICKET_TYPES);
    const appid = readOptionalAppId(event);
    const account = appid === undefined ? {} : { appid };
    if (action === 'status') return { action, type, ...account };
    const rejectedVersion = readOptionalInt(event, 'rejectedVersion', 0, Number.MAX_SAFE_INTEGER);
    return { action, type, ...account, ...(rejectedVersion === undefined ? {} : { rejectedVersion }) };
  },
  run: async (input, { deps: owners }) => {
    switch (input.action) {
      case 'refresh':
        return owners.refreshAll();
      case 'get': {
        const owner = await owners.owner(input.type, input.appid);
        return toInfo(ticketKind(input.type), await owner.get(input.rejectedVersion === undefined ? {} : { rejectedVersion: input.rejectedVersion }));
      }
      case 'status':
        return (await owners.owner(input.type, input.appid)).status();
    }
  },
});
