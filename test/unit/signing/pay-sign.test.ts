import { InputError } from '../../../shared/errors';
import { payV2Sign, type PayV2Params } from '../../../shared/signing/index';

const OFFICIAL_KEY = '192006250b4c09247ec02edce69f6a2d';

// Official 安全规范 example: stringSignTemp = appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA&key=192006250b4c09247ec02edce69f6a2d
const OFFICIAL_PARAMS = {
  appid: 'wxd930ea5d5a258f4f',
  mch_id: '10000100',
  device_info: '1000',
  body: 'test',
  nonce_str: 'ibuaiVcKdpRxkhJA',
};

// gochat mch/mch_test.go TestSignWithMD5 / TestSignWithHMacSHA256, values from the official
// 签名校验工具 (pay.weixin.qq.com/wiki/doc/api/app/app.php?chapter=20_1).
const GOCHAT_APP_PARAMS = {
  appid: 'wx2421b1c4370ec43b',
  partnerid: '10000100',
  prepayid: 'WX1217752501201407033233368018',
  package: 'Sign=WXPay',
  noncestr: '5K8264ILTKCH16CQ2502SI8ZNMTM67VS',
  timestamp: '1514363815',
};

// EasyWeChat tests/Pay/UtilsTest.php test_create_v2_signature (timeStamp is an int there too).
const EASYWECHAT_PARAMS = {
  appId: 'mock-appid',
  timeStamp: 1601234567,
  nonceStr: 'mock-nonce',
  package: 'prepay_id=mock-prepay-id',
};

// gochat sendredpack mock (Degree-21/gochat fork, mch/redpack_test.go TestSendNormalRedpack):
// Chinese values signed as raw UTF-8. gochat signs sign_type here; our red-packet senders leave
// sign_type out (WxJava#726), but the vector still proves the UTF-8 handling.
const GOCHAT_REDPACK_PARAMS = {
  wxappid: 'wx2421b1c4370ec43b',
  mch_id: '10000100',
  mch_billno: '0010010404201411170000046545',
  send_name: 'send_name',
  re_openid: 'onqOjjmM1tad-3ROpncN-yUfa6uI',
  total_amount: 200,
  total_num: 1,
  wishing: '恭喜发财',
  client_ip: '127.0.0.1',
  act_name: '新年红包',
  remark: '新年红包',
  scene_id: 'PRODUCT_2',
  risk_info: 'posttime%3d123123412%26clientversion%3d234134%26mobile%3d122344545%26deviceid%3dIOS',
  nonce_str: '50780e0cca98c8c8e814883e5caa672e',
  sign_type: 'MD5',
};

