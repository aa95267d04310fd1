/**
 * APIv3 authentication in the Pay sandbox: a request is executed only when its Authorization
 * header names a merchant, that merchant's certificate serial, a timestamp within 5 minutes and
 * a signature over exactly the method, URL, timestamp, nonce and body that arrived; otherwise
 * 401 SIGN_ERROR, unsigned, nothing created. Answers to authenticated requests are signed with
 * the WeChat Pay key the request's Wechatpay-Serial names.
 */
import {
  BASE_SECONDS, BILLS, MCH_ID, OTHER_MCH_ID, callV3, control, create, createBody, signedBy, startV3Sandbox, v3Material,
  type SignAs, type TestV3Sandbox, type V3Material,
} from './v3-support';

let material: V3Material;
let test: TestV3Sandbox;

beforeAll(async () => {
  material = await v3Material();
  test = await startV3Sandbox(material);
});
afterAll(() => test.close());
beforeEach(() => test.sandbox.control.reset());

describe('request signatures', () => {
  it('executes a correctly signed create and signs the answer with the WeChat Pay public key', async () => {
    const answer = await create(test, material, 'AUTH0001');

    expect(answer.status).toBe(200);
    expect(answer.headers['wechatpay-serial']).toBe(material.wechat.publicKeyId);
    expect(signedBy(answer.headers, answer.text, material.wechatPublic)).toBe(true);
  });

  it.each([
    { case: 'no Authorization header', as: (): SignAs => ({ authorization: null }), message: 'Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》' },
    { case: 'a header that is not key="value" items', as: (): SignAs => ({ authorization: 'WECHATPAY2-SHA256-RSA2048 mchid=1900000109' }), message: 'Http头Authorization值格式错误，请参考《微信支付商户REST API签名规则》' },
    { case: 'another scheme', as: (): SignAs => ({ authorization: 'WECHATPAY2-SM2-WITH-SM3 mchid="1900000109",nonce_str="a",signature="b",timestamp="1",serial_no="c"' }), message: 'Http头Authorization认证类型不正确' },
    { case: 'a merchant the sandbox does not know', as: (): SignAs => ({ mchId: '1999999999' }), message: '商户未申请过证书。' },
    { case: 'the serial of another certificate', as: (): SignAs => ({ serial: 'ABCDEF0123456789' }), message: '商户证书序列号有误。' },
    { case: 'another merchant\'s mchid with our serial', as: (): SignAs => ({ mchId: OTHER_MCH_ID }), message: '商户证书序列号有误。' },
    { case: 'a timestamp 300 s old', as: (): SignAs => ({ timestamp: BASE_SECONDS - 300 }), message: 'Http头Authorization中的timestamp与发起请求的时间不得超过5分钟' },
    { case: 'a timestamp 300 s ahead', as: (): SignAs => ({ timestamp: BASE_SECONDS + 300 }), message: 'Http头Authorization中的timestamp与发起请求的时间不得超过5分钟' },
    { case: 'the private key of another merchant', as: (): SignAs => ({ key: material.otherKey }), message: '错误的签名，验签失败' },
  ])('refuses $case with 401 SIGN_ERROR, unsigned, and creates nothing', async ({ as, message }) => {
    const answer = await create(test, material, 'AUTH0002', {}, as());

    expect(answer.status).toBe(401);
    expect(answer.json).toMatchObject({ code: 'SIGN_ERROR', message });
    expect(answer.headers['wechatpay-signature']).toBeUndefined();
    expect(test.transfers.transfers()).toEqual([]);
    expect(test.transfers.stats().signatureRefusals).toBe(1);
  });

  it('accepts a timestamp 299 s away from its clock', async () => {
    expect((await create(test, material, 'AUTH0003', {}, { timestamp: BASE_SECONDS - 299 })).status).toBe(200);
  });

  it('refuses a signature over another body and echoes the string it built, body cut to 8 characters', async () => {
    const body = JSON.stringify(createBody('AUTH0004'));
    const answer = await callV3(test, material, 'POST', BILLS, body, { signedBody: JSON.stringify(createBody('AUTH0004'), null, 1) });

    expect(answer.status).toBe(401);
    expect(answer.json).toEqual({
      code: 'SIGN_ERROR',
      message: '错误的签名，验签失败',
      detail: {
        field: 'signature',
        issue: 'sign not match',
        location: 'authorization',
        sign_information: {
          method: 'POST',
          url: BILLS,
          truncated_sign_message: `POST\n${BILLS}\n${BASE_SECONDS}\nn0nce0000000000000000000000000001\n{"appid"\n`,
          sign_message_length: Buffer.byteLength(`POST\n${BILLS}\n${BASE_SECONDS}\nn0nce0000000000000000000000000001\n${body}\n`),
        },
      },
    });
  });

  it('refuses a GET whose signed URL lacks the query string it was sent with', async () => {
    const path = `${BILLS}/out-bill-no/AUTH0005?mchid=${MCH_ID}`;
    const answer = await callV3(test, material, 'GET', path, '', { signedUrl: `${BILLS}/out-bill-no/AUTH0005` });

    expect(answer.status).toBe(401);
    expect(answer.json.detail.sign_information.url).toBe(path);
  });

  it('refuses a body-less cancel signed without its empty body line (the klover2 slip), and accepts it with the line', async () => {
    await create(test, material, 'AUTH0006');
    const path = `${BILLS}/out-bill-no/AUTH0006/cancel`;
    const nonce = 'n0nce0000000000000000000000000001';

    const short = await callV3(test, material, 'POST', path, '', { signedMessage: `POST\n${path}\n${BASE_SECONDS}\n${nonce}\n` });
    const right = await callV3(test, material, 'POST', path, '');

    expect(short.status).toBe(401);
    expect(right.status).toBe(200);
  });
});

describe('answer signatures', () => {
  it('signs with the platform certificate when the request names its serial (migration rule)', async () => {
    const answer = await create(test, material, 'SIGN0001', {}, { wechatpaySerial: material.platformSerial });

    expect(answer.headers['wechatpay-serial']).toBe(material.platformSerial);
    expect(signedBy(answer.headers, answer.text, material.platformPublic)).toBe(true);
  });

  it('signs with the default key when the request names none', async () => {
    const answer = await create(test, material, 'SIGN0002', {}, { wechatpaySerial: null });

    expect(answer.headers['wechatpay-serial']).toBe(material.wechat.publicKeyId);
    expect(signedBy(answer.headers, answer.text, material.wechatPublic)).toBe(true);
  });

  it('refuses a Wechatpay-Serial it does not know with a signed 400 INVALID_REQUEST', async () => {
    const answer = await create(test, material, 'SIGN0003', {}, { wechatpaySerial: 'PUB_KEY_ID_0000000000000000000000000001' });

    expect(answer.status).toBe(400);
    expect(answer.json.code).toBe('INVALID_REQUEST');
    expect(signedBy(answer.headers, answer.text, material.wechatPublic)).toBe(true);
  });

  it('signs business errors too: a refusal of an authenticated request is verifiable', async () => {
    const answer = await create(test, material, 'SIGN0004', { transfer_amount: 5 });

    expect(answer.status).toBe(400);
    expect(signedBy(answer.headers, answer.text, material.wechatPublic)).toBe(true);
  });

  it('stamps answers with the wall clock, not the advanced sandbox clock, so clients accept them', async () => {
    await control(test, 'POST', 'clock', { advanceMs: 86_400_000 });
    const answer = await create(test, material, 'SIGN0005');

    expect(answer.status).toBe(200);
    expect(answer.headers['wechatpay-timestamp']).toBe(String(BASE_SECONDS));
  });
});
