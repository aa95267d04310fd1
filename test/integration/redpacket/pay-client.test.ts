import https from 'node:https';
import { ConfigError } from '../../../shared/errors';
import { certificateFrom, createMerchantAgent, loadMerchantCertificate, type MerchantCertificate } from '../../../shared/pay/certificate';
import { PayError, PayTransportError } from '../../../shared/pay/errors';
import { PayAction } from '../../../shared/pay/policy';
import { createRedPacketPayClient, type RedPacketPayClient } from '../../../shared/pay/redpacket';
import type { DocumentStore } from '../../../shared/store/port';
import type { TestCertificates } from '../../../scripts/local/certs';
import {
  API_KEY, MCH_ID, MP_APPID, MP_OPENID, OA_APPID, OA_OPENID, OTHER_MCH_ID, SENDREDPACK_PATH, startTestPaySandbox, testCertificates,
  type TestPaySandbox,
} from '../paysandbox/pay-client';

let certs: { main: TestCertificates; other: TestCertificates };
let sandbox: TestPaySandbox;

const p12 = (certificates: TestCertificates, passphrase = MCH_ID): MerchantCertificate =>
  ({ kind: 'p12', p12Base64: certificates.merchantP12Base64, passphrase, source: 'PAY_MCH_P12_BASE64' });

function client(agent: https.Agent, overrides: { apiKey?: string; timeoutMs?: number } = {}): RedPacketPayClient {
  return createRedPacketPayClient({ baseUrl: sandbox.sandbox.url, mchId: MCH_ID, apiKey: overrides.apiKey ?? API_KEY, agent, timeoutMs: overrides.timeoutMs ?? 2_000 });
}

const CASH = {
  appId: OA_APPID,
  openid: OA_OPENID,
  amountFen: 888,
  sendName: '天虹百货',
  wishing: '恭喜发财',
  actName: '新春红包',
  remark: '快来抢',
  clientIp: '127.0.0.1',
};

beforeAll(async () => {
  certs = await testCertificates();
  sandbox = await startTestPaySandbox(certs.main);
});
afterAll(() => sandbox.close());
beforeEach(() => sandbox.sandbox.control.reset());

describe('createMerchantAgent', () => {
  it.each([
    { case: 'the p12 with its passphrase', certificate: () => p12(certs.main) },
    { case: 'the PEM pair', certificate: (): MerchantCertificate => ({ kind: 'pem', certPem: certs.main.merchantCertPem, keyPem: certs.main.merchantKeyPem, source: 'PAY_MCH_CERT_PEM' }) },
    { case: 'a PEM pair with escaped newlines (from cloudbaserc.json)', certificate: (): MerchantCertificate => ({ kind: 'pem', certPem: certs.main.merchantCertPem.replaceAll('\n', '\\n'), keyPem: certs.main.merchantKeyPem.replaceAll('\n', '\\n'), source: 'env' }) },
  ])('makes an agent WeChat Pay accepts from $case', async ({ certificate }) => {
    const agent = createMerchantAgent(certificate(), { caPem: certs.main.caPem });
    await expect(client(agent).sendCash({ ...CASH, mchBillno: 'AGENT0000000000000000000001' })).resolves.toMatchObject({ mchBillno: 'AGENT0000000000000000000001' });
    agent.destroy();
  });

  it.each([
    { case: 'a wrong passphrase', certificate: () => p12(certs.main, 'not-the-mch-id'), message: /PAY_MCH_P12_BASE64: wrong p12 passphrase/ },
    { case: 'PEM text given as the p12', certificate: (): MerchantCertificate => ({ kind: 'p12', p12Base64: certs.main.merchantCertPem, passphrase: MCH_ID, source: 'PAY_MCH_P12_BASE64' }), message: /holds PEM text, not a base64 p12/ },
    { case: 'a p12 that is not base64', certificate: (): MerchantCertificate => ({ kind: 'p12', p12Base64: 'not base64!', passphrase: MCH_ID, source: 'PAY_MCH_P12_BASE64' }), message: /the p12 must be base64/ },
    { case: 'a p12 given as the PEM certificate', certificate: (): MerchantCertificate => ({ kind: 'pem', certPem: certs.main.merchantP12Base64, keyPem: certs.main.merchantKeyPem, source: 'PAY_MCH_CERT_PEM' }), message: /looks like a base64 p12, not PEM/ },
    { case: 'the key of another certificate', certificate: (): MerchantCertificate => ({ kind: 'pem', certPem: certs.main.merchantCertPem, keyPem: certs.other.merchantKeyPem, source: 'PAY_MCH_CERT_PEM' }), message: /the private key does not belong to the certificate/ },
  ])('refuses $case with a ConfigError that says what is wrong', ({ certificate, message }) => {
    expect(() => createMerchantAgent(certificate())).toThrow(ConfigError);
    expect(() => createMerchantAgent(certificate())).toThrow(message);
  });

  it('refuses settings that give both the p12 and the PEM pair, or half a pair', () => {
    expect(() => certificateFrom({ p12Base64: 'abc', certPem: 'x' }, MCH_ID, 'env')).toThrow('env: give either the p12 or the PEM pair, not both');
    expect(() => certificateFrom({ certPem: 'x' }, MCH_ID, 'env')).toThrow('env: the PEM pair needs both the certificate and the private key');
    expect(certificateFrom({}, MCH_ID, 'env')).toBeUndefined();
    expect(certificateFrom({ p12Base64: 'abc' }, MCH_ID, 'env')).toEqual({ kind: 'p12', p12Base64: 'abc', passphrase: MCH_ID, source: 'env' });
  });

  it('reads the certificate from pay_merchant_certs when the environment has none', async () => {
    const docs: Record<string, unknown> = { [MCH_ID]: { _id: MCH_ID, p12Base64: certs.main.merchantP12Base64 } };
    const store = { get: async (collection: string, id: string) => (collection === 'pay_merchant_certs' ? docs[id] ?? null : null) } as unknown as DocumentStore;
    await expect(loadMerchantCertificate(store, MCH_ID)).resolves.toEqual({
      kind: 'p12', p12Base64: certs.main.merchantP12Base64, passphrase: MCH_ID, source: `database pay_merchant_certs/${MCH_ID}`,
    });
    await expect(loadMerchantCertificate(store, OTHER_MCH_ID)).rejects.toThrow(/no merchant certificate: set PAY_MCH_P12_BASE64/);
  });
});

