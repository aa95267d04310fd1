import { envReader } from '../../shared/config';
import { InputError, NotFoundError } from '../../shared/errors';
import { transferBillNotice } from '../../shared/claims/payout/transfer';
import { recordBillNotice } from '../../shared/claims/settlement';
import { defineHttpHandler, respond } from '../../shared/http';
import type { Logger } from '../../shared/log';
import { payV3KeySource, readPayV3MerchantConfig, type PayV3KeySource } from '../../shared/pay/v3/keys';
import { transferNotifyProof } from '../../shared/pay/v3/notify';
import { cloudPlatform } from '../../shared/platform';
import type { DocumentStore } from '../../shared/store/port';

interface NotifyDeps {
  store: DocumentStore;
  log: Logger;
  now: () => number;
  keys: PayV3KeySource;
}

/**
 * payNotify: WeChat Pay's transfer notifies (MCHTRANSFER.BILL.FINISHED) at HTTP access
 * `/pay/notify`, proven by the Pay v3 signature; the notice is recorded through the claim
 * transitions the reconciler uses (it never pays: WeChat already did, or never will). Answered as
 * WeChat expects: 200 once recorded (or known already), else 4xx/5xx `{"code":"FAIL","message"}`
 * and WeChat sends it again.
 */
export const main = defineHttpHandler({
  name: 'payNotify',
  route: '/pay/notify',
  methods: ['POST'],
  // A notify is under 1 KiB; anything much larger is not WeChat's.
  maxBodyBytes: 64 * 1024,
  wxContext: () => cloudPlatform().getWXContext(),
  init: (log): NotifyDeps => {
    const { mchId, keys } = readPayV3MerchantConfig(envReader(process.env), Date.now());
    const { store } = cloudPlatform();
    return { store, log, now: Date.now, keys: payV3KeySource(keys, store, mchId) };
  },
  proof: transferNotifyProof((deps: NotifyDeps) => deps.keys),
  run: async (_request, { deps, proven }) => {
    switch (await recordBillNotice(deps, transferBillNotice(proven))) {
      case 'recorded':
      case 'already':
        return { status: 200 };
      case 'unknown-bill':
        throw new NotFoundError('No claim holds this out_bill_no');
      default:
        throw new InputError('The notify does not agree with the bill on record');
    }
  },
  errorResponse: (failure) => respond.json({ code: 'FAIL', message: failure.message }, failure.status),
});
