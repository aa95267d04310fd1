/** The product's APIv3 client set up against the Pay sandbox: keys checked as in production, the sandbox's CA trusted. */
import { checkPayV3Keys, type PayV3KeyValues, type PayV3Keys } from '../../../shared/pay/v3/keys';
import { createTransferBillsClient, type TransferBillRequest, type TransferBillsClient } from '../../../shared/pay/v3/transfer';
import { API_V3_KEY, BASE_MS, MCH_ID, MP_APPID, MP_OPENID, type TestV3Sandbox, type V3Material } from '../paysandbox/v3-support';

export { API_V3_KEY, BASE_MS, MCH_ID, MP_APPID, MP_OPENID };

/** The merchant's key values as an operator would store them: the certificate pair, the APIv3 key, WeChat's public key. */
export function keyValues(material: V3Material, overrides: PayV3KeyValues = {}): PayV3KeyValues {
  return {
    merchantKeyPem: material.certs.main.merchantKeyPem,
    merchantCertPem: material.certs.main.merchantCertPem,
    apiV3Key: API_V3_KEY,
    publicKeyId: material.wechat.publicKeyId,
    publicKeyPem: material.wechat.publicKeyPem,
    ...overrides,
  };
}

export function keysOf(material: V3Material, overrides: PayV3KeyValues = {}): PayV3Keys {
  return checkPayV3Keys(keyValues(material, overrides), MCH_ID, 'test keys', BASE_MS);
}

/** A client on the sandbox's clock (frozen at BASE_MS, like the sandbox's base clock). */
export function clientFor(test: TestV3Sandbox, keys: PayV3Keys, options: { timeoutMs?: number; nowMs?: number } = {}): TransferBillsClient {
  return createTransferBillsClient({
    baseUrl: test.sandbox.url,
    keys,
    caPem: test.caPem,
    timeoutMs: options.timeoutMs ?? 2000,
    now: () => options.nowMs ?? BASE_MS,
  });
}

/** A scene-1000 bill request. */
export function billRequest(outBillNo: string, overrides: Partial<TransferBillRequest> = {}): TransferBillRequest {
  return {
    outBillNo,
    appId: MP_APPID,
    openid: MP_OPENID,
    amountFen: 100,
    transferSceneId: '1000',
    transferRemark: '新会员有礼',
    reportInfos: [{ infoType: '活动名称', infoContent: '新会员有礼' }, { infoType: '奖励说明', infoContent: '注册会员抽奖一等奖' }],
    userRecvPerception: '现金奖励',
    notifyUrl: 'https://merchant.example.com/pay/notify',
    ...overrides,
  };
}
