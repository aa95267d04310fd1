import { randomUUID } from 'node:crypto';
import { envReader, readAccountConfig } from '../../shared/config';
import { createTicketOwners, createTokenReader, toInfo, ticketKind } from '../../shared/credentials/services';
import { cloudPlatform } from '../../shared/platform';
import { allowOnlyFields, defineHandler, readEnum, readOptionalInt } from '../../shared/runtime';
import { TICKET_TYPES, type TicketType } from '../../shared/wechat/ticket';

type Input = { action: 'refresh' } | { action: 'get'; type: TicketType; rejectedVersion?: number } | { action: 'status'; type: TicketType };

/**
 * getTicket: fetches and caches the `wx_card` api_ticket and the `jsapi` ticket, with the
 * access_token from the cache (through getToken on a miss). Like getToken it answers with
 * metadata only; signCard and others read the value from `wx_credentials`.
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
    const tokens = createTokenReader(config, { store: platform.store, invoke: (name, data) => platform.callFunction(name, data) });
    return createTicketOwners(config, tokens, { store: platform.store, log, instanceId: randomUUID() });
  },
  parse: (event, caller): Input => {
    if (caller.type === 'timer') return { action: 'refresh' };
    allowOnlyFields(event, ['action', 'type', 'rejectedVersion']);
    const action = readEnum(event, 'action', ['get', 'status'] as const, 'get');
    const type = readEnum(event, 'type', TICKET_TYPES);
    if (action === 'status') return { action, type };
    const rejectedVersion = readOptionalInt(event, 'rejectedVersion', 0, Number.MAX_SAFE_INTEGER);
    return rejectedVersion === undefined ? { action, type } : { action, type, rejectedVersion };
  },
  run: async (input, { deps: owners, log }) => {
    switch (input.action) {
      case 'refresh': {
        // Each ticket is refreshed on its own: one failing must not keep the other stale.
        const results = await Promise.allSettled(
          TICKET_TYPES.map(async (type) => {
            const { refreshed, credential } = await owners[type].refreshIfDue();
            return { refreshed, ...toInfo(ticketKind(type), credential) };
          }),
        );
        const failed = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
        for (const failure of failed) log.warn('ticket refresh failed', { error: failure.reason });
        if (failed[0]) throw failed[0].reason;
        return results.map((result) => (result as PromiseFulfilledResult<{ refreshed: boolean }>).value);
      }
      case 'get':
        return toInfo(
          ticketKind(input.type),
          await owners[input.type].get(input.rejectedVersion === undefined ? {} : { rejectedVersion: input.rejectedVersion }),
        );
      case 'status':
        return owners[input.type].status();
    }
  },
});