describe('payV2Sign', () => {
  it.each([
    // chanxuehong/wechat mch/core/sign_test.go TestSign asserts the same MD5.
    { case: 'official 安全规范 example, MD5', params: OFFICIAL_PARAMS, key: OFFICIAL_KEY, type: 'MD5', expected: '9A0A8659F005D6984697E2CA0A9CF3B7' },
    // Held back in the reference; computed from the official inputs (HMAC-SHA256 keyed with the API key, message ending &key=…).
    { case: 'official 安全规范 example, HMAC-SHA256', params: OFFICIAL_PARAMS, key: OFFICIAL_KEY, type: 'HMAC-SHA256', expected: '6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6' },
    // wechatpy tests/test_pay.py test_calculate_signature.
    { case: 'wechatpy test_calculate_signature', params: { test1: 'test1', test2: 'test2' }, key: OFFICIAL_KEY, type: 'MD5', expected: '1E3A8D73B5A4AEE787C0F68B5DAB8520' },
    { case: 'gochat TestSignWithMD5', params: GOCHAT_APP_PARAMS, key: OFFICIAL_KEY, type: 'MD5', expected: '66724B3332E124BFC3D62A31A68F7887' },
    { case: 'gochat TestSignWithHMacSHA256', params: GOCHAT_APP_PARAMS, key: OFFICIAL_KEY, type: 'HMAC-SHA256', expected: '3B12F569A5714858F8251366BC3CBCDDBD249905CCA01D8F56D365EF1FC2CA5C' },
    { case: 'EasyWeChat requestPayment, MD5', params: { ...EASYWECHAT_PARAMS, signType: 'MD5' }, key: 'mock-v2-secret-key', type: 'MD5', expected: 'C52D6B09E8A039D6E8696A014BB37160' },
    { case: 'EasyWeChat requestPayment, HMAC-SHA256', params: { ...EASYWECHAT_PARAMS, signType: 'HMAC-SHA256' }, key: 'mock-v2-secret-key', type: 'HMAC-SHA256', expected: 'BAC9240577E86EDC7753264E502196C61F78F24777E9E7CCE82A7BD97F906EED' },
    // gochat mch/mch_test.go TestJSAPI (wx.requestPayment signs all five fields, signType included).
    { case: 'gochat TestJSAPI requestPayment', params: { appId: 'wx2421b1c4370ec43b', timeStamp: '1414561699', nonceStr: 'e61463f8efa94090b1f366cccfbbb444', package: 'prepay_id=u802345jgfjsdfgsdg888', signType: 'MD5' }, key: OFFICIAL_KEY, type: 'MD5', expected: 'A62A01211E36F5D2173A9EE93EBAC56C' },
    { case: 'gochat sendredpack with raw UTF-8 values', params: GOCHAT_REDPACK_PARAMS, key: OFFICIAL_KEY, type: 'MD5', expected: 'C9BB9D2CBE57D6E3A28BD220AFA2248D' },
  ] as Array<{ case: string; params: PayV2Params; key: string; type: 'MD5' | 'HMAC-SHA256'; expected: string }>)(
    'matches the $case vector',
    ({ params, key, type, expected }) => {
      expect(payV2Sign(params, key, type)).toBe(expected);
    },
  );

  it('defaults to MD5', () => {
    expect(payV2Sign(OFFICIAL_PARAMS, OFFICIAL_KEY)).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
  });

  it('excludes sign, empty strings and undefined values', () => {
    const noisy = { ...OFFICIAL_PARAMS, sign: 'ANYTHING', attach: '', detail: undefined };
    expect(payV2Sign(noisy, OFFICIAL_KEY)).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
  });

  it('does not depend on the order the fields were given in', () => {
    const reversed = Object.fromEntries(Object.entries(OFFICIAL_PARAMS).reverse());
    expect(payV2Sign(reversed, OFFICIAL_KEY)).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
  });

  it('signs sign_type when the caller sends it, so red-packet senders must leave it out', () => {
    const { sign_type: _signType, ...withoutSignType } = GOCHAT_REDPACK_PARAMS;
    expect(payV2Sign(withoutSignType, OFFICIAL_KEY)).toBe('CAE645705D54BA78424107C6048E45B8');
  });

  it.each([
    { case: 'a boolean value', params: { ...OFFICIAL_PARAMS, profit_sharing: true } },
    { case: 'a nested object', params: { ...OFFICIAL_PARAMS, detail: { a: 1 } } },
    { case: 'an array', params: { ...OFFICIAL_PARAMS, detail: ['a'] } },
    { case: 'a null value', params: { ...OFFICIAL_PARAMS, attach: null } },
    { case: 'a fractional amount', params: { ...OFFICIAL_PARAMS, total_fee: 1.5 } },
    { case: 'a NaN amount', params: { ...OFFICIAL_PARAMS, total_fee: Number.NaN } },
    { case: 'a field name with =', params: { ...OFFICIAL_PARAMS, 'a=b': 'c' } },
    { case: 'params that are not an object', params: 'appid=wx' },
    { case: 'sign_type disagreeing with the algorithm', params: { ...OFFICIAL_PARAMS, sign_type: 'HMAC-SHA256' } },
  ])('rejects $case with an InputError', ({ params }) => {
    expect(() => payV2Sign(params as unknown as PayV2Params, OFFICIAL_KEY)).toThrow(InputError);
  });

  it.each([
    { case: 'an empty key', key: '' },
    { case: 'a key with a trailing newline', key: `${OFFICIAL_KEY}\n` },
    { case: 'a key given as a number', key: 12345 },
  ])('rejects $case with an InputError', ({ key }) => {
    expect(() => payV2Sign(OFFICIAL_PARAMS, key as unknown as string)).toThrow(InputError);
  });

  it('rejects an unknown sign type with an InputError', () => {
    expect(() => payV2Sign(OFFICIAL_PARAMS, OFFICIAL_KEY, 'SHA1' as unknown as 'MD5')).toThrow(InputError);
  });
});
