import { assetUrls, ASSETS } from '../../shared/console/assets';
import { consoleErrorResponse, runConsole, type ConsoleDeps } from '../../shared/console/app';
import { redPacketLedger } from '../../shared/console/areas/ledger';
import { operatorSessionProof, type ConsoleCaller } from '../../shared/console/proof';
import { defineHttpHandler } from '../../shared/http';
import { cloudPlatform } from '../../shared/platform';

const urls = assetUrls('/console/assets');

/**
 * opsConsole: the operator's console behind HTTP access (`/console`). Its proof is an operator
 * session (password sign-in, CSRF on every change); "settle now" and "reissue" are sendRedPacket's
 * own operator actions, called function to function.
 */
export const main = defineHttpHandler<ConsoleDeps, ConsoleCaller>({
  name: 'opsConsole',
  route: '/console',
  methods: ['GET', 'POST'],
  maxBodyBytes: 16 * 1024,
  wxContext: () => cloudPlatform().getWXContext(),
  init: () => {
    const platform = cloudPlatform();
    return {
      store: platform.store,
      assets: { urls, files: ASSETS },
      claims: {
        settle: (claimId) => platform.callFunction('sendRedPacket', { action: 'reconcile', claimId, ignoreBackoff: true }),
        reissue: (claimId) => platform.callFunction('sendRedPacket', { action: 'reissue', claimId }),
      },
      ledgerSources: [redPacketLedger],
    };
  },
  proof: operatorSessionProof(),
  run: runConsole,
  errorResponse: consoleErrorResponse(urls),
});