describe('the red-packet Pay client against the Pay sandbox', () => {
  let agent: https.Agent;
  beforeAll(() => {
    agent = createMerchantAgent(p12(certs.main), { caPem: certs.main.caPem });
  });
  afterAll(() => agent.destroy());

  it('sends a cash packet once per billno, however often the billno is sent', async () => {
    const first = await client(agent).sendCash({ ...CASH, mchBillno: 'CASH00000000000000000000001' });
    const again = await client(agent).sendCash({ ...CASH, mchBillno: 'CASH00000000000000000000001' });

    expect(first).toEqual({ mchBillno: 'CASH00000000000000000000001', sendListid: expect.stringMatching(/^\d{30}$/), amountFen: 888 });
    expect(again).toEqual(first);
    expect(sandbox.sandbox.control.ledger()).toEqual([
      expect.objectContaining({ mchBillno: 'CASH00000000000000000000001', kind: 'cash', appid: OA_APPID, openid: OA_OPENID, amountFen: 888 }),
    ]);
  });

  it('returns the package of a mini-program packet', async () => {
    const sent = await client(agent).sendMiniProgram({ ...CASH, appId: MP_APPID, openid: MP_OPENID, mchBillno: 'MINI00000000000000000000001' });
    expect(sent.package).toMatch(new RegExp(`^sendid=[0-9a-f]+&ver=8&sign=[0-9a-f]+&mchid=${MCH_ID}&appid=${MP_APPID}$`));
  });

  it('queries a packet with gethbinfo, and answers NOT_FOUND for a billno WeChat has not seen', async () => {
    await client(agent).sendCash({ ...CASH, mchBillno: 'QUERY0000000000000000000001' });
    await expect(client(agent).query('QUERY0000000000000000000001', OA_APPID)).resolves.toEqual({
      mchBillno: 'QUERY0000000000000000000001', status: 'SENT', amountFen: 888, reason: undefined, detailId: expect.stringMatching(/^\d{30}$/),
    });
    await expect(client(agent).query('QUERY0000000000000000000002', OA_APPID)).resolves.toMatchObject({ status: 'NOT_FOUND' });
  });

  it.each([
    { case: 'SEND_FAILED', fault: { errCode: 'SEND_FAILED' }, errCode: 'SEND_FAILED', action: PayAction.NOT_PAID },
    { case: 'SYSTEMERROR', fault: { errCode: 'SYSTEMERROR' }, errCode: 'SYSTEMERROR', action: PayAction.RETRY_SAME_BILLNO },
    { case: 'NO_AUTH', fault: { errCode: 'NO_AUTH' }, errCode: 'NO_AUTH', action: PayAction.FINAL },
    { case: 'an unknown err_code', fault: { errCode: 'BRAND_NEW' }, errCode: 'BRAND_NEW', action: PayAction.RETRY_SAME_BILLNO },
  ])('turns a FAIL reply with $case into a PayError with the err_code and the next step', async ({ fault, errCode, action }) => {
    sandbox.sandbox.control.addFault({ path: SENDREDPACK_PATH, ...fault });
    const sending = client(agent).sendCash({ ...CASH, mchBillno: 'FAIL00000000000000000000001' });
    await expect(sending).rejects.toThrow(PayError);
    await expect(sending).rejects.toMatchObject({ errCode, action, returnCode: 'SUCCESS', resultCode: 'FAIL' });
  });

  it.each([
    { case: 'a dropped connection', fault: { drop: true }, reason: /^E[A-Z]+/ },
    { case: 'an unparseable reply', fault: { unparseable: true }, reason: /^unparseable reply$/ },
    { case: 'no reply within the timeout', fault: { delayMs: 1_500 }, reason: /^ETIMEDOUT$/ },
  ])('reports $case as a transport error whose only safe step is the same billno', async ({ fault, reason }) => {
    sandbox.sandbox.control.addFault({ path: SENDREDPACK_PATH, accept: true, ...fault });
    const sending = client(agent, { timeoutMs: 500 }).sendCash({ ...CASH, mchBillno: 'LOST00000000000000000000001' });
    await expect(sending).rejects.toThrow(PayTransportError);
    await expect(sending).rejects.toMatchObject({ reason: expect.stringMatching(reason), action: PayAction.RETRY_SAME_BILLNO });
  });

  it('gets SIGN_ERROR (a configuration problem) when signing with another API key', async () => {
    const sending = client(agent, { apiKey: 'AnotherApiKey0000000000000000001' }).sendCash({ ...CASH, mchBillno: 'SIGN00000000000000000000001' });
    await expect(sending).rejects.toMatchObject({ errCode: 'SIGN_ERROR', action: PayAction.FIX_CONFIG });
  });

  it('cannot even connect without the merchant certificate', async () => {
    const bare = new https.Agent({ ca: certs.main.caPem });
    await expect(client(bare).sendCash({ ...CASH, mchBillno: 'BARE00000000000000000000001' })).rejects.toThrow(PayTransportError);
    expect(sandbox.sandbox.control.ledger()).toEqual([]);
    bare.destroy();
  });
});
