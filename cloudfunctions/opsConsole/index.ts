import { AccountRegistry } from '../../shared/accounts/registry';
import { envReader, readAccountConfig } from '../../shared/config';
import { assetUrls, ASSETS } from '../../shared/console/assets';
import { consoleErrorResponse, runConsole, type ConsoleDeps } from '../../shared/console/app';
import { followCounters } from '../../shared/console/areas/accounts';
import { redPacketLedger, transferLedger } from '../../shared/console/areas/ledger';
import { operatorSessionProof, type ConsoleCaller } from '../../shared/console/proof';
import { defineHttpHandler } from '../../shared/http';
import { cloudPlatform } from '../../shared/platform';

const urls = assetUrls('/console/assets');

/**
 * opsConsole: the operator's console behind HTTP access (`/console`). Its proof is an operator
 * session (password sign-in, CSRF on every change); "settle now", "reissue" and "cancel transfer"
 * are sendRedPacket's own operator actions, called function to function (the console never calls
 * WeChat Pay itself). Settings: WX_OA_APPID (the environment's account, first in the accounts view).
 */
export const main = defineHttpHandler<ConsoleDeps, ConsoleCaller>({
  name: 'opsConsole',
  route: '/console',
  methods: ['GET', 'POST'],
  maxBodyBytes: 16 * 1024,
  wxContext: () => cloudPlatform().getWXContext(),
  init: () => {
    const env = envReader(process.env);
    const { appId } = readAccountConfig(env);
    env.done();
    const platform = cloudPlatform();
    return {
      store: platform.store,
      assets: { urls, files: ASSETS },
      claims: {
        settle: (claimId) => platform.callFunction('sendRedPacket', { action: 'reconcile', claimId, ignoreBackoff: true }),
        reissue: (claimId) => platform.callFunction('sendRedPacket', { action: 'reissue', claimId }),
        cancelTransfer: (claimId) => platform.callFunction('sendRedPacket', { action: 'cancel-transfer', claimId }),
      },
      ledgerSources: [redPacketLedger, transferLedger],
      accounts: new AccountRegistry({ store: platform.store, environment: { appId } }),
      follows: followCounters,
    };
  },
  proof: operatorSessionProof(),
  run: runConsole,
  errorResponse: consoleErrorResponse(urls),
});
